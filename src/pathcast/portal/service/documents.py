"""Watermarked document exports: stamp, sign and record each copy handed out, and trace
a copy back to its export.

``export_document`` is the only way a proposal PDF leaves Pathcast: it loads the
document through crm's read scoping (a hidden document looks missing), stamps the
stored version with ``portal.watermark``, records a ``DocumentExport`` row and appends
``document.exported`` in the caller's transaction. ``verify_document`` checks a file's
signature and looks its export id up.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.config import get_settings
from pathcast.crm import models as crm
from pathcast.crm import service as crm_service
from pathcast.crm.service import documents as crm_documents
from pathcast.db import utcnow
from pathcast.errors import Conflict, NotFound
from pathcast.events import append_event
from pathcast.portal.models import DocumentExport
from pathcast.portal.watermark import Verification, WatermarkError, derive_key, verify_pdf, watermark_pdf

PDF = "application/pdf"
PROPOSAL = "proposal"


def watermark_key() -> bytes:
    """The signing key, derived from the server's secret (never the secret itself)."""
    return derive_key(get_settings().resolved_secret_key())


def new_export_id() -> str:
    """A random, URL-safe export id (96 bits, 16 characters)."""
    return secrets.token_urlsafe(12)


def needs_watermark(document: crm.Document, version: crm.DocumentVersion) -> bool:
    """Whether a download of this version must be the watermarked copy.

    A PDF (by its stored content type and its ``%PDF-`` header) of a proposal or of a
    document that belongs to an account. Bytes without the header are not a PDF a
    reader would open, whatever the upload claimed; they are served as stored.
    """
    if version.content_type.partition(";")[0].strip().lower() != PDF:
        return False
    if document.kind != PROPOSAL and document.account_id is None:
        return False
    path = crm_documents.content_path(version.sha256)
    if not path.is_file():
        return True  # export_document then reports the missing content
    with path.open("rb") as stream:
        return b"%PDF-" in stream.read(1024)


def export_document(
    session: Session,
    actor: Actor,
    *,
    document_id: int,
    version: int,
    occurred_at: datetime | None = None,
) -> tuple[bytes, str, DocumentExport]:
    """The watermarked copy of one version, its file name and the export row.

    The customer printed on it is the document's account, else the recipient's own
    account (a customer contact), else the recipient. Raises ``NotFound`` for a document
    or version the actor may not read or that does not exist, ``Conflict`` when the
    stored file is not a PDF that can be stamped. Does not commit.
    """
    document = crm_service.get_readable(session, actor, crm_service.SPECS["document"], document_id)
    found = session.scalars(
        select(crm.DocumentVersion).where(
            crm.DocumentVersion.document_id == document.id, crm.DocumentVersion.version == version
        )
    ).first()
    if found is None:
        raise NotFound(entity="document", id=f"{document_id} v{version}")
    source = crm_documents.read_content(found)
    account_id = document.account_id or actor.account_id
    account = session.get(crm.Account, account_id) if account_id else None
    customer = account.name if account else (actor.email or actor.label)
    at = occurred_at or utcnow()
    export_id = new_export_id()
    try:
        output = watermark_pdf(
            source, customer=customer, date=at.date(), export_id=export_id, key=watermark_key()
        )
    except WatermarkError as error:
        raise Conflict("document_not_watermarkable", id=document.id, version=version, reason=error.code)
    export = DocumentExport(
        export_id=export_id,
        document_id=document.id,
        version=found.version,
        account_id=account.id if account else None,
        recipient_user_id=actor.user_id,
        recipient_label=(actor.email or actor.label)[:200],
        customer=customer[:300],
        watermark_date=at.date(),
        source_sha256=found.sha256,
        output_sha256=hashlib.sha256(output).hexdigest(),
        created_at=at,
        created_by=actor.label[:120],
    )
    session.add(export)
    session.flush()
    append_event(
        session,
        type="document.exported",
        entity="document",
        entity_id=document.id,
        actor=actor.label,
        payload={
            "export": {
                "export_id": export.export_id,
                "version": export.version,
                "account_id": export.account_id,
                "recipient_user_id": export.recipient_user_id,
                "recipient": export.recipient_label,
                "customer": export.customer,
                "date": export.watermark_date.isoformat(),
                "source_sha256": export.source_sha256,
                "output_sha256": export.output_sha256,
            }
        },
        occurred_at=at,
    )
    stem = PurePosixPath(found.filename).stem or "document"
    return output, f"{stem}-{export_id}.pdf", export


@dataclass(frozen=True)
class VerificationReport:
    """A file's verification and the export it came from, if Pathcast knows it.

    ``status``: ``intact`` (signature holds and the export is on record), ``altered``,
    ``unknown_export`` (signature holds, no such export here), ``not_watermarked`` or
    ``not_a_pdf``.
    """

    status: str
    verification: Verification
    export: DocumentExport | None
    document_name: str | None
    output_sha256: str

    @property
    def exit_code(self) -> int:
        if self.status == "intact":
            return 0
        return 2 if not self.verification.watermarked else 1

    def as_dict(self) -> dict[str, Any]:
        export = self.export
        return {
            "status": self.status,
            **self.verification.as_dict(),
            "file_sha256": self.output_sha256,
            "export": None
            if export is None
            else {
                "export_id": export.export_id,
                "document_id": export.document_id,
                "document_name": self.document_name,
                "version": export.version,
                "account_id": export.account_id,
                "customer": export.customer,
                "date": export.watermark_date.isoformat(),
                "recipient_user_id": export.recipient_user_id,
                "recipient": export.recipient_label,
                "created_by": export.created_by,
                "created_at": export.created_at.isoformat(),
                "source_sha256": export.source_sha256,
                "output_sha256": export.output_sha256,
            },
        }


def verify_document(session: Session, pdf_bytes: bytes) -> VerificationReport:
    """Check a file's signature and find the export its id names (an operator's check).

    A file whose signature holds but whose bytes differ from the recorded copy is
    ``altered`` too (only a holder of the key could make one).
    """
    verification = verify_pdf(pdf_bytes, key=watermark_key())
    digest = hashlib.sha256(pdf_bytes).hexdigest()
    if not verification.watermarked:
        return VerificationReport(verification.reason, verification, None, None, digest)
    export = None
    if verification.export_id:
        export = session.scalars(
            select(DocumentExport).where(DocumentExport.export_id == verification.export_id)
        ).first()
    document = session.get(crm.Document, export.document_id) if export else None
    name = document.name if document else None
    if not verification.intact:
        status = "altered"
    elif export is None:
        status = "unknown_export"
    elif export.output_sha256 != digest:
        status = "altered"
        verification = Verification(
            verification.export_id,
            verification.customer,
            verification.date,
            intact=False,
            reason="output_digest_mismatch",
            source_sha256=verification.source_sha256,
        )
    else:
        status = "intact"
    return VerificationReport(status, verification, export, name, digest)
