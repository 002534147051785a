"""Inbound messages: stored once, matched to contact, account and deal, filed as activities.

Every connector (webhook, WeCom, DingTalk, e-mail, CSV) hands a ``MessageDraft`` to
``ingest_message``. The idempotency key makes a redelivery a no-op; the match goes
from the most specific evidence (an explicit contact, the sender's address or id) to
the least (the account's latest open deal).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.crm.service import create_record, readable_query, spec_for
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.errors import Conflict, PermissionDenied
from pathcast.events import append_event, events_savepoint
from pathcast.signals import models as m
from pathcast.signals.connectors.base import ConnectorError, MessageDraft
from pathcast.signals.schemas import ImportSummary, IngestResult
from pathcast.signals.service import consent

CHAT_CHANNELS = ("wecom", "dingtalk")
NONCE_RETENTION = timedelta(days=1)


def _match_contact(session: Session, draft: MessageDraft) -> Any:
    hint = (draft.contact_hint or "").strip()
    if hint:
        if hint.isdigit():
            contact = crm_lookups.get_contact(session, int(hint))
            if contact is not None:
                return contact
        if "@" in hint:
            contact = crm_lookups.contacts_by_email(session, [hint]).get(hint.lower())
            if contact is not None:
                return contact
        account = crm_lookups.account_by_name(session, draft.account_hint) if draft.account_hint else None
        contact = crm_lookups.contact_by_name(session, hint, account.id if account else None)
        if contact is not None:
            return contact
    sender = (draft.sender or "").strip()
    if not sender:
        return None
    if draft.direction == "outbound":
        # Our own mail: the customer is among the recipients.
        matches = crm_lookups.contacts_by_email(session, draft.recipients)
        return next(iter(matches.values()), None)
    if "@" in sender:
        return crm_lookups.contacts_by_email(session, [sender]).get(sender.lower())
    contact = crm_lookups.contact_by_external_id(session, draft.channel, sender)
    if contact is None and any(ch.isdigit() for ch in sender):
        contact = crm_lookups.contact_by_phone(session, sender)
    return contact


def ingest_message(
    session: Session,
    *,
    draft: MessageDraft,
    actor: Actor,
    connector_id: int | None = None,
    received_at: datetime | None = None,
) -> IngestResult:
    """Store the message once and file it as an activity on its contact, account and deal.

    ``received_at`` defaults to now; the demo passes its own clock so its history stays in
    the past and loads the same every time."""
    existing = session.scalars(
        select(m.InboundMessage).where(
            m.InboundMessage.channel == draft.channel,
            m.InboundMessage.idempotency_key == draft.idempotency_key,
        )
    ).first()
    if existing is not None:
        return IngestResult(
            message_id=existing.id,
            duplicate=True,
            activity_id=existing.activity_id,
            contact_id=existing.contact_id,
            account_id=existing.account_id,
            opportunity_id=existing.opportunity_id,
        )
    contact = _match_contact(session, draft)
    account_id = contact.account_id if contact is not None else None
    if account_id is None and draft.account_hint:
        account = crm_lookups.account_by_name(session, draft.account_hint)
        account_id = account.id if account is not None else None
    opportunity = None
    if draft.opportunity_hint:
        opportunity = crm_lookups.opportunity_by_reference(session, draft.opportunity_hint, account_id)
    if opportunity is None and account_id is not None:
        opportunity = crm_lookups.latest_open_opportunity(session, account_id)
    if opportunity is not None and account_id is None:
        account_id = opportunity.account_id
    message = m.InboundMessage(
        channel=draft.channel,
        connector_id=connector_id,
        idempotency_key=draft.idempotency_key,
        direction=draft.direction,
        sender=draft.sender,
        sender_name=draft.sender_name,
        recipients=list(draft.recipients),
        subject=draft.subject,
        body=draft.body,
        thread_key=draft.thread_key,
        is_reply=draft.is_reply,
        sent_at=draft.sent_at,
        received_at=received_at or utcnow(),
        contact_id=contact.id if contact is not None else None,
        account_id=account_id,
        opportunity_id=opportunity.id if opportunity is not None else None,
        extra=dict(draft.extra),
    )
    session.add(message)
    session.flush()
    if account_id is not None or contact is not None:
        message.activity_id = _file_activity(session, draft, message, contact, actor)
    append_event(
        session,
        type="signals.message_received",
        entity="signal_message",
        entity_id=message.id,
        actor=actor.label,
        occurred_at=draft.sent_at,
        payload={
            "channel": draft.channel,
            "direction": draft.direction,
            "contact_id": message.contact_id,
            "account_id": message.account_id,
            "opportunity_id": message.opportunity_id,
            "activity_id": message.activity_id,
        },
    )
    if contact is not None and draft.channel == "email" and draft.direction == "inbound" and draft.is_reply:
        consent.record_deep_interaction(
            session,
            contact_id=contact.id,
            kind=m.DeepInteractionKind.email_reply,
            source=f"message:{message.id}",
            occurred_at=draft.sent_at,
            actor_label=actor.label,
        )
    session.flush()
    return IngestResult(
        message_id=message.id,
        duplicate=False,
        activity_id=message.activity_id,
        contact_id=message.contact_id,
        account_id=message.account_id,
        opportunity_id=message.opportunity_id,
    )


def _activity_kind(draft: MessageDraft) -> str:
    if draft.kind_hint in ("call", "email", "meeting", "note", "message", "task"):
        return draft.kind_hint
    if draft.channel == "email":
        return "email"
    return "message"


def _file_activity(
    session: Session, draft: MessageDraft, message: m.InboundMessage, contact: Any, actor: Actor
) -> int:
    owner_id = None
    if contact is not None:
        owner_id = contact.owner_id
    if owner_id is None and message.account_id is not None:
        account = crm_lookups.get_account(session, message.account_id)
        owner_id = account.owner_id if account is not None else None
    body = (draft.body or "").strip()
    subject = draft.subject or (body.splitlines()[0][:120] if body else "") or draft.channel
    activity = create_record(
        session,
        actor=actor,
        spec=spec_for("activity"),
        data={
            "kind": _activity_kind(draft),
            "subject": (subject or draft.channel)[:300],
            "body": draft.body,
            "account_id": message.account_id,
            "contact_id": message.contact_id,
            "opportunity_id": message.opportunity_id,
            "owner_id": owner_id,
            "occurred_at": draft.sent_at,
            "done_at": draft.sent_at,
            "duration_minutes": draft.duration_minutes,
            "channel": draft.channel,
        },
        occurred_at=draft.sent_at,
    )
    return int(activity.id)


def claim_nonce(session: Session, *, connector_id: int, nonce: str, now: datetime | None = None) -> None:
    """Remember a signed delivery's nonce; a second delivery with it is a replay (409)."""
    now = now or utcnow()
    session.execute(delete(m.WebhookNonce).where(m.WebhookNonce.seen_at < now - NONCE_RETENTION))
    seen = session.scalar(
        select(m.WebhookNonce.id).where(
            m.WebhookNonce.connector_id == connector_id, m.WebhookNonce.nonce == nonce
        )
    )
    if seen is not None:
        raise Conflict("replayed_delivery")
    session.add(m.WebhookNonce(connector_id=connector_id, nonce=nonce, seen_at=now))
    session.flush()


