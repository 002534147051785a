"""Generic create / read / update / delete for CRM records, each write with its Event.

Entity-specific rules (stage history, quote totals) live in their own modules and
call down into these functions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor, Operation, may
from pathcast.crm.auth import readable_clause, team_user_ids, writable_clause
from pathcast.crm.service.registry import SPECS, EntitySpec
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event, to_jsonable

SKIP_IN_SNAPSHOT = frozenset({"created_at", "updated_at"})
FILTER_OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "isnull")
MAX_PAGE = 500
REFERENCES_SEEN_KEY = "pathcast.references_seen"


def same_value(current: Any, new: Any) -> bool:
    """Whether storing ``new`` leaves a field as it is (a stored 150000.00 is 150000)."""
    if isinstance(current, Decimal) and isinstance(new, Decimal | int) and not isinstance(new, bool):
        return current == Decimal(new)
    return bool(to_jsonable(current) == to_jsonable(new))


def snapshot(record: Any) -> dict[str, Any]:
    """The record's column values as JSON-ready data, as stored in event payloads."""
    return {
        column.key: to_jsonable(getattr(record, column.key))
        for column in record.__table__.columns
        if column.key not in SKIP_IN_SNAPSHOT
    }


# --- reading ------------------------------------------------------------------------


def readable_query(actor: Actor, spec: EntitySpec) -> Select[Any]:
    """The statement every read of ``spec`` starts from."""
    if not may(actor, spec.name, "read"):
        raise PermissionDenied("forbidden_model", entity=spec.name)
    return select(spec.model).where(readable_clause(actor, spec.model))


def get_readable(session: Session, actor: Actor, spec: EntitySpec, record_id: int) -> Any:
    """Load one record the actor may read; a hidden row looks exactly like a missing one."""
    record = session.scalars(readable_query(actor, spec).where(spec.model.id == record_id)).first()
    if record is None:
        raise NotFound(entity=spec.name, id=record_id)
    return record


def get_writable(
    session: Session, actor: Actor, spec: EntitySpec, record_id: int, operation: Operation = "update"
) -> Any:
    """Load one record the actor may change: 404 if unseen, 403 if seen but not theirs."""
    if not may(actor, spec.name, operation):
        # Still answer 404 for rows the caller cannot see, so ids do not leak.
        get_readable(session, actor, spec, record_id)
        raise PermissionDenied("forbidden_operation", entity=spec.name, operation=operation)
    record = get_readable(session, actor, spec, record_id)
    allowed = session.scalar(
        select(func.count())
        .select_from(spec.model)
        .where(spec.model.id == record_id, writable_clause(actor, spec.model))
    )
    if not allowed:
        raise PermissionDenied("forbidden_record", entity=spec.name, id=record_id)
    return record


def list_records(
    session: Session,
    actor: Actor,
    spec: EntitySpec,
    *,
    filters: Mapping[str, str] | None = None,
    search: str | None = None,
    sort: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Any], str | None, int]:
    """A page of readable records: (items, next cursor, total matching)."""
    limit = max(1, min(limit, MAX_PAGE))
    query = readable_query(actor, spec)
    for clause in _filter_clauses(spec, filters or {}):
        query = query.where(clause)
    if search:
        query = query.where(_search_clause(spec, search))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    sort_field, descending = _parse_sort(spec, sort)
    column = getattr(spec.model, sort_field)
    if cursor:
        query = query.where(_after_cursor(spec, column, descending, cursor))
    is_null = column.is_(None)
    ordering = (
        (is_null, column.desc(), spec.model.id.desc()) if descending else (is_null, column, spec.model.id)
    )
    items = list(session.scalars(query.order_by(*ordering).limit(limit + 1)))
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = _encode_cursor(sort_field, getattr(last, sort_field), last.id)
    return items, next_cursor, int(total)


