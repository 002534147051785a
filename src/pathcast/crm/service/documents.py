"""Document versions: content-addressed file storage plus one event per new version.

The bytes live under ``<data_dir>/documents/<sha256>``; the database keeps the
version row (file name, type, size, digest) and the document's ``current_version``.
Identical content is stored once, however many documents or versions share it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.config import get_settings
from pathcast.crm import models as m
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event

MAX_FILENAME = 300
MAX_CONTENT_TYPE = 120
MAX_NOTE = 500


def documents_dir() -> Path:
    """Where document content is stored: ``<data_dir>/documents``."""
    return get_settings().data_dir / "documents"


def content_path(sha256: str) -> Path:
    """The file holding the content with this SHA-256 digest."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInput.single("sha256", "bad_digest", value=sha256)
    return documents_dir() / sha256


def store_content(content: bytes) -> str:
    """Write ``content`` once under its SHA-256 (atomically) and return the digest."""
    digest = hashlib.sha256(content).hexdigest()
    target = content_path(digest)
    if target.is_file() and target.stat().st_size == len(content):
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return digest


def read_content(version: m.DocumentVersion) -> bytes:
    """The bytes of a version, checked against its digest; ``NotFound`` if missing."""
    path = content_path(version.sha256)
    if not path.is_file():
        raise NotFound("document_content_missing", entity="document_version", id=version.id)
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != version.sha256:
        raise NotFound("document_content_corrupt", entity="document_version", id=version.id)
    return content


def _clean_filename(filename: str) -> str:
    # Keep only the last path component, whichever separator the client used.
    name = PureWindowsPath(PurePosixPath(filename.strip()).name).name.strip()
    return name


def add_document_version(
    session: Session,
    *,
    actor: Actor,
    document: m.Document,
    filename: str,
    content: bytes,
    content_type: str,
    note: str | None = None,
    occurred_at: datetime | None = None,
) -> m.DocumentVersion:
    """Store ``content`` and make it the document's next version.

    Appends ``document.version_added``, whose ``after`` carries the new
    ``current_version`` so as-of reads of the document see it. The caller loads
    ``document`` through ``get_writable``; this function still refuses roles that may
    not update documents at all.
    """
    if not may(actor, "document", "update"):
        raise PermissionDenied("forbidden_operation", entity="document", operation="update")
    clean_name = _clean_filename(filename)
    errors: list[FieldError] = []
    if not clean_name or clean_name in {".", ".."}:
        errors.append(FieldError("filename", "required"))
    elif len(clean_name) > MAX_FILENAME:
        errors.append(FieldError("filename", "too_long", {"max": MAX_FILENAME}))
    if not content_type.strip():
        errors.append(FieldError("content_type", "required"))
    elif len(content_type.strip()) > MAX_CONTENT_TYPE:
        errors.append(FieldError("content_type", "too_long", {"max": MAX_CONTENT_TYPE}))
    if not content:
        errors.append(FieldError("content", "empty_file"))
    if note is not None and len(note) > MAX_NOTE:
        errors.append(FieldError("note", "too_long", {"max": MAX_NOTE}))
    if errors:
        raise InvalidInput(errors)

    at = occurred_at or utcnow()
    digest = store_content(content)
    previous = document.current_version
    version = m.DocumentVersion(
        document_id=document.id,
        version=previous + 1,
        filename=clean_name,
        content_type=content_type.strip(),
        size_bytes=len(content),
        sha256=digest,
        note=note,
        created_at=at,
        created_by_id=actor.user_id,
    )
    session.add(version)
    document.current_version = previous + 1
    session.flush()
    append_event(
        session,
        type="document.version_added",
        entity="document",
        entity_id=document.id,
        actor=actor.label,
        payload={
            "before": {"current_version": previous},
            "after": {"current_version": document.current_version},
            "version": {
                "id": version.id,
                "version": version.version,
                "filename": version.filename,
                "content_type": version.content_type,
                "size_bytes": version.size_bytes,
                "sha256": version.sha256,
                "note": note,
            },
        },
        occurred_at=at,
    )
    return version


def document_versions(session: Session, document_id: int) -> list[m.DocumentVersion]:
    """A document's versions, oldest first. The caller checked it may read the document."""
    return list(
        session.scalars(
            select(m.DocumentVersion)
            .where(m.DocumentVersion.document_id == document_id)
            .order_by(m.DocumentVersion.version)
        )
    )
