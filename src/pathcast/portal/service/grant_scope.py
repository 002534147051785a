"""What a grant reaches: the grantable datasets, their ``customer_visible`` fields, the
date that places a record in a grant's range, and the records themselves.

The datasets are those of ``portal.service.exports`` (same crm queries, same account
links). A record is in range when its own date falls on a day from ``period_start`` to
``period_end`` inclusive (UTC); a record without that date is not. Records are read as the
system, limited to the grant's account, range and fields: the grantee is not a user, and
the grant (not a role) says what they may see. Each dataset's Read schema is cut down to
the granted fields, so the shared export writer (``portal.export_format``) writes those
and nothing else without a change to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.portal.export_format import Dataset, visible_fields
from pathcast.portal.models import Grant
from pathcast.portal.service.exports import BATCH, SOURCES, Source

# The date that places a record in a grant's time range: the record's own date.
DATE_FIELDS: dict[str, str] = {
    "contacts": "created_at",
    "activities": "occurred_at",
    "tickets": "opened_at",
    "documents": "created_at",
    "document_versions": "created_at",
    "contracts": "start_date",
    "subscriptions": "start_date",
    "quotes": "created_at",
    "quote_lines": "created_at",
}
SOURCES_BY_NAME: dict[str, Source] = {source.name: source for source in SOURCES if source.name in DATE_FIELDS}
# Grant data is read as the system, limited to the grant's account, range and fields:
# the grantee is not a user, and the grant (not a role) says what they may see.
READER = Actor.system("grant")


def grant_choices() -> dict[str, list[str]]:
    """Each grantable dataset with the fields a grant may name (``customer_visible`` only)."""
    return {name: visible_fields(source.schema) for name, source in SOURCES_BY_NAME.items()}


def in_range(source: Source, start: date, end: date) -> ColumnElement[bool]:
    """The record's own date falls on a day from ``start`` to ``end`` (UTC, inclusive)."""
    column = getattr(source.model, DATE_FIELDS[source.name])
    if column.type.python_type is date:
        return column.between(start, end)
    begin = column >= datetime.combine(start, time(), tzinfo=UTC)
    if end == date.max:  # no day after it to stop before
        return begin
    return begin & (column < datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC))


@cache
def granted_schema(dataset: str, fields: tuple[str, ...]) -> type[BaseModel]:
    """The dataset's Read schema cut down to the granted fields (markers kept), so the
    shared export writer writes those fields and no others."""
    schema = SOURCES_BY_NAME[dataset].schema
    definitions: dict[str, Any] = {
        name: (schema.model_fields[name].annotation, schema.model_fields[name]) for name in fields
    }
    return create_model(
        f"{schema.__name__}Granted", __config__=ConfigDict(from_attributes=True), **definitions
    )


def granted_records(session: Session, grant: Grant, dataset: str) -> Iterator[Any]:
    """The grant's account's records of ``dataset`` in its range, in keyset pages that
    leave the session once read (an export does not grow with the account)."""
    source = SOURCES_BY_NAME[dataset]
    query = (
        source.query(READER)
        .where(source.on_account(grant.account_id))
        .where(in_range(source, grant.period_start, grant.period_end))
        .order_by(source.model.id)
    )
    last_id = 0
    while True:
        page = list(session.scalars(query.where(source.model.id > last_id).limit(BATCH)))
        yield from page
        if len(page) < BATCH:
            return
        last_id = page[-1].id
        for record in page:
            session.expunge(record)


def granted_datasets(session: Session, grant: Grant) -> list[Dataset]:
    """The grant's datasets (lazy), each with its cut-down schema."""
    return [
        Dataset(name, granted_schema(name, tuple(names)), granted_records(session, grant, name))
        for name, names in grant.fields.items()
        if name in SOURCES_BY_NAME
    ]
