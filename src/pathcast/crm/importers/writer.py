"""Writing imported rows through the CRM services, row by row, chunk by chunk.

Each row runs inside a savepoint, so a row the services or the database refuse is
rolled back alone and becomes a reject while the rest of the chunk stays. Every
``chunk_size`` rows the transaction commits, so progress is durable; a dry run never
commits and rolls everything back at the end.

Re-imports are matched on (external_source, external_id). Existing records of a
source are loaded once into dictionaries; a row whose values already equal the stored
ones calls no service at all, so it appends no event and counts as "unchanged".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from pathcast.auth.models import Team, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.importers.base import ROW, ImportReport, Progress, Reject, SourceRow
from pathcast.crm.importers.convert import Problem, changed_fields
from pathcast.crm.service import (
    SPECS,
    change_stage,
    create_opportunity,
    create_record,
    get_writable,
    update_opportunity,
    update_record,
)
from pathcast.errors import InvalidInput, PathcastError
from pathcast.events import events_savepoint

Outcome = Literal["imported", "updated", "unchanged"]
T = TypeVar("T")
_KEEP_ATTACHED = (m.Stage, m.Pipeline, User, Team)


class RowRejected(Exception):
    """Raised inside a row to reject it with one or more problems."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(problem.reason for problem in problems))


@dataclass
class DealPlan:
    """How to bring one deal into the CRM with an honest stage history.

    The deal is created at ``opened_at`` in ``opening_stage`` with ``opening_amount``;
    if the final ``stage`` differs it moves there at ``closed_at``, and the fields in
    ``late`` (the final amount, the close date) are set at that same moment, so an
    as-of reading before the close never sees the outcome.
    """

    values: dict[str, Any]
    stage: m.Stage
    opened_at: datetime | None = None
    opening_stage: m.Stage | None = None
    opening_amount: Decimal | None = None
    closed_at: datetime | None = None
    late: dict[str, Any] = field(default_factory=dict)
    line: tuple[int, Decimal] | None = None  # product id, unit price


