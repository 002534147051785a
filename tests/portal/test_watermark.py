"""The watermark on its own (no database): a visible stamp on every page, metadata, and a
signature that any changed byte breaks."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from reportlab.pdfgen import canvas

from pathcast.portal.watermark import (
    PLACEHOLDER,
    WatermarkError,
    derive_key,
    verify_pdf,
    watermark_pdf,
)

KEY = derive_key("test-secret")
DAY = date(2026, 11, 26)
CUSTOMER = "北京仁和医院 (Beijing Renhe)"


def proposal_pdf(pages: int = 2) -> bytes:
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, invariant=1)
    sheet.setTitle("Proposal")
    for number in range(1, pages + 1):
        sheet.drawString(72, 720, f"Proposal page {number}")
        sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def stamped(export_id: str = "exp_Abc-123", source: bytes | None = None) -> bytes:
    return watermark_pdf(source or proposal_pdf(), customer=CUSTOMER, date=DAY, export_id=export_id, key=KEY)


@pytest.fixture(scope="module")
def signed() -> bytes:
    return stamped()


def _flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    changed = bytearray(data)
    changed[index] ^= mask
    return bytes(changed)


def _signature_span(data: bytes) -> tuple[int, int]:
    match = re.search(rb"/PathcastSignature\s*\(([0-9a-f]{64})\)", data)
    assert match is not None
    return match.span(1)


def test_a_stamped_pdf_verifies_and_names_its_export(signed: bytes) -> None:
    result = verify_pdf(signed, key=KEY)
    assert result.intact and result.reason == "intact" and result.watermarked
    assert (result.export_id, result.customer, result.date) == ("exp_Abc-123", CUSTOMER, DAY)
    assert result.source_sha256 == hashlib.sha256(proposal_pdf()).hexdigest()


def test_every_page_shows_customer_date_and_export_id(signed: bytes) -> None:
    reader = PdfReader(io.BytesIO(signed))
    assert len(reader.pages) == 2
    for number, page in enumerate(reader.pages, start=1):
        text = page.extract_text()
        assert f"Proposal page {number}" in text  # the original content is kept
        assert "北京仁和医院" in text and "2026-11-26" in text and "exp_Abc-123" in text
        assert "For 北京仁和医院 (Beijing Renhe) only" in text  # the footer line


def test_metadata_carries_the_fields_and_keeps_the_title(signed: bytes) -> None:
    info = PdfReader(io.BytesIO(signed)).metadata
    assert info is not None
    assert info["/PathcastExportId"] == "exp_Abc-123"
    assert info["/PathcastCustomer"] == CUSTOMER
    assert info["/PathcastDate"] == "2026-11-26"
    assert len(info["/PathcastSourceSHA256"]) == 64
    assert re.fullmatch("[0-9a-f]{64}", info["/PathcastSignature"]) and info["/PathcastSignature"] != "0" * 64
    assert info["/Title"] == "Proposal"


def test_a_byte_changed_in_the_middle_is_caught(signed: bytes) -> None:
    result = verify_pdf(_flip(signed, len(signed) // 2), key=KEY)
    assert not result.intact and result.reason == "digest_mismatch"
    assert result.export_id == "exp_Abc-123"  # it still says which export it claims to be


def test_a_byte_changed_in_the_metadata_is_caught(signed: bytes) -> None:
    at = signed.index(b"/PathcastDate") + len(b"/PathcastDate (") + 2
    result = verify_pdf(_flip(signed, at), key=KEY)
    assert not result.intact and result.reason == "digest_mismatch"


def test_a_byte_changed_in_the_signature_is_caught(signed: bytes) -> None:
    start, _ = _signature_span(signed)
    other_hex = signed[:start] + (b"1" if signed[start : start + 1] != b"1" else b"2") + signed[start + 1 :]
    assert verify_pdf(other_hex, key=KEY).reason == "digest_mismatch"
    not_hex = signed[:start] + b"Z" + signed[start + 1 :]
    assert verify_pdf(not_hex, key=KEY).reason == "signature_malformed"
    blanked = signed[:start] + PLACEHOLDER + signed[start + 64 :]
    assert not verify_pdf(blanked, key=KEY).intact


def test_a_damaged_signature_name_or_extra_bytes_are_caught(signed: bytes) -> None:
    at = signed.index(b"/PathcastSignature") + 3
    assert verify_pdf(_flip(signed, at), key=KEY).reason == "signature_missing"
    assert not verify_pdf(signed + b"\n", key=KEY).intact
    assert not verify_pdf(signed[:-1], key=KEY).intact


def test_another_key_does_not_verify(signed: bytes) -> None:
    assert verify_pdf(signed, key=derive_key("another-secret")).reason == "digest_mismatch"


def test_a_plain_pdf_is_not_watermarked_and_other_bytes_are_not_a_pdf() -> None:
    plain = verify_pdf(proposal_pdf(), key=KEY)
    assert (plain.watermarked, plain.intact, plain.reason) == (False, False, "not_watermarked")
    assert verify_pdf(b"hello, not a pdf", key=KEY).reason == "not_a_pdf"


def test_rewatermarking_replaces_the_earlier_fields(signed: bytes) -> None:
    again = watermark_pdf(signed, customer="上海", date=date(2027, 1, 2), export_id="second", key=KEY)
    result = verify_pdf(again, key=KEY)
    assert result.intact and (result.export_id, result.customer) == ("second", "上海")
    assert again.count(b"/PathcastSignature") == 1


def test_rotated_and_offset_pages_are_stamped() -> None:
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(proposal_pdf(1))))
    writer.add_blank_page(width=842, height=595)
    writer.pages[0].rotate(90)
    writer.pages[1].mediabox.lower_left = (100, 100)
    buffer = io.BytesIO()
    writer.write(buffer)
    out = stamped("rot", buffer.getvalue())
    assert verify_pdf(out, key=KEY).intact
    assert all("rot" in page.extract_text() for page in PdfReader(io.BytesIO(out)).pages)


def test_what_cannot_be_stamped_is_refused() -> None:
    with pytest.raises(WatermarkError) as error:
        stamped(source=b"v1 content")
    assert error.value.code == "not_a_pdf"
    with pytest.raises(WatermarkError) as error:
        stamped(source=b"%PDF-1.4\nbroken\n%%EOF\n")
    assert error.value.code == "unreadable_pdf"
    with pytest.raises(WatermarkError) as error:
        stamped(export_id="no spaces/or slashes")
    assert error.value.code == "bad_export_id"


def test_the_key_is_derived_not_the_secret() -> None:
    assert derive_key("s") != b"s" and len(derive_key("s")) == 32
    assert derive_key("s") == derive_key(b"s") != derive_key("t")


@settings(max_examples=150, deadline=None)
@given(position=st.floats(min_value=0, max_value=1, exclude_max=True), mask=st.integers(1, 255))
def test_any_changed_byte_is_caught(signed: bytes, position: float, mask: int) -> None:
    index = int(position * len(signed))
    result = verify_pdf(_flip(signed, index, mask), key=KEY)
    assert not result.intact
