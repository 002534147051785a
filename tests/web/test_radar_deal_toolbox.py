"""The deal page's response toolbox on SQLite and PostgreSQL: the matrix rows for the
competitors a deal's text names, a cited draft for the customer's question (never stored
or sent), and the refusals (a deal the viewer may not read is a 404, a member a 403)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth.models import Role
from pathcast.radar.service import knowledge, matrix, settings
from tests import factories as f
from tests.radar.test_cases_service import World, _deal, build_world
from tests.web.test_pages import log_in

ADMIN = f.SYSTEM


@pytest.fixture
def world(configured: str, session: Session) -> Iterator[tuple[World, int]]:
    east, west = f.team(session, "East"), f.team(session, "West")
    people = {
        "east_rep": f.user(session, "rep@example.com", team_obj=east),
        "east_manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
        "west_rep": f.user(session, "west@example.com", team_obj=west),
        "member": f.user(session, "member@example.com", role=Role.member),
        "admin": f.user(session, "admin@example.com", role=Role.admin),
    }
    built = build_world(session, people)
    siemens = settings.save_competitor(
        session, actor=ADMIN, name="西门子", aliases=["Siemens"], products=["S7-1500"]
    )
    matrix.set_row(
        session, ADMIN, competitor_id=siemens.id, product="PLC Gateway", criterion="通讯协议",
        ours="Modbus TCP、Profinet、OPC UA", theirs="Profinet 为主", advantage="ours",
    )  # fmt: skip
    knowledge.add_qa(
        session, ADMIN, question="网关支持哪些PLC通讯协议？", answer="支持 Modbus TCP、Profinet 和 OPC UA。"
    )
    deal = _deal(
        session, built.east_rep, name="恒泰三期", account_id=built.maker_id, product_ids=[],
        amount=300000, description="客户在比较西门子 S7-1500 方案", won=False,
    )  # fmt: skip
    session.commit()
    yield built, deal


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_toolbox_shows_the_named_competitor_and_drafts_a_cited_answer(
    client: TestClient, world: tuple[World, int]
) -> None:
    _built, deal = world
    log_in(client, "rep@example.com")
    page = client.get(f"/opportunities/{deal}")
    assert f'hx-get="/opportunities/{deal}/toolbox-panel"' in page.text
    panel = client.get(f"/opportunities/{deal}/toolbox-panel")
    assert panel.status_code == 200
    assert 'data-testid="deal-matrix-competitor"' in panel.text and "西门子" in panel.text
    assert "Profinet 为主" in panel.text
    assert 'data-testid="deal-faq-draft"' not in panel.text  # nothing asked yet
    asked = client.get(f"/opportunities/{deal}/toolbox-panel", params={"q": "支持Profinet协议吗？"})
    assert asked.status_code == 200
    assert 'data-testid="deal-faq-draft"' in asked.text and "草稿" in asked.text
    assert "Modbus TCP" in asked.text


def test_the_toolbox_is_refused_outside_the_viewers_deals(
    client: TestClient, world: tuple[World, int], session: Session
) -> None:
    built, deal = world
    log_in(client, "west@example.com")
    assert client.get(f"/opportunities/{deal}/toolbox-panel").status_code == 404
    assert client.get(f"/opportunities/{built.won_same}/toolbox-panel").status_code == 404
    client.cookies.clear()
    log_in(client, "member@example.com")
    assert client.get(f"/opportunities/{deal}/toolbox-panel").status_code == 403


def test_text_matrix_links_competitors_by_alias(world: tuple[World, int], session: Session) -> None:
    built: Any = world[0]
    found = matrix.text_matrix(session, built.east_rep, "The customer is comparing us with Siemens")
    assert found.competitors == ["西门子"] and [row.criterion for row in found.rows] == ["通讯协议"]
    assert matrix.text_matrix(session, built.east_rep, "no competitor here").competitors == []
