"""Hive I/O shapes, capacity: resources, reservations, the calendar and the promise check."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from pathcast.schemas import INTERNAL, RETAINED, ProjectBase

_CpUnits = Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
_CpHolder = Literal["hive", "deal", "other"]


class ResourceCreate(ProjectBase):
    """``POST /hives/resources``: a line, a team or a person with a skill."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["line", "team", "person"]
    skill: str = Field(min_length=1, max_length=80)
    capacity_per_week: _CpUnits
    user_id: int | None = None
    active: bool = True


class ResourceUpdate(ProjectBase):
    """``PATCH /hives/resources/{id}``: only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: Literal["line", "team", "person"] | None = None
    skill: str | None = Field(default=None, min_length=1, max_length=80)
    capacity_per_week: _CpUnits | None = None
    user_id: int | None = None
    active: bool | None = None


class ResourceRead(ProjectBase):
    """A resource and its weekly capacity."""

    id: Annotated[int, INTERNAL]
    name: Annotated[str, INTERNAL]
    kind: Annotated[str, INTERNAL]
    skill: Annotated[str, INTERNAL]
    capacity_per_week: Annotated[float, INTERNAL]
    user_id: Annotated[int | None, INTERNAL]
    active: Annotated[bool, INTERNAL]
    created_at: Annotated[datetime, RETAINED]
    updated_at: Annotated[datetime, RETAINED]


class ReservationCreate(ProjectBase):
    """``POST /hives/reservations``: units of a resource for one week (its Monday is kept),
    for a hive, an open deal, or other work (neither)."""

    resource_id: int
    week_start: date
    units: float = Field(gt=0, le=100_000, allow_inf_nan=False)
    hive_id: int | None = None
    opportunity_id: int | None = None
    note: str = Field(default="", max_length=300)


class ReservationRead(ProjectBase):
    """A booking, and who holds it (a deal the viewer may not read shows no id or name)."""

    id: Annotated[int, INTERNAL]
    resource_id: Annotated[int, INTERNAL]
    resource_name: Annotated[str, INTERNAL]
    week_start: Annotated[date, INTERNAL]
    units: Annotated[float, INTERNAL]
    note: Annotated[str, INTERNAL]
    hive_id: Annotated[int | None, INTERNAL]
    opportunity_id: Annotated[int | None, INTERNAL]
    holder: Annotated[_CpHolder, INTERNAL]
    holder_label: Annotated[str, INTERNAL]
    created_at: Annotated[datetime, RETAINED]
    created_by: Annotated[int | None, RETAINED]


class CapacityHolder(ProjectBase):
    """Who booked units of a week (a hidden deal is "a deal", without id)."""

    holder: Annotated[_CpHolder, INTERNAL]
    holder_id: Annotated[int | None, INTERNAL]
    label: Annotated[str, INTERNAL]
    units: Annotated[float, INTERNAL]
    resource_id: Annotated[int, INTERNAL]
    reservation_id: Annotated[int, INTERNAL]


class CapacityCell(ProjectBase):
    """One resource in one week: capacity, booked, free and by whom."""

    week_start: Annotated[date, INTERNAL]
    capacity: Annotated[float, INTERNAL]
    booked: Annotated[float, INTERNAL]
    free: Annotated[float, INTERNAL]
    holders: Annotated[list[CapacityHolder], INTERNAL]


class CapacityRow(ProjectBase):
    """A resource and its weeks."""

    resource: Annotated[ResourceRead, INTERNAL]
    cells: Annotated[list[CapacityCell], INTERNAL]


class CapacityCalendar(ProjectBase):
    """``GET /hives/capacity``: resources × weeks."""

    weeks: Annotated[list[date], INTERNAL]
    rows: Annotated[list[CapacityRow], INTERNAL]


class PromiseRequest(ProjectBase):
    """``POST /hives/promise``: what can we promise on this open deal?"""

    opportunity_id: int
    template: str | int = "line_upgrade"
    requested_date: date | None = None
    start_date: date | None = None


class PromiseAllocation(ProjectBase):
    """Units of a resource a milestone would take in a week."""

    resource_id: Annotated[int, INTERNAL]
    resource_name: Annotated[str, INTERNAL]
    week_start: Annotated[date, INTERNAL]
    units: Annotated[float, INTERNAL]


class PromiseMilestone(ProjectBase):
    """Where a milestone lands and how far capacity pushed it."""

    key: Annotated[str, INTERNAL]
    name: Annotated[str, INTERNAL]
    start: Annotated[date, INTERNAL]
    finish: Annotated[date, INTERNAL]
    earliest_start: Annotated[date, INTERNAL]
    pushed_days: Annotated[int, INTERNAL]
    allocations: Annotated[list[PromiseAllocation], INTERNAL]


class PromiseBottleneck(ProjectBase):
    """The milestone and skill whose capacity pushed the date most, the full weeks, by whom."""

    milestone: Annotated[str, INTERNAL]
    name: Annotated[str, INTERNAL]
    skill: Annotated[str, INTERNAL]
    pushed_days: Annotated[int, INTERNAL]
    weeks: Annotated[list[date], INTERNAL]
    holders: Annotated[list[CapacityHolder], INTERNAL]


class PromiseMove(ProjectBase):
    """A booking that would have to be released or moved for the requested date."""

    reservation_id: Annotated[int, INTERNAL]
    resource_id: Annotated[int, INTERNAL]
    resource_name: Annotated[str, INTERNAL]
    week_start: Annotated[date, INTERNAL]
    units: Annotated[float, INTERNAL]
    booked: Annotated[float, INTERNAL]
    holder: Annotated[_CpHolder, INTERNAL]
    holder_id: Annotated[int | None, INTERNAL]
    label: Annotated[str, INTERNAL]


class PromiseExtra(ProjectBase):
    """Capacity of a skill missing in a week even if every booking there moved."""

    skill: Annotated[str, INTERNAL]
    week_start: Annotated[date, INTERNAL]
    units: Annotated[float, INTERNAL]


class PromiseAnswer(ProjectBase):
    """The promise check's answer (also the payload of ``hive.promise_checked``)."""

    opportunity_id: Annotated[int, INTERNAL]
    template: Annotated[str, INTERNAL]
    start_date: Annotated[date, INTERNAL]
    earliest_date: Annotated[date | None, INTERNAL]
    unconstrained_date: Annotated[date, INTERNAL]
    requested_date: Annotated[date | None, INTERNAL]
    meets_request: Annotated[bool | None, INTERNAL]
    requested_too_early: Annotated[bool, INTERNAL]
    horizon_weeks: Annotated[int, INTERNAL]
    infeasible_milestone: Annotated[str | None, INTERNAL]
    infeasible_skill: Annotated[str | None, INTERNAL]
    milestones: Annotated[list[PromiseMilestone], INTERNAL]
    bottleneck: Annotated[PromiseBottleneck | None, INTERNAL]
    moves: Annotated[list[PromiseMove], INTERNAL]
    extra_capacity: Annotated[list[PromiseExtra], INTERNAL]
    checked_at: Annotated[datetime, RETAINED]
