"""Grants to third parties: a field set × a time range × a purpose, behind a random token.

Who grants (checked here, the only writer of ``portal_grants`` and ``portal_grant_accesses``):

* every ``customer_contact`` of the account (the portal has no separate "customer admin"
  role: whoever speaks for the customer may share the customer's own data);
* a company admin, on the customer's request, for any account;
* nobody else. Another account's grant looks missing (404), exactly like an unknown id.

What a grant reaches is decided by field classes, never by a list: the choices are the
``customer_visible`` fields of each exported dataset's crm Read schema, and a record is
in range by its own date (an activity's ``occurred_at``, a version's ``created_at`` …):
see ``grant_scope``.

The grantee holds only the token; the database holds its SHA-256. Every use looks the
grant up again, so a revocation or expiry (of the grant or any grant it was narrowed
from) stops the very next request. Every use is a ``GrantAccess`` row and a
``portal.grant_accessed`` event on the account, in the same transaction as the read.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.portal.export_format import Format, project, write_export
from pathcast.portal.models import GRANT_PURPOSES, Grant, GrantAccess
from pathcast.portal.service.exports import new_export_id
from pathcast.portal.service.grant_scope import grant_choices, granted_datasets

TOKEN_BYTES = 32
GRANTEE_MAX = 300
ID_MAX = 2**31 - 1  # PostgreSQL integer keys


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a grant token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- checks ---------------------------------------------------------------------------


def clean_fields(
    fields: Mapping[str, Any], allowed: Mapping[str, list[str]] | None = None
) -> dict[str, list[str]]:
    """The field set in a stable order, or ``InvalidInput`` naming every field outside
    ``allowed`` (default: every grantable field). ``grant_field_not_allowed`` is the
    refusal a narrowing gets for a field its grant does not hold."""
    limit = grant_choices() if allowed is None else allowed
    code = "grant_field_unknown" if allowed is None else "grant_field_not_allowed"
    errors: list[FieldError] = []
    cleaned: dict[str, list[str]] = {}
    for dataset, names in fields.items():
        if dataset not in limit:
            errors.append(FieldError(f"fields.{dataset}", "grant_dataset_unknown", {"dataset": dataset}))
            continue
        if not isinstance(names, list | tuple) or not all(isinstance(name, str) for name in names):
            errors.append(FieldError(f"fields.{dataset}", "grant_fields_invalid", {"dataset": dataset}))
            continue
        for name in names:
            if name not in limit[dataset]:
                errors.append(
                    FieldError(f"fields.{dataset}.{name}", code, {"dataset": dataset, "name": name})
                )
        chosen = set(names)
        ordered = [name for name in limit[dataset] if name in chosen]
        if ordered:
            cleaned[dataset] = ordered
    if not errors and not cleaned:
        errors.append(FieldError("fields", "grant_fields_empty"))
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _check_terms(
    grantee: str, purpose: str, period_start: date, period_end: date, expires_at: datetime
) -> str:
    errors: list[FieldError] = []
    label = grantee.strip()
    if not label:
        errors.append(FieldError("grantee", "missing"))
    elif len(label) > GRANTEE_MAX:
        errors.append(FieldError("grantee", "too_long", {"max_length": GRANTEE_MAX}))
    if purpose not in GRANT_PURPOSES:
        errors.append(FieldError("purpose", "choice_invalid", {"choices": ", ".join(GRANT_PURPOSES)}))
    if period_end < period_start:
        errors.append(FieldError("period_end", "grant_period_reversed"))
    try:
        expiry = _aware(expires_at).astimezone(UTC)
    except OverflowError:  # past the last day a timestamp can hold, once in UTC
        expiry = None
    if expiry is None:
        errors.append(FieldError("expires_at", "datetime_invalid"))
    elif expiry <= utcnow():
        errors.append(FieldError("expires_at", "grant_expiry_past"))
    if errors:
        raise InvalidInput(errors)
    return label


def _account_for(session: Session, actor: Actor, account_id: int) -> int:
    """The account the actor may manage grants of: their own (customer contact), any
    (admin). Another account is a 404 like a missing one; other roles a 403."""
    if not 0 < account_id <= ID_MAX:  # no such row; an out-of-range id must not reach SQL
        raise NotFound(entity="account", id=account_id)
    if actor.role is Role.customer_contact:
        if actor.account_id != account_id:
            raise NotFound(entity="account", id=account_id)
    elif not actor.is_admin:
        raise PermissionDenied("forbidden_grant", entity="account", id=account_id)
    crm.get_readable(session, actor, crm.SPECS["account"], account_id)
    return account_id


def _managed_grant(session: Session, actor: Actor, grant_id: int) -> Grant:
    grant = session.get(Grant, grant_id) if 0 < grant_id <= ID_MAX else None
    if grant is None:
        raise NotFound(entity="grant", id=grant_id)
    try:
        _account_for(session, actor, grant.account_id)
    except NotFound:
        raise NotFound(entity="grant", id=grant_id) from None
    return grant


# --- the customer's side ------------------------------------------------------------------


def create_grant(
    session: Session,
    actor: Actor,
    *,
    account_id: int,
    grantee: str,
    purpose: str,
    fields: Mapping[str, Any],
    period_start: date,
    period_end: date,
    expires_at: datetime,
) -> tuple[Grant, str]:
    """A new grant and its token (shown once; only its digest is kept)."""
    _account_for(session, actor, account_id)
    label = _check_terms(grantee, purpose, period_start, period_end, expires_at)
    cleaned = clean_fields(fields)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    grant = Grant(
        account_id=account_id,
        grantee=label,
        purpose=purpose,
        fields=cleaned,
        period_start=period_start,
        period_end=period_end,
        token_sha256=token_digest(token),
        expires_at=_aware(expires_at),
        created_at=utcnow(),
        created_by=actor.user_id,
    )
    session.add(grant)
    session.flush()
    append_event(
        session,
        type="portal.grant_created",
        entity="account",
        entity_id=account_id,
        actor=actor.label,
        payload={"grant_id": grant.id, **_terms(grant)},
    )
    return grant, token


def _terms(grant: Grant) -> dict[str, Any]:
    return {
        "grantee": grant.grantee,
        "purpose": grant.purpose,
        "fields": grant.fields,
        "period_start": grant.period_start.isoformat(),
        "period_end": grant.period_end.isoformat(),
        "expires_at": _aware(grant.expires_at).isoformat(),
    }


def revoke_grant(session: Session, actor: Actor, grant_id: int) -> Grant:
    """Revoke a grant now; its token (and every grant narrowed from it) stops at once."""
    grant = _managed_grant(session, actor, grant_id)
    if grant.revoked_at is not None:
        raise Conflict("grant_already_revoked", id=grant_id)
    grant.revoked_at = utcnow()
    append_event(
        session,
        type="portal.grant_revoked",
        entity="account",
        entity_id=grant.account_id,
        actor=actor.label,
        payload={"grant_id": grant.id, "grantee": grant.grantee},
    )
    return grant


@dataclass
class GrantEntry:
    """A grant as its customer sees it: its terms, state and every access."""

    grant: Grant
    state: str  # active, revoked, expired
    accesses: list[GrantAccess]


def list_grants(session: Session, actor: Actor, account_id: int) -> list[GrantEntry]:
    """The account's grants (narrowed ones too), newest first, each with its accesses."""
    _account_for(session, actor, account_id)
    grants = list(
        session.scalars(select(Grant).where(Grant.account_id == account_id).order_by(Grant.id.desc()))
    )
    accesses: dict[int, list[GrantAccess]] = {grant.id: [] for grant in grants}
    if grants:
        rows = session.scalars(
            select(GrantAccess).where(GrantAccess.grant_id.in_(accesses)).order_by(GrantAccess.id.desc())
        )
        for access in rows:
            accesses[access.grant_id].append(access)
    return [GrantEntry(grant, grant_state(session, grant), accesses[grant.id]) for grant in grants]


