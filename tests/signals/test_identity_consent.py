"""Identity resolution, the consent threshold and rolling features, end to end through
the API: what a rep may see about a named contact, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.events import events_by_type, verify_chain
from pathcast.signals import models as m
from tests import factories
from tests.signals.test_collect import DSA, now_ms, post


def identify_and_view(client: TestClient, site: Any, token: str, visitor: str, dwells: list[int]) -> None:
    ts = now_ms()
    events: list[dict[str, Any]] = [{"type": "identify", "ts": ts - 5000, "token": token}]
    for number, dwell in enumerate(dwells):
        view = f"{visitor}-view-{number}"
        events.append({"type": "view", "ts": ts - 4000, "view": view, **DSA})
        events.append({"type": "dwell", "ts": ts - 1000, "view": view, "dwell_ms": dwell})
    answer = post(client, {"site": site.key, "visitor": visitor, "sent_at": ts, "events": events})
    assert answer.status_code == 200 and answer.json()["rejected"] == [], answer.text


def tracked_token(client: TestClient, headers: dict[str, str], contact_id: int) -> str:
    answer = client.post(
        "/api/v1/signals/tracked-links",
        json={"contact_id": contact_id, "url": "https://www.example.com/dsa?utm=mail"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert "utm=mail" in answer.json()["url"] and "pc_t=" in answer.json()["url"]
    return str(answer.json()["token"])


def hold_meetings(session: Session, contact: Any, count: int) -> None:
    for number in range(count):
        factories.activity(
            session,
            kind="meeting",
            subject=f"方案沟通会 {number}",
            contact_id=contact.id,
            account_id=contact.account_id,
            done_at=datetime.now(UTC) - timedelta(days=1),
        )
    session.commit()


def test_behaviour_is_named_only_after_the_threshold(
    client: TestClient, company: dict[str, Any], site: Any, buyer: Any, session: Session
) -> None:
    rep = company["headers"]["east_rep"]
    token = tracked_token(client, rep, buyer.id)
    # Three visible views over 90 s, and one that stayed open in a hidden tab (no dwell).
    identify_and_view(client, site, token, "browser-wang-1", [95_000, 120_000, 91_000, 0])

    features = client.get(f"/api/v1/signals/features/contacts/{buyer.id}?min_dwell=90", headers=rep).json()
    assert features["identified"] is False
    assert features["assets"] == [] and features["windows"]["7d"]["views"] == 0
    assert features["consent"]["crossed"] is False and features["consent"]["threshold"] == 3
    account = client.get(
        f"/api/v1/signals/features/accounts/{buyer.account_id}?min_dwell=90", headers=rep
    ).json()
    assert account["windows"]["7d"] == {"views": 4, "dwell_seconds": 306.0, "qualifying_views": 3}
    assert account["distinct_visitors"]["7d"] == 1

    hold_meetings(session, buyer, 2)
    assert client.get(f"/api/v1/signals/contacts/{buyer.id}/consent", headers=rep).json()["crossed"] is False
    hold_meetings(session, buyer, 1)
    consent = client.get(f"/api/v1/signals/contacts/{buyer.id}/consent", headers=rep).json()
    assert consent["crossed"] is True and consent["deep_interactions"] == 3

    features = client.get(f"/api/v1/signals/features/contacts/{buyer.id}?min_dwell=90", headers=rep).json()
    assert features["identified"] is True
    [dsa] = features["assets"]
    assert dsa["name"] == "DSA介入耗材对比表"
    assert dsa["windows"]["7d"]["qualifying_views"] == 3
    assert dsa["windows"]["7d"]["views"] == 4
    assert features["deep_interactions"] == 3 and features["recency_days"] is not None

    inbox = client.get("/api/v1/signals/inbox?min_dwell=90", headers=rep).json()
    assert [item["contact_id"] for item in inbox] == [buyer.id] * 3
    session.expire_all()
    types = [event.type for event in events_by_type(session, ["signals.threshold_reached"])]
    assert types == ["signals.threshold_reached"]
    assert len(list(events_by_type(session, ["signals.contact_identified"]))) == 1
    assert verify_chain(session).ok


def test_only_deep_interactions_count(
    session: Session, company: dict[str, Any], buyer: Any, client: TestClient
) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    factories.activity(session, kind="call", subject="short call", contact_id=buyer.id, duration_minutes=5)
    factories.activity(session, kind="call", subject="long call", contact_id=buyer.id, duration_minutes=6)
    factories.activity(
        session,
        kind="meeting",
        subject="planned",
        contact_id=buyer.id,
        occurred_at=datetime.now(UTC) + timedelta(days=3),
    )
    factories.activity(session, kind="note", subject="note", contact_id=buyer.id, occurred_at=past)
    held = factories.activity(session, kind="meeting", subject="held", contact_id=buyer.id, occurred_at=past)
    session.commit()
    rep = company["headers"]["east_rep"]
    state = client.get(f"/api/v1/signals/contacts/{buyer.id}/consent", headers=rep).json()
    assert state["deep_interactions"] == 2
    # Deleting the meeting removes it from the count.
    deleted = client.delete(f"/api/v1/activities/{held.id}", headers=company["headers"]["admin"])
    assert deleted.status_code == 204, deleted.text
    state = client.get(f"/api/v1/signals/contacts/{buyer.id}/consent", headers=rep).json()
    assert state["deep_interactions"] == 1


def test_merge_is_reversible_and_features_respect_time(
    client: TestClient, company: dict[str, Any], site: Any, buyer: Any, session: Session
) -> None:
    rep = company["headers"]["east_rep"]
    hold_meetings(session, buyer, 3)
    ts = now_ms()
    batch = {
        "site": site.key,
        "visitor": "anonymous-browser-7",
        "events": [
            {"type": "view", "ts": ts - 2000, "view": "anon-v1", **DSA},
            {"type": "dwell", "ts": ts, "view": "anon-v1", "dwell_ms": 100_000},
        ],
    }
    assert post(client, batch).json()["accepted"] == 2
    visitor_id = session.scalar(select(m.Visitor.id).where(m.Visitor.key == "anonymous-browser-7"))
    session.commit()  # end the test's transaction (SQLite has one writer) without expiring objects
    merged = client.post(
        f"/api/v1/signals/visitors/{visitor_id}/merge", json={"contact_id": buyer.id}, headers=rep
    )
    assert merged.status_code == 200, merged.text
    link_id = merged.json()["id"]
    assert merged.json()["method"] == "manual"
    after_merge = datetime.now(UTC)
    features = client.get(f"/api/v1/signals/features/contacts/{buyer.id}?min_dwell=90", headers=rep).json()
    assert features["windows"]["7d"]["qualifying_views"] == 1

    reverted = client.post(
        f"/api/v1/signals/identity-links/{link_id}/revert", json={"reason": "shared PC"}, headers=rep
    )
    assert reverted.status_code == 200 and reverted.json()["revert_reason"] == "shared PC"
    features = client.get(f"/api/v1/signals/features/contacts/{buyer.id}", headers=rep).json()
    assert features["windows"]["7d"]["views"] == 0
    # As of the moment after the merge, the view was known and linked: honest replay.
    as_of = after_merge.isoformat().replace("+00:00", "Z")
    then = client.get(
        f"/api/v1/signals/features/contacts/{buyer.id}", params={"as_of": as_of, "min_dwell": 90}, headers=rep
    ).json()
    assert then["windows"]["7d"]["qualifying_views"] == 1
    # Before the hits were received, nothing was known.
    before = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    earlier = client.get(
        f"/api/v1/signals/features/contacts/{buyer.id}", params={"as_of": before}, headers=rep
    ).json()
    assert earlier["identified"] is False
    links = client.get(f"/api/v1/signals/contacts/{buyer.id}/identity-links", headers=rep).json()
    assert [link["reverted_at"] is not None for link in links] == [True]


def test_as_of_sees_only_the_dwell_received_by_then(
    client: TestClient, company: dict[str, Any], site: Any, buyer: Any, session: Session
) -> None:
    rep = company["headers"]["east_rep"]
    hold_meetings(session, buyer, 3)
    token = tracked_token(client, rep, buyer.id)
    identify_and_view(client, site, token, "browser-wang-2", [40_000])
    middle = datetime.now(UTC)
    ts = now_ms()
    later = {
        "site": site.key,
        "visitor": "browser-wang-2",
        "events": [{"type": "dwell", "ts": ts, "view": "browser-wang-2-view-0", "dwell_ms": 130_000}],
    }
    assert post(client, later).json()["accepted"] == 1
    now_figures = client.get(f"/api/v1/signals/features/contacts/{buyer.id}?min_dwell=90", headers=rep).json()
    assert now_figures["windows"]["1d"]["qualifying_views"] == 1
    then = client.get(
        f"/api/v1/signals/features/contacts/{buyer.id}",
        params={"as_of": middle.isoformat(), "min_dwell": 90},
        headers=rep,
    ).json()
    assert then["windows"]["1d"] == {"views": 1, "dwell_seconds": 40.0, "qualifying_views": 0}
    # Now and as-of-now agree: the fast path and the replay read the same facts.
    replay = client.get(
        f"/api/v1/signals/features/contacts/{buyer.id}",
        params={"as_of": datetime.now(UTC).isoformat(), "min_dwell": 90},
        headers=rep,
    ).json()
    assert replay["windows"] == now_figures["windows"]


def test_opt_out_deletes_identified_behaviour(
    client: TestClient, company: dict[str, Any], site: Any, buyer: Any, session: Session
) -> None:
    rep = company["headers"]["east_rep"]
    contact_id = buyer.id  # read once: the test session must not reopen a write transaction later
    hold_meetings(session, buyer, 3)
    token = tracked_token(client, rep, contact_id)
    identify_and_view(client, site, token, "browser-wang-3", [95_000])
    answer = client.post(f"/api/v1/signals/contacts/{contact_id}/opt-out", headers=rep)
    assert answer.status_code == 200 and answer.json()["opted_out"] is True
    session.commit()  # a fresh snapshot, without expiring (and reloading) the fixtures' objects
    assert session.scalar(select(func.count()).select_from(m.Hit)) == 0
    assert session.scalar(select(func.count()).select_from(m.View)) == 0
    assert session.scalar(select(func.count()).select_from(m.IdentityLink)) == 0
    session.commit()
    features = client.get(f"/api/v1/signals/features/contacts/{contact_id}", headers=rep).json()
    assert features["identified"] is False
    # A tracked link clicked later links nothing.
    identify_and_view(client, site, token, "browser-wang-4", [95_000])
    session.commit()  # a fresh snapshot, without expiring (and reloading) the fixtures' objects
    assert session.scalar(select(func.count()).select_from(m.IdentityLink)) == 0
    assert len(list(events_by_type(session, ["signals.contact_opted_out"]))) == 1


def test_refusals(client: TestClient, company: dict[str, Any], site: Any, session: Session) -> None:
    headers = company["headers"]
    east_account = factories.account(session, name="东区私有客户", owner_id=company["east_rep"].id)
    buyer = factories.contact(session, name="李科长", email="li@east.example", account_id=east_account.id)
    session.commit()
    west = headers["west_rep"]
    assert client.get(f"/api/v1/signals/features/contacts/{buyer.id}", headers=west).status_code == 404
    assert client.get(f"/api/v1/signals/contacts/{buyer.id}/consent", headers=west).status_code == 404
    assert client.post(f"/api/v1/signals/contacts/{buyer.id}/opt-out", headers=west).status_code == 404
    link = {"contact_id": buyer.id, "url": "https://www.example.com/"}
    assert client.post("/api/v1/signals/tracked-links", json=link, headers=west).status_code == 404
    assert (
        client.post(
            "/api/v1/signals/tracked-links", json={**link, "url": "javascript:x"}, headers=headers["east_rep"]
        ).status_code
        == 422
    )
    member = headers["member"]
    assert client.post(f"/api/v1/signals/contacts/{buyer.id}/opt-out", headers=member).status_code == 403
    site_body = {"name": "x", "allowed_origins": ["https://x.example"]}
    assert (
        client.post("/api/v1/signals/sites", json=site_body, headers=headers["east_manager"]).status_code
        == 403
    )
    assert client.get("/api/v1/signals/connectors", headers=headers["east_rep"]).status_code == 403
    assert client.get(f"/api/v1/signals/features/contacts/{buyer.id}").status_code == 401
    created = client.post("/api/v1/signals/sites", json=site_body, headers=headers["admin"])
    assert created.status_code == 201 and created.json()["key"]
    inbox = client.get("/api/v1/signals/inbox", headers=headers["customer"])
    assert inbox.status_code == 403


def test_members_and_customers_never_read_behaviour(
    client: TestClient, company: dict[str, Any], site: Any, buyer: Any, session: Session
) -> None:
    contact_id, account_id = buyer.id, buyer.account_id
    hold_meetings(session, buyer, 3)
    rep = company["headers"]["east_rep"]
    identify_and_view(client, site, tracked_token(client, rep, contact_id), "browser-wang-9", [95_000])
    for who in ("member", "customer"):
        headers = company["headers"][who]
        for path in (
            f"/api/v1/signals/features/contacts/{contact_id}",
            f"/api/v1/signals/features/accounts/{account_id}",
            f"/api/v1/signals/contacts/{contact_id}/consent",
            f"/api/v1/signals/contacts/{contact_id}/identity-links",
            "/api/v1/signals/inbox",
            "/api/v1/signals/messages",
        ):
            answer = client.get(path, headers=headers)
            assert answer.status_code == 403, (who, path, answer.status_code)
        link = {"contact_id": contact_id, "url": "https://www.example.com/"}
        assert client.post("/api/v1/signals/tracked-links", json=link, headers=headers).status_code == 403
    # The contact's own timeline does not tell when a tracked link was clicked.
    answer = client.get(f"/api/v1/contacts/{contact_id}/events", headers=rep)
    assert answer.status_code == 200, answer.text
    timeline = answer.json()
    types = [event["type"] for event in (timeline["items"] if isinstance(timeline, dict) else timeline)]
    assert "contact.created" in types  # the timeline is the contact's, and it is not empty
    assert "signals.contact_identified" not in types
    session.commit()
    identified = events_by_type(session, ["signals.contact_identified"])
    assert [(event.entity, event.payload["contact_id"]) for event in identified] == [
        ("identity_link", contact_id)
    ]
