"""Document versions: content-addressed file storage plus one event per new version.

The bytes live under ``<data_dir>/documents/<sha256>``; the database keeps the
version row (file name, type, size, digest) and the document's ``current_version``.
Identical content is stored once, however many documents or versions share it.
``document_passages`` reads company documents back as text passages for search.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import charset_normalizer
from pypdf import PdfReader
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import func, select
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


# --- company documents as searchable passages (read by the radar's knowledge base) --------

_log = logging.getLogger(__name__)

PASSAGE_MAX_CHARS = 800
# A file larger than this is not read for passages: one oversized upload must not make
# every knowledge-base rebuild slow (the knowledge base wants sheets and FAQs, not books).
PASSAGE_MAX_BYTES = 20 * 1024 * 1024
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/x-markdown", "text/csv"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
PDF_TYPES = frozenset({"application/pdf"})
# Elements that start a new paragraph of an HTML page; their text is kept together.
_HTML_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl", "dt",
        "figcaption", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li",
        "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
    }
)  # fmt: skip
_HTML_SKIP = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "iframe"})
# Sentence ends: Chinese full stops and marks (no space follows them) and Latin ones
# followed by a space.
_SENTENCE_END = re.compile(r"(?<=[。！？；!?])|(?<=[.;:])\s+")
_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])\n(?=[{_CJK}])")


@dataclass(frozen=True)
class DocumentPassage:
    """One passage (at most ~``max_chars`` characters) of a company document's current version."""

    document_id: int
    name: str
    version: int
    audience: str
    index: int
    text: str


def document_passages(session: Session, *, max_chars: int = PASSAGE_MAX_CHARS) -> Iterator[DocumentPassage]:
    """Passages of every company document's current version, for a search index.

    Only documents with no account (``account_id IS NULL``): a proposal made for one
    customer must never feed answers to another. Text is extracted from the stored
    bytes of plain text, Markdown, CSV, HTML and PDF files and cut on paragraph and
    sentence boundaries. Other types, and missing, corrupt, oversized or unreadable
    content, are skipped (logged), never raised: one bad file must not hide the rest.
    This is a system read; the caller decides who may see what it builds.
    """
    rows = session.execute(
        select(m.Document, m.DocumentVersion)
        .join(
            m.DocumentVersion,
            (m.DocumentVersion.document_id == m.Document.id)
            & (m.DocumentVersion.version == m.Document.current_version),
        )
        .where(m.Document.account_id.is_(None))
        .order_by(m.Document.id)
    )
    for document, version in rows:
        if version.size_bytes > PASSAGE_MAX_BYTES:
            _log.warning("document %s v%s: too large to index, skipped", document.id, version.version)
            continue
        try:
            content = read_content(version)
        except (NotFound, InvalidInput):
            _log.warning("document %s v%s: content missing or corrupt, skipped", document.id, version.version)
            continue
        paragraphs = _paragraphs(content, version.content_type, f"document {document.id} v{version.version}")
        for index, text in enumerate(_passages(paragraphs, max(100, max_chars))):
            yield DocumentPassage(document.id, document.name, version.version, document.audience, index, text)


def company_documents_fingerprint(session: Session) -> tuple[int, int, str]:
    """A cheap fingerprint of the company documents' content: how many versions they
    have, the newest version id and the latest change to a document row (a document
    that gains or loses its account changes it). Equal fingerprints, same passages."""
    versions = session.execute(
        select(func.count(m.DocumentVersion.id), func.max(m.DocumentVersion.id))
        .join(m.Document, m.Document.id == m.DocumentVersion.document_id)
        .where(m.Document.account_id.is_(None))
    ).one()
    changed = session.scalar(select(func.max(m.Document.updated_at)))
    return int(versions[0] or 0), int(versions[1] or 0), changed.isoformat() if changed else ""


def _paragraphs(content: bytes, content_type: str, label: str) -> list[str]:
    """The paragraphs of a file by its type; unknown types and unreadable files: none."""
    main, _, params = content_type.partition(";")
    kind = main.strip().lower()
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    if kind in PDF_TYPES:
        return _pdf_paragraphs(content, label)
    if kind not in TEXT_TYPES and kind not in HTML_TYPES:
        return []
    text = _decode(content, charset)
    if kind in HTML_TYPES:
        return _html_paragraphs(text)
    if kind == "text/csv":
        # One row is one record ("question,answer"): a row never shares a paragraph.
        return [line for line in text.splitlines() if line.strip()]
    return _text_paragraphs(text)


def _decode(content: bytes, charset: str | None) -> str:
    """UTF-8 (or the declared charset), else the best guess (GB18030 for most Chinese files)."""
    for encoding in (charset, "utf-8-sig"):
        if encoding:
            try:
                return content.decode(encoding)
            except (LookupError, UnicodeDecodeError):
                continue
    best = charset_normalizer.from_bytes(content).best()
    if best is not None:
        return str(best)
    return content.decode("gb18030", errors="replace")


def _text_paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks, each with its line breaks joined (no space between
    two Chinese characters: a wrapped Chinese line has none)."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = []
    for block in blocks:
        joined = _CJK_BREAK.sub("", block.strip())
        joined = " ".join(joined.split())
        if joined:
            paragraphs.append(joined)
    return paragraphs


def _html_paragraphs(html: str) -> list[str]:
    """The text of an HTML page, one paragraph per block element (scripts and styles left out)."""
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    if root is None:
        return []
    paragraphs: list[str] = []
    current: list[str] = []

    def flush() -> None:
        text = " ".join("".join(current).split())
        if text:
            paragraphs.append(text)
        current.clear()

    # An explicit stack, not recursion: a deeply nested page must not overflow it.
    stack: list[tuple[Iterator[Any], bool]] = [(iter(root.iter(include_text=True)), True)]
    while stack:
        children, block = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if block:  # leaving a block element: its paragraph ends here
                flush()
            continue
        tag = child.tag
        if tag == "-text":
            current.append(child.text_content or "")
        elif tag in _HTML_SKIP or tag.startswith("-"):
            continue
        else:
            if tag in _HTML_BLOCKS:
                flush()
            stack.append((iter(child.iter(include_text=True)), tag in _HTML_BLOCKS))
    flush()
    return paragraphs


def _pdf_paragraphs(content: bytes, label: str) -> list[str]:
    """The text of each page of a PDF; a broken PDF is logged and gives nothing."""
    paragraphs: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(content))
        for page in reader.pages:
            paragraphs.extend(_text_paragraphs(page.extract_text() or ""))
    except Exception as error:  # pypdf raises many kinds on a damaged file; none may escape
        _log.warning("%s: unreadable PDF skipped (%s: %s)", label, type(error).__name__, error)
        return []
    return paragraphs


def _passages(paragraphs: Iterable[str], max_chars: int) -> Iterator[str]:
    """Paragraphs packed into passages of at most ``max_chars``: whole paragraphs where
    they fit, a long one cut between sentences, a very long sentence cut hard."""
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        for sentence in (s.strip() for s in _SENTENCE_END.split(paragraph)):
            while len(sentence) > max_chars:
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars:].strip()
            if sentence:
                pieces.append(sentence)
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            yield current
            current = ""
        current = f"{current}\n{piece}" if current else piece
    if current:
        yield current
