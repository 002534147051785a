"""A record's timeline from the event log: who, when, what changed (before → after)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm.service import EntitySpec
from pathcast.events import Event, events_for_entity
from pathcast.web.lookups import account_names, actor_user_id, stages_by_id, user_names
from pathcast.web.rendering import Formatter

# Bookkeeping columns that change with every write and say nothing to a reader.
HIDDEN_FIELDS = frozenset({"id", "created_at", "updated_at", "stage_changed_at"})
SUMMARY_ON_CREATE = (
    "name",
    "account_id",
    "stage_id",
    "amount",
    "currency",
    "expected_close_date",
    "owner_id",
    "industry",
    "tier",
    "city",
)


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
        if name == "status":
            return self.fmt.status(str(value))
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
        names = [name for name in SUMMARY_ON_CREATE if after.get(name) is not None]
        return [Change(name, field_label(fmt, name), None, values(name, after[name])) for name in names]
    changes = []
    for name in after:
        if name in HIDDEN_FIELDS or before.get(name) == after.get(name):
            continue
        changes.append(
            Change(name, field_label(fmt, name), values(name, before.get(name)), values(name, after[name]))
        )
    return changes


def record_timeline(
    session: Session, actor: Actor, fmt: Formatter, spec: EntitySpec, record_id: int
) -> list[TimelineEntry]:
    """The events of one record, newest first, ready to show.

    The caller must already have loaded the record through ``get_readable``.
    """
    events = events_for_entity(session, spec.name, record_id)
    values = ValueFormatter(session, actor, fmt, spec, events)
    people = user_names(session, (actor_user_id(event.actor) for event in events))
    entries = []
    for event in reversed(events):
        user_id = actor_user_id(event.actor)
        who = people.get(user_id, event.actor) if user_id is not None else event.actor
        entries.append(
            TimelineEntry(
                when=event.occurred_at,
                who=who,
                what=fmt.label(f"timeline.{event.type}", event.type),
                type=event.type,
                changes=_changes(event, values, fmt),
            )
        )
    return entries
