"""Behaviour triggers, read incrementally from the signals tables: who may be counted (identity,
consent, opt-out), what counts (asset, dwell, kind), the window, and one fire per fresh set."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.automation.models import BehaviourHit, EngineCursor
from pathcast.db import utcnow
from pathcast.signals import models as sm
from tests import factories as f
from tests.automation.engine_support import FakeClock, make_rule, run_engine, runs_of

_keys = count(1)
TAG = {"type": "tag", "target": "contact", "tag": "高意向"}
PRICING = {
    "trigger": {
        "type": "behaviour",
        "subject": "contact",
        "event": "view",
        "asset": {"key": "pricing", "name": "DSA介入耗材对比表"},
        "count_at_least": 3,
        "within": "P7D",
        "min_dwell_seconds": 90,
    },
    "actions": [TAG],
}


class Site:
    """A tracked site with one document, and a visitor per person."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.site = sm.Site(key=f"site-{next(_keys)}", name="官网")
        session.add(self.site)
        session.flush()
        self.assets = {
            key: sm.Asset(site_id=self.site.id, key=key, name=name, kind="document")
            for key, name in (("pricing", "DSA介入耗材对比表"), ("case", "案例集"))
        }
        session.add_all(self.assets.values())
        session.flush()

    def visitor(self, contact_id: int | None, *, consent: bool = True, opted_out: bool = False) -> sm.Visitor:
        now = utcnow()
        visitor = sm.Visitor(
            site_id=self.site.id, key=f"v-{next(_keys)}", first_seen_at=now, last_seen_at=now
        )
        self.session.add(visitor)
        self.session.flush()
        if contact_id is not None:
            self.session.add(
                sm.IdentityLink(
                    visitor_id=visitor.id,
                    contact_id=contact_id,
                    method="manual",
                    linked_at=now,
                    linked_by="test",
                )
            )
            if self.session.get(sm.ConsentState, contact_id) is None:
                self.session.add(
                    sm.ConsentState(
                        contact_id=contact_id,
                        deep_interactions=3 if consent else 0,
                        crossed_at=now if consent else None,
                        opted_out_at=now if opted_out else None,
                    )
                )
            self.session.flush()
        return visitor

    def view(self, visitor: sm.Visitor, at: datetime, *, dwell: int = 120, asset: str = "pricing") -> sm.View:
        view = sm.View(
            site_id=self.site.id,
            key=f"view-{next(_keys)}",
            visitor_id=visitor.id,
            asset_id=self.assets[asset].id,
            started_at=at,
            last_hit_at=at + timedelta(seconds=dwell),
            dwell_ms=dwell * 1000,
        )
        self.session.add(view)
        self.session.flush()
        return view


def contact(session: Session, name: str = "王主任") -> Any:
    account = f.account(session, name=f"{name}的医院")
    return f.contact(session, name=name, email=f"{name.encode().hex()}@h.example", account_id=account.id)


def later() -> FakeClock:
    # Views count from the rule's enabling (real time, now): the fake clock runs ahead, so that
    # views stamped days before the clock's "now" still come after the enabling.
    return FakeClock(utcnow() + timedelta(days=30))


def test_three_long_views_in_a_week_fire_once_per_fresh_three(session: Session, db_url: str) -> None:
    clock = later()
    rule = make_rule(session, PRICING)
    site = Site(session)
    wang = contact(session)
    visitor = site.visitor(wang.id)

    def read_again(days: float = 0, minutes: float = 0) -> sm.View:
        # A view a few minutes ago, as the visitor reads; the engine then takes its turn.
        clock.advance(days=days, minutes=minutes)
        view = site.view(visitor, clock.now - timedelta(minutes=5))
        clock.advance(minutes=1)
        run_engine(session, db_url, clock)
        return view

    read_again()
    read_again(days=2)
    assert runs_of(session, rule) == []
    third = read_again(days=2)
    [run] = runs_of(session, rule)
    assert (run.subject_entity, run.subject_id) == ("contact", str(wang.id))
    assert run.reason == f"contact #{wang.id} viewed “DSA介入耗材对比表” 3 times within P7D (each ≥ 90 s)"
    assert run.status == "done" and run.context["window_until"] == third.started_at.isoformat()
    # A fourth view does not fire again: the fire consumed the three it counted.
    read_again(minutes=30)
    assert len(runs_of(session, rule)) == 1
    read_again(minutes=30)
    read_again(minutes=30)
    assert len(runs_of(session, rule)) == 2


def test_views_spread_wider_than_the_window_do_not_fire(session: Session, db_url: str) -> None:
    clock = later()
    rule = make_rule(session, PRICING)
    site = Site(session)
    visitor = site.visitor(contact(session).id)
    for days in (19, 11, 3):
        site.view(visitor, clock.now - timedelta(days=days))
    run_engine(session, db_url, clock)
    assert runs_of(session, rule) == []
    assert session.scalar(select(func.count()).select_from(BehaviourHit)) == 3


