"""Account export API: ``GET /api/v1/accounts/{account_id}/export?format=json|csv|zip``.

The export is written to a temporary file inside the request's unit of work (so the
``account.exported`` event commits with it), then streamed from disk in chunks and the
file removed. Admins export any account, a customer contact their own; a hidden account
is a 404, a role without the right a 403 (``portal.service.exports``).

This module avoids ``from __future__ import annotations``: FastAPI reads parameter types
at definition.
"""

import os
import tempfile
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from pathcast.crm.api import content_disposition
from pathcast.deps import CurrentActor, DbSession
from pathcast.portal.export_format import CHUNK, Format
from pathcast.portal.service import exports

router = APIRouter(tags=["portal"])

MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
}


def _stream(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


@router.get(
    "/accounts/{account_id}/export",
    summary="Everything the customer may take away about an account (admin, the account's customer contact)",
    response_class=StreamingResponse,
)
def export_account(
    account_id: int,
    session: DbSession,
    actor: CurrentActor,
    format: Annotated[Format, Query(description="json, csv, or zip (with manifest.json)")] = "json",
) -> StreamingResponse:
    descriptor, path = tempfile.mkstemp(prefix="pathcast-export-", suffix=f".{format}")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            summary = exports.export_account(session, actor, account_id, fmt=format, out=handle)
    except BaseException:
        os.unlink(path)
        raise
    filename = f"account-{account_id}-{summary.export_id}.{format}"
    return StreamingResponse(
        _stream(path),
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": content_disposition(filename),
            "X-Export-Id": summary.export_id,
        },
    )
