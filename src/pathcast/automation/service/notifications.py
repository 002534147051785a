"""In-app notifications a person reads. Read marks are the reader's own UI state, not a
business fact, so they append no event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation.models import Notification
from pathcast.db import utcnow
from pathcast.errors import NotFound


def deliver(
    session: Session,
    *,
    user_id: int,
    title: str,
    body: str | None = None,
    link: str | None = None,
    run_id: int | None = None,
    channels: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Notification:
    """Put an in-app notification in a person's list, in the caller's transaction, for other
    packages (the radar's routing). The caller records the business fact (the routed signal)
    as its event. Inside automation the engine and the notify action write the row beside
    their receipts."""
    notification = Notification(
        user_id=user_id,
        title=title[:300],
        body=body,
        link=link,
        run_id=run_id,
        channels=channels or {"in_app": True},
        created_at=at or utcnow(),
    )
    session.add(notification)
    session.flush()
    return notification


def of_user(session: Session, *, actor: Actor, unread: bool = False, limit: int = 50) -> list[Notification]:
    """The actor's notifications, newest first."""
    query = select(Notification).where(Notification.user_id == (actor.user_id or -1))
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def unread_count(session: Session, *, actor: Actor) -> int:
    """How many notifications the actor has not read."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == (actor.user_id or -1), Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, *, notification_id: int, actor: Actor) -> Notification:
    """Mark one of the actor's notifications read (another person's answers 404)."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.user_id:
        raise NotFound(entity="notification", id=notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return notification
