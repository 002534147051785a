"""Hives API, capacity and the promise check (``/api/v1/hives/...``).

- ``GET``/``POST /hives/resources``, ``PATCH /hives/resources/{id}``: lines, teams and
  people with a skill and a weekly capacity (admins, managers and planners write; reps read);
- ``GET``/``POST /hives/reservations``, ``DELETE /hives/reservations/{id}``: bookings per
  week, refused with the week and the units free when they would overbook;
- ``POST /hives/{hive_id}/reservations/from-plan``: book a hive's milestone needs over their
  forecast windows (replaces what the hive booked);
- ``GET /hives/capacity?weeks=&start=``: resources × weeks, booked and by whom;
- ``POST /hives/promise``: the earliest date we can promise on an open deal, the
  bottleneck and what would have to move (sellers who may read the deal; members 403).

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.deps import CurrentActor, DbSession
from pathcast.hives import models as m
from pathcast.hives import schemas as s
from pathcast.hives.service import capacity
from pathcast.hives.service.capacity_promise import promise_for_deal

router = APIRouter(prefix="/hives", tags=["hives"])

Weeks = Annotated[
    int, Query(ge=1, le=capacity.WEEKS_MAX, description="How many weeks, from the week of start")
]


def reservation_read(
    reservation: m.Reservation, holder: capacity.Holder, resource_name: str
) -> s.ReservationRead:
    """A booking as the viewer may see it (a hidden hive or deal has no id)."""
    return s.ReservationRead(
        id=reservation.id,
        resource_id=reservation.resource_id,
        resource_name=resource_name,
        week_start=reservation.week_start,
        units=reservation.units,
        note=reservation.note,
        hive_id=holder.id if holder.kind == "hive" else None,
        opportunity_id=holder.id if holder.kind == "deal" else None,
        holder=holder.kind,
        holder_label=holder.label,
        created_at=reservation.created_at,
        created_by=reservation.created_by,
    )


def _names(session: Session, actor: Actor) -> dict[int, str]:
    return {r.id: r.name for r in capacity.list_resources(session, actor, include_inactive=True)}


# --- resources --------------------------------------------------------------------------------


@router.get("/resources", response_model=list[s.ResourceRead], summary="Resources and their weekly capacity")
def list_resources(session: DbSession, actor: CurrentActor, include_inactive: bool = False) -> Any:
    return capacity.list_resources(session, actor, include_inactive=include_inactive)


@router.post("/resources", response_model=s.ResourceRead, status_code=201, summary="Add a resource")
def add_resource(body: s.ResourceCreate, session: DbSession, actor: CurrentActor) -> Any:
    return capacity.create_resource(session, actor, data=body.model_dump())


@router.patch("/resources/{resource_id}", response_model=s.ResourceRead, summary="Change a resource")
def update_resource(resource_id: int, body: s.ResourceUpdate, session: DbSession, actor: CurrentActor) -> Any:
    return capacity.update_resource(
        session, actor, resource_id=resource_id, changes=body.model_dump(exclude_unset=True)
    )


# --- reservations -----------------------------------------------------------------------------


@router.get("/reservations", response_model=list[s.ReservationRead], summary="Bookings by week")
def list_reservations(
    session: DbSession,
    actor: CurrentActor,
    hive_id: int | None = None,
    opportunity_id: int | None = None,
    resource_id: int | None = None,
    week_from: dt.date | None = None,
    week_to: dt.date | None = None,
) -> Any:
    rows = capacity.list_reservations(
        session, actor, hive_id=hive_id, opportunity_id=opportunity_id, resource_id=resource_id,
        week_from=week_from, week_to=week_to,
    )  # fmt: skip
    names = _names(session, actor)
    return [reservation_read(row, holder, names.get(row.resource_id, "")) for row, holder in rows]


@router.post(
    "/reservations", response_model=s.ReservationRead, status_code=201, summary="Book capacity for a week"
)
def add_reservation(body: s.ReservationCreate, session: DbSession, actor: CurrentActor) -> Any:
    made = capacity.reserve(session, actor, **body.model_dump())
    holder = capacity.holders_of(session, actor, [made])[made.id]
    return reservation_read(made, holder, _names(session, actor).get(made.resource_id, ""))


@router.delete("/reservations/{reservation_id}", status_code=204, summary="Release a booking")
def release_reservation(reservation_id: int, session: DbSession, actor: CurrentActor) -> Response:
    capacity.release(session, actor, reservation_id=reservation_id)
    return Response(status_code=204)


@router.post(
    "/{hive_id}/reservations/from-plan",
    response_model=list[s.ReservationRead],
    summary="Book a hive's milestone needs over their forecast windows (replaces its bookings)",
)
def reserve_from_plan(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    made = capacity.reserve_for_hive(session, actor, hive_id)
    holders = capacity.holders_of(session, actor, made)
    names = _names(session, actor)
    return [reservation_read(r, holders[r.id], names.get(r.resource_id, "")) for r in made]


# --- the calendar and the promise check -------------------------------------------------------


@router.get(
    "/capacity", response_model=s.CapacityCalendar, summary="Resources × weeks: capacity, booked, by whom"
)
def capacity_calendar(
    session: DbSession, actor: CurrentActor, weeks: Weeks = 12, start: dt.date | None = None
) -> Any:
    mondays, rows = capacity.capacity_calendar(session, actor, weeks=weeks, start=start)
    return s.CapacityCalendar(
        weeks=mondays,
        rows=[
            s.CapacityRow(
                resource=s.ResourceRead.model_validate(row.resource),
                cells=[
                    s.CapacityCell(
                        week_start=cell.week_start, capacity=cell.capacity, booked=cell.booked, free=cell.free,
                        holders=[
                            s.CapacityHolder(holder=h.kind, holder_id=h.id, label=h.label, units=units,
                                             resource_id=row.resource.id, reservation_id=rid)
                            for h, units, rid in cell.holders
                        ],
                    )
                    for cell in row.cells
                ],
            )
            for row in rows
        ],
    )  # fmt: skip


@router.post(
    "/promise",
    response_model=s.PromiseAnswer,
    summary="What can we promise? The earliest feasible delivery date on an open deal",
)
def promise(body: s.PromiseRequest, session: DbSession, actor: CurrentActor) -> Any:
    return promise_for_deal(
        session, actor, body.opportunity_id, template=body.template,
        requested_date=body.requested_date, start_date=body.start_date,
    )  # fmt: skip
