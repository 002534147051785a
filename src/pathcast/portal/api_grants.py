"""Grant API: the customer's grants (``/api/v1/portal/grants``) and the grantee's token
routes (``/api/v1/grants/{token}/...``).

The customer side needs a signed-in customer contact (their own account) or an admin
(any account, on the customer's request). The grantee side needs nothing but the token:
it is checked on every request, so a revocation or expiry stops the next one. Each use
writes a ``GrantAccess`` row and an event, so the token routes open a writing unit of
work even for GET (``GrantSession``).

This module avoids ``from __future__ import annotations``: FastAPI reads parameter types
at definition.
"""

import os
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from pathcast.crm.api import content_disposition
from pathcast.db import unit_of_work
from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import InvalidInput
from pathcast.portal.api_exports import MEDIA_TYPES
from pathcast.portal.export_format import CHUNK, Format
from pathcast.portal.models import Grant, GrantAccess
from pathcast.portal.service import grants
from pathcast.schemas import NonEmptyStr, ProjectBase

router = APIRouter(tags=["portal"])

Purpose = Literal["audit", "migration"]


def grant_session() -> Iterator[Session]:
    """A writing unit of work: a grantee's read is also a recorded access."""
    with unit_of_work(write=True) as session:
        yield session


GrantSession = Annotated[Session, Depends(grant_session, scope="function")]


class GrantCreate(ProjectBase):
    account_id: int | None = None  # a customer contact's own account when left out
    grantee: NonEmptyStr
    purpose: Purpose
    fields: dict[str, list[str]]
    period_start: date
    period_end: date
    expires_at: datetime


class GrantNarrow(ProjectBase):
    grantee: NonEmptyStr
    purpose: Purpose | None = None  # must stay the grant's own
    fields: dict[str, list[str]]
    period_start: date
    period_end: date
    expires_at: datetime


class GrantAccessRead(BaseModel):
    id: int
    at: datetime
    action: str
    detail: dict[str, Any]
    ip: str | None


class GrantRead(BaseModel):
    id: int
    account_id: int
    parent_id: int | None
    grantee: str
    purpose: str
    fields: dict[str, list[str]]
    period_start: date
    period_end: date
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime
    state: str
    accesses: list[GrantAccessRead] = []


class GrantIssued(BaseModel):
    grant: GrantRead
    token: str
    link: str


class GrantTable(BaseModel):
    fields: list[str]
    rows: list[dict[str, Any]]


class GrantDataRead(BaseModel):
    grant: GrantRead
    datasets: dict[str, GrantTable]


def grant_read(grant: Grant, state: str, accesses: list[GrantAccess] | None = None) -> GrantRead:
    """The grant's terms, state and accesses (never its token or digest)."""
    return GrantRead(
        id=grant.id,
        account_id=grant.account_id,
        parent_id=grant.parent_id,
        grantee=grant.grantee,
        purpose=grant.purpose,
        fields=grant.fields,
        period_start=grant.period_start,
        period_end=grant.period_end,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        created_at=grant.created_at,
        state=state,
        accesses=[GrantAccessRead.model_validate(access, from_attributes=True) for access in accesses or []],
    )


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _issued(grant: Grant, token: str) -> GrantIssued:
    return GrantIssued(grant=grant_read(grant, "active"), token=token, link=f"/grant/{token}")


def _account_of(actor_account: int | None, account_id: int | None) -> int:
    chosen = account_id if account_id is not None else actor_account
    if chosen is None:
        raise InvalidInput.single("account_id", "missing")
    return chosen


# --- the customer's grants -------------------------------------------------------------


@router.get("/portal/grants/choices", summary="The datasets and customer-visible fields a grant may name")
def grant_choices(actor: CurrentActor) -> dict[str, list[str]]:
    return grants.grant_choices()


@router.get("/portal/grants", summary="An account's grants, each with every access")
def list_grants(
    session: DbSession,
    actor: CurrentActor,
    account_id: Annotated[int | None, Query(description="admins: the account; customers: their own")] = None,
) -> list[GrantRead]:
    entries = grants.list_grants(session, actor, _account_of(actor.account_id, account_id))
    return [grant_read(entry.grant, entry.state, entry.accesses) for entry in entries]


@router.post("/portal/grants", status_code=201, summary="Grant a third party access (token shown once)")
def create_grant(body: GrantCreate, session: DbSession, actor: CurrentActor) -> GrantIssued:
    grant, token = grants.create_grant(
        session,
        actor,
        account_id=_account_of(actor.account_id, body.account_id),
        grantee=body.grantee,
        purpose=body.purpose,
        fields=body.fields,
        period_start=body.period_start,
        period_end=body.period_end,
        expires_at=body.expires_at,
    )
    return _issued(grant, token)


@router.post("/portal/grants/{grant_id}/revoke", summary="Revoke a grant; it stops on the next request")
def revoke_grant(grant_id: int, session: DbSession, actor: CurrentActor) -> GrantRead:
    grant = grants.revoke_grant(session, actor, grant_id)
    return grant_read(grant, "revoked")


# --- the grantee's token ----------------------------------------------------------------


@router.get("/grants/{token}/data", summary="An audit grant's data: the granted fields in the granted range")
def grant_data(token: str, request: Request, session: GrantSession) -> GrantDataRead:
    data = grants.grant_data(session, token, ip=_client_ip(request))
    return GrantDataRead(
        grant=grant_read(data.grant, "active"),
        datasets={
            name: GrantTable(fields=columns, rows=rows) for name, (columns, rows) in data.tables.items()
        },
    )


def _stream(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


@router.get(
    "/grants/{token}/export",
    summary="A migration grant's export (its fields and range only)",
    response_class=StreamingResponse,
)
def grant_export(
    token: str,
    request: Request,
    session: GrantSession,
    format: Annotated[Format, Query(description="json, csv, or zip (with manifest.json)")] = "json",
) -> StreamingResponse:
    descriptor, path = tempfile.mkstemp(prefix="pathcast-grant-", suffix=f".{format}")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            export_id = grants.export_grant(session, token, fmt=format, out=handle, ip=_client_ip(request))
    except BaseException:
        os.unlink(path)
        raise
    return StreamingResponse(
        _stream(path),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": content_disposition(f"grant-{export_id}.{format}"),
            "X-Export-Id": export_id,
        },
    )


@router.post("/grants/{token}/narrow", status_code=201, summary="Derive a narrower grant (never a wider one)")
def narrow_grant(token: str, body: GrantNarrow, request: Request, session: GrantSession) -> GrantIssued:
    grant, new_token = grants.narrow_grant(
        session,
        token,
        grantee=body.grantee,
        purpose=body.purpose,
        fields=body.fields,
        period_start=body.period_start,
        period_end=body.period_end,
        expires_at=body.expires_at,
        ip=_client_ip(request),
    )
    return _issued(grant, new_token)
