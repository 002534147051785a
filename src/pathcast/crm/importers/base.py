"""Reading CSV files for the importers: encoding, structure, rejects and the report.

A file is read whole (CRM exports are megabytes, not gigabytes), its encoding decided
once (UTF-8, or GB18030 when the whole file is clearly not UTF-8), and each record
checked for shape before any importer sees it. Rows that cannot be read — wrong column
count, bytes that are not valid in the file's encoding — become rejects here; every
other row goes on to the importer. Row numbers are the line on which the record starts
in the file (the header is line 1), which is what a person sees in an editor.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENTITY_ORDER = ("team", "user", "product", "account", "contact", "opportunity")
REJECT_COLUMNS = ("row_number", "column", "value", "reason", "file")
ROW = "(row)"  # the column named by a problem that concerns the whole row

Progress = Callable[[str, int, int], None]
"""Called as ``progress(task, done, total)`` while an import runs."""


class ImportInputError(Exception):
    """Input the importer cannot use at all (missing file, no header, bad mapping).

    Nothing is written when this is raised; the message is meant for a person.
    """


@dataclass(frozen=True)
class Reject:
    """One problem with one row: where, which column, the value, and why."""

    row_number: int
    column: str
    value: str
    reason: str
    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "row_number": self.row_number,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "file": self.file,
        }


@dataclass
class EntityCounts:
    """How the rows of one entity fared."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0

    def add(self, other: EntityCounts) -> None:
        self.imported += other.imported
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejected += other.rejected

    def as_dict(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
        }


@dataclass
class ImportReport:
    """What an import did: counts per entity and in total, rejects, notes, timing."""

    format: str
    dry_run: bool = False
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    rejects_path: Path | None = None
    encodings: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    rows_read: int = 0
    elapsed_seconds: float = 0.0

    def counts(self, entity: str) -> EntityCounts:
        """The counters of ``entity``, created on first use."""
        if entity not in self.entities:
            self.entities[entity] = EntityCounts()
        return self.entities[entity]

    @property
    def total(self) -> EntityCounts:
        total = EntityCounts()
        for counts in self.entities.values():
            total.add(counts)
        return total

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def ordered_entities(self) -> list[str]:
        known = [name for name in ENTITY_ORDER if name in self.entities]
        return known + sorted(set(self.entities) - set(known))

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON data (what ``--json`` prints)."""
        return {
            "format": self.format,
            "dry_run": self.dry_run,
            "entities": {name: self.entities[name].as_dict() for name in self.ordered_entities()},
            "total": self.total.as_dict(),
            "rejected_problems": len(self.rejects),
            "rejects_path": str(self.rejects_path) if self.rejects_path else None,
            "encodings": dict(self.encodings),
            "notes": list(self.notes),
            "warnings": dict(self.warnings),
            "rows_read": self.rows_read,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
        }


@dataclass
class SourceRow:
    """One record of a CSV file that has the header's shape."""

    row_number: int
    cells: list[str]


@dataclass
class CsvTable:
    """A decoded CSV file: its header, the readable rows and the unreadable ones."""

    path: Path
    header: list[str]
    rows: list[SourceRow]
    rejects: list[Reject]
    encoding: str
    note: str | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for position, name in enumerate(self.header):
            # The first of two equal column names wins; compared case-insensitively.
            self._index.setdefault(normalise_header(name), position)

    @property
    def name(self) -> str:
        return self.path.name

    def column_index(self, column: str) -> int | None:
        """The position of ``column`` (case- and space-insensitive), or None."""
        return self._index.get(normalise_header(column))

    def has(self, column: str) -> bool:
        return self.column_index(column) is not None

    def header_name(self, column: str) -> str:
        """The column as the file spells it."""
        index = self.column_index(column)
        return self.header[index] if index is not None else column


