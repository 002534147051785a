"""Radar sources: configuration, polling, de-duplication, the cursor and health.

A poll fetches and parses (network, no database), then stores in one transaction: new
items, the advanced cursor and the health. A failing source (timeout, HTTP error, bad
encoding, changed layout) is marked unhealthy with the reason and keeps every item it
had; ``poll_due`` gives each source its own transaction so one failure never stops the
others. Only health flips and configuration go to the event log; items are raw material.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pathcast.auth.permissions import Actor, may
from pathcast.db import session_factory, utcnow, write_intent
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.radar import models as m
from pathcast.radar.sources import (
    ItemDraft,
    ParseResult,
    SourceError,
    content_hash,
    guess_lang,
    html_list,
    json_api,
    messages,
)
from pathcast.radar.sources import fetch as fetching
from pathcast.signals.models import Channel

__all__ = [
    "PollReport",
    "create_source",
    "due_sources",
    "list_sources",
    "poll_due",
    "poll_source",
    "record_poll",
    "update_source",
    "validate_config",
]

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 7 * 24 * 3600
# How many recent external ids the cursor shows (the database's unique key is what de-duplicates).
CURSOR_SEEN_IDS = 50
_IN_CHUNK = 500
HTTP_KINDS = (m.SourceKind.rss, m.SourceKind.atom, m.SourceKind.json_api, m.SourceKind.html_list)
# Config keys whose values may be credentials (an API key header): kept out of the event log.
_SECRET_KEYS = frozenset({"headers"})


@dataclass
class PollReport:
    """What one poll of one source did."""

    source: str
    source_id: int
    health: str
    stored: int = 0
    duplicates: int = 0
    cross_source_duplicates: int = 0
    not_modified: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    failure_code: str | None = None
    failure: str | None = None
    cursor: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the CLI's ``--json`` and the API."""
        return {
            "source": self.source,
            "source_id": self.source_id,
            "health": self.health,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "cross_source_duplicates": self.cross_source_duplicates,
            "not_modified": self.not_modified,
            "errors": self.errors,
            "failure_code": self.failure_code,
            "failure": self.failure,
            "cursor": self.cursor,
        }


# --- configuration ------------------------------------------------------------------------


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")


def _invalid(errors: list[FieldError], name: str, code: str, message: str) -> None:
    errors.append(FieldError(name, code, {"message": message}))


def _check_channels(config: dict[str, Any], errors: list[FieldError]) -> None:
    channels = config.get("channels", [])
    known = {channel.value for channel in Channel}
    if not isinstance(channels, list) or not all(isinstance(c, str) and c in known for c in channels):
        _invalid(errors, "config.channels", "invalid", f"a list drawn from {', '.join(sorted(known))}")


def validate_config(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """A checked copy of a source's config for its kind; InvalidInput names every bad field."""
    errors: list[FieldError] = []
    if kind not in {k.value for k in m.SourceKind}:
        raise InvalidInput.single(
            "kind", "invalid", message=f"one of {', '.join(k.value for k in m.SourceKind)}"
        )
    if not isinstance(config, dict):
        raise InvalidInput.single("config", "invalid", message="an object")
    checked = dict(config)
    if kind in HTTP_KINDS:
        errors.extend(fetching.check_config(checked))
    if kind == m.SourceKind.json_api:
        errors.extend(json_api.check_config(checked))
    elif kind == m.SourceKind.html_list:
        errors.extend(html_list.check_config(checked))
    elif kind == m.SourceKind.messages:
        _check_channels(checked, errors)
    if errors:
        raise InvalidInput(errors)
    return checked


def _public_config(config: dict[str, Any]) -> dict[str, Any]:
    return {
        key: ({name: "***" for name in value} if key in _SECRET_KEYS and isinstance(value, dict) else value)
        for key, value in config.items()
    }


def _check_name(name: Any) -> str:
    clean = name.strip() if isinstance(name, str) else ""
    if not clean or len(clean) > 200:
        raise InvalidInput.single("name", "invalid", message="1 to 200 characters")
    return clean


def _check_interval(seconds: Any) -> None:
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int)
        or not MIN_INTERVAL_SECONDS <= seconds <= MAX_INTERVAL_SECONDS
    ):
        raise InvalidInput.single(
            "poll_interval_seconds",
            "invalid",
            message=f"between {MIN_INTERVAL_SECONDS} and {MAX_INTERVAL_SECONDS} seconds",
        )


