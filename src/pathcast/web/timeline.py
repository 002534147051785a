"""A record's timeline from the event log: who, when, what changed (before → after).

A record's own events (edits, stage moves) are merged with the events of the activities
linked to it (a call logged, a task created or completed), newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.crm.service import SPECS, EntitySpec
from pathcast.crm.service.records import readable_query
from pathcast.events import Event, events_for_entity
from pathcast.web.lookups import account_names, actor_user_id, contact_names, stages_by_id, user_names
from pathcast.web.rendering import Formatter

ACTIVITY = SPECS["activity"]
# Bookkeeping columns that change with every write and say nothing to a reader.
HIDDEN_FIELDS = frozenset({"id", "created_at", "updated_at", "stage_changed_at"})
SUMMARY_ON_CREATE: dict[str, tuple[str, ...]] = {
    "opportunity": (
        "name",
        "account_id",
        "stage_id",
        "amount",
        "currency",
        "expected_close_date",
        "owner_id",
    ),
    "account": ("name", "industry", "tier", "city", "owner_id"),
    "contact": ("name", "account_id", "title", "email", "phone"),
    "activity": ("occurred_at", "duration_minutes", "due_at"),
}
# Enumerated fields whose stored value has a label in the catalogue.
ENUM_LABELS = {
    "forecast_category": "fields.forecast.",
    "tier": "fields.tiers.",
    "kind": "records.kinds.",
}
MAX_ACTIVITIES = 200


@dataclass
class Change:
    """One field's move: its label and the values before and after, formatted."""

    field: str
    label: str
    before: str | None
    after: str


@dataclass
class TimelineEntry:
    when: datetime
    who: str
    what: str
    type: str
    changes: list[Change] = field(default_factory=list)
    entity: str = ""
    subject: str | None = None


def field_label(fmt: Formatter, name: str) -> str:
    """The label of a field, or its name when the catalogue has none."""
    return fmt.label(f"fields.{name}", name)