def _parse_sort(spec: EntitySpec, sort: str | None) -> tuple[str, bool]:
    raw = sort or spec.default_sort
    descending = raw.startswith("-")
    name = raw.lstrip("-+")
    if name not in spec.sortable:
        raise InvalidInput.single("sort", "unknown_sort", value=name, allowed=list(spec.sortable))
    return name, descending


def _search_clause(spec: EntitySpec, text: str) -> ColumnElement[bool]:
    if not spec.searchable:
        raise InvalidInput.single("q", "search_unsupported", entity=spec.name)
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(*(getattr(spec.model, name).ilike(pattern, escape="\\") for name in spec.searchable))


def _filter_clauses(spec: EntitySpec, filters: Mapping[str, str]) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    errors: list[FieldError] = []
    for key, raw in filters.items():
        name, _, operator = key.partition("__")
        operator = operator or "eq"
        if name not in spec.filterable or operator not in FILTER_OPERATORS:
            errors.append(FieldError(key, "unknown_filter", {"allowed": list(spec.filterable)}))
            continue
        column = getattr(spec.model, name)
        try:
            if operator == "isnull":
                flag = _parse_bool(raw)
                clauses.append(column.is_(None) if flag else column.is_not(None))
            elif operator == "in":
                clauses.append(column.in_([parse_value(column, part) for part in raw.split(",")]))
            elif operator == "contains":
                clauses.append(column.ilike(f"%{raw}%"))
            else:
                value = parse_value(column, raw)
                clauses.append(_compare(column, operator, value))
        except ValueError as error:
            errors.append(FieldError(key, "bad_filter_value", {"value": raw, "reason": str(error)}))
    if errors:
        raise InvalidInput(errors)
    return clauses


def _compare(column: Any, operator: str, value: Any) -> ColumnElement[bool]:
    if value is None:
        return column.is_(None) if operator == "eq" else column.is_not(None)
    comparisons: dict[str, Any] = {
        "eq": column == value,
        "ne": column != value,
        "lt": column < value,
        "lte": column <= value,
        "gt": column > value,
        "gte": column >= value,
    }
    return comparisons[operator]


def _parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "y", "on"):
        return True
    if lowered in ("0", "false", "no", "n", "off"):
        return False
    raise ValueError("expected true or false")


def parse_value(column: Any, raw: str | None) -> Any:
    """Parse a query-string or cursor value into the column's Python type."""
    if raw is None or raw == "null":
        return None
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return raw
    if python_type is bool:
        return _parse_bool(raw)
    if python_type is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if python_type is Decimal:
        try:
            return Decimal(raw)
        except InvalidOperation:
            raise ValueError("expected a number") from None
    if python_type is datetime:
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("expected an ISO 8601 date-time") from None
        if parsed.tzinfo is None:
            from datetime import UTC

            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    if python_type is date:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ValueError("expected a date YYYY-MM-DD") from None
    return raw


