"""The Maven Analytics "CRM Sales Opportunities" dataset (fictional B2B hardware sales).

Files are recognised by their headers: ``sales_teams.csv`` (agents, their managers and
regional offices), ``products.csv``, ``accounts.csv`` and ``sales_pipeline.csv``. They are
imported in that order under external source ``maven``:

* each manager leads one team (region = regional office) and is a user with role
  manager; each agent is a user with role rep in their manager's team, no password;
  both carry their name as external id and an e-mail ``first.last@maven-crm.example.com``;
* products: code and external id = product name, family = series, list price in USD;
* accounts: sector -> industry (kept as written, ``technolgy`` included), revenue is in
  millions of USD in the source and stored in USD, office_location -> country,
  subsidiary_of -> parent;
* deals go to a dedicated pipeline "Maven" (prospecting 10 %, engaging 40 %, won, lost),
  named "<account or 'Unassigned'> – <product>", owned by their agent, with one line
  for the product. ``GTXPro`` matches ``GTX Pro`` (names compare without spaces).

History is rebuilt honestly from the two dates the source has. A deal is created at
its engage_date (12:00 UTC) in stage engaging with the product's list price as amount
(the estimate known then); won and lost deals move to won/lost at their close_date,
and a won deal's amount becomes its close_value at that moment. Prospecting deals have
no date at all: they are created at the latest date found in the pipeline file
(2017-12-31 in the published data), i.e. "known to exist by the end of the data".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from pathcast.auth.models import User
from pathcast.crm import models as m
from pathcast.crm import schemas as s
from pathcast.crm.importers.base import CsvTable, ImportInputError, SourceRow
from pathcast.crm.importers.convert import (
    Problem,
    ValueProblem,
    at_noon,
    fit_columns,
    normalise_label,
    normalise_numbers,
    parse_date,
    parse_decimal,
    parse_int,
    validate,
)
from pathcast.crm.importers.maven_people import SOURCE, MavenPeople, run_rows
from pathcast.crm.importers.writer import DealPlan, Importer, Outcome, RowRejected
from pathcast.crm.service.pipelines import ensure_pipeline, stages_of

PIPELINE = "Maven"
STAGES: list[tuple[str, str, str, int, m.StageClass]] = [
    ("prospecting", "Prospecting", "潜在", 10, m.StageClass.open),
    ("engaging", "Engaging", "接洽中", 40, m.StageClass.open),
    ("won", "Won", "赢单", 100, m.StageClass.won),
    ("lost", "Lost", "丢单", 0, m.StageClass.lost),
]
FILES = {
    "sales_teams": ("sales_agent", "manager", "regional_office"),
    "products": ("product", "series", "sales_price"),
    "accounts": (
        "account",
        "sector",
        "year_established",
        "revenue",
        "employees",
        "office_location",
        "subsidiary_of",
    ),
    "sales_pipeline": (
        "opportunity_id",
        "sales_agent",
        "product",
        "account",
        "deal_stage",
        "engage_date",
        "close_date",
        "close_value",
    ),
}
MILLION = Decimal(1_000_000)
# schema field -> CSV column, for naming the column in rejects
PRODUCT_COLUMNS = {"code": "product", "name": "product", "family": "series", "list_price": "sales_price"}
ACCOUNT_COLUMNS = {
    "name": "account",
    "industry": "sector",
    "annual_revenue": "revenue",
    "country": "office_location",
    "parent_id": "subsidiary_of",
    "year_established": "year_established",
    "employees": "employees",
}


def maven_files(paths: list[Path]) -> list[Path]:
    """The CSV files to read: a folder stands for the four Maven files inside it."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [path / f"{name}.csv" for name in FILES if (path / f"{name}.csv").is_file()]
            if not found:
                raise ImportInputError(
                    f"{path}: none of {', '.join(f'{n}.csv' for n in FILES)} is in this folder"
                )
            files.extend(found)
        else:
            files.append(path)
    return files


def classify(tables: list[CsvTable]) -> dict[str, CsvTable]:
    """Which Maven file each table is, by header; ImportInputError for anything else."""
    kinds: dict[str, CsvTable] = {}
    for table in tables:
        kind = next((k for k, cols in FILES.items() if all(table.has(c) for c in cols)), None)
        if kind is None:
            raise ImportInputError(
                f"{table.name}: not a Maven CRM file; expected the header of one of "
                + "; ".join(f"{k}.csv ({', '.join(cols)})" for k, cols in FILES.items())
            )
        if kind in kinds:
            raise ImportInputError(f"{table.name} and {kinds[kind].name} are both {kind} files")
        kinds[kind] = table
    return kinds


