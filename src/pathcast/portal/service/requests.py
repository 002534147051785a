"""Data-access and portability requests: filed by the customer, due in 30 days, handled
by admins.

A customer contact files a request about their own account (``access``, ``portability``,
``correction`` or ``deletion``, with a free-text detail). It is due
``REQUEST_DUE_DAYS`` (30) days after the day it was received (UTC): received on 1 March,
due on 31 March. Admins move it ``open → in_progress → done | refused`` (``open`` may
also close at once); closing needs a resolution, which the customer reads, and a
closed request does not change again. A request is **overdue** when its due date is
before today (UTC) and it is not closed.

Who sees what: a customer contact lists and reads their own account's requests (another
account's request is a 404 like a missing one); admins see and change all of them; other
staff are refused (403). Events: ``portal.request_received``, ``portal.request_changed``
(the free-text detail stays out of the event log, which is never rewritten; the status,
dates and resolution go in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.portal.models import REQUEST_KINDS, REQUEST_STATUSES, DataRequest
from pathcast.portal.schemas_admin import MAX_ID, DataRequestRead, PortalRequestRead
from pathcast.schemas import ExportClass, fields_of_class

REQUEST_DUE_DAYS = 30
TEXT_MAX = 4000
CLOSED = ("done", "refused")
# NUL, other invisible control characters and lone surrogates (PostgreSQL refuses NUL, and
# a lone surrogate cannot be stored as UTF-8): dropped from typed text, never an error
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# the statuses each status may move to
NEXT: dict[str, tuple[str, ...]] = {
    "open": ("in_progress", "done", "refused"),
    "in_progress": ("done", "refused"),
    "done": (),
    "refused": (),
}
_CUSTOMER_FIELDS = set(fields_of_class(DataRequestRead, ExportClass.customer_visible))


def due_date(received_at: datetime) -> date:
    """The day a request received at ``received_at`` is due (its UTC date + 30 days)."""
    return received_at.date() + timedelta(days=REQUEST_DUE_DAYS)


def is_overdue(request: DataRequest, today: date) -> bool:
    """Past its due date and not closed."""
    return request.due_on < today and request.status not in CLOSED


def _overdue_clause(today: date) -> ColumnElement[bool]:
    return and_(DataRequest.due_on < today, DataRequest.status.not_in(CLOSED))


def _scope(actor: Actor) -> ColumnElement[bool] | None:
    """The rows the actor may see: None for admins (all), their account for a customer."""
    if actor.is_admin:
        return None
    if actor.role is Role.customer_contact and actor.account_id is not None:
        return DataRequest.account_id == actor.account_id
    raise PermissionDenied("forbidden_model", entity="data_request")


def clean_text(value: str | None) -> str:
    """Typed text without control characters or lone surrogates, stripped."""
    return _CONTROL.sub("", value or "").strip()


def _clean_text(value: str | None, name: str) -> str:
    text = clean_text(value)
    if len(text) > TEXT_MAX:
        raise InvalidInput.single(name, "too_long", max=TEXT_MAX)
    return text


def read_of(request: DataRequest, today: date) -> DataRequestRead:
    """The full API shape of a request (admins)."""
    return DataRequestRead.model_validate(
        {
            **{c.key: getattr(request, c.key) for c in DataRequest.__table__.columns},
            "overdue": is_overdue(request, today),
        }
    )


def customer_read_of(request: DataRequest, today: date) -> PortalRequestRead:
    """What the customer sees of a request: the ``customer_visible`` fields only."""
    return PortalRequestRead(**read_of(request, today).model_dump(include=_CUSTOMER_FIELDS))


def file_request(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    detail: str = "",
    account_id: int | None = None,
    received_at: datetime | None = None,
) -> DataRequest:
    """Record a customer's request, due in ``REQUEST_DUE_DAYS`` days.

    A customer contact files for their own account (``account_id`` left out or theirs;
    another is a 404). An admin may record one received another way (a letter) for any
    account. Appends ``portal.request_received``.
    """
    if actor.role is Role.customer_contact:
        if actor.account_id is None or account_id not in (None, actor.account_id):
            raise NotFound(entity="account", id=account_id or 0)
        account_id = actor.account_id
    elif not actor.is_admin:
        raise PermissionDenied("forbidden_model", entity="data_request")
    errors: list[FieldError] = []
    if kind not in REQUEST_KINDS:
        errors.append(FieldError("kind", "choice_invalid", {"value": kind}))
    if account_id is None or crm_lookups.get_account(session, account_id) is None:
        errors.append(FieldError("account_id", "unknown_reference", {"entity": "account", "id": account_id}))
    if errors:
        raise InvalidInput(errors)
    assert account_id is not None
    text = _clean_text(detail, "detail")
    moment = received_at or utcnow()
    request = DataRequest(
        account_id=account_id,
        kind=kind,
        status="open",
        detail=text,
        received_at=moment,
        due_on=due_date(moment),
        resolution="",
        requested_by=actor.user_id,
    )
    session.add(request)
    session.flush()
    append_event(
        session,
        type="portal.request_received",
        entity="data_request",
        entity_id=request.id,
        actor=actor.label,
        payload={
            "account_id": account_id,
            "kind": kind,
            "received_at": moment,
            "due_on": request.due_on,
        },
        occurred_at=moment,
    )
    return request


def get_request(session: Session, actor: Actor, request_id: int) -> DataRequest:
    """One request the actor may see; a hidden one is a 404 like a missing one."""
    scope = _scope(actor)
    query = select(DataRequest).where(DataRequest.id == request_id)
    if scope is not None:
        query = query.where(scope)
    # ids beyond the 32-bit column are simply missing (never a database error)
    found = session.scalars(query).first() if 0 < request_id <= MAX_ID else None
    if found is None:
        raise NotFound(entity="data_request", id=request_id)
    return found


def list_requests(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    overdue: bool = False,
    account_id: int | None = None,
    today: date | None = None,
) -> list[DataRequest]:
    """Requests the actor may see, newest first; ``overdue`` keeps only the overdue."""
    scope = _scope(actor)
    query = select(DataRequest).order_by(DataRequest.received_at.desc(), DataRequest.id.desc())
    if scope is not None:
        query = query.where(scope)
    if status is not None:
        if status not in REQUEST_STATUSES:
            raise InvalidInput.single("status", "choice_invalid", value=status)
        query = query.where(DataRequest.status == status)
    if account_id is not None:
        query = query.where(DataRequest.account_id == account_id)
    if overdue:
        query = query.where(_overdue_clause(today or utcnow().date()))
    return list(session.scalars(query))


def overdue_count(session: Session, actor: Actor, *, today: date | None = None) -> int:
    """How many requests the actor may see are overdue."""
    scope = _scope(actor)
    query = select(func.count()).select_from(DataRequest).where(_overdue_clause(today or utcnow().date()))
    if scope is not None:
        query = query.where(scope)
    return int(session.scalar(query) or 0)


def change_request(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    status: str,
    resolution: str = "",
    occurred_at: datetime | None = None,
) -> DataRequest:
    """Move a request on (admins): ``open → in_progress → done | refused``.

    Closing (``done``, ``refused``) needs a resolution; a closed request is a Conflict;
    an unknown or backward status names the field. Appends ``portal.request_changed``.
    """
    if not actor.is_admin:
        get_request(session, actor, request_id)  # 404 first when the caller cannot see it
        raise PermissionDenied("admin_only")
    request = get_request(session, actor, request_id)
    if request.status in CLOSED:
        raise Conflict("request_closed", id=request_id, status=request.status)
    if status not in REQUEST_STATUSES:
        raise InvalidInput.single("status", "choice_invalid", value=status)
    if status not in NEXT[request.status]:
        raise InvalidInput.single("status", "request_transition", before=request.status, after=status)
    text = _clean_text(resolution, "resolution")
    if status in CLOSED and not text:
        raise InvalidInput.single("resolution", "missing")
    moment = occurred_at or utcnow()
    before = request.status
    request.status = status
    request.handled_by = actor.user_id
    if text:
        request.resolution = text
    if status in CLOSED:
        request.closed_at = moment
    session.flush()
    append_event(
        session,
        type="portal.request_changed",
        entity="data_request",
        entity_id=request.id,
        actor=actor.label,
        payload={
            "account_id": request.account_id,
            "before": {"status": before},
            "after": {"status": status, "resolution": request.resolution, "closed_at": request.closed_at},
        },
        occurred_at=moment,
    )
    return request


@dataclass(frozen=True)
class RequestRow:
    """A request as the admin list shows it, with the account's name."""

    request: DataRequest
    account_name: str
    overdue: bool


def admin_rows(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    overdue: bool = False,
    today: date | None = None,
) -> list[RequestRow]:
    """The admin list: each request with its account's name and overdue flag."""
    day = today or utcnow().date()
    found = list_requests(session, actor, status=status, overdue=overdue, today=day)
    names = crm_lookups.names_of_accounts(session, {request.account_id for request in found})
    return [
        RequestRow(request, names.get(request.account_id, f"#{request.account_id}"), is_overdue(request, day))
        for request in found
    ]
