"""Radar pages through the real application on SQLite and PostgreSQL: the inbox with its
filters, a signal's detail and one-click correction, source health, the weight editor,
and who may see what (member → 403, another team's signal → 404).

Signals are seeded through the services: a source, items stored on it, then
``analyse_items``, the same path a poll takes after fetching. Ids are read up front and
the session committed before any request (see tests/web/test_signals_pages.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.db import utcnow
from pathcast.radar import models as m
from pathcast.radar.service import settings, signals, sources
from pathcast.radar.sources import content_hash
from pathcast.web import radar as radar_pages
from tests import factories as f
from tests.web.test_pages import log_in

ADMIN = f.SYSTEM
COMPLAINT = "恒泰精密：交付延迟了两周，产线停了，我们非常不满意，比西门子差多了"
TIP = "小技巧分享：博远咨询的项目复盘模板，按这个步骤就搞定了，非常好用"
WEST = "西岭电子：交付延迟了两周，我们非常不满意"
# A port nothing listens on: polling it fails at once with "unreachable".
DEAD_URL = "http://127.0.0.1:9/feed.xml"


@dataclass
class RadarWorld:
    source_id: int
    other_source_id: int
    complaint_id: int
    tip_id: int
    west_id: int
    maker_id: int


def _item(session: Session, source_id: int, key: str, title: str, text: str) -> int:
    item = m.Item(
        source_id=source_id,
        external_id=key,
        url=f"https://forum.example.com/t/{key}",
        title=title,
        text=text,
        lang="zh",
        content_hash=content_hash(title, text),
        published_at=utcnow(),
        fetched_at=utcnow(),
        extra={},
    )
    session.add(item)
    session.flush()
    return item.id


@pytest.fixture
def world(configured: str, session: Session) -> RadarWorld:
    """East: a rep (Chinese UI) owning a manufacturer and a consultancy, a manager (English
    UI); West: a rep owning another manufacturer; a member; an admin; two sources."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    manager = f.user(session, "manager@example.com", role=Role.manager, team_obj=east)
    auth_service.update_user(session, actor=ADMIN, user=manager, changes={"locale": "en"})
    west_rep = f.user(session, "west@example.com", team_obj=west)
    f.user(session, "member@example.com", role=Role.member)
    f.user(session, "admin@example.com", role=Role.admin)
    maker = f.account(session, name="恒泰精密制造有限公司", industry="制造业", tier="key", owner_id=rep.id)
    f.account(session, name="博远咨询有限公司", industry="咨询", tier="key", owner_id=rep.id)
    f.account(session, name="西岭电子有限公司", industry="制造业", tier="key", owner_id=west_rep.id)
    settings.save_competitor(session, actor=ADMIN, name="西门子", aliases=["Siemens"], products=["S7-1500"])
    forum = sources.create_source(session, actor=ADMIN, name="工控论坛", kind="rss", config={"url": DEAD_URL})
    bids = sources.create_source(session, actor=ADMIN, name="招标网", kind="rss", config={"url": DEAD_URL})
    complaint = _item(session, forum.id, "1", "交付延迟投诉", COMPLAINT)
    tip = _item(session, bids.id, "2", "复盘模板分享", TIP)
    west_item = _item(session, forum.id, "3", "西岭投诉", WEST)
    signals.analyse_items(session, actor=ADMIN, item_ids=[complaint, tip, west_item])
    found = RadarWorld(forum.id, bids.id, complaint, tip, west_item, maker.id)
    session.commit()
    return found


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    app: FastAPI = create_app()
    # Until views.py mounts the radar router, mount it here (once).
    if not any(getattr(route, "path", "") == "/radar" for route in app.routes):
        app.include_router(radar_pages.router)
    with TestClient(app) as test_client:
        yield test_client


def sign_in(client: TestClient, email: str) -> str:
    client.cookies.clear()
    return log_in(client, email)


def rows(html: str) -> list[tuple[str, str]]:
    """``(item id, severity)`` of each inbox row."""
    return re.findall(r'data-testid="radar-row" data-id="(\d+)" data-severity="(P\d)"', html)


