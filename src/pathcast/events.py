"""The event log: one hash-chained, gapless, append-only record of every change.

Every service appends here in the same transaction as its change, so the log is at
once the audit trail, the history that backtests read as of a date, and the trigger
stream of automation. Appends take the chain-head row lock first, which makes the
chain linear under concurrent writers on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Literal, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    Table,
    func,
    insert,
    select,
    update,
)
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from pathcast.db import Base, utcnow

GENESIS_HASH = "0" * 64
CHAIN_HEAD_ID = 1


class Event(Base):
    """One fact in the past tense, e.g. ``opportunity.stage_changed``."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_entity", "entity", "entity_id", "id"),
        Index("ix_events_type_occurred", "type", "occurred_at"),
        Index("ix_events_occurred", "occurred_at"),
    )

    # identity and order
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    type: Mapped[str] = mapped_column(String(80))
    # subject
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    entity_version: Mapped[int] = mapped_column(Integer)
    # who and when
    actor: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    # what
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # chain
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class EventChainHead(Base):
    """A single row holding the last sequence number and hash; its lock orders appends."""

    __tablename__ = "event_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class EventDraft:
    """An event not yet on the chain."""

    type: str
    entity: str
    entity_id: str | int
    actor: str
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def to_jsonable(value: Any) -> Any:
    """Convert a value to plain JSON types exactly as it will be stored and hashed."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(item) for item in value]
    raise TypeError(f"cannot store {type(value).__name__} in an event payload")


def format_timestamp(value: datetime) -> str:
    """A canonical UTC timestamp with microseconds, the form the hash covers."""
    if value.tzinfo is None:
        raise ValueError("event timestamps must be timezone-aware")
    from datetime import UTC

    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(
    *,
    seq: int,
    type: str,
    entity: str,
    entity_id: str,
    entity_version: int,
    actor: str,
    occurred_at: datetime,
    recorded_at: datetime,
    payload: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The exact bytes hashed for an event: sorted-key, compact, UTF-8 JSON."""
    document = {
        "seq": seq,
        "type": type,
        "entity": entity,
        "entity_id": entity_id,
        "entity_version": entity_version,
        "actor": actor,
        "occurred_at": format_timestamp(occurred_at),
        "recorded_at": format_timestamp(recorded_at),
        "payload": payload,
        "prev_hash": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compute_hash(event: Event) -> str:
    """SHA-256 of the event's canonical serialisation."""
    return hashlib.sha256(
        canonical_bytes(
            seq=event.id,
            type=event.type,
            entity=event.entity,
            entity_id=event.entity_id,
            entity_version=event.entity_version,
            actor=event.actor,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            payload=event.payload,
            prev_hash=event.prev_hash,
        )
    ).hexdigest()


def ensure_chain_head(session: Session) -> None:
    """Create the chain-head row if the database has none (migrations also seed it)."""
    if session.get(EventChainHead, CHAIN_HEAD_ID) is None:
        session.add(EventChainHead(id=CHAIN_HEAD_ID, last_seq=0, last_hash=GENESIS_HASH))
        session.flush()


def append_event(
    session: Session,
    *,
    type: str,
    entity: str,
    entity_id: str | int,
    actor: str,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Append one event to the chain inside the caller's transaction."""
    draft = EventDraft(type, entity, entity_id, actor, payload or {}, occurred_at)
    return append_events(session, [draft])[0]


BUFFER_KEY = "pathcast.events.buffer"

Reaction = Callable[[Session, EventDraft], None]
_REACTIONS: list[tuple[str, Reaction]] = []


def react_to(type_prefix: str) -> Callable[[Reaction], Reaction]:
    """Register a handler run in the same transaction whenever an event of that type is appended.

    This is how one package keeps its derived tables current with another's writes
    (signals counting the meetings that crm records) without either importing the
    other's internals: the handler sees the draft and reads through services.
    """

    def register(handler: Reaction) -> Reaction:
        if (type_prefix, handler) not in _REACTIONS:
            _REACTIONS.append((type_prefix, handler))
        return handler

    return register


def _run_reactions(session: Session, drafts: Sequence[EventDraft]) -> None:
    for draft in drafts:
        for prefix, handler in _REACTIONS:
            if draft.type.startswith(prefix):
                handler(session, draft)


def append_events(session: Session, drafts: Sequence[EventDraft]) -> list[Event]:
    """Append several events in order, in the caller's transaction.

    Inside ``buffered_events`` the events are held and written together when the
    transaction commits (or at ``flush_events``); the returned objects receive their
    sequence number and hash then. Otherwise they are written at once.
    """
    buffer: list[tuple[EventDraft, Event]] | None = session.info.get(BUFFER_KEY)
    if buffer is None:
        written = _write_events(session, drafts)
        _run_reactions(session, drafts)
        return written
    # Held events belong to a transaction: make sure one is open so a rollback ends it.
    session.connection()
    placeholders = []
    for draft in drafts:
        # The time of the change is now, not the later moment the batch is written.
        stamped = draft if draft.occurred_at else replace(draft, occurred_at=utcnow())
        placeholder = Event(
            type=stamped.type,
            entity=stamped.entity,
            entity_id=str(stamped.entity_id),
            actor=stamped.actor,
            payload=to_jsonable(stamped.payload),
            occurred_at=stamped.occurred_at,
        )
        buffer.append((stamped, placeholder))
        placeholders.append(placeholder)
    _run_reactions(session, drafts)
    return placeholders


def flush_events(session: Session) -> None:
    """Write the events a buffered session holds, under one acquisition of the chain lock."""
    buffer: list[tuple[EventDraft, Event]] | None = session.info.get(BUFFER_KEY)
    if not buffer:
        return
    pending = list(buffer)
    buffer.clear()
    written = _write_events(session, [draft for draft, _ in pending])
    for (_, placeholder), event in zip(pending, written, strict=True):
        for key in ("id", "entity_version", "recorded_at", "prev_hash", "hash"):
            setattr(placeholder, key, getattr(event, key))


@contextmanager
def buffered_events(session: Session) -> Iterator[None]:
    """Hold the events appended in ``session`` and write them in one batch per commit.

    For bulk work (imports): one chain-lock acquisition, one version query per entity
    kind and one multi-row insert per batch instead of four statements per event. A
    commit writes the batch first (``before_commit``); a rollback discards it. Undo a
    failed row with ``events_savepoint``, which also drops that row's events.
    """
    session.info[BUFFER_KEY] = []
    try:
        yield
        flush_events(session)
    finally:
        session.info.pop(BUFFER_KEY, None)


@contextmanager
def events_savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT that, when rolled back, also forgets the events buffered inside it."""
    buffer: list[tuple[EventDraft, Event]] | None = session.info.get(BUFFER_KEY)
    mark = len(buffer) if buffer is not None else 0
    try:
        with session.begin_nested():
            yield
    except BaseException:
        if buffer is not None:
            del buffer[mark:]
        raise


@sa_event.listens_for(Session, "before_commit")
def _write_buffer_before_commit(session: Session) -> None:
    # Releasing a SAVEPOINT fires this too; only the real commit writes the batch.
    if not session.in_nested_transaction():
        flush_events(session)


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_buffer_after_rollback(session: Session, transaction: SessionTransaction) -> None:
    buffer = session.info.get(BUFFER_KEY)
    if buffer and transaction.parent is None and not transaction.nested:
        # The outermost transaction ended with events still held: it rolled back.
        buffer.clear()


def _write_events(session: Session, drafts: Sequence[EventDraft]) -> list[Event]:
    """Append ``drafts`` now, under one acquisition of the chain lock.

    The UPDATE of the head row is the lock: PostgreSQL holds its row lock and SQLite
    its write lock until the caller's transaction ends, so no other writer can read
    the same previous hash.
    """
    if not drafts:
        return []
    session.flush()
    # Core statements on the session's connection: ORM-enabled DML would scan every
    # object in the session to synchronise it, which makes long sessions (imports)
    # quadratic. A chain-head object the session holds is expired below instead.
    connection = session.connection()
    head_table = cast(Table, EventChainHead.__table__)
    head = connection.execute(
        update(head_table)
        .where(head_table.c.id == CHAIN_HEAD_ID)
        .values(last_seq=head_table.c.last_seq + len(drafts))
        .returning(head_table.c.last_seq, head_table.c.last_hash)
    ).one_or_none()
    if head is None:
        raise RuntimeError("event chain head missing: run `pathcast init` to migrate the database")
    seq = head.last_seq - len(drafts)
    prev_hash = head.last_hash
    versions = _current_versions(session, {(d.entity, str(d.entity_id)) for d in drafts})
    recorded_at = utcnow()
    rows: list[dict[str, Any]] = []
    events: list[Event] = []
    for draft in drafts:
        seq += 1
        key = (draft.entity, str(draft.entity_id))
        versions[key] = versions.get(key, 0) + 1
        payload = to_jsonable(draft.payload)
        occurred_at = draft.occurred_at or recorded_at
        event = Event(
            id=seq,
            type=draft.type,
            entity=draft.entity,
            entity_id=str(draft.entity_id),
            entity_version=versions[key],
            actor=draft.actor,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            payload=payload,
            prev_hash=prev_hash,
            hash="",
        )
        event.hash = compute_hash(event)
        prev_hash = event.hash
        events.append(event)
        rows.append({column.key: getattr(event, column.key) for column in Event.__table__.columns})
    connection.execute(insert(cast(Table, Event.__table__)), rows)
    connection.execute(update(head_table).where(head_table.c.id == CHAIN_HEAD_ID).values(last_hash=prev_hash))
    cached_head = session.identity_map.get(session.identity_key(EventChainHead, CHAIN_HEAD_ID))
    if cached_head is not None:
        session.expire(cached_head)
    return events


def _current_versions(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    versions: dict[tuple[str, str], int] = {}
    by_entity: dict[str, list[str]] = {}
    for entity, entity_id in keys:
        by_entity.setdefault(entity, []).append(entity_id)
    for entity, ids in by_entity.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = session.execute(
                select(Event.entity_id, func.max(Event.entity_version))
                .where(Event.entity == entity, Event.entity_id.in_(chunk))
                .group_by(Event.entity_id)
            )
            for entity_id, version in rows:
                versions[(entity, entity_id)] = int(version)
    return versions


# --- verification -----------------------------------------------------------------


@dataclass
class ChainReport:
    """What ``verify_chain`` found."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_id": self.first_bad_id,
            "reason": self.reason,
        }


def verify_chain(session: Session, *, batch_size: int = 5000) -> ChainReport:
    """Walk the whole chain in order and report the first broken link or hash."""
    expected_prev = GENESIS_HASH
    checked = 0
    for expected_seq, event in enumerate(_iter_events(session, batch_size), start=1):
        if event.id != expected_seq:
            return ChainReport(False, checked, event.id, f"sequence gap: expected event {expected_seq}")
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.id, "prev_hash does not match the previous event's hash")
        recomputed = compute_hash(event)
        if recomputed != event.hash:
            return ChainReport(False, checked, event.id, "hash does not match the event's content")
        expected_prev = event.hash
        checked += 1
    head = session.get(EventChainHead, CHAIN_HEAD_ID)
    if head is not None and (head.last_seq != checked or head.last_hash != expected_prev):
        return ChainReport(
            False,
            checked,
            checked + 1 if head.last_seq > checked else checked,
            "chain head does not match the last event (events deleted or appended behind the log)",
        )
    return ChainReport(True, checked)


