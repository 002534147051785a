"""Default routing of graded signals: P1 → owner and delivery managers, P2 → owner, once each."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role
from pathcast.automation.models import Notification
from pathcast.events import Event
from pathcast.radar import models as m
from pathcast.radar.service import routing, signals, sources
from tests import factories

ADMIN = factories.SYSTEM


@pytest.fixture
def setup(session: Session) -> dict[str, Any]:
    """An owned manufacturer, two delivery managers (one on the account's team), a source."""
    owner = factories.user(session, "owner@example.com", role=Role.rep, password=None)
    on_team = factories.user(session, "dm-team@example.com", role=Role.member, password=None)
    elsewhere = factories.user(session, "dm-other@example.com", role=Role.member, password=None)
    plans = positions.ensure_default_positions(session, actor=ADMIN)
    for user in (on_team, elsewhere):
        positions.assign_position(session, user=user, position=plans["delivery_manager"], actor=ADMIN)
    account = factories.account(session, name="恒泰精密制造有限公司", industry="制造业", owner_id=owner.id)
    source = sources.create_source(
        session, actor=ADMIN, name="forum", kind="rss", config={"url": "http://127.0.0.1:9/feed.xml"}
    )
    return {
        "owner": owner,
        "on_team": on_team,
        "elsewhere": elsewhere,
        "account": account,
        "source": source,
        "plans": plans,
    }


def _signal(session: Session, setup: dict[str, Any], key: str, severity: str) -> int:
    """An analysed item about the account, its severity set by a (system) correction."""
    item = m.Item(
        source_id=setup["source"].id,
        external_id=key,
        title=f"帖子 {key}",
        text="恒泰精密：交付延迟了两周，非常不满意",
        content_hash=key.ljust(64, "0"),
        fetched_at=setup["source"].created_at,
        extra={},
    )
    session.add(item)
    session.flush()
    signals.analyse_item(session, item=item, actor=ADMIN)
    signal = session.get(m.Signal, item.id)
    assert signal is not None and signal.account_id == setup["account"].id
    if signal.severity != severity:
        signals.correct_signal(session, actor=ADMIN, item_id=item.id, field="severity", value=severity)
    return item.id


def _notified(session: Session, user_id: int) -> int:
    return len(session.scalars(select(Notification).where(Notification.user_id == user_id)).all())


def test_p1_reaches_the_owner_and_every_delivery_manager_when_the_team_has_none(
    session: Session, setup: dict[str, Any]
) -> None:
    item_id = _signal(session, setup, "a", "P1")
    report = routing.route_signal(session, item_id=item_id, actor=ADMIN)
    assert sorted(report.notified) == sorted([setup["owner"].id, setup["on_team"].id, setup["elsewhere"].id])
    events = session.scalars(select(Event).where(Event.type == "radar.signal_routed")).all()
    assert {e.payload["reason"] for e in events} == {"account_owner", "delivery_manager"}
    assert all(e.entity == "radar_item" and e.entity_id == str(item_id) for e in events)
    # idempotent per (item, person)
    again = routing.route_signal(session, item_id=item_id, actor=ADMIN)
    assert again.notified == [] and len(again.already) == 3
    assert _notified(session, setup["owner"].id) == 1


def test_p1_prefers_the_account_teams_delivery_manager(session: Session, setup: dict[str, Any]) -> None:
    positions.add_account_team_member(
        session,
        account_id=setup["account"].id,
        user=setup["on_team"],
        position=setup["plans"]["delivery_manager"],
        actor=ADMIN,
    )
    item_id = _signal(session, setup, "b", "P1")
    report = routing.route_signal(session, item_id=item_id, actor=ADMIN)
    assert sorted(report.notified) == sorted([setup["owner"].id, setup["on_team"].id])
    assert _notified(session, setup["elsewhere"].id) == 0


def test_p2_reaches_the_owner_and_p3_nobody(session: Session, setup: dict[str, Any]) -> None:
    p2 = _signal(session, setup, "c", "P2")
    p3 = _signal(session, setup, "d", "P3")
    reports = {r.item_id: r for r in routing.route_pending(session, actor=ADMIN, item_ids=[p2, p3])}
    assert reports[p2].notified == [setup["owner"].id]
    assert p3 not in reports
    assert routing.route_signal(session, item_id=p3, actor=ADMIN).notified == []
    note = session.scalars(select(Notification).where(Notification.user_id == setup["owner"].id)).one()
    assert note.title.startswith("【雷达 P2】") and note.link == f"/radar/signals/{p2}"
