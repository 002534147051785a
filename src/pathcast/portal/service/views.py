"""What a customer contact sees of their own account in the portal (read only).

Four views, each answering for the signed-in customer contact's account and nobody
else's: communications, documents with their versions, service levels (tickets against
the SLA policy, per month) and a customer view of behaviour analytics.

Who: ``require_customer`` refuses every role but ``customer_contact`` (403: staff have
the staff app). A customer contact with no account sees nothing.

What: records are reduced to the ``customer_visible`` fields of their crm Read schema
(``pathcast.schemas.fields_of_class``): no hand-written lists, so a field marked
``internal`` (an activity's body, a document's audience, a ticket's owner) never
reaches a customer. Activities are read with the portal's own scoping (the account's
communications: calls, emails, meetings, messages; never notes or tasks) because crm's
rights do not open activities to customer contacts, and opening them there would hand
the staff API's full ``ActivityRead`` (with its internal body) to customers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm import schemas as crm_schemas
from pathcast.crm import service as crm
from pathcast.crm.service import documents as crm_documents
from pathcast.crm.service.lookups import names_of_contacts
from pathcast.db import utcnow
from pathcast.errors import NotFound, PermissionDenied
from pathcast.portal.service.documents import export_document, needs_watermark
from pathcast.schemas import ExportClass, fields_of_class
from pathcast.signals.service.features import account_heatmap

# The activity kinds that are communications with the customer. Notes and tasks are the
# company's own working papers and stay internal.
COMMUNICATION_KINDS = (
    m.ActivityKind.call.value,
    m.ActivityKind.email.value,
    m.ActivityKind.meeting.value,
    m.ActivityKind.message.value,
)
COMMUNICATIONS_LIMIT = 500

# The SLA policy: hours from opening to resolution, per ticket severity.
SLA_RESOLUTION_HOURS: dict[str, int] = {
    m.Severity.critical.value: 8,
    m.Severity.high.value: 24,
    m.Severity.normal.value: 72,
    m.Severity.low.value: 168,
}
SLA_MONTHS = 12
ANALYTICS_DAYS = 84  # twelve weeks


def require_customer(actor: Actor) -> int:
    """The actor's own account id; 403 for every role but a customer contact."""
    if actor.role is not Role.customer_contact or actor.account_id is None:
        raise PermissionDenied("forbidden_model", entity="portal")
    return actor.account_id


def visible(schema: type[BaseModel], record: Any) -> dict[str, Any]:
    """The record's ``customer_visible`` fields, JSON-ready (enums as values)."""
    out: dict[str, Any] = {}
    for name in fields_of_class(schema, ExportClass.customer_visible):
        value = getattr(record, name, None)
        out[name] = value.value if isinstance(value, Enum) else value
    return out


def _user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(ids)))
    return {int(row.id): str(row.name) for row in rows}


# --- communications ------------------------------------------------------------------------


def communications(
    session: Session, actor: Actor, *, limit: int = COMMUNICATIONS_LIMIT
) -> list[dict[str, Any]]:
    """The account's communications, newest first, with who took part on both sides."""
    account_id = require_customer(actor)
    when = m.Activity.occurred_at
    rows = list(
        session.scalars(
            select(m.Activity)
            .where(m.Activity.account_id == account_id, m.Activity.kind.in_(COMMUNICATION_KINDS))
            .order_by(when.desc().nulls_last(), m.Activity.id.desc())
            .limit(limit)
        )
    )
    users = _user_names(session, {row.owner_id for row in rows if row.owner_id is not None})
    contacts = names_of_contacts(session, {row.contact_id for row in rows if row.contact_id is not None})
    items = []
    for row in rows:
        item = visible(crm_schemas.ActivityRead, row)
        item["when"] = row.occurred_at or row.created_at
        item["our_side"] = users.get(row.owner_id) if row.owner_id is not None else None
        contact = contacts.get(row.contact_id) if row.contact_id is not None else None
        # Only the account's own contacts are named; a contact since moved elsewhere is not.
        item["their_side"] = contact[0] if contact and contact[1] == account_id else None
        items.append(item)
    return items


# --- documents -----------------------------------------------------------------------------


def _account_document(session: Session, actor: Actor, document_id: int) -> m.Document:
    """A document of the actor's own account, through crm's scoping; else 404."""
    account_id = require_customer(actor)
    document: m.Document = crm.get_readable(session, actor, crm.SPECS["document"], document_id)
    if document.account_id != account_id:
        raise NotFound(entity="document", id=document_id)
    return document


