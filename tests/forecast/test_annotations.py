"""Reps' annotations: notes with optional overrides, as events; who may write and withdraw
them; the override in force as of a moment; and the same through the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.forecast.models import DealScore
from pathcast.forecast.service.annotations import (
    annotate,
    annotations_for,
    effective_overrides,
    withdraw,
)
from tests import factories as f


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def company(session: Session) -> dict[str, Any]:
    """Two teams, a deal per rep, a customer contact."""
    people = f.two_teams(session)
    account = f.account(session, name="华东医疗集团 East Medical")
    people["account"] = account
    people["east_deal"] = f.opportunity(
        session, f.actor(people["east_rep"]), name="东区 DSA", account_id=account.id
    )
    people["west_deal"] = f.opportunity(session, f.actor(people["west_rep"]), name="West PLC", amount=50000)
    people["customer"] = f.user(
        session, "buyer@hospital.example", role=f.Role.customer_contact, account_id=account.id, password=None
    )
    return people


def added_events(session: Session, deal_id: int) -> list[Event]:
    return list(
        session.scalars(
            select(Event)
            .where(
                Event.entity == "opportunity", Event.entity_id == str(deal_id), Event.type.like("forecast.%")
            )
            .order_by(Event.id)
        )
    )


# --- writing ---------------------------------------------------------------------------------


def test_a_note_with_an_override_is_stored_with_its_tokens_and_event(
    session: Session, company: dict[str, Any]
) -> None:
    rep, deal = company["east_rep"], company["east_deal"]
    session.add(
        DealScore(
            opportunity_id=deal.id,
            model_version=3,
            scored_at=at("2025-03-01"),
            probability=0.42,
            drivers=[],
        )
    )
    session.flush()
    note = annotate(
        session,
        actor=f.actor(rep),
        opportunity_id=deal.id,
        note="  该客户正参与卫健委集采评审，预算批复已下达。  ",
        override_probability=0.7,
        override_category="commit",
        at=at("2025-03-05"),
    )
    assert note.note == "该客户正参与卫健委集采评审，预算批复已下达。"
    assert note.author_id == rep.id and note.author_label == rep.name
    assert "卫健委" in note.tokens and "预算批复" in note.tokens
    assert "，" not in note.tokens and "。" not in note.tokens and "的" not in note.tokens
    assert note.override_probability == 0.7 and note.override_category == "commit"
    assert note.model_probability == 0.42 and note.created_at == at("2025-03-05")
    (event,) = added_events(session, deal.id)
    assert event.type == "forecast.annotation_added" and event.actor == f"user:{rep.id}"
    assert event.occurred_at == at("2025-03-05")
    assert event.payload == {
        "annotation_id": note.id,
        "note": note.note,
        "override_probability": 0.7,
        "override_category": "commit",
        "model_probability": 0.42,
        "author": rep.name,
    }


def test_english_notes_are_lower_cased_words_without_stop_words(
    session: Session, company: dict[str, Any]
) -> None:
    note = annotate(
        session,
        actor=f.actor(company["east_rep"]),
        opportunity_id=company["east_deal"].id,
        note="The Budget was APPROVED, and we are shortlisted!",
    )
    assert note.tokens == ["budget", "approved", "shortlisted"]
    assert note.model_probability is None and note.override_probability is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"note": "   "}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"note": "ok", "override_probability": 1.5}, "override_probability"),
        ({"note": "ok", "override_probability": -0.1}, "override_probability"),
        ({"note": "ok", "override_probability": float("nan")}, "override_probability"),
        ({"note": "ok", "override_category": "closed"}, "override_category"),
        ({"note": "ok", "override_category": "maybe"}, "override_category"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    session: Session, company: dict[str, Any], values: dict[str, Any], field: str
) -> None:
    deal = company["east_deal"]
    with pytest.raises(InvalidInput) as refused:
        annotate(session, actor=f.actor(company["east_rep"]), opportunity_id=deal.id, **values)
    assert [error.field for error in refused.value.errors] == [field]
    assert annotations_for(session, deal.id) == [] and added_events(session, deal.id) == []


def test_a_note_of_2000_characters_is_accepted(session: Session, company: dict[str, Any]) -> None:
    note = annotate(
        session, actor=f.actor(company["east_rep"]), opportunity_id=company["east_deal"].id, note="预" * 2000
    )
    assert len(note.note) == 2000


def test_managers_and_admins_annotate_deals_they_may_change(
    session: Session, company: dict[str, Any]
) -> None:
    deal = company["east_deal"]
    for who in ("east_manager", "admin"):
        annotate(session, actor=f.actor(company[who]), opportunity_id=deal.id, note=f"{who} 看过")
    assert len(annotations_for(session, deal.id)) == 2


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("east_rep2", PermissionDenied),  # a teammate may see the deal but not change it
        ("west_rep", NotFound),  # another team's deal does not exist for them
        ("west_manager", NotFound),
        ("member", PermissionDenied),  # no forecast right at all
        ("customer", PermissionDenied),
    ],
)
def test_who_may_not_annotate_is_refused(
    session: Session, company: dict[str, Any], who: str, error: type[Exception]
) -> None:
    deal = company["east_deal"]
    with pytest.raises(error):
        annotate(session, actor=f.actor(company[who]), opportunity_id=deal.id, note="不该写上")
    assert annotations_for(session, deal.id) == []


def test_an_unknown_deal_is_not_found(session: Session, company: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        annotate(session, actor=f.actor(company["admin"]), opportunity_id=999999, note="?")


# --- withdrawing -----------------------------------------------------------------------------


def test_the_author_withdraws_a_note_once_with_its_event(session: Session, company: dict[str, Any]) -> None:
    rep, deal = company["east_rep"], company["east_deal"]
    note = annotate(
        session, actor=f.actor(rep), opportunity_id=deal.id, note="预算冻结", override_probability=0.1
    )
    withdrawn = withdraw(session, actor=f.actor(rep), annotation_id=note.id)
    assert withdrawn.withdrawn_at is not None
    events = added_events(session, deal.id)
    assert [event.type for event in events] == ["forecast.annotation_added", "forecast.annotation_withdrawn"]
    assert events[1].payload == {"annotation_id": note.id, "withdrawn_by": rep.name}
    with pytest.raises(Conflict):
        withdraw(session, actor=f.actor(rep), annotation_id=note.id)
    assert effective_overrides(session, [deal.id]) == {}


@pytest.mark.parametrize("who", ["east_manager", "admin"])
def test_the_authors_manager_and_an_admin_may_withdraw(
    session: Session, company: dict[str, Any], who: str
) -> None:
    note = annotate(
        session, actor=f.actor(company["east_rep"]), opportunity_id=company["east_deal"].id, note="竞品"
    )
    assert withdraw(session, actor=f.actor(company[who]), annotation_id=note.id).withdrawn_at is not None


@pytest.mark.parametrize(
    ("who", "error"),
    [
        ("east_rep2", PermissionDenied),
        ("west_manager", NotFound),
        ("west_rep", NotFound),
        ("member", PermissionDenied),
        ("customer", PermissionDenied),
    ],
)
def test_others_may_not_withdraw(
    session: Session, company: dict[str, Any], who: str, error: type[Exception]
) -> None:
    note = annotate(
        session, actor=f.actor(company["east_rep"]), opportunity_id=company["east_deal"].id, note="竞品"
    )
    with pytest.raises(error):
        withdraw(session, actor=f.actor(company[who]), annotation_id=note.id)
    assert note.withdrawn_at is None


# --- the override in force -------------------------------------------------------------------


def test_effective_override_is_the_newest_live_one_as_of_a_moment(
    session: Session, company: dict[str, Any]
) -> None:
    rep, deal, other = f.actor(company["east_rep"]), company["east_deal"], company["west_deal"]
    first = annotate(
        session,
        actor=rep,
        opportunity_id=deal.id,
        note="预算批复",
        override_probability=0.6,
        at=at("2025-01-10"),
    )
    annotate(session, actor=rep, opportunity_id=deal.id, note="只是备注，无调整", at=at("2025-01-20"))
    second = annotate(
        session,
        actor=rep,
        opportunity_id=deal.id,
        note="竞品低价",
        override_category="pipeline",
        at=at("2025-02-01"),
    )
    withdraw(session, actor=rep, annotation_id=second.id, at=at("2025-03-01"))
    ids = [deal.id, other.id]
    assert effective_overrides(session, ids, at("2025-01-05")) == {}
    early = effective_overrides(session, ids, at("2025-01-25"))
    assert set(early) == {deal.id}
    assert early[deal.id].annotation_id == first.id and early[deal.id].probability == 0.6
    assert early[deal.id].category is None and early[deal.id].author_label == company["east_rep"].name
    middle = effective_overrides(session, ids, at("2025-02-15"))[deal.id]
    assert middle.annotation_id == second.id and middle.probability is None and middle.category == "pipeline"
    # once the newer one is withdrawn, the older override is in force again
    assert effective_overrides(session, ids, at("2025-03-02"))[deal.id].annotation_id == first.id
    assert effective_overrides(session, ids)[deal.id].annotation_id == first.id
    assert effective_overrides(session, []) == {}


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
def api(configured: str, session: Session, company: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A client and a bearer-token header per person; the company committed first."""
    headers: dict[str, dict[str, str]] = {}
    for key in ("admin", "east_manager", "east_rep", "east_rep2", "west_rep", "member", "customer"):
        _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=company[key])
        headers[key] = {"Authorization": f"Bearer {secret}"}
    ids = {"east_deal": company["east_deal"].id, "west_deal": company["west_deal"].id}
    session.commit()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield {"client": client, "headers": headers, **ids}


