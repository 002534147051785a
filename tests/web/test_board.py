"""The pipeline board page through the real application, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth.models import User
from pathcast.crm import service as crm
from pathcast.events import buffered_events
from tests import factories as f

CHINESE_DEAL = "协和医院 DSA 介入项目"


@dataclass
class World:
    stages: dict[str, int]
    rep_deal: int
    teammate_deal: int
    west_deal: int
    product_id: int
    rep_id: int
    teammate_id: int


@pytest.fixture
def world(configured: str, session: Session) -> World:
    """East: a rep (zh-CN) and a teammate, each with a deal; West: a rep with a deal;
    plus a delivery member who may not use the board."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    mate = f.user(session, "mate@example.com", team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    f.user(session, "member@example.com", role=f.Role.member)
    pipeline = f.pipeline(session)
    stages = {stage.key: stage.id for stage in crm.stages_of(session, pipeline.id)}
    account = f.account(session, name="北京协和医院")
    product = crm.create_record(
        session, actor=f.SYSTEM, spec=crm.SPECS["product"], data={"code": "DSA", "name": "DSA 系统"}
    )
    deal = f.opportunity(
        session,
        f.actor(rep),
        name=CHINESE_DEAL,
        account_id=account.id,
        amount=Decimal(150000),
        expected_close_date=date(2026, 11, 20),
    )
    crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["opportunity_line"],
        data={"opportunity_id": deal.id, "product_id": product.id, "quantity": 1, "unit_price": 150000},
    )
    teammate = f.opportunity(
        session,
        f.actor(mate),
        name="Teammate deal",
        amount=Decimal(20000),
        expected_close_date=date(2026, 8, 1),
    )
    west_deal = f.opportunity(session, f.actor(west_rep), name="West only deal", amount=Decimal(999))
    session.commit()
    return World(stages, deal.id, teammate.id, west_deal.id, product.id, rep.id, mate.id)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def log_in(client: TestClient, email: str = "rep@example.com") -> str:
    """Sign in through the form; returns the session's CSRF token."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    response = client.post(
        "/login",
        data={"email": email, "password": f.PASSWORD, "csrf_token": found.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert meta
    return meta.group(1)


@dataclass
class ColumnView:
    count: int
    cards: list[int]
    more: str | None
    head: str


def columns(html: str) -> dict[str, ColumnView]:
    """The board's columns by stage key: count, card ids, "more" URL and header text."""
    found: dict[str, ColumnView] = {}
    for chunk in html.split('<section class="board-column"')[1:]:
        key = re.search(r'data-testid="column-([a-z_]+)"', chunk)
        count = re.search(r'data-count="(\d+)"', chunk)
        head = re.search(r'<header class="board-column-head">(.*?)</header>', chunk, re.S)
        more = re.search(r'hx-get="(/board/columns/[^"]+)"', chunk)
        assert key and count and head
        found[key.group(1)] = ColumnView(
            count=int(count.group(1)),
            cards=[int(i) for i in re.findall(r'data-testid="card-(\d+)"', chunk)],
            more=more.group(1).replace("&amp;", "&") if more else None,
            head=re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", head.group(1))).strip(),
        )
    return found


def test_board_shows_one_column_per_stage_in_both_languages(client: TestClient, world: World) -> None:
    token = log_in(client)
    page = client.get("/board")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and "销售看板" in page.text
    board = columns(page.text)
    assert list(board) == [
        "lead",
        "qualified",
        "discovery",
        "solution",
        "proposal",
        "negotiation",
        "won",
        "lost",
    ]
    assert board["lead"].cards == [world.teammate_deal, world.rep_deal]  # soonest close first
    assert board["lead"].count == 2
    assert board["lead"].head == "线索 2 个商机 170,000.00 CNY"
    assert board["won"].head == "赢单 0 个商机 无金额"
    assert world.west_deal not in board["lead"].cards, "another team's deal is not on the board"
    # each card: name linking to the deal, account, amount, close date, owner, a move list
    card = page.text.split(f'data-testid="card-{world.rep_deal}"')[1].split("</li>")[0]
    assert f'href="/opportunities/{world.rep_deal}"' in card and CHINESE_DEAL in card
    assert "北京协和医院" in card and "150,000.00 CNY" in card and "2026年11月20日" in card
    assert ">rep</span>" in card and 'aria-label="将“协和医院 DSA 介入项目”移至其他阶段"' in card
    assert f'<option value="{world.stages["lead"]}" disabled>' in card
    assert '<script src="/static/board.js' in page.text and 'href="/static/board.css' in page.text
    config = json.loads(re.findall(r'id="board-config">(.*?)</script>', page.text)[0])
    assert config["messages"]["moved"].startswith("已将")

    client.post("/locale", data={"locale": "en", "csrf_token": token, "next": "/board"})
    english = client.get("/board")
    assert '<html lang="en">' in english.text and "Pipeline board" in english.text
    assert columns(english.text)["lead"].head == "Lead 2 deals 170,000.00 CNY"
    assert columns(english.text)["won"].head == "Won 0 deals no amount"
    assert "20 Nov 2026" in english.text


