"""Grants to third parties, at the service (SQLite and PostgreSQL): the issue's check
(an audit grant for "communications, 2025-01-01 to 2025-06-30" shows exactly those, stops
when revoked, logs every access), expiry, narrowing allowed and refused, purposes, and
the refusals for another account's customer and for sellers."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import schemas as s
from pathcast.crm import service as crm
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.portal.models import Grant, GrantAccess
from pathcast.portal.service import grants
from pathcast.schemas import ExportClass, fields_of_class
from tests import factories as f

MARKER = "INTERNAL-GRANT-MARKER-7731"
COMMS = {"activities": ["subject", "kind", "occurred_at", "contact_id"]}
START, END = date(2025, 1, 1), date(2025, 6, 30)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def later(days: int = 30) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


@dataclass
class World:
    account_id: int
    other_account_id: int
    customer: Actor
    colleague: Actor
    other_customer: Actor
    rep: Actor
    inside: list[int]
    outside: list[int]


def build(session: Session) -> World:
    rep = f.user(session, "rep@example.com")
    account = f.account(session, name="恒泰精密 Hengtai", notes=MARKER, owner_id=rep.id)
    other = f.account(session, name="Other Co", notes=MARKER, owner_id=rep.id)
    customer = f.user(session, "buyer@hengtai.example", role=Role.customer_contact, account_id=account.id)
    colleague = f.user(session, "cfo@hengtai.example", role=Role.customer_contact, account_id=account.id)
    other_customer = f.user(session, "buyer@other.example", role=Role.customer_contact, account_id=other.id)
    contact = f.contact(session, account_id=account.id, notes=MARKER)
    inside = [
        f.activity(session, account_id=account.id, contact_id=contact.id, body=MARKER, subject="一月沟通",
                   occurred_at=at(START, 0)).id,
        f.activity(session, account_id=account.id, body=MARKER, subject="六月底", occurred_at=at(END, 23)).id,
    ]  # fmt: skip
    outside = [
        f.activity(session, account_id=account.id, body=MARKER, subject="去年", occurred_at=at(date(2024, 12, 31), 23)).id,
        f.activity(session, account_id=account.id, body=MARKER, subject="七月", occurred_at=at(date(2025, 7, 1), 0)).id,
        f.activity(session, account_id=account.id, body=MARKER, subject="no date").id,
        f.activity(session, account_id=other.id, body=MARKER, subject="other account", occurred_at=at(date(2025, 3, 1))).id,
    ]  # fmt: skip
    crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["ticket"],
        data={"account_id": account.id, "subject": "工单 in range", "opened_at": at(date(2025, 2, 1))},
    )
    session.flush()
    return World(
        account.id, other.id, f.actor(customer), f.actor(colleague), f.actor(other_customer), f.actor(rep),
        inside, outside,
    )  # fmt: skip


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def audit_grant(session: Session, world: World, **overrides: Any) -> tuple[Grant, str]:
    terms: dict[str, Any] = {
        "account_id": world.account_id,
        "grantee": "KPMG 审计组",
        "purpose": "audit",
        "fields": COMMS,
        "period_start": START,
        "period_end": END,
        "expires_at": later(),
    } | overrides
    return grants.create_grant(session, world.customer, **terms)


def accessed(session: Session, account_id: int) -> list[Event]:
    return list(
        session.scalars(
            select(Event).where(
                Event.type == "portal.grant_accessed",
                Event.entity == "account",
                Event.entity_id == str(account_id),
            )
        )
    )


def test_audit_grant_shows_exactly_communications_in_range(session: Session, world: World) -> None:
    grant, token = audit_grant(session, world)
    assert grant.token_sha256 == grants.token_digest(token) and token not in json.dumps(grant.fields)
    data = grants.grant_data(session, token, ip="203.0.113.9")
    assert list(data.tables) == ["activities"]  # no tickets, contacts or account
    columns, rows = data.tables["activities"]
    assert set(columns) == set(COMMS["activities"])
    assert {row["subject"] for row in rows} == {"一月沟通", "六月底"}
    assert all(set(row) == set(COMMS["activities"]) for row in rows)
    assert MARKER not in json.dumps(rows, ensure_ascii=False)
    # logged: the access row and the event the customer sees
    access = session.scalars(select(GrantAccess).where(GrantAccess.grant_id == grant.id)).one()
    assert (
        access.action == "view"
        and access.ip == "203.0.113.9"
        and access.detail["counts"] == {"activities": 2}
    )
    assert len(accessed(session, world.account_id)) == 1
    grants.grant_data(session, token)
    assert len(accessed(session, world.account_id)) == 2
    listed = grants.list_grants(session, world.customer, world.account_id)
    assert [len(entry.accesses) for entry in listed] == [2] and listed[0].state == "active"
    created = session.scalars(select(Event).where(Event.type == "portal.grant_created")).one()
    assert token not in json.dumps(created.payload) and created.payload["grant_id"] == grant.id


def test_revoked_grant_stops_on_the_next_request(session: Session, world: World) -> None:
    grant, token = audit_grant(session, world)
    grants.grant_data(session, token)
    grants.revoke_grant(session, world.colleague, grant.id)  # any contact of the account
    with pytest.raises(NotFound) as stopped:
        grants.grant_data(session, token)
    assert stopped.value.code == "grant_revoked"
    with pytest.raises(Conflict):
        grants.revoke_grant(session, world.customer, grant.id)
    assert session.scalar(select(Event).where(Event.type == "portal.grant_revoked")) is not None
    assert grants.list_grants(session, world.customer, world.account_id)[0].state == "revoked"


def test_expired_grant_stops(session: Session, world: World) -> None:
    grant, token = audit_grant(session, world)
    grant.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    with pytest.raises(NotFound) as stopped:
        grants.grant_data(session, token)
    assert stopped.value.code == "grant_expired"
    with pytest.raises(NotFound):
        grants.grant_data(session, "not-a-token")
    with pytest.raises(InvalidInput) as past:
        audit_grant(session, world, expires_at=datetime.now(UTC) - timedelta(days=1))
    assert [error.field for error in past.value.errors] == ["expires_at"]


def test_fields_are_only_customer_visible(session: Session, world: World) -> None:
    choices = grants.grant_choices()
    assert choices["activities"] == fields_of_class(s.ActivityRead, ExportClass.customer_visible)
    assert "body" not in choices["activities"] and "notes" not in choices["contacts"]
    with pytest.raises(InvalidInput) as refused:
        audit_grant(session, world, fields={"activities": ["subject", "body"], "opportunities": ["name"]})
    assert {error.field for error in refused.value.errors} == {
        "fields.activities.body",
        "fields.opportunities",
    }
    with pytest.raises(InvalidInput):
        audit_grant(session, world, fields={})


def test_purposes_keep_to_their_side(session: Session, world: World) -> None:
    _, audit_token = audit_grant(session, world)
    with pytest.raises(PermissionDenied):
        grants.export_grant(session, audit_token, fmt="json", out=io.BytesIO())
    _, migration_token = audit_grant(
        session, world, purpose="migration", fields=COMMS | {"tickets": ["subject", "opened_at"]}
    )
    with pytest.raises(PermissionDenied):
        grants.grant_data(session, migration_token)
    out = io.BytesIO()
    grants.export_grant(session, migration_token, fmt="zip", out=out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        names = set(archive.namelist())
        assert {"activities.json", "tickets.json", "manifest.json"} <= names and "contacts.json" not in names
        activities = json.loads(archive.read("activities.json"))
        tickets = json.loads(archive.read("tickets.json"))
    assert {row["subject"] for row in activities} == {"一月沟通", "六月底"}
    assert all(set(row) == set(COMMS["activities"]) for row in activities)
    assert [set(row) for row in tickets] == [{"subject", "opened_at"}]
    assert MARKER not in out.getvalue().decode("latin-1")
    actions = [event.payload["action"] for event in accessed(session, world.account_id)]
    assert actions == ["export"]


def test_another_account_cannot_see_or_revoke(session: Session, world: World) -> None:
    grant, _ = audit_grant(session, world)
    with pytest.raises(NotFound):
        grants.revoke_grant(session, world.other_customer, grant.id)
    with pytest.raises(NotFound):
        grants.list_grants(session, world.other_customer, world.account_id)
    with pytest.raises(NotFound):
        grants.create_grant(
            session, world.other_customer, account_id=world.account_id, grantee="x", purpose="audit",
            fields=COMMS, period_start=START, period_end=END, expires_at=later(),
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        grants.list_grants(session, world.rep, world.account_id)
    assert grants.list_grants(session, world.other_customer, world.other_account_id) == []
    # an admin may act on the customer's request
    admin_grant, _ = grants.create_grant(
        session, f.SYSTEM, account_id=world.account_id, grantee="new supplier", purpose="migration",
        fields=COMMS, period_start=START, period_end=END, expires_at=later(),
    )  # fmt: skip
    assert grants.revoke_grant(session, f.SYSTEM, admin_grant.id).revoked_at is not None


def test_narrowing_allowed_and_refused(session: Session, world: World) -> None:
    parent, token = audit_grant(session, world)
    child, child_token = grants.narrow_grant(
        session, token, grantee="KPMG junior", fields={"activities": ["subject"]},
        period_start=date(2025, 6, 1), period_end=END, expires_at=later(10),
    )  # fmt: skip
    assert child.parent_id == parent.id and child.purpose == "audit"
    data = grants.grant_data(session, child_token)
    assert data.tables["activities"][1] == [{"subject": "六月底"}]
    assert session.scalar(select(Event).where(Event.type == "portal.grant_narrowed")) is not None
    for wider, field in (
        ({"fields": {"activities": ["subject", "owner_id"]}}, "fields.activities.owner_id"),
        ({"fields": {"tickets": ["subject"]}}, "fields.tickets"),
        ({"period_start": date(2024, 12, 31)}, "period_start"),
        ({"period_end": date(2025, 7, 1)}, "period_end"),
        ({"expires_at": later(31)}, "expires_at"),
        ({"purpose": "migration"}, "purpose"),
    ):
        terms: dict[str, Any] = {
            "grantee": "wider", "fields": {"activities": ["subject"]}, "period_start": START,
            "period_end": END, "expires_at": later(5),
        } | wider  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            grants.narrow_grant(session, token, **terms)
        assert field in [error.field for error in refused.value.errors]
    # revoking the customer's grant stops everything derived from it
    grants.revoke_grant(session, world.customer, parent.id)
    with pytest.raises(NotFound):
        grants.grant_data(session, child_token)
