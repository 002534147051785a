"""Watermarked PDFs: a visible stamp on every page and a signed, invisible one.

Pure functions, no database. ``watermark_pdf`` stamps each page with the customer, the
date and the export id (a light-grey diagonal overlay and a footer line, drawn with
reportlab and merged with pypdf), writes the same facts into the document information
dictionary, and signs the whole output file with HMAC-SHA256. ``verify_pdf`` reads the
facts back and says whether any byte changed. The algorithm (see ``docs/portal.md``):

1. write the file with ``/PathcastSignature`` holding 64 ASCII zeros;
2. ``mac = HMAC-SHA256(key, file bytes with the zeros in place)``;
3. replace the zeros in place with ``hex(mac)``: same length, so no offset moves.

The verifier finds the one ``/PathcastSignature (<64 chars>)``, puts the zeros back,
recomputes the HMAC and compares: a changed byte anywhere (page content, metadata, the
signature itself, bytes appended or cut) breaks it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from pypdf import PageObject, PdfReader, PdfWriter, Transformation

KEY_CONTEXT = b"pathcast document watermark"
FORMAT_VERSION = "1"
PLACEHOLDER = b"0" * 64
FIELDS = {
    "version": "/PathcastWatermark",
    "export_id": "/PathcastExportId",
    "customer": "/PathcastCustomer",
    "date": "/PathcastDate",
    "source_sha256": "/PathcastSourceSHA256",
    "signature": "/PathcastSignature",
}
# Any one of these names marks a file as ours: one changed byte can spoil only one of them.
_MARKERS = tuple(name.encode() for name in FIELDS.values())
_SIGNATURE = re.compile(rb"/PathcastSignature\s*\(([^()\\]{64})\)")
_HEX64 = re.compile(rb"[0-9a-f]{64}")
# pypdf writes ``_`` and ``-`` as octal escapes (``\\137``, ``\\055``).
_EXPORT_ID = re.compile(rb"/PathcastExportId\s*\(((?:[A-Za-z0-9_-]|\\[0-7]{3}){1,64})\)")
FONT = "STSong-Light"
GREY = 0.55

# Why a file is or is not intact, in the order the verifier checks.
REASONS = (
    "intact",
    "not_a_pdf",
    "not_watermarked",
    "signature_missing",
    "signature_malformed",
    "digest_mismatch",
)


class WatermarkError(ValueError):
    """The input cannot be watermarked (not a PDF, unreadable, or locked by a password)."""

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class Verification:
    """What a file says about itself and whether its signature holds."""

    export_id: str | None
    customer: str | None
    date: date | None
    intact: bool
    reason: str
    watermarked: bool = True
    source_sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "export_id": self.export_id,
            "customer": self.customer,
            "date": self.date.isoformat() if self.date else None,
            "intact": self.intact,
            "reason": self.reason,
            "watermarked": self.watermarked,
            "source_sha256": self.source_sha256,
        }


def derive_key(secret: str | bytes) -> bytes:
    """The signing key: ``HMAC-SHA256(secret, b"pathcast document watermark")``.

    A key of its own, so a watermark signature can never stand in for a session
    token or any other use of the server's secret."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, KEY_CONTEXT, hashlib.sha256).digest()


def looks_like_pdf(head: bytes) -> bool:
    """Whether ``%PDF-`` appears in the first 1024 bytes (where readers look for it)."""
    return b"%PDF-" in head[:1024]