def severity_of(session: Session, item_id: int) -> str:
    return str(session.scalar(select(m.Signal.severity).where(m.Signal.item_id == item_id)))


# --- the inbox --------------------------------------------------------------------------------


def test_inbox_is_scoped_sorted_and_filtered(client: TestClient, world: RadarWorld) -> None:
    sign_in(client, "rep@example.com")
    page = client.get("/radar")
    assert page.status_code == 200
    assert "雷达收件箱" in page.text
    shown = rows(page.text)
    ids = [int(item_id) for item_id, _ in shown]
    assert world.complaint_id in ids and world.tip_id in ids
    assert world.west_id not in ids  # another team's account
    assert [level for _, level in shown] == sorted(level for _, level in shown)
    assert "恒泰精密制造有限公司" in page.text and "工控论坛" in page.text

    by_source = client.get("/radar", params={"source_id": world.other_source_id})
    assert [int(i) for i, _ in rows(by_source.text)] == [world.tip_id]
    by_account = client.get("/radar", params={"account_id": world.maker_id})
    assert [int(i) for i, _ in rows(by_account.text)] == [world.complaint_id]
    by_industry = client.get("/radar", params={"industry": "manufacturing"})
    assert [int(i) for i, _ in rows(by_industry.text)] == [world.complaint_id]
    level = dict(rows(page.text))[str(world.complaint_id)]
    by_severity = client.get("/radar", params={"severity": level})
    assert str(world.complaint_id) in dict(rows(by_severity.text))
    assert all(found == level for _, found in rows(by_severity.text))

    other = "P4" if level != "P4" else "P3"
    empty = client.get("/radar", params={"severity": other, "account_id": world.maker_id})
    assert empty.status_code == 200
    assert 'data-testid="radar-empty"' in empty.text
    assert "没有符合筛选条件的信号" in empty.text


def test_inbox_speaks_english_for_a_manager_and_shows_all_to_admin(
    client: TestClient, world: RadarWorld
) -> None:
    sign_in(client, "manager@example.com")
    page = client.get("/radar")
    assert page.status_code == 200
    assert "Radar inbox" in page.text
    sign_in(client, "admin@example.com")
    ids = {int(i) for i, _ in rows(client.get("/radar").text)}
    assert {world.complaint_id, world.tip_id, world.west_id} <= ids


# --- a signal -----------------------------------------------------------------------------------


def test_signal_page_shows_analysis_routing_and_toolbox(client: TestClient, world: RadarWorld) -> None:
    sign_in(client, "rep@example.com")
    page = client.get(f"/radar/signals/{world.complaint_id}")
    assert page.status_code == 200
    assert COMPLAINT in page.text
    assert "交付延迟" in page.text
    assert "得分" in page.text  # the grade's reasons in Chinese
    assert "西门子" in page.text  # a linked entity
    assert 'data-testid="radar-routing"' in page.text
    # the toolbox loads after the page, one panel at a time
    for panel in ("faq-panel", "matrix-panel", "cases-panel"):
        assert f'hx-get="/radar/signals/{world.complaint_id}/{panel}"' in page.text
    matrix = client.get(f"/radar/signals/{world.complaint_id}/matrix-panel")
    assert matrix.status_code == 200
    assert "S7-1500" in matrix.text and 'data-testid="no-matrix"' in matrix.text

    sign_in(client, "manager@example.com")
    english = client.get(f"/radar/signals/{world.complaint_id}")
    assert english.status_code == 200
    assert "score" in english.text and "Toolbox" in english.text