def documents(session: Session, actor: Actor) -> list[dict[str, Any]]:
    """The account's proposals and documents, each with its versions (oldest first)."""
    account_id = require_customer(actor)
    query = crm.readable_query(actor, crm.SPECS["document"]).where(m.Document.account_id == account_id)
    items = []
    for document in session.scalars(query.order_by(m.Document.name, m.Document.id)):
        item = visible(crm_schemas.DocumentRead, document)
        item["versions"] = [
            visible(crm_schemas.DocumentVersionRead, version)
            for version in crm_documents.document_versions(session, document.id)
        ]
        items.append(item)
    return items


@dataclass(frozen=True)
class Download:
    """One version's file as the customer receives it."""

    content: bytes
    filename: str
    content_type: str
    export_id: str | None


def download(session: Session, actor: Actor, *, document_id: int, version: int) -> Download:
    """A version of one of the account's documents: a PDF as its watermarked copy (the
    export is recorded), any other file as stored. Another account's ids are a 404."""
    document = _account_document(session, actor, document_id)
    found = next(
        (v for v in crm_documents.document_versions(session, document.id) if v.version == version), None
    )
    if found is None:
        raise NotFound(entity="document", id=f"{document_id} v{version}")
    if needs_watermark(document, found):
        content, filename, export = export_document(session, actor, document_id=document.id, version=version)
        return Download(content, filename, "application/pdf", export.export_id)
    return Download(crm_documents.read_content(found), found.filename, found.content_type, None)


# --- service levels ------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _month_starts(today: date, months: int) -> list[date]:
    starts = []
    year, month = today.year, today.month
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(starts))


def service_levels(
    session: Session, actor: Actor, *, months: int = SLA_MONTHS, today: date | None = None
) -> dict[str, Any]:
    """Per month (by opening date): tickets opened, resolved, resolved within the SLA
    target of their severity, and attainment (within target / opened, in %)."""
    account_id = require_customer(actor)
    starts = _month_starts(today or utcnow().date(), months)
    since = datetime.combine(starts[0], datetime.min.time(), UTC)
    query = crm.readable_query(actor, crm.SPECS["ticket"]).where(
        m.Ticket.account_id == account_id, m.Ticket.opened_at >= since
    )
    buckets: dict[str, dict[str, int]] = defaultdict(lambda: {"opened": 0, "resolved": 0, "within_target": 0})
    for ticket in session.scalars(query):
        opened = _aware(ticket.opened_at)
        bucket = buckets[f"{opened.year:04d}-{opened.month:02d}"]
        bucket["opened"] += 1
        if ticket.resolved_at is None:
            continue
        bucket["resolved"] += 1
        target = timedelta(hours=SLA_RESOLUTION_HOURS.get(ticket.severity, SLA_RESOLUTION_HOURS["normal"]))
        if _aware(ticket.resolved_at) - opened <= target:
            bucket["within_target"] += 1
    rows = []
    for start in starts:
        key = f"{start.year:04d}-{start.month:02d}"
        counts = buckets.get(key, {"opened": 0, "resolved": 0, "within_target": 0})
        attainment = round(100 * counts["within_target"] / counts["opened"], 1) if counts["opened"] else None
        rows.append({"month": key, **counts, "attainment_pct": attainment})
    return {"policy_hours": dict(SLA_RESOLUTION_HOURS), "months": rows}


# --- analytics -----------------------------------------------------------------------------


def analytics(session: Session, actor: Actor, *, days: int = ANALYTICS_DAYS) -> dict[str, Any]:
    """The account's own visits, aggregated: views and visible time per asset and per
    week (weeks start on Monday). Names and sums only: no scores, weights or mappings."""
    account_id = require_customer(actor)
    cells = account_heatmap(session, account_id=account_id, days=days)
    assets: dict[str, dict[str, float]] = defaultdict(lambda: {"views": 0, "seconds": 0.0})
    weeks: dict[str, dict[str, float]] = defaultdict(lambda: {"views": 0, "seconds": 0.0})
    for cell in cells:
        week = (cell.day - timedelta(days=cell.day.weekday())).isoformat()
        for bucket in (assets[cell.asset_name], weeks[week]):
            bucket["views"] += cell.views
            bucket["seconds"] += cell.dwell_seconds
    return {
        "days": days,
        "assets": [
            {"asset": name, "views": int(v["views"]), "seconds": round(v["seconds"], 1)}
            for name, v in sorted(assets.items(), key=lambda pair: (-pair[1]["seconds"], pair[0]))
        ],
        "weeks": [
            {"week": week, "views": int(v["views"]), "seconds": round(v["seconds"], 1)}
            for week, v in sorted(weeks.items())
        ],
    }
