"""The radar's knowledge base: Q&A pairs product marketing curates, and the replies reps
chose to share.

Q&A pairs are written by managers and admins (right ``radar_toolbox``: reps read it);
each write is one event (``radar.knowledge_added``, ``radar.knowledge_changed``,
``radar.knowledge_archived``) in the same transaction. ``save_reply`` records the reply a
rep sent for a signal (``radar.reply_saved`` on the signal): Pathcast never sends it
anywhere; when the rep shares it, it also becomes a ``reply`` entry the FAQ drafts cite.

Nothing is deleted: archiving takes an entry out of the drafts and keeps it for the log.
The search index over these entries and the company documents is in ``knowledge_index``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, Operation, may
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.radar import models as m
from pathcast.radar.schemas import ANSWER_MAX, KNOWLEDGE_SOURCE_MAX, QUESTION_MAX, REPLY_MAX
from pathcast.radar.service import signals
from pathcast.radar.service.settings import require

__all__ = [
    "DEFAULT_SOURCE",
    "SavedReply",
    "add_qa",
    "archive_knowledge",
    "get_knowledge",
    "list_knowledge",
    "may_edit_knowledge",
    "reply_source",
    "require_toolbox",
    "save_reply",
    "update_qa",
]

DEFAULT_SOURCE = "FAQ"
LIST_MAX = 500


def require_toolbox(actor: Actor, operation: Operation) -> None:
    """Refuse unless the actor's role has ``operation`` on the toolbox content."""
    if not may(actor, "radar_toolbox", operation):
        raise PermissionDenied(
            "forbidden_model" if operation == "read" else "forbidden_operation",
            entity="radar_toolbox",
            operation=operation,
        )


def may_edit_knowledge(actor: Actor) -> bool:
    """Whether the actor may add, change and archive knowledge entries (managers, admins)."""
    return may(actor, "radar_toolbox", "update") and may(actor, "radar_toolbox", "create")


def _clean(value: Any, field: str, limit: int, errors: list[FieldError]) -> str:
    """A stripped text, or an error naming ``field`` (empty, too long, not text)."""
    if not isinstance(value, str):
        errors.append(FieldError(field, "missing"))
        return ""
    # PostgreSQL refuses NUL in text; a pasted binary fragment must not crash the write.
    text = value.replace("\x00", "").strip()
    if not text:
        errors.append(FieldError(field, "missing"))
    elif len(text) > limit:
        errors.append(FieldError(field, "too_long", {"max": limit}))
    return text


def _state(entry: m.Knowledge) -> dict[str, Any]:
    return {
        "kind": entry.kind,
        "question": entry.question,
        "answer": entry.answer,
        "source": entry.source,
        "item_id": entry.item_id,
        "archived": entry.archived,
    }


def _added(session: Session, actor: Actor, entry: m.Knowledge) -> None:
    append_event(
        session,
        type="radar.knowledge_added",
        entity="radar_knowledge",
        entity_id=entry.id,
        actor=actor.label,
        payload={"before": None, "after": _state(entry)},
    )


# --- Q&A pairs ------------------------------------------------------------------------------


def add_qa(
    session: Session, actor: Actor, *, question: str, answer: str, source: str | None = None
) -> m.Knowledge:
    """A new Q&A pair (managers and admins); ``source`` is its citation label, "FAQ" by default.

    InvalidInput names each empty or too long field.
    """
    require_toolbox(actor, "create")
    errors: list[FieldError] = []
    clean_question = _clean(question, "question", QUESTION_MAX, errors)
    clean_answer = _clean(answer, "answer", ANSWER_MAX, errors)
    clean_source = DEFAULT_SOURCE
    if source is not None and (not isinstance(source, str) or source.strip()):
        clean_source = _clean(source, "source", KNOWLEDGE_SOURCE_MAX, errors)
    if errors:
        raise InvalidInput(errors)
    entry = m.Knowledge(
        kind="qa",
        question=clean_question,
        answer=clean_answer,
        source=clean_source,
        archived=False,
        created_by=actor.user_id,
    )
    session.add(entry)
    session.flush()
    _added(session, actor, entry)
    return entry


def get_knowledge(session: Session, actor: Actor, knowledge_id: int) -> m.Knowledge:
    """One knowledge entry (archived ones too); NotFound if there is none."""
    require_toolbox(actor, "read")
    entry = session.get(m.Knowledge, knowledge_id)
    if entry is None:
        raise NotFound("not_found", entity="radar_knowledge", id=knowledge_id)
    return entry


