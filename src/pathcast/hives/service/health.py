"""Hive health: recompute it (one hive, or every open hive in a few queries), read it, and
list hives by health for managers.

The arithmetic is pure (``hives.health``); this module loads the facts table by table for
a set of hives (one query per table, whatever the number of hives), writes ``health``,
``health_components``, ``health_at`` and ``busy_not_moving``, and appends
``hive.health_changed`` — metric-shaped, so rules such as 「蜂巢健康度低于60」 match it —
only when the score or the flag changed. Key results that read hive health are refreshed
in the same transaction.

Health also follows the board without anyone asking: a ``hive.risk_alert`` (the critical
path past the promise, a late dependency) recomputes that hive's health at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, func, select, update
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.events import Event, EventDraft, append_events, react_to
from pathcast.hives import health as h
from pathcast.hives import models as m
from pathcast.hives.service.access import get_hive, readable_clause, require
from pathcast.hives.service.key_results import refresh_key_results

__all__ = [
    "HEALTH_EVENT",
    "OverviewRow",
    "health_of",
    "load_facts",
    "overview",
    "recompute_all",
    "recompute_health",
]

HEALTH_EVENT = "hive.health_changed"
# Events that are the health machinery itself, not people working: never "activity".
NOT_ACTIVITY = (HEALTH_EVENT, "hive.key_result_updated")
# Board events name their hive in the payload (``hive_id``); requests are counted apart.
BOARD_ENTITIES = ("hive_task", "hive_risk", "hive_decision")
SYSTEM = Actor.system("hives.health")


def _ids_clause(ids: Select[Any]) -> Any:
    return ids.scalar_subquery()


def load_facts(session: Session, hive_ids: Select[Any], now: datetime) -> dict[int, h.HiveFacts]:
    """The health facts of the hives ``hive_ids`` selects, one query per table."""
    ids = _ids_clause(hive_ids)
    # Plain column reads on the connection: no ORM row processing for 10,000s of rows.
    run = session.connection().execute
    facts: dict[int, h.HiveFacts] = {}
    for row in run(
        select(
            m.Hive.id, m.Hive.status, m.Hive.start_date, m.Hive.promised_date, m.Hive.forecast_finish
        ).where(m.Hive.id.in_(ids))
    ):
        facts[row.id] = h.HiveFacts(
            hive_id=row.id,
            status=row.status,
            start_date=row.start_date,
            promised_date=row.promised_date,
            forecast_finish=row.forecast_finish,
        )
    if not facts:
        return facts
    for hive_id, user_id, function in run(
        select(m.Member.hive_id, m.Member.user_id, m.Member.function).where(m.Member.hive_id.in_(ids))
    ):
        facts[hive_id].members[user_id] = function
    for task in run(
        select(
            m.Task.hive_id, m.Task.id, m.Task.kind, m.Task.status, m.Task.owner_id, m.Task.due_date,
            m.Task.started_at, m.Task.done_at, m.Task.critical, m.Task.forecast_finish,
        ).where(m.Task.hive_id.in_(ids), m.Task.kind != "check")
    ):  # fmt: skip
        facts[task.hive_id].tasks.append(
            h.TaskFact(
                id=task.id, kind=task.kind, status=task.status, owner_id=task.owner_id,
                due_date=task.due_date, started_at=task.started_at, done_at=task.done_at,
                critical=bool(task.critical), forecast_finish=task.forecast_finish,
            )
        )  # fmt: skip
    for hive_id, task_id, depends_on in run(
        select(m.Dependency.hive_id, m.Dependency.task_id, m.Dependency.depends_on_id).where(
            m.Dependency.hive_id.in_(ids)
        )
    ):
        facts[hive_id].dependencies.append((task_id, depends_on))
    since_requests = now - timedelta(days=h.REQUEST_WINDOW_DAYS)
    for request in run(
        select(
            m.Request.hive_id, m.Request.from_user_id, m.Request.to_user_id, m.Request.asked_at,
            m.Request.answered_at,
        ).where(
            m.Request.hive_id.in_(ids),
            (m.Request.answered_at.is_(None)) | (m.Request.answered_at >= since_requests)
            | (m.Request.asked_at >= since_requests),
        )
    ):  # fmt: skip
        facts[request.hive_id].requests.append(
            h.RequestFact(request.from_user_id, request.to_user_id, request.asked_at, request.answered_at)
        )
    for hive_id, function, owner_id in run(
        select(m.Risk.hive_id, m.Risk.function, m.Risk.owner_id).where(
            m.Risk.hive_id.in_(ids), m.Risk.status == "open"
        )
    ):
        facts[hive_id].risks.append(h.RiskFact(function=function, owner_id=owner_id))
    for hive_id, last in run(
        select(m.Decision.hive_id, func.max(m.Decision.decided_at))
        .where(m.Decision.hive_id.in_(ids))
        .group_by(m.Decision.hive_id)
    ):
        facts[hive_id].last_decision_at = _aware(last)
    since = now - timedelta(days=h.WINDOW_DAYS)
    for hive_id, count in run(
        select(m.Message.hive_id, func.count())
        .where(m.Message.hive_id.in_(ids), m.Message.filed_at >= since)
        .group_by(m.Message.hive_id)
    ):
        facts[hive_id].messages = int(count)
    # Edits are events people caused on the hive and its board (tasks, risks, decisions,
    # members, knowledge); the system's own work (alerts, health) is not someone being busy,
    # and requests and messages are counted from their own tables above.
    recent = (
        Event.occurred_at >= since,
        Event.occurred_at <= now,
        Event.actor.like("user:%"),
        Event.type.not_in(NOT_ACTIVITY),
    )
    id_strings = select(cast(m.Hive.id, String(64))).where(m.Hive.id.in_(ids))
    on_hive = run(
        select(Event.entity_id, func.count())
        .where(*recent, Event.entity == "hive", Event.entity_id.in_(id_strings.scalar_subquery()))
        .group_by(Event.entity_id)
    ).all()
    hive_of = Event.payload["hive_id"].as_integer()
    on_board = run(
        select(hive_of, func.count())
        .where(*recent, Event.entity.in_(BOARD_ENTITIES), hive_of.in_(ids))
        .group_by(hive_of)
    ).all()
    for entity_id, count in [*on_hive, *on_board]:
        hive_id = int(entity_id)
        if hive_id in facts:
            facts[hive_id].edits += int(count)
    return facts


def _aware(value: datetime | None) -> datetime | None:
    """Aggregates come back as plain values on SQLite; make them UTC-aware like columns."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        from datetime import UTC

        value = value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True)