def _iter_events(session: Session, batch_size: int) -> Iterator[Event]:
    last_id = 0
    while True:
        batch = list(
            session.scalars(select(Event).where(Event.id > last_id).order_by(Event.id).limit(batch_size))
        )
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id
        session.expunge_all()


# --- readers ----------------------------------------------------------------------

Clock = Literal["occurred", "recorded"]


def events_for_entity(
    session: Session,
    entity: str,
    entity_id: str | int,
    *,
    until: datetime | None = None,
    clock: Clock = "occurred",
) -> list[Event]:
    """An entity's events in the order they happened (ties broken by sequence)."""
    stamp = Event.occurred_at if clock == "occurred" else Event.recorded_at
    query = select(Event).where(Event.entity == entity, Event.entity_id == str(entity_id))
    if until is not None:
        query = query.where(stamp <= until)
    return list(session.scalars(query.order_by(stamp, Event.id)))


def events_by_type(
    session: Session,
    types: Iterable[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 1000,
    after_id: int = 0,
) -> list[Event]:
    """Events of the given types, optionally within an occurred-at window, by sequence."""
    query = select(Event).where(Event.type.in_(list(types)), Event.id > after_id)
    if since is not None:
        query = query.where(Event.occurred_at >= since)
    if until is not None:
        query = query.where(Event.occurred_at < until)
    return list(session.scalars(query.order_by(Event.id).limit(limit)))


def events_between(
    session: Session,
    since: datetime,
    until: datetime,
    *,
    limit: int = 1000,
    after_id: int = 0,
) -> list[Event]:
    """Every event that occurred in ``[since, until)``, by sequence."""
    query = (
        select(Event)
        .where(Event.occurred_at >= since, Event.occurred_at < until, Event.id > after_id)
        .order_by(Event.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def fold_state(events: Iterable[Event]) -> dict[str, Any] | None:
    """Replay ``after`` maps in order; a ``deleted`` event ends the entity."""
    state: dict[str, Any] | None = None
    for event in events:
        payload = event.payload or {}
        if payload.get("deleted"):
            state = None
            continue
        after = payload.get("after")
        if after is None:
            continue
        state = {**(state or {}), **after}
    return state


def state_as_of(
    session: Session, entity: str, entity_id: str | int, at: datetime, *, clock: Clock = "occurred"
) -> dict[str, Any] | None:
    """The entity's fields as they stood at ``at``, rebuilt from the log alone.

    ``clock="occurred"`` replays what had happened by then (backtests of imported
    history); ``clock="recorded"`` replays only what the system knew by then.
    """
    return fold_state(events_for_entity(session, entity, entity_id, until=at, clock=clock))