def grant_state(session: Session, grant: Grant) -> str:
    """``revoked`` or ``expired`` if the grant or any grant it came from is; else ``active``."""
    now = utcnow()
    current: Grant | None = grant
    while current is not None:
        if current.revoked_at is not None:
            return "revoked"
        if _aware(current.expires_at) <= now:
            return "expired"
        current = session.get(Grant, current.parent_id) if current.parent_id else None
    return "active"


# --- the grantee's side --------------------------------------------------------------------


def active_grant(session: Session, token: str) -> Grant:
    """The grant behind a token, checked now: unknown 404, revoked or expired 404 with
    its own code (the holder of the token may know why it stopped)."""
    grant = session.scalar(select(Grant).where(Grant.token_sha256 == token_digest(token)))
    if grant is None:
        raise NotFound("grant_not_found", entity="grant")
    state = grant_state(session, grant)
    if state != "active":
        raise NotFound(f"grant_{state}", entity="grant")
    return grant


def _record_access(
    session: Session, grant: Grant, action: str, detail: dict[str, Any], ip: str | None
) -> None:
    at = utcnow()
    session.add(GrantAccess(grant_id=grant.id, at=at, action=action, detail=detail, ip=ip))
    append_event(
        session,
        type="portal.grant_accessed",
        entity="account",
        entity_id=grant.account_id,
        actor=f"grant:{grant.id}",
        payload={"grant_id": grant.id, "grantee": grant.grantee, "action": action, **detail},
    )


