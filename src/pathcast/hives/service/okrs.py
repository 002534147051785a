"""A manager's OKRs fed by hives: objectives with key results measured live.

Key results read ``hive_health`` (mean health of the open hives in scope) or
``on_time_delivery`` (share of the hives delivered in the period by the promised date);
their live value is computed in ``hives.service.key_results``, which also refreshes them
whenever a hive's health or status changes.

Admins manage every objective; a manager manages their own; others may not (403). Every
write appends its event on the entity ``hive_objective``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives.service.key_results import refresh_key_results, value_of

__all__ = [
    "add_key_result",
    "create_objective",
    "delete_key_result",
    "delete_objective",
    "get_objective",
    "key_results_of",
    "list_objectives",
    "may_manage_okrs",
    "refresh_key_results",
    "update_key_result",
    "update_objective",
]

TITLE_MAX = 300
DELIVERED = ("delivered", "closed")


def may_manage_okrs(actor: Actor) -> bool:
    """Admins and managers keep OKRs."""
    return actor.role in (Role.admin, Role.manager)


def _require_okrs(actor: Actor) -> None:
    if not may_manage_okrs(actor):
        raise PermissionDenied("forbidden_operation", entity="hive_objective", operation="read")


def _visible(actor: Actor) -> ColumnElement[bool]:
    if actor.role is Role.admin:
        return m.Objective.id.is_not(None)
    return m.Objective.owner_id == (actor.user_id or -1)


def list_objectives(session: Session, actor: Actor) -> list[m.Objective]:
    """The objectives ``actor`` keeps (admins: all), newest period first."""
    _require_okrs(actor)
    return list(
        session.scalars(
            select(m.Objective).where(_visible(actor)).order_by(m.Objective.period_end.desc(), m.Objective.id)
        )
    )


def get_objective(session: Session, actor: Actor, objective_id: int) -> m.Objective:
    """One objective ``actor`` keeps; another manager's is a 404 like a missing one."""
    _require_okrs(actor)
    found = session.scalars(
        select(m.Objective).where(m.Objective.id == objective_id, _visible(actor))
    ).first()
    if found is None:
        raise NotFound("not_found", entity="hive_objective", id=objective_id)
    return found


def key_results_of(session: Session, objective_ids: list[int]) -> dict[int, list[m.KeyResult]]:
    """The key results of each objective, in the order they were added."""
    found: dict[int, list[m.KeyResult]] = {objective_id: [] for objective_id in objective_ids}
    if objective_ids:
        for result in session.scalars(
            select(m.KeyResult).where(m.KeyResult.objective_id.in_(objective_ids)).order_by(m.KeyResult.id)
        ):
            found[result.objective_id].append(result)
    return found


def _clean_title(value: Any, errors: list[FieldError]) -> str:
    title = " ".join(str(value or "").split())
    if not title:
        errors.append(FieldError("title", "missing"))
    elif len(title) > TITLE_MAX:
        errors.append(FieldError("title", "too_long", {"max": TITLE_MAX}))
    return title


def _period(start: Any, end: Any, errors: list[FieldError]) -> tuple[date, date]:
    if not isinstance(start, date):
        errors.append(FieldError("period_start", "date_invalid"))
    if not isinstance(end, date):
        errors.append(FieldError("period_end", "date_invalid"))
    if isinstance(start, date) and isinstance(end, date) and end < start:
        errors.append(FieldError("period_end", "invalid", {"message": "not before the start"}))
    return start, end


def _owner(session: Session, actor: Actor, owner_id: int | None, errors: list[FieldError]) -> int:
    if actor.role is Role.manager:
        if owner_id not in (None, actor.user_id):
            raise PermissionDenied("forbidden_operation", entity="hive_objective", operation="create")
        return int(actor.user_id or 0)
    chosen = owner_id if owner_id is not None else actor.user_id
    user = session.get(User, chosen) if chosen is not None else None
    if user is None or not user.is_active or user.role not in (Role.manager.value, Role.admin.value):
        errors.append(FieldError("owner_id", "invalid", {"message": "an active manager"}))
        return 0
    return user.id


def create_objective(
    session: Session,
    actor: Actor,
    *,
    title: str,
    period_start: date,
    period_end: date,
    owner_id: int | None = None,
    now: datetime | None = None,
) -> m.Objective:
    """A new objective (``hive.objective_created``); a manager owns their own, an admin
    may name any active manager."""
    _require_okrs(actor)
    errors: list[FieldError] = []
    clean = _clean_title(title, errors)
    start, end = _period(period_start, period_end, errors)
    owner = _owner(session, actor, owner_id, errors)
    if errors:
        raise InvalidInput(errors)
    objective = m.Objective(owner_id=owner, title=clean, period_start=start, period_end=end)
    session.add(objective)
    session.flush()
    _event(session, actor, objective.id, "hive.objective_created", {"after": _snapshot(objective)}, now)
    return objective


def update_objective(
    session: Session, actor: Actor, *, objective_id: int, changes: dict[str, Any], now: datetime | None = None
) -> m.Objective:
    """Change an objective's title or period (``hive.objective_changed`` with before/after)."""
    objective = get_objective(session, actor, objective_id)
    errors: list[FieldError] = []
    unknown = sorted(set(changes) - {"title", "period_start", "period_end"})
    errors += [FieldError(name, "unknown_field") for name in unknown]
    before = _snapshot(objective)
    title = _clean_title(changes.get("title", objective.title), errors)
    start, end = _period(
        changes.get("period_start", objective.period_start),
        changes.get("period_end", objective.period_end),
        errors,
    )
    if errors:
        raise InvalidInput(errors)
    objective.title, objective.period_start, objective.period_end = title, start, end
    session.flush()
    after = _snapshot(objective)
    if after != before:
        _event(
            session, actor, objective.id, "hive.objective_changed", {"before": before, "after": after}, now
        )
        refresh_key_results(session, now=now, objective_ids=[objective.id])
    return objective