class Importer:
    """The write side shared by every format: caches, savepoints, chunked commits."""

    def __init__(
        self,
        session: Session,
        *,
        actor: Actor,
        report: ImportReport,
        dry_run: bool,
        chunk_size: int = 500,
        progress: Progress | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.report = report
        self.dry_run = dry_run
        self.chunk_size = chunk_size
        self.progress = progress
        self._since_commit = 0
        self._existing: dict[tuple[str, str], dict[str, Any]] = {}
        self._lines: set[tuple[int, int]] | None = None
        self._users: list[User] | None = None
        # cache entries made by the current row, undone if its savepoint rolls back
        self._undo: list[Callable[[], None]] = []

    # --- caches --------------------------------------------------------------------

    def existing(self, entity: str, source: str) -> dict[str, Any]:
        """The records of ``entity`` imported earlier from ``source``, by external id."""
        key = (entity, source)
        if key not in self._existing:
            model = SPECS[entity].model if entity in SPECS else User
            rows = self.session.scalars(select(model).where(model.external_source == source))
            self._existing[key] = {record.external_id: record for record in rows}
        return self._existing[key]

    def users(self) -> list[User]:
        """Every user, loaded once (owners are matched against them)."""
        if self._users is None:
            self._users = list(self.session.scalars(select(User).order_by(User.id)))
        return self._users

    def remember(self, index: dict[str, T], key: str, record: T) -> None:
        """Cache a record made by the current row (forgotten again if the row fails)."""
        had, previous = key in index, index.get(key)
        index[key] = record
        self._undo.append(lambda: _restore(index, key, had, previous))

    def remember_user(self, user: User) -> None:
        users = self.users()
        users.append(user)
        self._undo.append(lambda: users.remove(user))

    def has_line(self, opportunity_id: int, product_id: int) -> bool:
        if self._lines is None:
            rows = self.session.execute(
                select(m.OpportunityLine.opportunity_id, m.OpportunityLine.product_id)
            )
            self._lines = {(row[0], row[1]) for row in rows}
        return (opportunity_id, product_id) in self._lines

    # --- rows ----------------------------------------------------------------------

    def run_row(
        self,
        entity: str,
        file: str,
        row: SourceRow,
        work: Callable[[], Outcome],
        columns: Mapping[str, str] | None = None,
    ) -> Outcome | None:
        """Run one row's writes in a savepoint; count the outcome or record the rejects.

        ``columns`` maps service field names to CSV columns for errors the services raise.
        """
        problems: list[Problem]
        self._undo = []
        try:
            with events_savepoint(self.session):
                outcome = work()
        except RowRejected as rejected:
            problems = rejected.problems
        except InvalidInput as error:
            names = columns or {}
            problems = [
                Problem(
                    names.get(item.field, item.field), _param(item.params), _reason(item.code, item.params)
                )
                for item in error.errors
            ]
        except PathcastError as error:
            problems = [Problem(ROW, "", f"refused: {error.code} {error.params}")]
        except (IntegrityError, DataError) as error:
            # the row broke a database rule; connection and locking errors still abort
            detail = str(getattr(error, "orig", error)).splitlines()[0][:200]
            problems = [Problem(ROW, "", f"the database refused the row: {detail}")]
        else:
            counts = self.report.counts(entity)
            setattr(counts, outcome, getattr(counts, outcome) + 1)
            self._release()
            self._tick()
            return outcome
        for undo in reversed(self._undo):
            undo()
        self._undo = []
        self.reject(entity, file, row.row_number, problems)
        self._tick()
        return None

    def reject(self, entity: str, file: str, row_number: int, problems: list[Problem]) -> None:
        """Record a rejected row (one line per problem)."""
        self.report.counts(entity).rejected += 1
        for problem in problems:
            self.report.rejects.append(
                Reject(row_number, problem.column, problem.value, problem.reason, file)
            )

    def reject_unreadable(self, entity: str, rejects: list[Reject]) -> None:
        """Rows the reader could not use (shape, encoding), counted once per row."""
        self.report.rejects.extend(rejects)
        self.report.counts(entity).rejected += len({(r.file, r.row_number) for r in rejects})

    def _release(self) -> None:
        """Detach what the row loaded or created, keeping the identity map small.

        Without this the session would hold every deal, line and history row of the
        import: memory grows, and anything that walks the session (flushes, ORM-enabled
        UPDATEs synchronising it) gets slower with each row. Cached records stay usable
        detached (their values are loaded); stages, pipelines, users and teams stay
        attached because the services look them up with ``session.get``.
        """
        for record in list(self.session.identity_map.values()):
            if not isinstance(record, _KEEP_ATTACHED):
                self.session.expunge(record)

    def _tick(self) -> None:
        self._since_commit += 1
        if self._since_commit >= self.chunk_size:
            self.commit_chunk()

    def commit_chunk(self) -> None:
        """Make the rows so far durable (a dry run keeps one open transaction instead)."""
        self._since_commit = 0
        if not self.dry_run:
            self.session.commit()

    def finish(self) -> None:
        if self.dry_run:
            self.session.rollback()
        else:
            self.session.commit()

    # --- generic records -----------------------------------------------------------

    def upsert(self, entity: str, source: str, external_id: str, values: dict[str, Any]) -> Outcome:
        """Create the record or bring it up to date; "unchanged" writes nothing."""
        index = self.existing(entity, source)
        spec = SPECS[entity]
        current = index.get(external_id)
        if current is None:
            data = {**values, "external_source": source, "external_id": external_id}
            record = create_record(self.session, actor=self.actor, spec=spec, data=data)
            self.remember(index, external_id, record)
            return "imported"
        changes = changed_fields(current, values)
        if not changes:
            return "unchanged"
        record = get_writable(self.session, self.actor, spec, current.id)
        update_record(self.session, actor=self.actor, spec=spec, record=record, changes=changes)
        self.remember(index, external_id, record)
        return "updated"

    # --- deals ---------------------------------------------------------------------

    def upsert_deal(self, source: str, external_id: str, plan: DealPlan) -> Outcome:
        """Create a deal with its history, or apply what changed since the last import."""
        index = self.existing("opportunity", source)
        current = index.get(external_id)
        if current is None:
            self.remember(index, external_id, self._create_deal(source, external_id, plan))
            return "imported"
        wanted = {**plan.values, **plan.late, "stage_id": plan.stage.id}
        if plan.stage.status_class != m.StageClass.open.value:
            wanted.pop("forecast_category", None)  # closing sets it to "closed"
        changes = changed_fields(current, wanted, skip=("pipeline_id",))
        needs_line = plan.line is not None and not self.has_line(current.id, plan.line[0])
        if not changes and not needs_line:
            return "unchanged"
        deal = get_writable(self.session, self.actor, SPECS["opportunity"], current.id)
        self.remember(index, external_id, deal)
        stage_id = changes.pop("stage_id", None)
        closing = stage_id is not None and plan.stage.status_class != m.StageClass.open.value
        if stage_id is not None:
            change_stage(
                self.session,
                actor=self.actor,
                opportunity=deal,
                to_stage_id=stage_id,
                occurred_at=plan.closed_at if closing else None,
            )
        late = {name: changes.pop(name) for name in list(changes) if name in plan.late}
        if late:
            update_opportunity(
                self.session,
                actor=self.actor,
                opportunity=deal,
                changes=late,
                occurred_at=plan.closed_at if closing else None,
            )
        if changes:
            update_opportunity(self.session, actor=self.actor, opportunity=deal, changes=changes)
        if needs_line and plan.line is not None:
            self._add_line(deal.id, plan.line, None)
        return "updated"

    def _create_deal(self, source: str, external_id: str, plan: DealPlan) -> m.Opportunity:
        opening = plan.opening_stage or plan.stage
        data = {
            **plan.values,
            "stage_id": opening.id,
            "external_source": source,
            "external_id": external_id,
        }
        if plan.opening_amount is not None:
            data["amount"] = plan.opening_amount
        deal = create_opportunity(self.session, actor=self.actor, data=data, occurred_at=plan.opened_at)
        if plan.line is not None:
            self._add_line(deal.id, plan.line, plan.opened_at)
        if opening.id != plan.stage.id:
            change_stage(
                self.session,
                actor=self.actor,
                opportunity=deal,
                to_stage_id=plan.stage.id,
                occurred_at=plan.closed_at,
            )
        late = changed_fields(deal, plan.late)
        if late:
            update_opportunity(
                self.session, actor=self.actor, opportunity=deal, changes=late, occurred_at=plan.closed_at
            )
        return deal

    def _add_line(self, opportunity_id: int, line: tuple[int, Decimal], at: datetime | None) -> None:
        product_id, unit_price = line
        create_record(
            self.session,
            actor=self.actor,
            spec=SPECS["opportunity_line"],
            data={"opportunity_id": opportunity_id, "product_id": product_id, "unit_price": unit_price},
            occurred_at=at,
        )
        lines = self._lines
        if lines is not None:
            lines.add((opportunity_id, product_id))
            self._undo.append(lambda: lines.discard((opportunity_id, product_id)))


def _restore(index: dict[str, Any], key: str, had: bool, previous: Any) -> None:
    if had:
        index[key] = previous
    else:
        index.pop(key, None)


def _param(params: Mapping[str, Any]) -> str:
    value = params.get("id", params.get("value", ""))
    return "" if value is None else str(value)


def _reason(code: str, params: Mapping[str, Any]) -> str:
    if code == "unknown_reference":
        return f"unknown {params.get('entity', 'record')} id {params.get('id')}"
    if code == "unknown_owner":
        return f"unknown owner id {params.get('id')}"
    details = ", ".join(f"{key}={value}" for key, value in params.items())
    return f"{code} ({details})" if details else code
