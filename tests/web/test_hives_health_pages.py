"""Hive health through the real application on SQLite and PostgreSQL: the health panel in
zh and en (score, components, busy-not-moving banner, contribution without message counts,
the heatmap data), knowledge forms (422 with values kept), the overview and OKR pages, the
API (/api/v1/hives/{id}/health, …/contribution, /overview, /okrs, knowledge), and every
refusal (a hive the viewer may not read is a 404, OKRs are for managers)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.hives.service import health
from pathcast.web.hives_health import parse_target
from tests import factories as f
from tests.hives.test_health_service import NOW, World, build_world
from tests.web.test_pages import log_in

API = "/api/v1/hives"
ADMIN = f.SYSTEM


@pytest.fixture
def world(configured: str, session: Session) -> Iterator[tuple[World, dict[str, dict[str, str]]]]:
    """The service tests' world with people who can sign in (the planner reads Chinese,
    the manager English), health computed, and a bearer-token header per person."""
    east, west = f.team(session, "East"), f.team(session, "West")
    people = {
        "manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
        "rep": f.user(session, "rep@example.com", team_obj=east),
        "west_manager": f.user(session, "west@example.com", role=Role.manager, team_obj=west),
        "planner": f.user(session, "planner@example.com", role=Role.member),
        "logistics": f.user(session, "logistics@example.com", role=Role.member),
        "installer": f.user(session, "installer@example.com", role=Role.member),
        "csm": f.user(session, "csm@example.com", role=Role.member),
        "outsider": f.user(session, "outsider@example.com", role=Role.member),
        "admin": f.user(session, "admin@example.com", role=Role.admin),
    }
    auth_service.update_user(session, actor=ADMIN, user=people["manager"], changes={"locale": "en"})
    built = build_world(session, people)
    health.recompute_all(session, built.admin, now=NOW)
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


def _section(html: str, testid: str) -> str:
    match = re.search(rf'<table class="data-table" data-testid="{testid}">(.*?)</table>', html, re.S)
    assert match, testid
    return match.group(1)


# --- the panel --------------------------------------------------------------------------------------


def test_panel_in_chinese_shows_busy_banner_components_and_contribution(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _headers = world
    sign_in(client, "planner@example.com")
    busy = client.get(f"/hives/{built.busy}/health-panel")
    assert busy.status_code == 200
    html = busy.text
    assert 'id="health-panel"' in html and "忙而不动" in html and 'data-testid="busy-not-moving"' in html
    assert "跨职能响应" in html and "信息同步完整度" in html and "风险共担覆盖率" in html
    table = _section(html, "contribution-table")
    # contribution counts work, never messages
    assert "消息" not in table and "message" not in table.lower()
    data = re.search(r'<script type="application/json" id="hive-heatmap-data-\d+">(.*?)</script>', html, re.S)
    assert data is not None
    heatmap = json.loads(data.group(1))
    assert len(heatmap["weeks"]) == 8 and "planner" in heatmap["members"]
    assert "/static/hives_health.js" in html
    steady = client.get(f"/hives/{built.steady}/health-panel")
    assert steady.status_code == 200 and 'data-testid="busy-not-moving"' not in steady.text


def test_panel_in_english_and_refusals(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _headers = world
    sign_in(client, "manager@example.com")
    page = client.get(f"/hives/{built.busy}/health-panel")
    assert page.status_code == 200
    assert "Busy, not moving" in page.text and "Cross-functional response" in page.text
    assert "open past 24 h" in page.text  # the stored explanation, in English
    sign_in(client, "outsider@example.com")
    assert client.get(f"/hives/{built.busy}/health-panel").status_code == 404
    sign_in(client, "west@example.com")
    assert client.get(f"/hives/{built.steady}/health-panel").status_code == 404


def test_knowledge_forms(client: TestClient, world: tuple[World, dict[str, dict[str, str]]]) -> None:
    built, _headers = world
    token = sign_in(client, "planner@example.com")
    refused = client.post(
        f"/hives/{built.steady}/health-panel/knowledge",
        data={"csrf_token": token, "title": "  ", "body": "保留的内容"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 422
    assert "保留的内容" in refused.text and 'data-testid="knowledge-title-error"' in refused.text
    added = client.post(
        f"/hives/{built.steady}/health-panel/knowledge",
        data={"csrf_token": token, "title": "排产规则", "body": ""},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"].endswith("#health-panel")
    knowledge_id = int(
        re.findall(r'data-testid="knowledge-(\d+)"', client.get(f"/hives/{built.steady}/health-panel").text)[
            0
        ]
    )
    assert f'data-testid="use-{knowledge_id}"' not in client.get(f"/hives/{built.steady}/health-panel").text
    token = sign_in(client, "logistics@example.com")
    used = client.post(
        f"/hives/{built.steady}/health-panel/knowledge/{knowledge_id}/use",
        data={"csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert used.status_code == 200 and "被使用 1 次" in used.text
    missing_csrf = client.post(f"/hives/{built.steady}/health-panel/knowledge", data={"title": "x"})
    assert missing_csrf.status_code == 403
    token = sign_in(client, "outsider@example.com")
    hidden = client.post(
        f"/hives/{built.steady}/health-panel/knowledge", data={"csrf_token": token, "title": "x"}
    )
    assert hidden.status_code == 404


# --- the overview and OKRs -------------------------------------------------------------------------


def test_overview_lists_hives_by_health_with_flags(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, _headers = world
    sign_in(client, "manager@example.com")
    page = client.get("/hives/overview")
    assert page.status_code == 200
    order = re.findall(r'data-testid="overview-row" data-hive="(\d+)"', page.text)
    assert order == [str(built.busy), str(built.steady)]
    assert 'data-testid="busy-badge"' in page.text and "1 hive(s) busy, not moving" in page.text
    flagged = client.get("/hives/overview?flagged=1")
    assert re.findall(r'data-testid="overview-row" data-hive="(\d+)"', flagged.text) == [str(built.busy)]
    sign_in(client, "outsider@example.com")
    assert 'data-testid="overview-empty"' in client.get("/hives/overview").text
    token = sign_in(client, "planner@example.com")
    chinese = client.get("/hives/overview")
    assert "蜂巢健康总览" in chinese.text and "忙而不动" in chinese.text
    recompute = client.post("/hives/overview/recompute", data={"csrf_token": token}, follow_redirects=False)
    assert recompute.status_code == 303


def test_okr_pages(client: TestClient, world: tuple[World, dict[str, dict[str, str]]]) -> None:
    token = sign_in(client, "manager@example.com")
    assert client.get("/hives/okrs").status_code == 200
    bad = client.post(
        "/hives/okrs",
        data={
            "csrf_token": token,
            "title": "On time",
            "period_start": "2026-12-01",
            "period_end": "2026-01-01",
        },
    )
    assert (
        bad.status_code == 422
        and 'data-testid="objective-end-error"' in bad.text
        and 'value="On time"' in bad.text
    )
    made = client.post(
        "/hives/okrs",
        data={
            "csrf_token": token,
            "title": "On time",
            "period_start": "2026-01-01",
            "period_end": "2026-12-31",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303
    objective_id = int(re.findall(r'id="objective-(\d+)"', client.get("/hives/okrs").text)[0])
    wrong = client.post(
        f"/hives/okrs/{objective_id}/key-results",
        data={
            "csrf_token": token,
            "title": "Health",
            "metric": "hive_health",
            "target": "lots",
            "team_id": "",
        },
    )
    assert wrong.status_code == 422 and 'data-testid="kr-target-error"' in wrong.text
    added = client.post(
        f"/hives/okrs/{objective_id}/key-results",
        data={
            "csrf_token": token,
            "title": "Mean health",
            "metric": "hive_health",
            "target": "80",
            "team_id": "",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get("/hives/okrs")
    assert "Mean health" in page.text and "Mean hive health" in page.text
    current = re.search(r'data-testid="kr-current">([^<]+)<', page.text)
    assert current is not None and current.group(1).strip() != ""
    for email in ("rep@example.com", "planner@example.com"):
        sign_in(client, email)
        assert client.get("/hives/okrs").status_code == 403


def test_parse_target() -> None:
    assert parse_target("80", "hive_health") == 80.0
    assert parse_target("90%", "on_time_delivery") == 0.9
    assert parse_target("0.9", "on_time_delivery") == 0.9
    assert not isinstance(parse_target("abc", "hive_health"), float)
    assert not isinstance(parse_target("nan", "hive_health"), float)


# --- the API ------------------------------------------------------------------------------------------


def test_api_health_contribution_and_refusals(
    client: TestClient, world: tuple[World, dict[str, dict[str, str]]]
) -> None:
    built, headers = world
    got = client.get(f"{API}/{built.busy}/health", headers=headers["planner"])
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["busy_not_moving"] is True and set(body["components"]) == {
        "response",
        "sync",
        "risk",
        "schedule",
    }
    assert body["weights"]["schedule"] == 0.3 and body["activity"]["messages"] == 25
    again = client.post(f"{API}/{built.steady}/health/recompute", headers=headers["manager"])
    assert again.status_code == 200 and 0 <= again.json()["health"] <= 100
    contribution = client.get(f"{API}/{built.steady}/contribution?weeks=4", headers=headers["manager"])
    assert contribution.status_code == 200
    assert len(contribution.json()["weeks"]) == 4 and contribution.json()["members"]
    assert (
        client.get(f"{API}/{built.steady}/contribution?weeks=0", headers=headers["manager"]).status_code
        == 422
    )
    for who in ("outsider", "west_manager"):
        assert client.get(f"{API}/{built.steady}/health", headers=headers[who]).status_code == 404
        assert client.post(f"{API}/{built.steady}/health/recompute", headers=headers[who]).status_code == 404
        assert client.get(f"{API}/{built.steady}/contribution", headers=headers[who]).status_code == 404
    overview = client.get(f"{API}/overview", headers=headers["manager"])
    assert [row["hive_id"] for row in overview.json()] == [built.busy, built.steady]
    every = client.post(f"{API}/health/recompute", headers=headers["admin"])
    # run today, months after the world's noisy week: nothing is busy any more
    assert every.status_code == 200 and every.json()["hives"] == 2 and every.json()["flagged"] == 0


def test_api_knowledge_and_okrs(client: TestClient, world: tuple[World, dict[str, dict[str, str]]]) -> None:
    built, headers = world
    made = client.post(
        f"{API}/{built.steady}/knowledge", json={"title": "清关清单"}, headers=headers["logistics"]
    )
    assert made.status_code == 201, made.text
    knowledge_id = made.json()["id"]
    assert (
        client.post(
            f"{API}/{built.steady}/knowledge", json={"title": ""}, headers=headers["logistics"]
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"{API}/{built.steady}/knowledge", json={"title": "x"}, headers=headers["outsider"]
        ).status_code
        == 404
    )
    used = client.post(f"{API}/knowledge/{knowledge_id}/use", headers=headers["planner"])
    assert used.status_code == 200 and used.json()["used_by"][0]["user_id"] == built.planner.user_id
    assert client.post(f"{API}/knowledge/{knowledge_id}/use", headers=headers["outsider"]).status_code == 404
    listed = client.get(f"{API}/{built.steady}/knowledge", headers=headers["manager"])
    assert [item["id"] for item in listed.json()] == [knowledge_id]

    objective = client.post(
        f"{API}/okrs",
        json={"title": "准时交付", "period_start": "2026-01-01", "period_end": "2026-12-31"},
        headers=headers["manager"],
    )
    assert objective.status_code == 201, objective.text
    objective_id = objective.json()["id"]
    result = client.post(
        f"{API}/okrs/{objective_id}/key-results",
        json={"title": "平均健康度", "metric": "hive_health", "target": 80},
        headers=headers["manager"],
    )
    assert result.status_code == 201 and result.json()["current"] is not None
    bad = client.post(
        f"{API}/okrs/{objective_id}/key-results",
        json={"title": "x", "metric": "revenue", "target": 1},
        headers=headers["manager"],
    )
    assert bad.status_code == 422
    listed_okrs = client.get(f"{API}/okrs", headers=headers["manager"]).json()
    assert listed_okrs[0]["key_results"][0]["metric"] == "hive_health"
    assert client.get(f"{API}/okrs", headers=headers["rep"]).status_code == 403
    assert client.get(f"{API}/okrs/{objective_id}", headers=headers["west_manager"]).status_code == 404
    assert (
        client.post(
            f"{API}/okrs",
            json={"title": "x", "period_start": "2026-01-01", "period_end": "2026-02-01"},
            headers=headers["planner"],
        ).status_code
        == 403
    )
    key_result_id = result.json()["id"]
    assert (
        client.delete(f"{API}/key-results/{key_result_id}", headers=headers["west_manager"]).status_code
        == 404
    )
    assert client.delete(f"{API}/key-results/{key_result_id}", headers=headers["manager"]).status_code == 204
    assert client.delete(f"{API}/okrs/{objective_id}", headers=headers["manager"]).status_code == 204
    assert date.fromisoformat(objective.json()["period_start"]) == date(2026, 1, 1)
