"""Posted form fields: parse the strings, validate them with the entity's schema, and turn
every problem into a message beside its field, in the viewer's language.

A page form is a tuple of ``FormField``. ``parse_form`` reads the posted strings, converts
the ones a schema cannot read as typed (dates written loosely, date-times, which are UTC),
then validates the lot with the entity's pydantic ``Create`` / ``Update`` schema. Pydantic's
error types map onto catalogue codes (``errors.field.<code>``) so the message is a
sentence in the user's language, not pydantic's English.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from pathcast.errors import FieldError
from pathcast.i18n import translate
from pathcast.problems import localised_params

FieldKind = Literal[
    "text", "textarea", "email", "integer", "decimal", "date", "datetime", "due_date", "select"
]
CENT = Decimal("0.01")
# The end of a due day: a task due on 3 March is overdue from 4 March (UTC).
END_OF_DAY = time(23, 59)
_DAY = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_MOMENT = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?(?:Z|[+-]00:?00)?$"
)

# pydantic error type -> catalogue code (``errors.field.<code>``)
PYDANTIC_CODES = {
    "missing": "missing",
    "string_too_short": "missing",
    "string_too_long": "too_long",
    "string_pattern_mismatch": "format_invalid",
    "greater_than_equal": "too_small",
    "greater_than": "too_small_strict",
    "less_than_equal": "too_large",
    "less_than": "too_large_strict",
    "decimal_parsing": "number_invalid",
    "decimal_type": "number_invalid",
    "float_parsing": "number_invalid",
    "finite_number": "number_invalid",
    "decimal_max_digits": "number_too_long",
    "decimal_whole_digits": "number_too_long",
    "decimal_max_places": "too_many_decimals",
    "int_parsing": "integer_invalid",
    "int_from_float": "integer_invalid",
    "int_type": "integer_invalid",
    "date_parsing": "date_invalid",
    "date_from_datetime_parsing": "date_invalid",
    "date_from_datetime_inexact": "date_invalid",
    "date_type": "date_invalid",
    "datetime_parsing": "datetime_invalid",
    "datetime_from_date_parsing": "datetime_invalid",
    "datetime_type": "datetime_invalid",
    "enum": "choice_invalid",
    "literal_error": "choice_invalid",
}


@dataclass(frozen=True)
class FormField:
    """One input of a page form: its name (the schema field), how to read it, and whether
    it may be left empty."""

    name: str
    kind: FieldKind = "text"
    required: bool = False
    label_key: str | None = None
    hint_key: str | None = None

    @property
    def key(self) -> str:
        return self.label_key or f"fields.{self.name}"


@dataclass
class FormResult:
    """What a posted form said: the typed values, the raw strings (to show again), and
    at most one problem per field (``""`` for problems that belong to no field)."""

    values: dict[str, Any]
    raw: dict[str, str]
    errors: dict[str, FieldError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, errors: Iterable[FieldError], names: Iterable[str]) -> None:
        """Attach service errors to their fields; errors on fields the form lacks go to ``""``."""
        known = set(names)
        for error in errors:
            self.errors.setdefault(error.field if error.field in known else "", error)


def parse_day(text: str) -> date | None:
    """A date written ``2026-03-31`` (or with ``/`` or ``.``), or None if it is not one."""
    found = _DAY.match(text.strip())
    if found is None:
        return None
    try:
        return date(*(int(part) for part in found.groups()))
    except ValueError:
        return None


def parse_moment(text: str) -> datetime | None:
    """A UTC date-time written ``2026-03-31 14:30`` (time optional), or None."""
    found = _MOMENT.match(text.strip())
    if found is None:
        return None
    year, month, day, hour, minute, second = (int(part) if part else 0 for part in found.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def _convert(spec: FormField, text: str, choices: Sequence[str] | None) -> Any | FieldError:
    """The posted string in the type the schema expects, or the problem with it."""
    if spec.kind == "decimal":
        return text.replace(",", "").replace(" ", "").replace("_", "")
    if spec.kind == "integer":
        return text.replace(",", "").replace(" ", "")
    if spec.kind == "date":
        day = parse_day(text)
        return day.isoformat() if day else FieldError(spec.name, "date_invalid", {"value": text})
    if spec.kind == "due_date":
        day = parse_day(text)
        if day is None:
            return FieldError(spec.name, "date_invalid", {"value": text})
        return datetime.combine(day, END_OF_DAY, tzinfo=UTC)
    if spec.kind == "datetime":
        moment = parse_moment(text)
        return moment if moment else FieldError(spec.name, "datetime_invalid", {"value": text})
    if spec.kind == "select" and choices is not None and text not in choices:
        return FieldError(spec.name, "choice_invalid", {"value": text})
    if spec.name == "currency":
        return text.upper()
    return text


def parse_form(
    fields: Sequence[FormField],
    form: Mapping[str, Any],
    *,
    schema: type[BaseModel] | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> FormResult:
    """Read ``fields`` from a posted form and validate them (with ``fixed`` values the
    form does not show) against ``schema``. Empty optional fields become None."""
    raw: dict[str, str] = {}
    values: dict[str, Any] = {}
    errors: dict[str, FieldError] = {}
    for spec in fields:
        posted = form.get(spec.name)
        text = posted.strip() if isinstance(posted, str) else ""
        raw[spec.name] = text
        if not text:
            if spec.required:
                errors[spec.name] = FieldError(spec.name, "missing")
            else:
                values[spec.name] = None
            continue
        converted = _convert(spec, text, (choices or {}).get(spec.name))
        if isinstance(converted, FieldError):
            errors[spec.name] = converted
        else:
            values[spec.name] = converted
    result = FormResult(values=values, raw=raw, errors=errors)
    if schema is None:
        return result
    data = {**(fixed or {}), **values}
    try:
        validated = schema.model_validate(data)
    except ValidationError as error:
        for problem in error.errors():
            found = pydantic_error(problem)
            if found.field not in result.errors:
                result.errors[found.field] = found
        return result
    kinds = {spec.name: spec.kind for spec in fields}
    for name in values:
        value = getattr(validated, name)
        if kinds.get(name) == "decimal" and isinstance(value, Decimal):
            # Stored with two places: 150000 and 150000.00 are the same amount.
            value = value.quantize(CENT)
        result.values[name] = value
    return result


def pydantic_error(problem: Mapping[str, Any]) -> FieldError:
    """One pydantic error as a ``FieldError`` with a catalogue code and its parameters."""
    location = [str(part) for part in problem.get("loc", ())]
    name = location[0] if location else ""
    kind = str(problem.get("type", ""))
    context = dict(problem.get("ctx") or {})
    code = PYDANTIC_CODES.get(kind)
    if kind == "value_error" and name == "email":
        code = "email_invalid"
    elif code == "format_invalid" and name == "currency":
        code = "currency_invalid"
    if code is None:
        return FieldError(name, "invalid", {"message": str(problem.get("msg", ""))})
    params: dict[str, Any] = {}
    for source, target in (
        ("ge", "min"),
        ("gt", "min"),
        ("le", "max"),
        ("lt", "max"),
        ("max_length", "max"),
        ("max_digits", "max"),
        ("decimal_places", "places"),
    ):
        if source in context:
            params[target] = context[source]
    return FieldError(name, code, params)


def message(error: FieldError, locale: str) -> str:
    """The sentence for one field error in ``locale``."""
    return translate(f"errors.field.{error.code}", locale, **localised_params(error.params, locale))


def messages(result: FormResult, locale: str) -> dict[str, str]:
    """``{field: sentence}`` for every problem of a form (``""`` holds the general one)."""
    return {name: message(error, locale) for name, error in result.errors.items()}


async def posted_form(request: Request) -> dict[str, str]:
    """The posted fields as plain strings (files are ignored). Starlette caches the parsed
    form, so the CSRF check and the handler read it once."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


