"""Creating hives (by hand or by a rule, from a template), their members and lifecycle, and
keeping their schedule current.

``create_hive`` turns a template into the hive's board: one task per milestone (planned
from the hive's start), the milestones' dependencies, checklist items under their
milestone, the template's risks, and the people of the template's roles (the account's
owner for sales; the holders of the matching position for delivery, production planning,
logistics, implementation and customer success). ``recompute`` derives the schedule
(``hives.schedule``) after every change to the board and raises ``hive.risk_alert`` — an
event rules can use — when the critical path moves past the promised date or a task others
depend on becomes late; each alert also opens a risk owned by that function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as crm_models
from pathcast.crm.service import get_readable, spec_for
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives import schedule
from pathcast.hives.schemas import definition_of
from pathcast.hives.service.access import require, writable_hive
from pathcast.hives.service.templates import find_template

__all__ = [
    "FUNCTION_POSITIONS",
    "add_member",
    "create_hive",
    "members_of",
    "recompute",
    "remove_member",
    "set_status",
]

# Which position's holders a template role invites (sales: the account's owner).
FUNCTION_POSITIONS: dict[str, str] = {
    "delivery": "delivery_manager",
    "production_planning": "production_planner",
    "logistics": "logistics",
    "it_implementation": "implementation_director",
    "customer_success": "csm",
}
NAME_MAX = 300


def _today(now: datetime | None) -> date:
    return (now or utcnow()).date()


@dataclass(frozen=True)
class MemberSpec:
    """A person to put in a hive, serving ``function``."""

    user_id: int
    function: str


def _check_function(function: str) -> str:
    if function not in m.FUNCTIONS:
        raise InvalidInput.single("function", "invalid", message=f"one of {', '.join(m.FUNCTIONS)}")
    return function


def add_member(
    session: Session,
    actor: Actor,
    *,
    hive_id: int,
    user_id: int,
    function: str,
    now: datetime | None = None,
    hive: m.Hive | None = None,
) -> tuple[m.Member, bool]:
    """Put a person in a hive (``hive.member_added``); returns (member, whether new).

    Already a member: their function is updated if it differs. Customer contacts and
    inactive users are refused, naming the field.
    """
    hive = hive or writable_hive(session, actor, hive_id)
    _check_function(function)
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role == Role.customer_contact.value:
        raise InvalidInput.single("user_id", "invalid", message="an active staff user")
    at = now or utcnow()
    existing = session.scalars(
        select(m.Member).where(m.Member.hive_id == hive.id, m.Member.user_id == user_id)
    ).first()
    if existing is not None:
        if existing.function != function:
            before = existing.function
            existing.function = function
            append_event(
                session,
                type="hive.member_changed",
                entity="hive",
                entity_id=hive.id,
                actor=actor.label,
                payload={"user_id": user_id, "before": {"function": before}, "after": {"function": function}},
                occurred_at=at,
            )
        return existing, False
    member = m.Member(hive_id=hive.id, user_id=user_id, function=function, joined_at=at)
    session.add(member)
    session.flush()
    append_event(
        session,
        type="hive.member_added",
        entity="hive",
        entity_id=hive.id,
        actor=actor.label,
        payload={"user_id": user_id, "function": function, "member_id": member.id},
        occurred_at=at,
    )
    return member, True


def remove_member(session: Session, actor: Actor, *, hive_id: int, user_id: int) -> None:
    """Take a person out of a hive (``hive.member_removed``); their tasks keep their owner."""
    hive = writable_hive(session, actor, hive_id)
    member = session.scalars(
        select(m.Member).where(m.Member.hive_id == hive.id, m.Member.user_id == user_id)
    ).first()
    if member is None:
        raise NotFound("not_found", entity="hive_member", id=user_id)
    session.delete(member)
    session.flush()
    append_event(
        session,
        type="hive.member_removed",
        entity="hive",
        entity_id=hive.id,
        actor=actor.label,
        payload={"user_id": user_id, "function": member.function},
    )


def members_of(session: Session, hive_id: int) -> list[m.Member]:
    """A hive's members in the order they joined (the caller has read the hive)."""
    return list(session.scalars(select(m.Member).where(m.Member.hive_id == hive_id).order_by(m.Member.id)))


