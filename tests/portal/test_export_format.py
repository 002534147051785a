"""The export format without a database: field classes decide what leaves (a property
test over every format), streamed JSON, CSV and ZIP, the JSON Schema, retained fields,
the manifest's hashes and the verifier naming an altered file."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathcast.crm import schemas as crm_schemas
from pathcast.portal.export_format import (
    FORMATS,
    MANIFEST,
    RETAINED_FILE,
    SCHEMA_FILE,
    Dataset,
    Format,
    json_schema,
    safe_cell,
    verify_manifest,
    write_export,
)
from pathcast.schemas import CUSTOMER, INTERNAL, RETAINED, ExportClass, ProjectBase, fields_of_class

MARKER = "SECRET-INTERNAL-7f3a"
RETAINED_MARKER = "RETAINED-CONTENT-91bc"
WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


class NoteRead(ProjectBase):
    id: Annotated[int, CUSTOMER]
    subject: Annotated[str, CUSTOMER]
    amount: Annotated[int | None, CUSTOMER]
    body: Annotated[str, INTERNAL]
    score: Annotated[str, INTERNAL]
    source_hash: Annotated[str, RETAINED]


def _records(texts: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return [
        {
            "id": index + 1,
            "subject": subject,
            "amount": index * 7 if index % 2 else None,
            "body": MARKER + body,
            "score": f"{body}{MARKER}",
            "source_hash": RETAINED_MARKER + extra,
        }
        for index, (subject, body, extra) in enumerate(texts)
    ]


def _export(fmt: Format, records: list[dict[str, Any]], **kwargs: Any) -> bytes:
    out = io.BytesIO()
    write_export(
        out,
        fmt=fmt,
        export_id="exp-1",
        created_at=WHEN,
        account={"id": 1, "name": "Acme"},
        datasets=[Dataset("notes", NoteRead, iter(records))],
        **kwargs,
    )
    return out.getvalue()


def _everything(fmt: Format, payload: bytes) -> str:
    """All text a recipient could read: the file, or every member of the ZIP."""
    if fmt != "zip":
        return payload.decode("utf-8")
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(text, text, text), max_size=12), st.sampled_from(FORMATS))
def test_internal_and_retained_content_never_leaves(texts: list[tuple[str, str, str]], fmt: Format) -> None:
    records = _records(texts)
    content = _everything(fmt, _export(fmt, records))
    assert MARKER not in content
    assert RETAINED_MARKER not in content
    for record in records:
        # the customer-visible subject does leave (CSV may prefix an apostrophe)
        assert json.dumps(record["subject"], ensure_ascii=False)[1:-1] in content or fmt == "csv"


def test_json_holds_exactly_the_customer_visible_projection() -> None:
    records = _records([("Kick-off", "x", "y"), ("=SUM(A1)", "z", "w")])
    document = json.loads(_export("json", records))
    assert document["export_id"] == "exp-1"
    assert document["schema_version"] == "1"
    assert document["account"] == {"id": 1, "name": "Acme"}
    assert document["datasets"]["notes"] == [
        {"id": 1, "subject": "Kick-off", "amount": None},
        {"id": 2, "subject": "=SUM(A1)", "amount": 7},
    ]


def test_csv_has_bom_header_and_neutralised_formulas() -> None:
    records = _records([("=cmd|' /C calc'!A0", "", ""), ("-12.5", "", ""), ("@home", "", "")])
    payload = _export("csv", records)
    assert payload.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(payload.decode("utf-8-sig"))))
    assert rows[0] == ["notes"]
    assert rows[1] == ["id", "subject", "amount"]
    assert [row[1] for row in rows[2:5]] == ["'=cmd|' /C calc'!A0", "-12.5", "'@home"]
    assert safe_cell("-x") == "'-x" and safe_cell(None) == "" and safe_cell(True) == "true"


def test_zip_manifest_schema_and_retained(tmp_path: Path) -> None:
    records = _records([("a", "b", "c")] * 3)
    path = tmp_path / "export.zip"
    path.write_bytes(_export("zip", records))
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == {"notes.json", SCHEMA_FILE, RETAINED_FILE, MANIFEST}
        manifest = json.loads(archive.read(MANIFEST))
        schema = json.loads(archive.read(SCHEMA_FILE))
        retained = json.loads(archive.read(RETAINED_FILE))
        notes = json.loads(archive.read("notes.json"))
    assert manifest["export_id"] == "exp-1" and manifest["schema_version"] == "1"
    entry = next(e for e in manifest["files"] if e["name"] == "notes.json")
    assert entry["rows"] == 3 and len(notes) == 3
    assert entry["fields"] == {
        "id": "customer_visible",
        "subject": "customer_visible",
        "amount": "customer_visible",
        "body": "internal",
        "score": "internal",
        "source_hash": "system_retained",
    }
    assert {e["name"] for e in manifest["files"]} == {"notes.json", SCHEMA_FILE, RETAINED_FILE}
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    record_schema = schema["$defs"]["notes_record"]
    assert set(record_schema["properties"]) == {"id", "subject", "amount"}
    assert record_schema["additionalProperties"] is False
    assert retained == {
        "retained": [
            {"dataset": "notes", "field": "source_hash", "reason": "integrity hash of stored content"}
        ]
    }
    report = verify_manifest(path)
    assert report.ok and report.checked == 3 and report.export_id == "exp-1"


def _rewrite(source: Path, target: Path, name: str) -> None:
    """Copy a ZIP, changing one byte of one member (the ZIP's own CRC is recomputed)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == name:
                data = data[:5] + bytes([data[5] ^ 1]) + data[6:]
            new.writestr(info.filename, data)


def test_a_changed_byte_is_caught_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(_export("zip", _records([("a", "b", "c")] * 3)))
    for name in ("notes.json", SCHEMA_FILE):
        altered = tmp_path / f"altered-{name}.zip"
        _rewrite(path, altered, name)
        report = verify_manifest(altered)
        assert not report.ok and report.altered == [name]
    # flipping a raw byte of the compressed data: the ZIP's CRC (or inflate) catches it
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("notes.json")
    start = info.header_offset
    name_length = int.from_bytes(raw[start + 26 : start + 28], "little")
    extra_length = int.from_bytes(raw[start + 28 : start + 30], "little")
    offset = start + 30 + name_length + extra_length + 2
    raw[offset] ^= 0xFF
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(raw))
    report = verify_manifest(broken)
    assert not report.ok and report.altered == ["notes.json"]
    assert not verify_manifest(tmp_path / "missing.zip").ok


