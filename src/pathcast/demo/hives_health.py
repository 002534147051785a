"""Demo health for the demo hives, run after the other hive parts seeded theirs: a note of
knowledge in each hive that a colleague of another function used, every open hive's health
computed at demo time, and one sales manager's objective with a key result on mean hive
health and one on on-time delivery. Deterministic (nothing random is drawn) and stamped at
``demo.horizon`` or before.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.demo.context import Demo
from pathcast.hives import models as m
from pathcast.hives.service import contribution, health, okrs

OBJECTIVE = "交付更准时，蜂巢更健康 / On-time delivery, healthy hives"
KNOWLEDGE = (
    "排产与物料齐套核对表 / Production planning and materials checklist",
    "按订单核对关键物料交期、替代料和齐套日期；缺料时先找采购确认替代方案。"
    " / Check lead times, substitutes and the all-materials date per order; ask purchasing first when short.",
)


def _actor(demo: Demo, user_id: int) -> Actor | None:
    user = demo.session.get(User, user_id)
    return Actor.for_user(user) if user is not None else None


def _knowledge(demo: Demo, hive: m.Hive) -> None:
    """The planner shares a checklist; the logistics member uses it a day later."""
    session = demo.session
    if session.scalars(select(m.Contribution.id).where(m.Contribution.hive_id == hive.id)).first():
        return
    by_function = {
        member.function: member.user_id
        for member in session.scalars(
            select(m.Member).where(m.Member.hive_id == hive.id).order_by(m.Member.id.desc())
        )
    }
    author_id, user_id = by_function.get("production_planning"), by_function.get("logistics")
    if author_id is None:
        return
    author = _actor(demo, author_id)
    if author is None:
        return
    added_at = demo.horizon - timedelta(days=6)
    item = contribution.add_knowledge(
        session, author, hive_id=hive.id, title=KNOWLEDGE[0], body=KNOWLEDGE[1], now=added_at
    )
    reader = _actor(demo, user_id) if user_id is not None else None
    if reader is not None:
        contribution.use_knowledge(session, reader, knowledge_id=item.id, now=added_at + timedelta(days=1))


def _manager(demo: Demo) -> Actor | None:
    for sellers in demo.sellers.values():
        for seller in sellers:
            if seller.manager.user_id is not None:
                return seller.manager
    return None


def seed_health(demo: Demo) -> None:
    """Knowledge, every open hive's health at demo time, and a manager's OKRs (idempotent)."""
    session = demo.session
    hives = list(session.scalars(select(m.Hive).order_by(m.Hive.id)))
    for hive in hives:
        _knowledge(demo, hive)
    health.recompute_all(session, demo.system, now=demo.horizon)
    manager = _manager(demo)
    if (
        manager is None
        or session.scalars(select(m.Objective.id).where(m.Objective.title == OBJECTIVE)).first()
    ):
        return
    year = demo.today.year
    objective = okrs.create_objective(
        session, manager, title=OBJECTIVE, period_start=date(year, 1, 1), period_end=date(year, 12, 31),
        now=demo.horizon,
    )  # fmt: skip
    okrs.add_key_result(
        session, manager, objective_id=objective.id, title="蜂巢平均健康度 ≥ 75 / Mean hive health ≥ 75",
        metric="hive_health", target=75, now=demo.horizon,
    )  # fmt: skip
    okrs.add_key_result(
        session, manager, objective_id=objective.id, title="准时交付率 ≥ 90% / 90% delivered on time",
        metric="on_time_delivery", target=0.9, now=demo.horizon,
    )  # fmt: skip
