"""Read any CSV of past leads with an outcome column into a typed, model-ready table.

Pure library: no database, no pandas. The file is read with the stdlib ``csv`` module and
each column becomes either a numeric array (``float64``, NaN for missing) or integer
category codes (``-1`` for missing).

Rules, in order, for each column other than the target:

* A cell is missing when, stripped and lower-cased, it is one of ``MISSING_MARKERS``
  (``"Select"`` is the Leads.csv form default: "not chosen").
* A column with no value at all is dropped (``empty``); one with a single value and no
  missing cell is dropped (``constant``).
* A column is numeric when at least ``NUMERIC_SHARE`` of its non-missing cells parse as
  finite numbers; the cells that do not parse become missing. Otherwise it is categorical.
* An id-like column (a value in every row, each one different; for a numeric column also
  integer-valued) is dropped (``id-like``), e.g. "Prospect ID", "Lead Number".
* A categorical column with more than ``MAX_CATEGORIES`` distinct values keeps its
  ``TOP_K`` most frequent values; the rest become ``OTHER``.

The target accepts yes/no, y/n, true/false, t/f, 1/0, 是/否 and converted/not converted
(case-insensitive). Rows with an empty target are left out, with a note.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import io
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

MISSING_MARKERS: tuple[str, ...] = ("", "select", "na", "n/a", "nan", "null", "none", "-", "?")
"""Cell values (compared stripped and lower-cased) that mean "no value"."""

NUMERIC_SHARE = 0.95
MAX_CATEGORIES = 50
TOP_K = 30
OTHER = "(other)"
ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030", "cp1252")
"""Tried in order when no encoding is given (gb18030 is a superset of GBK)."""

POSITIVE_TOKENS = frozenset({"yes", "y", "true", "t", "1", "1.0", "是", "converted"})
NEGATIVE_TOKENS = frozenset({"no", "n", "false", "f", "0", "0.0", "否", "not converted"})

ColumnKind = Literal["numeric", "categorical"]


class LeadDataError(ValueError):
    """The file cannot be evaluated; the message names the column (or the file) and why."""


@dataclass(frozen=True)
class LeadColumn:
    """One feature column, ready for a model."""

    name: str
    kind: ColumnKind
    values: npt.NDArray[np.float64]
    """Numeric values, or category codes as floats; NaN where missing."""
    categories: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class DroppedColumn:
    column: str
    reason: str


@dataclass(frozen=True)
class LeadTable:
    """The leads of one CSV: the outcome ``y`` (0/1) and the feature columns kept."""

    path: str
    target: str
    y: npt.NDArray[np.int64]
    columns: tuple[LeadColumn, ...]
    dropped: tuple[DroppedColumn, ...]
    encoding: str
    notes: tuple[str, ...] = field(default=())

    @property
    def rows(self) -> int:
        return len(self.y)

    @property
    def positives(self) -> int:
        return int(self.y.sum())

    @property
    def feature_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def names_of(self, kind: ColumnKind) -> list[str]:
        return [column.name for column in self.columns if column.kind == kind]

    def matrix(self) -> npt.NDArray[np.float64]:
        """Rows × features; categorical columns hold their codes, NaN is missing."""
        if not self.columns:
            return np.empty((self.rows, 0))
        return np.column_stack([column.values for column in self.columns])

    def categorical_indices(self) -> list[int]:
        return [i for i, column in enumerate(self.columns) if column.kind == "categorical"]


def load_leads(
    path: str | Path, *, target: str, drop: Sequence[str] = (), encoding: str | None = None
) -> LeadTable:
    """Read ``path`` and type its columns; raise ``LeadDataError`` when it cannot be used.

    ``FileNotFoundError`` is left to the caller (the CLI exits 1 on it).
    """
    path = Path(path)
    raw = path.read_bytes()
    text, used_encoding = _decode(raw, encoding, path)
    header, records = _parse(text, path)
    _check_columns_exist(header, [target], role="target")
    _check_columns_exist(header, list(drop), role="--drop")

    target_index = header.index(target)
    y, kept_rows, notes = _parse_target(target, [record[target_index] for record in records])
    records = [records[i] for i in kept_rows]

    columns: list[LeadColumn] = []
    dropped = [DroppedColumn(name, "dropped on request") for name in drop if name != target]
    for index, name in enumerate(header):
        if index == target_index or name in drop:
            continue
        cells = [record[index].strip() for record in records]
        outcome = _type_column(name, cells)
        if isinstance(outcome, DroppedColumn):
            dropped.append(outcome)
        else:
            columns.append(outcome)
    if not columns:
        raise LeadDataError(
            f"{path}: no usable feature column is left besides target {target!r} "
            f"(dropped: {', '.join(d.column for d in dropped) or 'none'})"
        )
    return LeadTable(
        path=str(path),
        target=target,
        y=y,
        columns=tuple(columns),
        dropped=tuple(dropped),
        encoding=used_encoding,
        notes=tuple(notes),
    )


# -- reading ---------------------------------------------------------------------------


def _decode(raw: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    if not raw.strip():
        raise LeadDataError(f"{path}: the file is empty")
    candidates = (encoding,) if encoding else ENCODINGS
    for candidate in candidates:
        try:
            return raw.decode(candidate), candidate
        except (UnicodeDecodeError, LookupError):
            continue
    raise LeadDataError(f"{path}: cannot decode the file as {', '.join(candidates)}")


def _parse(text: str, path: Path) -> tuple[list[str], list[list[str]]]:
    text = text.removeprefix("\ufeff")
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    first_line = text.split("\n", 1)[0]
    if "," not in first_line:
        with contextlib.suppress(csv.Error):
            dialect = csv.Sniffer().sniff(text[:20000], delimiters=";\t|")
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    if not rows:
        raise LeadDataError(f"{path}: the file is empty")
    header = [cell.strip() for cell in rows[0]]
    duplicates = sorted(name for name, count in Counter(header).items() if count > 1)
    if duplicates:
        raise LeadDataError(f"{path}: the header repeats column(s) {', '.join(map(repr, duplicates))}")
    if len(rows) == 1:
        raise LeadDataError(f"{path}: the file has a header but no data rows")
    width = len(header)
    records: list[list[str]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise LeadDataError(f"{path}: row {number} has {len(row)} cells, the header has {width}")
        records.append((row + [""] * width)[:width])
    return header, records


def _check_columns_exist(header: list[str], names: Iterable[str], *, role: str) -> None:
    for name in names:
        if name in header:
            continue
        close = difflib.get_close_matches(name, header, n=3, cutoff=0.5)
        lowered = [h for h in header if h.lower() == name.lower()]
        suggestions = list(dict.fromkeys(lowered + close))
        hint = f" Did you mean {' or '.join(map(repr, suggestions))}?" if suggestions else ""
        raise LeadDataError(
            f"{role} column {name!r} is not in the file.{hint} Columns available: {', '.join(header)}"
        )


# -- the target ------------------------------------------------------------------------


def _parse_target(name: str, cells: list[str]) -> tuple[npt.NDArray[np.int64], list[int], list[str]]:
    labels: list[int] = []
    kept: list[int] = []
    bad: list[tuple[int, str]] = []
    empty = 0
    for i, cell in enumerate(cells):
        token = " ".join(cell.strip().lower().split())
        if token in POSITIVE_TOKENS:
            labels.append(1)
        elif token in NEGATIVE_TOKENS:
            labels.append(0)
        elif token in MISSING_MARKERS:
            empty += 1
            continue
        else:
            bad.append((i + 2, cell))
            continue
        kept.append(i)
    if bad:
        shown = ", ".join(f"row {row}: {value!r}" for row, value in bad[:5])
        raise LeadDataError(
            f"target column {name!r} has {len(bad)} value(s) that are not yes/no, true/false, 1/0, "
            f"是/否 or converted/not converted: {shown}"
        )
    y = np.asarray(labels, dtype=np.int64)
    classes = sorted(set(labels))
    if len(classes) < 2:
        only = "no value" if not classes else f"only {'positive' if classes[0] else 'negative'} outcomes"
        raise LeadDataError(f"target column {name!r} has {only}; two classes are needed to score leads")
    notes = [f"{empty} row(s) with an empty {name!r} were left out"] if empty else []
    return y, kept, notes


# -- feature columns -------------------------------------------------------------------


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_MARKERS


def _to_number(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _type_column(name: str, cells: list[str]) -> LeadColumn | DroppedColumn:
    present = [(i, cell) for i, cell in enumerate(cells) if not is_missing(cell)]
    rows = len(cells)
    if not present:
        return DroppedColumn(name, "empty")
    distinct = Counter(cell for _, cell in present)
    if len(distinct) == 1 and len(present) == rows:
        return DroppedColumn(name, "constant")

    numbers = [(i, _to_number(cell)) for i, cell in present]
    parsed = [(i, v) for i, v in numbers if v is not None]
    if len(parsed) >= NUMERIC_SHARE * len(present):
        values = np.full(rows, np.nan)
        for i, v in parsed:
            values[i] = v
        unique = len(set(v for _, v in parsed))
        if rows > 1 and unique == rows and all(v == int(v) for _, v in parsed):
            return DroppedColumn(name, "id-like (a different integer in every row)")
        if unique == 1 and len(parsed) == rows:
            return DroppedColumn(name, "constant")
        failed = len(present) - len(parsed)
        note = f"{failed} non-numeric value(s) treated as missing" if failed else None
        return LeadColumn(name, "numeric", values, note=note)

    if rows > 1 and len(distinct) == rows:
        return DroppedColumn(name, "id-like (a different value in every row)")
    ranked = sorted(distinct.items(), key=lambda item: (-item[1], item[0]))
    note = None
    if len(ranked) > MAX_CATEGORIES:
        kept = [value for value, _ in ranked[:TOP_K]]
        categories = (*kept, OTHER)
        note = f"{len(ranked)} distinct values: top {TOP_K} kept, the rest grouped as {OTHER!r}"
    else:
        categories = tuple(value for value, _ in ranked)
    code_of = {value: code for code, value in enumerate(categories)}
    other_code = code_of.get(OTHER, len(categories) - 1)
    codes = np.full(rows, np.nan)
    for i, cell in present:
        codes[i] = code_of.get(cell, other_code)
    return LeadColumn(name, "categorical", codes, categories=categories, note=note)
