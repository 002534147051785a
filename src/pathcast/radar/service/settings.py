"""Radar settings: the industry × topic weight table, the topic dictionary, competitors.

The table and the dictionary are stored as JSON in ``radar_settings``; a missing row means
the analysis library's packaged default, so nothing is copied until someone edits it.
Edits are checked by the library's own ``from_dict`` (errors name the cell, e.g.
``industries.manufacturing.weights.price``) and logged with before and after.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, Operation, may
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.radar import models as m
from pathcast.radar.analysis import TopicDictionary, WeightTable

__all__ = [
    "delete_competitor",
    "get_topics",
    "get_weights",
    "list_competitors",
    "put_topics",
    "put_weights",
    "require",
    "require_editor",
    "save_competitor",
]

NAME_MAX = 200
LIST_MAX = 50


def require(actor: Actor, operation: Operation) -> None:
    """Refuse unless the actor's role has ``operation`` on radar signals."""
    if not may(actor, "radar", operation):
        raise PermissionDenied(
            "forbidden_model" if operation == "read" else "forbidden_operation",
            entity="radar",
            operation=operation,
        )


def require_editor(actor: Actor) -> None:
    """Weights, topics and competitors are edited by admins and managers, not reps."""
    require(actor, "update")
    if actor.role.value not in ("admin", "manager"):
        raise PermissionDenied("forbidden_operation", entity="radar", operation="update")


# --- weight table and topic dictionary ------------------------------------------------------


def _stored(session: Session, key: str) -> dict[str, Any] | None:
    row = session.get(m.Setting, key)
    return dict(row.value) if row is not None else None


def weight_table(session: Session) -> WeightTable:
    """The weight table in force (the edited one, else the packaged default)."""
    stored = _stored(session, "weights")
    return WeightTable.from_dict(stored) if stored is not None else WeightTable.default()


def topic_dictionary(session: Session) -> TopicDictionary:
    """The topic dictionary in force (the edited one, else the packaged default)."""
    stored = _stored(session, "topics")
    return TopicDictionary.from_dict(stored) if stored is not None else TopicDictionary.default()


def get_weights(session: Session, *, actor: Actor) -> dict[str, Any]:
    """The weight table in its editor shape (any radar reader)."""
    require(actor, "read")
    return weight_table(session).as_dict()


def get_topics(session: Session, *, actor: Actor) -> dict[str, Any]:
    """The topic dictionary in its editor shape (any radar reader)."""
    require(actor, "read")
    return topic_dictionary(session).as_dict()


def _put(session: Session, *, actor: Actor, key: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    row = session.get(m.Setting, key)
    now = utcnow()
    if row is None:
        session.add(m.Setting(key=key, value=after, updated_at=now, updated_by=actor.user_id))
    else:
        row.value = after
        row.updated_at = now
        row.updated_by = actor.user_id
    session.flush()
    append_event(
        session,
        type="radar.settings_changed",
        entity="radar_setting",
        entity_id=key,
        actor=actor.label,
        payload={"key": key, "before": before, "after": after},
    )


def put_weights(session: Session, *, actor: Actor, table: dict[str, Any]) -> dict[str, Any]:
    """Replace the weight table (admins and managers); InvalidInput names the bad cell."""
    require_editor(actor)
    checked = WeightTable.from_dict(table).as_dict()
    _put(session, actor=actor, key="weights", before=weight_table(session).as_dict(), after=checked)
    return checked


def put_topics(session: Session, *, actor: Actor, dictionary: dict[str, Any]) -> dict[str, Any]:
    """Replace the topic dictionary (admins and managers); InvalidInput names the bad field."""
    require_editor(actor)
    checked = TopicDictionary.from_dict(dictionary).as_dict()
    _put(session, actor=actor, key="topics", before=topic_dictionary(session).as_dict(), after=checked)
    return checked


# --- competitors ----------------------------------------------------------------------------


def list_competitors(session: Session, *, actor: Actor | None = None) -> list[m.Competitor]:
    """Every competitor by name (``actor=None``: system work such as the analysis)."""
    if actor is not None:
        require(actor, "read")
    return list(session.scalars(select(m.Competitor).order_by(m.Competitor.name)))


def _texts(value: Any, field_name: str, errors: list[FieldError]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > LIST_MAX:
        errors.append(FieldError(field_name, "invalid", {"message": f"a list of at most {LIST_MAX} texts"}))
        return []
    return list(dict.fromkeys(v.strip() for v in value if v.strip()))


def save_competitor(
    session: Session,
    *,
    actor: Actor,
    name: str,
    aliases: list[str] | None = None,
    products: list[str] | None = None,
    competitor_id: int | None = None,
) -> m.Competitor:
    """Create a competitor, or update the one with ``competitor_id`` (admins and managers)."""
    require_editor(actor)
    errors: list[FieldError] = []
    clean = name.strip() if isinstance(name, str) else ""
    if not clean or len(clean) > NAME_MAX:
        errors.append(FieldError("name", "invalid", {"message": f"1 to {NAME_MAX} characters"}))
    clean_aliases = _texts(aliases, "aliases", errors)
    clean_products = _texts(products, "products", errors)
    if errors:
        raise InvalidInput(errors)
    taken = session.scalar(select(m.Competitor.id).where(m.Competitor.name == clean))
    if taken is not None and taken != competitor_id:
        raise Conflict("competitor_exists", name=clean)
    before: dict[str, Any] | None = None
    if competitor_id is None:
        competitor = m.Competitor(name=clean, aliases=clean_aliases, products=clean_products)
        session.add(competitor)
    else:
        found = session.get(m.Competitor, competitor_id)
        if found is None:
            raise NotFound("not_found", entity="radar_competitor", id=competitor_id)
        competitor = found
        before = {"name": competitor.name, "aliases": competitor.aliases, "products": competitor.products}
        competitor.name, competitor.aliases, competitor.products = clean, clean_aliases, clean_products
    session.flush()
    append_event(
        session,
        type="radar.competitor_saved",
        entity="radar_competitor",
        entity_id=competitor.id,
        actor=actor.label,
        payload={
            "before": before,
            "after": {"name": clean, "aliases": clean_aliases, "products": clean_products},
        },
    )
    return competitor


def delete_competitor(session: Session, *, actor: Actor, competitor_id: int) -> None:
    """Remove a competitor (admins and managers); logged as ``radar.competitor_deleted``."""
    require_editor(actor)
    competitor = session.get(m.Competitor, competitor_id)
    if competitor is None:
        raise NotFound("not_found", entity="radar_competitor", id=competitor_id)
    append_event(
        session,
        type="radar.competitor_deleted",
        entity="radar_competitor",
        entity_id=competitor.id,
        actor=actor.label,
        payload={"before": {"name": competitor.name, "aliases": competitor.aliases}},
    )
    session.delete(competitor)
    session.flush()
