"""The guardrail: AI insights are suggestions; an admin can require a rep's written verification
before one enters a decision (a forecast submission, an approval), and every step is an event.
A test per refusal."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.automation import service as automation
from pathcast.automation.models import InboxItem
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event, events_for_entity
from pathcast.forecast.models import Insight
from pathcast.forecast.service import guardrail
from tests import factories as f
from tests.api.conftest import application, client, company  # noqa: F401 - fixtures
from tests.automation.engine_support import FakeClock, make_rule, run_engine
from tests.automation.test_engine_approvals import DISCOUNT_APPROVAL, discounted_quote, item_of, organisation

NOTE = "与客户信息科核对过：预算确实冻结到明年"


def people(session: Session) -> dict[str, Any]:
    """Two teams, a deal each, and an actor per person."""
    found = f.two_teams(session)
    f.pipeline(session)
    found["account"] = f.account(session, name="华东医疗集团", owner_id=found["east_rep"].id)
    found["deal"] = f.opportunity(
        session, f.actor(found["east_rep"]), name="东区 DSA", account_id=found["account"].id
    )
    found["west_deal"] = f.opportunity(session, f.actor(found["west_rep"]), name="West PLC")
    found["actors"] = {
        key: f.actor(found[key])
        for key in found
        if key.endswith(("rep", "rep2", "manager", "admin", "member"))
    }
    return found


def flag(session: Session, deal_id: int) -> Insight:
    return guardrail.record_insight(
        session,
        kind="risk_flag",
        text_en="High risk: no meeting in 40 days.",
        text_zh="高风险：40 天没有会议。",
        source="win model v1",
        opportunity_id=deal_id,
    )


def test_an_insight_is_a_suggestion_on_the_record_and_scoped_like_its_deal(session: Session) -> None:
    world = people(session)
    insight = flag(session, world["deal"].id)
    assert insight.account_id == world["account"].id
    (event,) = events_for_entity(session, "forecast_insight", insight.id)
    assert event.type == "forecast.insight_suggested" and event.payload["suggestion"] is True
    actors = world["actors"]
    assert [i.id for i in guardrail.list_insights(session, actor=actors["east_rep"])] == [insight.id]
    assert [i.id for i in guardrail.list_insights(session, actor=actors["east_manager"])] == [insight.id]
    assert guardrail.list_insights(session, actor=actors["west_rep"]) == []
    with pytest.raises(NotFound):
        guardrail.get_insight(session, actor=actors["west_manager"], insight_id=insight.id)
    with pytest.raises(PermissionDenied):
        guardrail.list_insights(session, actor=actors["member"])
    with pytest.raises(InvalidInput):
        guardrail.record_insight(session, kind="risk_flag", text_en="x", text_zh="x", source="s")


def test_verification_needs_a_written_note_by_the_owner_or_their_manager(session: Session) -> None:
    world = people(session)
    actors = world["actors"]
    insight = flag(session, world["deal"].id)
    with pytest.raises(InvalidInput) as short:
        guardrail.verify_insight(session, actor=actors["east_rep"], insight_id=insight.id, note="ok")
    assert short.value.errors[0].field == "note"
    with pytest.raises(PermissionDenied):  # same team, but not the deal's owner
        guardrail.verify_insight(session, actor=actors["east_rep2"], insight_id=insight.id, note=NOTE)
    with pytest.raises(NotFound):  # another team does not even see it
        guardrail.verify_insight(session, actor=actors["west_manager"], insight_id=insight.id, note=NOTE)
    verified = guardrail.verify_insight(
        session, actor=actors["east_manager"], insight_id=insight.id, note=NOTE
    )
    assert verified.verified_by_id == world["east_manager"].id and verified.verification_note == NOTE
    event = events_for_entity(session, "forecast_insight", insight.id)[-1]
    assert event.type == "forecast.insight_verified" and event.payload["note"] == NOTE
    with pytest.raises(Conflict):
        guardrail.dismiss_insight(session, actor=actors["east_rep"], insight_id=insight.id)
    other = flag(session, world["deal"].id)
    guardrail.dismiss_insight(session, actor=actors["east_rep"], insight_id=other.id, note="已与客户确认")
    assert guardrail.insight_status(other) == "dismissed"
    assert events_for_entity(session, "forecast_insight", other.id)[-1].type == "forecast.insight_dismissed"


def test_only_an_admin_switches_verification_and_the_switch_is_an_event(session: Session) -> None:
    world = people(session)
    assert guardrail.verification_required(session) is False
    for key in ("east_manager", "east_rep"):
        with pytest.raises(PermissionDenied):
            guardrail.set_verification_required(session, actor=world["actors"][key], required=True)
    guardrail.set_verification_required(session, actor=world["actors"]["admin"], required=True)
    assert guardrail.verification_required(session) is True
    (event,) = events_for_entity(session, "forecast_setting", "require_verification")
    assert event.type == "forecast.setting_changed" and event.payload["after"] == {"value": True}


def test_a_submission_waits_for_verification_when_the_admin_requires_it(session: Session) -> None:
    world = people(session)
    actors = world["actors"]
    insight = flag(session, world["deal"].id)
    flag(session, world["west_deal"].id)  # another team's: never blocks the East rep
    call = {"period_kind": "quarter", "period_start": date(2026, 10, 1), "commit_amount": 100000.0}
    first = guardrail.submit_forecast(session, actor=actors["east_rep"], best_case_amount=150000.0, **call)
    assert first.user_id == world["east_rep"].id  # not required yet: the suggestion does not block
    guardrail.set_verification_required(session, actor=Actor.system("test"), required=True)
    for key in ("east_rep", "east_manager"):
        with pytest.raises(Conflict) as refused:
            guardrail.submit_forecast(session, actor=actors[key], best_case_amount=150000.0, **call)
        assert refused.value.code == "insights_unverified"
        assert [item["id"] for item in refused.value.params["insights"]] == [insight.id]
    guardrail.verify_insight(session, actor=actors["east_rep"], insight_id=insight.id, note=NOTE)
    second = guardrail.submit_forecast(session, actor=actors["east_rep"], best_case_amount=150000.0, **call)
    (event,) = events_for_entity(session, "forecast_submission", second.id)
    assert event.type == "forecast.submitted" and event.payload["commit_amount"] == 100000.0
    assert {s.id for s in guardrail.list_submissions(session, actor=actors["east_manager"])} == {
        first.id,
        second.id,
    }
    assert guardrail.list_submissions(session, actor=actors["west_manager"]) == []


def test_a_bad_submission_names_its_fields_and_a_member_may_not_submit(session: Session) -> None:
    world = people(session)
    with pytest.raises(InvalidInput) as refused:
        guardrail.submit_forecast(
            session,
            actor=world["actors"]["east_rep"],
            period_kind="quarter",
            period_start=date(2026, 11, 1),
            commit_amount=200.0,
            best_case_amount=100.0,
        )
    assert {error.field for error in refused.value.errors} == {"period_start", "best_case_amount"}
    with pytest.raises(PermissionDenied):
        guardrail.submit_forecast(
            session,
            actor=world["actors"]["member"],
            period_kind="month",
            period_start=date(2026, 11, 1),
            commit_amount=1.0,
            best_case_amount=2.0,
        )


def test_a_deal_entering_the_high_risk_band_becomes_a_risk_flag(session: Session) -> None:
    world = people(session)
    deal_id = world["deal"].id
    drivers = [
        {
            "feature": "days_since_activity",
            "value": 40,
            "points": -12,
            "en": "No meeting in 40 days",
            "zh": "40 天没有会议",
        }
    ]
    payload = {
        "metric": "win_probability",
        "value": 0.18,
        "previous": 0.42,
        "model_version": 3,
        "drivers": drivers,
    }
    append_event(
        session,
        type="forecast.deal_risk_changed",
        entity="opportunity",
        entity_id=deal_id,
        actor="forecast",
        payload={**payload, "risk": "high", "previous_risk": "medium"},
    )
    append_event(  # still high: not a new entry into the band
        session,
        type="forecast.deal_risk_changed",
        entity="opportunity",
        entity_id=deal_id,
        actor="forecast",
        payload={**payload, "risk": "high", "previous_risk": "high"},
    )
    (insight,) = session.scalars(select(Insight).where(Insight.opportunity_id == deal_id)).all()
    assert insight.kind == "risk_flag" and insight.source == "win model v3"
    assert (
        "18%" in insight.text_en
        and "No meeting in 40 days" in insight.text_en
        and "40 天没有会议" in insight.text_zh
    )


def test_an_approval_about_a_deal_with_unverified_insights_is_refused(session: Session, db_url: str) -> None:
    clock = FakeClock()
    staff = organisation(session)
    make_rule(session, DISCOUNT_APPROVAL, name="折扣审批")
    quote = discounted_quote(session, staff, "standard")
    deal_id = quote.opportunity_id
    run_engine(session, db_url, clock)
    item = session.scalars(select(InboxItem)).one()
    assert item_of(session, item.run_id).id == item.id
    assignee = session.get(User, item.assignee_id)
    assert assignee is not None
    manager = f.actor(assignee)  # the regional manager the approval was routed to
    insight = flag(session, deal_id)
    guardrail.set_verification_required(session, actor=Actor.system("test"), required=True)
    with pytest.raises(Conflict) as refused:
        automation.decide(session, item_id=item.id, actor=manager, decision="approve", note=None)
    assert (
        refused.value.code == "approval_needs_verified_insights"
        and f"#{insight.id}" in refused.value.params["ids"]
    )
    guardrail.verify_insight(session, actor=f.actor(staff["rep"]), insight_id=insight.id, note=NOTE)
    decided = automation.decide(session, item_id=item.id, actor=manager, decision="approve", note=None)
    assert decided.status == "approved"


# --- API and page -------------------------------------------------------------------------------


def test_api_lists_verifies_switches_and_submits_with_refusals(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
    session: Session,
) -> None:
    headers = company["headers"]
    insight_id = flag(session, company["east_deal"].id).id
    session.commit()
    listed = client.get(
        f"/api/v1/forecast/insights?opportunity_id={company['east_deal'].id}", headers=headers["east_rep"]
    )
    assert listed.status_code == 200
    assert [(i["id"], i["suggestion"], i["status"]) for i in listed.json()] == [(insight_id, True, "open")]
    assert client.get("/api/v1/forecast/insights", headers=headers["west_rep"]).json() == []
    assert client.get("/api/v1/forecast/insights", headers=headers["member"]).status_code == 403
    assert (
        client.put(
            "/api/v1/forecast/settings/verification", json={"required": True}, headers=headers["east_manager"]
        ).status_code
        == 403
    )
    switched = client.put(
        "/api/v1/forecast/settings/verification", json={"required": True}, headers=headers["admin"]
    )
    assert switched.status_code == 200 and switched.json() == {"required": True}
    assert client.get("/api/v1/forecast/settings/verification", headers=headers["east_rep"]).json() == {
        "required": True
    }
    call = {
        "period_kind": "quarter",
        "period_start": "2026-10-01",
        "commit_amount": 1000,
        "best_case_amount": 2000,
    }
    blocked = client.post("/api/v1/forecast/submissions", json=call, headers=headers["east_rep"])
    assert blocked.status_code == 409 and f"#{insight_id}" in blocked.json()["detail"]
    short = client.post(
        f"/api/v1/forecast/insights/{insight_id}/verify", json={"note": "ok"}, headers=headers["east_rep"]
    )
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "note"
    assert (
        client.post(
            f"/api/v1/forecast/insights/{insight_id}/verify", json={"note": NOTE}, headers=headers["west_rep"]
        ).status_code
        == 404
    )
    verified = client.post(
        f"/api/v1/forecast/insights/{insight_id}/verify", json={"note": NOTE}, headers=headers["east_rep"]
    )
    assert verified.status_code == 200 and verified.json()["status"] == "verified"
    created = client.post("/api/v1/forecast/submissions", json=call, headers=headers["east_rep"])
    assert created.status_code == 201, created.text
    assert [
        s["id"] for s in client.get("/api/v1/forecast/submissions", headers=headers["east_rep"]).json()
    ] == [created.json()["id"]]


def test_the_deal_page_marks_ai_suggestions_and_takes_a_written_verification(
    client: TestClient,  # noqa: F811
    company: dict[str, Any],  # noqa: F811
    session: Session,
) -> None:
    from tests.web.test_pages import csrf_of, log_in

    deal_id, west_id = company["east_deal"].id, company["west_deal"].id
    insight_id = flag(session, deal_id).id
    guardrail.set_verification_required(session, actor=Actor.system("test"), required=True)
    rep = company["east_rep"]
    auth_service.set_password(session, actor=f.SYSTEM, user=rep, password=f.PASSWORD)
    session.commit()
    token = log_in(client, rep.email)
    panel = client.get(f"/opportunities/{deal_id}/insights-panel")
    assert panel.status_code == 200 and 'id="insights-panel"' in panel.text
    assert "AI 建议" in panel.text or "AI suggestion" in panel.text
    assert 'data-testid="verification-required"' in panel.text
    assert client.get(f"/opportunities/{west_id}/insights-panel").status_code == 404
    url = f"/opportunities/{deal_id}/insights-panel/{insight_id}/verify"
    assert client.post(url, data={"note": NOTE}).status_code == 403  # no CSRF token
    short = client.post(url, data={"note": "好", "csrf_token": token}, headers={"HX-Request": "true"})
    assert short.status_code == 422 and f'data-testid="verify-error-{insight_id}"' in short.text
    done = client.post(
        url, data={"note": NOTE, "csrf_token": csrf_of(short.text)}, headers={"HX-Request": "true"}
    )
    assert done.status_code == 200 and re.search(f'data-testid="insight-status-{insight_id}"', done.text)
    assert NOTE in done.text
