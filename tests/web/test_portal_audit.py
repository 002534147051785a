"""The portal's audit page: a customer contact sees what the file is, how to verify it
(in zh-CN and en) and downloads a file that verifies; staff get 403; nobody signed in
goes to the login form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.portal.audit import verify
from tests import factories as f
from tests.portal.test_audit import MARKER, World, build_world


@pytest.fixture
def world(configured: str, session: Session) -> World:
    built = build_world(session)
    session.commit()
    return built


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = client.post(
        "/login",
        data={"email": email, "password": f.PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_customer_sees_the_page_and_downloads_a_verifiable_file(world: World, client: TestClient) -> None:
    assert client.get("/portal/audit", follow_redirects=False).status_code in (303, 307)
    sign_in(client, "buyer@hengtai.example")
    page = client.get("/portal/audit")
    assert page.status_code == 200, page.text
    assert "pathcast audit verify --export FILE" in page.text
    assert 'href="/portal/audit/download"' in page.text and 'aria-current="page"' in page.text
    assert "审计" in page.text or "Audit trail" in page.text
    download = client.get("/portal/audit/download")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    report = verify(download.content)
    assert report.ok and report.account == world.account_id
    assert MARKER not in download.text
    zipped = client.get("/portal/audit/download", params={"gzip": "true"})
    assert zipped.headers["content-type"] == "application/gzip" and verify(zipped.content).ok


def test_staff_are_refused(world: World, client: TestClient) -> None:
    sign_in(client, "rep@example.com")
    assert client.get("/portal/audit").status_code == 403
    assert client.get("/portal/audit/download").status_code == 403


def test_both_languages_have_every_message() -> None:
    from pathcast.i18n import catalog

    keys = {
        locale: {k for k in catalog(locale) if k.startswith("portal_audit.")} for locale in ("en", "zh-CN")
    }
    assert keys["en"] == keys["zh-CN"] and len(keys["en"]) > 15
