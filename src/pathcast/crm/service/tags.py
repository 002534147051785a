"""Tags on accounts, contacts and opportunities ("high intent"), each change with its Event.

A tag is a fact about the record, so applying or removing one appends
``<entity>.tag_applied`` / ``<entity>.tag_removed`` to that record's history, which
rules can match like any other change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.service.records import get_writable
from pathcast.crm.service.registry import SPECS
from pathcast.db import utcnow
from pathcast.errors import InvalidInput
from pathcast.events import append_event

TAGGABLE = ("account", "contact", "opportunity")
MAX_TAG = 80


def clean_tag(tag: str) -> str:
    """A tag as stored: trimmed, inner whitespace collapsed; 1-80 characters."""
    cleaned = " ".join(tag.split())
    if not cleaned or len(cleaned) > MAX_TAG:
        raise InvalidInput.single("tag", "bad_tag", max=MAX_TAG)
    return cleaned


def _check_entity(entity: str) -> None:
    if entity not in TAGGABLE:
        raise InvalidInput.single("entity", "not_taggable", entity=entity, allowed=list(TAGGABLE))


def _find(session: Session, entity: str, record_id: int, tag: str) -> m.RecordTag | None:
    return session.scalars(
        select(m.RecordTag).where(
            m.RecordTag.entity == entity, m.RecordTag.record_id == record_id, m.RecordTag.tag == tag
        )
    ).first()


def apply_tag(
    session: Session,
    *,
    entity: str,
    record_id: int,
    tag: str,
    actor: Actor,
    occurred_at: datetime | None = None,
) -> bool:
    """Tag a record the actor may change; appends ``<entity>.tag_applied``.

    Returns False (and appends nothing) when the record already has the tag.
    """
    _check_entity(entity)
    tag = clean_tag(tag)
    # Same rights and row scope as editing the record: 404 unseen, 403 not theirs.
    get_writable(session, actor, SPECS[entity], record_id)
    if _find(session, entity, record_id, tag) is not None:
        return False
    at = occurred_at or utcnow()
    session.add(
        m.RecordTag(entity=entity, record_id=record_id, tag=tag, applied_at=at, applied_by=actor.label)
    )
    session.flush()
    append_event(
        session,
        type=f"{entity}.tag_applied",
        entity=entity,
        entity_id=record_id,
        actor=actor.label,
        payload={"tag": tag},
        occurred_at=at,
    )
    return True


def remove_tag(
    session: Session,
    *,
    entity: str,
    record_id: int,
    tag: str,
    actor: Actor,
    occurred_at: datetime | None = None,
) -> bool:
    """Remove a tag; appends ``<entity>.tag_removed``. False when the record did not have it."""
    _check_entity(entity)
    tag = clean_tag(tag)
    get_writable(session, actor, SPECS[entity], record_id)
    found = _find(session, entity, record_id, tag)
    if found is None:
        return False
    session.delete(found)
    session.flush()
    append_event(
        session,
        type=f"{entity}.tag_removed",
        entity=entity,
        entity_id=record_id,
        actor=actor.label,
        payload={"tag": tag},
        occurred_at=occurred_at,
    )
    return True


def tags_of(session: Session, entity: str, record_id: int) -> list[str]:
    """A record's tags, alphabetically."""
    _check_entity(entity)
    return list(
        session.scalars(
            select(m.RecordTag.tag)
            .where(m.RecordTag.entity == entity, m.RecordTag.record_id == record_id)
            .order_by(m.RecordTag.tag)
        )
    )
