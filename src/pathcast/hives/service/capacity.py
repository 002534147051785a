"""Capacity: resources (lines, teams, people with a skill), their weekly reservations by
hives and open deals, and the calendar of both.

Rights are ``hive_resource``: admins do everything; managers and production planners
(members) add and change resources and book them; reps read. Releasing a booking is an
``update`` of capacity (managers and planners release what they booked; resources are
deactivated, never deleted). A reservation for a hive needs the hive to be readable (a
member: one they belong to); one for a deal needs the deal to be readable through crm, so a
member never books against — or sees — the pipeline: in the calendar a deal they may not
read is shown as "a deal", without its id or name.

Nothing is ever overbooked: a reservation that does not fit is refused with the week and
the units still free, and the resource row is locked while the week is summed so two
bookings at once cannot both take the last units. Resources themselves are kept by
``capacity_resources`` (re-exported here); the promise check is in ``capacity_promise``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.crm.service import get_readable, readable_query, spec_for
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event, events_savepoint
from pathcast.hives import models as m
from pathcast.hives.promise import EPSILON, monday, weeks_of
from pathcast.hives.schemas import definition_of
from pathcast.hives.service.access import get_hive, readable_clause, writable_hive
from pathcast.hives.service.capacity_resources import (
    RIGHT,
    UNITS_MAX,
    create_resource,
    get_resource,
    list_resources,
    may_book,
    may_edit_resources,
    require_capacity,
    update_resource,
)

WEEKS_MAX = 104

__all__ = [
    "RIGHT",
    "UNITS_MAX",
    "WEEKS_MAX",
    "CalendarCell",
    "CalendarRow",
    "Holder",
    "capacity_calendar",
    "create_resource",
    "get_resource",
    "holders_of",
    "list_reservations",
    "list_resources",
    "may_book",
    "may_edit_resources",
    "release",
    "reserve",
    "reserve_for_hive",
    "update_resource",
]

# --- who holds a booking ----------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Who holds a reservation, as the viewer may see it."""

    kind: str  # hive | deal | other
    id: int | None  # None when the viewer may not read that hive or deal
    label: str  # the hive's or deal's name, the note for other work; "" when hidden


def holders_of(session: Session, actor: Actor, reservations: Collection[m.Reservation]) -> dict[int, Holder]:
    """``{reservation id: Holder}``: names only of hives and deals ``actor`` may read."""
    hive_ids = {r.hive_id for r in reservations if r.hive_id is not None}
    deal_ids = {r.opportunity_id for r in reservations if r.opportunity_id is not None}
    hives: dict[int, str] = {}
    if hive_ids:
        query = select(m.Hive.id, m.Hive.name).where(m.Hive.id.in_(hive_ids), readable_clause(actor))
        hives = {row.id: row.name for row in session.execute(query)}
    deals: dict[int, str] = {}
    if deal_ids and may(actor, "opportunity", "read"):
        spec = spec_for("opportunity")
        query = readable_query(actor, spec).with_only_columns(spec.model.id, spec.model.name)
        deals = {row.id: row.name for row in session.execute(query.where(spec.model.id.in_(deal_ids)))}
    found: dict[int, Holder] = {}
    for r in reservations:
        if r.hive_id is not None:
            seen = r.hive_id in hives
            found[r.id] = Holder("hive", r.hive_id if seen else None, hives.get(r.hive_id, ""))
        elif r.opportunity_id is not None:
            seen = r.opportunity_id in deals
            found[r.id] = Holder("deal", r.opportunity_id if seen else None, deals.get(r.opportunity_id, ""))
        else:
            found[r.id] = Holder("other", None, r.note)
    return found


# --- reservations -----------------------------------------------------------------------------


def _reservation_state(reservation: m.Reservation) -> dict[str, Any]:
    return {
        "resource_id": reservation.resource_id,
        "week_start": reservation.week_start.isoformat(),
        "units": reservation.units,
        "hive_id": reservation.hive_id,
        "opportunity_id": reservation.opportunity_id,
        "note": reservation.note,
    }