def create_source(
    session: Session,
    *,
    actor: Actor,
    name: str,
    kind: str,
    config: dict[str, Any],
    poll_interval_seconds: int = 900,
    is_active: bool = True,
    occurred_at: datetime | None = None,
) -> m.Source:
    """A new source (admins only); the config is checked for its kind, errors name the field."""
    _require_admin(actor)
    clean_name = _check_name(name)
    _check_interval(poll_interval_seconds)
    checked = validate_config(kind, config)
    if session.scalar(select(m.Source.id).where(m.Source.name == clean_name)) is not None:
        raise Conflict("source_exists", name=clean_name)
    source = m.Source(
        name=clean_name,
        kind=kind,
        config=checked,
        is_active=is_active,
        poll_interval_seconds=poll_interval_seconds,
        cursor={},
        health=m.SourceHealth.never.value,
    )
    session.add(source)
    session.flush()
    append_event(
        session,
        type="radar.source_created",
        entity="radar_source",
        entity_id=source.id,
        actor=actor.label,
        payload={
            "after": {
                "name": clean_name,
                "kind": kind,
                "config": _public_config(checked),
                "poll_interval_seconds": poll_interval_seconds,
                "is_active": is_active,
            }
        },
        occurred_at=occurred_at,
    )
    return source


UPDATABLE = frozenset({"name", "config", "is_active", "poll_interval_seconds"})


def update_source(session: Session, *, actor: Actor, source_id: int, changes: dict[str, Any]) -> m.Source:
    """Rename, reconfigure, pause/resume or re-time a source (admins only); logged with before/after.

    A new config is checked like at creation and forgets the cached ETag and Last-Modified
    (they belonged to the old address); the stored items and seen ids stay.
    """
    _require_admin(actor)
    source = session.get(m.Source, source_id)
    if source is None:
        raise NotFound("not_found", entity="radar_source", id=source_id)
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise InvalidInput(
            [FieldError(key, "unknown", {"message": "not a changeable field"}) for key in unknown]
        )
    clean = dict(changes)
    if "name" in clean:
        clean["name"] = _check_name(clean["name"])
        taken = session.scalar(
            select(m.Source.id).where(m.Source.name == clean["name"], m.Source.id != source.id)
        )
        if taken is not None:
            raise Conflict("source_exists", name=clean["name"])
    if "poll_interval_seconds" in clean:
        _check_interval(clean["poll_interval_seconds"])
    if "is_active" in clean and not isinstance(clean["is_active"], bool):
        raise InvalidInput.single("is_active", "invalid", message="true or false")
    if "config" in clean:
        clean["config"] = validate_config(source.kind, clean["config"])
        source.cursor = {
            key: value for key, value in (source.cursor or {}).items() if key not in ("etag", "last_modified")
        }
    before = {key: getattr(source, key) for key in clean}
    for key, value in clean.items():
        setattr(source, key, value)
    session.flush()
    append_event(
        session,
        type="radar.source_updated",
        entity="radar_source",
        entity_id=source.id,
        actor=actor.label,
        payload={"before": _loggable(before), "after": _loggable(clean)},
    )
    return source


def _loggable(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _public_config(value) if key == "config" else value for key, value in values.items()}


def list_sources(session: Session, *, actor: Actor) -> list[m.Source]:
    """Every source with its health, by name (admins only: configuration and its secrets)."""
    _require_admin(actor)
    return list(session.scalars(select(m.Source).order_by(m.Source.name)))


def source_names(session: Session) -> dict[int, str]:
    """Every source's name by id: what a reader may filter by (never the configuration)."""
    return {int(row.id): str(row.name) for row in session.execute(select(m.Source.id, m.Source.name))}


def source_health(session: Session, *, actor: Actor) -> list[tuple[m.Source, int]]:
    """Each source with how many items it stored, by name, for anyone with the radar right.
    Callers show health only; the configuration (it may hold API keys) stays admin-only."""
    if not may(actor, "radar", "read"):
        raise PermissionDenied("forbidden_model", entity="radar")
    grouped = select(m.Item.source_id, func.count(m.Item.id)).group_by(m.Item.source_id)
    counts = {int(source_id): int(count) for source_id, count in session.execute(grouped)}
    return [
        (source, int(counts.get(source.id, 0)))
        for source in session.scalars(select(m.Source).order_by(m.Source.name))
    ]


# --- collecting ------------------------------------------------------------------------------


def _collect(session: Session, source: m.Source) -> fetching.Collected:
    cursor = dict(source.cursor or {})
    if source.kind == m.SourceKind.messages:
        drafts, last_id = messages.read_messages(
            session,
            after_id=int(cursor.get("last_message_id", 0)),
            channels=list(source.config.get("channels", [])),
        )
        return fetching.Collected(parsed=ParseResult(items=drafts), last_message_id=last_id)
    return fetching.collect_remote(source.kind, dict(source.config), cursor)


