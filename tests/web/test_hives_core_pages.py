"""Hives core through the real application on SQLite and PostgreSQL: the API (hives, members,
templates, with every refusal), the pages (list with its create form, the detail shell and
its panels in order, the members panel, the template editor with JSON-path errors, the
account page's panel) and the member's view: their hive and nothing of the pipeline."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.hives.service.hives import create_hive
from pathcast.web.hives import parse_create_form
from pathcast.web.hives_templates import parse_definition
from tests import factories as f
from tests.hives.test_core_service import World, build_world
from tests.web.test_pages import log_in

API = "/api/v1"
ADMIN = f.SYSTEM
PANELS = [
    "board-panel",
    "timeline-panel",
    "risks-panel",
    "members-panel",
    "capacity-panel",
    "archive-panel",
    "health-panel",
]


@pytest.fixture
def world(
    configured: str, session: Session
) -> Iterator[tuple[World, dict[str, dict[str, str]], dict[str, int]]]:
    built = build_world(session)
    hive = create_hive(session, built.rep, account_id=built.account_id, template="产线升级")
    west = create_hive(session, built.west_rep, account_id=built.west_account_id)
    headers: dict[str, dict[str, str]] = {}
    for key, person in built.users.items():
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    auth_service.update_user(session, actor=ADMIN, user=built.users["manager"], changes={"locale": "en"})
    session.commit()
    yield built, headers, {"hive": hive.id, "west": west.id}


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return log_in(client, email)


def nav_links(html: str) -> list[str]:
    nav = html.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]
    return re.findall(r'<a href="([^"]+)"', nav)


# --- parsing (no database) --------------------------------------------------------------------


def test_parsing_the_forms() -> None:
    data, errors = parse_create_form(
        {"account_id": "12", "promised_date": "2026/3/31", "template": " line_upgrade "}
    )
    assert data["account_id"] == 12 and str(data["promised_date"]) == "2026-03-31" and not errors
    assert data["template"] == "line_upgrade"
    _, errors = parse_create_form({"account_id": "x", "start_date": "soon"})
    assert {error.field for error in errors} == {"account_id", "start_date"}
    assert parse_definition('{"milestones": []}') == ({"milestones": []}, None)
    _, problem = parse_definition('{"milestones": [}')
    assert problem is not None and problem.code == "json" and problem.params["line"] == 1
    _, problem = parse_definition("[1, 2]")
    assert problem is not None and problem.code == "json_object"


@given(
    st.dictionaries(
        st.sampled_from(["account_id", "template", "name", "start_date", "promised_date"]), st.text()
    )
)
def test_the_create_form_never_raises(form: dict[str, str]) -> None:
    data, errors = parse_create_form(form)
    assert (data["account_id"] is None) == any(error.field == "account_id" for error in errors)
    for name in ("start_date", "promised_date"):
        assert data[name] is None or any(error.field == name for error in errors) is False


@given(st.text())
def test_a_definition_parses_or_names_its_problem(text: str) -> None:
    parsed, problem = parse_definition(text)
    assert (parsed is None) != (problem is None)
    if problem is not None:
        assert problem.field == "definition" and problem.code in ("json", "json_object")


# --- the API ----------------------------------------------------------------------------------


def test_api_crud_and_refusals(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]], dict[str, int]]
) -> None:
    built, headers, ids = world
    rep, member = headers["rep"], headers["delivery"]
    created = client.post(
        f"{API}/hives",
        json={
            "account_id": built.account_id,
            "template": "line_upgrade",
            "promised_date": "2099-01-01",
            "members": [{"user_id": built.outsider.user_id, "function": "quality"}],
        },
        headers=rep,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["counts"]["milestones"] == 8 and body["status"] in ("forming", "active")
    assert {"user_id": built.outsider.user_id, "function": "quality"}.items() <= next(
        member for member in body["members"] if member["user_id"] == built.outsider.user_id
    ).items()
    new_id = body["id"]
    listed = client.get(f"{API}/hives", params={"account_id": built.account_id}, headers=rep).json()
    assert {row["id"] for row in listed} == {ids["hive"], new_id}
    assert client.get(f"{API}/hives", params={"status": "bogus"}, headers=rep).status_code == 422
    one = client.get(f"{API}/hives/{ids['hive']}", headers=member)
    assert one.status_code == 200 and one.json()["members"]
    patched = client.patch(f"{API}/hives/{new_id}", json={"name": "改名", "promised_date": None}, headers=rep)
    assert (
        patched.status_code == 200
        and patched.json()["name"] == "改名"
        and patched.json()["promised_date"] is None
    )
    bad = client.patch(f"{API}/hives/{new_id}", json={"promised_date": "2000-01-01"}, headers=rep)
    assert bad.status_code == 422 and "promised_date" in bad.text
    # members: add, list, remove
    added = client.post(
        f"{API}/hives/{ids['hive']}/members",
        json={"user_id": built.outsider.user_id, "function": "quality"},
        headers=rep,
    )
    assert added.status_code == 201 and added.json()["function"] == "quality"
    again = client.post(
        f"{API}/hives/{ids['hive']}/members",
        json={"user_id": built.outsider.user_id, "function": "quality"},
        headers=rep,
    )
    assert again.status_code == 200
    assert (
        client.delete(f"{API}/hives/{ids['hive']}/members/{built.outsider.user_id}", headers=rep).status_code
        == 204
    )
    assert (
        client.delete(f"{API}/hives/{ids['hive']}/members/{built.outsider.user_id}", headers=rep).status_code
        == 404
    )
    # a member: reads their hive, nothing else; may not create, patch or manage members
    # (the template invited the delivery member to the new hive too)
    assert {row["id"] for row in client.get(f"{API}/hives", headers=member).json()} == {ids["hive"], new_id}
    assert client.get(f"{API}/hives/{ids['west']}", headers=member).status_code == 404
    assert client.get(f"{API}/hives/{ids['hive']}", headers=headers["outsider"]).status_code == 404
    assert (
        client.post(f"{API}/hives", json={"account_id": built.account_id}, headers=member).status_code == 403
    )
    assert client.patch(f"{API}/hives/{ids['hive']}", json={"name": "x"}, headers=member).status_code == 403
    refused = client.post(
        f"{API}/hives/{ids['hive']}/members",
        json={"user_id": built.outsider.user_id, "function": "quality"},
        headers=member,
    )
    assert refused.status_code == 403
    assert client.get(f"{API}/hives/{ids['hive']}", headers=headers["west_rep"]).status_code == 404
    assert client.get(f"{API}/opportunities", headers=member).status_code == 403
    unknown = client.post(
        f"{API}/hives", json={"account_id": built.account_id, "template": "nope"}, headers=rep
    )
    assert unknown.status_code == 422 and "template" in unknown.text


def test_api_templates(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]], dict[str, int]]
) -> None:
    _, headers, _ = world
    listed = client.get(f"{API}/hives/templates", headers=headers["delivery"])
    assert listed.status_code == 200 and [row["key"] for row in listed.json()] == ["line_upgrade"]
    template_id = listed.json()[0]["id"]
    definition = {
        "milestones": [{"key": "a", "name_zh": "甲", "name_en": "A", "offset_days": 0, "duration_days": 1}]
    }
    body = {"key": "tiny", "name_zh": "小", "name_en": "Tiny", "definition": definition}
    assert client.post(f"{API}/hives/templates", json=body, headers=headers["manager"]).status_code == 403
    made = client.post(f"{API}/hives/templates", json=body, headers=headers["admin"])
    assert made.status_code == 201 and made.json()["key"] == "tiny"
    assert client.post(f"{API}/hives/templates", json=body, headers=headers["admin"]).status_code == 409
    broken = {**body, "definition": {"milestones": [{**definition["milestones"][0], "offset_days": -1}]}}
    refused = client.put(f"{API}/hives/templates/{made.json()['id']}", json=broken, headers=headers["admin"])
    assert refused.status_code == 422 and "definition.milestones.0.offset_days" in refused.text
    assert client.get(f"{API}/hives/templates/{template_id}", headers=headers["rep"]).status_code == 200
    assert client.get(f"{API}/hives/templates/999999", headers=headers["rep"]).status_code == 404


# --- the pages --------------------------------------------------------------------------------


def test_a_member_sees_their_hive_and_nothing_of_the_pipeline(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]], dict[str, int]]
) -> None:
    _, _, ids = world
    sign_in(client, "delivery@example.com")
    page = client.get("/hives")
    assert page.status_code == 200
    assert re.findall(r'data-testid="hive-row" data-id="(\d+)"', page.text) == [str(ids["hive"])]
    assert 'data-testid="hive-create"' not in page.text
    links = nav_links(page.text)
    assert "/hives" in links
    assert not {"/opportunities", "/board", "/forecast", "/activities", "/radar", "/rules", "/signals"} & set(
        links
    )
    assert client.get(f"/hives/{ids['west']}").status_code == 404
    for path in ("/opportunities", "/board", "/forecast"):
        refused = client.get(path)
        assert refused.status_code in (403, 404), path
        # the error page's navigation does not offer the pipeline either
        assert "/opportunities" not in nav_links(refused.text)
    detail = client.get(f"/hives/{ids['hive']}")
    assert detail.status_code == 200
    panel = client.get(f"/hives/{ids['hive']}/members-panel")
    assert panel.status_code == 200 and 'data-testid="member-add-form"' not in panel.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', detail.text)
    assert csrf is not None
    posted = client.post(
        f"/hives/{ids['hive']}/members",
        data={"csrf_token": csrf.group(1), "user_id": "1", "function": "sales"},
    )
    assert posted.status_code == 403
    assert client.post("/hives", data={"csrf_token": csrf.group(1), "account_id": ""}).status_code == 403


def test_list_create_detail_and_members_panel(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]], dict[str, int]]
) -> None:
    built, _, ids = world
    token = sign_in(client, "rep@example.com")
    page = client.get("/hives")
    assert (
        page.status_code == 200 and "任务蜂巢" in page.text and 'data-testid="hive-create-form"' in page.text
    )
    refused = client.post(
        "/hives",
        data={
            "csrf_token": token,
            "account_id": str(built.account_id),
            "template": "line_upgrade",
            "promised_date": "2000-01-01",
            "name": "我的蜂巢",
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="error-promised_date"' in refused.text and 'value="我的蜂巢"' in refused.text
    missing = client.post("/hives", data={"csrf_token": token, "account_id": ""})
    assert missing.status_code == 422 and 'data-testid="error-account_id"' in missing.text
    made = client.post(
        "/hives",
        data={
            "csrf_token": token,
            "account_id": str(built.account_id),
            "template": "line_upgrade",
            "promised_date": "2099-12-31",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"].startswith("/hives/")
    detail = client.get(f"/hives/{ids['hive']}")
    assert detail.status_code == 200 and 'data-testid="hive-account"' in detail.text
    order = re.findall(r'<div id="([a-z-]+-panel)" hx-get="/hives/\d+/[a-z-]+-panel"', detail.text)
    assert order == PANELS
    panel = client.get(f"/hives/{ids['hive']}/members-panel")
    assert panel.status_code == 200 and 'id="members-panel"' in panel.text and "交付" in panel.text
    bad = client.post(
        f"/hives/{ids['hive']}/members",
        data={"csrf_token": token, "user_id": "", "function": "quality"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and 'data-testid="error-user_id"' in bad.text
    added = client.post(
        f"/hives/{ids['hive']}/members",
        data={"csrf_token": token, "user_id": str(built.outsider.user_id), "function": "quality"},
        headers={"HX-Request": "true"},
    )
    assert (
        added.status_code == 200
        and f'data-user="{built.outsider.user_id}" data-function="quality"' in added.text
    )
    removed = client.post(
        f"/hives/{ids['hive']}/members/{built.outsider.user_id}/remove",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert removed.status_code == 303 and removed.headers["location"].endswith("#members-panel")
    assert client.get(f"/hives/{ids['west']}").status_code == 404
    assert client.get(f"/hives/{ids['west']}/members-panel").status_code == 404
    account = client.get(f"/accounts/{built.account_id}")
    assert f'hx-get="/accounts/{built.account_id}/hives-panel"' in account.text
    hives_panel = client.get(f"/accounts/{built.account_id}/hives-panel")
    assert f'data-testid="account-hive" data-id="{ids["hive"]}"' in hives_panel.text


def test_the_template_editor(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]], dict[str, int]]
) -> None:
    _, _, _ = world
    token = sign_in(client, "manager@example.com")
    page = client.get("/hives/templates")
    assert page.status_code == 200 and 'data-testid="templates-readonly"' in page.text
    assert 'data-testid="milestone-row"' in page.text and "Manufacturing" in page.text
    assert (
        client.post(
            "/hives/templates",
            data={"csrf_token": token, "key": "x", "name_zh": "x", "name_en": "x", "definition": "{}"},
        ).status_code
        == 403
    )
    token = sign_in(client, "admin@example.com")
    syntax = client.post(
        "/hives/templates",
        data={
            "csrf_token": token,
            "key": "tiny",
            "name_zh": "小",
            "name_en": "Tiny",
            "definition": '{"milestones": [',
        },
    )
    assert syntax.status_code == 422 and "第 1 行" in syntax.text and 'value="tiny"' in syntax.text
    wrong = client.post(
        "/hives/templates",
        data={
            "csrf_token": token,
            "key": "tiny",
            "name_zh": "小",
            "name_en": "Tiny",
            "definition": '{"milestones": [{"key": "a", "name_zh": "甲", "name_en": "A", "offset_days": -2, "duration_days": 1}]}',
        },
    )
    assert wrong.status_code == 422
    assert re.findall(r'data-testid="error-path">([^<]+)<', wrong.text) == [
        "definition.milestones.0.offset_days"
    ]
    good = client.post(
        "/hives/templates",
        data={
            "csrf_token": token,
            "key": "tiny",
            "name_zh": "小",
            "name_en": "Tiny",
            "definition": '{"milestones": [{"key": "a", "name_zh": "甲", "name_en": "A", "offset_days": 0, "duration_days": 1}]}',
        },
        follow_redirects=False,
    )
    assert good.status_code == 303 and "#template-" in good.headers["location"]
    assert 'data-testid="template-tiny"' in client.get("/hives/templates").text