class Change:
    """What one recomputation changed (for the caller and the bench)."""

    hive_id: int
    health: int
    previous: int | None
    busy_not_moving: bool
    changed: bool


def _apply(
    session: Session,
    actor: Actor,
    facts: dict[int, h.HiveFacts],
    previous: dict[int, tuple[int | None, bool]],
    at: datetime,
) -> list[Change]:
    """Score each hive, write the rows, and append one event per hive whose health changed."""
    rows: list[dict[str, Any]] = []
    drafts: list[EventDraft] = []
    changes: list[Change] = []
    for hive_id, hive_facts in facts.items():
        result = h.score(hive_facts, at)
        stored = result.components_json()
        old_health, old_busy = previous.get(hive_id, (None, False))
        changed = old_health != result.health or old_busy != result.busy_not_moving
        rows.append(
            {
                "id": hive_id,
                "health": result.health,
                "health_components": stored,
                "health_at": at,
                "busy_not_moving": result.busy_not_moving,
            }
        )
        changes.append(Change(hive_id, result.health, old_health, result.busy_not_moving, changed))
        if changed:
            drafts.append(
                EventDraft(
                    type=HEALTH_EVENT,
                    entity="hive",
                    entity_id=hive_id,
                    actor=actor.label,
                    payload={
                        "metric": "hive_health",
                        "entity": "hive",
                        "value": result.health,
                        "previous": old_health,
                        "components": {key: part.value for key, part in result.components.items()},
                        "busy_not_moving": result.busy_not_moving,
                        "before": {"health": old_health, "busy_not_moving": old_busy},
                        "after": {"health": result.health, "busy_not_moving": result.busy_not_moving},
                    },
                    occurred_at=at,
                )
            )
    if rows:
        # Bulk UPDATE by primary key: one executemany, not one ORM flush per hive.
        session.execute(update(m.Hive), rows)
        for hive_id in facts:
            loaded = session.identity_map.get(session.identity_key(m.Hive, hive_id))
            if loaded is not None:
                session.expire(loaded, ["health", "health_components", "health_at", "busy_not_moving"])
    if drafts:
        append_events(session, drafts)
    return changes


def _previous(session: Session, ids: Select[Any]) -> dict[int, tuple[int | None, bool]]:
    return {
        hive_id: (health, bool(busy))
        for hive_id, health, busy in session.execute(
            select(m.Hive.id, m.Hive.health, m.Hive.busy_not_moving).where(m.Hive.id.in_(_ids_clause(ids)))
        )
    }


def recompute_health(session: Session, actor: Actor, hive_id: int, *, now: datetime | None = None) -> m.Hive:
    """Recompute one hive's health (readable hive, ``hive`` update right); appends
    ``hive.health_changed`` when the score or the busy-not-moving flag changed and
    refreshes the key results that read hive health."""
    hive = get_hive(session, actor, hive_id)
    require(actor, "update")
    _recompute_one(session, actor, hive.id, at=now or utcnow())
    session.refresh(hive)
    return hive


