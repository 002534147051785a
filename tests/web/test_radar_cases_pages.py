"""Case matching through the real application on SQLite and PostgreSQL: the case-study page
(managers edit, reps read, bad input 422 with values kept), the signal and deal panels in
zh and en (404 for a hidden signal or deal, 403 for a member, an empty state when nothing
matches), and the API (/api/v1/radar/case-studies, …/signals/{id}/cases, …/deals/{id}/cases)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.radar.service import cases
from pathcast.web.radar_cases import parse_amount, parse_case_form, parse_products
from tests import factories as f
from tests.radar.test_cases_service import World, build_world
from tests.web.test_pages import log_in

API = "/api/v1/radar"
ADMIN = f.SYSTEM


@pytest.fixture
def world(configured: str, session: Session) -> Iterator[tuple[World, dict[str, dict[str, str]]]]:
    """The service tests' world with people who can sign in (rep: Chinese UI, manager:
    English UI) and a bearer-token header per person."""
    east, west = f.team(session, "East"), f.team(session, "West")
    people = {
        "east_rep": f.user(session, "rep@example.com", team_obj=east),
        "east_manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
        "west_rep": f.user(session, "west@example.com", team_obj=west),
        "member": f.user(session, "member@example.com", role=Role.member),
        "admin": f.user(session, "admin@example.com", role=Role.admin),
    }
    auth_service.update_user(session, actor=ADMIN, user=people["east_manager"], changes={"locale": "en"})
    built = build_world(session, people)
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


def matches(html: str) -> list[tuple[str, str]]:
    """``(kind, id)`` of each match in a panel, best first."""
    return re.findall(r'data-testid="case-match" data-kind="(\w+)" data-id="(\d+)"', html)


# --- parsing the form (no database) -----------------------------------------------------------


def test_parsing_products_and_amounts() -> None:
    assert parse_products("MES Pro\nPLC  Gateway，导管套装、 ;") == ["MES Pro", "PLC Gateway", "导管套装"]
    assert parse_amount("¥ 1,200,000") == 1200000.0
    assert parse_amount("80000元") == 80000.0
    assert parse_amount("  ") is None
    with pytest.raises(ValueError):
        parse_amount("twelve")
    with pytest.raises(ValueError):
        parse_amount("inf")


@given(
    st.dictionaries(
        st.sampled_from(["title", "industry", "products", "amount", "url", "account_id"]), st.text()
    )
)
def test_any_posted_form_parses_without_crashing(form: dict[str, str]) -> None:
    data, errors = parse_case_form(form)
    assert {error.field for error in errors} <= {"amount", "account_id"}
    assert all(name.strip() for name in data["products"])
    assert data["amount"] is None or data["amount"] == data["amount"]  # never NaN
    assert data["account_id"] is None or isinstance(data["account_id"], int)


# --- the case-study page ----------------------------------------------------------------------


def test_manager_adds_edits_and_archives_a_case_study(
    client: TestClient, world: Any, session: Session
) -> None:
    token = sign_in(client, "manager@example.com")
    page = client.get("/radar/cases")
    assert page.status_code == 200 and 'data-testid="case-add-form"' in page.text
    assert "Case studies" in page.text and 'data-testid="no-cases"' in page.text
    added = client.post(
        "/radar/cases",
        data={
            "csrf_token": token,
            "title": "Line upgrade story",
            "industry": "Manufacturing",
            "products": "MES Pro, PLC Gateway",
            "amount": "1,000,000",
            "text": "PLC 通讯协议 problem solved",
            "url": "https://example.com/story",
            "account_id": "",
        },
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    study_id = int(added.headers["location"].rsplit("-", 1)[1])
    listed = client.get("/radar/cases").text
    assert (
        f'id="case-{study_id}"' in listed
        and "Line upgrade story" in listed
        and "MES Pro, PLC Gateway" in listed
    )
    edited = client.post(
        f"/radar/cases/{study_id}",
        data={
            "csrf_token": token,
            "title": "Line upgrade, phase 2",
            "products": "MES Pro",
            "amount": "900000",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert "Line upgrade, phase 2" in client.get("/radar/cases").text
    archived = client.post(
        f"/radar/cases/{study_id}/archive", data={"csrf_token": token}, follow_redirects=False
    )
    assert archived.status_code == 303
    assert f'id="case-{study_id}"' not in client.get("/radar/cases").text


def test_bad_form_comes_back_422_with_values_kept(client: TestClient, world: Any) -> None:
    token = sign_in(client, "manager@example.com")
    refused = client.post(
        "/radar/cases",
        data={
            "csrf_token": token,
            "title": "",
            "amount": "lots",
            "url": "javascript:alert(1)",
            "text": "kept text",
        },
    )
    assert refused.status_code == 422
    assert 'data-testid="error-amount"' in refused.text and "Type a number" in refused.text
    assert 'value="lots"' in refused.text and "kept text" in refused.text
    # the amount is fixed: the service then names the title and the address
    again = client.post(
        "/radar/cases",
        data={"csrf_token": token, "title": "", "amount": "5", "url": "javascript:alert(1)"},
    )
    assert again.status_code == 422
    assert 'data-testid="error-title"' in again.text and 'data-testid="error-url"' in again.text
    assert 'value="javascript:alert(1)"' in again.text
    assert 'href="javascript' not in again.text


def test_rep_reads_but_cannot_add(client: TestClient, world: Any, session: Session) -> None:
    cases.add_case_study(session, actor=ADMIN, data={"title": "协议统一案例", "industry": "manufacturing"})
    session.commit()
    token = sign_in(client, "rep@example.com")
    page = client.get("/radar/cases")
    assert page.status_code == 200
    assert "客户案例" in page.text and "协议统一案例" in page.text
    assert 'data-testid="cases-readonly"' in page.text and 'data-testid="case-add-form"' not in page.text
    refused = client.post("/radar/cases", data={"csrf_token": token, "title": "mine"})
    assert refused.status_code == 403
    assert "mine" not in client.get("/radar/cases").text


def test_member_and_csrf_refusals(client: TestClient, world: Any) -> None:
    token = sign_in(client, "member@example.com")
    assert client.get("/radar/cases").status_code == 403
    assert client.post("/radar/cases", data={"csrf_token": token, "title": "x"}).status_code == 403
    sign_in(client, "manager@example.com")
    assert client.post("/radar/cases", data={"csrf_token": "forged", "title": "x"}).status_code == 403


# --- the panels -------------------------------------------------------------------------------


def test_signal_panel_in_chinese(client: TestClient, world: Any) -> None:
    built: World = world[0]
    sign_in(client, "rep@example.com")
    signal_page = client.get(f"/radar/signals/{built.signal_id}")
    assert f'hx-get="/radar/signals/{built.signal_id}/cases-panel"' in signal_page.text
    panel = client.get(f"/radar/signals/{built.signal_id}/cases-panel")
    assert panel.status_code == 200
    assert 'id="radar-cases-panel"' in panel.text and "相似案例" in panel.text
    found = matches(panel.text)
    assert found[0] == ("won_deal", str(built.won_same))
    assert ("won_deal", str(built.won_west)) not in found
    assert f'href="/opportunities/{built.won_same}"' in panel.text
    assert "赢单" in panel.text and "同行业" in panel.text and "相同产品：MES Pro" in panel.text
    assert re.search(r'data-testid="case-score">\d+%', panel.text)


def test_deal_panel_in_english_excludes_the_deal(client: TestClient, world: Any) -> None:
    built: World = world[0]
    sign_in(client, "manager@example.com")
    deal_page = client.get(f"/opportunities/{built.won_same}")
    assert deal_page.status_code == 200
    assert f'hx-get="/opportunities/{built.won_same}/cases-panel"' in deal_page.text
    panel = client.get(f"/opportunities/{built.open_east}/cases-panel")
    assert panel.status_code == 200 and 'id="cases-panel"' in panel.text
    assert "Similar cases" in panel.text and "Won deal" in panel.text and "same industry" in panel.text
    assert matches(panel.text)[0] == ("won_deal", str(built.won_same))
    own = client.get(f"/opportunities/{built.won_same}/cases-panel").text
    assert ("won_deal", str(built.won_same)) not in matches(own)


def test_hidden_signal_or_deal_is_404_and_member_403(client: TestClient, world: Any) -> None:
    built: World = world[0]
    sign_in(client, "west@example.com")
    assert client.get(f"/radar/signals/{built.signal_id}/cases-panel").status_code == 404
    assert client.get(f"/opportunities/{built.open_east}/cases-panel").status_code == 404
    assert client.get("/opportunities/999999/cases-panel").status_code == 404
    sign_in(client, "member@example.com")
    assert client.get(f"/opportunities/{built.open_east}/cases-panel").status_code == 403
    assert client.get(f"/radar/signals/{built.signal_id}/cases-panel").status_code == 403


def test_panel_empty_state(client: TestClient, world: Any, session: Session) -> None:
    built: World = world[0]
    lonely = f.opportunity(session, built.west_rep, name="孤立商机", amount=1000)
    session.commit()
    sign_in(client, "west@example.com")
    panel = client.get(f"/opportunities/{lonely.id}/cases-panel")
    assert panel.status_code == 200
    assert 'data-testid="no-case-matches"' in panel.text and "暂无相似案例" in panel.text


# --- the API ----------------------------------------------------------------------------------


def test_api_case_studies_crud_and_refusals(client: TestClient, world: Any) -> None:
    headers = world[1]
    created = client.post(
        f"{API}/case-studies",
        json={"title": "API case", "industry": "manufacturing", "products": ["MES Pro"], "amount": 1000000},
        headers=headers["east_manager"],
    )
    assert created.status_code == 201, created.text
    study = created.json()
    assert study["products"] == ["MES Pro"] and study["archived"] is False
    listed = client.get(f"{API}/case-studies", headers=headers["east_rep"])
    assert [row["id"] for row in listed.json()] == [study["id"]]
    changed = client.patch(
        f"{API}/case-studies/{study['id']}", json={"text": "PLC 通讯协议"}, headers=headers["east_manager"]
    )
    assert changed.status_code == 200 and changed.json()["text"] == "PLC 通讯协议"
    assert client.get(f"{API}/case-studies/{study['id']}", headers=headers["west_rep"]).status_code == 200
    # refusals
    rep_add = client.post(f"{API}/case-studies", json={"title": "x"}, headers=headers["east_rep"])
    assert rep_add.status_code == 403 and rep_add.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert client.get(f"{API}/case-studies", headers=headers["member"]).status_code == 403
    bad = client.post(
        f"{API}/case-studies", json={"title": "x", "url": "ftp://example.com"}, headers=headers["admin"]
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"
    negative = client.post(f"{API}/case-studies", json={"title": "x", "amount": -5}, headers=headers["admin"])
    assert negative.status_code == 422
    assert client.get(f"{API}/case-studies/999999", headers=headers["admin"]).status_code == 404
    # archive
    assert client.delete(f"{API}/case-studies/{study['id']}", headers=headers["east_rep"]).status_code == 403
    assert (
        client.delete(f"{API}/case-studies/{study['id']}", headers=headers["east_manager"]).status_code == 204
    )
    assert client.get(f"{API}/case-studies", headers=headers["east_rep"]).json() == []
    everything = client.get(f"{API}/case-studies?include_archived=true", headers=headers["admin"]).json()
    assert everything[0]["archived"] is True


def test_api_matches_for_signal_and_deal(client: TestClient, world: Any) -> None:
    built, headers = world
    found = client.get(f"{API}/signals/{built.signal_id}/cases?top=3", headers=headers["east_rep"])
    assert found.status_code == 200, found.text
    rows = found.json()
    assert 1 <= len(rows) <= 3
    best = rows[0]
    assert best["kind"] == "won_deal" and best["id"] == built.won_same
    assert best["link"] == f"/opportunities/{built.won_same}"
    assert set(best["parts"]) >= {"industry", "products", "text"} and 0 < best["score"] <= 1
    assert all({"zh", "en"} <= set(reason) for reason in best["reasons"])
    deal = client.get(f"{API}/deals/{built.open_east}/cases", headers=headers["east_manager"]).json()
    assert deal[0]["id"] == built.won_same
    assert client.get(f"{API}/deals/{built.open_east}/cases", headers=headers["west_rep"]).status_code == 404
    assert (
        client.get(f"{API}/signals/{built.signal_id}/cases", headers=headers["west_rep"]).status_code == 404
    )
    assert client.get(f"{API}/deals/{built.open_east}/cases", headers=headers["member"]).status_code == 403
    assert (
        client.get(f"{API}/deals/{built.open_east}/cases?top=0", headers=headers["admin"]).status_code == 422
    )
