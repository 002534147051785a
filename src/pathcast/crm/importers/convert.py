"""Turning CSV text into typed values, with short, precise reasons when that fails.

Dates without a time become 12:00 UTC of that day: a snapshot taken at the start of a
day never sees that day's moves, one taken at its end does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Numeric, String

from pathcast.crm import models as m
from pathcast.events import to_jsonable

ISO_DATE = "%Y-%m-%d"
NOON = time(12, 0, tzinfo=UTC)
_CURRENCY_SIGNS = "$€£¥￥"
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_GROUPED_COMMA = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")


class ValueProblem(ValueError):
    """A cell that cannot become the value its field needs; the message is the reason."""


@dataclass(frozen=True)
class Problem:
    """A reason to reject a row, before it is tied to a file and row number."""

    column: str
    value: str
    reason: str


# --- scalar values -------------------------------------------------------------------


def parse_decimal(raw: str, *, decimal_comma: bool = False) -> Decimal:
    """A number like ``1234.50``, ``1,234.50`` or ``$1,234`` (``1.234,50`` with decimal_comma)."""
    text = raw.strip().strip(_CURRENCY_SIGNS).replace(" ", "").replace("\u00a0", "")
    if decimal_comma:
        if _GROUPED_COMMA.match(text):
            text = text.replace(".", "")
        text = text.replace(",", ".")
    elif _GROUPED.match(text):
        text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueProblem("expected a number like 1234.50") from None
    if not value.is_finite():
        raise ValueProblem("expected a number like 1234.50")
    return value


def parse_int(raw: str, *, decimal_comma: bool = False) -> int:
    """A whole number like ``1200`` or ``1,200`` (``1200.0`` is accepted too)."""
    try:
        value = parse_decimal(raw, decimal_comma=decimal_comma)
    except ValueProblem:
        raise ValueProblem("expected a whole number like 1200") from None
    if value != value.to_integral_value():
        raise ValueProblem("expected a whole number like 1200")
    return int(value)


def parse_date(raw: str, formats: Sequence[str] = ()) -> date:
    """A calendar date: ISO ``2024-03-31`` (a trailing time is ignored) or one of ``formats``."""
    text = raw.strip()
    for candidate in (text, text[:10]):
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            pass
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    hint = f" or {formats[0]}" if formats else ""
    raise ValueProblem(f"expected a date like 2024-03-31{hint}")


def parse_datetime(raw: str, formats: Sequence[str] = ()) -> datetime:
    """A moment: ISO 8601 with or without zone (UTC assumed), or a date (noon UTC)."""
    text = raw.strip()
    parsed = _first_datetime(text, formats)
    if parsed is None:
        try:
            return at_noon(parse_date(text, formats))
        except ValueProblem:
            raise ValueProblem("expected a date like 2024-03-31 or 2024-03-31T14:30:00Z") from None
    if len(text) <= 10:
        return at_noon(parsed.date())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _first_datetime(text: str, formats: Sequence[str]) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", *formats):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def at_noon(day: date) -> datetime:
    """The moment a date-only fact is placed at: 12:00 UTC of that day."""
    return datetime.combine(day, NOON)


# --- stages --------------------------------------------------------------------------

# Source stage names (normalised: lower case, letters and digits only) -> default stage key.
STAGE_SYNONYMS: dict[str, str] = {
    # Salesforce standard sales process
    "prospecting": "lead",
    "qualification": "qualified",
    "needsanalysis": "discovery",
    "valueproposition": "solution",
    "iddecisionmakers": "solution",
    "perceptionanalysis": "proposal",
    "proposalpricequote": "proposal",
    "negotiationreview": "negotiation",
    "closedwon": "won",
    "closedlost": "lost",
    # HubSpot default deal pipeline (internal values and labels normalise alike)
    "appointmentscheduled": "qualified",
    "qualifiedtobuy": "discovery",
    "presentationscheduled": "solution",
    "decisionmakerboughtin": "proposal",
    "contractsent": "negotiation",
    # common words
    "new": "lead",
    "open": "lead",
    "prospect": "lead",
    "qualify": "qualified",
    "needsassessment": "discovery",
    "demo": "solution",
    "poc": "solution",
    "proofofconcept": "solution",
    "quote": "proposal",
    "quoted": "proposal",
    "negotiating": "negotiation",
    "closing": "negotiation",
    "commit": "negotiation",
    "win": "won",
    "closedwin": "won",
    "lose": "lost",
    "closedlose": "lost",
}


def normalise_label(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


class StageResolver:
    """Finds a pipeline stage from a source's stage name: value map, key, name, synonym."""

    def __init__(self, stages: Sequence[m.Stage], value_map: Mapping[str, str] | None = None) -> None:
        self.stages = list(stages)
        self._by_label: dict[str, m.Stage] = {}
        by_key = {stage.key: stage for stage in self.stages}
        for label, key in STAGE_SYNONYMS.items():
            if key in by_key:
                self._by_label[label] = by_key[key]
        for stage in self.stages:
            for label in (stage.key, stage.name, stage.name_zh or ""):
                if label:
                    self._by_label[normalise_label(label)] = stage
        self._mapped: dict[str, str] = {}
        for source, target in (value_map or {}).items():
            self._mapped[normalise_label(source)] = target

    def resolve(self, raw: str) -> m.Stage:
        """The stage ``raw`` names, or ValueProblem listing the known keys."""
        label = normalise_label(raw)
        target = self._mapped.get(label)
        if target is not None:
            label = normalise_label(target)
        stage = self._by_label.get(label)
        if stage is None or not label:
            raise ValueProblem(f"unknown stage {raw.strip()!r} (known: {self.known()})")
        return stage

    def known(self) -> str:
        return ", ".join(stage.key for stage in self.stages)

    def first_open(self) -> m.Stage:
        """Where a deal starts: the first open stage in board order."""
        for stage in self.stages:
            if stage.status_class == m.StageClass.open.value:
                return stage
        return self.stages[0]


