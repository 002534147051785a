"""The delivery board: tasks (milestones, tasks, checklist items) and their dependencies.

Every write checks the hive is one the actor may work in (``access.writable_hive``: a
member only in the hives they belong to), changes the rows, appends its event in the same
transaction (``hive.task_added`` / ``_changed`` / ``_removed``, ``hive.dependency_added`` /
``_removed``, with ``before`` / ``after`` where a state changes) and then calls
``hives.recompute`` so the cached schedule, the risk alerts and the hive's status follow at
once. Services never commit.

Status moves ``todo → doing → done`` (``blocked`` from and back to work; ``done → doing``
reopens). ``started_at`` is set when work starts and ``done_at`` when it is done, from
``now``; the schedule reads both, so finishing late pushes every dependent task.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives.service.access import get_hive, require, writable_hive
from pathcast.hives.service.board_input import (
    day,
    duration,
    function_of,
    hive_task,
    invalid,
    name_of,
    owner_of,
)
from pathcast.hives.service.hives import recompute

__all__ = [
    "TASK_FIELDS",
    "TRANSITIONS",
    "add_dependency",
    "add_task",
    "delete_task",
    "get_task",
    "remove_dependency",
    "update_task",
]

ENTITY = "hive_task"
TASK_FIELDS = ("name", "owner_id", "planned_start", "duration_days", "due_date", "status", "function")
# Allowed status moves; a checklist item or a zero-day milestone may go straight to done.
TRANSITIONS: dict[str, frozenset[str]] = {
    "todo": frozenset({"doing", "blocked"}),
    "doing": frozenset({"done", "blocked", "todo"}),
    "blocked": frozenset({"doing", "todo"}),
    "done": frozenset({"doing"}),
}


# --- reading one task -------------------------------------------------------------------------


def get_task(session: Session, actor: Actor, task_id: int) -> tuple[m.Task, m.Hive]:
    """A task and its hive, if the actor may read the hive (404 otherwise, like a missing one)."""
    task = session.get(m.Task, task_id)
    if task is None:
        raise NotFound("not_found", entity=ENTITY, id=task_id)
    try:
        hive = get_hive(session, actor, task.hive_id)
    except NotFound:
        raise NotFound("not_found", entity=ENTITY, id=task_id) from None
    return task, hive


def _writable_task(session: Session, actor: Actor, task_id: int) -> tuple[m.Task, m.Hive]:
    task, hive = get_task(session, actor, task_id)
    return task, writable_hive(session, actor, hive.id)


def _state(task: m.Task) -> dict[str, Any]:
    return {
        "name": task.name,
        "kind": task.kind,
        "owner_id": task.owner_id,
        "function": task.function,
        "status": task.status,
        "planned_start": task.planned_start.isoformat(),
        "duration_days": task.duration_days,
        "due_date": task.due_date.isoformat(),
        "parent_id": task.parent_id,
        "started_at": task.started_at.isoformat() if task.started_at else None,
        "done_at": task.done_at.isoformat() if task.done_at else None,
    }


# --- tasks ------------------------------------------------------------------------------------


def add_task(
    session: Session,
    actor: Actor,
    *,
    hive_id: int,
    name: str,
    planned_start: date | str,
    duration_days: int,
    due_date: date | str | None = None,
    kind: str = "task",
    owner_id: int | None = None,
    function: str | None = None,
    parent_id: int | None = None,
    depends_on: list[int] | None = None,
    now: datetime | None = None,
) -> m.Task:
    """Put a task (or milestone, or checklist item) on a hive's board (``hive.task_added``).

    The due date defaults to the planned finish; the owner must be a member of the hive;
    the parent and every task it depends on must be on the same board. Every bad field is
    named at once. The schedule is recomputed in the same transaction.
    """
    hive = writable_hive(session, actor, hive_id)
    at = now or utcnow()
    errors: list[FieldError] = []
    clean_name = name_of(name, errors)
    if kind not in m.TASK_KINDS:
        invalid(errors, "kind", f"one of {', '.join(m.TASK_KINDS)}")
    start = day(planned_start, "planned_start", errors, hive)
    length = duration(duration_days, errors)
    due = day(due_date, "due_date", errors, hive) if due_date not in (None, "") else None
    owner = owner_of(session, hive, owner_id, errors)
    clean_function = function_of(function, errors)
    parent = hive_task(session, hive, parent_id, "parent_id", errors) if parent_id is not None else None
    before_ids = list(dict.fromkeys(depends_on or []))
    predecessors = [hive_task(session, hive, value, "depends_on", errors) for value in before_ids]
    if kind == "check" and before_ids:
        invalid(errors, "depends_on", "a checklist item has no dates to depend on")
    if any(task is not None and task.kind == "check" for task in predecessors):
        invalid(errors, "depends_on", "a checklist item has no dates to depend on")
    if start is not None and due is not None and due < start:
        invalid(errors, "due_date", "not before the planned start")
    if errors:
        raise InvalidInput(errors)
    assert start is not None
    position = max([0, *session.scalars(select(m.Task.position).where(m.Task.hive_id == hive.id))])
    task = m.Task(
        hive_id=hive.id,
        parent_id=parent.id if parent is not None else None,
        kind=kind,
        name=clean_name,
        function=clean_function or (parent.function if parent is not None else None),
        owner_id=owner,
        status="todo",
        position=position + 10,
        planned_start=start,
        duration_days=length,
        due_date=due or start + timedelta(days=length),
    )
    session.add(task)
    session.flush()
    for predecessor in predecessors:
        assert predecessor is not None
        session.add(m.Dependency(hive_id=hive.id, task_id=task.id, depends_on_id=predecessor.id))
    session.flush()
    append_event(
        session,
        type="hive.task_added",
        entity=ENTITY,
        entity_id=task.id,
        actor=actor.label,
        payload={
            "hive_id": hive.id,
            "account_id": hive.account_id,
            "depends_on": [p.id for p in predecessors if p is not None],
            "before": None,
            "after": _state(task),
        },
        occurred_at=at,
    )
    recompute(session, actor, hive, now=at)
    return task


def _check_move(task: m.Task, status: Any, errors: list[FieldError]) -> None:
    """Refuse a status outside the allowed moves (naming where it may go from here)."""
    if status not in m.TASK_STATUSES:
        invalid(errors, "status", f"one of {', '.join(m.TASK_STATUSES)}")
        return
    if status == task.status:
        return
    direct = status == "done" and task.status == "todo" and (task.kind == "check" or task.duration_days == 0)
    if status not in TRANSITIONS[task.status] and not direct:
        allowed = ", ".join(sorted(TRANSITIONS[task.status]))
        invalid(errors, "status", f"from {task.status} only to {allowed}")


def _move(task: m.Task, status: str, at: datetime) -> None:
    """Change the status and stamp when work started and ended (the schedule reads both)."""
    if status == task.status:
        return
    if status in ("doing", "done") and task.started_at is None:
        task.started_at = at
    task.done_at = at if status == "done" else None
    if status == "todo":
        task.started_at = None
    task.status = status


def update_task(
    session: Session,
    actor: Actor,
    *,
    task_id: int,
    changes: Mapping[str, Any],
    now: datetime | None = None,
) -> m.Task:
    """Change a task's name, owner, plan, due date, function or status
    (``hive.task_changed`` with the fields' before and after); recomputes the schedule."""
    task, hive = _writable_task(session, actor, task_id)
    at = now or utcnow()
    errors: list[FieldError] = []
    for key in changes:
        if key not in TASK_FIELDS:
            invalid(errors, key, "unknown field")
    before = _state(task)
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = name_of(changes["name"], errors)
    if "owner_id" in changes:
        values["owner_id"] = owner_of(session, hive, changes["owner_id"], errors)
    if "function" in changes:
        values["function"] = function_of(changes["function"], errors)
    if "planned_start" in changes:
        values["planned_start"] = day(changes["planned_start"], "planned_start", errors, hive)
    if "duration_days" in changes:
        values["duration_days"] = duration(changes["duration_days"], errors)
    if "due_date" in changes:
        values["due_date"] = day(changes["due_date"], "due_date", errors, hive)
    start = values.get("planned_start") or task.planned_start
    due = values.get("due_date") or task.due_date
    if ("planned_start" in values or "due_date" in values) and due < start:
        invalid(errors, "due_date", "not before the planned start")
    if "status" in changes:
        _check_move(task, changes["status"], errors)
    if errors:
        raise InvalidInput(errors)
    for key, value in values.items():
        setattr(task, key, value)
    if "status" in changes:
        _move(task, str(changes["status"]), at)
    after = _state(task)
    changed = sorted(key for key in after if after[key] != before[key])
    if not changed:
        return task
    session.flush()
    append_event(
        session,
        type="hive.task_changed",
        entity=ENTITY,
        entity_id=task.id,
        actor=actor.label,
        payload={
            "hive_id": hive.id,
            "account_id": hive.account_id,
            "fields": changed,
            "before": {key: before[key] for key in changed},
            "after": {key: after[key] for key in changed},
        },
        occurred_at=at,
    )
    recompute(session, actor, hive, now=at)
    return task


def delete_task(session: Session, actor: Actor, *, task_id: int, now: datetime | None = None) -> None:
    """Take a task off the board with its checklist items and dependencies
    (``hive.task_removed``). A milestone shapes the whole plan: removing one needs the hive
    delete right (admins, managers)."""
    task, hive = _writable_task(session, actor, task_id)
    if task.kind == "milestone":
        require(actor, "delete")
    at = now or utcnow()
    before = _state(task)
    children = list(session.scalars(select(m.Task.id).where(m.Task.parent_id == task.id)))
    gone = [task.id, *children]
    session.execute(
        delete(m.Dependency).where(or_(m.Dependency.task_id.in_(gone), m.Dependency.depends_on_id.in_(gone)))
    )
    session.execute(delete(m.Task).where(m.Task.parent_id == task.id))
    session.delete(task)
    session.flush()
    append_event(
        session,
        type="hive.task_removed",
        entity=ENTITY,
        entity_id=task_id,
        actor=actor.label,
        payload={"hive_id": hive.id, "account_id": hive.account_id, "children": children,
                 "before": before, "after": None},
        occurred_at=at,
    )  # fmt: skip
    recompute(session, actor, hive, now=at)


# --- dependencies -----------------------------------------------------------------------------


def _cycle_path(session: Session, hive_id: int, task_id: int, depends_on_id: int) -> list[int] | None:
    """The tasks of the cycle that ``task depends on depends_on`` would close, or None.

    A cycle appears when ``depends_on`` already (transitively) depends on ``task``: walk the
    existing dependencies from ``depends_on`` back to ``task`` and return that chain.
    """
    edges: dict[int, list[int]] = {}
    for task, before in session.execute(
        select(m.Dependency.task_id, m.Dependency.depends_on_id).where(m.Dependency.hive_id == hive_id)
    ):
        edges.setdefault(task, []).append(before)
    came_from: dict[int, int | None] = {depends_on_id: None}
    queue = [depends_on_id]
    while queue:
        current = queue.pop(0)
        if current == task_id:
            chain = [current]
            step = came_from[current]
            while step is not None:
                chain.append(step)
                step = came_from[step]
            # task -> depends_on -> ... -> task, in "depends on" order
            return [task_id, *reversed(chain)]
        for following in edges.get(current, []):
            if following not in came_from:
                came_from[following] = current
                queue.append(following)
    return None


def add_dependency(
    session: Session, actor: Actor, *, task_id: int, depends_on_id: int, now: datetime | None = None
) -> m.Dependency:
    """Make ``task`` wait for ``depends_on`` (finish-to-start; ``hive.dependency_added``).

    Refused, naming the tasks: a task of another hive, a checklist item, the task itself,
    and a dependency that would close a cycle. Adding one that exists changes nothing.
    """
    task, hive = _writable_task(session, actor, task_id)
    at = now or utcnow()
    errors: list[FieldError] = []
    before = hive_task(session, hive, depends_on_id, "depends_on", errors)
    if errors:
        raise InvalidInput(errors)
    assert before is not None
    if before.id == task.id:
        raise InvalidInput.single("depends_on", "invalid", message="a task cannot depend on itself")
    if task.kind == "check" or before.kind == "check":
        raise InvalidInput.single(
            "depends_on", "invalid", message="a checklist item has no dates to depend on"
        )
    existing = session.scalars(
        select(m.Dependency).where(m.Dependency.task_id == task.id, m.Dependency.depends_on_id == before.id)
    ).first()
    if existing is not None:
        return existing
    cycle = _cycle_path(session, hive.id, task.id, before.id)
    if cycle is not None:
        names = {row.id: row.name for row in session.scalars(select(m.Task).where(m.Task.id.in_(cycle)))}
        chain = " → ".join(f"{names.get(i, i)} (#{i})" for i in cycle)
        raise InvalidInput(
            [FieldError("depends_on", "task_cycle", {"tasks": chain, "task_ids": cycle, "message": chain})]
        )
    dependency = m.Dependency(hive_id=hive.id, task_id=task.id, depends_on_id=before.id)
    session.add(dependency)
    session.flush()
    append_event(
        session,
        type="hive.dependency_added",
        entity=ENTITY,
        entity_id=task.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "task_id": task.id, "depends_on": before.id,
                 "before": None, "after": {"depends_on": before.id}},
        occurred_at=at,
    )  # fmt: skip
    recompute(session, actor, hive, now=at)
    return dependency


def remove_dependency(
    session: Session, actor: Actor, *, task_id: int, depends_on_id: int, now: datetime | None = None
) -> None:
    """Stop ``task`` waiting for ``depends_on`` (``hive.dependency_removed``); 404 if it did not."""
    task, hive = _writable_task(session, actor, task_id)
    at = now or utcnow()
    dependency = session.scalars(
        select(m.Dependency).where(
            m.Dependency.task_id == task.id, m.Dependency.depends_on_id == depends_on_id
        )
    ).first()
    if dependency is None:
        raise NotFound("not_found", entity="hive_dependency", id=depends_on_id)
    session.delete(dependency)
    session.flush()
    append_event(
        session,
        type="hive.dependency_removed",
        entity=ENTITY,
        entity_id=task.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "task_id": task.id, "depends_on": depends_on_id,
                 "before": {"depends_on": depends_on_id}, "after": None},
        occurred_at=at,
    )  # fmt: skip
    recompute(session, actor, hive, now=at)