class ValueFormatter:
    """Formats raw event-payload values of one entity for display."""

    def __init__(
        self, session: Session, actor: Actor, fmt: Formatter, spec: EntitySpec, events: list[Event]
    ) -> None:
        self.fmt = fmt
        self.spec = spec
        self.columns = {column.key: column for column in spec.model.__table__.columns}
        references: dict[str, set[Any]] = {}
        for event in events:
            for part in ("before", "after"):
                values = (event.payload or {}).get(part) or {}
                for name, target in spec.references.items():
                    if values.get(name) is not None:
                        references.setdefault(target, set()).add(values[name])
        self.names: dict[str, dict[int, str]] = {
            "user": user_names(session, references.get("user", ())),
            "account": account_names(session, actor, references.get("account", ())),
            "contact": contact_names(session, actor, references.get("contact", ())),
        }
        self.stages = stages_by_id(session, references.get("stage", ()))

    def __call__(self, name: str, value: Any) -> str:
        if value is None or value == "":
            return "—"
        target = self.spec.references.get(name)
        if target == "stage":
            stage = self.stages.get(int(value))
            return self.fmt.stage(stage) if stage else f"#{value}"
        if target in self.names:
            return self.names[target].get(int(value), f"#{value}")
        if target is not None:
            return f"#{value}"
        if name == "status" and self.spec.name == "opportunity":
            return self.fmt.status(str(value))
        if name in ENUM_LABELS:
            return self.fmt.label(ENUM_LABELS[name] + str(value), str(value))
        return self._by_type(name, value)

    def _by_type(self, name: str, value: Any) -> str:
        column = self.columns.get(name)
        try:
            python_type = column.type.python_type if column is not None else None
        except NotImplementedError:
            python_type = None
        if python_type is bool or isinstance(value, bool):
            return self.fmt.t("ui.yes") if value else self.fmt.t("ui.no")
        if python_type is datetime:
            try:
                return self.fmt.datetime(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
            except ValueError:
                return str(value)
        if python_type is date:
            try:
                return self.fmt.date(date.fromisoformat(str(value)))
            except ValueError:
                return str(value)
        if python_type is Decimal:
            try:
                return self.fmt.number(Decimal(str(value)), 2)
            except InvalidOperation:
                return str(value)
        return str(value)


def _changes(event: Event, values: ValueFormatter, fmt: Formatter) -> list[Change]:
    payload = event.payload or {}
    before: dict[str, Any] = payload.get("before") or {}
    after: dict[str, Any] = payload.get("after") or {}
    if not before and event.type.endswith(".created"):
        summary = SUMMARY_ON_CREATE.get(event.entity, ())
        names = [name for name in summary if after.get(name) is not None]
        return [Change(name, field_label(fmt, name), None, values(name, after[name])) for name in names]
    changes = []
    for name in after:
        if name in HIDDEN_FIELDS or before.get(name) == after.get(name):
            continue
        changes.append(
            Change(name, field_label(fmt, name), values(name, before.get(name)), values(name, after[name]))
        )
    return changes


def _activity_title(event: Event, kinds: dict[str, str], fmt: Formatter) -> str:
    """ "Call logged", "Task created", "Task completed"… for an activity's event."""
    payload = event.payload or {}
    before: dict[str, Any] = payload.get("before") or {}
    after: dict[str, Any] = payload.get("after") or {}
    if event.type == "activity.created":
        kind = str(after.get("kind") or kinds.get(event.entity_id, ""))
        return fmt.label(f"timeline.activity_created.{kind}", fmt.t("timeline.activity.created"))
    if event.type == "activity.updated" and after.get("done_at") and not before.get("done_at"):
        return fmt.t("timeline.activity_completed")
    return fmt.label(f"timeline.{event.type}", event.type)


def linked_activities(
    session: Session, actor: Actor, column: str, record_id: int
) -> dict[str, tuple[str, str]]:
    """``{activity id: (kind, subject)}`` of the readable activities whose ``column``
    (``opportunity_id``, ``account_id`` or ``contact_id``) points at the record."""
    if not may(actor, "activity", "read"):
        return {}
    model = ACTIVITY.model
    query = (
        readable_query(actor, ACTIVITY)
        .with_only_columns(model.id, model.kind, model.subject)
        .where(getattr(model, column) == record_id)
        .order_by(model.id.desc())
        .limit(MAX_ACTIVITIES)
    )
    rows = session.execute(query)
    return {str(row.id): (str(row.kind), str(row.subject)) for row in rows}


def _activity_events(session: Session, activity_ids: list[str]) -> list[Event]:
    if not activity_ids:
        return []
    query = select(Event).where(Event.entity == ACTIVITY.name, Event.entity_id.in_(activity_ids))
    return list(session.scalars(query))


def record_timeline(
    session: Session,
    actor: Actor,
    fmt: Formatter,
    spec: EntitySpec,
    record_id: int,
    *,
    activity_column: str | None = None,
) -> list[TimelineEntry]:
    """The events of one record (and of the activities linked to it through
    ``activity_column``), newest first, ready to show.

    The caller must already have loaded the record through ``get_readable``.
    """
    own = events_for_entity(session, spec.name, record_id)
    activities = linked_activities(session, actor, activity_column, record_id) if activity_column else {}
    related = _activity_events(session, list(activities))
    values = {
        spec.name: ValueFormatter(session, actor, fmt, spec, own),
        ACTIVITY.name: ValueFormatter(session, actor, fmt, ACTIVITY, related),
    }
    events = sorted([*own, *related], key=lambda event: (event.occurred_at, event.id), reverse=True)
    people = user_names(session, (actor_user_id(event.actor) for event in events))
    kinds = {key: kind for key, (kind, _subject) in activities.items()}
    entries = []
    for event in events:
        user_id = actor_user_id(event.actor)
        if user_id is not None:
            who = people.get(user_id, event.actor)
        else:
            who = fmt.t("timeline.system") if event.actor == "system" else event.actor
        is_activity = event.entity == ACTIVITY.name
        subject = None
        if is_activity:
            after = (event.payload or {}).get("after") or {}
            subject = str(after.get("subject") or activities.get(event.entity_id, ("", ""))[1]) or None
        entries.append(
            TimelineEntry(
                when=event.occurred_at,
                who=who,
                what=_activity_title(event, kinds, fmt)
                if is_activity
                else fmt.label(f"timeline.{event.type}", event.type),
                type=event.type,
                changes=_changes(event, values[event.entity], fmt),
                entity=event.entity,
                subject=subject,
            )
        )
    return entries
