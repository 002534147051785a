"""Data requests: due dates, status changes, who sees which, and the overdue list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import events_by_type
from pathcast.portal.schemas_admin import DataRequestRead, PortalRequestRead
from pathcast.portal.service import requests
from pathcast.schemas import ExportClass, fields_of_class
from tests import factories as f


@dataclass
class World:
    admin: Actor
    rep: Actor
    customer: Actor
    other_customer: Actor
    account_id: int
    other_account_id: int


@pytest.fixture
def world(session: Session) -> World:
    account = f.account(session, name="协和医院")
    other = f.account(session, name="瑞金医院")
    return World(
        admin=f.actor(f.user(session, "admin@example.com", role=Role.admin)),
        rep=f.actor(f.user(session, "rep@example.com")),
        customer=f.actor(f.user(session, "a@a.example", role=Role.customer_contact, account_id=account.id)),
        other_customer=f.actor(
            f.user(session, "b@b.example", role=Role.customer_contact, account_id=other.id)
        ),
        account_id=account.id,
        other_account_id=other.id,
    )


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)


def test_the_customer_view_is_the_customer_visible_fields() -> None:
    assert list(PortalRequestRead.model_fields) == fields_of_class(
        DataRequestRead, ExportClass.customer_visible
    )


def test_due_thirty_days_after_receipt() -> None:
    assert requests.REQUEST_DUE_DAYS == 30
    assert requests.due_date(at(date(2026, 3, 1))) == date(2026, 3, 31)
    assert requests.due_date(at(date(2026, 12, 15))) == date(2027, 1, 14)


def test_a_customer_files_for_their_own_account(session: Session, world: World) -> None:
    filed = requests.file_request(
        session, world.customer, kind="portability", detail="全部数据 JSON", received_at=at(date(2026, 3, 1))
    )
    assert (filed.account_id, filed.status, filed.due_on) == (world.account_id, "open", date(2026, 3, 31))
    with pytest.raises(NotFound):
        requests.file_request(session, world.customer, kind="access", account_id=world.other_account_id)
    with pytest.raises(InvalidInput) as bad:
        requests.file_request(session, world.customer, kind="everything")
    assert bad.value.errors[0].field == "kind"
    with pytest.raises(InvalidInput):
        requests.file_request(session, world.customer, kind="access", detail="x" * 4001)
    with pytest.raises(PermissionDenied):
        requests.file_request(session, world.rep, kind="access", account_id=world.account_id)
    received = events_by_type(session, ["portal.request_received"])
    assert len(received) == 1
    assert received[0].payload == {
        "account_id": world.account_id,
        "kind": "portability",
        "received_at": "2026-03-01T09:30:00.000000Z",
        "due_on": "2026-03-31",
    }


def test_each_customer_sees_only_their_own_requests(session: Session, world: World) -> None:
    mine = requests.file_request(session, world.customer, kind="access")
    theirs = requests.file_request(session, world.other_customer, kind="deletion")
    assert [r.id for r in requests.list_requests(session, world.customer)] == [mine.id]
    with pytest.raises(NotFound):
        requests.get_request(session, world.customer, theirs.id)
    assert {r.id for r in requests.list_requests(session, world.admin)} == {mine.id, theirs.id}
    with pytest.raises(PermissionDenied):
        requests.list_requests(session, world.rep)


def test_only_admins_move_requests_on(session: Session, world: World) -> None:
    filed = requests.file_request(session, world.customer, kind="correction", detail="地址错误")
    theirs = requests.file_request(session, world.other_customer, kind="access")
    with pytest.raises(PermissionDenied):
        requests.change_request(session, world.customer, filed.id, status="done", resolution="self-served")
    with pytest.raises(NotFound):
        requests.change_request(session, world.customer, theirs.id, status="done", resolution="x")
    with pytest.raises(PermissionDenied):
        requests.change_request(session, world.rep, filed.id, status="in_progress")
    requests.change_request(session, world.admin, filed.id, status="in_progress")
    with pytest.raises(InvalidInput) as backwards:
        requests.change_request(session, world.admin, filed.id, status="open")
    assert backwards.value.errors[0].code == "request_transition"
    with pytest.raises(InvalidInput) as no_resolution:
        requests.change_request(session, world.admin, filed.id, status="done")
    assert no_resolution.value.errors[0].field == "resolution"
    done = requests.change_request(session, world.admin, filed.id, status="done", resolution="已更正地址")
    assert done.status == "done" and done.closed_at is not None and done.resolution == "已更正地址"
    with pytest.raises(Conflict):
        requests.change_request(session, world.admin, filed.id, status="refused", resolution="late")
    changes = events_by_type(session, ["portal.request_changed"])
    assert [(e.payload["before"]["status"], e.payload["after"]["status"]) for e in changes] == [
        ("open", "in_progress"),
        ("in_progress", "done"),
    ]


def test_overdue_is_past_due_and_not_closed(session: Session, world: World) -> None:
    today = date(2026, 6, 15)
    late = requests.file_request(session, world.customer, kind="access", received_at=at(date(2026, 5, 1)))
    due_today = requests.file_request(
        session, world.customer, kind="access", received_at=at(date(2026, 5, 16))
    )
    closed = requests.file_request(
        session, world.other_customer, kind="deletion", received_at=at(date(2026, 4, 1))
    )
    working = requests.file_request(
        session, world.other_customer, kind="access", received_at=at(date(2026, 4, 2))
    )
    requests.change_request(
        session, world.admin, closed.id, status="refused", resolution="法定保留 legal hold"
    )
    requests.change_request(session, world.admin, working.id, status="in_progress")
    assert due_today.due_on == today
    overdue = requests.list_requests(session, world.admin, overdue=True, today=today)
    assert {r.id for r in overdue} == {late.id, working.id}
    assert requests.overdue_count(session, world.admin, today=today) == 2
    assert requests.overdue_count(session, world.customer, today=today) == 1
    rows = {row.request.id: row for row in requests.admin_rows(session, world.admin, today=today)}
    assert rows[late.id].overdue and not rows[due_today.id].overdue and not rows[closed.id].overdue
    assert rows[late.id].account_name == "协和医院"
    assert requests.customer_read_of(late, today).overdue is True
    assert [r.id for r in requests.list_requests(session, world.admin, status="refused")] == [closed.id]
