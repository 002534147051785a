"""Reading the event log as a transactional outbox: after a persisted cursor, in id order.

Why nothing is missed or done twice: ``Event.id`` is a gapless sequence assigned under
the chain-head lock, which the appending transaction holds until it commits, so the
committed events are always a prefix ``1..N`` of the sequence, on SQLite and on
PostgreSQL alike. The matcher reads ``cursor < id <= head`` in order, creates the runs
and moves the cursor in one transaction: a crash before the commit leaves both
untouched, and the next attempt reads the same events again. The cursor row is locked
(``FOR UPDATE`` on PostgreSQL; SQLite has one writer) so two matchers never interleave,
and ``UniqueConstraint(rule_id, fire_key)`` with ``fire_key = "event:<id>"`` is the
backstop.

The upper bound ``head`` is read *before* the rule index: a rule enabled after that read
has an enabling event id above ``head``, so no event this batch reads predates the
index it is matched against.

A rule never fires on its own effects (events whose actor is ``rule:<its id>``: the task
it created is an ``activity.created`` too), so it cannot loop on itself; chains through
other rules are allowed, as they are the point of writing several rules. Two kinds of
events never fire rules live: the engine's own bookkeeping (``automation.*``), so a rule
cannot feed on its own runs either; and back-dated history (an import or a demo
replaying last year: ``occurred_at`` over a day before ``recorded_at``), which a dry-run
covers instead of mailing everyone about 8,800 old deals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation.engine.fire import create_run
from pathcast.automation.engine.matcher import (
    Candidate,
    EventLike,
    RuleIndex,
    evaluate_conditions,
)
from pathcast.automation.engine.records import Records
from pathcast.automation.models import EngineCursor
from pathcast.events import CHAIN_HEAD_ID, Event, EventChainHead

EVENTS_CURSOR = "events"
BATCH_SIZE = 500
HISTORY_GRACE = timedelta(hours=24)
ENGINE_PREFIX = "automation."

# The current rule index for a session (``catalog.IndexCache.get``).
IndexSource = Callable[[Session], RuleIndex]


@dataclass
class MatchReport:
    """What one matching pass did."""

    events: int = 0
    runs: int = 0
    caught_up: bool = True


def lock_cursor(session: Session, name: str, now: datetime) -> EngineCursor:
    """The named cursor row, locked for this transaction (created at 0 the first time)."""
    cursor = session.scalars(select(EngineCursor).where(EngineCursor.name == name).with_for_update()).first()
    if cursor is None:
        cursor = EngineCursor(name=name, position=0, position_at=None, updated_at=now)
        session.add(cursor)
        session.flush()
    return cursor


def head_position(session: Session) -> int:
    """The id of the last committed event."""
    return int(session.scalar(select(EventChainHead.last_seq).where(EventChainHead.id == CHAIN_HEAD_ID)) or 0)


def is_backdated(event: Event) -> bool:
    """Replayed history: it happened more than a day before it was recorded."""
    return event.recorded_at - event.occurred_at > HISTORY_GRACE


def matched_fires(index: RuleIndex, event: EventLike, records: Records) -> list[tuple[Candidate, list[str]]]:
    """The rules ``event`` fires once their local conditions hold, with how they were checked."""
    fires: list[tuple[Candidate, list[str]]] = []
    actor = getattr(event, "actor", None)
    for candidate in index.match(event):
        if actor == f"rule:{candidate.rule.rule_id}":
            continue  # the rule's own effect (its task is an activity.created): no loop
        notes: list[str] = []
        conditions = candidate.rule.local_conditions
        if conditions:
            resolve = records.resolver(candidate.subject_entity, candidate.subject_id)
            if not index.holds(candidate.rule, resolve):
                continue
            # Explained only for the fires that are kept: the run shows how it was checked.
            _, notes = evaluate_conditions(conditions, resolve, index.catalog)
        fires.append((candidate, notes))
    return fires


def match_batch(
    session: Session, *, index_for: IndexSource, now: datetime, batch_size: int = BATCH_SIZE
) -> MatchReport:
    """Match the next batch of events after the cursor; create runs; move the cursor. One transaction."""
    cursor = lock_cursor(session, EVENTS_CURSOR, now)
    head = head_position(session)
    index = index_for(session)
    # Events at or before every rule's enabling point cannot fire anything: skip them unread.
    floor = min((rule.enabled_from_event_id for rule in index.event_rules()), default=head)
    if cursor.position < min(floor, head):
        cursor.position = min(floor, head)
    events = list(
        session.scalars(
            select(Event)
            .where(Event.id > cursor.position, Event.id <= head)
            .order_by(Event.id)
            .limit(batch_size)
        )
    )
    report = MatchReport(events=len(events), caught_up=len(events) < batch_size)
    for event in events:
        if event.type.startswith(ENGINE_PREFIX) or is_backdated(event):
            continue
        fires = matched_fires(index, event, Records(session, upto_event_id=event.id))
        for candidate, notes in fires:
            run = create_run(
                session,
                rule=candidate.rule,
                candidate=candidate,
                now=now,
                since_event_id=event.id,
                event=event,
                notes=notes,
            )
            report.runs += run is not None
    if events:
        cursor.position = events[-1].id
    cursor.updated_at = now
    session.flush()
    return report
