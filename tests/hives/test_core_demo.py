"""The core demo seed on SQLite and PostgreSQL: on a small company with three won deals of
industrial-automation customers, ``create_hives`` makes the template, the enabled rule and
three hives (one late on its promise and at risk), everything stamped before the horizon,
and does nothing the second time."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role
from pathcast.automation.models import Rule
from pathcast.crm import service as crm
from pathcast.demo.context import Demo
from pathcast.demo.hives_core import RULE, create_hives
from pathcast.demo.vocabulary import AUTOMATION
from pathcast.events import Event
from pathcast.hives import models as m
from pathcast.hives.service.hives import members_of
from tests import factories as f

TODAY = date(2025, 6, 30)


def small_company(session: Session) -> Demo:
    demo = Demo(session=session, rng=random.Random(7), today=TODAY, system=f.SYSTEM)
    admin = f.user(session, "admin@demo.example", role=Role.admin)
    demo.admin = f.actor(admin)
    held = positions.ensure_default_positions(session, actor=f.SYSTEM)
    for key, position_keys in {
        "delivery": ("delivery_manager", "production_planner"),
        "logistics": ("logistics",),
        "it": ("implementation_director",),
        "success": ("csm",),
    }.items():
        user = f.user(session, f"{key}@demo.example", role=Role.member)
        for position_key in position_keys:
            positions.assign_position(session, user=user, position=held[position_key], actor=f.SYSTEM)
        demo.members[key] = f.actor(user)
    rep = f.user(session, "rep@demo.example")
    f.pipeline(session)
    for number in range(3):
        account = f.account(session, name=f"自动化客户 {number}", industry=AUTOMATION, owner_id=rep.id)
        deal = f.opportunity(session, f.SYSTEM, account_id=account.id, owner_id=rep.id, name=f"产线 {number}")
        won = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}["won"]
        crm.change_stage(
            session,
            actor=f.SYSTEM,
            opportunity=deal,
            to_stage_id=won.id,
            occurred_at=datetime(2025, 5, 1 + number, 3, 0, tzinfo=UTC),
        )
    session.flush()
    return demo


def test_the_demo_hives_rule_and_template(session: Session) -> None:
    demo = small_company(session)
    create_hives(demo)
    hives = list(session.scalars(select(m.Hive).order_by(m.Hive.start_date)))
    assert len(hives) == 3 and all(hive.opportunity_id for hive in hives)
    late = hives[0]
    assert late.start_date == TODAY - timedelta(days=30)
    assert late.status == "at_risk" and late.forecast_finish is not None and late.promised_date is not None
    assert late.forecast_finish > late.promised_date
    on_track = hives[1]
    assert on_track.status == "active" and on_track.forecast_finish is not None
    assert on_track.promised_date is not None and on_track.forecast_finish <= on_track.promised_date
    done = session.scalars(
        select(m.Task.key).where(m.Task.hive_id == on_track.id, m.Task.status == "done")
    ).all()
    assert set(done) == {"kickoff", "production_plan", "site_survey"}
    functions = {member.function for member in members_of(session, late.id)}
    assert {"sales", "delivery", "logistics", "it_implementation", "customer_success"} <= functions
    rule = session.scalars(select(Rule).where(Rule.name == RULE[0])).one()
    assert rule.is_enabled
    # (the template's own event is stamped when the template is saved, like the demo rules')
    hive_events = session.scalars(select(Event).where(Event.entity.in_(["hive", "hive_task"]))).all()
    assert hive_events and all(event.occurred_at <= demo.horizon for event in hive_events)
    assert any(event.type == "hive.risk_alert" for event in hive_events)
    create_hives(demo)
    assert len(session.scalars(select(m.Hive.id)).all()) == 3
