"""The forecast dashboard on SQLite and PostgreSQL: the distribution per scope, deals ranked
by expected value with the model's suggestion and the rep's override beside it, what moved
it, both languages, stage probabilities said plainly, an empty state, and the refusals.

Deals close "today" so they fall in this month and quarter whatever day the tests run.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth.models import Role, User
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.forecast.models import DealScore
from pathcast.forecast.service import annotations
from tests import factories as f
from tests.web.test_lists import with_english
from tests.web.test_pages import log_in

BIG = "协和医院 DSA 介入项目"
SMALL = "Ruijin CT upgrade"
WEST = "West Coast MR"


@dataclass
class World:
    east_id: int
    west_id: int
    rep_id: int
    rep2_id: int
    big_id: int
    small_id: int


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def world(configured: str, session: Session) -> World:
    """East: a manager and two reps with a deal each (the big one created three days ago);
    West: a rep with a deal. A member and a rep without deals."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    rep2 = f.user(session, "rep2@example.com", team_obj=east)
    f.user(session, "boss@example.com", role=Role.manager, team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    f.user(session, "idle@example.com", team_obj=west)
    f.user(session, "member@example.com", role=Role.member)
    f.user(session, "admin@example.com", role=Role.admin)
    f.pipeline(session)
    today = utcnow().date()
    big = crm.create_opportunity(
        session,
        actor=f.actor(rep),
        data={"name": BIG, "amount": 400000, "expected_close_date": today},
        occurred_at=utcnow() - timedelta(days=3),
    )
    small = f.opportunity(session, f.actor(rep2), name=SMALL, amount=100000, expected_close_date=today)
    f.opportunity(session, f.actor(west_rep), name=WEST, amount=200000, expected_close_date=today)
    session.commit()
    return World(east.id, west.id, rep.id, rep2.id, big.id, small.id)


def chart_data(page: str) -> dict[str, object]:
    found = re.search(r'<script type="application/json" id="forecast-chart-data">(.*?)</script>', page, re.S)
    assert found, "no chart data"
    data: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return data


def section(page: str, testid: str) -> str:
    return page.split(f'data-testid="{testid}"', 1)[1].split("</section>", 1)[0]


def test_manager_sees_the_team_distribution_deals_and_what_moved(client: TestClient, world: World) -> None:
    log_in(client, "boss@example.com")
    page = client.get("/forecast")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>收入预测</h1>" in text
    assert 'data-testid="stage-notice"' in text and "阶段配置的概率" in text  # no model yet, said plainly
    deals = section(text, "forecast-deals")
    assert BIG in deals and SMALL in deals and WEST not in deals
    assert deals.index(BIG) < deals.index(SMALL)  # ranked by expected value
    assert "阶段概率" in deals and "模型建议" not in deals
    assert '<th scope="col">' in deals
    rows = chart_data(text)["rows"]
    assert isinstance(rows, list)
    assert rows[0]["label"] == "团队 East" and {"rep", "rep2", "boss"} <= {row["label"] for row in rows}
    assert all(row["p10"] <= row["p50"] <= row["p90"] for row in rows)
    assert 'role="img"' in text and 'aria-label="收入分布图' in text
    summary = text.split('data-testid="forecast-summary">', 1)[1].split("</p>", 1)[0]
    assert "团队 East" in summary and "90%" in summary
    moved = section(text, "forecast-moved")
    assert "新商机" in moved and BIG in moved and SMALL in moved

    with_english(client)
    english = client.get("/forecast?period=this_month").text
    assert "Revenue forecast" in english and "Stage probability" in english
    assert "What moved it since last week" in english and "New deals" in english
    assert "This month" in english


def test_model_suggestion_and_the_reps_override_are_side_by_side(
    client: TestClient, world: World, session: Session
) -> None:
    # The scoring service writes these rows; a stored score with drivers is what it leaves.
    session.add(
        DealScore(
            opportunity_id=world.big_id,
            model_version=2,
            scored_at=utcnow(),
            probability=0.72,
            drivers=[
                {
                    "feature": "views",
                    "value": 3,
                    "points": 12,
                    "en": "3 views: +12 pts",
                    "zh": "3 次浏览：+12 分",
                }
            ],
            is_latest=True,
        )
    )
    session.flush()
    rep = session.get(User, world.rep2_id)
    assert rep is not None
    annotations.annotate(
        session,
        actor=f.actor(rep),
        opportunity_id=world.small_id,
        note="该客户正参与卫健委集采评审",
        override_probability=0.2,
    )
    session.commit()
    log_in(client, "boss@example.com")
    text = client.get("/forecast").text
    deals = section(text, "forecast-deals")
    assert "模型建议" in deals and "3 次浏览：+12 分" in deals and "72%" in deals
    assert 'data-testid="override">20%' in deals
    assert "计入销售调整后" in text
    assert "1 个商机尚无模型评分" in text


def test_rep_sees_only_their_own_deals_and_may_not_pick_another_scope(
    client: TestClient, world: World
) -> None:
    log_in(client, "rep@example.com")
    text = client.get("/forecast").text
    deals = section(text, "forecast-deals")
    assert BIG in deals and SMALL not in deals and WEST not in deals
    options = re.findall(
        r'<option value="([^"]+)"', text.split('name="scope"', 1)[1].split("</select>", 1)[0]
    )
    assert options == [f"rep:{world.rep_id}"]
    for scope in (f"team:{world.east_id}", "company", f"rep:{world.rep2_id}"):
        refused = client.get(f"/forecast?scope={scope}")
        assert refused.status_code == 403, scope
        assert "您无权查看" in refused.text


def test_manager_may_not_see_another_team(client: TestClient, world: World) -> None:
    log_in(client, "boss@example.com")
    assert client.get(f"/forecast?scope=team:{world.west_id}").status_code == 403
    assert client.get("/forecast?scope=company").status_code == 403
    assert client.get("/forecast?scope=galaxy").status_code == 422


def test_members_get_the_403_page(client: TestClient, world: World) -> None:
    log_in(client, "member@example.com")
    page = client.get("/forecast")
    assert page.status_code == 403
    assert "<html" in page.text


def test_a_rep_without_deals_sees_an_empty_state(client: TestClient, world: World) -> None:
    log_in(client, "idle@example.com")
    page = client.get("/forecast")
    assert page.status_code == 200
    assert 'data-testid="forecast-empty"' in page.text and "本期间没有商机" in page.text
    assert 'id="forecast-chart"' not in page.text


def test_admin_sees_the_company_every_team_and_person(client: TestClient, world: World) -> None:
    log_in(client, "admin@example.com")
    text = client.get("/forecast?period=this_month").text
    rows = chart_data(text)["rows"]
    assert isinstance(rows, list)
    labels = [row["label"] for row in rows]
    assert labels[:3] == ["全公司", "团队 East", "团队 West"] and {"rep", "rep2", "west", "idle"} <= set(
        labels
    )
    company = rows[0]
    assert company["p10"] <= company["p50"] <= company["p90"] <= 700000
    deals = section(text, "forecast-deals")
    assert BIG in deals and SMALL in deals and WEST in deals
    west_page = client.get(f"/forecast?scope=team:{world.west_id}").text
    assert WEST in section(west_page, "forecast-deals") and BIG not in section(west_page, "forecast-deals")