def test_short_views_count_once_they_grow_past_the_minimum(session: Session, db_url: str) -> None:
    clock = later()
    rule = make_rule(session, PRICING)
    site = Site(session)
    visitor = site.visitor(contact(session).id)
    growing = site.view(visitor, clock.now - timedelta(hours=5), dwell=30)
    site.view(visitor, clock.now - timedelta(hours=4))
    site.view(visitor, clock.now - timedelta(hours=3), asset="case")
    run_engine(session, db_url, clock)
    assert session.scalar(select(func.count()).select_from(BehaviourHit)) == 1
    # Heartbeats arrive: dwell grows past 90 s and last_hit_at moves, so the view is read again.
    clock.advance(minutes=1)
    growing.dwell_ms, growing.last_hit_at = 150_000, clock.now - timedelta(seconds=30)
    site.view(visitor, clock.now - timedelta(minutes=3))
    run_engine(session, db_url, clock)
    assert len(runs_of(session, rule)) == 1
    # Further heartbeats re-read the view without counting it twice.
    clock.advance(minutes=1)
    growing.dwell_ms, growing.last_hit_at = 200_000, clock.now - timedelta(seconds=20)
    clock.advance(seconds=30)
    run_engine(session, db_url, clock)
    assert session.scalar(select(func.count()).select_from(BehaviourHit)) == 3
    cursor = session.get(EngineCursor, "signal_views")
    assert cursor is not None and cursor.position_at is not None and cursor.position_at > growing.last_hit_at


def test_only_consenting_identified_contacts_count(session: Session, db_url: str) -> None:
    clock = later()
    rule = make_rule(session, PRICING)
    site = Site(session)
    anonymous = site.visitor(None)
    before_threshold = site.visitor(contact(session, "李医生").id, consent=False)
    opted_out = site.visitor(contact(session, "赵护士长").id, opted_out=True)
    for visitor in (anonymous, before_threshold, opted_out):
        for hours in (5, 4, 3):
            site.view(visitor, clock.now - timedelta(hours=hours))
    run_engine(session, db_url, clock)
    assert runs_of(session, rule) == []


def test_account_windows_gather_the_accounts_contacts_without_naming_them(
    session: Session, db_url: str
) -> None:
    clock = later()
    ir: dict[str, Any] = {
        "trigger": {**PRICING["trigger"], "subject": "account", "min_dwell_seconds": None},
        "actions": [{"type": "tag", "target": "account", "tag": "采购评估中"}],
    }
    rule = make_rule(session, ir)
    site = Site(session)
    account = f.account(session, name="同一家医院")
    first = f.contact(session, name="甲", email="a@h.example", account_id=account.id)
    second = f.contact(session, name="乙", email="b@h.example", account_id=account.id)
    site.view(site.visitor(first.id, consent=False), clock.now - timedelta(hours=3), dwell=5)
    site.view(site.visitor(second.id, consent=False), clock.now - timedelta(hours=2), dwell=5)
    site.view(site.visitor(second.id, consent=False), clock.now - timedelta(hours=1), dwell=5)
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert (run.subject_entity, run.subject_id) == ("account", str(account.id))


def test_downloads_are_read_from_the_hits(session: Session, db_url: str) -> None:
    clock = later()
    ir = {
        "trigger": {
            "type": "behaviour",
            "event": "download",
            "asset": {"key": "case"},
            "count_at_least": 2,
            "within": "P1D",
        },
        "actions": [TAG],
    }
    rule = make_rule(session, ir)
    site = Site(session)
    visitor = site.visitor(contact(session).id)
    for minutes in (50, 20):
        at = clock.now - timedelta(minutes=minutes)
        session.add(
            sm.Hit(
                site_id=site.site.id,
                visitor_id=visitor.id,
                kind="download",
                asset_id=site.assets["case"].id,
                occurred_at=at,
                received_at=at,
            )
        )
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.reason.startswith("contact #") and "downloaded “案例集” 2 times within P1D" in run.reason


def test_a_backlog_is_read_in_bounded_batches_without_missing_a_view(session: Session) -> None:
    from pathcast.automation.engine.behaviour import process_behaviour
    from pathcast.automation.engine.catalog import load_rules, load_stages
    from pathcast.automation.engine.matcher import RuleIndex

    clock = later()
    make_rule(session, {**PRICING, "trigger": {**PRICING["trigger"], "count_at_least": 50}})
    site = Site(session)
    visitor = site.visitor(contact(session).id)
    for minutes in range(7, 0, -1):
        site.view(visitor, clock.now - timedelta(minutes=minutes * 10))
    index = RuleIndex(load_rules(session), load_stages(session))
    process_behaviour(session, index=index, now=clock.now, batch_size=2)
    assert session.scalar(select(func.count()).select_from(BehaviourHit)) == 7
    cursor = session.get(EngineCursor, "signal_views")
    assert cursor is not None and cursor.position == 0 and cursor.position_at is not None
