"""Waits: when does a wait end, and did its ``unless`` happen meanwhile.

A wait is a timer in the run's row (``fired_at + duration``). When it is due the engine
looks for an ``unless`` event in the log: of that kind (literal or derived, as triggers
are), after the fire (``id > since_event_id``), by the deadline, about the same record
when asked. The query is bounded by the type index and the id, never a scan of the log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation import ir
from pathcast.automation.engine.matcher import EventLike, StageCatalog, record_event_predicates
from pathcast.events import Event


def concerns(event: EventLike, entity: str | None, record_id: str | None) -> bool:
    """Whether an event is about the record: the record itself, or a record pointing at it
    (an activity whose ``opportunity_id`` is the deal)."""
    if entity is None or record_id is None:
        return False
    if event.entity == entity and str(event.entity_id) == str(record_id):
        return True
    payload = event.payload or {}
    for side in ("after", "before"):
        values = payload.get(side)
        if isinstance(values, dict) and str(values.get(f"{entity}_id")) == str(record_id):
            return True
    return False


def find_unless(
    session: Session,
    unless: list[ir.EventMatch],
    *,
    since_event_id: int,
    subject_entity: str | None,
    subject_id: str | None,
    until: datetime,
    after: datetime | None = None,
) -> Event | None:
    """The first event that cancels a wait: of an ``unless`` kind, after the fire (by id),
    happened by the deadline (and, for replays of history whose ids are not in time
    order, strictly after ``after``), about the same record when asked. Bounded by ids and
    by the type index, never a scan of the whole log."""
    if not unless:
        return None
    tests = [
        (match, event_type, predicate)
        for match in unless
        for event_type, predicate in record_event_predicates(match.event, StageCatalog())
    ]
    query = (
        select(Event)
        .where(
            Event.type.in_({event_type for _, event_type, _ in tests}),
            Event.id > since_event_id,
            Event.occurred_at <= until,
        )
        .order_by(Event.id)
        .execution_options(yield_per=500)
    )
    if after is not None:
        query = query.where(Event.occurred_at > after)
    for event in session.scalars(query):
        for match, event_type, predicate in tests:
            if event.type != event_type or predicate(event) is None:
                continue
            if not match.same_record or concerns(event, subject_entity, subject_id):
                return event
    return None