def test_board_filters_narrow_cards_and_totals(client: TestClient, world: World) -> None:
    log_in(client)
    by_owner = columns(client.get("/board", params={"owner": world.teammate_id}).text)
    assert by_owner["lead"].cards == [world.teammate_deal]
    assert by_owner["lead"].head.endswith("1 个商机 20,000.00 CNY")
    by_product = columns(client.get("/board", params={"product": world.product_id}).text)
    assert by_product["lead"].cards == [world.rep_deal]
    by_quarter = client.get("/board", params={"quarter": "2026-Q3"})
    assert columns(by_quarter.text)["lead"].cards == [world.teammate_deal]
    assert '<option value="2026-Q3" selected>2026年第3季度</option>' in by_quarter.text
    assert columns(client.get("/board", params={"quarter": "2025-Q1"}).text)["lead"].count == 0
    bad = client.get("/board", params={"quarter": "next year", "owner": "x"})
    assert bad.status_code == 400
    assert "“next year”不是有效的季度" in bad.text and "“x”不是可选的值" in bad.text
    assert columns(bad.text)["lead"].count == 2, "bad filters are ignored, not half-applied"
    unknown = client.get("/board", params={"pipeline": "4242"})
    assert unknown.status_code == 400 and "未知的销售流程" in unknown.text


def test_columns_page_by_cursor_and_totals_endpoint(
    client: TestClient, world: World, session: Session
) -> None:
    rep = f.actor(session.get_one(User, world.rep_id))
    with buffered_events(session):
        for number in range(40):
            crm.create_opportunity(
                session,
                actor=rep,
                data={
                    "name": f"Bulk {number}",
                    "amount": 1,
                    "expected_close_date": date(2027, 1, 1 + number % 20),
                },
            )
    session.commit()
    log_in(client)
    lead = columns(client.get("/board").text)["lead"]
    assert lead.count == 42 and len(lead.cards) == 30
    more = lead.more
    assert isinstance(more, str) and more.startswith(f"/board/columns/{world.stages['lead']}?")
    rest = client.get(more, headers={"HX-Request": "true"})
    assert rest.status_code == 200 and "<html" not in rest.text
    rest_ids = [int(i) for i in re.findall(r'data-testid="card-(\d+)"', rest.text)]
    assert len(rest_ids) == 12 and not set(rest_ids) & set(lead.cards)
    assert "hx-get=" not in rest.text, "the last page has no more button"
    # the filters travel with the cursor
    filtered = columns(client.get("/board", params={"quarter": "2027-Q1"}).text)["lead"]
    assert filtered.count == 40 and filtered.more is not None
    assert parse_qs(urlsplit(filtered.more).query)["quarter"] == ["2027-Q1"]
    assert client.get(f"/board/columns/{world.stages['lead']}", params={"cursor": "junk"}).status_code == 422
    assert client.get("/board/columns/99999").status_code == 404

    totals = client.get("/board/totals")
    assert totals.status_code == 200 and totals.headers["content-type"] == "application/json"
    lead_total = totals.json()["stages"][str(world.stages["lead"])]
    assert lead_total == {"count": 42, "count_text": "42 个商机", "amount_text": "170,040.00 CNY"}


def test_a_move_through_the_api_shows_on_the_board_and_refusals_are_localised(
    client: TestClient, world: World
) -> None:
    token = log_in(client)
    moved = client.post(
        f"/api/v1/opportunities/{world.rep_deal}/stage",
        json={"stage_id": world.stages["qualified"]},
        headers={"X-CSRF-Token": token},
    )
    assert moved.status_code == 200, moved.text
    board = columns(client.get("/board").text)
    assert board["qualified"].cards == [world.rep_deal] and board["lead"].cards == [world.teammate_deal]
    refused = client.post(
        f"/api/v1/opportunities/{world.teammate_deal}/stage",
        json={"stage_id": world.stages["qualified"]},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"] == "您可以查看此商机，但不能修改：它属于其他人。"
    hidden = client.post(
        f"/api/v1/opportunities/{world.west_deal}/stage",
        json={"stage_id": world.stages["qualified"]},
        headers={"X-CSRF-Token": token},
    )
    assert hidden.status_code == 404


def test_members_get_a_403_page_and_strangers_the_login(client: TestClient, world: World) -> None:
    assert client.get("/board", follow_redirects=False).headers["location"] == "/login?next=%2Fboard"
    log_in(client, "member@example.com")
    for path in ("/board", f"/board/columns/{world.stages['lead']}", "/board/totals"):
        page = client.get(path)
        assert page.status_code == 403, path
        assert "销售看板仅供销售人员" in page.text
    assert "Teammate deal" not in client.get("/board").text