def watermark_pdf(pdf: bytes, *, customer: str, date: date, export_id: str, key: bytes) -> bytes:
    """A copy of ``pdf`` stamped on every page and signed; raises ``WatermarkError``."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", export_id):
        raise WatermarkError("bad_export_id", export_id)
    customer = " ".join(customer.split()) or "-"
    reader = _open(pdf)
    try:
        writer = PdfWriter(clone_from=reader)
        overlays: dict[tuple[float, float], PageObject] = {}
        for page in writer.pages:
            # Fold /Rotate into the content so the stamp reads upright on screen.
            if page.rotation:
                page.transfer_rotation_to_content()
            box = page.cropbox
            size = (round(float(box.width), 2), round(float(box.height), 2))
            if size not in overlays:
                overlays[size] = _overlay(size, customer=customer, day=date, export_id=export_id)
            page.merge_transformed_page(
                overlays[size], Transformation().translate(float(box.left), float(box.bottom)), over=True
            )
        # Keep the file's own metadata (title, author); replace any earlier Pathcast fields.
        kept = {
            str(name): value
            for name, value in (reader.metadata or {}).items()
            if not str(name).startswith("/Pathcast")
        }
        writer.metadata = {
            **kept,
            FIELDS["version"]: FORMAT_VERSION,
            FIELDS["export_id"]: export_id,
            FIELDS["customer"]: customer,
            FIELDS["date"]: date.isoformat(),
            FIELDS["source_sha256"]: hashlib.sha256(pdf).hexdigest(),
            FIELDS["signature"]: PLACEHOLDER.decode(),
        }
        buffer = io.BytesIO()
        writer.write(buffer)
    except WatermarkError:
        raise
    except Exception as error:  # pypdf raises many kinds on a damaged file
        raise WatermarkError("unreadable_pdf", f"{type(error).__name__}: {error}") from error
    unsigned = buffer.getvalue()
    slots = [match for match in _SIGNATURE.finditer(unsigned) if match.group(1) == PLACEHOLDER]
    if len(slots) != 1 or len(_SIGNATURE.findall(unsigned)) != 1:
        raise WatermarkError("signature_slot", f"{len(slots)} placeholders in the output")
    start, end = slots[0].span(1)
    mac = hmac.new(key, unsigned, hashlib.sha256).hexdigest().encode()
    return unsigned[:start] + mac + unsigned[end:]


def verify_pdf(pdf: bytes, *, key: bytes) -> Verification:
    """Which export a file claims to be, and whether every byte is as it was signed."""
    if not any(marker in pdf for marker in _MARKERS):
        reason = "not_watermarked" if looks_like_pdf(pdf) else "not_a_pdf"
        return Verification(None, None, None, intact=False, reason=reason, watermarked=False)
    fields = _read_fields(pdf)
    matches = list(_SIGNATURE.finditer(pdf))
    if len(matches) != 1:
        reason = "signature_missing"
    elif not _HEX64.fullmatch(matches[0].group(1)):
        reason = "signature_malformed"
    else:
        start, end = matches[0].span(1)
        expected = hmac.new(key, pdf[:start] + PLACEHOLDER + pdf[end:], hashlib.sha256).hexdigest()
        reason = (
            "intact" if hmac.compare_digest(expected.encode(), matches[0].group(1)) else "digest_mismatch"
        )
    return Verification(
        export_id=fields.get("export_id"),
        customer=fields.get("customer"),
        date=_parse_date(fields.get("date")),
        intact=reason == "intact",
        reason=reason,
        source_sha256=fields.get("source_sha256"),
    )


# --- helpers ----------------------------------------------------------------------------


def _open(pdf: bytes) -> PdfReader:
    if not looks_like_pdf(pdf):
        raise WatermarkError("not_a_pdf")
    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted and not reader.decrypt(""):
            raise WatermarkError("encrypted_pdf")
        if len(reader.pages) == 0:
            raise WatermarkError("unreadable_pdf", "no pages")
    except WatermarkError:
        raise
    except Exception as error:  # pypdf raises many kinds on a damaged file
        raise WatermarkError("unreadable_pdf", f"{type(error).__name__}: {error}") from error
    return reader


def _read_fields(pdf: bytes) -> dict[str, str]:
    """The Pathcast fields of the information dictionary; what can be read of a damaged file."""
    found: dict[str, str] = {}
    try:
        metadata: dict[str, Any] = dict(PdfReader(io.BytesIO(pdf), strict=False).metadata or {})
        for field, name in FIELDS.items():
            value = metadata.get(name)
            if value is not None and field != "signature":
                found[field] = str(value)
    except Exception:  # a damaged file: fall back to what the raw bytes show
        pass
    if "export_id" not in found and (match := _EXPORT_ID.search(pdf)):
        found["export_id"] = re.sub(
            r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), match.group(1).decode()
        )
    return found


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@lru_cache(maxsize=1)
def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _fit(text: str, size: float, width: float, *, minimum: float) -> tuple[str, float]:
    """``text`` at the largest size up to ``size`` that fits ``width``; cut with … if needed."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    font = _font()
    measured = stringWidth(text, font, size)
    if measured <= width:
        return text, size
    size = max(minimum, size * width / measured)
    while len(text) > 1 and stringWidth(text, font, size) > width:
        text = text[:-2] + "…"
    return text, size


def _overlay(size: tuple[float, float], *, customer: str, day: date, export_id: str) -> PageObject:
    """One transparent page of ``size`` with the diagonal stamp and the footer line."""
    import math

    from reportlab.pdfgen import canvas

    width, height = size
    font = _font()
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, pagesize=size, invariant=1)
    # Diagonal: customer on one line, date and export id on the next, centred on the page.
    diagonal = math.hypot(width, height) * 0.7
    lines = [
        _fit(customer, min(width, height) / 12, diagonal, minimum=8),
        _fit(f"{day.isoformat()} · {export_id}", min(width, height) / 20, diagonal, minimum=6),
    ]
    sheet.saveState()
    sheet.setFillGray(GREY)
    sheet.setFillAlpha(0.22)
    sheet.translate(width / 2, height / 2)
    sheet.rotate(math.degrees(math.atan2(height, width)))
    offset = lines[0][1] * 0.2
    for text, font_size in lines:
        sheet.setFont(font, font_size)
        sheet.drawCentredString(0, offset, text)
        offset -= font_size * 1.3
    sheet.restoreState()
    # Footer: the same facts in small print along the bottom edge.
    footer, footer_size = _fit(
        f"仅供 {customer} 使用 · For {customer} only · {day.isoformat()} · 导出编号 Export ID {export_id}",
        7,
        width - 36,
        minimum=4,
    )
    sheet.setFillGray(GREY)
    sheet.setFillAlpha(0.8)
    sheet.setFont(font, footer_size)
    sheet.drawCentredString(width / 2, 12, footer)
    sheet.showPage()
    sheet.save()
    return PdfReader(io.BytesIO(buffer.getvalue())).pages[0]
