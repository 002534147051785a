"""CSV export of a list: the rows the list shows, every page of them.

``GET /<list>/export.csv?<the list's own query string>`` reads the query exactly as
the list page does (``lists.read_query``), then walks ``list_records``' cursors with
the viewer's Actor, so the file holds the same rows in the same order, all pages,
and nothing the viewer may not read. The columns are the ``customer_visible`` and
``internal`` fields of the entity's Read schema (never ``system_retained`` ones),
each id column followed by the name it points at. The file is streamed, UTF-8 with a
byte-order mark so Excel reads Chinese correctly, with a header row in the viewer's
language.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm.service import SPECS, list_records
from pathcast.db import unit_of_work, utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput
from pathcast.schemas import ExportClass, fields_of_class
from pathcast.web import lists
from pathcast.web.lookups import account_names, stages_by_id, user_names
from pathcast.web.rendering import SECURITY_HEADERS, Formatter, PageContext
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)
EXPORT_BATCH = 500
BOM = "\ufeff"
EXPORTED = (ExportClass.customer_visible, ExportClass.internal)
# Cells a spreadsheet would run as a formula start with one of these; they get a quote.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

NameLookup = Callable[[Session, Actor, Formatter, Iterable[Any]], dict[int, str]]


def _accounts(session: Session, actor: Actor, fmt: Formatter, ids: Iterable[Any]) -> dict[int, str]:
    return account_names(session, actor, ids)


def _users(session: Session, actor: Actor, fmt: Formatter, ids: Iterable[Any]) -> dict[int, str]:
    return user_names(session, ids)


def _stages(session: Session, actor: Actor, fmt: Formatter, ids: Iterable[Any]) -> dict[int, str]:
    return {stage_id: fmt.stage(stage) for stage_id, stage in stages_by_id(session, ids).items()}


def _contacts(session: Session, actor: Actor, fmt: Formatter, ids: Iterable[Any]) -> dict[int, str]:
    return lists.record_names(session, actor, SPECS["contact"], ids)


def _deals(session: Session, actor: Actor, fmt: Formatter, ids: Iterable[Any]) -> dict[int, str]:
    return lists.record_names(session, actor, SPECS["opportunity"], ids)


# id column -> how to name what it points at (scoped to the viewer where it matters)
NAMED_REFERENCES: dict[str, NameLookup] = {
    "account_id": _accounts,
    "parent_id": _accounts,
    "contact_id": _contacts,
    "opportunity_id": _deals,
    "owner_id": _users,
    "stage_id": _stages,
}


@dataclass(frozen=True)
class ExportColumn:
    """A column of the file: a field of the record, or the name behind an id field."""

    field: str
    named: bool = False

    def header(self, fmt: Formatter) -> str:
        if self.named:
            return fmt.label(f"lists.export.name_of.{self.field}", f"{self.field} name")
        return fmt.label(f"fields.{self.field}", self.field)


def export_columns(kind: lists.ListKind) -> list[ExportColumn]:
    """The exportable fields of the kind's Read schema, each id followed by its name."""
    columns = []
    for name in fields_of_class(kind.spec.read_schema, *EXPORTED):
        columns.append(ExportColumn(name))
        if name in NAMED_REFERENCES:
            columns.append(ExportColumn(name, named=True))
    return columns


def cell(value: Any) -> str:
    """A value as CSV text: ISO dates, plain numbers, enum values, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_text(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue()


def _rows(
    session: Session, actor: Actor, fmt: Formatter, columns: list[ExportColumn], items: list[Any]
) -> list[list[str]]:
    names = {
        column.field: NAMED_REFERENCES[column.field](
            session, actor, fmt, [getattr(item, column.field) for item in items]
        )
        for column in columns
        if column.named
    }
    rows = []
    for item in items:
        row = []
        for column in columns:
            value = getattr(item, column.field)
            if column.named:
                row.append(cell(names[column.field].get(value) if value is not None else None))
            else:
                row.append(cell(value))
        rows.append(row)
    return rows


def stream_csv(actor: Actor, fmt: Formatter, kind: lists.ListKind, query: lists.ListQuery) -> Iterator[str]:
    """The file, one batch of rows at a time, read in its own unit of work (the
    request's session is closed once the handler returns)."""
    columns = export_columns(kind)
    yield BOM + _csv_text([[column.header(fmt) for column in columns]])
    with unit_of_work(write=False) as session:
        cursor = None
        while True:
            items, cursor, _total = list_records(
                session,
                actor,
                kind.spec,
                filters=query.filters,
                search=query.q or None,
                sort=query.sort,
                cursor=cursor,
                limit=EXPORT_BATCH,
            )
            yield _csv_text(_rows(session, actor, fmt, columns, items))
            session.expunge_all()
            if cursor is None:
                break


def export(session: Session, page: PageContext, kind: lists.ListKind) -> Response:
    """Check the query (and the right to read) up front, then stream the file; input
    the list would refuse shows the list page with its messages instead."""
    query = lists.read_query(page, kind, page.request.query_params, utcnow())
    query.cursor = None  # an export always starts at the first row
    if not query.errors:
        try:
            list_records(
                session,
                page.actor,
                kind.spec,
                filters=query.filters,
                search=query.q or None,
                sort=query.sort,
                limit=1,
            )
        except InvalidInput as error:
            query.errors.extend(lists.service_messages(page, error))
    if query.errors:
        view = lists.run_list(session, page, kind, query)
        return lists.render_list(page, kind, view, lists.page_context(session, page, kind, view))
    filename = f"{kind.name}-{utcnow().date().isoformat()}.csv"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(
        stream_csv(page.actor, page.fmt, kind, query),
        media_type="text/csv; charset=utf-8",
        headers=headers,
    )


@router.get("/opportunities/export.csv")
def export_opportunities(page: Page, session: DbSession) -> Response:
    """The opportunities list as CSV."""
    return export(session, page, lists.OPPORTUNITIES)


@router.get("/accounts/export.csv")
def export_accounts(page: Page, session: DbSession) -> Response:
    """The accounts list as CSV."""
    return export(session, page, lists.ACCOUNTS)


@router.get("/contacts/export.csv")
def export_contacts(page: Page, session: DbSession) -> Response:
    """The contacts list as CSV."""
    return export(session, page, lists.CONTACTS)


@router.get("/activities/export.csv")
def export_activities(page: Page, session: DbSession) -> Response:
    """The activities list as CSV."""
    return export(session, page, lists.ACTIVITIES)
