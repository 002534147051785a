"""Account exports: everything a customer may take away about one account, streamed.

Who may export (declared here, checked before any data is read):

* admins (and the system actor of the CLI): any account;
* a ``customer_contact``: their own account only. crm's scoping already limits them to
  it, so another account's id is a 404 exactly like a missing one;
* anyone else (managers, reps, delivery members): 403 for an account they can see,
  404 for one they cannot. Portability is the customer's right; a seller who may read
  an account does not get a bulk copy of it.

What: the account and its records, each dataset read through crm's
``readable_query(actor, spec)`` limited to the account, in keyset pages of
``BATCH`` rows that are dropped from the session once written (memory does not grow
with the account). A dataset the actor's role may not read at all (crm's RIGHTS: a
customer contact does not read activities, contracts, subscriptions or quotes) is
left out and listed in the summary as ``skipped``. Each record is reduced to its
``customer_visible`` fields by ``portal.export_format``.

The export appends ``account.exported`` (export id, format, counts) in the caller's
transaction; the caller's unit of work commits it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm import schemas as crm_schemas
from pathcast.crm import service as crm
from pathcast.crm.auth import readable_clause
from pathcast.db import utcnow
from pathcast.errors import PermissionDenied
from pathcast.events import append_event
from pathcast.portal.export_format import (
    FORMATS,
    SCHEMA_VERSION,
    Dataset,
    Format,
    Progress,
    project,
    write_export,
)

BATCH = 500
EXPORT_ROLES = frozenset({Role.admin, Role.customer_contact})


@dataclass(frozen=True)
class Source:
    """One exported dataset: the crm entity (or a select builder) and how it hangs off
    the account."""

    name: str
    schema: type[BaseModel]
    model: type[Any]
    right: str  # the crm model right needed to read it
    query: Callable[[Actor], Select[Any]]
    on_account: Callable[[int], ColumnElement[bool]]


def _crm(entity: str) -> Callable[[Actor], Select[Any]]:
    return lambda actor: crm.readable_query(actor, crm.SPECS[entity])


def _versions(actor: Actor) -> Select[Any]:
    if not may(actor, "document", "read"):
        raise PermissionDenied("forbidden_model", entity="document")
    return select(m.DocumentVersion).where(readable_clause(actor, m.DocumentVersion))


def _of_contracts(account_id: int) -> ColumnElement[bool]:
    return m.Subscription.contract_id.in_(select(m.Contract.id).where(m.Contract.account_id == account_id))


def _of_deals(account_id: int) -> ColumnElement[bool]:
    return m.Quote.opportunity_id.in_(select(m.Opportunity.id).where(m.Opportunity.account_id == account_id))


def _of_quotes(account_id: int) -> ColumnElement[bool]:
    return m.QuoteLine.quote_id.in_(select(m.Quote.id).where(_of_deals(account_id)))


def _of_documents(account_id: int) -> ColumnElement[bool]:
    return m.DocumentVersion.document_id.in_(select(m.Document.id).where(m.Document.account_id == account_id))


SOURCES: tuple[Source, ...] = (
    Source("contacts", crm_schemas.ContactRead, m.Contact, "contact", _crm("contact"),
           lambda a: m.Contact.account_id == a),
    Source("activities", crm_schemas.ActivityRead, m.Activity, "activity", _crm("activity"),
           lambda a: m.Activity.account_id == a),
    Source("tickets", crm_schemas.TicketRead, m.Ticket, "ticket", _crm("ticket"),
           lambda a: m.Ticket.account_id == a),
    Source("documents", crm_schemas.DocumentRead, m.Document, "document", _crm("document"),
           lambda a: m.Document.account_id == a),
    Source("document_versions", crm_schemas.DocumentVersionRead, m.DocumentVersion, "document", _versions,
           _of_documents),
    Source("contracts", crm_schemas.ContractRead, m.Contract, "contract", _crm("contract"),
           lambda a: m.Contract.account_id == a),
    Source("subscriptions", crm_schemas.SubscriptionRead, m.Subscription, "subscription", _crm("subscription"),
           _of_contracts),
    Source("quotes", crm_schemas.QuoteRead, m.Quote, "quote", _crm("quote"), _of_deals),
    Source("quote_lines", crm_schemas.QuoteLineRead, m.QuoteLine, "quote_line", _crm("quote_line"), _of_quotes),
)  # fmt: skip


@dataclass
class ExportSummary:
    """What an export held: its id, format, rows per dataset and datasets left out."""

    export_id: str
    format: Format
    account_id: int
    created_at: datetime
    counts: dict[str, int]
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "export_id": self.export_id,
            "format": self.format,
            "account_id": self.account_id,
            "created_at": self.created_at.isoformat(),
            "counts": self.counts,
            "skipped": self.skipped,
        }


def new_export_id() -> str:
    """A random, URL-safe export id (96 bits)."""
    return secrets.token_urlsafe(12)


def exportable_account(session: Session, actor: Actor, account_id: int) -> m.Account:
    """The account if the actor may export it: 404 if they cannot see it, 403 if they
    see it but their role may not export."""
    account: m.Account = crm.get_readable(session, actor, crm.SPECS["account"], account_id)
    if actor.role not in EXPORT_ROLES:
        raise PermissionDenied("forbidden_export", entity="account", id=account_id)
    if actor.role is Role.customer_contact and actor.account_id != account.id:
        raise PermissionDenied("forbidden_export", entity="account", id=account_id)
    return account


def _pages(session: Session, query: Select[Any], model: type[Any]) -> Iterator[Any]:
    """Every row of ``query`` in id order, ``BATCH`` at a time, each page dropped from
    the session before the next is read."""
    last_id = 0
    while True:
        page = list(session.scalars(query.where(model.id > last_id).order_by(model.id).limit(BATCH)))
        if not page:
            return
        yield from page
        last_id = page[-1].id
        for record in page:
            session.expunge(record)
        if len(page) < BATCH:
            return


def export_datasets(session: Session, actor: Actor, account_id: int) -> tuple[list[Dataset], list[str]]:
    """The datasets the actor may read for the account (lazy), and the names left out."""
    datasets: list[Dataset] = []
    skipped: list[str] = []
    for source in SOURCES:
        if not may(actor, source.right, "read"):
            skipped.append(source.name)
            continue
        query = source.query(actor).where(source.on_account(account_id))
        datasets.append(Dataset(source.name, source.schema, _pages(session, query, source.model)))
    return datasets, skipped


def export_account(
    session: Session,
    actor: Actor,
    account_id: int,
    *,
    fmt: Format,
    out: IO[bytes],
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the account's export to ``out`` and append ``account.exported``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    account = exportable_account(session, actor, account_id)
    export_id = new_export_id()
    created_at = utcnow()
    account_data = project(crm_schemas.AccountRead, account)
    datasets, skipped = export_datasets(session, actor, account_id)
    result = write_export(
        out,
        fmt=fmt,
        export_id=export_id,
        created_at=created_at,
        account=account_data,
        datasets=[Dataset("accounts", crm_schemas.AccountRead, [account]), *datasets],
        schema_version=SCHEMA_VERSION,
        progress=progress,
    )
    append_event(
        session,
        type="account.exported",
        entity="account",
        entity_id=account_id,
        actor=actor.label,
        payload={"export_id": export_id, "format": fmt, "counts": result.counts, "skipped": skipped},
    )
    return ExportSummary(
        export_id=export_id,
        format=fmt,
        account_id=account_id,
        created_at=created_at,
        counts=result.counts,
        skipped=skipped,
    )
