"""The promise check: the earliest delivery date the booked capacity allows (pure, no database).

Given a template's milestones (durations in days, finish-to-start dependencies, the
capacity each needs per week of its run), the resources (skill, units per week, active)
and what is already booked (resource, ISO week, units), plan the milestones in dependency
order. A milestone starts at the latest of its offset from the start and its dependencies'
finish; if it needs capacity it may start only when, for **every** ISO week its run
overlaps, the free capacity of each needed skill (over the active resources of that skill,
capacity minus bookings minus what this plan already took) covers its units per week. The
units may be split across resources of the skill; the plan says which. When a week is too
full, the next candidate start is the Monday after it: any earlier start still overlaps it.
Searching stops after ``horizon_weeks`` (104 by default), and the answer says so.

Planning milestone by milestone in dependency order is exact for chains (a later start of
a predecessor can never free capacity its successor needs); where parallel milestones
compete for one skill it is the usual greedy heuristic (scheduling under resource limits is
NP-hard in general) — it never overbooks and never promises earlier than the capacity
allows, which is what the promise must guarantee.

The answer also names the **bottleneck** (the milestone and skill whose capacity pushed the
date most, with the weeks that were full and who booked them) and, when a requested date is
missed, **what would have to move**: bookings to release (largest first, deals before hives)
and extra capacity per skill and week, for the plan that starts every milestone as early as
its dependencies allow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from pathcast.hives.schedule import order

HORIZON_WEEKS = 104
EPSILON = 1e-9
WEEK = timedelta(days=7)


def monday(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def weeks_of(start: date, duration_days: int) -> list[date]:
    """The Mondays of the ISO weeks a run of ``duration_days`` from ``start`` overlaps
    (a run of 0 days still occupies the day it happens on)."""
    last = start + timedelta(days=max(duration_days, 1) - 1)
    week, found = monday(start), []
    while week <= last:
        found.append(week)
        week += WEEK
    return found


# --- input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A milestone to plan: its needs are ``(skill, units_per_week)``."""

    key: str
    name: str
    offset_days: int
    duration_days: int
    depends_on: tuple[str, ...] = ()
    needs: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Capacity:
    """A resource: ``capacity_per_week`` units of ``skill``."""

    id: int
    name: str
    skill: str
    capacity_per_week: float
    active: bool = True


@dataclass(frozen=True)
class Booking:
    """Units of a resource already booked in the week of ``week`` (any day; its Monday counts)."""

    id: int
    resource_id: int
    week: date
    units: float
    holder: str = "other"  # hive | deal | other
    holder_id: int | None = None
    label: str = ""


# --- output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Allocation:
    """Units of one resource a milestone takes in one week."""

    resource_id: int
    week: date
    units: float


@dataclass
class PlannedStep:
    """Where a milestone lands, what it takes, and how far capacity pushed it."""

    key: str
    name: str
    start: date
    finish: date
    earliest_start: date  # what its dependencies and offset alone allow
    allocations: list[Allocation] = field(default_factory=list)
    # (week, skill, units needed, units free) for every full week that pushed it
    full_weeks: list[tuple[date, str, float, float]] = field(default_factory=list)

    @property
    def pushed_days(self) -> int:
        """Days capacity pushed the start beyond what the dependencies allow."""
        return (self.start - self.earliest_start).days


@dataclass(frozen=True)
class Holder:
    """Who booked a full week: a hive, a deal or other work, and how much."""

    holder: str
    holder_id: int | None
    label: str
    resource_id: int
    units: float
    booking_id: int


@dataclass
class Bottleneck:
    """The milestone and skill whose capacity pushed the date the most."""

    step: str
    name: str
    skill: str
    pushed_days: int
    weeks: list[date]
    holders: list[Holder]


@dataclass(frozen=True)
class Move:
    """A booking that would have to be released (or moved) for the requested date."""

    booking_id: int
    resource_id: int
    week: date
    units: float  # how much of it must go (may be less than the booking)
    booked: float
    holder: str
    holder_id: int | None
    label: str


@dataclass(frozen=True)
class ExtraCapacity:
    """Capacity of ``skill`` missing in a week even if every booking there moved."""

    skill: str
    week: date
    units: float