def _booked(session: Session, resource_id: int, week: date) -> float:
    total = session.scalar(
        select(func.coalesce(func.sum(m.Reservation.units), 0.0)).where(
            m.Reservation.resource_id == resource_id, m.Reservation.week_start == week
        )
    )
    return float(total or 0.0)


def _locked_resource(session: Session, resource_id: int) -> m.Resource | None:
    """The resource row, locked until commit (PostgreSQL) so concurrent bookings queue."""
    return session.scalars(select(m.Resource).where(m.Resource.id == resource_id).with_for_update()).first()


def _check_holder(session: Session, actor: Actor, hive_id: int | None, opportunity_id: int | None) -> None:
    errors: list[FieldError] = []
    if hive_id is not None and opportunity_id is not None:
        errors.append(FieldError("opportunity_id", "invalid", {"message": "a hive or a deal, not both"}))
    if hive_id is not None:
        try:
            get_hive(session, actor, hive_id)
        except (NotFound, PermissionDenied):
            errors.append(FieldError("hive_id", "unknown_reference", {"entity": "hive", "id": hive_id}))
    if opportunity_id is not None:
        try:
            get_readable(session, actor, spec_for("opportunity"), opportunity_id)
        except (NotFound, PermissionDenied):
            errors.append(
                FieldError(
                    "opportunity_id", "unknown_reference", {"entity": "opportunity", "id": opportunity_id}
                )
            )
    if errors:
        raise InvalidInput(errors)


def _book(
    session: Session, actor: Actor, resource: m.Resource, week: date, units: float, *,
    hive_id: int | None, opportunity_id: int | None, note: str, at: datetime,
) -> m.Reservation:  # fmt: skip
    free = resource.capacity_per_week - _booked(session, resource.id, week)
    if units > free + EPSILON:
        raise InvalidInput.single("units", "overbooked", week=week.isoformat(), resource=resource.name,
                                  free=round(max(free, 0.0), 2), units=units)  # fmt: skip
    reservation = m.Reservation(resource_id=resource.id, hive_id=hive_id, opportunity_id=opportunity_id,
                                week_start=week, units=units, note=note, created_at=at,
                                created_by=actor.user_id)  # fmt: skip
    session.add(reservation)
    session.flush()
    return reservation


