"""The demo's task hives, in the order the parts need each other: capacity first (the
promise check and "reserve from plan" read it), then the template, the rule and the hives,
their bookings, their boards, their message archives, and last their health and a
manager's OKRs (which read all of the rest)."""

from __future__ import annotations

from pathcast.demo.context import Demo
from pathcast.demo.hives_archive import seed_archive
from pathcast.demo.hives_board import seed_board
from pathcast.demo.hives_capacity import seed_capacity
from pathcast.demo.hives_core import create_hives
from pathcast.demo.hives_health import seed_health
from pathcast.errors import InvalidInput
from pathcast.hives.service import access, capacity


def create_hive_demo(demo: Demo) -> None:
    """Every hive part of the demo, stamped at demo time."""
    seed_capacity(demo)
    create_hives(demo)
    hive_ids = [hive.id for hive in demo.session.scalars(access.readable_hives(demo.system))]
    for hive_id in hive_ids:
        try:
            capacity.reserve_for_hive(demo.session, demo.system, hive_id, now=demo.horizon)
        except InvalidInput:
            # A hive whose plan no longer fits the booked lines keeps no bookings: the capacity
            # panel then says which week is full, as it would for a real team.
            continue
    seed_board(demo, hive_ids)
    seed_archive(demo, hive_ids)
    seed_health(demo)


__all__ = ["create_hive_demo"]