@dataclass
class Promise:
    """The answer: the earliest feasible delivery date and why it is not earlier."""

    start: date
    finish: date | None  # None: no feasible plan within the horizon
    unconstrained_finish: date  # with capacity ignored
    steps: list[PlannedStep]
    horizon_weeks: int
    infeasible_step: str | None = None  # the milestone that found no room in the horizon
    infeasible_skill: str | None = None
    bottleneck: Bottleneck | None = None
    requested: date | None = None
    moves: list[Move] = field(default_factory=list)
    extra: list[ExtraCapacity] = field(default_factory=list)
    # the requested date is before the template's own length allows, whatever moves
    requested_too_early: bool = False

    @property
    def meets_request(self) -> bool | None:
        """Whether the earliest date makes the requested one (None without a request)."""
        if self.requested is None:
            return None
        return self.finish is not None and self.finish <= self.requested


# --- planning ---------------------------------------------------------------------------------


class _Ledger:
    """Free units per resource per week: capacity minus bookings minus this plan's takes."""

    def __init__(self, resources: Sequence[Capacity], bookings: Sequence[Booking]) -> None:
        self.by_skill: dict[str, list[Capacity]] = defaultdict(list)
        for resource in sorted(resources, key=lambda r: r.id):
            if resource.active and resource.capacity_per_week > 0:
                self.by_skill[resource.skill].append(resource)
        self.capacity = {r.id: float(r.capacity_per_week) for r in resources if r.active}
        self.used: dict[tuple[int, date], float] = defaultdict(float)
        for booking in bookings:
            self.used[(booking.resource_id, monday(booking.week))] += float(booking.units)

    def free_of(self, resource_id: int, week: date) -> float:
        return max(0.0, self.capacity.get(resource_id, 0.0) - self.used[(resource_id, week)])

    def free(self, skill: str, week: date) -> float:
        return sum(self.free_of(r.id, week) for r in self.by_skill.get(skill, ()))

    def take(self, skill: str, week: date, units: float) -> list[Allocation]:
        """Book ``units`` of ``skill`` in ``week``, most free resource first (the caller
        checked they fit)."""
        taken: list[Allocation] = []
        left = units
        for resource in sorted(self.by_skill[skill], key=lambda r: (-self.free_of(r.id, week), r.id)):
            if left <= EPSILON:
                break
            part = min(left, self.free_of(resource.id, week))
            if part <= EPSILON:
                continue
            self.used[(resource.id, week)] += part
            taken.append(Allocation(resource.id, week, part))
            left -= part
        return taken


def _sequence(steps: Sequence[Step]) -> list[Step]:
    index = {step.key: number for number, step in enumerate(steps)}
    edges = [(index[s.key], index[d]) for s in steps for d in s.depends_on if d in index]
    return [steps[i] for i in order(list(range(len(steps))), edges)]


def _first_full_week(ledger: _Ledger, step: Step, start: date) -> tuple[date, str, float, float] | None:
    for week in weeks_of(start, step.duration_days):
        for skill, units in step.needs:
            free = ledger.free(skill, week)
            if free + EPSILON < units:
                return week, skill, units, free
    return None


def unconstrained(steps: Sequence[Step], start: date) -> dict[str, tuple[date, date]]:
    """Each milestone's (start, finish) with capacity ignored: offset and dependencies only."""
    placed: dict[str, tuple[date, date]] = {}
    for step in _sequence(steps):
        begin = max([start + timedelta(days=step.offset_days), *(placed[d][1] for d in step.depends_on)])
        placed[step.key] = (begin, begin + timedelta(days=step.duration_days))
    return placed