PostedForm = Annotated[dict[str, str], Depends(posted_form)]


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it swaps a fragment instead of loading a page)."""
    return request.headers.get("HX-Request") == "true"


# --- the fields a record page lets people edit in place --------------------------------

EDITABLE: dict[str, tuple[FormField, ...]] = {
    "opportunity": (
        FormField("name", required=True),
        FormField("stage_id", "select", required=True),
        FormField("amount", "decimal"),
        FormField("currency", required=True, hint_key="records.hints.currency"),
        FormField("expected_close_date", "date", hint_key="records.hints.date"),
        FormField("forecast_category", "select", required=True),
        FormField("lead_source"),
        FormField("description", "textarea"),
    ),
    "account": (
        FormField("name", required=True),
        FormField("industry"),
        FormField("tier", "select", required=True),
        FormField("region"),
        FormField("country"),
        FormField("city"),
        FormField("employees", "integer"),
        FormField("annual_revenue", "decimal"),
        FormField("year_established", "integer"),
        FormField("website"),
        FormField("notes", "textarea"),
    ),
    "contact": (
        FormField("name", required=True),
        FormField("title"),
        FormField("department"),
        FormField("email", "email"),
        FormField("phone"),
        FormField("notes", "textarea"),
    ),
}


def editable_field(entity: str, name: str) -> FormField | None:
    """The in-place editable field ``name`` of ``entity``, if there is one."""
    return next((spec for spec in EDITABLE.get(entity, ()) if spec.name == name), None)