def _unexpected(error: Exception) -> SourceError:
    # A parser bug or a page no parser foresaw: report it on the source, never crash the loop.
    return SourceError(
        f"unexpected error: {type(error).__name__}: {error}", zh=f"意外错误：{type(error).__name__}: {error}"
    )


# --- storing -------------------------------------------------------------------------------


def _external_id(draft: ItemDraft, digest: str) -> str:
    value = (draft.external_id or draft.url or "").strip() or f"hash:{digest}"
    if len(value) > m.EXTERNAL_ID_MAX:
        value = "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
    return value


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _existing_ids(session: Session, source_id: int, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids):
        found.update(
            session.scalars(
                select(m.Item.external_id).where(m.Item.source_id == source_id, m.Item.external_id.in_(chunk))
            )
        )
    return found


def _hashes_elsewhere(session: Session, source_id: int, hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(hashes):
        found.update(
            session.scalars(
                select(m.Item.content_hash).where(
                    m.Item.source_id != source_id, m.Item.content_hash.in_(chunk)
                )
            )
        )
    return found


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value else value


def _store(
    session: Session, source: m.Source, drafts: list[ItemDraft], now: datetime, report: PollReport
) -> list[str]:
    """Store the drafts not seen before; return the external ids stored, newest first."""
    keyed: dict[str, tuple[ItemDraft, str]] = {}
    for draft in drafts:
        digest = content_hash(draft.title, draft.text)
        key = _external_id(draft, digest)
        if key in keyed:
            report.duplicates += 1
            continue
        keyed[key] = (draft, digest)
    seen = _existing_ids(session, source.id, list(keyed))
    elsewhere = _hashes_elsewhere(session, source.id, sorted({digest for _, digest in keyed.values()}))
    stored: list[tuple[datetime | None, str]] = []
    for key, (draft, digest) in keyed.items():
        if key in seen:
            report.duplicates += 1
            continue
        if digest in elsewhere:
            # The same text already came in through another source: one signal, not two.
            report.cross_source_duplicates += 1
            continue
        session.add(
            m.Item(
                source_id=source.id,
                external_id=key,
                url=_cut(draft.url, m.URL_MAX),
                title=_cut(draft.title, m.TITLE_MAX),
                text=draft.text,
                author=_cut(draft.author, m.AUTHOR_MAX),
                lang=guess_lang(draft.title, draft.text),
                content_hash=digest,
                published_at=draft.published_at,
                fetched_at=now,
                extra=dict(draft.extra),
            )
        )
        stored.append((draft.published_at, key))
    session.flush()
    report.stored = len(stored)
    stored.sort(key=lambda pair: pair[0] or datetime.min.replace(tzinfo=UTC), reverse=True)
    return [key for _, key in stored]


def _advance_cursor(
    source: m.Source,
    collected: fetching.Collected,
    stored_ids: list[str],
    drafts: list[ItemDraft],
    now: datetime,
) -> dict[str, Any]:
    cursor = dict(source.cursor or {})
    for key, value in (("etag", collected.etag), ("last_modified", collected.last_modified)):
        if value:
            cursor[key] = value
        else:
            cursor.pop(key, None)
    cursor["seen_ids"] = (stored_ids + list(cursor.get("seen_ids", [])))[:CURSOR_SEEN_IDS]
    published = [draft.published_at for draft in drafts if draft.published_at is not None]
    if published:
        newest = max(published).astimezone(UTC).isoformat()
        previous = cursor.get("last_published")
        cursor["last_published"] = max(newest, previous) if previous else newest
    if collected.last_message_id is not None:
        cursor["last_message_id"] = collected.last_message_id
    cursor["last_checked_at"] = now.astimezone(UTC).isoformat()
    # A new dict, not the mutated old one, so the JSON column is seen as changed.
    source.cursor = cursor
    return cursor


def _set_health(session: Session, source: m.Source, *, error: SourceError | None, now: datetime) -> None:
    before = source.health
    source.last_polled_at = now
    if error is None:
        source.health = m.SourceHealth.ok.value
        source.health_code = None
        source.health_reason = None
        source.last_ok_at = now
    else:
        source.health = m.SourceHealth.unhealthy.value
        source.health_code = error.code
        source.health_reason = error.message
    if source.health != before:
        append_event(
            session,
            type="radar.source_health_changed",
            entity="radar_source",
            entity_id=source.id,
            actor=f"radar:{source.name}",
            occurred_at=now,
            payload={
                "from": before,
                "to": source.health,
                "code": source.health_code,
                "reason": source.health_reason,
                "reason_zh": error.zh if error is not None else None,
            },
        )
    session.flush()


def record_poll(
    session: Session,
    *,
    source: m.Source,
    outcome: fetching.Collected | SourceError,
    now: datetime | None = None,
) -> PollReport:
    """Store what a poll collected (items, cursor, health ok), or mark the source unhealthy."""
    now = now or utcnow()
    report = PollReport(source=source.name, source_id=source.id, health=source.health)
    if isinstance(outcome, SourceError):
        _set_health(session, source, error=outcome, now=now)
        report.failure_code = outcome.code
        report.failure = outcome.message
    else:
        report.not_modified = outcome.not_modified
        report.errors = list(outcome.parsed.errors)
        drafts = outcome.parsed.items
        stored_ids = _store(session, source, drafts, now, report)
        _advance_cursor(source, outcome, stored_ids, drafts, now)
        _set_health(session, source, error=None, now=now)
    report.health = source.health
    report.cursor = dict(source.cursor or {})
    return report


def poll_source(session: Session, *, source: m.Source, now: datetime | None = None) -> PollReport:
    """Fetch, parse, de-duplicate and store one source's new items in the caller's transaction.

    Failures the source causes (timeout, HTTP error, bad encoding, changed layout) mark
    it unhealthy with the reason; items already stored stay.
    """
    outcome: fetching.Collected | SourceError
    try:
        outcome = _collect(session, source)
    except SourceError as error:
        outcome = error
    except Exception as error:  # see _unexpected
        outcome = _unexpected(error)
    return record_poll(session, source=source, outcome=outcome, now=now)


# --- scheduling ----------------------------------------------------------------------------


def due_sources(session: Session, *, now: datetime) -> list[m.Source]:
    """Active sources never polled, or whose interval has passed since the last poll."""
    active = session.scalars(select(m.Source).where(m.Source.is_active.is_(True)).order_by(m.Source.id))
    return [
        source
        for source in active
        if source.last_polled_at is None
        or source.last_polled_at + timedelta(seconds=source.poll_interval_seconds) <= now
    ]


def poll_due(
    target: str | sessionmaker[Session] | None = None, *, now: datetime | None = None
) -> list[PollReport]:
    """Poll every due active source, each in its own transaction; one failure never stops the rest.

    ``target`` is a database URL or a session maker (default: the configured database).
    HTTP sources are fetched outside any transaction, so a slow site never holds the
    database's write lock; the result is then stored in a short write transaction.
    """
    factory = target if isinstance(target, sessionmaker) else session_factory(target)
    now = now or utcnow()
    with factory() as session:
        due = [
            (source.id, source.kind, dict(source.config), dict(source.cursor or {}))
            for source in due_sources(session, now=now)
        ]
    reports: list[PollReport] = []
    for source_id, kind, config, cursor in due:
        outcome: fetching.Collected | SourceError | None = None
        if kind != m.SourceKind.messages:
            try:
                outcome = fetching.collect_remote(kind, config, cursor)
            except SourceError as error:
                outcome = error
            except Exception as error:  # see _unexpected
                outcome = _unexpected(error)
        report = _store_outcome(factory, source_id, outcome, now)
        if report is not None:
            reports.append(report)
    return reports


def _store_outcome(
    factory: sessionmaker[Session],
    source_id: int,
    outcome: fetching.Collected | SourceError | None,
    now: datetime,
) -> PollReport | None:
    with write_intent():
        session = factory()
        try:
            session.connection()  # begin now, as a writer (BEGIN IMMEDIATE on SQLite)
        except BaseException:
            session.close()
            raise
    try:
        source = session.get(m.Source, source_id)
        if source is None or not source.is_active:
            return None  # removed or paused while it was being fetched
        if outcome is None:
            report = poll_source(session, source=source, now=now)
        else:
            report = record_poll(session, source=source, outcome=outcome, now=now)
        session.commit()
        return report
    except Exception as error:
        session.rollback()
        return _record_failure(factory, source_id, _unexpected(error), now)
    finally:
        session.close()


def _record_failure(
    factory: sessionmaker[Session], source_id: int, error: SourceError, now: datetime
) -> PollReport | None:
    """Mark the source unhealthy after its own transaction failed (a storage error)."""
    with write_intent():
        session = factory()
        try:
            session.connection()
            source = session.get(m.Source, source_id)
            if source is None:
                return None
            report = record_poll(session, source=source, outcome=error, now=now)
            session.commit()
            return report
        except Exception:
            session.rollback()
            return None
        finally:
            session.close()
