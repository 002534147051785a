"""The customer's verifiable audit file: their events on the global hash chain.

Who (checked before anything is read): a customer contact for their own account, an
admin (or the system actor) for any; everyone else 403 on an account they can see, and
an account the caller cannot see is a 404 like a missing one.

Which events are the customer's: those on the account itself and on its contacts,
activities, tickets, documents, contracts, subscriptions, quotes and quote lines (ids
listed through crm's service). Never opportunities, never another account's records.
Records deleted since are no longer listed by crm, so their events are not included.

Full or retained is decided by the field classes of the entity's crm Read schema
(``pathcast.schemas``): a payload of ``before``/``after`` maps whose every field is
``customer_visible`` (plus the ``deleted`` flag) goes out in full; any ``internal``
field, any ``system_retained`` field, or any payload shape the classes do not describe
makes the event *retained*: listed with seq, type, entity, id and reason, payload never.

The export appends ``portal.audit_exported`` first, in the caller's transaction; from
then on this transaction holds the chain-head lock, so that event is the chain head the
skeleton ends at, and its payload binds the file (see ``portal.audit``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.errors import PermissionDenied
from pathcast.events import Event, append_event, flush_events, format_timestamp
from pathcast.portal.audit import EXPORT_EVENT, FORMAT, VERSION, dump, listing_digest
from pathcast.portal.audit import compress as gzip_file
from pathcast.schemas import ExportClass, export_classes

BATCH = 500
SKELETON_BATCH = 5000
AUDIT_ROLES = frozenset({Role.admin, Role.customer_contact})
# Reason codes of retained events, most restrictive first.
INTERNAL = "internal_fields"
RETAINED = "system_retained_fields"
UNCLASSIFIED = "unclassified_payload"
# Payload keys whose contents the field classes describe: crm's record events.
RECORD_PARTS = ("before", "after")


@dataclass(frozen=True)
class AuditExport:
    """One audit file: its export id, account and bytes (JSON, or gzip of it)."""

    export_id: str
    account_id: int
    content: bytes
    compressed: bool

    @property
    def filename(self) -> str:
        return f"audit-{self.account_id}-{self.export_id}.json" + (".gz" if self.compressed else "")

    @property
    def media_type(self) -> str:
        return "application/gzip" if self.compressed else "application/json"


def auditable_account(session: Session, actor: Actor, account_id: int) -> int:
    """The account id if the actor may take its audit file: 404 unseen, 403 wrong role."""
    crm.get_readable(session, actor, crm.SPECS["account"], account_id)
    if actor.role not in AUDIT_ROLES:
        raise PermissionDenied("forbidden_audit_export", entity="account", id=account_id)
    if actor.role is Role.customer_contact and actor.account_id != account_id:
        raise PermissionDenied("forbidden_audit_export", entity="account", id=account_id)
    return account_id


def own_account(actor: Actor) -> int:
    """A customer contact's own account; every other caller uses the admin route (403)."""
    if actor.role is not Role.customer_contact or actor.account_id is None:
        raise PermissionDenied("forbidden_audit_export", entity="portal")
    return actor.account_id


def customer_records(session: Session, account_id: int) -> dict[str, list[int]]:
    """Ids of the account's records per crm entity, read with the system actor: the
    caller is already authorised, and their crm role may not list e.g. activities."""
    reader = Actor.system("audit")

    def ids(entity: str, column: str, among: list[int]) -> list[int]:
        spec = crm.SPECS[entity]
        found: list[int] = []
        for start in range(0, len(among), BATCH):
            query = crm.readable_query(reader, spec).where(
                getattr(spec.model, column).in_(among[start : start + BATCH])
            )
            found.extend(session.scalars(query.with_only_columns(spec.model.id).order_by(spec.model.id)))
        return found

    mine = [account_id]
    records = {"account": mine}
    for entity in ("contact", "activity", "ticket", "document", "contract"):
        records[entity] = ids(entity, "account_id", mine)
    records["subscription"] = ids("subscription", "contract_id", records["contract"])
    # Quotes hang off the account's deals; the deals themselves are never included.
    records["quote"] = ids("quote", "opportunity_id", ids("opportunity", "account_id", mine))
    records["quote_line"] = ids("quote_line", "quote_id", records["quote"])
    return records


def customer_seqs(session: Session, records: dict[str, list[int]]) -> list[int]:
    """The seqs of every event on those records, ascending."""
    seqs: list[int] = []
    for entity, record_ids in records.items():
        keys = [str(record_id) for record_id in record_ids]
        for start in range(0, len(keys), BATCH):
            chunk = keys[start : start + BATCH]
            seqs.extend(
                session.scalars(select(Event.id).where(Event.entity == entity, Event.entity_id.in_(chunk)))
            )
    return sorted(set(seqs))


