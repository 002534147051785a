"""The records a run is about: the subject's fields and its related records' fields.

States are rebuilt from the event log (the ``after`` maps folded in order), so a
condition sees the record as it stood when the triggering event happened: live, up to
that event's id (what the system knew then); in a dry-run, up to the event's
occurred-at time (what had happened by then). A record with no events at all (written
before the log existed) is read live through crm's ``get_readable`` as the system.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation.actions.base import Subject
from pathcast.automation.engine.matcher import FieldResolver, Missing
from pathcast.crm.service import SPECS, get_readable, snapshot
from pathcast.errors import NotFound
from pathcast.events import Event, fold_state

SYSTEM = Actor.system("automation")
# Which reference fields lead from a record to its related records, nearest first.
_HOPS = ("opportunity_id", "quote_id", "contract_id", "contact_id", "account_id")


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class Records:
    """Record states as of one point of the log, cached for the life of one match or step."""

    def __init__(
        self,
        session: Session,
        *,
        upto_event_id: int | None = None,
        as_of: datetime | None = None,
    ) -> None:
        self.session = session
        self.upto_event_id = upto_event_id
        self.as_of = as_of
        self._cache: dict[tuple[str, int], dict[str, Any] | None] = {}

    def state(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """The record's fields, or ``None`` if it did not exist (or was deleted) by then."""
        key = (entity, record_id)
        if key not in self._cache:
            self._cache[key] = self._load(entity, record_id)
        return self._cache[key]

    def _load(self, entity: str, record_id: int) -> dict[str, Any] | None:
        query = select(Event).where(Event.entity == entity, Event.entity_id == str(record_id))
        if self.upto_event_id is not None:
            query = query.where(Event.id <= self.upto_event_id)
        if self.as_of is not None:
            query = query.where(Event.occurred_at <= self.as_of).order_by(Event.occurred_at, Event.id)
        else:
            query = query.order_by(Event.id)
        events = list(self.session.scalars(query))
        if events:
            state = fold_state(events)
            return None if state is None else {**state, "id": state.get("id", record_id)}
        if self.as_of is not None or entity not in SPECS:
            return None
        try:
            record = get_readable(self.session, SYSTEM, SPECS[entity], record_id)
        except NotFound:
            return None
        return snapshot(record)

    def related_id(self, subject_entity: str, subject_id: int, entity: str) -> int | None:
        """The id of the ``entity`` the subject belongs to (a quote's account: via its deal)."""
        if entity == subject_entity:
            return subject_id
        state = self.state(subject_entity, subject_id)
        if state is None:
            return None
        direct = _int(state.get(f"{entity}_id"))
        if direct is not None:
            return direct
        for hop in _HOPS:
            hop_entity = hop[: -len("_id")]
            hop_id = _int(state.get(hop))
            if hop_id is None or hop_entity == subject_entity:
                continue
            hop_state = self.state(hop_entity, hop_id)
            if hop_state is not None and _int(hop_state.get(f"{entity}_id")) is not None:
                return _int(hop_state.get(f"{entity}_id"))
        return None

    def resolver(self, subject_entity: str | None, subject_id: Any) -> FieldResolver:
        """``"account.tier"`` → the value for this subject (raises ``Missing`` when unrelated)."""
        sid = _int(subject_id)

        def resolve(path: str) -> Any:
            entity, _, name = path.rpartition(".")
            entity = entity or (subject_entity or "")
            if subject_entity is None or sid is None:
                raise Missing(f"the rule has no record to read {path} from")
            target = self.related_id(subject_entity, sid, entity)
            if target is None:
                raise Missing(f"{subject_entity} #{sid} has no {entity}")
            state = self.state(entity, target)
            if state is None:
                raise Missing(f"{entity} #{target} does not exist")
            return state.get(name)

        return resolve

    def subject(self, entity: str | None, record_id: Any) -> Subject:
        """The run's subject with the account, contact and deal it belongs to."""
        sid = _int(record_id)
        if entity is None or sid is None:
            return Subject(entity=entity, id=sid)
        return Subject(
            entity=entity,
            id=sid,
            account_id=self.related_id(entity, sid, "account"),
            contact_id=self.related_id(entity, sid, "contact"),
            opportunity_id=self.related_id(entity, sid, "opportunity"),
        )