def url(deal_id: int) -> str:
    return f"/api/v1/forecast/deals/{deal_id}/annotations"


def test_api_adds_lists_and_withdraws_a_note(api: dict[str, Any]) -> None:
    client, headers, deal_id = api["client"], api["headers"], api["east_deal"]
    created = client.post(
        url(deal_id),
        json={"note": "院方已立项", "override_probability": 0.7, "override_category": "best_case"},
        headers=headers["east_rep"],
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (
        body["note"] == "院方已立项" and body["override_probability"] == 0.7 and body["withdrawn_at"] is None
    )
    listed = client.get(url(deal_id), headers=headers["east_manager"])
    assert listed.status_code == 200
    page = listed.json()
    assert [item["id"] for item in page["items"]] == [body["id"]]
    assert page["model"] is None
    assert page["override"]["probability"] == 0.7 and page["override"]["category"] == "best_case"
    refused = client.post(f"/api/v1/forecast/annotations/{body['id']}/withdraw", headers=headers["east_rep2"])
    assert refused.status_code == 403 and refused.json()["code"] == "annotation_not_yours"
    done = client.post(f"/api/v1/forecast/annotations/{body['id']}/withdraw", headers=headers["east_manager"])
    assert done.status_code == 200 and done.json()["withdrawn_at"] is not None
    again = client.post(f"/api/v1/forecast/annotations/{body['id']}/withdraw", headers=headers["east_rep"])
    assert again.status_code == 409
    assert client.get(url(deal_id), headers=headers["east_rep"]).json()["override"] is None
    assert (
        client.post("/api/v1/forecast/annotations/999999/withdraw", headers=headers["admin"]).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"note": ""}, "note"),
        ({"note": "ok", "override_probability": 70}, "override_probability"),
        ({"note": "ok", "override_category": "closed"}, "override_category"),
        ({"note": "ok", "override_probability": "high"}, "override_probability"),
        ({"override_probability": 0.5}, "note"),
    ],
)
def test_api_bad_input_is_a_problem_naming_the_field(
    api: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    answer = api["client"].post(url(api["east_deal"]), json=body, headers=api["headers"]["east_rep"])
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]


@pytest.mark.parametrize(
    ("who", "status"),
    [("east_rep2", 403), ("west_rep", 404), ("member", 403), ("customer", 403)],
)
def test_api_refuses_who_may_not_annotate(api: dict[str, Any], who: str, status: int) -> None:
    client, headers, deal_id = api["client"], api["headers"], api["east_deal"]
    answer = client.post(url(deal_id), json={"note": "试试"}, headers=headers[who])
    assert answer.status_code == status, answer.text
    if who != "east_rep2":  # a teammate may read the notes, the others may not
        assert client.get(url(deal_id), headers=headers[who]).status_code == status
    assert client.get(url(deal_id), headers=headers["east_rep"]).json()["items"] == []


def test_api_needs_a_signed_in_caller(api: dict[str, Any]) -> None:
    assert api["client"].get(url(api["east_deal"])).status_code == 401
