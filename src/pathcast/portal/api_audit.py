"""Audit file API: the customer's events on the hash chain, verifiable offline.

* ``GET /api/v1/portal/audit``: a customer contact's own account (anyone else 403).
* ``GET /api/v1/accounts/{account_id}/audit``: admins any account, a customer contact
  their own; another role 403, an account the caller cannot see 404.

``?gzip=true`` returns the same JSON gzipped. Each download appends
``portal.audit_exported``, which is the file's chain head
(``portal.service.audit_export``); check the file with ``pathcast audit verify
--export FILE``.

No ``from __future__ import annotations``: FastAPI reads parameter types at definition.
"""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from pathcast.crm.api import content_disposition
from pathcast.deps import CurrentActor, DbSession
from pathcast.portal.service.audit_export import AuditExport, build_audit_export, own_account

router = APIRouter(tags=["portal"])

GzipQuery = Annotated[bool, Query(description="Gzip the JSON file (the verifier reads both).")]


def audit_response(export: AuditExport) -> Response:
    """The file as an attachment named after the account and export id."""
    return Response(
        export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": content_disposition(export.filename),
            "X-Export-Id": export.export_id,
        },
    )


@router.get(
    "/portal/audit",
    summary="The signed-in customer's verifiable audit file (their events on the hash chain)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "application/gzip": {}}}},
)
def portal_audit(session: DbSession, actor: CurrentActor, gzip: GzipQuery = False) -> Response:
    account_id = own_account(actor)
    return audit_response(build_audit_export(session, actor, account_id, compress=gzip))


@router.get(
    "/accounts/{account_id}/audit",
    summary="An account's verifiable audit file (admin, or the account's customer contact)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "application/gzip": {}}}},
)
def account_audit(
    account_id: int, session: DbSession, actor: CurrentActor, gzip: GzipQuery = False
) -> Response:
    return audit_response(build_audit_export(session, actor, account_id, compress=gzip))