def test_a_correction_changes_the_shown_severity(
    client: TestClient, world: RadarWorld, session: Session
) -> None:
    token = sign_in(client, "rep@example.com")
    before = severity_of(session, world.complaint_id)
    session.commit()
    target = "P4" if before != "P4" else "P1"
    answer = client.post(
        f"/radar/signals/{world.complaint_id}/corrections",
        data={"csrf_token": token, "field": "severity", "value": target},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    page = client.get(f"/radar/signals/{world.complaint_id}")
    assert re.search(rf'data-testid="severity">{target}<', page.text)
    assert dict(rows(client.get("/radar").text))[str(world.complaint_id)] == target

    bad = client.post(
        f"/radar/signals/{world.complaint_id}/corrections",
        data={"csrf_token": token, "field": "severity", "value": "P9"},
    )
    assert bad.status_code == 422
    assert 'data-testid="correction-error"' in bad.text and "value" in bad.text

    forged = client.post(
        f"/radar/signals/{world.complaint_id}/corrections",
        data={"csrf_token": "nope", "field": "severity", "value": "P1"},
    )
    assert forged.status_code == 403


def test_another_teams_signal_is_404_and_member_is_403(client: TestClient, world: RadarWorld) -> None:
    sign_in(client, "rep@example.com")
    assert client.get(f"/radar/signals/{world.west_id}").status_code == 404
    sign_in(client, "member@example.com")
    for path in ("/radar", f"/radar/signals/{world.complaint_id}", "/radar/sources", "/radar/weights"):
        assert client.get(path).status_code == 403, path


# --- sources ------------------------------------------------------------------------------------


def test_sources_show_health_and_admins_pause_and_poll(
    client: TestClient, world: RadarWorld, session: Session
) -> None:
    token = sign_in(client, "admin@example.com")
    page = client.get("/radar/sources")
    assert page.status_code == 200
    assert "工控论坛" in page.text and "招标网" in page.text
    assert "立即轮询" in page.text

    polled = client.post(
        f"/radar/sources/{world.source_id}/poll", data={"csrf_token": token}, follow_redirects=False
    )
    assert polled.status_code == 303
    after = client.get("/radar/sources")
    assert re.search(rf'data-id="{world.source_id}" data-health="unhealthy"', after.text)
    assert 'data-testid="health-reason"' in after.text

    paused = client.post(
        f"/radar/sources/{world.other_source_id}/active",
        data={"csrf_token": token, "active": "0"},
        follow_redirects=False,
    )
    assert paused.status_code == 303
    assert session.scalar(select(m.Source.is_active).where(m.Source.id == world.other_source_id)) is False
    session.commit()

    token = sign_in(client, "rep@example.com")
    read_only = client.get("/radar/sources")
    assert read_only.status_code == 200
    assert "/active" not in read_only.text
    refused = client.post(f"/radar/sources/{world.source_id}/poll", data={"csrf_token": token})
    assert refused.status_code == 403


# --- weights ------------------------------------------------------------------------------------


def test_weights_save_and_a_bad_cell_is_named(client: TestClient, world: RadarWorld) -> None:
    token = sign_in(client, "manager@example.com")
    page = client.get("/radar/weights")
    assert page.status_code == 200
    assert 'name="w.manufacturing.price"' in page.text

    saved = client.post(
        "/radar/weights",
        data={"csrf_token": token, "w.manufacturing.price": "2.5"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    reread = client.get("/radar/weights?saved=1").text
    assert 'data-testid="weights-saved"' in reread
    assert re.search(r'name="w\.manufacturing\.price"[^>]*value="2\.5"', reread)

    bad = client.post(
        "/radar/weights",
        data={"csrf_token": token, "w.manufacturing.price": "abc", "w.consulting.price": "1.5"},
    )
    assert bad.status_code == 422
    assert 'data-cell="industries.manufacturing.weights.price"' in bad.text
    assert "“abc”" in bad.text
    # the other cells are kept as typed, and nothing was saved
    assert re.search(r'name="w\.consulting\.price"[^>]*value="1\.5"', bad.text)
    unchanged = client.get("/radar/weights").text
    assert re.search(r'name="w\.manufacturing\.price"[^>]*value="2\.5"', unchanged)
    assert not re.search(r'name="w\.consulting\.price"[^>]*value="1\.5"', unchanged)

    rep_token = sign_in(client, "rep@example.com")
    read_only = client.get("/radar/weights")
    assert read_only.status_code == 200
    assert 'name="w.manufacturing.price"' not in read_only.text
    assert 'data-testid="weights-readonly"' in read_only.text
    refused = client.post("/radar/weights", data={"csrf_token": rep_token, "w.manufacturing.price": "1"})
    assert refused.status_code == 403