def test_streaming_reads_lazily_and_reports_progress() -> None:
    pulled: list[int] = []
    calls: list[tuple[str, int]] = []

    def generate() -> Iterator[dict[str, Any]]:
        for index in range(1200):
            pulled.append(index)
            yield {"id": index, "subject": "s", "amount": 1, "body": MARKER, "score": "", "source_hash": ""}

    out = io.BytesIO()
    result = write_export(
        out,
        fmt="json",
        export_id="e",
        created_at=WHEN,
        account={},
        datasets=[Dataset("notes", NoteRead, generate()), Dataset("empty", NoteRead, [])],
        progress=lambda name, rows: calls.append((name, rows)),
    )
    assert result.counts == {"notes": 1200, "empty": 0}
    assert calls == [("notes", 500), ("notes", 1000), ("notes", 1200), ("empty", 0)]
    assert len(json.loads(out.getvalue())["datasets"]["notes"]) == 1200


@pytest.mark.parametrize("schema", [crm_schemas.AccountRead, crm_schemas.ActivityRead, crm_schemas.QuoteRead])
def test_json_schema_of_crm_reads_keeps_only_customer_fields(schema: type[ProjectBase]) -> None:
    document = json_schema([("things", schema)])
    properties = document["$defs"]["things_record"]["properties"]
    assert list(properties) == fields_of_class(schema, ExportClass.customer_visible)
    assert not set(properties) & set(
        fields_of_class(schema, ExportClass.internal, ExportClass.system_retained)
    )
