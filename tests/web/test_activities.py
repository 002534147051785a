"""Logging calls, notes and meetings, creating and completing tasks from record pages,
on SQLite and PostgreSQL. Every one is written through crm.service, so each is an Event."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.crm import models as m
from pathcast.db import unit_of_work
from pathcast.events import Event
from tests.web.test_pages import log_in
from tests.web.test_record_pages import HTMX, World, build_world, oob_section, set_locale

CALL = {
    "kind": "call",
    "subject": "与王主任电话沟通预算",
    "occurred_at": "2026-01-15 10:30",
    "duration_minutes": "25",
    "body": "预算已获批，下周安排演示。",
}


@pytest.fixture
def world(configured: str, session: Session) -> World:
    return build_world(session)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def post(
    client: TestClient, path: str, token: str | None, data: dict[str, str] | None = None, *, htmx: bool = True
) -> httpx.Response:
    form = (data or {}) | ({"csrf_token": token} if token is not None else {})
    return client.post(path, data=form, headers=HTMX if htmx else {}, follow_redirects=False)


def activities(**where: object) -> list[m.Activity]:
    with unit_of_work(write=False) as db:
        query = select(m.Activity).order_by(m.Activity.id)
        for name, value in where.items():
            query = query.where(getattr(m.Activity, name) == value)
        return list(db.scalars(query))


def events_of(activity_id: int) -> list[Event]:
    with unit_of_work(write=False) as db:
        query = select(Event).where(Event.entity == "activity", Event.entity_id == str(activity_id))
        return list(db.scalars(query.order_by(Event.id)))


def test_logging_a_call_on_a_deal_is_an_event_and_shows_in_the_timeline(
    client: TestClient, world: World
) -> None:
    token = log_in(client)
    answer = post(client, f"/records/opportunity/{world.deal_id}/activities", token, CALL)
    assert answer.status_code == 200, answer.text
    assert 'id="activities"' in answer.text and "与王主任电话沟通预算" in answer.text
    assert "25 分钟" in answer.text and "预算已获批" in answer.text
    timeline = oob_section(answer.text, "timeline")
    assert timeline.index("记录电话") < timeline.index("创建商机") and "与王主任电话沟通预算" in timeline
    [call] = activities(kind="call")
    assert call.opportunity_id == world.deal_id and call.account_id == world.account_id
    assert call.contact_id == world.contact_id and call.owner_id == world.rep_id
    assert call.occurred_at == datetime(2026, 1, 15, 10, 30, tzinfo=UTC) and call.duration_minutes == 25
    [event] = events_of(call.id)
    assert event.type == "activity.created" and event.actor == f"user:{world.rep_id}"
    assert event.payload["after"]["subject"] == "与王主任电话沟通预算"


def test_a_note_keeps_no_duration_and_defaults_to_now(client: TestClient, world: World) -> None:
    token = log_in(client)
    note = {"kind": "note", "subject": "客户关注售后响应时间", "occurred_at": "", "duration_minutes": "30"}
    answer = post(client, f"/records/account/{world.account_id}/activities", token, note)
    assert answer.status_code == 200, answer.text
    [saved] = activities(kind="note")
    assert saved.duration_minutes is None and saved.occurred_at is not None
    assert saved.account_id == world.account_id and saved.opportunity_id is None
    assert "添加备注" in oob_section(answer.text, "timeline")


def test_a_meeting_logged_on_a_contact_links_its_account(client: TestClient, world: World) -> None:
    token = log_in(client)
    meeting = {
        "kind": "meeting",
        "subject": "科室现场演示",
        "occurred_at": "2026/2/3 09:00",
        "duration_minutes": "90",
    }
    answer = post(client, f"/records/contact/{world.contact_id}/activities", token, meeting)
    assert answer.status_code == 200, answer.text
    [saved] = activities(kind="meeting")
    assert saved.contact_id == world.contact_id and saved.account_id == world.account_id
    assert saved.occurred_at == datetime(2026, 2, 3, 9, tzinfo=UTC) and saved.duration_minutes == 90
    page = client.get(f"/contacts/{world.contact_id}")
    assert "科室现场演示" in page.text and "记录会议" in page.text


def test_bad_activity_input_is_refused_beside_its_field(client: TestClient, world: World) -> None:
    token = log_in(client)
    path = f"/records/opportunity/{world.deal_id}/activities"
    refused = post(
        client, path, token, CALL | {"subject": " ", "occurred_at": "昨天", "duration_minutes": "-3"}
    )
    assert refused.status_code == 422
    assert 'data-testid="log-subject-error"' in refused.text and "此字段为必填项" in refused.text
    assert 'data-testid="log-occurred_at-error"' in refused.text and "请输入有效的日期和时间" in refused.text
    assert 'value="昨天"' in refused.text  # what was typed stays
    kind = post(client, path, token, CALL | {"kind": "task"})
    assert kind.status_code == 422 and 'data-testid="log-kind-error"' in kind.text
    duration = post(client, path, token, CALL | {"duration_minutes": "-3"})
    assert duration.status_code == 422 and "请输入不小于 0 的值" in duration.text
    assert activities(kind="call") == []


def test_creating_a_task_and_a_bad_due_date(client: TestClient, world: World) -> None:
    token = log_in(client)
    path = f"/records/opportunity/{world.deal_id}/tasks"
    refused = post(client, path, token, {"subject": "发送报价", "due_at": "2026-13-45"})
    assert refused.status_code == 422
    assert 'data-testid="task-due_at-error"' in refused.text and "请输入有效的日期" in refused.text
    assert 'value="2026-13-45"' in refused.text
    set_locale("rep@example.com", "en")
    english = post(client, path, token, {"subject": "发送报价", "due_at": "2026-13-45"})
    assert english.status_code == 422 and "Enter a real date as YYYY-MM-DD" in english.text
    missing = post(client, path, token, {"subject": "发送报价", "due_at": ""})
    assert missing.status_code == 422 and "This field is required." in missing.text
    assert activities(subject="发送报价") == []
    created = post(client, path, token, {"subject": "发送报价", "due_at": "2026-03-31"})
    assert created.status_code == 200, created.text
    [task] = activities(subject="发送报价")
    assert task.kind == "task" and task.done_at is None
    assert task.due_at == datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert f'data-testid="complete-{task.id}"' in created.text
    assert "Task created" in oob_section(created.text, "timeline")
    assert [event.type for event in events_of(task.id)] == ["activity.created"]


def test_completing_a_task_with_one_click(client: TestClient, world: World) -> None:
    token = log_in(client)
    page = client.get(f"/opportunities/{world.deal_id}")
    assert f'data-testid="complete-{world.task_id}"' in page.text
    done = post(client, f"/records/opportunity/{world.deal_id}/activities/{world.task_id}/complete", token)
    assert done.status_code == 200, done.text
    assert f'data-testid="complete-{world.task_id}"' not in done.text
    assert "完成任务" in oob_section(done.text, "timeline")
    [task] = activities(id=world.task_id)
    assert task.done_at is not None
    types = [event.type for event in events_of(world.task_id)]
    assert types == ["activity.created", "activity.updated"]
    assert events_of(world.task_id)[-1].payload["before"] == {"done_at": None}
    # done twice is still done once
    again = post(client, f"/records/opportunity/{world.deal_id}/activities/{world.task_id}/complete", token)
    assert again.status_code == 200 and len(events_of(world.task_id)) == 2
    # the account page shows it done too
    account = client.get(f"/accounts/{world.account_id}")
    assert "回访王主任" in account.text and f'data-testid="complete-{world.task_id}"' not in account.text


def test_only_the_owner_completes_a_task_and_other_teams_see_nothing(
    client: TestClient, world: World
) -> None:
    token = log_in(client, "mate@example.com")
    page = client.get(f"/opportunities/{world.deal_id}")
    assert page.status_code == 200 and "回访王主任" in page.text
    assert f'data-testid="complete-{world.task_id}"' not in page.text
    path = f"/records/opportunity/{world.deal_id}/activities/{world.task_id}/complete"
    assert post(client, path, token).status_code == 403
    # the teammate may still log a call on a deal they can see
    assert post(client, f"/records/opportunity/{world.deal_id}/activities", token, CALL).status_code == 200
    client.post("/logout", data={"csrf_token": token})
    west = log_in(client, "west@example.com")
    assert post(client, path, west).status_code == 404
    assert post(client, f"/records/opportunity/{world.deal_id}/activities", west, CALL).status_code == 404
    assert (
        post(client, f"/records/opportunity/{world.deal_id}/tasks", west, {"subject": "x"}).status_code == 404
    )
    [task] = activities(id=world.task_id)
    assert task.done_at is None


def test_a_task_is_completed_only_from_a_record_it_belongs_to(client: TestClient, world: World) -> None:
    token = log_in(client)
    wrong = post(
        client, f"/records/contact/{world.own_contact_id}/activities/{world.task_id}/complete", token
    )
    assert wrong.status_code == 404
    assert post(client, f"/records/ticket/1/activities/{world.task_id}/complete", token).status_code == 404


def test_activity_posts_need_the_csrf_token(client: TestClient, world: World) -> None:
    log_in(client)
    base = f"/records/opportunity/{world.deal_id}"
    assert post(client, f"{base}/activities", None, CALL).status_code == 403
    assert (
        post(client, f"{base}/tasks", "forged", {"subject": "x", "due_at": "2026-03-31"}).status_code == 403
    )
    assert post(client, f"{base}/activities/{world.task_id}/complete", None).status_code == 403
    assert activities(kind="call") == [] and activities(id=world.task_id)[0].done_at is None


def test_without_htmx_an_activity_redirects_back_or_shows_its_errors(
    client: TestClient, world: World
) -> None:
    token = log_in(client)
    base = f"/records/opportunity/{world.deal_id}"
    saved = post(client, f"{base}/activities", token, CALL, htmx=False)
    assert (
        saved.status_code == 303 and saved.headers["location"] == f"/opportunities/{world.deal_id}#activities"
    )
    refused = post(client, f"{base}/tasks", token, {"subject": "x", "due_at": "2026-02-30"}, htmx=False)
    assert refused.status_code == 422 and "<html" in refused.text and "请输入有效的日期" in refused.text
