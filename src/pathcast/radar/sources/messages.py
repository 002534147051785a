"""The messages signals has already received (WeCom, DingTalk, e-mail, webhooks, CSV).

Read-only: signals owns and writes ``signal_messages``; the radar reads what arrived
after its cursor (the last message id it saw), in id order, so nothing is read twice
and nothing is skipped when messages arrive while a poll runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.radar.sources import ItemDraft, clean_text
from pathcast.signals import models as signals_models

__all__ = ["BATCH_SIZE", "read_messages"]

BATCH_SIZE = 500


def read_messages(
    session: Session, *, after_id: int, channels: Sequence[str] = (), limit: int = BATCH_SIZE
) -> tuple[list[ItemDraft], int]:
    """Inbound messages with id above ``after_id`` (optionally only some channels).

    Returns the drafts and the highest id read (``after_id`` when there was none), which
    becomes the source's cursor.
    """
    message = signals_models.InboundMessage
    query = (
        select(message)
        .where(message.id > after_id, message.direction == "inbound")
        .order_by(message.id)
        .limit(limit)
    )
    if channels:
        query = query.where(message.channel.in_(list(channels)))
    drafts: list[ItemDraft] = []
    last_id = after_id
    for row in session.scalars(query):
        last_id = max(last_id, row.id)
        if not (row.subject or row.body):
            continue
        drafts.append(
            ItemDraft(
                external_id=f"message:{row.id}",
                title=clean_text(row.subject),
                text=(row.body or "").strip() or None,
                author=clean_text(row.sender_name or row.sender),
                published_at=row.sent_at,
                extra={
                    "message_id": row.id,
                    "channel": row.channel,
                    "contact_id": row.contact_id,
                    "account_id": row.account_id,
                    "opportunity_id": row.opportunity_id,
                },
            )
        )
    return drafts, last_id
