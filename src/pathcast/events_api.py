"""Reading the event log over the API (administrators: the whole log)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from sqlalchemy import select

from pathcast.crm.api import EventRead
from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import PermissionDenied
from pathcast.events import Event, verify_chain

router = APIRouter(tags=["events"])


@router.get("/events", summary="Events by entity, type and time range (admins)")
def list_events(
    session: DbSession,
    actor: CurrentActor,
    entity: str | None = None,
    entity_id: str | None = None,
    type: list[str] | None = Query(None, description="One or more event types."),
    since: datetime | None = Query(None, description="occurred_at >= since"),
    until: datetime | None = Query(None, description="occurred_at < until"),
    after_id: int = Query(0, ge=0, description="Resume after this event id."),
    limit: int = Query(200, ge=1, le=1000),
) -> list[EventRead]:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    query = select(Event).where(Event.id > after_id)
    if entity:
        query = query.where(Event.entity == entity)
    if entity_id:
        query = query.where(Event.entity_id == entity_id)
    if type:
        query = query.where(Event.type.in_(type))
    if since:
        query = query.where(Event.occurred_at >= since)
    if until:
        query = query.where(Event.occurred_at < until)
    return [EventRead.model_validate(e) for e in session.scalars(query.order_by(Event.id).limit(limit))]


@router.get("/audit/verify", summary="Walk the hash chain (admins)")
def audit_verify(session: DbSession, actor: CurrentActor) -> dict[str, object]:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    return verify_chain(session).as_dict()
