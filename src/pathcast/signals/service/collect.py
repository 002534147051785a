"""Ingest of tracking batches: the hot path of ``POST /api/v1/collect``.

A batch of up to 500 events costs a fixed handful of statements, whatever its size:
one lookup and one insert for new visitors and for new assets, one multi-row insert of
raw hits, one of new views, one update of view dwell and one upsert of the day
aggregates. Core statements, not ORM objects: at 10,000 events a second the unit of
work's bookkeeping would cost more than the database.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Table, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pathcast.db import utcnow
from pathcast.errors import NotFound, PermissionDenied
from pathcast.signals import models as m
from pathcast.signals.schemas import CollectBatch, CollectEvent, CollectReport, RejectedEvent
from pathcast.signals.service import identity

# Events stamped further ahead than this by the sender's clock, or older than the
# window, are refused: a beacon is sent within seconds, a queue replays within days.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
MAX_AGE = timedelta(days=7)

HITS = cast(Table, m.Hit.__table__)
VIEWS = cast(Table, m.View.__table__)
VISITORS = cast(Table, m.Visitor.__table__)
ASSETS = cast(Table, m.Asset.__table__)
DAYS = cast(Table, m.VisitorAssetDay.__table__)


@dataclass(frozen=True)
class SiteInfo:
    """What the collect endpoint needs to know about a site, loaded once per request."""

    id: int
    key: str
    allowed_origins: tuple[str, ...]
    rate_limit_per_minute: int


def site_for_key(session: Session, key: str) -> SiteInfo:
    """The active site with this public key, or 403 (an unknown key is not a missing page)."""
    row = session.execute(
        select(m.Site.id, m.Site.key, m.Site.allowed_origins, m.Site.rate_limit_per_minute).where(
            m.Site.key == key, m.Site.is_active.is_(True)
        )
    ).one_or_none()
    if row is None:
        raise PermissionDenied("unknown_site")
    return SiteInfo(row.id, row.key, tuple(row.allowed_origins or ()), row.rate_limit_per_minute)


def origin_allowed(site: SiteInfo, origin: str | None) -> bool:
    """Browsers send Origin on cross-site posts; a server-side relay sends none."""
    if origin is None:
        return True
    return "*" in site.allowed_origins or origin.rstrip("/") in site.allowed_origins


@dataclass
class _Accepted:
    index: int
    event: CollectEvent
    visitor_key: str
    occurred_at: datetime


@dataclass
class _Batch:
    accepted: list[_Accepted] = field(default_factory=list)
    rejected: list[RejectedEvent] = field(default_factory=list)

    def reject(self, index: int, field_name: str | None, code: str, reason: str) -> None:
        self.rejected.append(RejectedEvent(index=index, field=field_name, code=code, reason=reason))


@dataclass(frozen=True)
class ValidatedBatch:
    """A batch checked event by event, before any database work (and any lock)."""

    parsed: _Batch
    received_at: datetime


def validate_batch(batch: CollectBatch, received_at: datetime | None = None) -> ValidatedBatch:
    """Validate every event of ``batch``; pure, so the caller can do it outside a transaction."""
    received_at = received_at or utcnow()
    return ValidatedBatch(_validate(batch, received_at), received_at)


def ingest_batch(
    session: Session,
    *,
    site: SiteInfo,
    batch: CollectBatch | ValidatedBatch,
    received_at: datetime | None = None,
) -> CollectReport:
    """Store the valid events of ``batch`` and keep views, dwell and day aggregates current.

    Each invalid event is reported with its index, field and reason; the rest are kept.
    A ``ValidatedBatch`` skips validation (it was done before the write lock was taken).
    """
    validated = batch if isinstance(batch, ValidatedBatch) else validate_batch(batch, received_at)
    parsed, received_at = validated.parsed, validated.received_at
    if not parsed.accepted:
        return CollectReport(accepted=0, rejected=parsed.rejected)
    visitor_ids = _visitor_ids(session, site.id, parsed.accepted, received_at)
    _identify(session, parsed, visitor_ids)
    asset_ids = _asset_ids(session, site.id, parsed.accepted)
    views = _known_views(session, site.id, parsed.accepted)
    rows = _hit_rows(site.id, parsed, visitor_ids, asset_ids, views, received_at)
    if rows:
        _insert_rows(session, HITS, rows)
    _apply_views(session, site.id, parsed, visitor_ids, asset_ids, views, received_at)
    parsed.rejected.sort(key=lambda rejected: rejected.index)
    return CollectReport(accepted=len(parsed.accepted), rejected=parsed.rejected)


def _validate(batch: CollectBatch, received_at: datetime) -> _Batch:
    result = _Batch()
    skew = timedelta(0)
    if batch.sent_at is not None:
        # The browser's clock may be off; its own "now" (sent_at) tells by how much.
        sent = _from_millis(batch.sent_at)
        if sent is not None:
            skew = received_at - sent
    for index, raw in enumerate(batch.events):
        if not isinstance(raw, dict):
            result.reject(index, None, "not_an_object", "each event must be a JSON object")
            continue
        try:
            event = CollectEvent.model_validate(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or None
            result.reject(index, where, first["type"], f"{where}: {first['msg']}")
            continue
        visitor_key = event.visitor or batch.visitor
        if not visitor_key:
            result.reject(index, "visitor", "missing", "visitor is required (in the batch or the event)")
            continue
        problem = _missing_for_type(event)
        if problem:
            result.reject(index, problem, "missing", f"{problem} is required for a {event.type} event")
            continue
        occurred_at = received_at
        if event.ts is not None:
            stamped = _from_millis(event.ts)
            if stamped is None:
                result.reject(index, "ts", "out_of_range", "ts must be epoch milliseconds")
                continue
            occurred_at = stamped + skew
            if occurred_at > received_at + MAX_CLOCK_AHEAD:
                result.reject(index, "ts", "in_future", "ts is ahead of the server's clock")
                continue
            if occurred_at < received_at - MAX_AGE:
                result.reject(index, "ts", "too_old", "ts is more than 7 days old")
                continue
            occurred_at = min(occurred_at, received_at)
        result.accepted.append(_Accepted(index, event, visitor_key, occurred_at))
    return result


def _from_millis(value: int) -> datetime | None:
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _missing_for_type(event: CollectEvent) -> str | None:
    if event.type == "view" and not event.view:
        return "view"
    if event.type == "dwell":
        if not event.view:
            return "view"
        if event.dwell_ms is None:
            return "dwell_ms"
    if event.type == "identify" and not (event.token or event.email):
        return "token"
    return None


def _visitor_ids(
    session: Session, site_id: int, accepted: list[_Accepted], received_at: datetime
) -> dict[str, int]:
    keys = {item.visitor_key for item in accepted}
    connection = session.connection()
    found = dict(
        connection.execute(
            select(VISITORS.c.key, VISITORS.c.id).where(
                VISITORS.c.site_id == site_id, _one_of(session, VISITORS.c.key, keys)
            )
        ).all()
    )
    missing = keys - found.keys()
    if missing:
        connection.execute(
            _insert_ignoring(session, VISITORS, ("site_id", "key")),
            [
                {"site_id": site_id, "key": key, "first_seen_at": received_at, "last_seen_at": received_at}
                for key in sorted(missing)
            ],
        )
        found.update(
            connection.execute(
                select(VISITORS.c.key, VISITORS.c.id).where(
                    VISITORS.c.site_id == site_id, _one_of(session, VISITORS.c.key, missing)
                )
            ).all()
        )
    seen = [found[key] for key in keys - missing]
    if seen:
        connection.execute(
            update(VISITORS).where(_one_of(session, VISITORS.c.id, seen)).values(last_seen_at=received_at)
        )
    return found


def _asset_ids(session: Session, site_id: int, accepted: list[_Accepted]) -> dict[str, int]:
    named: dict[str, CollectEvent] = {}
    for item in accepted:
        if item.event.type in ("view", "download") and item.event.asset:
            named[item.event.asset] = item.event
        elif item.event.type in ("view", "download") and item.event.url:
            named.setdefault(_path_key(item.event.url), item.event)
    if not named:
        return {}
    connection = session.connection()
    rows = connection.execute(
        select(ASSETS.c.key, ASSETS.c.id, ASSETS.c.name).where(
            ASSETS.c.site_id == site_id, _one_of(session, ASSETS.c.key, named.keys())
        )
    ).all()
    found = {row.key: row.id for row in rows}
    renamed = [
        {"asset_id": row.id, "new_name": named[row.key].asset_name}
        for row in rows
        if named[row.key].asset_name and named[row.key].asset_name != row.name
    ]
    if renamed:
        connection.execute(
            update(ASSETS).where(ASSETS.c.id == bindparam("asset_id")).values(name=bindparam("new_name")),
            renamed,
        )
    missing = named.keys() - found.keys()
    if missing:
        now = utcnow()
        connection.execute(
            _insert_ignoring(session, ASSETS, ("site_id", "key")),
            [
                {
                    "site_id": site_id,
                    "key": key,
                    "name": named[key].asset_name or key,
                    "kind": named[key].asset_kind
                    or ("document" if named[key].type == "download" else "page"),
                    "url": named[key].url,
                    "created_at": now,
                    "updated_at": now,
                }
                for key in sorted(missing)
            ],
        )
        found.update(
            connection.execute(
                select(ASSETS.c.key, ASSETS.c.id).where(
                    ASSETS.c.site_id == site_id, _one_of(session, ASSETS.c.key, missing)
                )
            ).all()
        )
    return found


def _path_key(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path or "/"


def _asset_key(event: CollectEvent) -> str | None:
    if event.asset:
        return event.asset
    if event.url:
        return _path_key(event.url)
    return None


@dataclass
class _ViewState:
    id: int | None
    visitor_id: int
    asset_id: int
    started_at: datetime
    dwell_ms: int
    last_hit_at: datetime
    new: bool = False


def _known_views(session: Session, site_id: int, accepted: list[_Accepted]) -> dict[str, _ViewState]:
    keys = {item.event.view for item in accepted if item.event.view and item.event.type in ("view", "dwell")}
    if not keys:
        return {}
    rows = (
        session.connection()
        .execute(
            select(
                VIEWS.c.key,
                VIEWS.c.id,
                VIEWS.c.visitor_id,
                VIEWS.c.asset_id,
                VIEWS.c.started_at,
                VIEWS.c.dwell_ms,
                VIEWS.c.last_hit_at,
            ).where(VIEWS.c.site_id == site_id, _one_of(session, VIEWS.c.key, keys))
        )
        .all()
    )
    return {
        row.key: _ViewState(
            row.id,
            row.visitor_id,
            row.asset_id,
            row.started_at,
            row.dwell_ms,
            row.last_hit_at,
        )
        for row in rows
    }


def _hit_rows(
    site_id: int,
    parsed: _Batch,
    visitor_ids: dict[str, int],
    asset_ids: dict[str, int],
    views: dict[str, _ViewState],
    received_at: datetime,
) -> list[dict[str, Any]]:
    """Raw hit rows; registers new views in ``views`` and refuses dwell for unknown ones."""
    rows: list[dict[str, Any]] = []
    kept: list[_Accepted] = []
    for item in parsed.accepted:
        event = item.event
        visitor_id = visitor_ids[item.visitor_key]
        asset_key = _asset_key(event) if event.type in ("view", "download") else None
        asset_id = asset_ids.get(asset_key) if asset_key else None
        if event.type == "view":
            assert event.view is not None
            if asset_id is None:
                parsed.reject(item.index, "asset", "missing", "a view needs an asset or a url")
                continue
            known = views.get(event.view)
            if known is not None and known.visitor_id != visitor_id:
                parsed.reject(
                    item.index, "view", "view_of_other_visitor", "this view id belongs to another visitor"
                )
                continue
            if known is None:
                views[event.view] = _ViewState(
                    None, visitor_id, asset_id, item.occurred_at, 0, item.occurred_at, new=True
                )
        elif event.type == "dwell":
            assert event.view is not None
            known = views.get(event.view)
            if known is None:
                parsed.reject(item.index, "view", "unknown_view", "dwell for a view that was never started")
                continue
            if known.visitor_id != visitor_id:
                parsed.reject(
                    item.index, "view", "view_of_other_visitor", "this view id belongs to another visitor"
                )
                continue
            asset_id = known.asset_id
        kept.append(item)
        rows.append(
            {
                "site_id": site_id,
                "visitor_id": visitor_id,
                "kind": event.type,
                "view_key": event.view,
                "asset_id": asset_id,
                "occurred_at": item.occurred_at,
                "received_at": received_at,
                "dwell_ms": event.dwell_ms or 0,
                "url": event.url,
                "target": event.target,
            }
        )
    parsed.accepted = kept
    return rows


def _apply_views(
    session: Session,
    site_id: int,
    parsed: _Batch,
    visitor_ids: dict[str, int],
    asset_ids: dict[str, int],
    views: dict[str, _ViewState],
    received_at: datetime,
) -> None:
    """Insert new views, raise dwell to the highest reported, add both to the day buckets."""
    before = {key: (state.dwell_ms, state.new) for key, state in views.items()}
    for item in parsed.accepted:
        event = item.event
        if event.type == "dwell" and event.view:
            state = views[event.view]
            if event.dwell_ms is not None and event.dwell_ms > state.dwell_ms:
                state.dwell_ms = event.dwell_ms
            state.last_hit_at = max(state.last_hit_at, item.occurred_at)
    connection = session.connection()
    new_rows = [
        {
            "site_id": site_id,
            "key": key,
            "visitor_id": state.visitor_id,
            "asset_id": state.asset_id,
            "started_at": state.started_at,
            "last_hit_at": state.last_hit_at,
            "dwell_ms": state.dwell_ms,
        }
        for key, state in views.items()
        if state.new
    ]
    if new_rows:
        _insert_rows(session, VIEWS, new_rows)
    changed = [
        {"view_id": state.id, "new_dwell": state.dwell_ms, "new_last": state.last_hit_at}
        for key, state in views.items()
        if not state.new and state.dwell_ms != before[key][0]
    ]
    if changed and connection.dialect.name == "postgresql":
        connection.execute(
            _PG_UPDATE_VIEWS,
            {
                "ids": [row["view_id"] for row in changed],
                "dwell": [row["new_dwell"] for row in changed],
                "last": [row["new_last"] for row in changed],
            },
        )
    elif changed:
        connection.execute(
            update(VIEWS)
            .where(VIEWS.c.id == bindparam("view_id"))
            .values(dwell_ms=bindparam("new_dwell"), last_hit_at=bindparam("new_last")),
            changed,
        )
    buckets: dict[tuple[int, int, date], list[int]] = defaultdict(lambda: [0, 0])
    for key, state in views.items():
        old_dwell, is_new = before[key]
        added_dwell = state.dwell_ms - (0 if is_new else old_dwell)
        if not is_new and added_dwell <= 0:
            continue
        bucket = buckets[(state.visitor_id, state.asset_id, state.started_at.date())]
        bucket[0] += 1 if is_new else 0
        bucket[1] += max(added_dwell, 0)
    if buckets:
        _upsert_days(session, buckets)


def _upsert_days(session: Session, buckets: dict[tuple[int, int, date], list[int]]) -> None:
    rows = [
        {"visitor_id": visitor_id, "asset_id": asset_id, "day": day, "views": views, "dwell_ms": dwell}
        for (visitor_id, asset_id, day), (views, dwell) in sorted(buckets.items())
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        columns = ("visitor_id", "asset_id", "day", "views", "dwell_ms")
        session.connection().execute(
            _PG_UPSERT_DAYS, {column: [row[column] for row in rows] for column in columns}
        )
        return
    statement = sqlite.insert(DAYS)
    statement = statement.on_conflict_do_update(
        index_elements=["visitor_id", "asset_id", "day"],
        set_={
            "views": DAYS.c.views + statement.excluded.views,
            "dwell_ms": DAYS.c.dwell_ms + statement.excluded.dwell_ms,
        },
    )
    session.connection().execute(statement, rows)


# PostgreSQL: one statement with array parameters instead of one execution per row.
_PG_UPDATE_VIEWS = text(
    "UPDATE signal_views SET dwell_ms = u.dwell_ms, last_hit_at = u.last_hit_at "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:dwell AS integer[]), CAST(:last AS timestamptz[])) "
    "AS u(id, dwell_ms, last_hit_at) WHERE signal_views.id = u.id"
)
_PG_UPSERT_DAYS = text(
    "INSERT INTO signal_visitor_asset_days (visitor_id, asset_id, day, views, dwell_ms) "
    "SELECT * FROM unnest(CAST(:visitor_id AS integer[]), CAST(:asset_id AS integer[]), "
    "CAST(:day AS date[]), CAST(:views AS integer[]), CAST(:dwell_ms AS bigint[])) "
    "ON CONFLICT (visitor_id, asset_id, day) DO UPDATE SET "
    "views = signal_visitor_asset_days.views + excluded.views, "
    "dwell_ms = signal_visitor_asset_days.dwell_ms + excluded.dwell_ms"
)


def _insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows``; on PostgreSQL with COPY (per-row INSERTs cost a server round each)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in columns])


def _one_of(session: Session, column: Any, values: Any) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``IN (SELECT unnest(array))``: one statement text
    whatever the count, so the driver prepares it once (an IN list differs by length)."""
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column.in_(select(func.unnest(array)))
    return column.in_(values)


def _insert_ignoring(session: Session, table: Table, unique: tuple[str, ...]) -> Any:
    """INSERT that skips rows a concurrent request inserted first (same unique key)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(unique))
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(unique))


def _identify(session: Session, parsed: _Batch, visitor_ids: dict[str, int]) -> None:
    """Link visitors named by a tracked-link token or a form's e-mail; refuse bad tokens."""
    kept: list[_Accepted] = []
    for item in parsed.accepted:
        event = item.event
        if event.type == "identify":
            visitor_id = visitor_ids[item.visitor_key]
            if event.token:
                if not identity.identify_by_token(session, visitor_id=visitor_id, token=event.token):
                    parsed.reject(
                        item.index, "token", "bad_token", "the tracked-link token is invalid or expired"
                    )
                    continue
            elif event.email:
                identity.identify_by_email(session, visitor_id=visitor_id, email=event.email)
        kept.append(item)
    parsed.accepted = kept


def visitor_id(session: Session, *, site_id: int, key: str) -> int:
    """The id of a visitor that has sent at least one event."""
    found = session.scalar(select(m.Visitor.id).where(m.Visitor.site_id == site_id, m.Visitor.key == key))
    if found is None:
        raise NotFound("not_found", entity="visitor", id=key)
    return int(found)