def _recompute_one(session: Session, actor: Actor, hive_id: int, *, at: datetime) -> Change:
    session.flush()
    ids = select(m.Hive.id).where(m.Hive.id == hive_id)
    changes = _apply(session, actor, load_facts(session, ids, at), _previous(session, ids), at)
    if changes and changes[0].changed:
        refresh_key_results(session, now=at)
    return changes[0]


def recompute_all(session: Session, actor: Actor, *, now: datetime | None = None) -> list[Change]:
    """Recompute the health of every open hive ``actor`` may read, in a few queries
    (facts loaded per table, scored in Python, written with one bulk UPDATE)."""
    require(actor, "update")
    at = now or utcnow()
    session.flush()
    ids = select(m.Hive.id).where(m.Hive.status.in_(h.OPEN_STATUSES), readable_clause(actor))
    changes = _apply(session, actor, load_facts(session, ids, at), _previous(session, ids), at)
    if any(change.changed for change in changes):
        refresh_key_results(session, now=at)
    return changes


# --- the manager view ---------------------------------------------------------------------


@dataclass(frozen=True)
class OverviewRow:
    """One hive in the manager view, with its recent health trend."""

    hive: m.Hive
    trend: list[int]  # recent health values, oldest first (from the event log)
    delta: int | None  # change since the oldest value shown


def _trend(session: Session, hive_ids: Iterable[int], points: int) -> dict[int, list[int]]:
    keys = [str(hive_id) for hive_id in hive_ids]
    found: dict[int, list[int]] = {}
    if not keys:
        return found
    for entity_id, payload in session.execute(
        select(Event.entity_id, Event.payload)
        .where(Event.entity == "hive", Event.type == HEALTH_EVENT, Event.entity_id.in_(keys))
        .order_by(Event.id)
    ):
        value = payload.get("value") if isinstance(payload, dict) else None
        if isinstance(value, int | float):
            found.setdefault(int(entity_id), []).append(int(value))
    return {hive_id: values[-points:] for hive_id, values in found.items()}


def overview(
    session: Session,
    actor: Actor,
    *,
    include_closed: bool = False,
    flagged_only: bool = False,
    points: int = 8,
) -> list[OverviewRow]:
    """Every hive ``actor`` may read, least healthy first (never scored last), with the
    busy-not-moving flag and the health trend from the event log."""
    require(actor, "read")
    where: list[ColumnElement[bool]] = [readable_clause(actor)]
    if not include_closed:
        where.append(m.Hive.status.in_(h.OPEN_STATUSES))
    if flagged_only:
        where.append(m.Hive.busy_not_moving.is_(True))
    hives = list(
        session.scalars(
            select(m.Hive)
            .where(*where)
            .order_by(m.Hive.health.is_(None), m.Hive.health, m.Hive.busy_not_moving.desc(), m.Hive.id)
        )
    )
    trends = _trend(session, [hive.id for hive in hives], points)
    rows = []
    for hive in hives:
        trend = trends.get(hive.id, [])
        delta = trend[-1] - trend[0] if len(trend) > 1 else None
        rows.append(OverviewRow(hive=hive, trend=trend, delta=delta))
    return rows


# --- following the board ------------------------------------------------------------------


@react_to("hive.risk_alert")
def _after_alert(session: Session, draft: EventDraft) -> None:
    """A raised alert (critical path past the promise, a late dependency) lowers health now."""
    hive_id = int(draft.entity_id)
    if session.get(m.Hive, hive_id) is None:
        return
    _recompute_one(session, SYSTEM, hive_id, at=draft.occurred_at or utcnow())


# --- reading ---------------------------------------------------------------------------------


def health_of(session: Session, actor: Actor, hive_id: int) -> dict[str, Any]:
    """A readable hive's stored health, its components and activity (``HealthRead``)."""
    hive = get_hive(session, actor, hive_id)
    stored = dict(hive.health_components or {})
    components = {key: stored[key] for key in h.WEIGHTS if isinstance(stored.get(key), dict)}
    activity = stored.get("activity") if isinstance(stored.get("activity"), dict) else {}
    return {
        "hive_id": hive.id,
        "name": hive.name,
        "status": hive.status,
        "health": hive.health,
        "health_at": hive.health_at,
        "busy_not_moving": bool(hive.busy_not_moving),
        "components": components,
        "activity": {key: int(value) for key, value in (activity or {}).items() if isinstance(value, int)},
        "weights": dict(h.WEIGHTS),
    }