def normalise_header(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


# --- encoding -------------------------------------------------------------------------


def detect_encoding(data: bytes) -> tuple[str, str | None]:
    """The codec to read ``data`` with, and a note for the summary when it is not UTF-8.

    A file that is UTF-8 except for a few rows stays UTF-8 (those rows are rejected
    one by one); only a file whose non-ASCII text reads as Chinese GB18030 and not as
    UTF-8 is switched to GB18030.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "has a UTF-16 byte-order mark; read as UTF-16"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        if _looks_like_gb18030(data):
            return "gb18030", "is not UTF-8; read as GB18030 (Chinese)"
        return "utf-8", None
    return "utf-8", None


def _looks_like_gb18030(data: bytes) -> bool:
    good = bad = 0
    for line in data.splitlines():
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad += 1
        else:
            good += 1
    if bad < good:
        # Mostly valid UTF-8 with some broken rows: keep UTF-8, reject those rows.
        return False
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    wide = [char for char in text if ord(char) > 0x7F]
    # Real Chinese text in GB18030 is mostly GB2312 characters (both bytes >= 0xA1);
    # a stray Latin-1 byte followed by ASCII decodes to a character whose second byte
    # is ASCII, so this ratio tells the two apart.
    gb2312 = sum(1 for char in wide if _is_gb2312_pair(char))
    return bool(wide) and gb2312 >= 0.8 * len(wide)


def _is_gb2312_pair(char: str) -> bool:
    encoded = char.encode("gb18030")
    return len(encoded) == 2 and encoded[0] >= 0xA1 and encoded[1] >= 0xA1


def check_encoding(name: str) -> str:
    """The codec's canonical name, or ImportInputError for an unknown one."""
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise ImportInputError(f"unknown encoding {name!r} (try utf-8, gb18030, cp1252)") from None


def has_bad_bytes(text: str) -> bool:
    """Whether a decoded cell holds bytes that were not valid (surrogate escapes)."""
    return any("\udc80" <= char <= "\udcff" for char in text)


def show_bad_bytes(text: str) -> str:
    """The cell with its undecodable bytes written as ``\\xNN``, for the rejects file."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


# --- reading --------------------------------------------------------------------------


def read_table(path: Path, encoding: str | None = None) -> CsvTable:
    """Read and check one CSV file. Raises ImportInputError when it has no header."""
    if not path.is_file():
        raise ImportInputError(f"file not found: {path}")
    data = path.read_bytes()
    note: str | None = None
    if encoding:
        codec = check_encoding(encoding)
        if codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
            codec = "utf-8-sig"
    else:
        codec, note = detect_encoding(data)
    text = data.decode(codec, errors="surrogateescape")
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[SourceRow] = []
    rejects: list[Reject] = []
    shown = "UTF-8" if codec.startswith("utf-8") else codec
    previous_line = 0
    try:
        for record in reader:
            start = previous_line + 1
            previous_line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are not rows
            if header is None:
                header = [cell.strip() for cell in record]
                if header:
                    header[0] = header[0].lstrip("\ufeff")
                continue
            problem = _shape_problem(record, len(header))
            if problem is not None:
                rejects.append(Reject(start, ROW, str(len(record)), problem, path.name))
                continue
            cells = record[: len(header)] + [""] * (len(header) - len(record))
            bad = [
                Reject(
                    start,
                    header[i],
                    show_bad_bytes(cell),
                    f"bytes not valid in {shown} (wrong encoding? try --encoding)",
                    path.name,
                )
                for i, cell in enumerate(cells)
                if has_bad_bytes(cell)
            ]
            if bad:
                rejects.extend(bad)
                continue
            rows.append(SourceRow(start, cells))
    except csv.Error as error:
        raise ImportInputError(f"{path.name}: unreadable CSV at line {reader.line_num}: {error}") from None
    if header is None or not any(header):
        raise ImportInputError(f"{path.name}: empty file, no header row")
    if any(has_bad_bytes(name) for name in header):
        raise ImportInputError(
            f"{path.name}: the header is not valid {shown}; pass --encoding with the file's encoding"
        )
    return CsvTable(path, header, rows, rejects, codec, f"{path.name} {note}" if note else None)


def _shape_problem(record: list[str], width: int) -> str | None:
    if len(record) < width:
        return f"expected {width} columns, found {len(record)}"
    if len(record) > width and any(cell.strip() for cell in record[width:]):
        return f"expected {width} columns, found {len(record)}"
    return None


def _delimiter(text: str) -> str:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {delimiter: first.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


# --- rejects file ---------------------------------------------------------------------


def default_rejects_path(first_input: Path, data_dir: Path) -> Path:
    """``<name>.rejects.csv`` beside the first input, or in the data directory when that
    folder is read-only (shared datasets are)."""
    stem = first_input.name if first_input.is_dir() else first_input.stem
    folder = first_input.resolve().parent
    if os.access(folder, os.W_OK):
        return folder / f"{stem}.rejects.csv"
    return data_dir / "imports" / f"{stem}.rejects.csv"


def write_rejects(path: Path, rejects: list[Reject]) -> None:
    """Write the rejects, one line per problem, in file and row order."""
    path.parent.mkdir(parents=True, exist_ok=True)
    files = list(dict.fromkeys(reject.file for reject in rejects))
    ordered = sorted(rejects, key=lambda r: (files.index(r.file), r.row_number))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REJECT_COLUMNS)
        for reject in ordered:
            writer.writerow([reject.row_number, reject.column, reject.value, reject.reason, reject.file])