class MavenImport:
    """Runs the four Maven files through the importer in dependency order."""

    def __init__(self, importer: Importer, tables: dict[str, CsvTable]) -> None:
        self.importer = importer
        self.tables = tables
        self.session = importer.session
        self.actor = importer.actor
        self.users: dict[str, User] = {}
        self.stages: dict[str, m.Stage] = {}
        self.products: dict[str, m.Product] = {}
        self.accounts: dict[str, m.Account] = {}
        self.pipeline_id = 0
        self.latest = date.min

    def run(self) -> None:
        steps: list[tuple[str, str, Callable[[CsvTable], None]]] = [
            ("sales_teams", "user", MavenPeople(importer=self.importer).run),
            ("products", "product", self._products),
            ("accounts", "account", self._accounts),
            ("sales_pipeline", "opportunity", self._deals),
        ]
        for kind, entity, step in steps:
            table = self.tables.get(kind)
            if table is not None:
                self.importer.reject_unreadable(entity, table.rejects)
                step(table)
                self.importer.commit_chunk()

    def _rows(
        self,
        table: CsvTable,
        entity: str,
        rows: list[SourceRow],
        work: Callable[[dict[str, str], SourceRow], Outcome],
        columns: dict[str, str],
    ) -> None:
        run_rows(self.importer, table, entity, rows, work, columns, FILES[_kind(table)])

    # --- products and accounts ---------------------------------------------------------

    def _products(self, table: CsvTable) -> None:
        self._rows(table, "product", table.rows, self._product, PRODUCT_COLUMNS)

    def _product(self, cells: dict[str, str], row: SourceRow) -> Outcome:
        name = cells["product"]
        problems: list[Problem] = []
        data: dict[str, Any] = {
            "code": name,
            "name": name,
            "family": cells.get("series") or None,
            "currency": "USD",
        }
        if cells.get("sales_price"):
            try:
                data["list_price"] = parse_decimal(cells["sales_price"])
            except ValueProblem as problem:
                problems.append(Problem("sales_price", cells["sales_price"], str(problem)))
        values = self._validated(s.ProductCreate, m.Product, data, PRODUCT_COLUMNS, cells, problems)
        return self.importer.upsert("product", SOURCE, name, values)

    def _accounts(self, table: CsvTable) -> None:
        by_name = {row.cells[table.column_index("account") or 0].strip(): row for row in table.rows}
        parent_index = table.column_index("subsidiary_of")
        ordered: list[SourceRow] = []
        seen: set[int] = set()

        def place(row: SourceRow, depth: int) -> None:
            if id(row) in seen:
                return
            seen.add(id(row))
            parent = by_name.get(row.cells[parent_index].strip()) if parent_index is not None else None
            if parent is not None and depth < 100:
                place(parent, depth + 1)
            ordered.append(row)

        for row in table.rows:
            place(row, 0)
        self._rows(table, "account", ordered, self._account, ACCOUNT_COLUMNS)

    def _account(self, cells: dict[str, str], row: SourceRow) -> Outcome:
        name = cells["account"]
        problems: list[Problem] = []
        data: dict[str, Any] = {
            "name": name,
            "industry": cells.get("sector") or None,
            "country": cells.get("office_location") or None,
        }
        for field, column, parse in (
            ("year_established", "year_established", parse_int),
            ("employees", "employees", parse_int),
            ("annual_revenue", "revenue", parse_decimal),
        ):
            text = cells.get(column, "")
            if text:
                try:
                    data[field] = parse(text)
                except ValueProblem as problem:
                    problems.append(Problem(column, text, str(problem)))
        if "annual_revenue" in data:
            data["annual_revenue"] = data["annual_revenue"] * MILLION  # source is in millions
        parent = cells.get("subsidiary_of", "")
        if parent:
            record = self.importer.existing("account", SOURCE).get(parent)
            if parent == name:
                problems.append(Problem("subsidiary_of", parent, "an account cannot be its own parent"))
            elif record is None:
                problems.append(Problem("subsidiary_of", parent, f"unknown account {parent!r}"))
            else:
                data["parent_id"] = record.id
        values = self._validated(s.AccountCreate, m.Account, data, ACCOUNT_COLUMNS, cells, problems)
        return self.importer.upsert("account", SOURCE, name, values)

    def _validated(
        self,
        schema: type[Any],
        model: type[Any],
        data: dict[str, Any],
        columns: dict[str, str],
        cells: dict[str, str],
        problems: list[Problem],
    ) -> dict[str, Any]:
        if not data.get("name"):
            problems.append(Problem(columns["name"], "", "required value is empty"))
        shown = {field: cells.get(column, "") for field, column in columns.items()}
        values, invalid = validate(schema, data, columns, shown)
        flagged = {problem.column for problem in problems}
        problems += [p for p in invalid if p.column not in flagged]
        if values is not None:
            problems += fit_columns(model, values, columns)
        if problems or values is None:
            raise RowRejected(problems)
        return normalise_numbers(model, values)

    # --- deals ---------------------------------------------------------------------

    def _deals(self, table: CsvTable) -> None:
        pipeline = ensure_pipeline(self.session, actor=self.actor, name=PIPELINE, stages=STAGES)
        self.stages = {stage.key: stage for stage in stages_of(self.session, pipeline.id)}
        self.pipeline_id = pipeline.id
        self.products = {
            normalise_label(product.name): product
            for product in self.importer.existing("product", SOURCE).values()
        }
        self.accounts = self.importer.existing("account", SOURCE)
        self.users = self.importer.existing("user", SOURCE)
        self.latest = _latest_date(table)
        self._rows(
            table, "opportunity", table.rows, self._deal, {"owner_id": "sales_agent", "account_id": "account"}
        )

    def _deal(self, cells: dict[str, str], row: SourceRow) -> Outcome:
        problems: list[Problem] = []
        external_id = cells["opportunity_id"]
        if not external_id:
            problems.append(Problem("opportunity_id", "", "required value is empty"))
        agent = self.users.get(cells["sales_agent"])
        if agent is None:
            reason = (
                "required value is empty"
                if not cells["sales_agent"]
                else "unknown sales agent (not in sales_teams.csv)"
            )
            problems.append(Problem("sales_agent", cells["sales_agent"], reason))
        product = self.products.get(normalise_label(cells["product"]))
        if product is None:
            reason = (
                "required value is empty" if not cells["product"] else "unknown product (not in products.csv)"
            )
            problems.append(Problem("product", cells["product"], reason))
        account = self.accounts.get(cells["account"]) if cells["account"] else None
        if cells["account"] and account is None:
            problems.append(Problem("account", cells["account"], "unknown account (not in accounts.csv)"))
        stage_key = normalise_label(cells["deal_stage"])
        stage = self.stages.get(stage_key)
        if stage is None:
            known = ", ".join(name for _, name, *_ in STAGES)
            problems.append(
                Problem(
                    "deal_stage",
                    cells["deal_stage"],
                    f"unknown stage {cells['deal_stage']!r} (known: {known})",
                )
            )
        engaged = self._date(cells, "engage_date", problems, required=stage_key not in ("prospecting", ""))
        closing = stage is not None and stage.status_class != m.StageClass.open.value
        closed = self._date(cells, "close_date", problems, required=closing)
        if engaged and closed and closed < engaged:
            problems.append(Problem("close_date", cells["close_date"], "close_date is before engage_date"))
        close_value: Decimal | None = None
        if stage_key == "won":
            text = cells["close_value"]
            try:
                close_value = parse_decimal(text) if text else None
            except ValueProblem as problem:
                problems.append(Problem("close_value", text, str(problem)))
            else:
                if close_value is None:
                    problems.append(Problem("close_value", "", "required for a won deal"))
        if problems or stage is None or product is None or agent is None:
            raise RowRejected(problems)
        values: dict[str, Any] = {
            "name": f"{cells['account'] or 'Unassigned'} – {product.name}",
            "account_id": account.id if account else None,
            "owner_id": agent.id,
            "currency": "USD",
            "pipeline_id": self.pipeline_id,
            "amount": product.list_price,
        }
        columns = {
            "name": "account",
            "account_id": "account",
            "owner_id": "sales_agent",
            "amount": "close_value",
        }
        checked = {**values, "stage_id": stage.id, "external_source": SOURCE, "external_id": external_id}
        if close_value is not None:
            checked["amount"] = close_value
        validated, invalid = validate(s.OpportunityCreate, checked, columns, cells)
        problems = invalid + fit_columns(
            m.Opportunity, {"name": values["name"], "external_id": external_id}, columns
        )
        if problems:
            raise RowRejected(problems)
        assert validated is not None
        opened = at_noon(engaged) if engaged else at_noon(self.latest)
        plan = DealPlan(values=values, stage=stage, opened_at=opened, line=(product.id, product.list_price))
        if closing and closed is not None:
            plan.opening_stage = self.stages["engaging"]
            plan.closed_at = at_noon(closed)
            if close_value is not None:
                plan.values.pop("amount")
                plan.opening_amount = product.list_price
                plan.late = normalise_numbers(m.Opportunity, {"amount": close_value})
        return self.importer.upsert_deal(SOURCE, external_id, plan)

    def _date(
        self, cells: dict[str, str], column: str, problems: list[Problem], *, required: bool
    ) -> date | None:
        text = cells[column]
        if not text:
            if required:
                problems.append(Problem(column, "", "required for this deal_stage"))
            return None
        try:
            return parse_date(text)
        except ValueProblem as problem:
            problems.append(Problem(column, text, str(problem)))
            return None


def _latest_date(table: CsvTable) -> date:
    latest = date.min
    indices = [i for name in ("engage_date", "close_date") if (i := table.column_index(name)) is not None]
    for row in table.rows:
        for index in indices:
            try:
                latest = max(latest, date.fromisoformat(row.cells[index].strip()))
            except ValueError:
                continue
    return latest if latest != date.min else date.today()


def _kind(table: CsvTable) -> str:
    return next(k for k, cols in FILES.items() if all(table.has(c) for c in cols))