def _invitees(session: Session, account: crm_models.Account, roles: list[str]) -> list[MemberSpec]:
    invited: list[MemberSpec] = []
    for role in roles:
        if role == "sales":
            if account.owner_id is not None:
                invited.append(MemberSpec(account.owner_id, "sales"))
            continue
        key = FUNCTION_POSITIONS.get(role)
        if key is None:
            continue
        invited.extend(MemberSpec(user.id, role) for user in positions.holders(session, key))
    return invited


def create_hive(
    session: Session,
    actor: Actor,
    *,
    account_id: int,
    template: str | int | None = None,
    name: str | None = None,
    opportunity_id: int | None = None,
    contract_id: int | None = None,
    product_line: str | None = None,
    start_date: date | None = None,
    promised_date: date | None = None,
    members: list[MemberSpec] | None = None,
    now: datetime | None = None,
) -> m.Hive:
    """Create a hive for an account, from a template (by id, key or name) or empty.

    Appends ``hive.created`` (with the template, members and plan) and one
    ``hive.member_added`` per person; the schedule is computed at once.
    """
    require(actor, "create")
    at = now or utcnow()
    errors: list[FieldError] = []
    # The account and the deal are read with the caller's crm scoping: a rep cannot open a
    # hive on (and so learn of) an account or a deal of another team.
    try:
        account = get_readable(session, actor, spec_for("account"), account_id)
    except (NotFound, PermissionDenied):
        raise InvalidInput.single(
            "account_id", "unknown_reference", message=f"no account {account_id}"
        ) from None
    if opportunity_id is not None:
        try:
            deal = get_readable(session, actor, spec_for("opportunity"), opportunity_id)
        except (NotFound, PermissionDenied):
            deal = None
        if deal is None or deal.account_id != account.id:
            errors.append(
                FieldError("opportunity_id", "unknown_reference", {"message": "a deal of this account"})
            )
    chosen: m.Template | None = None
    if isinstance(template, int):
        chosen = session.get(m.Template, template)
    elif isinstance(template, str) and template.strip():
        chosen = find_template(session, template, actor=actor)
    if template not in (None, "") and chosen is None:
        errors.append(FieldError("template", "unknown_reference", {"value": str(template)}))
    clean_name = (name or "").strip() or (
        f"{account.name} · {chosen.name_zh}" if chosen is not None else f"{account.name} · 任务蜂巢"
    )
    if len(clean_name) > NAME_MAX:
        errors.append(FieldError("name", "too_long", {"max": NAME_MAX}))
    start = start_date or _today(at)
    if promised_date is not None and promised_date < start:
        errors.append(FieldError("promised_date", "invalid", {"message": "not before the start date"}))
    if errors:
        raise InvalidInput(errors)

    hive = m.Hive(
        name=clean_name,
        account_id=account.id,
        opportunity_id=opportunity_id,
        contract_id=contract_id,
        product_line=(product_line or "").strip() or None,
        template_id=chosen.id if chosen is not None else None,
        status="active" if start <= _today(at) else "forming",
        start_date=start,
        promised_date=promised_date,
        health_components={},
        created_by=actor.user_id,
    )
    session.add(hive)
    session.flush()
    definition = definition_of(chosen.definition) if chosen is not None else None
    tasks = _instantiate(session, hive, definition, start) if definition is not None else {}
    wanted = list(members or [])
    if definition is not None:
        wanted += _invitees(session, account, definition.roles)
    if actor.user_id is not None and actor.role in (Role.manager, Role.rep):
        wanted.append(MemberSpec(actor.user_id, "sales"))
    append_event(
        session,
        type="hive.created",
        entity="hive",
        entity_id=hive.id,
        actor=actor.label,
        payload={
            "account_id": account.id,
            "opportunity_id": opportunity_id,
            "template": chosen.key if chosen is not None else None,
            "start_date": start.isoformat(),
            "promised_date": promised_date.isoformat() if promised_date else None,
            "tasks": len(tasks),
            "after": {"status": hive.status, "account_id": account.id, "name": hive.name},
        },
        occurred_at=at,
    )
    seen: set[int] = set()
    for spec in wanted:
        if spec.user_id in seen:
            continue
        seen.add(spec.user_id)
        add_member(
            session, actor, hive_id=hive.id, user_id=spec.user_id, function=spec.function, now=at, hive=hive
        )
    if definition is not None:
        _assign_milestones(session, hive)
        _open_template_risks(session, hive, definition, at)
    recompute(session, actor, hive, now=at)
    return hive


