"""The portal's audit page: what the audit file is, how to check it, and the download.

Only a customer contact with an account gets the page or the file (403 for anyone
else: staff use ``GET /api/v1/accounts/{id}/audit``). The download goes through a page
route so the portal's session cookie is all it needs; each download appends
``portal.audit_exported`` (``portal.service.audit_export``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from pathcast.crm.api import content_disposition
from pathcast.deps import DbSession
from pathcast.portal.audit import FORMAT, VERSION
from pathcast.portal.service.audit_export import build_audit_export, own_account
from pathcast.web.rendering import render
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)
VERIFY_COMMAND = "pathcast audit verify --export FILE"


@router.get("/portal/audit")
def audit_page(page: Page) -> Response:
    account_id = own_account(page.actor)
    context = {
        "portal_tab": "audit",
        "account_id": account_id,
        "format": FORMAT,
        "version": VERSION,
        "command": VERIFY_COMMAND,
    }
    return render(page, "portal/audit.html", context)


@router.get("/portal/audit/download")
def audit_download(page: Page, session: DbSession, gzip: bool = False) -> Response:
    account_id = own_account(page.actor)
    export = build_audit_export(session, page.actor, account_id, compress=gzip)
    headers = {"Content-Disposition": content_disposition(export.filename), "X-Export-Id": export.export_id}
    return Response(export.content, media_type=export.media_type, headers=headers)
