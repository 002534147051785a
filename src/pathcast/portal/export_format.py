"""The portable export format: JSON, CSV or a ZIP with a manifest, streamed.

Pure (no database). Each dataset is a name, its pydantic Read schema and an iterator of
records (ORM objects or mappings the schema validates). What leaves is decided by the
schema's export classes (``pathcast.schemas``), never by a hand-written list:

* ``customer_visible`` fields are written;
* ``internal`` fields are never written;
* ``system_retained`` fields are listed in ``retained.json`` (name and reason), never
  their content.

Formats, all written record by record (memory does not grow with the data):

* ``json``: one JSON document ``{"export_id", "schema_version", "created_at", "account",
  "datasets": {name: [records...]}}``;
* ``csv``: UTF-8 with a byte-order mark (Excel); one block per dataset: a row naming the
  dataset, a header row, the records, an empty row. Cells a spreadsheet would run as a
  formula get a leading apostrophe;
* ``zip``: ``<dataset>.json`` per dataset (a JSON array), ``schema.json`` (JSON Schema
  draft 2020-12 of every dataset's record), ``retained.json`` and ``manifest.json`` (the
  SHA-256, size, rows and field classes of every other file, computed while streaming).

``verify_manifest`` recomputes every hash of a ZIP and names the files that changed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel

from pathcast.schemas import ExportClass, export_classes, fields_of_class

Format = Literal["json", "csv", "zip"]
FORMATS: tuple[Format, ...] = ("json", "csv", "zip")
SCHEMA_VERSION = "1"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MANIFEST = "manifest.json"
SCHEMA_FILE = "schema.json"
RETAINED_FILE = "retained.json"
BOM = "\ufeff"
PROGRESS_EVERY = 500
CHUNK = 64 * 1024
FORMULA_START = ("=", "+", "@", "\t", "\r")

Progress = Callable[[str, int], None]


@dataclass
class Dataset:
    """One kind of record to export: its name, Read schema and records."""

    name: str
    schema: type[BaseModel]
    records: Iterable[Any]


@dataclass
class FileEntry:
    name: str
    rows: int | None
    sha256: str
    bytes: int
    fields: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": self.rows,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "fields": self.fields,
        }


@dataclass
class ExportResult:
    """What was written: rows per dataset, and the files of a ZIP."""

    export_id: str
    format: Format
    counts: dict[str, int]
    files: list[FileEntry] = field(default_factory=list)


# --- field classes --------------------------------------------------------------------


def visible_fields(schema: type[BaseModel]) -> list[str]:
    """The fields of ``schema`` that leave in an export (``customer_visible`` only)."""
    return fields_of_class(schema, ExportClass.customer_visible)


def field_classes(schema: type[BaseModel]) -> dict[str, str]:
    """Every field of ``schema`` with its export class (``unclassified`` never leaves)."""
    return {name: cls.value if cls else "unclassified" for name, cls in export_classes(schema).items()}


def retention_reason(schema: type[BaseModel], name: str) -> str:
    """Why a ``system_retained`` field is kept: the field's description if it has one,
    else what kind of field it is."""
    description = schema.model_fields[name].description
    if description:
        return description
    if name in ("created_at", "updated_at"):
        return "edit metadata: when the record was created or changed"
    if name.endswith("_by_id"):
        return "operation log: who made the change"
    if name.startswith("external_"):
        return "link to the system the record was imported from"
    if name in ("sha256",) or name.endswith("_hash"):
        return "integrity hash of stored content"
    return "kept for integrity or legal retention"


def project(schema: type[BaseModel], record: Any) -> dict[str, Any]:
    """The record's customer-visible fields as JSON-ready data."""
    if isinstance(record, BaseModel) and type(record) is schema:
        model = record
    else:
        model = schema.model_validate(record)
    return model.model_dump(mode="json", include=set(visible_fields(schema)))


def json_schema(datasets: Sequence[tuple[str, type[BaseModel]]]) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of every dataset's exported record."""
    defs: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, schema in datasets:
        full = schema.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(full.get("$defs", {}))
        keep = visible_fields(schema)
        record = {
            "title": f"{name} record",
            "type": "object",
            "properties": {key: full["properties"][key] for key in keep},
            "required": [key for key in full.get("required", []) if key in keep],
            "additionalProperties": False,
        }
        defs[f"{name}_record"] = record
        properties[name] = {"type": "array", "items": {"$ref": f"#/$defs/{name}_record"}}
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": f"https://pathcast.example/schemas/export/v{SCHEMA_VERSION}.json",
        "title": "Pathcast account export",
        "type": "object",
        "properties": properties,
        "$defs": defs,
    }


def retained_listing(datasets: Sequence[tuple[str, type[BaseModel]]]) -> list[dict[str, str]]:
    """The ``system_retained`` fields of each dataset with their reason (no content)."""
    return [
        {"dataset": name, "field": key, "reason": retention_reason(schema, key)}
        for name, schema in datasets
        for key in fields_of_class(schema, ExportClass.system_retained)
    ]


# --- writing --------------------------------------------------------------------------


