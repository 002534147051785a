"""Renewal risk: a transparent score from usage, tickets, sentiment and activity, kept as history,
announced as a metric-shaped event when it moves, and scoped like the subscriptions it scores."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.auth.permissions import Actor
from pathcast.cli import app
from pathcast.crm import service as crm
from pathcast.errors import PermissionDenied
from pathcast.events import Event
from pathcast.forecast.models import Insight, RenewalScore
from pathcast.forecast.service import guardrail, renewal
from pathcast.signals.connectors.base import MessageDraft
from pathcast.signals.service.messages import ingest_message
from tests import factories as f
from tests.api.conftest import application, client, company  # noqa: F401 - fixtures

SYSTEM = Actor.system("test")
# A moment after the tests run: inbound messages are received "now", and a score as of an
# earlier moment would rightly not know them. Hours ahead, not minutes: the module is imported
# when the suite is collected, and a test may run a quarter of an hour later.
AT = datetime.now(UTC) + timedelta(hours=6)
runner = CliRunner()


def subscription(session: Session, account_id: int, owner_id: int | None, renews: date, **extra: Any) -> Any:
    contract = crm.create_record(
        session,
        actor=SYSTEM,
        spec=crm.SPECS["contract"],
        data={
            "number": f"HT-{account_id}-{renews.isoformat()}",
            "account_id": account_id,
            "status": "active",
            "start_date": renews - timedelta(days=365),
            "end_date": renews - timedelta(days=1),
            "renewal_date": renews,
            "value": 90000,
            "owner_id": owner_id,
        },
    )
    data = {
        "contract_id": contract.id,
        "start_date": renews - timedelta(days=365),
        "end_date": renews - timedelta(days=1),
        "renewal_date": renews,
        "annual_value": 90000,
        "is_active": True,
    } | extra
    return crm.create_record(session, actor=SYSTEM, spec=crm.SPECS["subscription"], data=data)


def ticket(
    session: Session,
    account_id: int,
    opened: datetime,
    *,
    hours: float | None,
    severity: str = "normal",
    subject: str = "监护仪报警误触发",
) -> Any:
    data: dict[str, Any] = {
        "account_id": account_id,
        "subject": subject,
        "severity": severity,
        "status": "open" if hours is None else "resolved",
        "opened_at": opened,
        "first_response_at": opened + timedelta(hours=2),
    }
    if hours is not None:
        data["resolved_at"] = opened + timedelta(hours=hours)
    return crm.create_record(session, actor=SYSTEM, spec=crm.SPECS["ticket"], data=data)


def troubled(session: Session, owner_id: int | None, renews: date, at: datetime) -> Any:
    """An account with a bad last quarter, open tickets, an angry e-mail and no meeting."""
    account = f.account(session, name="合肥市妇幼保健院", owner_id=owner_id)
    f.contact(session, account_id=account.id, email="li@hospital.example", name="李主任")
    quarter, _ = renewal.previous_quarter(at.date())
    start = datetime.combine(quarter, datetime.min.time(), UTC)
    for number, (hours, severity) in enumerate(
        [(400, "critical"), (300, "high"), (250, "high"), (200, "normal"), (500, "normal"), (260, "low")]
    ):
        ticket(session, account.id, start + timedelta(days=5 + 12 * number), hours=hours, severity=severity)
    for number in range(3):
        ticket(session, account.id, at - timedelta(days=3 + number), hours=None, subject="HMI 触摸失灵")
    ingest_message(
        session,
        draft=MessageDraft(
            channel="email",
            idempotency_key=f"renewal-{account.id}",
            sent_at=at - timedelta(days=10),
            body="工单一直没解决，我们很失望，续约要重新考虑。",
            sender="li@hospital.example",
        ),
        actor=SYSTEM,
    )
    subscription(session, account.id, owner_id, renews)
    return account


def healthy(session: Session, owner_id: int | None, renews: date, at: datetime) -> Any:
    account = f.account(session, name="北京协和医院", owner_id=owner_id)
    f.activity(session, kind="meeting", account_id=account.id, occurred_at=at - timedelta(days=3))
    subscription(session, account.id, owner_id, renews)
    return account


def test_a_troubled_account_scores_high_with_its_reasons_and_a_healthy_one_low(session: Session) -> None:
    bad = troubled(session, None, AT.date() + timedelta(days=60), AT)
    good = healthy(session, None, AT.date() + timedelta(days=90), AT)
    subscription(session, good.id, None, AT.date() + timedelta(days=300))  # too far off: not scored
    subscription(session, good.id, None, AT.date() + timedelta(days=30), is_active=False)  # ended
    scores = {score.account_id: score for score in renewal.score_renewals(session, actor=SYSTEM, at=AT)}
    assert set(scores) == {bad.id, good.id}
    high, low = scores[bad.id], scores[good.id]
    factors = {factor["factor"]: factor for factor in high.factors}
    assert set(factors) == {
        "usage",
        "ticket_volume",
        "open_tickets",
        "resolution_time",
        "severity",
        "sentiment",
        "activity",
    }
    assert all(set(factor) == {"factor", "value", "points", "en", "zh"} for factor in high.factors)
    assert factors["ticket_volume"]["value"] == 6 and factors["open_tickets"]["value"] == 3
    assert factors["severity"]["value"] == 3 and factors["sentiment"]["value"] == 1
    assert factors["activity"]["value"] is None and factors["activity"]["points"] == 0.25
    assert high.risk == pytest.approx(sum(factor["points"] for factor in high.factors), abs=1e-3)
    assert high.risk > 0.7 > 0.3 > low.risk
    assert {f["factor"]: f["points"] for f in low.factors}["activity"] == 0
    events = session.scalars(
        select(Event).where(Event.type == "forecast.renewal_risk").order_by(Event.id)
    ).all()
    payload = next(event.payload for event in events if event.entity_id == str(bad.id))
    assert payload["metric"] == "renewal_risk" and payload["entity"] == "account"
    assert payload["value"] == high.risk and payload["previous"] is None
    assert payload["renewal_date"] == (AT.date() + timedelta(days=60)).isoformat()
    assert {"subscription_id", "contract_id", "factors"} <= set(payload)
    (insight,) = session.scalars(select(Insight).where(Insight.kind == "renewal_risk")).all()
    assert insight.account_id == bad.id and "续约风险" in insight.text_zh


def test_rescoring_keeps_history_and_announces_only_a_move(session: Session) -> None:
    bad = troubled(session, None, AT.date() + timedelta(days=60), AT)
    renewal.score_renewals(session, actor=SYSTEM, at=AT)
    renewal.score_renewals(session, actor=SYSTEM, at=AT + timedelta(hours=1))
    rows = session.scalars(select(RenewalScore).where(RenewalScore.account_id == bad.id)).all()
    assert [row.is_latest for row in rows] == [False, True]
    count = len(session.scalars(select(Event).where(Event.type == "forecast.renewal_risk")).all())
    assert count == 1  # unchanged risk: no second event, and no second insight
    assert len(guardrail.unverified_insights(session, account_id=bad.id)) == 1
    f.activity(session, kind="call", account_id=bad.id, occurred_at=AT + timedelta(hours=2))
    renewal.score_renewals(session, actor=SYSTEM, at=AT + timedelta(hours=3))
    moved = session.scalars(
        select(Event).where(Event.type == "forecast.renewal_risk").order_by(Event.id)
    ).all()
    assert len(moved) == 2 and moved[-1].payload["previous"] == rows[-1].risk


def test_last_quarters_ticket_summary(session: Session) -> None:
    account = f.account(session, name="Quarter Co")
    start = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
    for number, hours in enumerate([10, 20, 30, 40, 100]):
        ticket(
            session,
            account.id,
            start + timedelta(days=number),
            hours=hours,
            severity="high" if number else "critical",
        )
    ticket(session, account.id, start + timedelta(days=20), hours=None)
    ticket(session, account.id, datetime(2026, 10, 2, tzinfo=UTC), hours=5)  # this quarter: left out
    summary = renewal.ticket_resolution_summary(session, account.id, quarter_of=date(2026, 11, 20))
    assert (summary["quarter"], summary["from"], summary["to"]) == ("2026-Q3", "2026-07-01", "2026-09-30")
    assert (summary["count"], summary["resolved"], summary["unresolved"]) == (6, 5, 1)
    assert summary["median_resolution_hours"] == 30 and summary["p90_resolution_hours"] == 100
    assert summary["median_first_response_hours"] == 2
    assert summary["by_severity"]["critical"] == {"count": 1, "resolved": 1, "median_hours": 10}
    assert [item["hours"] for item in summary["slowest"]] == [100, 40, 30, 20, 10]
    assert "2026-Q3" in renewal.format_ticket_summary(summary, "zh-CN")
    assert "median resolution 30 h" in renewal.format_ticket_summary(summary, "en")


def test_scoring_is_for_managers_and_admins_and_scoped_to_the_team(session: Session) -> None:
    world = f.two_teams(session)
    east = troubled(session, world["east_rep"].id, AT.date() + timedelta(days=60), AT)
    with pytest.raises(PermissionDenied):
        renewal.score_renewals(session, actor=f.actor(world["east_rep"]), at=AT)
    with pytest.raises(PermissionDenied):
        renewal.list_renewals(session, actor=f.actor(world["member"]))
    assert renewal.score_renewals(session, actor=f.actor(world["west_manager"]), at=AT) == []
    scored = renewal.score_renewals(session, actor=f.actor(world["east_manager"]), at=AT)
    assert [score.account_id for score in scored] == [east.id]
    assert [
        row["account_id"] for row in renewal.list_renewals(session, actor=f.actor(world["east_rep"]))
    ] == [east.id]
    assert renewal.list_renewals(session, actor=f.actor(world["west_rep"])) == []


def test_api_and_cli_score_and_list_renewals(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
    session: Session,
) -> None:
    now = datetime.now(UTC)
    account = troubled(session, company["east_rep"].id, now.date() + timedelta(days=45), now)
    session.commit()
    headers = company["headers"]
    assert client.post("/api/v1/forecast/renewals/score", headers=headers["east_rep"]).status_code == 403
    scored = client.post("/api/v1/forecast/renewals/score", headers=headers["east_manager"])
    assert scored.status_code == 200 and scored.json()["scored"] == 1
    (row,) = client.get("/api/v1/forecast/renewals", headers=headers["east_rep"]).json()
    assert row["account_id"] == account.id and row["risk"] > 0.7 and row["factors"][0]["points"] > 0
    assert client.get("/api/v1/forecast/renewals", headers=headers["west_rep"]).json() == []
    assert client.get("/api/v1/forecast/renewals", headers=headers["customer"]).status_code == 403
    result = runner.invoke(app, ["forecast", "renewals", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["scored"] == 1 and document["renewals"][0]["account_id"] == account.id
    assert runner.invoke(app, ["forecast", "verification", "maybe"]).exit_code == 2
    assert runner.invoke(app, ["forecast", "verification", "on"]).exit_code == 0
    session.expire_all()
    assert guardrail.verification_required(session) is True
