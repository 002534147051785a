"""The promise check on an open deal: "what can we promise?" from the template's needs and
the capacity booked.

Readable only by people who may read the deal (crm's scoping): a hidden deal is a 404, a
member — who never reads the pipeline — gets 403. The deal's own bookings count as its
own (they are what it holds, not what stands in its way). The answer is appended as
``hive.promise_checked`` on the opportunity, so it shows on the deal's timeline before
signing; the payload holds the date, the bottleneck and what would have to move.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm.service import get_readable, spec_for
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput
from pathcast.events import append_event, events_for_entity
from pathcast.hives import models as m
from pathcast.hives import promise as pure
from pathcast.hives import schemas as s
from pathcast.hives.schemas import definition_of
from pathcast.hives.service.capacity import holders_of
from pathcast.hives.service.templates import find_template

__all__ = ["EVENT", "check_inputs", "past_checks", "promise_for_deal", "steps_of"]

EVENT = "hive.promise_checked"
PAST_CHECKS = 5


def steps_of(definition: dict[str, Any]) -> list[pure.Step]:
    """A template definition's milestones as the planner's steps."""
    return [
        pure.Step(
            key=milestone.key,
            name=f"{milestone.name_zh} / {milestone.name_en}",
            offset_days=milestone.offset_days,
            duration_days=milestone.duration_days,
            depends_on=tuple(milestone.depends_on),
            needs=tuple((need.skill, need.units_per_week) for need in milestone.needs),
        )
        for milestone in definition_of(definition).milestones
    ]


def check_inputs(
    session: Session, actor: Actor, *, start: date, skip_opportunity: int | None = None
) -> tuple[list[pure.Capacity], list[pure.Booking], dict[int, str]]:
    """The resources, the bookings from ``start``'s week on (without the deal's own) with
    who holds them as ``actor`` may see it, and the resource names."""
    resources = list(session.scalars(select(m.Resource).order_by(m.Resource.id)))
    query = select(m.Reservation).where(m.Reservation.week_start >= pure.monday(start))
    if skip_opportunity is not None:
        query = query.where(
            (m.Reservation.opportunity_id != skip_opportunity) | m.Reservation.opportunity_id.is_(None)
        )
    rows = list(session.scalars(query))
    holders = holders_of(session, actor, rows)
    capacities = [pure.Capacity(r.id, r.name, r.skill, r.capacity_per_week, r.active) for r in resources]
    bookings = [
        pure.Booking(r.id, r.resource_id, r.week_start, r.units, holders[r.id].kind, holders[r.id].id, holders[r.id].label)
        for r in rows
    ]  # fmt: skip
    return capacities, bookings, {r.id: r.name for r in resources}


def _holder(h: pure.Holder) -> s.CapacityHolder:
    return s.CapacityHolder(holder=h.holder, holder_id=h.holder_id, label=h.label, units=h.units,
                            resource_id=h.resource_id, reservation_id=h.booking_id)  # fmt: skip


def answer_of(
    answer: pure.Promise, *, opportunity_id: int, template: str, names: dict[int, str], at: datetime
) -> s.PromiseAnswer:
    """The planner's answer as the API's ``PromiseAnswer``."""
    bottleneck = answer.bottleneck
    return s.PromiseAnswer(
        opportunity_id=opportunity_id,
        template=template,
        start_date=answer.start,
        earliest_date=answer.finish,
        unconstrained_date=answer.unconstrained_finish,
        requested_date=answer.requested,
        meets_request=answer.meets_request,
        requested_too_early=answer.requested_too_early,
        horizon_weeks=answer.horizon_weeks,
        infeasible_milestone=answer.infeasible_step,
        infeasible_skill=answer.infeasible_skill,
        milestones=[
            s.PromiseMilestone(
                key=step.key, name=step.name, start=step.start, finish=step.finish,
                earliest_start=step.earliest_start, pushed_days=step.pushed_days,
                allocations=[s.PromiseAllocation(resource_id=a.resource_id, resource_name=names.get(a.resource_id, ""),
                                                 week_start=a.week, units=round(a.units, 4))
                             for a in step.allocations],
            )
            for step in answer.steps
        ],
        bottleneck=None if bottleneck is None else s.PromiseBottleneck(
            milestone=bottleneck.step, name=bottleneck.name, skill=bottleneck.skill,
            pushed_days=bottleneck.pushed_days, weeks=bottleneck.weeks,
            holders=[_holder(h) for h in bottleneck.holders],
        ),
        moves=[
            s.PromiseMove(reservation_id=mv.booking_id, resource_id=mv.resource_id,
                          resource_name=names.get(mv.resource_id, ""), week_start=mv.week, units=mv.units,
                          booked=mv.booked, holder=mv.holder, holder_id=mv.holder_id, label=mv.label)
            for mv in answer.moves
        ],
        extra_capacity=[s.PromiseExtra(skill=e.skill, week_start=e.week, units=e.units) for e in answer.extra],
        checked_at=at,
    )  # fmt: skip


def promise_for_deal(
    session: Session,
    actor: Actor,
    opportunity_id: int,
    *,
    template: str | int = "line_upgrade",
    requested_date: date | None = None,
    start_date: date | None = None,
    now: datetime | None = None,
) -> s.PromiseAnswer:
    """The earliest delivery date the booked capacity allows for this open deal, the
    bottleneck, and what would have to move for ``requested_date``; appended as
    ``hive.promise_checked`` on the opportunity.

    ``start_date`` defaults to the deal's expected close (work starts at signing), or today
    when that is past or unknown."""
    deal = get_readable(session, actor, spec_for("opportunity"), opportunity_id)
    errors: list[tuple[str, str, dict[str, Any]]] = []
    if deal.status != "open":
        errors.append(("opportunity_id", "deal_not_open", {"status": deal.status}))
    chosen = (
        session.get(m.Template, template)
        if isinstance(template, int)
        else find_template(session, str(template), actor=actor)
    )
    if chosen is None or chosen.archived:
        errors.append(("template", "unknown_reference", {"entity": "hive_template", "id": str(template)}))
    at = now or utcnow()
    today = at.date()
    start = start_date or max(today, deal.expected_close_date or today)
    if start_date is not None and not today - timedelta(days=366) <= start_date <= today + timedelta(
        days=3650
    ):
        errors.append(("start_date", "invalid", {"message": "within a year back and ten years ahead"}))
    if requested_date is not None and requested_date < start:
        errors.append(("requested_date", "promise_before_start", {"start": start.isoformat()}))
    if errors:
        raise InvalidInput([FieldError(name, code, params) for name, code, params in errors])
    assert chosen is not None
    resources, bookings, names = check_inputs(session, actor, start=start, skip_opportunity=deal.id)
    planned = pure.plan(
        steps_of(chosen.definition), resources, bookings, start=start, requested=requested_date
    )
    answer = answer_of(planned, opportunity_id=deal.id, template=chosen.key, names=names, at=at)
    append_event(
        session,
        type=EVENT,
        entity="opportunity",
        entity_id=deal.id,
        actor=actor.label,
        # no before/after: the check changes nothing on the deal (the fold must not see it)
        payload={
            "promise": answer.model_dump(mode="json", exclude={"milestones"}),
            "account_id": deal.account_id,
        },
        occurred_at=at,
    )
    return answer


def past_checks(
    session: Session, actor: Actor, opportunity_id: int, *, limit: int = PAST_CHECKS
) -> list[dict[str, Any]]:
    """The deal's last promise checks, newest first (the caller may read the deal):
    ``{"at", "actor", **promise payload}``."""
    get_readable(session, actor, spec_for("opportunity"), opportunity_id)
    found = [e for e in events_for_entity(session, "opportunity", opportunity_id) if e.type == EVENT]
    found.sort(key=lambda e: (e.occurred_at, e.id), reverse=True)
    # a deep copy: the masking below must never touch the stored (and hashed) payload
    checks = [
        {"at": e.occurred_at, "actor": e.actor, **copy.deepcopy((e.payload or {}).get("promise", {}))}
        for e in found[:limit]
    ]
    return _masked(session, actor, checks)


def _masked(session: Session, actor: Actor, checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The checks with the hives and deals the *current* viewer may not read made anonymous
    (the payload holds the names the person who ran the check could see)."""
    entries = [
        entry
        for check in checks
        for entry in [*((check.get("bottleneck") or {}).get("holders") or []), *(check.get("moves") or [])]
    ]
    probes = [
        m.Reservation(id=number, resource_id=0, hive_id=entry["holder_id"] if entry.get("holder") == "hive" else None,
                      opportunity_id=entry["holder_id"] if entry.get("holder") == "deal" else None, note="")
        for number, entry in enumerate(entries)
        if entry.get("holder") in ("hive", "deal") and entry.get("holder_id") is not None
    ]  # fmt: skip
    seen = holders_of(session, actor, probes)
    for number, entry in enumerate(entries):
        if entry.get("holder") not in ("hive", "deal"):
            continue
        holder = seen.get(number)
        if holder is None or holder.id is None:
            entry["holder_id"], entry["label"] = None, ""
    return checks