@dataclass
class GrantData:
    """What an audit grant shows: its terms and, per dataset, the granted columns and rows."""

    grant: Grant
    tables: dict[str, tuple[list[str], list[dict[str, Any]]]]


def grant_data(session: Session, token: str, *, ip: str | None = None) -> GrantData:
    """An audit grant's data (read-only); a migration grant is export only (403)."""
    grant = active_grant(session, token)
    if grant.purpose != "audit":
        raise PermissionDenied("grant_export_only", entity="grant")
    tables: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
    for dataset in granted_datasets(session, grant):
        columns = list(dataset.schema.model_fields)
        tables[dataset.name] = (columns, [project(dataset.schema, record) for record in dataset.records])
    _record_access(
        session, grant, "view", {"counts": {name: len(rows) for name, (_, rows) in tables.items()}}, ip
    )
    return GrantData(grant, tables)


def export_grant(session: Session, token: str, *, fmt: Format, out: IO[bytes], ip: str | None = None) -> str:
    """Write a migration grant's export (its fields and range only) to ``out``; returns
    the export id. An audit grant is read-only (403)."""
    grant = active_grant(session, token)
    if grant.purpose != "migration":
        raise PermissionDenied("grant_view_only", entity="grant")
    export_id = new_export_id()
    result = write_export(
        out,
        fmt=fmt,
        export_id=export_id,
        created_at=utcnow(),
        account={"id": grant.account_id},
        datasets=granted_datasets(session, grant),
    )
    _record_access(
        session, grant, "export", {"export_id": export_id, "format": fmt, "counts": result.counts}, ip
    )
    return export_id


def narrow_grant(
    session: Session,
    token: str,
    *,
    grantee: str,
    fields: Mapping[str, Any],
    period_start: date,
    period_end: date,
    expires_at: datetime,
    purpose: str | None = None,
    ip: str | None = None,
) -> tuple[Grant, str]:
    """A grant the grantee derives from theirs: a subset of its fields, a sub-range of its
    dates, an expiry no later, the same purpose. Anything wider is refused, naming it."""
    parent = active_grant(session, token)
    chosen_purpose = purpose or parent.purpose
    label = _check_terms(grantee, chosen_purpose, period_start, period_end, expires_at)
    errors: list[FieldError] = []
    if chosen_purpose != parent.purpose:
        errors.append(FieldError("purpose", "grant_purpose_changed", {"purpose": parent.purpose}))
    if period_start < parent.period_start:
        errors.append(
            FieldError("period_start", "grant_wider_period", {"limit": parent.period_start.isoformat()})
        )
    if period_end > parent.period_end:
        errors.append(
            FieldError("period_end", "grant_wider_period", {"limit": parent.period_end.isoformat()})
        )
    if _aware(expires_at) > _aware(parent.expires_at):
        errors.append(
            FieldError("expires_at", "grant_later_expiry", {"limit": _aware(parent.expires_at).isoformat()})
        )
    try:
        cleaned = clean_fields(fields, allowed=parent.fields)
    except InvalidInput as refused:
        errors.extend(refused.errors)
        cleaned = {}
    if errors:
        raise InvalidInput(errors)
    new_token = secrets.token_urlsafe(TOKEN_BYTES)
    child = Grant(
        account_id=parent.account_id,
        parent_id=parent.id,
        grantee=label,
        purpose=parent.purpose,
        fields=cleaned,
        period_start=period_start,
        period_end=period_end,
        token_sha256=token_digest(new_token),
        expires_at=_aware(expires_at),
        created_at=utcnow(),
        created_by=None,
    )
    session.add(child)
    session.flush()
    _record_access(session, parent, "narrow", {"child_id": child.id}, ip)
    append_event(
        session,
        type="portal.grant_narrowed",
        entity="account",
        entity_id=parent.account_id,
        actor=f"grant:{parent.id}",
        payload={"grant_id": child.id, "parent_id": parent.id, **_terms(child)},
    )
    return child, new_token