def retention_reason(event: Event) -> str | None:
    """None when the payload is all customer-visible, else why it stays retained."""
    if event.type == EXPORT_EVENT:
        return None  # written by this module: export metadata only
    spec = crm.SPECS.get(event.entity)
    payload = event.payload or {}
    if spec is None:
        return UNCLASSIFIED
    classes = export_classes(spec.read_schema)
    found: set[ExportClass | None] = set()
    for key, value in payload.items():
        if key == "deleted" and isinstance(value, bool):
            continue
        if key in RECORD_PARTS and isinstance(value, dict):
            found.update(classes.get(name) for name in value)
        else:
            found.add(None)  # a payload part the field classes do not describe
    if ExportClass.internal in found:
        return INTERNAL
    if ExportClass.system_retained in found:
        return RETAINED
    if found - {ExportClass.customer_visible}:
        return UNCLASSIFIED
    return None


def event_entry(event: Event) -> dict[str, Any]:
    """An event in full, in the order the file lists its fields."""
    return {
        "seq": event.id,
        "type": event.type,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "entity_version": event.entity_version,
        "actor": event.actor,
        "occurred_at": format_timestamp(event.occurred_at),
        "recorded_at": format_timestamp(event.recorded_at),
        "payload": event.payload,
        "prev_hash": event.prev_hash,
    }


def _events(session: Session, seqs: list[int]) -> Iterator[Event]:
    for start in range(0, len(seqs), BATCH):
        chunk = seqs[start : start + BATCH]
        batch = list(session.scalars(select(Event).where(Event.id.in_(chunk)).order_by(Event.id)))
        yield from batch
        for event in batch:
            session.expunge(event)


def _skeleton(session: Session, first: int, last: int) -> list[list[Any]]:
    rows: list[list[Any]] = []
    after = first - 1
    while after < last:
        page = session.execute(
            select(Event.id, Event.hash, Event.prev_hash)
            .where(Event.id > after, Event.id <= last)
            .order_by(Event.id)
            .limit(SKELETON_BATCH)
        ).all()
        if not page:
            break
        rows.extend([row.id, row.hash, row.prev_hash] for row in page)
        after = page[-1].id
    return rows


def build_audit_export(
    session: Session, actor: Actor, account_id: int, *, compress: bool = False
) -> AuditExport:
    """Make the account's audit file and append ``portal.audit_exported`` (its head)."""
    auditable_account(session, actor, account_id)
    seqs = customer_seqs(session, customer_records(session, account_id))
    full: list[dict[str, Any]] = []
    retained: list[dict[str, Any]] = []
    first_prev_hash: str | None = None
    for event in _events(session, seqs):
        if first_prev_hash is None:
            first_prev_hash = event.prev_hash
        reason = retention_reason(event)
        if reason is None:
            full.append(event_entry(event))
        else:
            retained.append(
                {"seq": event.id, "type": event.type, "entity": event.entity, "entity_id": event.entity_id,
                 "reason": reason}
            )  # fmt: skip
    export_id = secrets.token_urlsafe(12)
    head = append_event(
        session,
        type=EXPORT_EVENT,
        entity="account",
        entity_id=account_id,
        actor=actor.label,
        payload={
            "export_id": export_id,
            "account_id": account_id,
            "format_version": VERSION,
            "first_seq": seqs[0] if seqs else None,
            "first_prev_hash": first_prev_hash,
            "events": len(full),
            "retained": len(retained),
            "listing_sha256": listing_digest([entry["seq"] for entry in full], retained),
        },
    )
    if head.id is None:  # a buffered session: write it now, we need its seq and hash
        flush_events(session)
    full.append(event_entry(head))
    document = {
        "format": FORMAT,
        "version": VERSION,
        "export_id": export_id,
        "account": account_id,
        "created_at": format_timestamp(head.recorded_at),
        "chain_head": {"seq": head.id, "hash": head.hash},
        "skeleton": _skeleton(session, seqs[0] if seqs else head.id, head.id),
        "events": full,
        "retained": retained,
    }
    content = dump(document)
    if compress:
        content = gzip_file(content)
    return AuditExport(export_id=export_id, account_id=account_id, content=content, compressed=compress)


def export_audit(session: Session, actor: Actor, account_id: int, *, compress: bool = False) -> bytes:
    """The account's audit file as bytes (``build_audit_export`` for its id and name)."""
    return build_audit_export(session, actor, account_id, compress=compress).content