# --- validation against the Create schemas -------------------------------------------


def validate(
    schema: type[BaseModel],
    data: Mapping[str, Any],
    columns: Mapping[str, str],
    raw: Mapping[str, str],
) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Validate ``data`` with ``schema``; each pydantic error becomes a Problem naming the
    CSV column the field came from (``columns``: field -> column, ``raw``: field -> text)."""
    try:
        model = schema.model_validate(dict(data))
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            loc = item.get("loc") or ("",)
            name = str(loc[0])
            problems.append(
                Problem(columns.get(name, name), raw.get(name, _shown(data.get(name))), _message(item))
            )
        return None, problems
    return model.model_dump(exclude_unset=True), []


def _message(item: Any) -> str:
    message = str(item.get("msg", "invalid value"))
    return message.removeprefix("Value error, ").removeprefix("value is not a valid email address: ")


def _shown(value: Any) -> str:
    return "" if value is None else str(to_jsonable(value))


def fit_columns(model: type[Any], values: Mapping[str, Any], columns: Mapping[str, str]) -> list[Problem]:
    """Text longer than the table column allows (PostgreSQL would refuse the row)."""
    problems = []
    table = model.__table__
    for name, value in values.items():
        if not isinstance(value, str) or name not in table.columns:
            continue
        column_type = table.columns[name].type
        if isinstance(column_type, String) and column_type.length and len(value) > column_type.length:
            problems.append(
                Problem(columns.get(name, name), value[:60], f"longer than {column_type.length} characters")
            )
    return problems


def normalise_numbers(model: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Round decimals to the column's scale, so a re-import compares equal to what is stored."""
    table = model.__table__
    for name, value in values.items():
        if isinstance(value, Decimal) and name in table.columns:
            column_type = table.columns[name].type
            if isinstance(column_type, Numeric) and column_type.scale is not None:
                values[name] = value.quantize(Decimal(1).scaleb(-column_type.scale))
    return values


def same(stored: Any, wanted: Any) -> bool:
    """Whether a stored value already equals the imported one."""
    if isinstance(stored, Decimal) or isinstance(wanted, Decimal):
        if stored is None or wanted is None:
            return stored is wanted
        return Decimal(str(stored)) == Decimal(str(wanted))
    return bool(to_jsonable(stored) == to_jsonable(wanted))


def changed_fields(record: Any, values: Mapping[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of ``values`` (ignoring None: empty cells never erase) that differ."""
    skipped = set(skip)
    return {
        name: value
        for name, value in values.items()
        if value is not None and name not in skipped and not same(getattr(record, name), value)
    }
