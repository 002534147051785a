"""Column mappings: which CSV column feeds which field, for the generic importer and the
built-in Salesforce and HubSpot layouts.

Mapping file format (JSON or TOML; see also docs/import.md)::

    entity = "opportunity"        # account | contact | opportunity
    source = "legacy-crm"         # external_source stored on every record (max 40 chars)
    external_id = "Deal ID"       # the column with the source's own id (required)
    file = "deals*.csv"           # optional: which input files this mapping is for

    [columns]                     # field = "CSV column", or a list: first non-empty wins
    name = "Deal"
    stage = "Stage"
    amount = "Value"
    expected_close_date = "Expected close"
    account = "Organisation ID"   # external id of an account from the same source

    [values.stage]                # optional value maps: source text -> our value
    "Demo booked" = "solution"

    [options]
    date_format = "%d.%m.%Y"      # besides ISO 2024-03-31 (a string or a list)
    decimal_comma = true          # 1.234,50
    currency = "EUR"              # for rows without a currency column
    pipeline = "Sales"            # an existing pipeline; default: the default pipeline

A file may instead hold ``[[mappings]]`` (JSON: ``"mappings": [...]``), each a table as
above; an input file takes the mapping whose ``file`` pattern matches its name, or else
the one whose columns its header has.

Fields per entity are listed in ``FIELDS``. ``account``, ``parent`` and ``contact`` hold
external ids of records of the same source (from this import or an earlier one); an
unknown id rejects the row. ``account_name`` and ``owner`` are soft links: matched by
name (owners also by e-mail or external id); when nothing matches the row is imported
without the link and the summary warns.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathcast.crm.importers.base import CsvTable, ImportInputError, SourceRow

FIELDS: dict[str, dict[str, str]] = {
    "account": {
        "name": "text",
        "website": "text",
        "industry": "text",
        "tier": "lower",
        "region": "text",
        "country": "text",
        "city": "text",
        "employees": "int",
        "annual_revenue": "decimal",
        "year_established": "int",
        "notes": "text",
        "parent": "ref",
        "owner": "owner",
    },
    "contact": {
        "name": "text",
        "first_name": "text",
        "last_name": "text",
        "title": "text",
        "department": "text",
        "email": "text",
        "phone": "text",
        "notes": "text",
        "account": "ref",
        "account_name": "name_ref",
        "owner": "owner",
    },
    "opportunity": {
        "name": "text",
        "account": "ref",
        "account_name": "name_ref",
        "contact": "ref",
        "stage": "stage",
        "amount": "decimal",
        "currency": "upper",
        "expected_close_date": "date",
        "created_at": "datetime",
        "closed_at": "datetime",
        "forecast_category": "forecast",
        "lead_source": "text",
        "description": "text",
        "owner": "owner",
    },
}
ENTITY_ALIASES = {
    "account": "account",
    "accounts": "account",
    "company": "account",
    "companies": "account",
    "contact": "contact",
    "contacts": "contact",
    "opportunity": "opportunity",
    "opportunities": "opportunity",
    "deal": "opportunity",
    "deals": "opportunity",
}
_TOP_KEYS = {"entity", "source", "external_id", "columns", "values", "options", "file", "label"}
_OPTION_KEYS = {"date_format", "decimal_comma", "currency", "pipeline"}


@dataclass(frozen=True)
class ColumnMapping:
    """How one input file maps onto one entity."""

    entity: str
    source: str
    external_id: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    date_formats: tuple[str, ...] = ()
    decimal_comma: bool = False
    currency: str | None = None
    pipeline: str | None = None
    file: str | None = None
    label: str = ""
    strict: bool = True  # user mappings: every mapped column must exist in the file

    def bind(self, table: CsvTable) -> BoundMapping:
        """Tie the mapping to a file's header; ImportInputError names missing columns."""
        where = f"{table.name} ({self.label or self.entity} mapping)"
        id_index = _first_present(table, self.external_id)
        if id_index is None:
            raise ImportInputError(f"{where}: no external id column {_names(self.external_id)}")
        indices: dict[str, list[int]] = {}
        missing: list[str] = []
        for name, alternatives in self.columns.items():
            found = [i for c in alternatives if (i := table.column_index(c)) is not None]
            if found:
                indices[name] = found
            elif self.strict:
                missing.append(f"{name} <- {_names(alternatives)}")
        if missing:
            raise ImportInputError(f"{where}: the file has no column for " + "; ".join(missing))
        required = ["name"] if self.entity != "contact" else ["name", "last_name", "first_name"]
        if not any(name in indices for name in required):
            raise ImportInputError(f"{where}: no column for the required field 'name'")
        return BoundMapping(self, table, id_index, indices)


@dataclass
class BoundMapping:
    """A mapping tied to one file: column positions resolved."""

    mapping: ColumnMapping
    table: CsvTable
    id_index: int
    indices: dict[str, list[int]]

    def cell(self, row: SourceRow, name: str) -> tuple[str, str]:
        """(text, column) of a field in a row: the first non-empty alternative, stripped."""
        positions = self.indices.get(name, [])
        for index in positions:
            text = row.cells[index].strip()
            if text:
                return text, self.table.header[index]
        column = self.table.header[positions[0]] if positions else name
        return "", column

    def column(self, name: str) -> str:
        positions = self.indices.get(name)
        return self.table.header[positions[0]] if positions else name

    def external_id(self, row: SourceRow) -> str:
        return row.cells[self.id_index].strip()

    @property
    def id_column(self) -> str:
        return self.table.header[self.id_index]