def ingest_drafts(
    session: Session,
    *,
    items: Iterable[tuple[int | str, MessageDraft | ConnectorError]],
    actor: Actor,
    connector_id: int | None = None,
    row_label: str = "row",
) -> ImportSummary:
    """Ingest a file's messages one by one: a bad one is reported by number, the rest kept."""
    summary = ImportSummary()
    for number, item in items:
        if isinstance(item, ConnectorError):
            summary.errors.append({row_label: number, "code": item.code, "message": str(item)})
            continue
        try:
            with events_savepoint(session):
                result = ingest_message(session, draft=item, actor=actor, connector_id=connector_id)
        except Exception as error:  # one bad message must not lose the others
            summary.errors.append({row_label: number, "code": type(error).__name__, "message": str(error)})
            continue
        if result.duplicate:
            summary.duplicates += 1
        else:
            summary.stored += 1
    return summary


def list_messages(
    session: Session,
    *,
    actor: Actor,
    contact_id: int | None = None,
    account_id: int | None = None,
    limit: int = 100,
) -> list[m.InboundMessage]:
    """Messages filed on records the actor may read (unfiled ones: admins only)."""
    if not may(actor, "activity", "read"):
        raise PermissionDenied("forbidden_model", entity="activity")
    query = (
        select(m.InboundMessage)
        .order_by(m.InboundMessage.sent_at.desc(), m.InboundMessage.id.desc())
        .limit(limit)
    )
    if contact_id is not None:
        query = query.where(m.InboundMessage.contact_id == contact_id)
    if account_id is not None:
        query = query.where(m.InboundMessage.account_id == account_id)
    if not actor.is_admin:
        account_spec = spec_for("account")
        readable_accounts = readable_query(actor, account_spec).with_only_columns(account_spec.model.id)
        query = query.where(m.InboundMessage.account_id.in_(readable_accounts))
    return list(session.scalars(query))


def stored_message(
    session: Session, *, message_id: int | None = None, activity_id: int | None = None
) -> m.InboundMessage | None:
    """One stored message, by its id or by the crm activity it was filed as (system reads:
    other packages that file or route received messages; no scoping here)."""
    if message_id is not None:
        return session.get(m.InboundMessage, message_id)
    if activity_id is None:
        return None
    return session.scalars(
        select(m.InboundMessage).where(m.InboundMessage.activity_id == activity_id)
    ).first()
