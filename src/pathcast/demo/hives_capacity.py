"""Demo capacity: the resources the "产线升级 / line upgrade" template needs (two assembly
lines of 60 units a week, a field-engineer team of 8, logistics of 3) and bookings for other
(fictional) work over the coming weeks — a few weeks nearly full, so the promise check on a
demo deal has a bottleneck to explain. Written through ``hives.service.capacity`` (each a
``hive.resource_created`` / ``hive.reservation_made`` event) stamped at the demo's horizon;
every number comes from ``demo.rng``, drawn in a fixed order.

The loader calls ``seed_capacity(demo)`` before the demo hives are created, then
``reserve_for_hive`` for each of them.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from pathcast.demo.context import Demo
from pathcast.hives import models as m
from pathcast.hives.promise import monday
from pathcast.hives.service import capacity

__all__ = ["RESOURCES", "WEEKS", "seed_capacity"]

# name, kind, skill, units per week
RESOURCES: tuple[tuple[str, str, str, float], ...] = (
    ("一号装配线 Assembly line 1", "line", "assembly_line", 60),
    ("二号装配线 Assembly line 2", "line", "assembly_line", 60),
    ("现场工程师组 Field engineers", "team", "field_engineer", 8),
    ("物流车队 Logistics fleet", "team", "logistics", 3),
)
WEEKS = 16
# (from week, to week) after this one where the lines are nearly full: a large export order
BUSY_LINES = (3, 6)
BUSY_FIELD = (8, 9)
OTHER_WORK = {
    "assembly_line": (
        "出口订单 Export order EX-{n}",
        "备件批量生产 Spare-parts batch {n}",
        "返修 Rework lot {n}",
    ),
    "field_engineer": ("售后巡检 Service round {n}", "老客户改造 Retrofit visit {n}"),
    "logistics": ("备件发运 Spare-parts shipment {n}",),
}


def seed_capacity(demo: Demo) -> None:
    """Create the demo resources and the other work booked on them (idempotent by name)."""
    session, actor, at = demo.session, demo.system, demo.horizon
    existing = set(session.scalars(select(m.Resource.name)))
    made: dict[str, list[m.Resource]] = {}
    for name, kind, skill, units in RESOURCES:
        if name in existing:
            continue
        resource = capacity.create_resource(
            session, actor, data={"name": name, "kind": kind, "skill": skill, "capacity_per_week": units}
        )
        made.setdefault(skill, []).append(resource)
    if not made:
        return
    first = monday(demo.today)
    number = 0
    for week_index in range(WEEKS):
        week = first + timedelta(weeks=week_index)
        for skill, resources in made.items():
            for resource in resources:
                load = _load(demo, skill, week_index)
                units = round(resource.capacity_per_week * load * 2) / 2  # half units
                if units <= 0:
                    continue
                number += 1
                note = demo.rng.choice(OTHER_WORK[skill]).format(n=100 + number)
                capacity.reserve(session, actor, resource_id=resource.id, week_start=week, units=units,
                                 note=note, now=at)  # fmt: skip


def _load(demo: Demo, skill: str, week_index: int) -> float:
    """The share of a resource other work takes in a week (drawn; busy weeks nearly full)."""
    draw = demo.rng.random()
    if skill == "assembly_line":
        if BUSY_LINES[0] <= week_index <= BUSY_LINES[1]:
            return 0.75 + 0.2 * draw  # 45–57 of 60: a line-upgrade's 40 a week no longer fits
        return 0.15 + 0.35 * draw
    if skill == "field_engineer":
        if BUSY_FIELD[0] <= week_index <= BUSY_FIELD[1]:
            return 0.6 + 0.2 * draw
        return 0.1 + 0.3 * draw
    return 0.0 if draw < 0.5 else 0.34