def reserve(
    session: Session,
    actor: Actor,
    *,
    resource_id: int,
    week_start: date,
    units: float,
    hive_id: int | None = None,
    opportunity_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> m.Reservation:
    """Book ``units`` of a resource in the week of ``week_start`` (kept as its Monday) for a
    hive, an open deal or other work (``hive.reservation_made``). Refuses overbooking,
    naming the week and the units free."""
    require_capacity(actor, "update")
    errors: list[FieldError] = []
    if (
        isinstance(units, bool)
        or not isinstance(units, int | float)
        or not math.isfinite(units)
        or units <= 0
    ):
        errors.append(FieldError("units", "too_small_strict", {"min": 0}))
    elif units > UNITS_MAX:
        errors.append(FieldError("units", "too_large", {"max": UNITS_MAX}))
    clean_note = " ".join((note or "").split())
    if len(clean_note) > 300:
        errors.append(FieldError("note", "too_long", {"max": 300}))
    resource = _locked_resource(session, resource_id)
    if resource is None or not resource.active:
        errors.append(FieldError("resource_id", "unknown_reference", {"entity": RIGHT, "id": resource_id}))
    if errors:
        raise InvalidInput(errors)
    assert resource is not None
    _check_holder(session, actor, hive_id, opportunity_id)
    at = now or utcnow()
    reservation = _book(session, actor, resource, monday(week_start), float(units), hive_id=hive_id,
                        opportunity_id=opportunity_id, note=clean_note, at=at)  # fmt: skip
    append_event(session, type="hive.reservation_made", entity="hive_reservation", entity_id=reservation.id,
                 actor=actor.label, payload={"before": None, "after": _reservation_state(reservation)},
                 occurred_at=at)  # fmt: skip
    return reservation


def _visible_reservation(session: Session, actor: Actor, reservation_id: int) -> m.Reservation:
    reservation = session.get(m.Reservation, reservation_id)
    if reservation is None:
        raise NotFound("not_found", entity="hive_reservation", id=reservation_id)
    holder = holders_of(session, actor, [reservation])[reservation.id]
    if holder.kind != "other" and holder.id is None:
        # a booking of a hive or deal the viewer may not read looks like a missing one
        raise NotFound("not_found", entity="hive_reservation", id=reservation_id)
    return reservation


def release(session: Session, actor: Actor, *, reservation_id: int) -> None:
    """Give a booking back (``hive.reservation_released``)."""
    require_capacity(actor, "update")
    reservation = _visible_reservation(session, actor, reservation_id)
    state = _reservation_state(reservation)
    session.delete(reservation)
    session.flush()
    append_event(session, type="hive.reservation_released", entity="hive_reservation", entity_id=reservation_id,
                 actor=actor.label, payload={"before": state, "after": None, "deleted": True})  # fmt: skip


def list_reservations(
    session: Session,
    actor: Actor,
    *,
    hive_id: int | None = None,
    opportunity_id: int | None = None,
    resource_id: int | None = None,
    week_from: date | None = None,
    week_to: date | None = None,
    limit: int = 2000,
) -> list[tuple[m.Reservation, Holder]]:
    """Bookings by week, with who holds each as ``actor`` may see it. Filtering by a hive or
    a deal the viewer may not read is a 404."""
    require_capacity(actor, "read")
    query = select(m.Reservation).order_by(m.Reservation.week_start, m.Reservation.id)
    if hive_id is not None:
        get_hive(session, actor, hive_id)
        query = query.where(m.Reservation.hive_id == hive_id)
    if opportunity_id is not None:
        get_readable(session, actor, spec_for("opportunity"), opportunity_id)
        query = query.where(m.Reservation.opportunity_id == opportunity_id)
    if resource_id is not None:
        query = query.where(m.Reservation.resource_id == resource_id)
    if week_from is not None:
        query = query.where(m.Reservation.week_start >= monday(week_from))
    if week_to is not None:
        query = query.where(m.Reservation.week_start <= monday(week_to))
    rows = list(session.scalars(query.limit(limit)))
    holders = holders_of(session, actor, rows)
    return [(row, holders[row.id]) for row in rows]


def reserve_for_hive(
    session: Session, actor: Actor, hive_id: int, *, now: datetime | None = None
) -> list[m.Reservation]:
    """Book the hive's milestone needs (from its template) over their forecast windows
    (from this week on; milestones done need nothing), replacing what the hive booked before (``hive.capacity_reserved``). All or nothing: a
    week that does not fit refuses the whole plan, naming the milestone, week and units free
    (the earlier bookings stay as they were: the work runs in a savepoint)."""
    require_capacity(actor, "update")
    hive = writable_hive(session, actor, hive_id)
    with events_savepoint(session):
        return _reserve_plan(session, actor, hive, now=now)


def _reserve_plan(
    session: Session, actor: Actor, hive: m.Hive, *, now: datetime | None
) -> list[m.Reservation]:
    template = session.get(m.Template, hive.template_id) if hive.template_id is not None else None
    if template is None:
        raise InvalidInput.single(
            "template", "invalid", message="this hive has no template with capacity needs"
        )
    needs = {milestone.key: milestone.needs for milestone in definition_of(template.definition).milestones}
    tasks = session.scalars(
        select(m.Task).where(m.Task.hive_id == hive.id, m.Task.kind == "milestone", m.Task.status != "done")
    )
    at = now or utcnow()
    this_week = monday(at.date())
    previous = list(session.scalars(select(m.Reservation).where(m.Reservation.hive_id == hive.id)))
    released = [_reservation_state(r) for r in previous]
    for reservation in previous:
        session.delete(reservation)
    session.flush()
    wanted: dict[tuple[str, date], float] = defaultdict(float)
    origin: dict[tuple[str, date], str] = {}
    for task in tasks:
        begin = task.forecast_start or task.planned_start
        finish = task.forecast_finish or task.due_date
        for need in needs.get(task.key or "", []):
            for week in weeks_of(begin, max((finish - begin).days, 0)):
                if week < this_week:
                    continue  # capacity of weeks gone by is no longer anyone's to book
                wanted[(need.skill, week)] += need.units_per_week
                origin.setdefault((need.skill, week), task.name)
    made: list[m.Reservation] = []
    for (skill, week), units in sorted(wanted.items(), key=lambda item: (item[0][1], item[0][0])):
        resources = session.scalars(
            select(m.Resource).where(m.Resource.skill == skill, m.Resource.active.is_(True))
            .order_by(m.Resource.id).with_for_update()
        ).all()  # fmt: skip
        free = {r.id: r.capacity_per_week - _booked(session, r.id, week) for r in resources}
        if sum(max(v, 0.0) for v in free.values()) + EPSILON < units:
            raise InvalidInput.single("capacity", "plan_overbooked", milestone=origin[(skill, week)], skill=skill,
                                      week=week.isoformat(), free=round(sum(max(v, 0.0) for v in free.values()), 2),
                                      units=units)  # fmt: skip
        left = units
        for resource in sorted(resources, key=lambda r: (-free[r.id], r.id)):
            part = min(left, max(free[resource.id], 0.0))
            if part <= EPSILON:
                continue
            made.append(_book(session, actor, resource, week, part, hive_id=hive.id, opportunity_id=None,
                              note=origin[(skill, week)][:300], at=at))  # fmt: skip
            left -= part
            if left <= EPSILON:
                break
    append_event(session, type="hive.capacity_reserved", entity="hive", entity_id=hive.id, actor=actor.label,
                 payload={"released": released, "reserved": [_reservation_state(r) for r in made],
                          "units": sum(r.units for r in made)}, occurred_at=at)  # fmt: skip
    return made


# --- the calendar -----------------------------------------------------------------------------


@dataclass
class CalendarCell:
    """One resource in one week."""

    week_start: date
    capacity: float
    booked: float
    holders: list[tuple[Holder, float, int]]  # (holder, units, reservation id)

    @property
    def free(self) -> float:
        return max(0.0, self.capacity - self.booked)

    @property
    def load(self) -> float:
        """Booked over capacity, 0–1+ (a resource with no capacity and nothing booked: 0)."""
        if self.capacity <= 0:
            return 1.0 if self.booked > 0 else 0.0
        return self.booked / self.capacity


@dataclass
class CalendarRow:
    """A resource and its weeks."""

    resource: m.Resource
    cells: list[CalendarCell]


def capacity_calendar(
    session: Session, actor: Actor, *, weeks: int = 12, start: date | None = None, now: datetime | None = None
) -> tuple[list[date], list[CalendarRow]]:
    """Resources × weeks from the week of ``start`` (default this week): capacity, booked,
    and by whom (as ``actor`` may see them)."""
    require_capacity(actor, "read")
    if not 1 <= weeks <= WEEKS_MAX:
        raise InvalidInput.single("weeks", "invalid", message=f"1 to {WEEKS_MAX}")
    first = monday(start or (now or utcnow()).date())
    mondays = [first + timedelta(weeks=i) for i in range(weeks)]
    resources = list_resources(session, actor)
    reservations = list(
        session.scalars(
            select(m.Reservation).where(m.Reservation.week_start >= first, m.Reservation.week_start <= mondays[-1])
            .order_by(m.Reservation.units.desc(), m.Reservation.id)
        )
    )  # fmt: skip
    holders = holders_of(session, actor, reservations)
    by_cell: dict[tuple[int, date], list[m.Reservation]] = defaultdict(list)
    for reservation in reservations:
        by_cell[(reservation.resource_id, reservation.week_start)].append(reservation)
    rows = []
    for resource in resources:
        cells = []
        for week in mondays:
            booked = by_cell.get((resource.id, week), [])
            cells.append(CalendarCell(week, resource.capacity_per_week, sum(r.units for r in booked),
                                      [(holders[r.id], r.units, r.id) for r in booked]))  # fmt: skip
        rows.append(CalendarRow(resource, cells))
    return mondays, rows
