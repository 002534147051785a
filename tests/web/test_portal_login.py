"""The customer login realm through the real application (SQLite and PostgreSQL): the
password and magic-link doors, the TOTP step, the front page, the API, and refusals."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth.models import Role
from pathcast.events import Event
from pathcast.portal import totp
from pathcast.signals.service import consent
from tests import factories as f

EMAIL = "buyer@hospital.example"
GENERIC_EN = "E-mail or password is wrong, or this is not a customer portal account"
LINK = re.compile(r"/portal/magic/([A-Za-z0-9_-]+)")


@dataclass
class World:
    account_id: int
    other_account_id: int
    contact_id: int


@pytest.fixture
def world(configured: str, session: Session) -> World:
    account = f.account(session, name="北京协和医院")
    other = f.account(session, name="Other Hospital 另一家医院")
    contact = f.contact(session, account_id=account.id, name="王主任", email=EMAIL)
    f.activity(session, kind="meeting", subject="方案沟通会", account_id=account.id)
    f.user(session, EMAIL, role=Role.customer_contact, account_id=account.id)
    f.user(session, "x@other.example", role=Role.customer_contact, account_id=other.id)
    f.user(session, "rep@example.com")
    session.commit()
    return World(account.id, other.id, contact.id)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def portal_sign_in(client: TestClient, email: str = EMAIL, password: str = f.PASSWORD) -> httpx.Response:
    token = csrf_of(client.get("/portal/login", headers={"Accept-Language": "en"}).text)
    return client.post(
        "/portal/login",
        data={"email": email, "password": password, "csrf_token": token},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )


def test_login_page_in_both_languages(client: TestClient, world: World) -> None:
    chinese = client.get("/portal/login", headers={"Accept-Language": "zh-CN"})
    assert (
        chinese.status_code == 200 and "客户门户登录" in chinese.text and "改用邮件链接登录" in chinese.text
    )
    english = client.get("/portal/login", headers={"Accept-Language": "en"})
    assert "Customer portal sign-in" in english.text and 'href="/login"' in english.text


def test_customer_signs_in_and_sees_own_account_only(
    client: TestClient, world: World, session: Session
) -> None:
    response = portal_sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/portal"
    home = client.get("/portal")
    assert home.status_code == 200 and "北京协和医院" in home.text and "另一家医院" not in home.text
    assert f"/api/v1/accounts/{world.account_id}/export?format=zip" in home.text
    assert 'data-testid="count-communications"' in home.text
    # only portal links: no staff navigation
    for staff_link in ('href="/board"', 'href="/accounts"', 'href="/contacts"', 'href="/inbox"', 'href="/"'):
        assert staff_link not in home.text
    # another account's id in a portal URL is a 404, like a missing record
    assert client.get(f"/api/v1/accounts/{world.other_account_id}/export?format=json").status_code == 404
    assert client.get("/api/v1/accounts/999999/export?format=json").status_code == 404
    assert client.get(f"/api/v1/accounts/{world.account_id}/export?format=json").status_code == 200
    # the sign-in is recorded and counts for the consent threshold
    session.expire_all()
    signed = session.scalars(select(Event).where(Event.type == "portal.signed_in")).all()
    assert len(signed) == 1 and signed[0].payload["channel"] == "web"
    assert consent.consent_state(session, world.contact_id).deep_interactions == 1


def test_refusals_are_generic(client: TestClient, world: World) -> None:
    wrong = portal_sign_in(client, password="wrong-password")
    staff = portal_sign_in(client, email="rep@example.com")
    unknown = portal_sign_in(client, email="nobody@x.example")
    for response in (wrong, staff, unknown):
        assert response.status_code == 401
        assert GENERIC_EN in response.text and "pathcast_session" not in response.headers.get(
            "set-cookie", ""
        )
    assert f'value="{EMAIL}"' in wrong.text
    token = csrf_of(client.get("/portal/login").text)
    missing = client.post(
        "/portal/login", data={"email": "not-an-address", "password": "", "csrf_token": token}
    )
    assert missing.status_code == 422 and 'value="not-an-address"' in missing.text
    forged = client.post("/portal/login", data={"email": EMAIL, "password": f.PASSWORD, "csrf_token": "x"})
    assert forged.status_code == 403


def test_portal_is_for_customers_only(client: TestClient, world: World) -> None:
    assert client.get("/portal", follow_redirects=False).headers["location"] == "/portal/login"
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"email": "rep@example.com", "password": f.PASSWORD, "csrf_token": token})
    assert client.get("/portal").status_code == 403
    assert client.get("/portal/totp").status_code == 403


def test_staff_login_sends_customers_to_the_portal(client: TestClient, world: World) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": EMAIL, "password": f.PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/portal"


def test_magic_link_flow(client: TestClient, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pathcast.portal.mail")
    token = csrf_of(client.get("/portal/magic", headers={"Accept-Language": "en"}).text)
    known = client.post(
        "/portal/magic", data={"email": EMAIL, "csrf_token": token}, headers={"Accept-Language": "en"}
    )
    unknown = client.post(
        "/portal/magic",
        data={"email": "nobody@x.example", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(EMAIL, "@") == unknown.text.replace("nobody@x.example", "@")
    links = LINK.findall(caplog.text)
    assert len(links) == 1
    first = client.get(f"/portal/magic/{links[0]}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/portal"
    assert client.get("/portal").status_code == 200
    client.cookies.clear()
    again = client.get(f"/portal/magic/{links[0]}", headers={"Accept-Language": "en"}, follow_redirects=False)
    assert again.status_code == 401 and "not valid" in again.text
    assert client.get("/portal", follow_redirects=False).status_code == 303


def _enable_totp(client: TestClient) -> bytes:
    assert portal_sign_in(client).status_code == 303
    page = client.get("/portal/totp")
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret and "otpauth://totp/" in page.text
    key = totp.secret_bytes(secret.group(1))
    token = csrf_of(page.text)
    bad = client.post("/portal/totp", data={"secret": secret.group(1), "code": "abc", "csrf_token": token})
    assert bad.status_code == 422 and 'value="abc"' in bad.text and secret.group(1) in bad.text
    enabled = client.post(
        "/portal/totp",
        data={"secret": secret.group(1), "code": totp.totp(key, time.time()), "csrf_token": token},
    )
    assert enabled.status_code == 200 and 'data-testid="totp-on"' in enabled.text
    client.cookies.clear()
    return key


def test_totp_is_required_and_not_replayable(client: TestClient, world: World) -> None:
    key = _enable_totp(client)
    response = portal_sign_in(client)
    assert response.headers["location"] == "/portal/verify"
    # between the password and the code there is no session
    assert client.get("/portal", follow_redirects=False).status_code == 303
    token = csrf_of(client.get("/portal/verify").text)
    wrong = client.post("/portal/verify", data={"code": "000000" if totp.totp(key, time.time()) != "000000" else "111111",
                                                "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert wrong.status_code == 401
    # the enabling code's step is spent: the next step's code (within the window) opens the session
    code = totp.totp(key, time.time() + 30)
    ok = client.post("/portal/verify", data={"code": code, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/portal"
    assert client.get("/portal").status_code == 200
    client.cookies.clear()
    # the same code again: refused
    portal_sign_in(client)
    token = csrf_of(client.get("/portal/verify").text)
    replay = client.post("/portal/verify", data={"code": code, "csrf_token": token}, follow_redirects=False)
    assert replay.status_code == 401
    # the staff door asks for the code too
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    staff_door = client.post(
        "/login", data={"email": EMAIL, "password": f.PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert staff_door.headers["location"] == "/portal/verify"


def test_api_login_and_magic_link(client: TestClient, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pathcast.portal.mail")
    ok = client.post("/api/v1/portal/login", json={"email": EMAIL, "password": f.PASSWORD})
    assert ok.status_code == 200
    bearer = {"Authorization": f"Bearer {ok.json()['token']}"}
    assert client.get("/api/v1/me", headers=bearer).json()["email"] == EMAIL
    other = client.get(f"/api/v1/accounts/{world.other_account_id}/export?format=json", headers=bearer)
    assert other.status_code == 404
    for body in ({"email": EMAIL, "password": "nope"}, {"email": "rep@example.com", "password": f.PASSWORD}):
        refused = client.post("/api/v1/portal/login", json=body)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("portal_bad_credentials")
    # odd input (a NUL breaks PostgreSQL text) is refused like any other, never a 5xx
    odd = client.post("/api/v1/portal/login", json={"email": "a\u0000@x.example", "password": "p\u0000"})
    assert odd.status_code == 401
    assert client.post("/api/v1/portal/magic-link", json={"email": "\u0000"}).status_code == 202
    for email in (EMAIL, "nobody@x.example"):
        accepted = client.post("/api/v1/portal/magic-link", json={"email": email})
        assert accepted.status_code == 202 and accepted.json() == {"status": "accepted"}
    assert len(LINK.findall(caplog.text)) == 1


def test_api_login_requires_the_code_when_on(client: TestClient, world: World) -> None:
    key = _enable_totp(client)
    without = client.post("/api/v1/portal/login", json={"email": EMAIL, "password": f.PASSWORD})
    assert without.status_code == 401 and without.json()["type"].endswith("portal_code_invalid")
    code = totp.totp(key, time.time() + 30)
    body = {"email": EMAIL, "password": f.PASSWORD, "code": code}
    assert client.post("/api/v1/portal/login", json=body).status_code == 200
    assert client.post("/api/v1/portal/login", json=body).status_code == 401  # replay