def _assign_milestones(session: Session, hive: m.Hive) -> None:
    """Each milestone (and its checklist) starts owned by the first member of its function:
    someone answers for every date on the board from day one."""
    owners: dict[str, int] = {}
    for member in members_of(session, hive.id):
        owners.setdefault(member.function, member.user_id)
    for task in session.scalars(select(m.Task).where(m.Task.hive_id == hive.id, m.Task.owner_id.is_(None))):
        if task.function in owners:
            task.owner_id = owners[task.function]
    session.flush()


def _instantiate(session: Session, hive: m.Hive, definition: Any, start: date) -> dict[str, m.Task]:
    tasks: dict[str, m.Task] = {}
    for position, milestone in enumerate(definition.milestones):
        planned = start + timedelta(days=milestone.offset_days)
        task = m.Task(
            hive_id=hive.id,
            kind="milestone",
            key=milestone.key,
            name=f"{milestone.name_zh} / {milestone.name_en}",
            function=milestone.function,
            status="todo",
            position=position * 100,
            planned_start=planned,
            duration_days=milestone.duration_days,
            due_date=planned + timedelta(days=milestone.duration_days),
        )
        session.add(task)
        tasks[milestone.key] = task
    session.flush()
    for milestone in definition.milestones:
        for depends_on in milestone.depends_on:
            session.add(
                m.Dependency(
                    hive_id=hive.id, task_id=tasks[milestone.key].id, depends_on_id=tasks[depends_on].id
                )
            )
    for checklist in definition.checklists:
        parent = tasks[checklist.milestone]
        for offset, item in enumerate(checklist.items, start=1):
            session.add(
                m.Task(
                    hive_id=hive.id,
                    parent_id=parent.id,
                    kind="check",
                    name=item,
                    function=parent.function,
                    status="todo",
                    position=parent.position + offset,
                    planned_start=parent.planned_start,
                    duration_days=0,
                    due_date=parent.planned_start,
                )
            )
    session.flush()
    return tasks


def _open_template_risks(session: Session, hive: m.Hive, definition: Any, at: datetime) -> None:
    owners = {member.function: member.user_id for member in reversed(members_of(session, hive.id))}
    for risk in definition.risks:
        session.add(
            m.Risk(
                hive_id=hive.id,
                title=f"{risk.title_zh} / {risk.title_en}",
                function=risk.function,
                owner_id=owners.get(risk.function),
                status="open",
                source="template",
                opened_at=at,
            )
        )
    session.flush()


def set_status(session: Session, actor: Actor, *, hive_id: int, status: str) -> m.Hive:
    """Move a hive through its lifecycle (forming, active, at risk, delivered, closed)."""
    hive = writable_hive(session, actor, hive_id)
    if status not in m.HIVE_STATUSES:
        raise InvalidInput.single("status", "invalid", message=f"one of {', '.join(m.HIVE_STATUSES)}")
    if status == hive.status:
        return hive
    before = hive.status
    hive.status = status
    session.flush()
    append_event(
        session,
        type="hive.status_changed",
        entity="hive",
        entity_id=hive.id,
        actor=actor.label,
        payload={"before": {"status": before}, "after": {"status": status}},
    )
    return hive


# --- the schedule and its alerts ---------------------------------------------------------


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


