"""The portal's front page: the customer's account and how much of each kind of data we hold.

Only for a ``customer_contact``, and only their own account: the account is read through
crm's scoping (``get_readable``), so there is no id to change. Documents and tickets are
counted through crm's ``readable_query`` (what the customer may read); communications are
the account's calls, e-mails, meetings and messages (never notes or tasks, which are our
own working records); grants and requests are the portal's own tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import models as crm_models
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.errors import PermissionDenied
from pathcast.portal.models import DataRequest, Grant

COMMUNICATION_KINDS = ("call", "email", "meeting", "message")
OPEN_TICKET_STATUSES = ("open", "pending")
OPEN_REQUEST_STATUSES = ("open", "in_progress")


@dataclass(frozen=True)
class HomeSummary:
    """What the portal's front page shows."""

    account_id: int
    account_name: str
    communications: int
    documents: int
    open_tickets: int
    active_grants: int
    open_requests: int


def _count(session: Session, query: Select[Any]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def require_customer(actor: Actor) -> int:
    """The customer contact's account id; anyone else is refused (staff have the staff app)."""
    if actor.role is not Role.customer_contact or actor.account_id is None:
        raise PermissionDenied("portal_customers_only")
    return actor.account_id


def home_summary(session: Session, actor: Actor) -> HomeSummary:
    """The signed-in customer's account and its counts."""
    account_id = require_customer(actor)
    account = crm.get_readable(session, actor, crm.SPECS["account"], account_id)
    documents = crm.readable_query(actor, crm.SPECS["document"]).where(
        crm_models.Document.account_id == account_id
    )
    tickets = crm.readable_query(actor, crm.SPECS["ticket"]).where(
        crm_models.Ticket.account_id == account_id, crm_models.Ticket.status.in_(OPEN_TICKET_STATUSES)
    )
    # The customer's own communications with us: counted on their account only.
    communications = select(crm_models.Activity.id).where(
        crm_models.Activity.account_id == account_id, crm_models.Activity.kind.in_(COMMUNICATION_KINDS)
    )
    grants = select(Grant.id).where(
        Grant.account_id == account_id, Grant.revoked_at.is_(None), Grant.expires_at > utcnow()
    )
    requests = select(DataRequest.id).where(
        DataRequest.account_id == account_id, DataRequest.status.in_(OPEN_REQUEST_STATUSES)
    )
    return HomeSummary(
        account_id=account_id,
        account_name=str(account.name),
        communications=_count(session, communications),
        documents=_count(session, documents),
        open_tickets=_count(session, tickets),
        active_grants=_count(session, grants),
        open_requests=_count(session, requests),
    )
