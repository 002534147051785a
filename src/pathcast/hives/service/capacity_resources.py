"""Capacity resources: production lines, teams and people with a skill and a weekly
capacity (right ``hive_resource``: admins everything, managers and production planners add
and change, reps read). A resource is deactivated, never deleted; lowering its capacity
below what a coming week booked, deactivating it or changing its skill while bookings remain
is refused with that week. Every write appends ``hive.resource_created`` /
``hive.resource_changed`` with before/after. ``capacity`` re-exports these functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor, Operation, may
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives.promise import EPSILON, monday

__all__ = [
    "RIGHT",
    "UNITS_MAX",
    "create_resource",
    "get_resource",
    "list_resources",
    "may_book",
    "may_edit_resources",
    "require_capacity",
    "update_resource",
]

RIGHT = "hive_resource"
UNITS_MAX = 100_000.0
RESOURCE_FIELDS = ("name", "kind", "skill", "capacity_per_week", "user_id", "active")


def require_capacity(actor: Actor, operation: Operation) -> None:
    if not may(actor, RIGHT, operation):
        raise PermissionDenied("forbidden_operation", entity=RIGHT, operation=operation)


def may_edit_resources(actor: Actor) -> bool:
    """Whether ``actor`` may add and change resources (admins, managers, planners)."""
    return may(actor, RIGHT, "create")


def may_book(actor: Actor) -> bool:
    """Whether ``actor`` may book and release capacity."""
    return may(actor, RIGHT, "update")


# --- resources ------------------------------------------------------------------------------


def _snapshot(resource: m.Resource) -> dict[str, Any]:
    return {name: getattr(resource, name) for name in RESOURCE_FIELDS}


def _clean_resource(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for key in data:
        if key not in RESOURCE_FIELDS:
            errors.append(FieldError(key, "invalid", {"message": "unknown field"}))
    for name, limit in (("name", 200), ("skill", 80)):
        if partial and name not in data:
            continue
        text = " ".join(str(data.get(name) or "").split())
        if name == "skill":
            text = text.lower().replace(" ", "_")
        if not text:
            errors.append(FieldError(name, "missing"))
        elif len(text) > limit:
            errors.append(FieldError(name, "too_long", {"max": limit}))
        clean[name] = text
    if not partial or "kind" in data:
        if data.get("kind") not in m.RESOURCE_KINDS:
            errors.append(FieldError("kind", "choice_invalid", {"value": str(data.get("kind"))}))
        clean["kind"] = data.get("kind")
    if not partial or "capacity_per_week" in data:
        value = data.get("capacity_per_week")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.append(FieldError("capacity_per_week", "number_invalid"))
        elif not 0 <= value <= UNITS_MAX:
            errors.append(
                FieldError(
                    "capacity_per_week",
                    "too_large" if value > 0 else "too_small",
                    {"min": 0, "max": UNITS_MAX},
                )
            )
        else:
            clean["capacity_per_week"] = float(value)
    for name in ("user_id", "active"):
        if name in data:
            clean[name] = data[name]
    if errors:
        raise InvalidInput(errors)
    return clean


def list_resources(session: Session, actor: Actor, *, include_inactive: bool = False) -> list[m.Resource]:
    """Resources by skill and name (everyone with the ``hive_resource`` right reads them)."""
    require_capacity(actor, "read")
    query = select(m.Resource).order_by(m.Resource.skill, m.Resource.name)
    if not include_inactive:
        query = query.where(m.Resource.active.is_(True))
    return list(session.scalars(query))


def get_resource(session: Session, actor: Actor, resource_id: int) -> m.Resource:
    """One resource (404 when there is none)."""
    require_capacity(actor, "read")
    resource = session.get(m.Resource, resource_id)
    if resource is None:
        raise NotFound("not_found", entity=RIGHT, id=resource_id)
    return resource


def _check_user(session: Session, clean: Mapping[str, Any]) -> None:
    user_id = clean.get("user_id")
    if user_id is None:
        return
    user = session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if user is None or not user.is_active:
        raise InvalidInput.single("user_id", "unknown_reference", entity="user", id=user_id)


def _name_taken(session: Session, name: str, resource_id: int | None) -> None:
    clash = session.scalars(select(m.Resource.id).where(m.Resource.name == name)).first()
    if clash is not None and clash != resource_id:
        raise Conflict("duplicate", entity=RIGHT, field="name", value=name)


def create_resource(session: Session, actor: Actor, *, data: Mapping[str, Any]) -> m.Resource:
    """Add a resource (``hive.resource_created``)."""
    require_capacity(actor, "create")
    clean = _clean_resource(data, partial=False)
    _check_user(session, clean)
    _name_taken(session, clean["name"], None)
    resource = m.Resource(**{"active": True, **clean})
    session.add(resource)
    session.flush()
    append_event(session, type="hive.resource_created", entity=RIGHT, entity_id=resource.id,
                 actor=actor.label, payload={"before": None, "after": _snapshot(resource)})  # fmt: skip
    return resource


def _future_peak(session: Session, resource_id: int, today: date) -> tuple[date, float] | None:
    """The week from this one on with the most units booked on the resource."""
    row = session.execute(
        select(m.Reservation.week_start, func.sum(m.Reservation.units).label("booked"))
        .where(m.Reservation.resource_id == resource_id, m.Reservation.week_start >= monday(today))
        .group_by(m.Reservation.week_start)
        .order_by(func.sum(m.Reservation.units).desc(), m.Reservation.week_start)
        .limit(1)
    ).first()
    return (row.week_start, float(row.booked)) if row is not None else None


def update_resource(
    session: Session,
    actor: Actor,
    *,
    resource_id: int,
    changes: Mapping[str, Any],
    now: datetime | None = None,
) -> m.Resource:
    """Change a resource (``hive.resource_changed`` with before/after). Lowering its capacity
    below what a coming week already booked, or deactivating it while bookings remain, is
    refused with that week: release the bookings first."""
    require_capacity(actor, "update")
    resource = get_resource(session, actor, resource_id)
    clean = _clean_resource(changes, partial=True)
    _check_user(session, clean)
    if "active" in clean and not isinstance(clean["active"], bool):
        raise InvalidInput.single("active", "invalid", message="true or false")
    if "name" in clean:
        _name_taken(session, clean["name"], resource.id)
    peak = _future_peak(session, resource.id, (now or utcnow()).date())
    if peak is not None:
        week, booked = peak
        if clean.get("capacity_per_week", resource.capacity_per_week) + EPSILON < booked:
            raise InvalidInput.single(
                "capacity_per_week", "below_booked", week=week.isoformat(), booked=booked
            )
        if clean.get("active") is False or ("skill" in clean and clean["skill"] != resource.skill):
            field = "active" if clean.get("active") is False else "skill"
            raise InvalidInput.single(field, "has_bookings", week=week.isoformat(), booked=booked)
    before = _snapshot(resource)
    for name, value in clean.items():
        setattr(resource, name, value)
    after = _snapshot(resource)
    if after == before:
        return resource
    session.flush()
    append_event(session, type="hive.resource_changed", entity=RIGHT, entity_id=resource.id, actor=actor.label,
                 payload={"before": {k: v for k, v in before.items() if after[k] != v},
                          "after": {k: v for k, v in after.items() if before[k] != v}})  # fmt: skip
    return resource
