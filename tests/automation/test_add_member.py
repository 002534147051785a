"""``add_member``: the account's collaboration (its account team) gains the person the rule names,
briefed with last quarter's ticket times and the renewal-risk factors; forecast events with a
metric fire metric rules on a crossing; and the renewal sentence compiles in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role
from pathcast.automation import actions, ir
from pathcast.automation.actions.base import Subject
from pathcast.automation.engine.matcher import CompiledRule, Fact, RuleIndex
from pathcast.automation.language import Vocabulary, compile_rule
from pathcast.automation.models import ActionReceipt, Notification
from pathcast.crm import service as crm
from pathcast.events import events_for_entity
from tests import factories as f
from tests.automation.actions_support import NOW, make_ctx, run_rows

ACTION: TypeAdapter[Any] = TypeAdapter(ir.Action)
RENEWAL_EVENT = {
    "id": 77,
    "type": "forecast.renewal_risk",
    "entity": "account",
    "entity_id": "1",
    "occurred_at": "2025-07-01T01:00:00.000000Z",
    "payload": {
        "metric": "renewal_risk",
        "entity": "account",
        "value": 0.82,
        "previous": 0.41,
        "renewal_date": "2025-09-01",
        "subscription_id": 5,
        "contract_id": 4,
        "factors": [
            {
                "factor": "resolution_time",
                "value": 320,
                "points": 0.15,
                "en": "median resolution 320 h",
                "zh": "工单解决时长中位数 320 小时",
            },
            {
                "factor": "sentiment",
                "value": 0,
                "points": 0,
                "en": "no negative messages",
                "zh": "无负面来信",
            },
        ],
    },
}


def count(session: Session, model: Any, *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def world(session: Session) -> dict[str, Any]:
    """An account with a slow last quarter (Q2 2025 for NOW = 2025-07-01), a CSM and a delivery manager."""
    held = positions.ensure_default_positions(session, actor=f.SYSTEM)
    csm = f.user(session, "csm@example.com", role=Role.member, password=None)
    lead = f.user(session, "delivery@example.com", role=Role.member, password=None)
    positions.assign_position(session, user=csm, position=held["csm"], actor=f.SYSTEM)
    positions.assign_position(session, user=lead, position=held["delivery_manager"], actor=f.SYSTEM)
    account = f.account(session, name="合肥市妇幼保健院")
    opened = datetime(2025, 5, 6, 2, 0, tzinfo=UTC)
    for hours, subject in ((300, "监护仪报警误触发"), (120, "彩超探头图像噪点")):
        crm.create_record(
            session,
            actor=f.SYSTEM,
            spec=crm.SPECS["ticket"],
            data={
                "account_id": account.id,
                "subject": subject,
                "severity": "high",
                "status": "resolved",
                "opened_at": opened,
                "first_response_at": opened + timedelta(hours=3),
                "resolved_at": opened + timedelta(hours=hours),
            },
        )
    return {"csm": csm, "lead": lead, "account": account, "held": held}


def add(value: str, kind: str = "role", role: str | None = None) -> Any:
    return ACTION.validate_python(
        {"type": "add_member", "member": {"kind": kind, "value": value}, "role": role}
    )


def test_the_csm_joins_the_account_team_with_the_brief_attached(session: Session) -> None:
    found = world(session)
    account_id = found["account"].id
    run, step = run_rows(session)
    event = {**RENEWAL_EVENT, "entity_id": str(account_id)}
    ctx = make_ctx(session, Subject("account", account_id), run=run, step=step, event=event)
    outcome = actions.execute(add("客户成功经理", kind="relation"), ctx)
    assert outcome.status == "done", outcome.detail
    assert outcome.detail["added"] == ["csm@example.com"] and outcome.detail["position"] == "csm"
    attachment = outcome.detail["attachment"]
    assert attachment["ticket_resolution"]["quarter"] == "2025-Q2"
    assert attachment["ticket_resolution"]["median_resolution_hours"] == 210
    assert attachment["renewal_risk"]["value"] == 0.82
    assert [user.email for user in positions.account_team(session, account_id, "csm")] == ["csm@example.com"]
    added = events_for_entity(session, "account", account_id)[-1]
    assert added.type == "account.team_member_added" and added.payload["position"] == "csm"
    (note,) = session.scalars(select(Notification)).all()
    assert note.user_id == found["csm"].id and note.link == f"/accounts/{account_id}"
    for expected in ("2025-Q2", "210", "300", "监护仪报警误触发", "0.82", "320"):
        assert expected in note.body, (expected, note.body)
    again = actions.execute(add("客户成功经理", kind="relation"), ctx)
    assert again.detail["replayed"] is True
    assert count(session, Notification) == 1 and count(session, ActionReceipt) >= 1


def test_a_named_role_a_position_and_someone_already_there(session: Session) -> None:
    found = world(session)
    account_id = found["account"].id
    deal = f.opportunity(session, f.SYSTEM, account_id=account_id)
    ctx = make_ctx(session, Subject("opportunity", deal.id), key="k-lead")
    outcome = actions.execute(add("交付经理", role="csm"), ctx)
    assert outcome.status == "done" and outcome.detail["position"] == "csm"
    assert outcome.detail["attachment"]["renewal_risk"] is None  # not fired by a renewal risk
    assert [user.email for user in positions.account_team(session, account_id, "csm")] == [
        "delivery@example.com"
    ]
    again = actions.execute(
        add("交付经理", role="csm"), make_ctx(session, Subject("opportunity", deal.id), key="k-2")
    )
    assert again.status == "done" and again.detail["added"] == [] and again.detail["already_members"]
    assert count(session, Notification) == 1


def test_dry_run_describes_and_nothing_without_an_account_or_a_person(session: Session) -> None:
    found = world(session)
    account_id = found["account"].id
    dry = actions.execute(add("csm"), make_ctx(session, Subject("account", account_id), dry_run=True))
    assert dry.status == "done" and dry.detail["dry_run"] and dry.detail["would_add"] == ["csm@example.com"]
    assert positions.account_team(session, account_id) == [] and count(session, Notification) == 0
    nobody = actions.execute(add("实施总监"), make_ctx(session, Subject("account", account_id), key="k-none"))
    assert nobody.status == "skipped" and nobody.detail["reason_zh"] == "没有匹配的接收人"
    orphan = actions.execute(add("csm"), make_ctx(session, Subject(None, None), key="k-orphan"))
    assert orphan.status == "skipped" and "no account" in orphan.detail["reason"]
    assert count(session, ActionReceipt) == 0


def test_a_subscription_subject_reaches_its_account_through_the_contract(session: Session) -> None:
    found = world(session)
    account_id = found["account"].id
    contract = crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["contract"],
        data={"number": "HT-1", "account_id": account_id, "status": "active"},
    )
    sub = crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["subscription"],
        data={"contract_id": contract.id, "start_date": NOW.date(), "annual_value": 1000},
    )
    outcome = actions.execute(add("csm"), make_ctx(session, Subject("subscription", sub.id), key="k-sub"))
    assert outcome.status == "done" and outcome.detail["account_id"] == account_id


def _metric_rule(rule_id: int, metric: str, entity: str = "account") -> CompiledRule:
    rule_ir = ir.RuleIR.model_validate(
        {
            "trigger": {"type": "metric", "entity": entity, "metric": metric, "op": "gt", "value": 0.7},
            "actions": [{"type": "add_member", "member": {"kind": "role", "value": "csm"}}],
        }
    )
    return CompiledRule(rule_id=rule_id, version=1, name="r", ir=rule_ir)


@pytest.mark.parametrize(
    ("event_type", "payload", "fires"),
    [
        ("forecast.renewal_risk", {"metric": "renewal_risk", "value": 0.82, "previous": 0.41}, True),
        ("forecast.renewal_risk", {"metric": "renewal_risk", "value": 0.82, "previous": None}, True),
        ("forecast.renewal_risk", {"metric": "renewal_risk", "value": 0.85, "previous": 0.75}, False),
        ("forecast.renewal_risk", {"metric": "renewal_risk", "value": 0.5, "previous": 0.9}, False),
        ("forecast.insight_suggested", {"kind": "renewal_risk", "value": 0.9}, False),
        ("metric.renewal_risk", {"value": 0.9}, True),
    ],
)
def test_forecast_events_with_a_metric_fire_metric_rules_on_a_crossing(
    event_type: str, payload: dict[str, Any], fires: bool
) -> None:
    index = RuleIndex([_metric_rule(1, "renewal_risk"), _metric_rule(2, "win_probability", "opportunity")])
    event = Fact(10, event_type, "account", "3", {"entity": "account", **payload}, NOW)
    assert [candidate.rule.rule_id for candidate in index.match(event)] == ([1] if fires else [])


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("zh", "当客户续约风险高于0.7时，客户成功经理加入该客户的协作，并附上上季度工单处理时长"),
        (
            "en",
            "when an account's renewal risk is above 0.7, the CSM joins the collaboration with last quarter's ticket resolution times attached",
        ),
    ],
)
def test_the_renewal_sentence_compiles_to_a_metric_trigger_and_add_member(lang: str, text: str) -> None:
    result = compile_rule(text, lang, Vocabulary.sample())  # type: ignore[arg-type]
    rule = result.ir.model_dump(mode="json", by_alias=True)
    assert rule["trigger"] == {
        "type": "metric",
        "entity": "account",
        "metric": "renewal_risk",
        "op": "gt",
        "value": 0.7,
    }
    assert [action["type"] for action in rule["actions"]] == ["add_member"]
    assert "协作" in result.readback_zh and "ticket resolution times" in result.readback_en


def test_win_probability_is_a_metric_rules_can_use() -> None:
    result = compile_rule("当商机赢单概率低于30%时，通知负责人", "zh", Vocabulary.sample())
    assert result.ir.trigger.model_dump() == {
        "type": "metric",
        "entity": "opportunity",
        "metric": "win_probability",
        "op": "lt",
        "value": 0.3,
    }
