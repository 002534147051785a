"""Grants over HTTP (SQLite and PostgreSQL): the customer's API and page, the grantee's
token routes and page. The issue's check end to end: an audit grant for communications
2025-01-01..2025-06-30 shows exactly those, stops when revoked, logs every access."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.db import unit_of_work
from pathcast.portal.models import Grant
from tests import factories as f
from tests.portal.test_grants import COMMS, MARKER, World, build

BODY: dict[str, Any] = {
    "grantee": "KPMG 审计组",
    "purpose": "audit",
    "fields": COMMS,
    "period_start": "2025-01-01",
    "period_end": "2025-06-30",
}


def expires(days: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.fixture
def setup(configured: str, session: Session) -> tuple[World, dict[str, dict[str, str]]]:
    world = build(session)
    admin = f.user(session, "admin@example.com", role=Role.admin)
    headers: dict[str, dict[str, str]] = {}
    people = {"customer": "buyer@hengtai.example", "other": "buyer@other.example", "rep": "rep@example.com"}
    for key, email in people.items():
        person = session.scalars(select(User).where(User.email == email)).one()
        _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=admin)
    headers["admin"] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    return world, headers


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_audit_grant_over_the_api(setup: tuple[World, dict[str, dict[str, str]]], client: TestClient) -> None:
    world, headers = setup
    created = client.post(
        "/api/v1/portal/grants", json=BODY | {"expires_at": expires()}, headers=headers["customer"]
    )
    assert created.status_code == 201, created.text
    issued = created.json()
    token, grant_id = issued["token"], issued["grant"]["id"]
    assert issued["link"] == f"/grant/{token}" and issued["grant"]["account_id"] == world.account_id

    data = client.get(f"/api/v1/grants/{token}/data")
    assert data.status_code == 200, data.text
    datasets = data.json()["datasets"]
    assert list(datasets) == ["activities"]
    assert {row["subject"] for row in datasets["activities"]["rows"]} == {"一月沟通", "六月底"}
    assert MARKER not in data.text and "body" not in datasets["activities"]["fields"]
    assert client.get(f"/api/v1/grants/{token}/export?format=json").status_code == 403  # audit: no export

    page = client.get(f"/grant/{token}", headers={"Accept-Language": "zh-CN"})
    assert "共享数据" in page.text
    assert (
        page.status_code == 200
        and "六月底" in page.text
        and "七月" not in page.text
        and MARKER not in page.text
    )

    listed = client.get("/api/v1/portal/grants", headers=headers["customer"]).json()
    assert [len(grant["accesses"]) for grant in listed] == [2]  # the API read and the page view

    # another account's customer: cannot see or revoke (404 like a missing grant)
    assert (
        client.post(f"/api/v1/portal/grants/{grant_id}/revoke", headers=headers["other"]).status_code == 404
    )
    assert client.post(f"/api/v1/portal/grants/{2**40}/revoke", headers=headers["admin"]).status_code == 404
    huge = client.get(f"/api/v1/portal/grants?account_id={2**40}", headers=headers["admin"])
    assert huge.status_code == 404
    other_list = client.get(f"/api/v1/portal/grants?account_id={world.account_id}", headers=headers["other"])
    assert other_list.status_code == 404
    assert client.get("/api/v1/portal/grants", headers=headers["other"]).json() == []
    assert (
        client.get("/api/v1/portal/grants", headers=headers["rep"]).status_code == 422
    )  # no account of their own
    rep_list = client.get(f"/api/v1/portal/grants?account_id={world.account_id}", headers=headers["rep"])
    assert rep_list.status_code == 403

    revoked = client.post(f"/api/v1/portal/grants/{grant_id}/revoke", headers=headers["customer"])
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    stopped = client.get(f"/api/v1/grants/{token}/data")
    assert stopped.status_code == 404 and stopped.json()["code"] == "grant_revoked"
    assert client.get(f"/grant/{token}").status_code == 404


def test_bad_terms_are_named(setup: tuple[World, dict[str, dict[str, str]]], client: TestClient) -> None:
    _, headers = setup
    body = BODY | {"fields": {"activities": ["subject", "body"]}, "expires_at": expires()}
    refused = client.post("/api/v1/portal/grants", json=body, headers=headers["customer"])
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["fields.activities.body"]


def test_migration_grant_exports_and_narrows(
    setup: tuple[World, dict[str, dict[str, str]]], client: TestClient
) -> None:
    world, headers = setup
    body = BODY | {"purpose": "migration", "account_id": world.account_id, "expires_at": expires()}
    token = client.post("/api/v1/portal/grants", json=body, headers=headers["admin"]).json()["token"]
    assert client.get(f"/api/v1/grants/{token}/data").status_code == 403  # migration: no view
    page = client.get(f"/grant/{token}")
    assert page.status_code == 200 and "一月沟通" not in page.text and "/export?format=zip" in page.text
    exported = client.get(f"/api/v1/grants/{token}/export?format=zip")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        rows = json.loads(archive.read("activities.json"))
    assert {row["subject"] for row in rows} == {"一月沟通", "六月底"}

    narrow = {
        "grantee": "sub-contractor",
        "fields": {"activities": ["subject"]},
        "period_start": "2025-06-01",
        "period_end": "2025-06-30",
        "expires_at": expires(5),
    }
    child = client.post(f"/api/v1/grants/{token}/narrow", json=narrow)
    assert child.status_code == 201, child.text
    assert child.json()["grant"]["purpose"] == "migration"
    wider = client.post(
        f"/api/v1/grants/{token}/narrow", json=narrow | {"fields": {"activities": ["owner_id"]}}
    )
    assert wider.status_code == 422 and wider.json()["errors"][0]["field"] == "fields.activities.owner_id"
    child_export = client.get(f"/api/v1/grants/{child.json()['token']}/export?format=csv")
    assert (
        child_export.status_code == 200
        and "六月底" in child_export.text
        and "一月沟通" not in child_export.text
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, email: str) -> str:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"email": email, "password": f.PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/portal/grants")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def test_grants_page_creates_lists_and_revokes(
    setup: tuple[World, dict[str, dict[str, str]]], client: TestClient
) -> None:
    csrf = sign_in(client, "buyer@hengtai.example")
    form = {
        "csrf_token": csrf,
        "grantee": "KPMG",
        "purpose": "audit",
        "field": ["activities.subject", "activities.occurred_at"],
        "period_start": "2025-01-01",
        "period_end": "2025-06-30",
        "expires_on": (date.today() + timedelta(days=10)).isoformat(),
    }
    bad = client.post("/portal/grants", data=form | {"period_end": "2024-01-01", "grantee": "保留的名字"})
    assert (
        bad.status_code == 422 and "保留的名字" in bad.text and 'data-testid="error-period_end"' in bad.text
    )
    created = client.post("/portal/grants", data=form)
    assert created.status_code == 201, created.text
    link = re.search(r'data-testid="grant-link">[^<]*(/grant/[^<]+)</code>', created.text)
    assert link
    viewed = client.get(link.group(1))
    assert viewed.status_code == 200 and "六月底" in viewed.text
    with unit_of_work() as session:
        grant_id = session.scalars(select(Grant.id)).one()
    listing = client.get("/portal/grants")
    assert f'data-testid="accesses-{grant_id}"' in listing.text
    revoked = client.post(
        f"/portal/grants/{grant_id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert client.get(link.group(1)).status_code == 404
    assert client.post(f"/portal/grants/{grant_id}/revoke", data={"csrf_token": "forged"}).status_code == 403


def test_another_customer_cannot_revoke_on_the_page(
    setup: tuple[World, dict[str, dict[str, str]]], client: TestClient
) -> None:
    world, headers = setup
    grant_id = client.post(
        "/api/v1/portal/grants", json=BODY | {"expires_at": expires()}, headers=headers["customer"]
    ).json()["grant"]["id"]
    csrf = sign_in(client, "buyer@other.example")
    assert f"grant-{grant_id}" not in client.get("/portal/grants").text
    assert client.post(f"/portal/grants/{grant_id}/revoke", data={"csrf_token": csrf}).status_code == 404
    assert client.get(f"/portal/grants?account_id={world.account_id}").status_code == 404
