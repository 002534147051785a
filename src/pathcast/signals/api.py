"""Signals API: the public collect endpoint and snippet, connector callbacks, and the
authenticated routes for identity, consent, features and configuration.

Public routes say so in their summary; everything else needs a user. This module
avoids ``from __future__ import annotations``: FastAPI reads body types at definition.
"""

import json
import threading
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from pathcast.config import get_settings
from pathcast.db import is_sqlite, unit_of_work
from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import InvalidInput, PayloadTooLarge, PermissionDenied, TooManyRequests
from pathcast.signals import schemas as s
from pathcast.signals.ratelimit import get_rate_limiter
from pathcast.signals.service import collect, consent, features, identity, messages, sites

SNIPPET_PATH = Path(__file__).parent / "static" / "t.js"
MAX_BODY_BYTES = 1_000_000

router = APIRouter(tags=["signals"])
public_router = APIRouter(tags=["public"])
snippet_router = APIRouter(tags=["public"])


# --- the snippet and the collect endpoint (public) ------------------------------------------


@snippet_router.get("/t.js", summary="The tracking snippet (public)", include_in_schema=False)
def tracking_snippet() -> Response:
    return Response(
        SNIPPET_PATH.read_bytes(),
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


def _cors_headers(origin: str | None) -> dict[str, str]:
    if not origin:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


@public_router.options("/collect", summary="CORS preflight for collect (public)", include_in_schema=False)
def collect_preflight(request: Request) -> Response:
    origin = request.headers.get("origin")
    with unit_of_work(write=False) as session:
        allowed = sites.all_allowed_origins(session)
    if origin is None or (origin.rstrip("/") not in allowed and "*" not in allowed):
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            **_cors_headers(origin),
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


def _parse_batch(raw: bytes) -> s.CollectBatch:
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("batch_too_large", max=s.MAX_BATCH)
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput.single("body", "invalid", message="the body is not JSON") from None
    events = document.get("events") if isinstance(document, dict) else None
    if isinstance(events, list) and len(events) > s.MAX_BATCH:
        raise PayloadTooLarge("batch_too_large", max=s.MAX_BATCH)
    try:
        return s.CollectBatch.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput.single(where, "invalid", message=first["msg"]) from None


# SQLite lets one transaction write at a time; a writer that finds the lock taken polls
# it with growing sleeps (up to 100 ms), so with several batches in flight some wait
# seconds while others pass. This process's collect writers queue here instead.
_SQLITE_WRITER = threading.Lock()


def _writer_turn() -> AbstractContextManager[object]:
    return _SQLITE_WRITER if is_sqlite(get_settings().resolved_database_url()) else nullcontext()


def _ingest(batch: s.CollectBatch, origin: str | None) -> s.CollectReport:
    # Validation needs no database: done before queueing for the write lock, it
    # overlaps with another request's writing.
    validated = collect.validate_batch(batch)
    with _writer_turn(), unit_of_work() as session:
        site = collect.site_for_key(session, batch.site)
        if not collect.origin_allowed(site, origin):
            raise PermissionDenied("origin_not_allowed", origin=origin)
        retry_after = get_rate_limiter().hit(f"site:{site.key}", site.rate_limit_per_minute)
        if retry_after is not None:
            raise TooManyRequests(retry_after=retry_after)
        return collect.ingest_batch(session, site=site, batch=validated)


@public_router.post(
    "/collect",
    summary="Receive a batch of tracking events (public; authenticated by the site key)",
    response_model=s.CollectReport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": s.CollectBatch.model_json_schema()},
                "text/plain": {
                    "schema": {"type": "string", "description": "the same JSON, as sendBeacon sends it"}
                },
            },
        }
    },
)
async def collect_events(request: Request) -> Response:
    origin = request.headers.get("origin")
    batch = _parse_batch(await request.body())
    report = await run_in_threadpool(_ingest, batch, origin)
    return Response(report.model_dump_json(), media_type="application/json", headers=_cors_headers(origin))


# --- configuration (admins) ---------------------------------------------------------------


@router.post(
    "/signals/sites", response_model=s.SiteRead, status_code=201, summary="Create a tracked site (admin)"
)
def create_site(body: s.SiteCreate, session: DbSession, actor: CurrentActor) -> Any:
    return sites.create_site(
        session,
        name=body.name,
        allowed_origins=body.allowed_origins,
        rate_limit_per_minute=body.rate_limit_per_minute,
        actor=actor,
    )


@router.get("/signals/sites", response_model=list[s.SiteRead], summary="List tracked sites (admin)")
def list_sites(session: DbSession, actor: CurrentActor) -> Any:
    return sites.list_sites(session, actor=actor)