def delete_objective(session: Session, actor: Actor, *, objective_id: int) -> None:
    """Delete an objective and its key results (``hive.objective_deleted``)."""
    objective = get_objective(session, actor, objective_id)
    before = _snapshot(objective)
    session.execute(delete(m.KeyResult).where(m.KeyResult.objective_id == objective.id))
    session.delete(objective)
    session.flush()
    _event(session, actor, objective_id, "hive.objective_deleted", {"before": before}, None)


def _snapshot(objective: m.Objective) -> dict[str, Any]:
    return {
        "title": objective.title,
        "owner_id": objective.owner_id,
        "period_start": objective.period_start.isoformat(),
        "period_end": objective.period_end.isoformat(),
    }


def _event(
    session: Session,
    actor: Actor,
    objective_id: int,
    type_: str,
    payload: dict[str, Any],
    now: datetime | None,
) -> None:
    append_event(
        session,
        type=type_,
        entity="hive_objective",
        entity_id=objective_id,
        actor=actor.label,
        payload=payload,
        occurred_at=now,
    )


# --- key results ------------------------------------------------------------------------------


def _check_key_result(
    session: Session, metric: Any, target: Any, team_id: Any, errors: list[FieldError]
) -> None:
    if metric not in m.KEY_RESULT_METRICS:
        errors.append(
            FieldError("metric", "invalid", {"message": f"one of {', '.join(m.KEY_RESULT_METRICS)}"})
        )
    if not isinstance(target, int | float) or isinstance(target, bool):
        errors.append(FieldError("target", "number_invalid"))
    else:
        top = 100 if metric == "hive_health" else 1
        if not 0 <= float(target) <= top:
            errors.append(FieldError("target", "invalid", {"message": f"from 0 to {top}"}))
    if team_id is not None:
        from pathcast.auth.models import Team

        if not isinstance(team_id, int) or session.get(Team, team_id) is None:
            errors.append(FieldError("team_id", "unknown_reference", {"value": str(team_id)}))


def add_key_result(
    session: Session,
    actor: Actor,
    *,
    objective_id: int,
    title: str,
    metric: str,
    target: float,
    team_id: int | None = None,
    now: datetime | None = None,
) -> m.KeyResult:
    """A key result on hive health (target 0–100) or on-time delivery (target 0–1);
    its current value is computed at once (``hive.key_result_added``)."""
    objective = get_objective(session, actor, objective_id)
    errors: list[FieldError] = []
    clean = _clean_title(title, errors)
    _check_key_result(session, metric, target, team_id, errors)
    if errors:
        raise InvalidInput(errors)
    result = m.KeyResult(
        objective_id=objective.id, title=clean, metric=metric, team_id=team_id, target=float(target)
    )
    session.add(result)
    session.flush()
    at = now or utcnow()
    result.current = value_of(session, objective, result)
    result.computed_at = at
    session.flush()
    _event(session, actor, objective.id, "hive.key_result_added", {"key_result_id": result.id,
           "after": {"title": clean, "metric": metric, "target": float(target), "team_id": team_id,
                     "current": result.current}}, now)  # fmt: skip
    return result


def _own_key_result(session: Session, actor: Actor, key_result_id: int) -> tuple[m.KeyResult, m.Objective]:
    result = session.get(m.KeyResult, key_result_id)
    if result is None:
        raise NotFound("not_found", entity="hive_key_result", id=key_result_id)
    try:
        objective = get_objective(session, actor, result.objective_id)
    except NotFound:
        raise NotFound("not_found", entity="hive_key_result", id=key_result_id) from None
    return result, objective


def update_key_result(
    session: Session,
    actor: Actor,
    *,
    key_result_id: int,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> m.KeyResult:
    """Change a key result's title, target, metric or team (``hive.key_result_changed``)."""
    result, objective = _own_key_result(session, actor, key_result_id)
    errors: list[FieldError] = []
    unknown = sorted(set(changes) - {"title", "metric", "target", "team_id"})
    errors += [FieldError(name, "unknown_field") for name in unknown]
    title = _clean_title(changes.get("title", result.title), errors)
    metric = changes.get("metric", result.metric)
    target = changes.get("target", result.target)
    team_id = changes.get("team_id", result.team_id)
    _check_key_result(session, metric, target, team_id, errors)
    if errors:
        raise InvalidInput(errors)
    before = {
        "title": result.title,
        "metric": result.metric,
        "target": result.target,
        "team_id": result.team_id,
    }
    result.title, result.metric, result.target, result.team_id = title, metric, float(target), team_id
    at = now or utcnow()
    result.current = value_of(session, objective, result)
    result.computed_at = at
    session.flush()
    after = {"title": title, "metric": metric, "target": float(target), "team_id": team_id}
    if after != before:
        _event(session, actor, objective.id, "hive.key_result_changed",
               {"key_result_id": result.id, "before": before, "after": after}, now)  # fmt: skip
    return result


def delete_key_result(session: Session, actor: Actor, *, key_result_id: int) -> None:
    """Remove a key result (``hive.key_result_removed``)."""
    result, objective = _own_key_result(session, actor, key_result_id)
    before = {"title": result.title, "metric": result.metric, "target": result.target}
    session.delete(result)
    session.flush()
    _event(session, actor, objective.id, "hive.key_result_removed",
           {"key_result_id": key_result_id, "before": before}, None)  # fmt: skip