def _first_present(table: CsvTable, columns: Sequence[str]) -> int | None:
    for column in columns:
        index = table.column_index(column)
        if index is not None:
            return index
    return None


def _names(columns: Sequence[str]) -> str:
    return " or ".join(repr(column) for column in columns)


# --- loading mapping files -------------------------------------------------------------


def load_mapping_file(path: Path) -> list[ColumnMapping]:
    """Read a JSON or TOML mapping file; ImportInputError says what is wrong and where."""
    if not path.is_file():
        raise ImportInputError(f"mapping file not found: {path}")
    text = path.read_text(encoding="utf-8-sig")
    try:
        if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
            document = json.loads(text)
        else:
            document = tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        raise ImportInputError(f"mapping file {path.name} is not valid JSON or TOML: {error}") from None
    if not isinstance(document, dict):
        raise ImportInputError(f"mapping file {path.name}: expected a table/object at the top")
    if "mappings" in document:
        items = document["mappings"]
        if not isinstance(items, list) or not items:
            raise ImportInputError(f"mapping file {path.name}: 'mappings' must be a non-empty list")
        return [parse_mapping(item, f"{path.name} mappings[{i}]") for i, item in enumerate(items)]
    return [parse_mapping(document, path.name)]


def parse_mapping(document: Any, where: str) -> ColumnMapping:
    """Check and build one mapping from parsed JSON/TOML."""
    if not isinstance(document, dict):
        raise ImportInputError(f"{where}: expected a table/object")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise ImportInputError(f"{where}: unknown keys {sorted(unknown)} (allowed: {sorted(_TOP_KEYS)})")
    entity = ENTITY_ALIASES.get(str(document.get("entity", "")).strip().lower())
    if entity is None:
        raise ImportInputError(f"{where}: 'entity' must be one of account, contact, opportunity")
    source = _text(document.get("source", "csv"), f"{where}: 'source'")
    if len(source) > 40:
        raise ImportInputError(f"{where}: 'source' is longer than 40 characters")
    external_id = _columns(document.get("external_id"), f"{where}: 'external_id'")
    raw_columns = document.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise ImportInputError(f"{where}: 'columns' must map fields to CSV columns")
    allowed = FIELDS[entity]
    wrong = sorted(set(raw_columns) - set(allowed))
    if wrong:
        raise ImportInputError(f"{where}: unknown {entity} fields {wrong} (known: {', '.join(allowed)})")
    columns = {name: _columns(value, f"{where}: columns.{name}") for name, value in raw_columns.items()}
    if entity == "contact":
        if not {"name", "last_name", "first_name"} & set(columns):
            raise ImportInputError(f"{where}: map 'name' (or first_name/last_name) to a column")
    elif "name" not in columns:
        raise ImportInputError(f"{where}: map the required field 'name' to a column")
    values = _value_maps(document.get("values", {}), allowed, where)
    options = document.get("options", {})
    if not isinstance(options, dict) or set(options) - _OPTION_KEYS:
        raise ImportInputError(f"{where}: 'options' may hold only {sorted(_OPTION_KEYS)}")
    formats = options.get("date_format", ())
    date_formats = (formats,) if isinstance(formats, str) else tuple(str(f) for f in formats)
    currency = options.get("currency")
    if currency is not None and (not isinstance(currency, str) or len(currency) != 3):
        raise ImportInputError(f"{where}: options.currency must be a code like 'EUR'")
    file = document.get("file")
    return ColumnMapping(
        entity=entity,
        source=source,
        external_id=external_id,
        columns=columns,
        values=values,
        date_formats=date_formats,
        decimal_comma=bool(options.get("decimal_comma", False)),
        currency=currency.upper() if currency else None,
        pipeline=str(options["pipeline"]) if options.get("pipeline") else None,
        file=str(file) if file else None,
        label=str(document.get("label", "")),
    )


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ImportInputError(f"{where} must be a non-empty string")
    return value.strip()


def _columns(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) and value.strip():
        return (value.strip(),)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(v.strip() for v in value)
    raise ImportInputError(f"{where} must be a column name or a list of column names")


def _value_maps(raw: Any, allowed: Mapping[str, str], where: str) -> dict[str, dict[str, str]]:
    if not isinstance(raw, dict):
        raise ImportInputError(f"{where}: 'values' must map fields to tables of replacements")
    result: dict[str, dict[str, str]] = {}
    for name, table in raw.items():
        if name not in allowed or not isinstance(table, dict):
            raise ImportInputError(f"{where}: values.{name} must be a table for a known field")
        result[name] = {str(key): str(value) for key, value in table.items()}
    return result


def choose_mapping(mappings: Sequence[ColumnMapping], table: CsvTable) -> ColumnMapping:
    """The mapping for a file: by its ``file`` pattern, else by the columns it has."""
    if len(mappings) == 1:
        return mappings[0]
    for mapping in mappings:
        if mapping.file and fnmatch.fnmatch(table.name.lower(), mapping.file.lower()):
            return mapping
    fitting = [
        mapping
        for mapping in mappings
        if not mapping.file
        and any(table.has(c) for c in mapping.external_id)
        and all(any(table.has(c) for c in alts) for alts in mapping.columns.values())
    ]
    if len(fitting) == 1:
        return fitting[0]
    raise ImportInputError(
        f"{table.name}: {'no' if not fitting else 'more than one'} mapping fits this file; "
        "give each mapping a 'file' pattern"
    )
