"""The HTML pages through the real application, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.crm import service as crm
from pathcast.db import unit_of_work, utcnow
from pathcast.events import Event
from tests import factories as f

CHINESE_DEAL = "协和医院 DSA 介入项目"


@dataclass
class World:
    rep_id: int
    deal_id: int
    account_id: int
    other_deal_id: int


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters: these tests are about pages, not hash strength."""
    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def world(configured: str, session: Session) -> World:
    """Two teams; an East rep with a deal (amount changed, moved a stage) and an overdue
    task; a West rep with a deal of their own."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    f.user(session, "boss@example.com", role=Role.manager, team_obj=east)
    f.user(session, "west@example.com", team_obj=west)
    west_rep = session.scalars(select(User).where(User.email == "west@example.com")).one()
    account = f.account(session, name="北京协和医院")
    crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["contact"],
        data={"account_id": account.id, "name": "王主任", "title": "介入科主任"},
    )
    deal = f.opportunity(
        session,
        f.actor(rep),
        name=CHINESE_DEAL,
        account_id=account.id,
        expected_close_date=date.today() + timedelta(days=30),
    )
    crm.update_opportunity(session, actor=f.actor(rep), opportunity=deal, changes={"amount": Decimal(150000)})
    qualified = next(s for s in crm.stages_of(session, deal.pipeline_id) if s.key == "qualified")
    crm.change_stage(session, actor=f.actor(rep), opportunity=deal, to_stage_id=qualified.id)
    crm.create_record(
        session,
        actor=f.actor(rep),
        spec=crm.SPECS["activity"],
        data={
            "kind": "task",
            "subject": "回访王主任",
            "opportunity_id": deal.id,
            "due_at": utcnow() - timedelta(days=2),
        },
    )
    other = f.opportunity(session, f.actor(west_rep), name="West only deal")
    session.commit()
    return World(rep_id=rep.id, deal_id=deal.id, account_id=account.id, other_deal_id=other.id)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def log_in(client: TestClient, email: str = "rep@example.com", password: str = f.PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    assert home.status_code == 200
    return csrf_of(home.text)


def test_login_page_speaks_both_languages(client: TestClient, world: World) -> None:
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert chinese.status_code == 200
    assert '<html lang="zh-CN">' in chinese.text
    assert "登录" in chinese.text and "密码" in chinese.text
    assert '<meta name="viewport"' in chinese.text
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert '<html lang="en">' in english.text
    assert "Sign in" in english.text and "Password" in english.text


def test_bad_password_shows_error_keeps_email_and_sets_no_session(client: TestClient, world: World) -> None:
    token = csrf_of(client.get("/login", headers={"Accept-Language": "en"}).text)
    response = client.post(
        "/login",
        data={"email": "rep@example.com", "password": "wrong-password", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 401
    assert "E-mail or password is wrong." in response.text
    assert 'value="rep@example.com"' in response.text
    assert "pathcast_session" not in response.headers.get("set-cookie", "")
    assert "pathcast_session" not in client.cookies


def test_login_form_validates_missing_fields(client: TestClient, world: World) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": "", "password": "", "csrf_token": token}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400
    assert "Enter your e-mail address." in response.text
    assert "Enter your password." in response.text


def test_login_sets_session_cookie_and_rep_home_shows_deals_and_overdue_tasks(
    client: TestClient, world: World
) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"email": "REP@example.com", "password": f.PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("pathcast_session="))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    home = client.get("/")
    assert home.status_code == 200
    assert CHINESE_DEAL in home.text
    assert "回访王主任" in home.text
    assert '<meta name="csrf-token"' in home.text
    assert "hx-headers" in home.text and "X-CSRF-Token" in home.text


def test_pages_redirect_to_login_with_a_local_next(client: TestClient, world: World) -> None:
    response = client.get("/opportunities?q=x", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fopportunities%3Fq%3Dx"
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "email": "rep@example.com",
            "password": f.PASSWORD,
            "csrf_token": token,
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_posts_without_csrf_token_are_refused(client: TestClient, world: World) -> None:
    assert client.post("/login", data={"email": "rep@example.com", "password": f.PASSWORD}).status_code == 403
    assert "pathcast_session" not in client.cookies
    log_in(client)
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/locale", data={"locale": "en"}).status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_logout_ends_the_session(client: TestClient, world: World) -> None:
    token = log_in(client)
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_rep_of_another_team_gets_a_404_page(client: TestClient, world: World) -> None:
    log_in(client, "west@example.com")
    response = client.get(f"/opportunities/{world.deal_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert CHINESE_DEAL not in response.text
    listing = client.get("/opportunities")
    assert CHINESE_DEAL not in listing.text and "West only deal" in listing.text


def test_locale_switch_is_saved_on_the_user_with_an_event(client: TestClient, world: World) -> None:
    token = log_in(client)
    response = client.post(
        "/locale",
        data={"locale": "en", "csrf_token": token, "next": "/opportunities"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/opportunities"
    with unit_of_work(write=False) as db:
        assert db.get(User, world.rep_id).locale == "en"  # type: ignore[union-attr]
        types = db.scalars(
            select(Event.type).where(Event.entity == "user", Event.entity_id == str(world.rep_id))
        ).all()
        assert "user.updated" in types
    page = client.get("/opportunities")
    assert '<html lang="en">' in page.text and "Opportunities" in page.text
    assert client.post("/locale", data={"locale": "fr", "csrf_token": token}).status_code == 422


def test_locale_switch_before_login_uses_a_cookie(client: TestClient, world: World) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/locale", data={"locale": "en", "csrf_token": token, "next": "/login"})
    assert response.status_code == 200
    assert '<html lang="en">' in response.text and "Sign in" in response.text


def test_opportunity_search_finds_a_chinese_name(client: TestClient, world: World) -> None:
    log_in(client)
    found = client.get("/opportunities", params={"q": "协和"})
    assert found.status_code == 200 and CHINESE_DEAL in found.text
    missing = client.get("/opportunities", params={"q": "不存在的名字"})
    assert CHINESE_DEAL not in missing.text
    won = client.get("/opportunities", params={"status": "won"})
    assert CHINESE_DEAL not in won.text
    bad = client.get("/opportunities", params={"sort": "password_hash"})
    assert bad.status_code == 400


def test_opportunity_list_pages_by_cursor(client: TestClient, world: World, session: Session) -> None:
    rep = session.get(User, world.rep_id)
    assert rep is not None
    for number in range(26):
        f.opportunity(session, f.actor(rep), name=f"批量商机 {number:02d}", amount=1000 + number)
    session.commit()
    log_in(client)
    first = client.get("/opportunities", params={"q": "批量商机", "sort": "name"})
    assert "批量商机 00" in first.text and "批量商机 25" not in first.text
    next_url = re.search(r'<a href="([^"]+)" rel="next"', first.text)
    assert next_url, "no next-page link"
    second = client.get(next_url.group(1).replace("&amp;", "&"))
    assert "批量商机 25" in second.text and "批量商机 00" not in second.text


def test_opportunity_detail_shows_history_and_timeline_newest_first(client: TestClient, world: World) -> None:
    log_in(client, "rep@example.com")
    page = client.get(f"/opportunities/{world.deal_id}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/accounts/{world.account_id}"' in text
    assert 'data-testid="stage-history"' in text and "已验证" in text
    assert "120,000.00" in text and "150,000.00" in text  # amount before → after
    assert text.index("阶段变更") < text.index("金额变更") < text.index("创建商机")


def test_account_detail_lists_contacts_and_deals(client: TestClient, world: World) -> None:
    log_in(client)
    page = client.get(f"/accounts/{world.account_id}")
    assert page.status_code == 200
    assert "王主任" in page.text and CHINESE_DEAL in page.text
    listing = client.get("/accounts", params={"q": "协和"})
    assert "北京协和医院" in listing.text


def test_manager_home_has_pipeline_chart_data(client: TestClient, world: World) -> None:
    log_in(client, "boss@example.com")
    home = client.get("/")
    found = re.search(r'<script type="application/json" id="pipeline-chart-data">(.*?)</script>', home.text)
    assert found, "no chart data"
    chart = json.loads(found.group(1))
    assert sum(chart["counts"]) == 1  # the East deal only, not West's
    assert sum(chart["amounts"]) == 150000.0
    assert "已验证" in chart["categories"]
    assert 'data-testid="won-count">0<' in home.text


def test_htmx_requests_reach_the_api_with_the_page_csrf_token(client: TestClient, world: World) -> None:
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303
    assert (
        client.get("/opportunities", headers={"HX-Request": "true"})
        .headers["HX-Redirect"]
        .startswith("/login")
    )
    log_in(client)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert meta
    refused = client.patch("/api/v1/me", json={"name": "Rep One"})
    assert refused.status_code == 403
    accepted = client.patch("/api/v1/me", json={"name": "Rep One"}, headers={"X-CSRF-Token": meta.group(1)})
    assert accepted.status_code == 200, accepted.text


def test_missing_node_modules_only_logs_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from fastapi import FastAPI

    from pathcast.web.views import mount_vendor

    with caplog.at_level(logging.WARNING, logger="pathcast"):
        missing = mount_vendor(FastAPI(), tmp_path / "node_modules")
    assert missing == ["htmx.org", "echarts"]
    assert "npm ci" in caplog.text and "make run" in caplog.text
