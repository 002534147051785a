"""The ``create_hive`` action and the hive side of ``add_member``, on SQLite and PostgreSQL:
dry-run describes and writes nothing, a run creates the hive once (receipt replay, and a deal
never gets a second hive), ``add_member`` joins the account's active hive; and the issue's
end-to-end check: the sentence compiles, a won deal fires the rule through the engine, the
hive appears from the template with the right people and a critical path, and a late
dependency raises ``hive.risk_alert`` and puts the hive at risk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.automation import actions, ir
from pathcast.automation.actions.base import Subject
from pathcast.automation.language import build_vocabulary, compile_rule
from pathcast.automation.models import ActionReceipt
from pathcast.crm import service as crm
from pathcast.events import Event
from pathcast.hives import models as m
from pathcast.hives.service import board
from pathcast.hives.service.hives import members_of, recompute
from tests import factories as f
from tests.automation.actions_support import make_ctx
from tests.automation.engine_support import FakeClock, make_rule, run_engine, runs_of
from tests.hives.test_core_service import World, build_world

SENTENCES = {
    "zh": "商机赢单后，按“产线升级”模板创建任务蜂巢，并邀请交付经理和物流加入",
    "en": "after we win a deal, create a task hive from the “line upgrade” template and invite the delivery manager and logistics",
}


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def won_deal(session: Session, world: World) -> Any:
    deal = f.opportunity(
        session, f.SYSTEM, account_id=world.account_id, owner_id=world.rep.user_id, name="产线升级 deal"
    )
    return deal


def create_action(**extra: Any) -> ir.CreateHiveAction:
    return ir.CreateHiveAction.model_validate({"template": "产线升级", **extra})


@pytest.mark.parametrize(("lang", "text"), sorted(SENTENCES.items()))
def test_the_issue_sentence_compiles(session: Session, lang: str, text: str) -> None:
    build_world(session)
    result = compile_rule(text, lang, build_vocabulary(session))  # type: ignore[arg-type]
    kinds = [action.type for action in result.ir.actions]
    assert kinds == ["create_hive", "add_member", "add_member"]
    assert result.ir.trigger.event == "opportunity.won"  # type: ignore[union-attr]


def test_dry_run_describes_then_a_run_creates_once(session: Session) -> None:
    world = build_world(session)
    deal = won_deal(session, world)
    subject = Subject("opportunity", deal.id, account_id=world.account_id, opportunity_id=deal.id)
    action = create_action(members=[{"kind": "role", "value": "logistics"}])
    dry = actions.execute(action, make_ctx(session, subject, dry_run=True))
    assert dry.status == "done" and dry.detail["dry_run"] and dry.detail["template_key"] == "line_upgrade"
    assert dry.detail["members"] == [{"user": "logistics@example.com", "function": "logistics"}]
    assert count(session, m.Hive) == 0 and count(session, m.Template) == 0
    outcome = actions.execute(action, make_ctx(session, subject))
    assert outcome.status == "done", outcome.detail
    hive = session.get(m.Hive, outcome.detail["hive_id"])
    assert hive is not None and hive.opportunity_id == deal.id and hive.account_id == world.account_id
    assert outcome.detail["link"] == f"/hives/{hive.id}"
    functions: dict[int | None, str] = {
        member.user_id: member.function for member in members_of(session, hive.id)
    }
    assert functions[world.logistics.user_id] == "logistics"
    assert functions[world.delivery.user_id] == "delivery"
    assert functions[world.rep.user_id] == "sales"
    replay = actions.execute(action, make_ctx(session, subject))
    assert replay.detail["replayed"] and count(session, ActionReceipt) == 1
    again = actions.execute(action, make_ctx(session, subject, key="rule-1/run-2/step-0"))
    assert again.detail["already"] and again.detail["hive_id"] == hive.id
    assert count(session, m.Hive) == 1


def test_refusals_an_unknown_template_and_no_account(session: Session) -> None:
    world = build_world(session)
    deal = won_deal(session, world)
    subject = Subject("opportunity", deal.id, account_id=world.account_id, opportunity_id=deal.id)
    unknown = ir.CreateHiveAction(template="不存在的模板")
    for dry_run in (True, False):
        outcome = actions.execute(unknown, make_ctx(session, subject, dry_run=dry_run))
        assert outcome.status == "failed" and "不存在的模板" in outcome.detail["reason_zh"]
    nothing = actions.execute(create_action(), make_ctx(session, Subject(None, None)))
    assert nothing.status == "skipped" and nothing.detail["reason_zh"]
    assert count(session, m.Hive) == 0


def test_add_member_joins_the_accounts_active_hive(session: Session) -> None:
    world = build_world(session)
    deal = won_deal(session, world)
    subject = Subject("opportunity", deal.id, account_id=world.account_id, opportunity_id=deal.id)
    created = actions.execute(create_action(), make_ctx(session, subject))
    hive_id = created.detail["hive_id"]
    session.delete(
        session.scalars(
            select(m.Member).where(m.Member.hive_id == hive_id, m.Member.user_id == world.logistics.user_id)
        ).one()
    )
    session.flush()
    join = ir.AddMemberAction(member=ir.Recipient(kind="role", value="物流"))
    dry = actions.execute(join, make_ctx(session, subject, key="k-dry", dry_run=True))
    assert dry.detail["hive"]["would_join"] == [{"user": "logistics@example.com", "function": "logistics"}]
    outcome = actions.execute(join, make_ctx(session, subject, key="k-join"))
    assert outcome.detail["hive"] == {
        "hive_id": hive_id,
        "link": f"/hives/{hive_id}",
        "joined": [{"user": "logistics@example.com", "function": "logistics"}],
    }
    assert world.logistics.user_id in {member.user_id for member in members_of(session, hive_id)}


def test_won_deal_to_hive_to_risk_alert_end_to_end(session: Session, db_url: str) -> None:
    world = build_world(session)
    clock = FakeClock()
    result = compile_rule(SENTENCES["zh"], "zh", build_vocabulary(session))
    rule = make_rule(session, result.ir)
    deal = won_deal(session, world)
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    assert [run.status for run in runs_of(session, rule)] == ["done"]
    hive = session.scalars(select(m.Hive).where(m.Hive.opportunity_id == deal.id)).one()
    functions: dict[int | None, str] = {
        member.user_id: member.function for member in members_of(session, hive.id)
    }
    assert functions == {
        world.rep.user_id: "sales",
        world.delivery.user_id: "delivery",
        world.logistics.user_id: "logistics",
    }
    tasks = {task.key: task for task in session.scalars(select(m.Task).where(m.Task.hive_id == hive.id))}
    assert tasks["manufacturing"].critical and tasks["production_plan"].critical
    assert not tasks["site_survey"].critical
    # the kick-off is held; ten days on, production planning (due on day 4, others wait for
    # it) has not finished: the alert names it, the root of the slip, not each task after it
    board.update_task(
        session, f.SYSTEM, task_id=tasks["kickoff"].id, changes={"status": "done"}, now=clock.now
    )
    recompute(session, f.SYSTEM, hive, now=clock.now + timedelta(days=10))
    alerts = list(
        session.scalars(select(Event).where(Event.type == "hive.risk_alert", Event.entity_id == str(hive.id)))
    )
    assert any(
        alert.payload["kind"] == "dependency_late" and alert.payload["task_id"] == tasks["production_plan"].id
        for alert in alerts
    )
    assert hive.status == "at_risk"
    roots = {alert.payload.get("task_id") for alert in alerts if alert.payload["kind"] == "dependency_late"}
    # the two slips that start a late chain (the site survey ran late too); nothing after them
    assert roots == {tasks["production_plan"].id, tasks["site_survey"].id}