def _alert(
    session: Session,
    actor: Actor,
    hive: m.Hive,
    *,
    kind: str,
    function: str,
    title: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    source = f"alert:{kind}:{payload.get('task_id', '')}"
    already = session.scalars(
        select(m.Risk.id).where(m.Risk.hive_id == hive.id, m.Risk.source == source, m.Risk.status == "open")
    ).first()
    if already is None:
        owner = session.scalars(
            select(m.Member.user_id).where(m.Member.hive_id == hive.id, m.Member.function == function)
        ).first()
        session.add(
            m.Risk(hive_id=hive.id, title=title, function=function, owner_id=owner, status="open",
                   source=source[:40], opened_at=at)
        )  # fmt: skip
    append_event(
        session,
        type="hive.risk_alert",
        entity="hive",
        entity_id=hive.id,
        actor=actor.label,
        payload={
            "kind": kind,
            "account_id": hive.account_id,
            "opportunity_id": hive.opportunity_id,
            **payload,
        },
        occurred_at=at,
    )


_UNCHANGED: Any = object()


def recompute(
    session: Session,
    actor: Actor,
    hive: m.Hive,
    *,
    now: datetime | None = None,
    promised_before: date | None = _UNCHANGED,
) -> schedule.Schedule:
    """Derive the schedule, cache it on the tasks and the hive, and raise the alerts that
    became true (the critical path past the promise; a late task others depend on).

    "Became true" compares with the previous forecast against the previous promise: a
    caller that has just moved the promise passes the old one as ``promised_before``."""
    at = now or utcnow()
    tasks = list(
        session.scalars(
            select(m.Task).where(m.Task.hive_id == hive.id, m.Task.kind != "check").order_by(m.Task.id)
        )
    )
    edges = [
        (task_id, depends_on)
        for task_id, depends_on in session.execute(
            select(m.Dependency.task_id, m.Dependency.depends_on_id).where(m.Dependency.hive_id == hive.id)
        )
    ]
    result = schedule.compute([_planned(task) for task in tasks], edges, today=_today(at))
    was_late = {
        task.id for task in tasks if task.forecast_finish is not None and task.forecast_finish > task.due_date
    }
    previous_finish = hive.forecast_finish
    for task in tasks:
        forecast = result.tasks.get(task.id)
        if forecast is None:
            continue
        task.forecast_start = forecast.start
        task.forecast_finish = forecast.finish
        task.slack_days = forecast.slack_days
        task.critical = forecast.critical
    hive.forecast_finish = result.finish
    session.flush()
    by_id = {task.id: task for task in tasks}
    promised = hive.promised_date
    old_promise = promised if promised_before is _UNCHANGED else promised_before
    was_past = previous_finish is not None and old_promise is not None and previous_finish > old_promise
    if result.late_by(promised) > 0 and not was_past:
        _alert(
            session, actor, hive, kind="critical_path_past_promise", function="delivery",
            title=f"关键路径晚于承诺日期 {result.late_by(promised)} 天 / critical path {result.late_by(promised)} days past the promise",
            payload={"late_days": result.late_by(promised), "promised_date": promised.isoformat() if promised else None,
                     "forecast_finish": result.finish.isoformat() if result.finish else None,
                     "critical_path": result.critical_path},
            at=at,
        )  # fmt: skip
    late_now = {i for i, forecast in result.tasks.items() if forecast.late_days > 0}
    for task_id in result.late_dependencies(edges):
        # One slip makes everything after it late: alert once, on the task where it starts
        # (a late task none of whose own dependencies is late), not on each dependent.
        if task_id in was_late or any(d in late_now for t, d in edges if t == task_id):
            continue
        task = by_id[task_id]
        late = result.tasks[task_id].late_days
        _alert(
            session, actor, hive, kind="dependency_late", function=task.function or "delivery",
            title=f"前置任务「{task.name}」晚 {late} 天 / dependency {task.name} is {late} days late",
            payload={"task_id": task_id, "task": task.name, "late_days": late, "due_date": task.due_date.isoformat(),
                     "forecast_finish": result.tasks[task_id].finish.isoformat()},
            at=at,
        )  # fmt: skip
    _follow_status(session, actor, hive, result, at)
    return result


def _follow_status(
    session: Session, actor: Actor, hive: m.Hive, result: schedule.Schedule, at: datetime
) -> None:
    """At risk while an alert risk is open; delivered when every milestone is done."""
    milestones = list(
        session.scalars(select(m.Task.status).where(m.Task.hive_id == hive.id, m.Task.kind == "milestone"))
    )
    alert_open = session.scalars(
        select(m.Risk.id).where(
            m.Risk.hive_id == hive.id, m.Risk.status == "open", m.Risk.source.like("alert:%")
        )
    ).first()
    target = hive.status
    if (
        milestones
        and all(status == "done" for status in milestones)
        and hive.status in ("forming", "active", "at_risk")
    ):
        target = "delivered"
    elif alert_open is not None and hive.status in ("forming", "active"):
        target = "at_risk"
    elif alert_open is None and hive.status == "at_risk":
        target = "active"
    if target != hive.status:
        before = hive.status
        hive.status = target
        append_event(
            session,
            type="hive.status_changed",
            entity="hive",
            entity_id=hive.id,
            actor=actor.label,
            payload={"before": {"status": before}, "after": {"status": target}, "automatic": True},
            occurred_at=at,
        )
