"""The live engine on event triggers: enabling, conditions as of the event, exactly-once local
effects, versions, disabling, and what never fires (history, the engine's own events)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.automation import service
from pathcast.automation.ir import RuleIR
from pathcast.automation.models import ActionReceipt, EngineCursor
from pathcast.crm import models as crm_models
from pathcast.crm import service as crm
from pathcast.events import append_event, events_for_entity
from tests import factories as f
from tests.automation.engine_support import ADMIN, FakeClock, make_rule, run_engine, runs_of, steps_of

TASK = {"type": "create_task", "assignee": {"kind": "relation", "value": "owner"}, "title": "安排交付启动会"}
WON = {"trigger": {"type": "record_event", "event": "opportunity.won"}, "actions": [TASK]}


def setup_deal(session: Session, tier: str = "strategic", **values: Any) -> tuple[Any, Any, dict[str, Any]]:
    f.pipeline(session)
    rep = f.user(session, f"rep-{tier}@example.com", password=None)
    account = f.account(session, name=f"{tier} 医院", tier=tier, owner_id=rep.id)
    deal = f.opportunity(session, f.SYSTEM, account_id=account.id, owner_id=rep.id, **values)
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    return account, deal, stages


def tasks(session: Session) -> list[crm_models.Activity]:
    return list(session.scalars(select(crm_models.Activity).where(crm_models.Activity.kind == "task")))


def test_enabling_fires_on_new_events_only_and_once(session: Session, db_url: str) -> None:
    clock = FakeClock()
    _, old_deal, stages = setup_deal(session)
    crm.change_stage(session, actor=f.SYSTEM, opportunity=old_deal, to_stage_id=stages["won"].id)
    rule = make_rule(session, WON)
    run_engine(session, db_url, clock)
    assert runs_of(session, rule) == []  # the win before enabling is history
    _, deal, _ = setup_deal(session, "key")
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.status == "done" and run.rule_version == 1
    assert run.reason == f"opportunity #{deal.id} moved to 赢单 (won) (opportunity.won)"
    assert (run.subject_entity, run.subject_id) == ("opportunity", str(deal.id))
    assert run.fire_key == f"event:{run.trigger_event_id}"
    assert [task.opportunity_id for task in tasks(session)] == [deal.id]
    types = [e.type for e in events_for_entity(session, "automation_run", run.id)]
    assert types == ["automation.rule_fired", "automation.step_done", "automation.run_finished"]
    fired = events_for_entity(session, "automation_run", run.id)[0].payload
    assert (fired["rule_id"], fired["rule_version"], fired["reason"]) == (rule.id, 1, run.reason)
    cursor = session.get(EngineCursor, "events")
    assert cursor is not None and cursor.position >= run.trigger_event_id


def test_conditions_read_related_records_as_they_stood_at_the_event(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(
        session,
        {
            "trigger": {"type": "record_changed", "entity": "opportunity", "field": "amount"},
            "conditions": [
                {"field": "account.tier", "op": "eq", "value": "strategic"},
                {"field": "opportunity.amount", "op": "gt", "value": 100000},
            ],
            "actions": [TASK],
        },
    )
    strategic, big, _ = setup_deal(session, "strategic")
    _, other, _ = setup_deal(session, "standard")
    crm.update_opportunity(session, actor=f.SYSTEM, opportunity=big, changes={"amount": 500000})
    crm.update_opportunity(session, actor=f.SYSTEM, opportunity=other, changes={"amount": 500000})
    crm.update_opportunity(session, actor=f.SYSTEM, opportunity=big, changes={"amount": 90000})
    # Downgraded after the event, before the engine looked: the condition reads the event's moment.
    crm.update_record(
        session, actor=f.SYSTEM, spec=crm.SPECS["account"], record=strategic, changes={"tier": "key"}
    )
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.subject_id == str(big.id)
    assert run.context["conditions"] == [
        "account.tier = strategic (eq strategic: yes)",
        "opportunity.amount = 500000 (gt 100000: yes)",
    ]


def test_a_local_effect_happens_exactly_once_with_its_receipt(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(session, WON)
    _, deal, stages = setup_deal(session)
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    [step] = steps_of(session, run)
    assert step.idempotency_key == f"run:{run.id}:step:0" and step.attempts == 1
    assert session.get(ActionReceipt, step.idempotency_key) is not None
    # A replay of the step (a worker that lost its commit) finds the receipt and does nothing.
    step.status, run.status, run.current_step, run.next_attempt_at = "pending", "running", 0, clock.now
    run.context = {**run.context}
    run_engine(session, db_url, clock)
    assert len(tasks(session)) == 1
    assert steps_of(session, run)[0].outcome.get("replayed") is True


def test_runs_keep_the_version_they_ran(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(session, WON)
    _, first, stages = setup_deal(session)
    crm.change_stage(session, actor=f.SYSTEM, opportunity=first, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    tag = {"type": "tag", "target": "account", "tag": "赢单客户"}
    service.update_rule(
        session,
        rule_id=rule.id,
        text="赢单后给客户打标签",
        lang="zh",
        ir=RuleIR.model_validate({**WON, "actions": [tag]}),
        readback_zh="x",
        readback_en="x",
        actor=ADMIN,
    )
    _, second, _ = setup_deal(session, "key")
    crm.change_stage(session, actor=f.SYSTEM, opportunity=second, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    old, new = runs_of(session, rule)
    assert (old.rule_version, new.rule_version) == (1, 2)
    assert [s.kind for s in steps_of(session, old)] == ["create_task"]
    assert [s.kind for s in steps_of(session, new)] == ["tag"]
    assert new.status == "done"


def test_disabling_stops_runs_at_their_next_step(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(session, {**WON, "wait": {"duration": "PT1H"}})
    _, deal, stages = setup_deal(session)
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    service.disable_rule(session, rule_id=rule.id, actor=ADMIN)
    clock.advance(hours=2)
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.status == "stopped" and run.context["outcome"] == "the rule was disabled before this step"
    assert tasks(session) == []


def test_contract_signed_is_a_contract_becoming_active(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(
        session, {"trigger": {"type": "record_event", "event": "contract.signed"}, "actions": [TASK]}
    )
    account, deal, _ = setup_deal(session)
    contract = crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["contract"],
        data={
            "number": "HT-001",
            "account_id": account.id,
            "opportunity_id": deal.id,
            "owner_id": deal.owner_id,
        },
    )
    crm.update_record(
        session, actor=f.SYSTEM, spec=crm.SPECS["contract"], record=contract, changes={"value": 10}
    )
    run_engine(session, db_url, clock)
    assert runs_of(session, rule) == []
    crm.update_record(
        session, actor=f.SYSTEM, spec=crm.SPECS["contract"], record=contract, changes={"status": "active"}
    )
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.reason == f"contract #{contract.id} became active (contract.signed)"
    assert [task.opportunity_id for task in tasks(session)] == [deal.id]


def test_metric_and_signal_events_fire_their_rules(session: Session, db_url: str) -> None:
    clock = FakeClock()
    _, deal, _ = setup_deal(session)
    risk = make_rule(
        session,
        {
            "trigger": {
                "type": "metric",
                "entity": "opportunity",
                "metric": "risk",
                "op": "gte",
                "value": 0.7,
            },
            "actions": [TASK],
        },
    )
    radar = make_rule(
        session,
        {
            "trigger": {"type": "signal", "keyword": "交付延迟", "polarity": "negative"},
            "actions": [{"type": "tag", "target": "account", "tag": "交付风险"}],
        },
    )
    append_event(
        session,
        type="metric.changed",
        entity="opportunity",
        entity_id=deal.id,
        actor="forecast",
        payload={"metric": "risk", "value": 0.81, "previous": 0.35},
    )
    append_event(
        session,
        type="radar.signal",
        entity="account",
        entity_id=deal.account_id,
        actor="radar",
        payload={"text": "客户群里抱怨交付延迟", "polarity": "negative", "severity": "P2"},
    )
    run_engine(session, db_url, clock)
    [risk_run] = runs_of(session, risk)
    [radar_run] = runs_of(session, radar)
    assert risk_run.status == radar_run.status == "done"
    assert risk_run.reason == f"opportunity #{deal.id}: risk = 0.81 (gte 0.7, was 0.35)"
    assert radar_run.subject_entity == "account"


def test_backdated_history_and_engine_events_never_fire(session: Session, db_url: str) -> None:
    clock = FakeClock()
    _, deal, _ = setup_deal(session)
    rule = make_rule(
        session, {"trigger": {"type": "record_event", "event": "activity.created"}, "actions": [TASK]}
    )
    noisy = make_rule(
        session, {"trigger": {"type": "record_event", "event": "automation.rule_fired"}, "actions": [TASK]}
    )
    f.activity(session, opportunity_id=deal.id, occurred_at=None)
    crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["activity"],
        data={"kind": "call", "subject": "去年的电话", "opportunity_id": deal.id},
        occurred_at=clock.now - timedelta(days=400),
    )
    run_engine(session, db_url, clock)
    assert len(runs_of(session, rule)) == 1
    assert runs_of(session, noisy) == []
    # The task the run created is an activity.created too, but a rule never feeds on its own effects.
    run_engine(session, db_url, clock)
    assert len(runs_of(session, rule)) == 1
    assert session.scalar(select(func.count()).select_from(crm_models.Activity)) == 3


def test_the_server_runs_the_engine_in_process(configured: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from pathcast.app import create_app
    from pathcast.config import get_settings
    from pathcast.db import unit_of_work

    monkeypatch.setenv("PATHCAST_ENGINE_POLL_SECONDS", "0.2")
    get_settings.cache_clear()
    with unit_of_work(configured) as session:
        rule_id = make_rule(session, WON).id
        _, deal, stages = setup_deal(session)
    with TestClient(create_app()):
        with unit_of_work(configured) as session:
            won = session.get(crm_models.Opportunity, deal.id)
            assert won is not None
            crm.change_stage(session, actor=f.SYSTEM, opportunity=won, to_stage_id=stages["won"].id)
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline and status != "done":
            time.sleep(0.05)
            with unit_of_work(configured, write=False) as session:
                status = next((run.status for run in runs_of(session, rule_id)), None)
    assert status == "done"