def update_qa(
    session: Session,
    actor: Actor,
    knowledge_id: int,
    *,
    question: str | None = None,
    answer: str | None = None,
    source: str | None = None,
) -> m.Knowledge:
    """Change an entry's question, answer or source label (managers and admins).

    ``None`` leaves a field as it is. A shared reply has no question; an archived entry
    cannot be edited (Conflict). An edit that changes nothing appends no event.
    """
    require_toolbox(actor, "update")
    entry = get_knowledge(session, actor, knowledge_id)
    if entry.archived:
        raise Conflict("knowledge_archived", id=knowledge_id)
    errors: list[FieldError] = []
    changes: dict[str, str] = {}
    if question is not None:
        if entry.kind != "qa":
            errors.append(FieldError("question", "invalid", {"message": "a shared reply has no question"}))
        else:
            changes["question"] = _clean(question, "question", QUESTION_MAX, errors)
    if answer is not None:
        changes["answer"] = _clean(answer, "answer", ANSWER_MAX, errors)
    if source is not None:
        changes["source"] = _clean(source, "source", KNOWLEDGE_SOURCE_MAX, errors)
    if errors:
        raise InvalidInput(errors)
    before = {name: getattr(entry, name) for name in changes if getattr(entry, name) != changes[name]}
    if not before:
        return entry
    for name in before:
        setattr(entry, name, changes[name])
    session.flush()
    append_event(
        session,
        type="radar.knowledge_changed",
        entity="radar_knowledge",
        entity_id=entry.id,
        actor=actor.label,
        payload={"before": before, "after": {name: changes[name] for name in before}},
    )
    return entry


def archive_knowledge(session: Session, actor: Actor, knowledge_id: int) -> m.Knowledge:
    """Take an entry out of the drafts (managers and admins); archiving twice is a no-op."""
    require_toolbox(actor, "delete")
    entry = get_knowledge(session, actor, knowledge_id)
    if entry.archived:
        return entry
    entry.archived = True
    session.flush()
    append_event(
        session,
        type="radar.knowledge_archived",
        entity="radar_knowledge",
        entity_id=entry.id,
        actor=actor.label,
        payload={"before": {"archived": False}, "after": {"archived": True}},
    )
    return entry


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_knowledge(
    session: Session,
    actor: Actor,
    *,
    kind: str | None = None,
    query: str | None = None,
    include_archived: bool = False,
    limit: int = LIST_MAX,
    offset: int = 0,
) -> list[m.Knowledge]:
    """Knowledge entries, newest change first; ``query`` keeps those whose question,
    answer or source contains it (case-insensitive), ``kind`` is ``qa`` or ``reply``."""
    require_toolbox(actor, "read")
    statement = select(m.Knowledge)
    if kind is not None:
        if kind not in m.KNOWLEDGE_KINDS:
            raise InvalidInput.single("kind", "invalid", message=f"one of {', '.join(m.KNOWLEDGE_KINDS)}")
        statement = statement.where(m.Knowledge.kind == kind)
    if not include_archived:
        statement = statement.where(m.Knowledge.archived.is_(False))
    text = (query or "").replace("\x00", "").strip()
    if text:
        pattern = _like(text.lower())
        statement = statement.where(
            or_(
                func.lower(func.coalesce(m.Knowledge.question, "")).like(pattern, escape="\\"),
                func.lower(m.Knowledge.answer).like(pattern, escape="\\"),
                func.lower(m.Knowledge.source).like(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(m.Knowledge.updated_at.desc(), m.Knowledge.id.desc())
    statement = statement.limit(max(1, min(limit, LIST_MAX))).offset(max(0, offset))
    return list(session.scalars(statement))


# --- replies --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedReply:
    """A recorded reply: the signal it answered and, when shared, its knowledge entry."""

    item_id: int
    text: str
    knowledge: m.Knowledge | None


def reply_source(item_id: int) -> str:
    """The citation label of a shared reply: "回复 · 信号 #12 / reply to signal #12"."""
    return f"回复 · 信号 #{item_id} / reply to signal #{item_id}"


def save_reply(session: Session, actor: Actor, item_id: int, text: str, share: bool = False) -> SavedReply:
    """Record the reply the actor sent (outside Pathcast) for a signal they can see.

    Appends ``radar.reply_saved`` on the signal with the text. With ``share`` the reply
    also becomes a ``reply`` knowledge entry that FAQ drafts may cite (any radar writer
    may share their own reply; editing it afterwards is product marketing's). Nothing
    is ever sent to anybody.
    """
    require(actor, "update")
    item, _signal = signals.get_signal(session, actor=actor, item_id=item_id)
    errors: list[FieldError] = []
    clean = _clean(text, "text", REPLY_MAX, errors)
    if errors:
        raise InvalidInput(errors)
    entry: m.Knowledge | None = None
    if share:
        entry = m.Knowledge(
            kind="reply",
            question=None,
            answer=clean,
            source=reply_source(item.id),
            item_id=item.id,
            archived=False,
            created_by=actor.user_id,
        )
        session.add(entry)
        session.flush()
        _added(session, actor, entry)
    append_event(
        session,
        type="radar.reply_saved",
        entity="radar_item",
        entity_id=item.id,
        actor=actor.label,
        payload={"text": clean, "shared": share, "knowledge_id": entry.id if entry is not None else None},
    )
    return SavedReply(item_id=item.id, text=clean, knowledge=entry)
