"""The home page per role, on SQLite and PostgreSQL: a manager sees the team's deals
whose close date slipped; a rep sees their own work and none of the manager panels."""

from __future__ import annotations

import re
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.db import utcnow
from tests import factories as f
from tests.web.test_lists import CHINESE_DEAL, ListWorld, client, list_world, with_english
from tests.web.test_pages import log_in

__all__ = ["client", "list_world"]  # fixtures shared with the list tests

SLIPPED = "Cath lab renewal 导管室续约"
PULLED_IN = "Pulled-in deal"
OLD_SLIP = "Slipped long ago"
WEST_SLIP = "West slipped deal"


def _move_close_date(session: Session, deal: m.Opportunity, to: date, *, days_ago: int = 0) -> None:
    owner = session.get(User, deal.owner_id)
    assert owner is not None
    crm.update_opportunity(
        session,
        actor=f.actor(owner),
        opportunity=deal,
        changes={"expected_close_date": to},
        occurred_at=utcnow() - timedelta(days=days_ago),
    )


def _slips(session: Session, list_world: ListWorld) -> None:
    """East: one deal slipped 45 days last week, one pulled in, one slipped 120 days ago;
    West: one slipped yesterday."""
    rep = session.get(User, list_world.rep_id)
    west = session.scalars(select(User).where(User.email == "west@example.com")).one()
    assert rep is not None
    start = date(2030, 3, 1)
    slipped = f.opportunity(session, f.actor(rep), name=SLIPPED, expected_close_date=start)
    _move_close_date(session, slipped, start + timedelta(days=45), days_ago=7)
    pulled = f.opportunity(session, f.actor(rep), name=PULLED_IN, expected_close_date=start)
    _move_close_date(session, pulled, start - timedelta(days=10), days_ago=3)
    old = f.opportunity(session, f.actor(rep), name=OLD_SLIP, expected_close_date=start)
    _move_close_date(session, old, start + timedelta(days=30), days_ago=120)
    west_deal = f.opportunity(session, f.actor(west), name=WEST_SLIP, expected_close_date=start)
    _move_close_date(session, west_deal, start + timedelta(days=20), days_ago=1)
    session.commit()


def test_manager_home_shows_slipped_deals_of_the_team(
    client: TestClient, list_world: ListWorld, session: Session
) -> None:
    _slips(session, list_world)
    log_in(client, "boss@example.com")
    home = client.get("/")
    assert home.status_code == 200
    panel = home.text.split('data-testid="slipped-deals"', 1)[1].split("</section>", 1)[0]
    assert SLIPPED in panel
    assert "2030年3月1日" in panel and "2030年4月15日" in panel and "45 天" in panel
    assert "<td>rep</td>" in panel  # the owner's name
    for absent in (PULLED_IN, OLD_SLIP, WEST_SLIP, CHINESE_DEAL):
        assert absent not in panel
    assert 'id="pipeline-chart-data"' in home.text and 'data-testid="won-count"' in home.text

    with_english(client)
    english = client.get("/").text
    assert "Deals whose close date slipped (last 90 days)" in english and "45 days" in english


def test_manager_home_without_slips_says_so(client: TestClient, list_world: ListWorld) -> None:
    log_in(client, "boss@example.com")
    home = client.get("/")
    assert "最近 90 天没有进行中商机的预计成交日期被推迟" in home.text


def test_rep_home_shows_own_work_and_no_manager_panels(
    client: TestClient, list_world: ListWorld, session: Session
) -> None:
    _slips(session, list_world)
    log_in(client, "rep@example.com")
    home = client.get("/")
    assert home.status_code == 200
    assert CHINESE_DEAL in home.text and "回访王主任" in home.text
    assert SLIPPED in home.text  # an own open deal, in "my open deals"
    for manager_only in ('data-testid="slipped-deals"', "pipeline-chart", 'data-testid="won-count"'):
        assert manager_only not in home.text
    assert not re.search(r"echarts", home.text)
