"""The demo seed for hive health on SQLite and PostgreSQL: knowledge used across functions,
every open hive scored at demo time, one manager objective with both kinds of key results,
and idempotence."""

from __future__ import annotations

import random
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.demo.context import Demo
from pathcast.demo.hives_health import OBJECTIVE, seed_health
from pathcast.hives import models as m
from tests import factories as f
from tests.hives.test_health_service import NOW, World, world  # noqa: F401  (the fixture)


def _demo(session: Session, built: World) -> Demo:
    demo = Demo(session=session, rng=random.Random(3), today=NOW.date() + timedelta(days=1), system=f.SYSTEM)
    demo.sellers = cast(Any, {"east": [SimpleNamespace(manager=built.manager)]})
    return demo


def test_seed_health(session: Session, world: World) -> None:  # noqa: F811
    demo = _demo(session, world)
    seed_health(demo)
    seed_health(demo)  # a second run adds nothing
    assert (
        session.scalar(select(func.count()).select_from(m.Objective).where(m.Objective.title == OBJECTIVE))
        == 1
    )
    results = session.scalars(select(m.KeyResult).order_by(m.KeyResult.id)).all()
    assert [result.metric for result in results] == ["hive_health", "on_time_delivery"]
    assert results[0].current is not None
    hives = session.scalars(select(m.Hive)).all()
    assert all(hive.health is not None and hive.health_at is not None for hive in hives)
    assert all(hive.health_at <= demo.horizon for hive in hives if hive.health_at)
    knowledge = session.scalars(select(m.Contribution)).all()
    assert len(knowledge) == len(hives)
    assert all(len(item.used_by) == 1 and item.used_by[0]["user_id"] != item.added_by for item in knowledge)