def plan(
    steps: Sequence[Step],
    resources: Sequence[Capacity],
    bookings: Sequence[Booking],
    *,
    start: date,
    requested: date | None = None,
    horizon_weeks: int = HORIZON_WEEKS,
) -> Promise:
    """Plan ``steps`` against the free capacity and answer the promise check."""
    ledger = _Ledger(resources, bookings)
    limit = monday(start) + WEEK * horizon_weeks
    free_plan = unconstrained(steps, start)
    answer = Promise(
        start=start,
        finish=None,
        unconstrained_finish=max((f for _s, f in free_plan.values()), default=start),
        steps=[],
        horizon_weeks=horizon_weeks,
        requested=requested,
    )
    finish: dict[str, date] = {}
    for step in _sequence(steps):
        earliest = max([start + timedelta(days=step.offset_days), *(finish[d] for d in step.depends_on)])
        candidate = earliest
        planned = PlannedStep(step.key, step.name, earliest, earliest, earliest)
        while True:
            full = _first_full_week(ledger, step, candidate)
            if full is None:
                break
            planned.full_weeks.append(full)
            candidate = full[0] + WEEK
            if candidate >= limit:
                answer.steps.append(planned)
                answer.infeasible_step, answer.infeasible_skill = step.key, full[1]
                answer.bottleneck = _bottleneck(answer.steps, bookings, ledger)
                _what_would_move(answer, steps, resources, bookings, free_plan)
                return answer
        planned.start = candidate
        planned.finish = candidate + timedelta(days=step.duration_days)
        for week in weeks_of(candidate, step.duration_days):
            for skill, units in step.needs:
                planned.allocations.extend(ledger.take(skill, week, units))
        finish[step.key] = planned.finish
        answer.steps.append(planned)
    answer.finish = max(finish.values(), default=start)
    answer.bottleneck = _bottleneck(answer.steps, bookings, ledger)
    if requested is not None and answer.finish > requested:
        _what_would_move(answer, steps, resources, bookings, free_plan)
    return answer


def _bottleneck(steps: list[PlannedStep], bookings: Sequence[Booking], ledger: _Ledger) -> Bottleneck | None:
    pushed = [s for s in steps if s.full_weeks]
    if not pushed:
        return None
    worst = max(pushed, key=lambda s: ((s.start - s.earliest_start).days, len(s.full_weeks)))
    skills: dict[str, int] = defaultdict(int)
    for _week, skill, _need, _free in worst.full_weeks:
        skills[skill] += 1
    skill = max(skills, key=lambda k: (skills[k], k))
    weeks = sorted({week for week, s, _n, _f in worst.full_weeks if s == skill})
    ids = {r.id for r in ledger.by_skill.get(skill, ())}
    holders = [
        Holder(b.holder, b.holder_id, b.label, b.resource_id, float(b.units), b.id)
        for b in bookings
        if b.resource_id in ids and monday(b.week) in weeks
    ]
    holders.sort(key=lambda h: (-h.units, h.booking_id))
    return Bottleneck(worst.key, worst.name, skill, worst.pushed_days, weeks, holders)


def _what_would_move(
    answer: Promise,
    steps: Sequence[Step],
    resources: Sequence[Capacity],
    bookings: Sequence[Booking],
    free_plan: dict[str, tuple[date, date]],
) -> None:
    """For the plan that starts each milestone as early as its dependencies allow: the
    bookings to release, and the capacity missing even then, week by week."""
    requested = answer.requested
    if requested is None:
        return
    if answer.unconstrained_finish > requested:
        answer.requested_too_early = True
    demand: dict[tuple[str, date], float] = defaultdict(float)
    for step in steps:
        begin, _end = free_plan[step.key]
        for week in weeks_of(begin, step.duration_days):
            for skill, units in step.needs:
                demand[(skill, week)] += units
    ledger = _Ledger(resources, [])
    by_resource_week: dict[tuple[int, date], list[Booking]] = defaultdict(list)
    for booking in bookings:
        by_resource_week[(booking.resource_id, monday(booking.week))].append(booking)
    for (skill, week), wanted in sorted(demand.items(), key=lambda item: (item[0][1], item[0][0])):
        members = ledger.by_skill.get(skill, [])
        total = sum(ledger.capacity[r.id] for r in members)
        booked = [b for r in members for b in by_resource_week[(r.id, week)]]
        # Over-booked resources (capacity lowered later) cannot give back more than their capacity.
        free = sum(
            max(0.0, ledger.capacity[r.id] - sum(b.units for b in by_resource_week[(r.id, week)]))
            for r in members
        )
        short = wanted - free
        if short <= EPSILON:
            continue
        if wanted > total + EPSILON:
            answer.extra.append(ExtraCapacity(skill, week, round(wanted - total, 6)))
            short = total - free
        # deals (not signed yet) and other work before hives; then the largest first
        booked.sort(key=lambda b: (b.holder == "hive", -b.units, b.id))
        for booking in booked:
            if short <= EPSILON:
                break
            part = min(short, float(booking.units))
            answer.moves.append(
                Move(booking.id, booking.resource_id, week, round(part, 6), float(booking.units),
                     booking.holder, booking.holder_id, booking.label)
            )  # fmt: skip
            short -= part
