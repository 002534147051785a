"""Refusals: who may not read or change what. A hidden row answers like a missing one."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


def test_rep_cannot_read_another_teams_deal(client: TestClient, company: dict[str, Any]) -> None:
    west_deal = company["west_deal"].id
    headers = company["headers"]["east_rep"]
    hidden = client.get(f"/api/v1/opportunities/{west_deal}", headers=headers)
    missing = client.get("/api/v1/opportunities/987654", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"] == "not_found"
    for suffix in ("/events", "/stage-history", "/as-of?at=2030-01-01T00:00:00Z"):
        assert client.get(f"/api/v1/opportunities/{west_deal}{suffix}", headers=headers).status_code == 404
    assert (
        client.patch(f"/api/v1/opportunities/{west_deal}", json={"name": "x"}, headers=headers).status_code
        == 404
    )
    listed = client.get("/api/v1/opportunities", headers=headers).json()
    assert west_deal not in {item["id"] for item in listed["items"]}


def test_rep_reads_but_cannot_edit_a_teammates_deal(client: TestClient, company: dict[str, Any]) -> None:
    deal = company["east_deal"].id
    teammate = company["headers"]["east_rep2"]
    assert client.get(f"/api/v1/opportunities/{deal}", headers=teammate).status_code == 200
    response = client.patch(f"/api/v1/opportunities/{deal}", json={"amount": "1"}, headers=teammate)
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden_record"


def test_manager_edits_own_team_only(client: TestClient, company: dict[str, Any]) -> None:
    east, west = company["east_deal"].id, company["west_deal"].id
    manager = company["headers"]["east_manager"]
    assert (
        client.patch(f"/api/v1/opportunities/{east}", json={"amount": "2"}, headers=manager).status_code
        == 200
    )
    assert (
        client.patch(f"/api/v1/opportunities/{west}", json={"amount": "2"}, headers=manager).status_code
        == 404
    )


def test_admin_sees_everything(client: TestClient, company: dict[str, Any]) -> None:
    listed = client.get("/api/v1/opportunities", headers=company["headers"]["admin"]).json()
    assert listed["total"] == 2


def test_rep_cannot_assign_a_deal_to_someone_else(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    response = client.post(
        "/api/v1/opportunities", json={"name": "mine?", "owner_id": company["west_rep"].id}, headers=headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "owner_id"


@pytest.mark.parametrize("who", ["member", "customer"])
def test_non_sellers_see_no_pipeline(client: TestClient, company: dict[str, Any], who: str) -> None:
    headers = company["headers"][who]
    assert client.get("/api/v1/opportunities", headers=headers).status_code == 403
    existing = client.get(f"/api/v1/opportunities/{company['east_deal'].id}", headers=headers)
    missing = client.get("/api/v1/opportunities/987654", headers=headers)
    assert existing.status_code == missing.status_code == 403  # no hint whether the row exists
    assert client.post("/api/v1/opportunities", json={"name": "x"}, headers=headers).status_code == 403


def test_customer_contact_sees_only_their_account(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["customer"]
    admin = company["headers"]["admin"]
    other = client.post("/api/v1/accounts", json={"name": "Other Co"}, headers=admin).json()
    listed = client.get("/api/v1/accounts", headers=headers).json()
    assert [a["id"] for a in listed["items"]] == [company["account"].id]
    assert client.get(f"/api/v1/accounts/{other['id']}", headers=headers).status_code == 404
    assert (
        client.patch(
            f"/api/v1/accounts/{company['account'].id}", json={"name": "x"}, headers=headers
        ).status_code
        == 403
    )


def test_only_admins_read_the_whole_log(client: TestClient, company: dict[str, Any]) -> None:
    assert client.get("/api/v1/events", headers=company["headers"]["east_manager"]).status_code == 403
    events = client.get(
        "/api/v1/events", params={"entity": "opportunity"}, headers=company["headers"]["admin"]
    ).json()
    assert {e["type"] for e in events} == {"opportunity.created"}
    assert client.get("/api/v1/audit/verify", headers=company["headers"]["admin"]).json()["ok"] is True


def test_only_admins_create_users(client: TestClient, company: dict[str, Any]) -> None:
    body = {"email": "new@example.com", "name": "New", "role": "admin", "password": "long-enough-1"}
    assert (
        client.post("/api/v1/users", json=body, headers=company["headers"]["east_manager"]).status_code == 403
    )
    assert client.post("/api/v1/users", json=body, headers=company["headers"]["admin"]).status_code == 201
    again = client.post("/api/v1/users", json=body, headers=company["headers"]["admin"])
    assert again.status_code == 409


def test_revoked_token_is_refused_on_the_next_request(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]["east_rep"]
    issued = client.post("/api/v1/tokens", json={"name": "script"}, headers=headers).json()
    mine = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/me", headers=mine).status_code == 200
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=mine).status_code == 204
    assert client.get("/api/v1/me", headers=mine).status_code == 401
