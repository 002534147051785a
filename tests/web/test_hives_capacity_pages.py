"""Capacity through the real application on SQLite and PostgreSQL: the capacity calendar
(who booked shown only as the viewer may know it, the resource form with 422s), a hive's
capacity panel ("reserve from plan"), the deal page's promise panel in zh and en (the
answer, its event on the timeline, refusals) and the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.db import utcnow
from pathcast.hives.promise import monday
from pathcast.hives.service import capacity
from pathcast.web.hives_capacity import load_class, parse_promise_form, parse_resource_form
from tests import factories as f
from tests.hives.test_capacity_service import World, build_world
from tests.web.test_pages import log_in

API = "/api/v1/hives"
ADMIN = f.SYSTEM


@pytest.fixture
def world(configured: str, session: Session) -> Iterator[tuple[World, dict[str, dict[str, str]]]]:
    """The service tests' world with people who can sign in (rep: Chinese UI, manager:
    English UI) and a bearer-token header per person."""
    east, west = f.team(session, "East"), f.team(session, "West")
    people = {
        "rep": f.user(session, "rep@example.com", team_obj=east),
        "manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
        "west_rep": f.user(session, "west@example.com", team_obj=west),
        "planner": f.user(session, "planner@example.com", role=Role.member),
        "outsider": f.user(session, "outsider@example.com", role=Role.member),
        "admin": f.user(session, "admin@example.com", role=Role.admin),
    }
    auth_service.update_user(session, actor=ADMIN, user=people["manager"], changes={"locale": "en"})
    built = build_world(session, people, start=utcnow().date(), now=utcnow())
    headers: dict[str, dict[str, str]] = {}
    for key, person in people.items():
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    yield built, headers


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return log_in(client, email)


HTMX = {"HX-Request": "true"}


# --- parsing (no database) ----------------------------------------------------------------------


@given(st.dictionaries(st.sampled_from(["name", "kind", "skill", "capacity_per_week"]), st.text()))
def test_any_resource_form_parses_without_crashing(form: dict[str, str]) -> None:
    data, errors = parse_resource_form(form)
    assert {e.field for e in errors} <= {"capacity_per_week"}
    assert "capacity_per_week" in data or errors


@given(st.dictionaries(st.sampled_from(["template", "requested_date", "start_date"]), st.text()))
def test_any_promise_form_parses_without_crashing(form: dict[str, str]) -> None:
    data, errors = parse_promise_form(form)
    assert {e.field for e in errors} <= {"requested_date", "start_date"}
    assert data["template"]


def test_load_classes() -> None:
    assert [load_class(x) for x in (0, 0.3, 0.7, 0.9, 1.0, 1.5)] == [
        "load-0", "load-1", "load-2", "load-3", "load-3", "load-4"]  # fmt: skip


# --- the calendar -------------------------------------------------------------------------------


def test_calendar_names_who_booked_only_for_those_who_may_know(
    client: TestClient, world: Any, session: Session
) -> None:
    built: World = world[0]
    week = monday(utcnow().date())
    capacity.reserve(session, built.manager, resource_id=built.lines[0], week_start=week, units=57,
                     opportunity_id=built.deal)  # fmt: skip
    session.commit()
    sign_in(client, "rep@example.com")
    page = client.get("/hives/capacity")
    assert page.status_code == 200 and "产能日历" in page.text
    assert "精工 二号线升级: 57.0" in page.text and "load-3" in page.text
    assert 'data-testid="resource-add-form"' not in page.text  # reps read
    sign_in(client, "planner@example.com")
    hidden = client.get("/hives/capacity").text
    assert "精工 二号线升级" not in hidden and "某个商机: 57.0" in hidden


def test_manager_adds_a_resource_and_bad_input_comes_back_422(client: TestClient, world: Any) -> None:
    token = sign_in(client, "manager@example.com")
    page = client.get("/hives/capacity")
    assert "Capacity calendar" in page.text and 'data-testid="resource-add-form"' in page.text
    added = client.post("/hives/capacity/resources", follow_redirects=False,
                        data={"csrf_token": token, "name": "Paint shop", "kind": "line", "skill": "painting",
                              "capacity_per_week": "25"})  # fmt: skip
    assert added.status_code == 303 and added.headers["location"].startswith("/hives/capacity#resource-")
    assert "Paint shop" in client.get("/hives/capacity").text
    refused = client.post("/hives/capacity/resources",
                          data={"csrf_token": token, "name": "Paint shop", "kind": "line", "skill": "x",
                                "capacity_per_week": "lots"})  # fmt: skip
    assert refused.status_code == 422 and 'data-testid="error-capacity_per_week"' in refused.text
    assert 'value="lots"' in refused.text
    taken = client.post("/hives/capacity/resources",
                        data={"csrf_token": token, "name": "Paint shop", "kind": "line", "skill": "x",
                              "capacity_per_week": "3"})  # fmt: skip
    assert taken.status_code == 422 and "already exists" in taken.text


def test_calendar_refusals(client: TestClient, world: Any) -> None:
    token = sign_in(client, "rep@example.com")
    assert client.post("/hives/capacity/resources", data={"csrf_token": token, "name": "x", "kind": "line",
                                                           "skill": "s", "capacity_per_week": "1"}).status_code == 403  # fmt: skip
    sign_in(client, "manager@example.com")
    assert (
        client.post("/hives/capacity/resources", data={"csrf_token": "forged", "name": "x"}).status_code
        == 403
    )


# --- the hive's capacity panel ------------------------------------------------------------------


def test_planner_reserves_the_hive_plan_from_its_panel(client: TestClient, world: Any) -> None:
    built: World = world[0]
    token = sign_in(client, "planner@example.com")
    panel = client.get(f"/hives/{built.hive}/capacity-panel")
    assert panel.status_code == 200 and 'data-testid="no-reservations"' in panel.text
    assert 'data-testid="reserve-from-plan"' in panel.text
    reserved = client.post(
        f"/hives/{built.hive}/capacity-panel/reserve", data={"csrf_token": token}, headers=HTMX
    )
    assert reserved.status_code == 200 and reserved.text.count('data-testid="hive-reservation"') >= 6
    plain = client.post(
        f"/hives/{built.hive}/capacity-panel/reserve", data={"csrf_token": token}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == f"/hives/{built.hive}#capacity-panel"


def test_capacity_panel_refusals(client: TestClient, world: Any) -> None:
    built: World = world[0]
    token = sign_in(client, "outsider@example.com")
    assert client.get(f"/hives/{built.hive}/capacity-panel").status_code == 404
    assert (
        client.post(f"/hives/{built.hive}/capacity-panel/reserve", data={"csrf_token": token}).status_code
        == 404
    )
    token = sign_in(client, "rep@example.com")
    panel = client.get(f"/hives/{built.hive}/capacity-panel")
    assert panel.status_code == 200 and 'data-testid="reserve-from-plan"' not in panel.text
    assert (
        client.post(f"/hives/{built.hive}/capacity-panel/reserve", data={"csrf_token": token}).status_code
        == 403
    )


# --- the deal page's promise panel --------------------------------------------------------------


def test_rep_checks_the_promise_and_the_deal_timeline_shows_it(
    client: TestClient, world: Any, session: Session
) -> None:
    built: World = world[0]
    week = monday(utcnow().date())
    for w in range(8):  # the lines are nearly full for two months: manufacturing must wait
        for line in built.lines:
            capacity.reserve(session, ADMIN, resource_id=line, week_start=week + timedelta(weeks=w), units=50,
                             note="出口订单 export order")  # fmt: skip
    session.commit()
    token = sign_in(client, "rep@example.com")
    deal_page = client.get(f"/opportunities/{built.deal}")
    assert f'hx-get="/opportunities/{built.deal}/promise-panel"' in deal_page.text
    form = client.get(f"/opportunities/{built.deal}/promise-panel")
    assert (
        form.status_code == 200
        and "我们能承诺什么" in form.text
        and 'data-testid="promise-answer"' not in form.text
    )
    requested = (utcnow().date() + timedelta(days=50)).isoformat()
    answer = client.post(f"/opportunities/{built.deal}/promise-panel", headers=HTMX,
                         data={"csrf_token": token, "template": "line_upgrade", "requested_date": requested})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert "最早可承诺交付日期" in answer.text and 'data-testid="promise-bottleneck"' in answer.text
    assert (
        "生产制造" in answer.text
        and "assembly_line" in answer.text
        and "出口订单 export order" in answer.text
    )
    assert 'data-testid="promise-misses"' in answer.text and 'data-testid="promise-move"' in answer.text
    assert answer.text.count('data-testid="promise-step"') == 8 and "一号装配线 Line 1" in answer.text
    timeline = client.get(f"/opportunities/{built.deal}").text
    assert "已检查交付承诺" in timeline
    # a later visit shows the latest answer and the history
    again = client.get(f"/opportunities/{built.deal}/promise-panel").text
    assert 'data-fresh="false"' in again and 'data-testid="promise-history"' in again


def test_promise_panel_in_english_and_its_refusals(client: TestClient, world: Any) -> None:
    built: World = world[0]
    token = sign_in(client, "manager@example.com")
    done = client.post(
        f"/opportunities/{built.deal}/promise-panel", data={"csrf_token": token}, follow_redirects=False
    )
    assert (
        done.status_code == 303 and done.headers["location"] == f"/opportunities/{built.deal}#promise-panel"
    )
    shown = client.get(f"/opportunities/{built.deal}/promise-panel").text
    assert "Earliest date we can promise" in shown and 'data-testid="promise-no-bottleneck"' in shown
    bad = client.post(f"/opportunities/{built.deal}/promise-panel", headers=HTMX,
                      data={"csrf_token": token, "requested_date": "someday", "start_date": "2026-02-30"})  # fmt: skip
    assert bad.status_code == 422 and 'value="someday"' in bad.text
    assert 'data-testid="error-requested_date"' in bad.text and 'data-testid="error-start_date"' in bad.text
    early = client.post(f"/opportunities/{built.deal}/promise-panel", headers=HTMX,
                        data={"csrf_token": token, "requested_date": "2020-01-01"})  # fmt: skip
    assert early.status_code == 422 and "on or after the start" in early.text
    token = sign_in(client, "planner@example.com")
    assert client.get(f"/opportunities/{built.deal}/promise-panel").status_code == 403
    assert (
        client.post(f"/opportunities/{built.deal}/promise-panel", data={"csrf_token": token}).status_code
        == 403
    )
    token = sign_in(client, "west@example.com")
    assert client.get(f"/opportunities/{built.deal}/promise-panel").status_code == 404
    assert (
        client.post(f"/opportunities/{built.deal}/promise-panel", data={"csrf_token": token}).status_code
        == 404
    )


# --- the API ------------------------------------------------------------------------------------


def test_api_resources_reservations_calendar_and_promise(client: TestClient, world: Any) -> None:
    built, headers = world
    listed = client.get(f"{API}/resources", headers=headers["rep"])
    assert listed.status_code == 200 and len(listed.json()) == 4
    made = client.post(f"{API}/resources", headers=headers["planner"],
                       json={"name": "Crane", "kind": "team", "skill": "crane", "capacity_per_week": 2})  # fmt: skip
    assert made.status_code == 201 and made.json()["skill"] == "crane"
    assert client.post(f"{API}/resources", headers=headers["rep"],
                       json={"name": "X", "kind": "team", "skill": "x", "capacity_per_week": 2}).status_code == 403  # fmt: skip
    patched = client.patch(
        f"{API}/resources/{made.json()['id']}", headers=headers["manager"], json={"capacity_per_week": 3}
    )
    assert patched.status_code == 200 and patched.json()["capacity_per_week"] == 3
    week = monday(utcnow().date()).isoformat()
    booked = client.post(f"{API}/reservations", headers=headers["manager"],
                         json={"resource_id": built.logistics, "week_start": week, "units": 2, "opportunity_id": built.deal})  # fmt: skip
    assert booked.status_code == 201 and booked.json()["holder_label"] == "精工 二号线升级"
    over = client.post(f"{API}/reservations", headers=headers["manager"],
                       json={"resource_id": built.logistics, "week_start": week, "units": 2})  # fmt: skip
    assert over.status_code == 422
    assert "only 1.0 units free" in over.text or "只剩 1.0 单位" in over.text
    seen = client.get(f"{API}/reservations", headers=headers["planner"]).json()
    assert seen[0]["holder"] == "deal" and seen[0]["opportunity_id"] is None and seen[0]["holder_label"] == ""
    calendar = client.get(f"{API}/capacity?weeks=2", headers=headers["rep"]).json()
    assert len(calendar["weeks"]) == 2 and len(calendar["rows"]) == 5
    assert client.get(f"{API}/capacity?weeks=0", headers=headers["rep"]).status_code == 422
    promise = client.post(
        f"{API}/promise",
        headers=headers["rep"],
        json={"opportunity_id": built.deal, "template": "line_upgrade"},
    )
    assert promise.status_code == 200 and promise.json()["earliest_date"] is not None
    assert (
        client.post(
            f"{API}/promise", headers=headers["planner"], json={"opportunity_id": built.deal}
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{API}/promise", headers=headers["west_rep"], json={"opportunity_id": built.deal}
        ).status_code
        == 404
    )
    assert (
        client.delete(f"{API}/reservations/{booked.json()['id']}", headers=headers["planner"]).status_code
        == 404
    )
    assert (
        client.delete(f"{API}/reservations/{booked.json()['id']}", headers=headers["manager"]).status_code
        == 204
    )
    plan = client.post(f"{API}/{built.hive}/reservations/from-plan", headers=headers["planner"])
    assert plan.status_code == 200 and all(r["hive_id"] == built.hive for r in plan.json())
    assert (
        client.post(f"{API}/{built.hive}/reservations/from-plan", headers=headers["outsider"]).status_code
        == 404
    )