def _encode_cursor(field: str, value: Any, record_id: int) -> str:
    document = json.dumps([field, to_jsonable(value), record_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _after_cursor(spec: EntitySpec, column: Any, descending: bool, cursor: str) -> ColumnElement[bool]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        field, raw_value, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if field != column.key:
            raise ValueError("cursor was made for another sort order")
        value = parse_value(column, None if raw_value is None else str(raw_value))
        last_id = int(last_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput.single("cursor", "bad_cursor") from None
    model_id = spec.model.id
    if value is None:
        return and_(column.is_(None), model_id < last_id if descending else model_id > last_id)
    beyond = column < value if descending else column > value
    same = and_(column == value, model_id < last_id if descending else model_id > last_id)
    return or_(column.is_(None), beyond, same)


# --- writing ------------------------------------------------------------------------


def create_record(
    session: Session,
    *,
    actor: Actor,
    spec: EntitySpec,
    data: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> Any:
    """Insert a record after checking rights and references; append ``<entity>.created``."""
    if not may(actor, spec.name, "create"):
        raise PermissionDenied("forbidden_operation", entity=spec.name, operation="create")
    values = dict(data)
    if spec.has_owner and values.get("owner_id") is None and actor.user_id is not None:
        values["owner_id"] = actor.user_id
    check_references(session, actor=actor, spec=spec, values=values)
    record = spec.model(**values)
    session.add(record)
    session.flush()
    append_event(
        session,
        type=f"{spec.name}.created",
        entity=spec.name,
        entity_id=record.id,
        actor=actor.label,
        payload={"after": snapshot(record)},
        occurred_at=occurred_at,
    )
    return record


def update_record(
    session: Session,
    *,
    actor: Actor,
    spec: EntitySpec,
    record: Any,
    changes: Mapping[str, Any],
    occurred_at: datetime | None = None,
    event_type: str | None = None,
    check_refs: bool = True,
) -> dict[str, tuple[Any, Any]]:
    """Apply changed fields; append one ``<entity>.updated`` event if anything changed.

    Returns the changed fields as ``{field: (before, after)}``. The caller must have
    loaded ``record`` through ``get_writable``.
    """
    diff = {
        key: (getattr(record, key), value)
        for key, value in changes.items()
        if not same_value(getattr(record, key), value)
    }
    if not diff:
        return {}
    if check_refs:
        check_references(
            session, actor=actor, spec=spec, values={key: after for key, (_, after) in diff.items()}
        )
    for key, (_, after) in diff.items():
        setattr(record, key, after)
    session.flush()
    append_event(
        session,
        type=event_type or f"{spec.name}.updated",
        entity=spec.name,
        entity_id=record.id,
        actor=actor.label,
        payload={
            "before": {key: before for key, (before, _) in diff.items()},
            "after": {key: after for key, (_, after) in diff.items()},
        },
        occurred_at=occurred_at,
    )
    return diff


def delete_record(session: Session, *, actor: Actor, spec: EntitySpec, record: Any) -> None:
    """Delete a record loaded through ``get_writable(..., "delete")``; append ``<entity>.deleted``."""
    before = snapshot(record)
    record_id = record.id
    session.delete(record)
    session.flush()
    append_event(
        session,
        type=f"{spec.name}.deleted",
        entity=spec.name,
        entity_id=record_id,
        actor=actor.label,
        payload={"deleted": True, "before": before},
    )


def check_references(session: Session, *, actor: Actor, spec: EntitySpec, values: Mapping[str, Any]) -> None:
    """Every referenced record must exist and be readable by the actor; owners must be staff
    the actor may assign to. Names every offending field at once."""
    errors: list[FieldError] = []
    seen: set[tuple[str, str, Any]] = session.info.setdefault(REFERENCES_SEEN_KEY, set())
    for field, target in spec.references.items():
        target_id = values.get(field)
        if target_id is None:
            continue
        if target == "user":
            if not _assignable_owner(session, actor, int(target_id)):
                errors.append(FieldError(field, "unknown_owner", {"id": target_id}))
            continue
        target_spec = SPECS[target]
        if (actor.label, target, target_id) in seen:
            continue
        found = session.scalar(
            select(func.count())
            .select_from(target_spec.model)
            .where(target_spec.model.id == target_id, readable_clause(actor, target_spec.model))
        )
        if not found:
            errors.append(FieldError(field, "unknown_reference", {"entity": target, "id": target_id}))
        elif actor.role is Role.admin:
            # What an admin saw once stays visible for the transaction: bulk work
            # (imports, demo) checks the same few accounts and stages thousands of times.
            seen.add((actor.label, target, target_id))
    if errors:
        raise InvalidInput(errors)


def _assignable_owner(session: Session, actor: Actor, user_id: int) -> bool:
    user = session.get(User, user_id)
    if user is None or user.role == Role.customer_contact.value:
        return False
    if actor.role is Role.admin:
        return True
    if actor.role is Role.rep:
        return user_id == actor.user_id
    return user_id in set(session.scalars(team_user_ids(actor)))