class _Counted:
    """A binary sink that hashes and counts what passes through."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.hash = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        self.hash.update(data)
        self.bytes += len(data)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _records(dataset: Dataset, progress: Progress | None) -> Iterator[dict[str, Any]]:
    done = 0
    for record in dataset.records:
        yield project(dataset.schema, record)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(dataset.name, done)
    if progress is not None and done % PROGRESS_EVERY != 0:
        progress(dataset.name, done)
    elif progress is not None and done == 0:
        progress(dataset.name, 0)


def _write_json_array(sink: _Counted, dataset: Dataset, progress: Progress | None) -> int:
    sink.write(b"[")
    rows = 0
    for record in _records(dataset, progress):
        sink.write(((",\n" if rows else "\n") + _dumps(record)).encode())
        rows += 1
    sink.write(b"\n]" if rows else b"]")
    return rows


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        value = _dumps(value)
    text = str(value)
    if text[:1] in FORMULA_START:
        return "'" + text
    if text.startswith("-"):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def _csv_line(row: Sequence[Any]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue().encode()


def _write_csv_block(sink: _Counted, dataset: Dataset, progress: Progress | None) -> int:
    columns = visible_fields(dataset.schema)
    sink.write(_csv_line([dataset.name]))
    sink.write(_csv_line(columns))
    rows = 0
    for record in _records(dataset, progress):
        sink.write(_csv_line([record.get(column) for column in columns]))
        rows += 1
    sink.write(b"\r\n")
    return rows


def write_export(
    out: IO[bytes],
    *,
    fmt: Format,
    export_id: str,
    created_at: datetime,
    account: Mapping[str, Any],
    datasets: Sequence[Dataset],
    schema_version: str = SCHEMA_VERSION,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the export to ``out`` in ``fmt``, one record at a time."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}")
    header = {
        "export_id": export_id,
        "schema_version": schema_version,
        "created_at": created_at.isoformat(),
        "account": dict(account),
    }
    result = ExportResult(export_id=export_id, format=fmt, counts={})
    if fmt == "json":
        sink = _Counted(out)
        opening = _dumps(header)[:-1] + ',"datasets":{'
        sink.write(opening.encode())
        for index, dataset in enumerate(datasets):
            sink.write(((",\n" if index else "\n") + _dumps(dataset.name) + ":").encode())
            result.counts[dataset.name] = _write_json_array(sink, dataset, progress)
        sink.write(b"\n}}\n")
    elif fmt == "csv":
        sink = _Counted(out)
        sink.write(BOM.encode())
        for dataset in datasets:
            result.counts[dataset.name] = _write_csv_block(sink, dataset, progress)
    else:
        _write_zip(out, header, datasets, progress, result)
    return result


def _zip_member(archive: zipfile.ZipFile, name: str, write: Callable[[_Counted], int | None]) -> FileEntry:
    with archive.open(name, "w", force_zip64=True) as handle:
        sink = _Counted(handle)
        rows = write(sink)
    return FileEntry(name=name, rows=rows, sha256=sink.hash.hexdigest(), bytes=sink.bytes)


def _write_zip(
    out: IO[bytes],
    header: dict[str, Any],
    datasets: Sequence[Dataset],
    progress: Progress | None,
    result: ExportResult,
) -> None:
    shapes = [(dataset.name, dataset.schema) for dataset in datasets]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for dataset in datasets:

            def write(sink: _Counted, dataset: Dataset = dataset) -> int:
                return _write_json_array(sink, dataset, progress)

            entry = _zip_member(archive, f"{dataset.name}.json", write)
            entry.fields = field_classes(dataset.schema)
            result.counts[dataset.name] = entry.rows or 0
            result.files.append(entry)
        for name, content in (
            (SCHEMA_FILE, json_schema(shapes)),
            (RETAINED_FILE, {"retained": retained_listing(shapes)}),
        ):

            def write_doc(sink: _Counted, content: Any = content) -> None:
                sink.write(json.dumps(content, ensure_ascii=False, indent=2).encode())

            result.files.append(_zip_member(archive, name, write_doc))
        manifest = {**header, "files": [entry.as_dict() for entry in result.files]}
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))


# --- verifying ------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """The outcome of checking a ZIP export against its manifest."""

    ok: bool
    export_id: str | None
    checked: int
    altered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "export_id": self.export_id,
            "checked": self.checked,
            "altered": self.altered,
            "missing": self.missing,
            "unexpected": self.unexpected,
            "error": self.error,
        }


def _member_digest(archive: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with archive.open(name) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_manifest(zip_path: str | Path | IO[bytes]) -> VerifyReport:
    """Recompute the SHA-256 of every file a ZIP export's manifest lists."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as error:
        return VerifyReport(ok=False, export_id=None, checked=0, error=f"not a readable ZIP: {error}")
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST))
            entries = list(manifest["files"])
        except (KeyError, ValueError, TypeError, zipfile.BadZipFile) as error:
            return VerifyReport(ok=False, export_id=None, checked=0, error=f"no readable manifest: {error}")
        report = VerifyReport(ok=True, export_id=manifest.get("export_id"), checked=0)
        present = set(archive.namelist())
        for entry in entries:
            name = str(entry.get("name"))
            if name not in present:
                report.missing.append(name)
                continue
            report.checked += 1
            try:
                digest, size = _member_digest(archive, name)
            except (zipfile.BadZipFile, OSError, EOFError):
                report.altered.append(name)  # the ZIP's own CRC caught the change
                continue
            if digest != entry.get("sha256") or size != entry.get("bytes"):
                report.altered.append(name)
        listed = {str(entry.get("name")) for entry in entries} | {MANIFEST}
        report.unexpected = sorted(present - listed)
        report.ok = not (report.altered or report.missing or report.unexpected)
        return report
