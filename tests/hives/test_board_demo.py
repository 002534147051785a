"""The board demo seed on SQLite and PostgreSQL: after the core demo hives, ``seed_board``
ticks the checklists of finished milestones, adds owned tasks under milestones, one open
risk, one decision and requests (one answered, one waiting) per hive, all stamped before
the horizon, deterministic, and does nothing the second time."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.demo.hives_board import seed_board
from pathcast.demo.hives_core import create_hives
from pathcast.events import Event
from pathcast.hives import models as m
from tests.hives.test_core_demo import small_company


def test_the_board_demo(session: Session) -> None:
    demo = small_company(session)
    create_hives(demo)
    hive_ids = list(session.scalars(select(m.Hive.id).order_by(m.Hive.id)))
    seed_board(demo, hive_ids)
    for hive_id in hive_ids:
        tasks = session.scalars(select(m.Task).where(m.Task.hive_id == hive_id, m.Task.kind == "task")).all()
        assert len(tasks) == 4 and all(task.owner_id is not None and task.parent_id for task in tasks)
        risks = session.scalars(
            select(m.Risk).where(m.Risk.hive_id == hive_id, m.Risk.source == "person")
        ).all()
        assert len(risks) == 1 and risks[0].status == "open"
        assert (
            session.scalar(select(func.count()).select_from(m.Decision).where(m.Decision.hive_id == hive_id))
            == 1
        )
        requests = session.scalars(select(m.Request).where(m.Request.hive_id == hive_id)).all()
        assert sorted(request.answered_at is not None for request in requests) == [False, True]
    done_checks = session.scalars(select(m.Task).where(m.Task.kind == "check", m.Task.status == "done")).all()
    assert done_checks
    board_events = session.scalars(
        select(Event).where(Event.entity.in_(["hive_task", "hive_risk", "hive_decision", "hive_request"]))
    ).all()
    assert board_events and all(event.occurred_at <= demo.horizon for event in board_events)
    count = session.scalar(select(func.count()).select_from(m.Task))
    seed_board(demo, hive_ids)
    assert session.scalar(select(func.count()).select_from(m.Task)) == count
