"""Importing files through a column mapping (a user's mapping file or a built-in layout).

Files are imported accounts first, then contacts, then opportunities, whatever the
order they were given in, so links by external id find their targets. Within an
accounts file, parents are imported before their subsidiaries.

Deal history is kept honest: a closed deal with a creation date is opened in the
pipeline's first open stage at that date and moved to won/lost at its close date
(``closed_at``, else the close date at 12:00 UTC), and its close date is set at that
moment too. Without a creation date it is created already closed at its close date.
An open deal is created in its stage at its creation date (or now).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from pathcast.auth.models import Role, User
from pathcast.crm import models as m
from pathcast.crm.importers.base import SourceRow
from pathcast.crm.importers.convert import (
    Problem,
    StageResolver,
    ValueProblem,
    at_noon,
    fit_columns,
    normalise_label,
    normalise_numbers,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_int,
    validate,
)
from pathcast.crm.importers.mapping import FIELDS, BoundMapping
from pathcast.crm.importers.writer import DealPlan, Importer, Outcome, RowRejected
from pathcast.crm.service import SPECS, default_pipeline, ensure_default_pipeline, stages_of
from pathcast.crm.service.pipelines import DEFAULT_STAGES, ensure_pipeline

ORDER = {"account": 0, "contact": 1, "opportunity": 2}
FORECAST = {normalise_label(c.value): c.value for c in m.ForecastCategory} | {"bestcase": "best_case"}
# schema field -> mapping field that feeds it
SCHEMA_SOURCE = {
    "parent_id": "parent",
    "owner_id": "owner",
    "account_id": "account",
    "contact_id": "contact",
    "stage_id": "stage",
}
FIELD_SCHEMA = {field: schema for schema, field in SCHEMA_SOURCE.items()}
_TARGET = {"parent": "account", "account": "account", "contact": "contact"}
_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "text": str,
    "lower": str.lower,
    "upper": str.upper,
}


def import_bound(importer: Importer, bounds: list[BoundMapping]) -> None:
    """Import every bound file, in entity order, through ``importer``."""
    for bound in sorted(bounds, key=lambda b: ORDER[b.mapping.entity]):
        entity = bound.mapping.entity
        importer.reject_unreadable(entity, bound.table.rejects)
        converter = RowConverter(importer, bound)
        rows = converter.parents_first(bound.table.rows) if entity == "account" else bound.table.rows
        task = f"{bound.table.name} ({entity})"
        total = len(rows)
        for done, row in enumerate(rows, start=1):
            importer.run_row(entity, bound.table.name, row, _bind(converter, row), converter.service_columns)
            if importer.progress is not None:
                importer.progress(task, done, total)
        importer.commit_chunk()


def _bind(converter: RowConverter, row: SourceRow) -> Callable[[], Outcome]:
    return lambda: converter.apply(row)


class RowConverter:
    """Turns one file's rows into validated values and hands them to the importer."""

    def __init__(self, importer: Importer, bound: BoundMapping) -> None:
        self.importer = importer
        self.bound = bound
        self.mapping = bound.mapping
        self.entity = self.mapping.entity
        self.source = self.mapping.source
        self.spec = SPECS[self.entity]
        self.columns = {name: bound.column(name) for name in bound.indices}
        self.service_columns = {
            schema: self.columns.get(field, field) for schema, field in SCHEMA_SOURCE.items()
        }
        if "account_name" in self.columns and "account" not in self.columns:
            self.service_columns["account_id"] = self.columns["account_name"]
        self._owners: dict[str, int] | None = None
        self._account_names: dict[str, int] | None = None
        self.resolver: StageResolver | None = None
        self.pipeline_id: int | None = None
        if self.entity == "opportunity":
            self._prepare_pipeline()

    def _prepare_pipeline(self) -> None:
        session, actor = self.importer.session, self.importer.actor
        if self.mapping.pipeline:
            pipeline = session.scalars(
                select(m.Pipeline).where(m.Pipeline.name == self.mapping.pipeline)
            ).first()
            if pipeline is None:
                pipeline = ensure_pipeline(
                    session, actor=actor, name=self.mapping.pipeline, stages=DEFAULT_STAGES
                )
        else:
            ensure_default_pipeline(session, actor=actor)
            pipeline = default_pipeline(session)
        self.pipeline_id = pipeline.id
        self.resolver = StageResolver(stages_of(session, pipeline.id), self.mapping.values.get("stage"))

    # --- ordering ------------------------------------------------------------------

    def parents_first(self, rows: list[SourceRow]) -> list[SourceRow]:
        """Accounts ordered so each parent in the file comes before its subsidiaries."""
        if "parent" not in self.bound.indices:
            return rows
        by_id = {self.ref_key(self.bound.external_id(row)): row for row in rows}
        ordered: list[SourceRow] = []
        placed: set[int] = set()

        def place(row: SourceRow, depth: int) -> None:
            if id(row) in placed:
                return
            placed.add(id(row))  # marks cycles too; the cycle's rows will be rejected
            parent = by_id.get(self.ref_key(self.bound.cell(row, "parent")[0]))
            if parent is not None and depth < 100:
                place(parent, depth + 1)
            ordered.append(row)

        for row in rows:
            place(row, 0)
        return ordered

    # --- one row -------------------------------------------------------------------

    def ref_key(self, text: str) -> str:
        """The form an external id is stored and matched in (Salesforce ids in 18 chars)."""
        text = text.split(";")[0].strip()
        if self.mapping.label.startswith("Salesforce") and len(text) == 15 and text.isalnum():
            return salesforce_id18(text)
        return text

    def apply(self, row: SourceRow) -> Outcome:
        """Convert, validate and write one row; raises RowRejected with every problem."""
        problems: list[Problem] = []
        external_id = self.ref_key(self.bound.external_id(row))
        if not external_id:
            problems.append(Problem(self.bound.id_column, "", "required value is empty"))
        raw: dict[str, str] = {}
        values: dict[str, Any] = {}
        for name, kind in FIELDS[self.entity].items():
            if name not in self.bound.indices:
                continue
            text, column = self.bound.cell(row, name)
            if not text:
                continue
            text = self._mapped(name, text)
            raw[name] = text
            try:
                values[name] = self._convert(name, kind, text, external_id)
            except ValueProblem as problem:
                problems.append(Problem(column, text, str(problem)))
        data = self._schema_data(values)
        if not data.get("name"):
            name_column = self.columns.get("name") or self.columns.get("last_name") or "name"
            problems.append(Problem(name_column, "", "required value is empty"))
        columns = {key: self.columns.get(SCHEMA_SOURCE.get(key, key), key) for key in data}
        columns["name"] = self.columns.get("name") or self.columns.get("last_name", "name")
        columns["external_id"] = self.bound.id_column
        shown = {key: raw.get(SCHEMA_SOURCE.get(key, key), "") for key in data}
        checked = {**data, "external_source": self.source, "external_id": external_id}
        validated, invalid = validate(self.spec.create_schema, checked, columns, shown)
        flagged = {problem.column for problem in problems}
        problems += [p for p in invalid if p.column not in flagged]
        if validated is not None:
            validated.pop("external_source", None)
            validated.pop("external_id", None)
            problems += fit_columns(self.spec.model, {**validated, "external_id": external_id}, columns)
        if problems or validated is None:
            raise RowRejected(problems)
        normalise_numbers(self.spec.model, validated)
        if self.entity == "opportunity":
            plan = self._plan(validated, values, external_id)
            return self.importer.upsert_deal(self.source, external_id, plan)
        return self.importer.upsert(self.entity, self.source, external_id, validated)

    def _mapped(self, name: str, text: str) -> str:
        table = self.mapping.values.get(name)
        if not table or name == "stage":  # the stage resolver applies its own map
            return text
        if text in table:
            return table[text]
        folded = {key.strip().casefold(): value for key, value in table.items()}
        return folded.get(text.casefold(), text)

    def _convert(self, name: str, kind: str, text: str, own_id: str) -> Any:
        if kind in _CONVERTERS:
            return _CONVERTERS[kind](text)
        if kind == "int":
            return parse_int(text, decimal_comma=self.mapping.decimal_comma)
        if kind == "decimal":
            return parse_decimal(text, decimal_comma=self.mapping.decimal_comma)
        if kind == "date":
            return parse_date(text, self.mapping.date_formats)
        if kind == "datetime":
            return parse_datetime(text, self.mapping.date_formats)
        if kind == "ref":
            return self._reference(name, text, own_id)
        if kind == "name_ref":
            return self._account_by_name(text)
        if kind == "owner":
            return self._owner(text)
        if kind == "stage":
            assert self.resolver is not None
            return self.resolver.resolve(text)
        if kind == "forecast":
            category = FORECAST.get(normalise_label(text))
            if category is None:
                known = ", ".join(c.value for c in m.ForecastCategory)
                raise ValueProblem(f"unknown forecast category {text!r} (known: {known})")
            return category
        raise AssertionError(f"unhandled field kind {kind}")

    def _reference(self, name: str, text: str, own_id: str) -> int:
        target = _TARGET[name]
        key = self.ref_key(text)
        if name == "parent" and key == own_id:
            raise ValueProblem("an account cannot be its own parent")
        record = self.importer.existing(target, self.source).get(key)
        if record is None:
            raise ValueProblem(
                f"unknown {target} id {key!r} (not among the {self.source} {target}s imported)"
            )
        return int(record.id)

    def _account_by_name(self, text: str) -> int | None:
        if self._account_names is None:
            names: dict[str, int] = {}
            rows = self.importer.session.execute(
                select(m.Account.id, m.Account.name, m.Account.external_source).order_by(m.Account.id)
            )
            for account_id, name, source in rows:
                key = name.casefold()
                # an account of the same source wins over a namesake from elsewhere
                if key not in names or source == self.source:
                    names[key] = account_id
            self._account_names = names
        found = self._account_names.get(text.casefold())
        if found is None:
            self.importer.report.warnings[
                f"{self.bound.table.name}: company name matched no account; row imported without the link"
            ] += 1
        return found

    def _owner(self, text: str) -> int | None:
        if self._owners is None:
            self._owners = owner_index(self.importer.users(), self.source)
        found = self._owners.get(text.casefold())
        if found is None:
            self.importer.report.warnings[
                f"{self.bound.table.name}: owner matched no user; row imported without an owner"
            ] += 1
        return found

    def _schema_data(self, values: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        plain = {
            name
            for name, kind in FIELDS[self.entity].items()
            if kind not in ("ref", "name_ref", "owner", "stage")
        }
        for name in plain - {"first_name", "last_name", "created_at", "closed_at"}:
            if name in values:
                data[name] = values[name]
        if self.entity == "contact" and "name" not in data:
            joined = full_name(values.get("first_name", ""), values.get("last_name", ""))
            if joined:
                data["name"] = joined
        for field in ("parent", "owner", "account", "contact"):
            if values.get(field) is not None:
                data[FIELD_SCHEMA[field]] = values[field]
        if values.get("account_name") is not None and "account_id" not in data:
            data["account_id"] = values["account_name"]
        if self.entity == "opportunity":
            if "currency" not in data and self.mapping.currency:
                data["currency"] = self.mapping.currency
            data["pipeline_id"] = self.pipeline_id
            if values.get("stage") is not None:
                data["stage_id"] = values["stage"].id
        return data

    def _plan(self, validated: dict[str, Any], values: dict[str, Any], external_id: str) -> DealPlan:
        assert self.resolver is not None
        stage: m.Stage | None = values.get("stage")
        if stage is None:
            current = self.importer.existing("opportunity", self.source).get(external_id)
            stage = self.importer.session.get(m.Stage, current.stage_id) if current else None
        stage = stage or self.resolver.first_open()
        validated.pop("stage_id", None)
        created = values.get("created_at")
        if stage.status_class == m.StageClass.open.value:
            return DealPlan(values=validated, stage=stage, opened_at=created)
        close_date = validated.get("expected_close_date")
        closed_at = values.get("closed_at") or (at_noon(close_date) if close_date else None)
        if closed_at is not None and created is not None and created <= closed_at:
            late = {"expected_close_date": validated.pop("expected_close_date")} if close_date else {}
            return DealPlan(
                values=validated,
                stage=stage,
                opened_at=created,
                opening_stage=self.resolver.first_open(),
                closed_at=closed_at,
                late=late,
            )
        return DealPlan(values=validated, stage=stage, opened_at=closed_at or created, closed_at=closed_at)


def full_name(first: str, last: str) -> str:
    """``Jane`` + ``Doe`` -> ``Jane Doe``; Chinese names family name first, unspaced:
    ``芳`` + ``王`` -> ``王芳``."""
    if first and last and all(_is_cjk(char) for char in first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def owner_index(users: list[User], source: str) -> dict[str, int]:
    """Staff users by lower-case e-mail, by external id of ``source``, and by unique name."""
    index: dict[str, int] = {}
    names: dict[str, list[int]] = {}
    for user in users:
        if user.role == Role.customer_contact.value:
            continue
        index[user.email.casefold()] = user.id
        if user.external_source == source and user.external_id:
            index.setdefault(user.external_id.casefold(), user.id)
        names.setdefault(user.name.casefold(), []).append(user.id)
    for name, ids in names.items():
        if len(ids) == 1:
            index.setdefault(name, ids[0])
    return index


def salesforce_id18(id15: str) -> str:
    """The case-insensitive 18-character form of a 15-character Salesforce id."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if char.isupper())
        suffix += alphabet[bits]
    return id15 + suffix
