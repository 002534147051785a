"""The delivery board through the real application on SQLite and PostgreSQL: the board,
timeline and risks panels of a hive in zh and en (404 for a hive the viewer may not read),
their forms (htmx and plain posts, 422 with values kept and the message beside the field, a
cycle named), the my-tasks page, and the API (/api/v1/hives/…/tasks, dependencies, board,
timeline, risks, decisions, requests, my-tasks)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.errors import FieldError
from pathcast.hives.service import board, collab
from pathcast.web.hives_board_forms import whole
from tests import factories as f
from tests.hives.test_board_service import START, World, build_world
from tests.web.test_pages import log_in

API = "/api/v1/hives"
ADMIN = f.SYSTEM
HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(
    configured: str, session: Session
) -> Iterator[tuple[World, dict[str, dict[str, str]], dict[str, int]]]:
    """The service world with people who can sign in (rep: Chinese UI, delivery: English UI),
    a bearer-token header per person, and a small plan: build → ship, and training."""
    east = f.team(session, "East")
    people = {
        "rep": f.user(session, "rep@example.com", team_obj=east),
        "delivery": f.user(session, "delivery@example.com", role=Role.member),
        "logistics": f.user(session, "logistics@example.com", role=Role.member),
        "outsider": f.user(session, "outsider@example.com", role=Role.member),
    }
    auth_service.update_user(session, actor=ADMIN, user=people["delivery"], changes={"locale": "en"})
    built = build_world(session, people)
    today = date.today()
    build = board.add_task(
        session, built.delivery, hive_id=built.hive_id, name="生产 Build", planned_start=today, duration_days=10,
        owner_id=built.delivery.user_id,
    )  # fmt: skip
    ship = board.add_task(
        session, built.delivery, hive_id=built.hive_id, name="发货 Ship", planned_start=today + timedelta(days=10),
        duration_days=5, owner_id=built.logistics.user_id, depends_on=[build.id],
    )  # fmt: skip
    side = board.add_task(
        session,
        built.delivery,
        hive_id=built.hive_id,
        name="培训 Training",
        planned_start=today,
        duration_days=2,
    )
    headers: dict[str, dict[str, str]] = {}
    for key, person in people.items():
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    yield built, headers, {"build": build.id, "ship": ship.id, "side": side.id}


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return log_in(client, email)


def column_of(html: str, task_id: int) -> str:
    """The board column a card sits in."""
    columns = re.split(r'data-testid="column-', html)[1:]
    for column in columns:
        if f'data-task-id="{task_id}"' in column:
            return column.split('"', 1)[0]
    return ""


# --- parsing (no database) --------------------------------------------------------------------


@given(st.text(max_size=30))
def test_any_typed_number_parses_without_crashing(text: str) -> None:
    errors: list[FieldError] = []
    value = whole(text, "owner_id", errors)
    assert (value is None) or (value >= 0 and not errors)
    assert all(error.field == "owner_id" for error in errors)


# --- the board panel --------------------------------------------------------------------------


def test_the_board_panel_in_both_languages(
    client: TestClient, world: tuple[World, dict, dict[str, int]]
) -> None:
    built, _headers, ids = world
    sign_in(client, "rep@example.com")
    zh = client.get(f"/hives/{built.hive_id}/board-panel")
    assert zh.status_code == 200, zh.text
    assert 'id="board-panel"' in zh.text and "看板" in zh.text and "待办" in zh.text
    assert column_of(zh.text, ids["build"]) == "todo"
    assert zh.text.count('data-testid="critical-badge"') == 2  # build and ship
    sign_in(client, "delivery@example.com")
    en = client.get(f"/hives/{built.hive_id}/board-panel")
    assert en.status_code == 200 and "Board" in en.text and "To do" in en.text and "Critical" in en.text


def test_board_forms_add_move_and_refuse(
    client: TestClient, world: tuple[World, dict, dict[str, int]]
) -> None:
    built, _headers, ids = world
    token = sign_in(client, "delivery@example.com")
    base = f"/hives/{built.hive_id}/board-panel"
    added = client.post(
        f"{base}/tasks",
        data={"csrf_token": token, "name": "安装 Install", "planned_start": START.isoformat(), "duration_days": "3",
              "depends_on": str(ids["ship"]), "owner_id": "", "kind": "task", "due_date": ""},
        headers=HTMX,
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert "安装 Install" in added.text and 'id="board-panel"' in added.text
    plain = client.post(
        f"{base}/tasks",
        data={"csrf_token": token, "name": "Docs", "planned_start": "", "duration_days": "1"},
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == f"/hives/{built.hive_id}#board-panel"
    refused = client.post(
        f"{base}/tasks",
        data={"csrf_token": token, "name": "Keep me", "planned_start": "31/31/2025", "duration_days": "many"},
        headers=HTMX,
    )
    assert refused.status_code == 422
    assert 'value="Keep me"' in refused.text
    assert (
        'data-testid="error-planned_start"' in refused.text
        and 'data-testid="error-duration_days"' in refused.text
    )

    moved = client.post(
        f"{base}/tasks/{ids['build']}/status", data={"csrf_token": token, "status": "doing"}, headers=HTMX
    )
    assert moved.status_code == 200 and column_of(moved.text, ids["build"]) == "doing"
    wrong = client.post(
        f"{base}/tasks/{ids['side']}/status", data={"csrf_token": token, "status": "done"}, headers=HTMX
    )
    assert wrong.status_code == 422 and 'data-testid="status-error"' in wrong.text

    cycle = client.post(
        f"{base}/dependencies",
        data={"csrf_token": token, "task_id": str(ids["build"]), "depends_on": str(ids["ship"])},
        headers=HTMX,
    )
    assert cycle.status_code == 422
    assert "cycle" in cycle.text and "生产 Build" in cycle.text and "发货 Ship" in cycle.text
    linked = client.post(
        f"{base}/dependencies",
        data={"csrf_token": token, "task_id": str(ids["side"]), "depends_on": str(ids["build"])},
        headers=HTMX,
    )
    assert linked.status_code == 200
    no_csrf = client.post(f"{base}/tasks", data={"name": "x"}, headers=HTMX)
    assert no_csrf.status_code == 403


def test_panels_are_404_for_a_hive_the_viewer_may_not_read(
    client: TestClient, world: tuple[World, dict, dict[str, int]]
) -> None:
    built, _headers, ids = world
    token = sign_in(client, "outsider@example.com")
    for panel in ("board-panel", "timeline-panel", "risks-panel"):
        assert client.get(f"/hives/{built.hive_id}/{panel}").status_code == 404
    moved = client.post(
        f"/hives/{built.hive_id}/board-panel/tasks/{ids['build']}/status",
        data={"csrf_token": token, "status": "doing"},
    )
    assert moved.status_code == 404
    assert client.get(f"/hives/{built.other_hive_id}/board-panel").status_code == 200


# --- the timeline panel -----------------------------------------------------------------------


def test_the_timeline_panel_shows_the_critical_path(
    client: TestClient, world: tuple[World, dict, dict[str, int]]
) -> None:
    built, _headers, ids = world
    sign_in(client, "rep@example.com")
    page = client.get(f"/hives/{built.hive_id}/timeline-panel")
    assert page.status_code == 200
    assert "关键路径" in page.text and "生产 Build → 发货 Ship" in page.text
    found = re.search(
        r'<script type="application/json" id="hive-gantt-data-\d+">(.*?)</script>', page.text, re.S
    )
    assert found is not None
    data = json.loads(found.group(1))
    rows = {row["id"]: row for row in data["rows"]}
    assert rows[ids["ship"]]["critical"] and not rows[ids["side"]]["critical"]
    assert [ids["build"], ids["ship"]] in data["links"]
    assert data["promised"] is not None and data["today"] == date.today().isoformat()
    assert page.text.count('data-testid="timeline-row"') == 3
    sign_in(client, "delivery@example.com")
    assert "Critical path" in client.get(f"/hives/{built.hive_id}/timeline-panel").text


# --- the risks panel --------------------------------------------------------------------------


def test_risks_decisions_and_requests_in_the_panel(
    client: TestClient, session: Session, world: tuple[World, dict, dict[str, int]]
) -> None:
    built, _headers, _ids = world
    token = sign_in(client, "delivery@example.com")
    base = f"/hives/{built.hive_id}/risks-panel"
    opened = client.post(
        f"{base}/risks",
        data={"csrf_token": token, "title": "Steel arrives late", "function": "logistics"},
        headers=HTMX,
    )
    assert opened.status_code == 200 and "Steel arrives late" in opened.text
    assert 'data-testid="uncovered"' in opened.text  # no logistics owner yet
    refused = client.post(
        f"{base}/risks", data={"csrf_token": token, "title": "", "function": "chef"}, headers=HTMX
    )
    assert refused.status_code == 422 and 'data-testid="error-title"' in refused.text
    decided = client.post(
        f"{base}/decisions", data={"csrf_token": token, "text": "Ship in two lots"}, headers=HTMX
    )
    assert decided.status_code == 200 and "Ship in two lots" in decided.text
    asked = client.post(
        f"{base}/requests",
        data={
            "csrf_token": token,
            "to_user_id": str(built.logistics.user_id),
            "text": "Can we ship on the 12th?",
        },
        headers=HTMX,
    )
    assert asked.status_code == 200 and 'data-testid="request-waiting"' in asked.text
    request_id = collab.requests_to(session, built.logistics)[0].id
    session.rollback()  # end the read: SQLite would hold the app's writes behind it
    not_mine = client.post(f"{base}/requests/{request_id}/answer", data={"csrf_token": token, "text": "yes"})
    assert not_mine.status_code == 403

    token = sign_in(client, "logistics@example.com")
    panel = client.get(base)
    assert panel.status_code == 200 and 'data-testid="request-to-me"' in panel.text and "风险" in panel.text
    answered = client.post(
        f"{base}/requests/{request_id}/answer", data={"csrf_token": token, "text": "可以"}, headers=HTMX
    )
    assert answered.status_code == 200 and 'data-testid="request-answered"' in answered.text
    risk_id = int(re.findall(r'data-risk-id="(\d+)"', answered.text)[0])
    assigned = client.post(
        f"{base}/risks/{risk_id}/owner",
        data={"csrf_token": token, "owner_id": str(built.logistics.user_id)},
        headers=HTMX,
    )
    assert assigned.status_code == 200 and 'data-testid="uncovered"' not in assigned.text
    closed = client.post(
        f"{base}/risks/{risk_id}/close",
        data={"csrf_token": token, "note": "改走铁路"},
        follow_redirects=False,
    )
    assert closed.status_code == 303 and closed.headers["location"].endswith("#risks-panel")


# --- my tasks ---------------------------------------------------------------------------------


def test_my_tasks_page(client: TestClient, world: tuple[World, dict, dict[str, int]]) -> None:
    _built, _headers, ids = world
    sign_in(client, "delivery@example.com")
    page = client.get("/hives/my-tasks")
    assert page.status_code == 200 and "My tasks" in page.text
    assert re.findall(r'data-testid="my-task" data-task-id="(\d+)"', page.text) == [str(ids["build"])]
    sign_in(client, "logistics@example.com")
    page = client.get("/hives/my-tasks")
    assert "我的任务" in page.text and "发货 Ship" in page.text and "生产 Build" not in page.text
    sign_in(client, "outsider@example.com")
    assert 'data-testid="no-my-tasks"' in client.get("/hives/my-tasks").text


# --- the API ----------------------------------------------------------------------------------


def test_the_board_api(client: TestClient, world: tuple[World, dict, dict[str, int]]) -> None:
    built, headers, ids = world
    delivery, logistics = headers["delivery"], headers["logistics"]
    created = client.post(
        f"{API}/{built.hive_id}/tasks",
        json={
            "name": "Install",
            "planned_start": START.isoformat(),
            "duration_days": 3,
            "depends_on": [ids["ship"]],
        },
        headers=delivery,
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["depends_on"] == [ids["ship"]] and task["critical"] is True
    changed = client.patch(f"{API}/tasks/{ids['build']}", json={"duration_days": 14}, headers=delivery)
    assert changed.status_code == 200 and changed.json()["duration_days"] == 14
    bad = client.patch(f"{API}/tasks/{ids['build']}", json={"status": "done"}, headers=delivery)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "status"
    cycle = client.post(
        f"{API}/tasks/{ids['build']}/dependencies", json={"depends_on": task["id"]}, headers=delivery
    )
    assert cycle.status_code == 422
    assert (
        "Install" in cycle.json()["errors"][0]["detail"] and cycle.json()["errors"][0]["code"] == "task_cycle"
    )
    linked = client.post(
        f"{API}/tasks/{ids['side']}/dependencies", json={"depends_on": ids["build"]}, headers=delivery
    )
    assert linked.status_code == 201 and linked.json()["depends_on"] == [ids["build"]]
    assert (
        client.delete(f"{API}/tasks/{ids['side']}/dependencies/{ids['build']}", headers=delivery).status_code
        == 204
    )

    view = client.get(f"{API}/{built.hive_id}/board", headers=logistics).json()
    assert view["critical_path"][-1] == task["id"] and len(view["tasks"]) == 4
    timeline = client.get(f"{API}/{built.hive_id}/timeline", headers=logistics).json()
    assert {"task_id": ids["ship"], "depends_on": ids["build"]} in timeline["links"]
    mine = client.get(f"{API}/my-tasks", headers=logistics).json()
    assert [row["id"] for row in mine] == [ids["ship"]]

    assert client.get(f"{API}/{built.hive_id}/board", headers=headers["outsider"]).status_code == 404
    assert (
        client.patch(
            f"{API}/tasks/{ids['build']}", json={"name": "x"}, headers=headers["outsider"]
        ).status_code
        == 404
    )
    assert client.delete(f"{API}/tasks/{task['id']}", headers=delivery).status_code == 204


def test_the_collaboration_api(client: TestClient, world: tuple[World, dict, dict[str, int]]) -> None:
    built, headers, _ids = world
    delivery, logistics = headers["delivery"], headers["logistics"]
    risk = client.post(
        f"{API}/{built.hive_id}/risks",
        json={"title": "Steel late", "function": "logistics"},
        headers=delivery,
    )
    assert risk.status_code == 201
    owner = client.patch(
        f"{API}/risks/{risk.json()['id']}", json={"owner_id": built.logistics.user_id}, headers=delivery
    )
    assert owner.status_code == 200 and owner.json()["owner_id"] == built.logistics.user_id
    closed = client.post(f"{API}/risks/{risk.json()['id']}/close", json={"note": "rail"}, headers=logistics)
    assert closed.status_code == 200 and closed.json()["closed_by"] == built.logistics.user_id
    assert (
        client.post(f"{API}/risks/{risk.json()['id']}/close", json={}, headers=logistics).status_code == 409
    )
    listed = client.get(f"{API}/{built.hive_id}/risks?include_closed=true", headers=delivery).json()
    assert any(row["id"] == risk.json()["id"] and row["status"] == "closed" for row in listed)

    decision = client.post(f"{API}/{built.hive_id}/decisions", json={"text": "Two lots"}, headers=delivery)
    assert decision.status_code == 201
    assert client.get(f"{API}/{built.hive_id}/decisions", headers=logistics).json()[0]["text"] == "Two lots"

    asked = client.post(
        f"{API}/{built.hive_id}/requests",
        json={"to_user_id": built.logistics.user_id, "text": "12th?"},
        headers=delivery,
    )
    assert asked.status_code == 201
    request_id = asked.json()["id"]
    assert [row["id"] for row in client.get(f"{API}/requests/mine", headers=logistics).json()] == [request_id]
    assert (
        client.post(f"{API}/requests/{request_id}/answer", json={"text": "yes"}, headers=delivery).status_code
        == 403
    )
    assert (
        client.post(
            f"{API}/requests/{request_id}/answer", json={"text": "yes"}, headers=headers["outsider"]
        ).status_code
        == 404
    )
    answered = client.post(f"{API}/requests/{request_id}/answer", json={"text": "yes"}, headers=logistics)
    assert answered.status_code == 200 and answered.json()["answer"] == "yes"
    assert (
        client.get(f"{API}/{built.hive_id}/requests", headers=delivery).json()[0]["answered_at"] is not None
    )
    refused = client.post(
        f"{API}/{built.hive_id}/requests",
        json={"to_user_id": built.outsider.user_id, "text": "hi"},
        headers=delivery,
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "to_user_id"
