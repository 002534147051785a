"""The message archive: every message ``signals`` receives is filed into the right hive.

A reaction on ``signals.message_received`` (same transaction as the receipt) calls
``file_message``, which gathers the evidence for each open hive (forming, active, at risk)
— the thread, the account, the participants who are members, the hive's words, what
corrections taught — lets ``hives.filing`` weigh it, and files the message into the best
hive when the score reaches the threshold, with the reasons stored on the row
(``hive.message_filed``). Nothing clears the threshold: nothing is filed, and the result
says so.

``move_message`` is the correction: a person who may work in both hives moves a misfiled
message (``hive.message_moved``) and its salient words are kept as a ``FilingCorrection``,
which the next filings weigh towards the hive it was moved to and away from the other.

Reading the message and gathering the evidence live in ``archive_intake``; the weighing in
``hives.filing``; reading and searching the archive in ``archive_search``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import EventDraft, append_event, react_to
from pathcast.hives import filing
from pathcast.hives import models as m
from pathcast.hives.schemas import FilingCandidateRead, FilingReasonRead, FilingResultRead
from pathcast.hives.service.access import get_hive, require
from pathcast.hives.service.archive_intake import (
    OPEN_STATUSES,
    Received,
    candidates_for,
    lessons,
    received_from,
)

__all__ = ["OPEN_STATUSES", "Received", "backfill", "file_message", "file_received", "move_message"]

SHOWN_CANDIDATES = 5


# --- filing ---------------------------------------------------------------------------------


def _result(outcome: str, ranked: list[filing.Scored], **values: Any) -> FilingResultRead:
    return FilingResultRead(
        outcome=outcome,
        threshold=filing.THRESHOLD,
        candidates=[
            FilingCandidateRead(hive_id=item.hive_id, score=item.score) for item in ranked[:SHOWN_CANDIDATES]
        ],
        **values,
    )


def file_received(
    session: Session, received: Received, *, actor_label: str = "system", now: datetime | None = None
) -> FilingResultRead:
    """File one message into the best open hive (``hive.message_filed``), or say why not."""
    if received.activity_id is not None:
        existing = session.scalars(
            select(m.Message).where(m.Message.activity_id == received.activity_id)
        ).first()
        if existing is not None:
            return _result(
                "already_filed",
                [],
                filed=True,
                message_id=existing.id,
                hive_id=existing.hive_id,
                score=existing.score,
                reasons=[FilingReasonRead.model_validate(r) for r in existing.reasons],
            )
    text = f"{received.subject}\n{received.body}"
    incoming = filing.Incoming(
        words=frozenset(filing.words(text)),
        account_id=received.account_id,
        thread=received.thread,
        addresses=received.addresses,
    )
    taught = lessons(session)
    ranked = filing.rank(incoming, candidates_for(session, incoming, taught), taught)
    chosen = filing.best(ranked)
    if chosen is None:
        return _result("below_threshold" if ranked else "no_candidate", ranked, filed=False)
    at = now or utcnow()
    message = m.Message(
        hive_id=chosen.hive_id,
        activity_id=received.activity_id,
        channel=received.channel[:20],
        thread=received.thread[:300] if received.thread else None,
        subject=received.subject[:500],
        sender=received.sender[:300],
        participants=sorted(received.addresses),
        body=received.body,
        attachments=received.attachments,
        sent_at=received.sent_at,
        search_text=filing.search_text(
            received.subject, received.body, *(a["name"] for a in received.attachments)
        ),
        reasons=chosen.reasons,
        score=chosen.score,
        filed_by="auto",
        filed_at=at,
    )
    session.add(message)
    session.flush()
    append_event(
        session,
        type="hive.message_filed",
        entity="hive",
        entity_id=chosen.hive_id,
        actor=actor_label,
        payload={
            "message_id": message.id,
            "activity_id": received.activity_id,
            "channel": message.channel,
            "score": chosen.score,
            "reasons": [reason["kind"] for reason in chosen.reasons],
            "after": {"hive_id": chosen.hive_id},
        },
        occurred_at=at,
    )
    return _result(
        "filed",
        ranked,
        filed=True,
        message_id=message.id,
        hive_id=chosen.hive_id,
        score=chosen.score,
        reasons=[FilingReasonRead.model_validate(r) for r in chosen.reasons],
    )


def file_message(
    session: Session,
    *,
    message_id: int | None = None,
    activity_id: int | None = None,
    actor_label: str = "system",
    now: datetime | None = None,
) -> FilingResultRead:
    """File a received message (signals' message id, or the crm activity it was filed as)."""
    received = received_from(session, message_id=message_id, activity_id=activity_id)
    if received is None:
        raise NotFound(
            "not_found", entity="message", id=message_id if message_id is not None else activity_id
        )
    return file_received(session, received, actor_label=actor_label, now=now)


def backfill(session: Session, actor: Actor, *, activity_id: int) -> FilingResultRead:
    """Admins: file an existing crm message activity (messages received before hives)."""
    if not actor.is_admin:
        raise PermissionDenied("forbidden_operation", entity="hive_message", operation="create")
    received = received_from(session, activity_id=activity_id)
    if received is None:
        raise InvalidInput.single(
            "activity_id", "unknown_reference", message=f"no message activity {activity_id}"
        )
    return file_received(session, received, actor_label=actor.label)


@react_to("signals.message_received")
def _on_message_received(session: Session, draft: EventDraft) -> None:
    """Every message signals receives is filed at once, in the receipt's transaction."""
    received = received_from(session, message_id=int(draft.entity_id))
    if received is None:
        return
    file_received(session, received, actor_label=draft.actor, now=draft.occurred_at)


# --- correcting -------------------------------------------------------------------------------


def move_message(
    session: Session, actor: Actor, *, message_id: int, to_hive_id: int, now: datetime | None = None
) -> m.Message:
    """Move a misfiled message to the hive it belongs in (``hive.message_moved``).

    The mover must read both hives (a member: belong to both) and hold the ``hive``
    update right. The message's salient words are kept as a correction the filer learns from.
    """
    require(actor, "update")
    message = session.get(m.Message, message_id)
    if message is None:
        raise NotFound("not_found", entity="hive_message", id=message_id)
    source = get_hive(session, actor, message.hive_id)
    try:
        target = get_hive(session, actor, to_hive_id)
    except NotFound:
        raise InvalidInput.single(
            "to_hive_id", "unknown_reference", message=f"no hive {to_hive_id}"
        ) from None
    if target.id == source.id:
        raise InvalidInput.single("to_hive_id", "invalid", message="the message is already in this hive")
    at = now or utcnow()
    mover = session.get(User, actor.user_id) if actor.user_id is not None else None
    who = mover.name if mover is not None else actor.label
    # the hives' own names already count as keywords: teaching them would only push every
    # message that names the source hive away from it
    named = filing.cached_words(source.name) | filing.cached_words(target.name)
    salient = filing.salient_words(f"{message.subject}\n{message.body}", limit=filing.SALIENT_MAX * 2)
    keywords = [word for word in salient if word not in named][: filing.SALIENT_MAX]
    session.add(
        m.FilingCorrection(
            message_id=message.id,
            from_hive_id=source.id,
            to_hive_id=target.id,
            keywords=keywords,
            moved_by=actor.user_id,
            moved_at=at,
        )
    )
    message.hive_id = target.id
    message.filed_by = "person"
    message.filed_at = at
    message.reasons = [
        {
            "kind": "person",
            "weight": 0.0,
            "en": f"Moved here by {who} from “{source.name}”",
            "zh": f"由 {who} 从「{source.name}」移到这里",
        }
    ]
    session.flush()
    append_event(
        session,
        type="hive.message_moved",
        entity="hive",
        entity_id=target.id,
        actor=actor.label,
        payload={
            "message_id": message.id,
            "keywords": keywords,
            "before": {"hive_id": source.id},
            "after": {"hive_id": target.id},
        },
        occurred_at=at,
    )
    return message