@router.get("/signals/assets", response_model=list[s.AssetRead], summary="Assets customers read, by name")
def list_assets(session: DbSession, actor: CurrentActor, site_id: int | None = None) -> Any:
    return sites.list_assets(session, site_id=site_id)


@router.post(
    "/signals/connectors",
    response_model=s.ConnectorRead,
    status_code=201,
    summary="Configure a message source (admin)",
)
def create_connector(body: s.ConnectorCreate, session: DbSession, actor: CurrentActor) -> Any:
    return sites.create_connector(session, kind=body.kind, name=body.name, config=body.config, actor=actor)


@router.get(
    "/signals/connectors", response_model=list[s.ConnectorRead], summary="List message sources (admin)"
)
def list_connectors(session: DbSession, actor: CurrentActor) -> Any:
    return sites.list_connectors(session, actor=actor)


# --- identity ------------------------------------------------------------------------


@router.post(
    "/signals/tracked-links", response_model=s.TrackedLinkRead, summary="A link that identifies its reader"
)
def create_tracked_link(body: s.TrackedLinkCreate, session: DbSession, actor: CurrentActor) -> Any:
    url, token = identity.tracked_link(session, contact_id=body.contact_id, url=body.url, actor=actor)
    return s.TrackedLinkRead(url=url, token=token)


@router.post(
    "/signals/visitors/{visitor_id}/merge",
    response_model=s.IdentityLinkRead,
    summary="Say that an anonymous visitor is a contact (reversible)",
)
def merge_visitor(visitor_id: int, body: s.MergeRequest, session: DbSession, actor: CurrentActor) -> Any:
    return identity.merge_visitor(session, visitor_id=visitor_id, contact_id=body.contact_id, actor=actor)


@router.post(
    "/signals/identity-links/{link_id}/revert",
    response_model=s.IdentityLinkRead,
    summary="Undo an identification; the history stays",
)
def revert_link(link_id: int, body: s.RevertRequest, session: DbSession, actor: CurrentActor) -> Any:
    return identity.revert_link_by_id(session, link_id=link_id, actor=actor, reason=body.reason)


@router.get(
    "/signals/contacts/{contact_id}/identity-links",
    response_model=list[s.IdentityLinkRead],
    summary="A contact's identity links, reverted ones included",
)
def contact_links(contact_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return identity.links_of_contact(session, contact_id=contact_id, actor=actor)


# --- consent ------------------------------------------------------------------------------


@router.get(
    "/signals/contacts/{contact_id}/consent", response_model=s.ConsentRead, summary="Consent threshold state"
)
def read_consent(contact_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return consent.read_consent(session, contact_id=contact_id, actor=actor)


@router.post(
    "/signals/contacts/{contact_id}/opt-out",
    response_model=s.ConsentRead,
    summary="Stop tracking a contact and delete their identified behaviour",
)
def opt_out(contact_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return consent.opt_out(session, contact_id=contact_id, actor=actor)


@router.post(
    "/signals/contacts/{contact_id}/opt-in", response_model=s.ConsentRead, summary="Allow tracking again"
)
def opt_in(contact_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return consent.opt_in(session, contact_id=contact_id, actor=actor)


# --- features -------------------------------------------------------------------------------

AsOf = Annotated[datetime | None, Query(description="Features as known at this moment (ISO 8601)")]
MinDwell = Annotated[int | None, Query(ge=0, le=86400, description="Visible seconds for a view to qualify")]


@router.get(
    "/signals/features/contacts/{contact_id}",
    response_model=s.Features,
    summary="A contact's rolling features",
)
def contact_features(
    contact_id: int, session: DbSession, actor: CurrentActor, as_of: AsOf = None, min_dwell: MinDwell = None
) -> Any:
    return features.read_contact_features(
        session, contact_id=contact_id, actor=actor, as_of=as_of, min_dwell_seconds=min_dwell
    )


@router.get(
    "/signals/features/accounts/{account_id}",
    response_model=s.Features,
    summary="An account's rolling features",
)
def account_features(
    account_id: int, session: DbSession, actor: CurrentActor, as_of: AsOf = None, min_dwell: MinDwell = None
) -> Any:
    return features.read_account_features(
        session, account_id=account_id, actor=actor, as_of=as_of, min_dwell_seconds=min_dwell
    )


@router.get(
    "/signals/inbox", response_model=list[s.InboxItem], summary="Latest identified behaviour on my accounts"
)
def inbox(
    session: DbSession,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    min_dwell: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    return features.inbox(session, actor=actor, limit=limit, min_dwell_seconds=min_dwell)


@router.get("/signals/messages", response_model=list[s.MessageRead], summary="Inbound messages on my records")
def list_messages(
    session: DbSession,
    actor: CurrentActor,
    contact_id: int | None = None,
    account_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    return messages.list_messages(
        session, actor=actor, contact_id=contact_id, account_id=account_id, limit=limit
    )
