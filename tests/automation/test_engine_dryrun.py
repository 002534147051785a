"""Dry-run on history: plausible fires over the demo company's past, with reasons, conditions as
of each event, waits judged by what happened next, and actions described; nothing written. Then
enabling the rule fires on new events only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.automation.engine.dryrun import dry_run
from pathcast.automation.ir import RuleIR
from pathcast.crm import service as crm
from pathcast.db import Base
from pathcast.events import Event
from tests import factories as f
from tests.automation.engine_support import FakeClock, make_rule, run_engine, runs_of
from tests.demo.conftest import loaded_demo, rolled_back_session

SINCE = datetime(2020, 1, 1, tzinfo=UTC)
UNTIL = datetime(2025, 7, 1, tzinfo=UTC)
KICK_OFF = {
    "trigger": {"type": "record_event", "event": "opportunity.won"},
    "conditions": [{"field": "account.tier", "op": "in", "value": ["strategic", "key"]}],
    "actions": [
        {"type": "notify", "recipients": [{"kind": "role", "value": "实施总监"}]},
        {"type": "create_task", "assignee": {"kind": "relation", "value": "owner"}, "title": "交付启动会"},
    ],
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small demo company per engine, shared by this module's read-only tests."""
    with loaded_demo(request, tmp_path_factory, "dryrun") as loaded:
        yield loaded.url


@pytest.fixture
def demo(demo_url: str) -> Iterator[Session]:
    with rolled_back_session(demo_url) as session:
        yield session


def tomorrow() -> datetime:
    """The end of every window here: the demo's history runs up to today."""
    return datetime.now(UTC) + timedelta(days=1)


def row_counts(session: Session) -> dict[str, int]:
    return {
        table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def test_dry_run_over_the_demo_lists_plausible_fires_and_writes_nothing(demo: Session) -> None:
    before = row_counts(demo)
    fires = dry_run(demo, ir=RuleIR.model_validate(KICK_OFF), since=SINCE, until=tomorrow(), limit=200)
    wins = demo.scalars(select(Event).where(Event.type == "opportunity.won")).all()
    assert 0 < len(fires) <= len(wins)
    for fire in fires:
        assert "moved to 赢单 (won)" in fire.reason
        assert fire.subject_entity == "opportunity" and fire.event_id in {e.id for e in wins}
        assert fire.conditions[0].startswith("account.tier = ") and fire.conditions[0].endswith(": yes)")
        notify, task = fire.actions
        assert notify.description == "notify role:实施总监 via in_app"
        assert notify.detail["status"] == "done" and notify.detail["users"]
        assert task.description == "create the task “交付启动会” for relation:owner"
        assert task.detail["owner"].endswith("@demo.pathcast.dev")
    assert [fire.at for fire in fires] == sorted(fire.at for fire in fires)
    demo.expire_all()
    assert row_counts(demo) == before


def test_dry_run_judges_waits_by_what_happened_next(demo: Session) -> None:
    ir = RuleIR.model_validate(
        {
            "trigger": {"type": "record_changed", "entity": "opportunity", "field": "stage", "to": "报价"},
            "wait": {"duration": "P30D", "unless": [{"event": "activity.created"}]},
            "actions": [
                {
                    "type": "create_task",
                    "assignee": {"kind": "relation", "value": "owner"},
                    "title": "跟进报价",
                }
            ],
        }
    )
    fires = dry_run(demo, ir=ir, since=SINCE, until=tomorrow())
    assert fires and all(fire.wait == "wait P30D unless activity.created" for fire in fires)
    stopped = [fire for fire in fires if fire.stopped_by]
    assert stopped, "some deal had an activity within 30 days of its proposal"
    for fire in stopped:
        assert fire.stopped_by is not None and fire.stopped_by.startswith("activity.created on activity #")


def test_dry_run_replays_behaviour_and_schedules(demo: Session) -> None:
    active = RuleIR.model_validate(
        {
            "trigger": {"type": "behaviour", "subject": "account", "count_at_least": 3, "within": "P7D"},
            "actions": [{"type": "tag", "target": "account", "tag": "活跃"}],
        }
    )
    fires = dry_run(demo, ir=active, since=SINCE, until=tomorrow())
    assert fires and all(fire.subject_entity == "account" for fire in fires)
    assert all(" viewed 3 times within P7D, last “" in fire.reason for fire in fires)
    weekly = RuleIR.model_validate(
        {
            "trigger": {"type": "schedule", "cron": "0 9 * * 1", "timezone": "Asia/Shanghai"},
            "actions": [{"type": "notify", "recipients": [{"kind": "role", "value": "manager"}]}],
        }
    )
    mondays = dry_run(demo, ir=weekly, since=datetime(2025, 6, 1, tzinfo=UTC), until=UNTIL)
    shanghai = ZoneInfo("Asia/Shanghai")
    assert [fire.at.astimezone(shanghai).day for fire in mondays] == [2, 9, 16, 23, 30]
    assert {fire.at.astimezone(shanghai).weekday() for fire in mondays} == {0}
    assert mondays[0].reason == "schedule “0 9 * * 1” (Asia/Shanghai) at 2025-06-02 09:00"


def test_the_limit_caps_the_listing(demo: Session) -> None:
    ir = RuleIR.model_validate({**KICK_OFF, "conditions": []})
    assert len(dry_run(demo, ir=ir, since=SINCE, until=tomorrow(), limit=2)) == 2


def test_after_a_dry_run_enabling_fires_on_new_events_only(session: Session, db_url: str) -> None:
    f.pipeline(session)
    stages: dict[str, Any] = {}
    past = datetime.now(UTC) - timedelta(days=60)
    deals = []
    for name in ("去年赢单", "上月赢单"):
        # History recorded as it happened: the account and the deal exist before the win.
        account = crm.create_record(
            session,
            actor=f.SYSTEM,
            spec=crm.SPECS["account"],
            data={"name": name, "tier": "key"},
            occurred_at=past - timedelta(days=30),
        )
        deal = crm.create_opportunity(
            session,
            actor=f.SYSTEM,
            data={"name": name, "account_id": account.id},
            occurred_at=past - timedelta(days=20),
        )
        stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
        crm.change_stage(
            session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id, occurred_at=past
        )
        deals.append(deal)
    fires = dry_run(
        session, ir=RuleIR.model_validate(KICK_OFF), since=past - timedelta(days=1), until=tomorrow()
    )
    assert [fire.subject_id for fire in fires] == [str(deal.id) for deal in deals]
    rule = make_rule(session, KICK_OFF)
    clock = FakeClock()
    run_engine(session, db_url, clock)
    assert runs_of(session, rule) == []
    fresh = f.opportunity(
        session, f.SYSTEM, name="今天赢单", account_id=f.account(session, name="新客户", tier="strategic").id
    )
    crm.change_stage(session, actor=f.SYSTEM, opportunity=fresh, to_stage_id=stages["won"].id)
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.subject_id == str(fresh.id) and run.status == "done"
