"""Reading the delivery board: the board, the timeline (Gantt data) and my tasks.

The board and the timeline are computed from the plan for *today* with ``hives.schedule``
(pure, nothing written on a read), so a board opened days after its last change still
shows tasks slipping past today. The cached columns that ``recompute`` writes after each
change serve queries across hives (my tasks ordered by forecast finish, health).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.hives import models as m
from pathcast.hives import schedule
from pathcast.hives import schemas as s
from pathcast.hives.service.access import get_hive, readable_hives

__all__ = ["MY_TASKS_MAX", "board", "my_tasks", "timeline"]

MY_TASKS_MAX = 300


def _planned(task: m.Task) -> schedule.PlannedTask:
    return schedule.PlannedTask(
        id=task.id,
        planned_start=task.planned_start,
        duration_days=task.duration_days,
        due_date=task.due_date,
        status=task.status,
        started_on=task.started_at.date() if task.started_at else None,
        done_on=task.done_at.date() if task.done_at else None,
    )


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        row.id: row.name for row in session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    }


def _load(
    session: Session, hive: m.Hive, today: date
) -> tuple[list[m.Task], list[tuple[int, int]], schedule.Schedule]:
    tasks = list(
        session.scalars(select(m.Task).where(m.Task.hive_id == hive.id).order_by(m.Task.position, m.Task.id))
    )
    edges = [
        (row.task_id, row.depends_on_id)
        for row in session.execute(
            select(m.Dependency.task_id, m.Dependency.depends_on_id)
            .where(m.Dependency.hive_id == hive.id)
            .order_by(m.Dependency.id)
        )
    ]
    # checklist items have no dates of their own: the schedule is milestones and tasks
    planned = [_planned(task) for task in tasks if task.kind != "check"]
    return tasks, edges, schedule.compute(planned, edges, today=today)


def _task_read(
    task: m.Task, result: schedule.Schedule, names: dict[int, str], depends: dict[int, list[int]]
) -> s.TaskRead:
    forecast = result.tasks.get(task.id)
    return s.TaskRead(
        id=task.id,
        hive_id=task.hive_id,
        parent_id=task.parent_id,
        kind=task.kind,
        key=task.key,
        name=task.name,
        function=task.function,
        owner_id=task.owner_id,
        owner_name=names.get(task.owner_id) if task.owner_id is not None else None,
        status=task.status,
        planned_start=task.planned_start,
        duration_days=task.duration_days,
        due_date=task.due_date,
        started_at=task.started_at,
        done_at=task.done_at,
        forecast_start=forecast.start if forecast else None,
        forecast_finish=forecast.finish if forecast else None,
        slack_days=forecast.slack_days if forecast else None,
        critical=forecast.critical if forecast else False,
        late_days=forecast.late_days if forecast else 0,
        depends_on=depends.get(task.id, []),
    )


def board(session: Session, actor: Actor, hive_id: int, *, today: date | None = None) -> s.BoardRead:
    """Every task of a hive with its forecast, slack, critical flag and days late, the
    dependencies and the critical path (404 for a hive the actor may not read)."""
    hive = get_hive(session, actor, hive_id)
    day = today or utcnow().date()
    tasks, edges, result = _load(session, hive, day)
    names = _names(session, {task.owner_id for task in tasks})
    depends: dict[int, list[int]] = {}
    for task_id, depends_on in edges:
        depends.setdefault(task_id, []).append(depends_on)
    return s.BoardRead(
        hive_id=hive.id,
        name=hive.name,
        today=day,
        promised_date=hive.promised_date,
        forecast_finish=result.finish,
        late_days=result.late_by(hive.promised_date),
        critical_path=result.critical_path,
        tasks=[_task_read(task, result, names, depends) for task in tasks],
        dependencies=[s.DependencyRead(task_id=t, depends_on=d) for t, d in edges],
    )


def timeline(session: Session, actor: Actor, hive_id: int, *, today: date | None = None) -> s.TimelineRead:
    """Gantt data of a hive: one row per milestone or task (planned and forecast bars,
    critical, days late), the dependency links, today and the promised date."""
    hive = get_hive(session, actor, hive_id)
    day = today or utcnow().date()
    tasks, edges, result = _load(session, hive, day)
    names = _names(session, {task.owner_id for task in tasks})
    rows: list[s.TimelineRow] = []
    for task in tasks:
        forecast = result.tasks.get(task.id)
        if forecast is None:
            continue
        rows.append(
            s.TimelineRow(
                id=task.id,
                name=task.name,
                kind=task.kind,
                status=task.status,
                parent_id=task.parent_id,
                owner_name=names.get(task.owner_id) if task.owner_id is not None else None,
                planned_start=task.planned_start,
                planned_finish=task.planned_start + timedelta(days=task.duration_days),
                forecast_start=forecast.start,
                forecast_finish=forecast.finish,
                due_date=task.due_date,
                slack_days=forecast.slack_days,
                critical=forecast.critical,
                late_days=forecast.late_days,
            )
        )
    return s.TimelineRead(
        hive_id=hive.id,
        today=day,
        start_date=hive.start_date,
        promised_date=hive.promised_date,
        forecast_finish=result.finish,
        late_days=result.late_by(hive.promised_date),
        critical_path=result.critical_path,
        rows=rows,
        links=[s.DependencyRead(task_id=t, depends_on=d) for t, d in edges],
    )


def my_tasks(
    session: Session, actor: Actor, *, include_done: bool = False, limit: int = MY_TASKS_MAX
) -> list[s.MyTaskRead]:
    """The actor's tasks across the hives they may read: open first, then by forecast
    finish (the cached schedule), then by due date."""
    hives = readable_hives(actor).with_only_columns(m.Hive.id).scalar_subquery()
    query = (
        select(m.Task, m.Hive.name)
        .join(m.Hive, m.Hive.id == m.Task.hive_id)
        .where(m.Task.owner_id == (actor.user_id or -1), m.Task.hive_id.in_(hives))
    )
    if not include_done:
        query = query.where(m.Task.status != "done")
    query = query.order_by(
        case((m.Task.status == "done", 1), else_=0),
        case((m.Task.forecast_finish.is_(None), 1), else_=0),
        m.Task.forecast_finish,
        m.Task.due_date,
        m.Task.id,
    ).limit(limit)
    found: list[s.MyTaskRead] = []
    owner = _names(session, {actor.user_id}).get(actor.user_id or -1)
    for task, hive_name in session.execute(query):
        late = 0
        if task.status != "done" and task.forecast_finish is not None:
            late = max(0, (task.forecast_finish - task.due_date).days)
        found.append(
            s.MyTaskRead(
                id=task.id,
                hive_id=task.hive_id,
                hive_name=hive_name,
                parent_id=task.parent_id,
                kind=task.kind,
                key=task.key,
                name=task.name,
                function=task.function,
                owner_id=task.owner_id,
                owner_name=owner,
                status=task.status,
                planned_start=task.planned_start,
                duration_days=task.duration_days,
                due_date=task.due_date,
                started_at=task.started_at,
                done_at=task.done_at,
                forecast_start=task.forecast_start,
                forecast_finish=task.forecast_finish,
                slack_days=task.slack_days,
                critical=task.critical,
                late_days=late,
            )
        )
    return found
