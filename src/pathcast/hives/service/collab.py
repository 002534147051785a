"""Working together in a hive: risks, decisions and requests between members.

- **Risks** are owned by someone of the function that can act on them (health counts an
  open risk without such an owner as a gap). Closing one records who closed it: a problem
  resolved, which contribution counts for that person.
- **Decisions** are recorded with who took them and when (information-sync completeness).
- **Requests** are addressed to one member ("@物流 can we ship on the 12th?"); only that
  person answers, and the time from asking to answering is their response time.

Every write appends its event in the caller's transaction (``hive.risk_opened`` /
``_changed`` / ``_closed``, ``hive.decision_recorded``, ``hive.request_asked`` /
``_answered``); a member works only in the hives they belong to (``access``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives.service.access import get_hive, is_member, readable_hives, writable_hive

__all__ = [
    "RISK_FIELDS",
    "answer",
    "ask",
    "close_risk",
    "decisions_of",
    "get_request",
    "get_risk",
    "open_risk",
    "record_decision",
    "requests_of",
    "requests_to",
    "risks_of",
    "update_risk",
]

TITLE_MAX = 300
TEXT_MAX = 5000
LIST_MAX = 500
RISK_FIELDS = ("title", "detail", "function", "owner_id")


def _invalid(errors: list[FieldError], name: str, message: str) -> None:
    errors.append(FieldError(name, "invalid", {"message": message}))


def _text(value: Any, name: str, limit: int, errors: list[FieldError], *, required: bool = True) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        if required:
            errors.append(FieldError(name, "missing"))
        return ""
    clean = value.strip()
    if len(clean) > limit:
        _invalid(errors, name, f"at most {limit} characters")
    return clean


def _member(session: Session, hive_id: int, value: Any, name: str, errors: list[FieldError]) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not is_member(session, hive_id, value):
        _invalid(errors, name, "a member of this hive")
        return None
    return value


def _function(value: Any, errors: list[FieldError]) -> str:
    if value not in m.FUNCTIONS:
        _invalid(errors, "function", f"one of {', '.join(m.FUNCTIONS)}")
        return "other"
    return str(value)


# --- risks ------------------------------------------------------------------------------------


def _risk_state(risk: m.Risk) -> dict[str, Any]:
    return {
        "title": risk.title,
        "detail": risk.detail,
        "function": risk.function,
        "owner_id": risk.owner_id,
        "status": risk.status,
    }


def get_risk(session: Session, actor: Actor, risk_id: int) -> tuple[m.Risk, m.Hive]:
    """A risk and its hive, if the actor may read the hive (404 otherwise)."""
    risk = session.get(m.Risk, risk_id)
    if risk is None:
        raise NotFound("not_found", entity="hive_risk", id=risk_id)
    try:
        return risk, get_hive(session, actor, risk.hive_id)
    except NotFound:
        raise NotFound("not_found", entity="hive_risk", id=risk_id) from None


def risks_of(session: Session, actor: Actor, hive_id: int, *, include_closed: bool = False) -> list[m.Risk]:
    """A hive's risks, open first, newest first within each."""
    hive = get_hive(session, actor, hive_id)
    query = select(m.Risk).where(m.Risk.hive_id == hive.id)
    if not include_closed:
        query = query.where(m.Risk.status == "open")
    rows = session.scalars(query.order_by(m.Risk.opened_at.desc(), m.Risk.id.desc()).limit(LIST_MAX))
    return sorted(rows, key=lambda risk: risk.status != "open")


def open_risk(
    session: Session,
    actor: Actor,
    *,
    hive_id: int,
    title: str,
    function: str,
    detail: str = "",
    owner_id: int | None = None,
    now: datetime | None = None,
) -> m.Risk:
    """Open a risk owned by a function (and, best, by a member of it) (``hive.risk_opened``)."""
    hive = writable_hive(session, actor, hive_id)
    at = now or utcnow()
    errors: list[FieldError] = []
    clean_title = _text(title, "title", TITLE_MAX, errors)
    clean_detail = _text(detail or "", "detail", TEXT_MAX, errors, required=False)
    clean_function = _function(function, errors)
    owner = _member(session, hive.id, owner_id, "owner_id", errors)
    if errors:
        raise InvalidInput(errors)
    risk = m.Risk(
        hive_id=hive.id,
        title=clean_title,
        detail=clean_detail,
        function=clean_function,
        owner_id=owner,
        status="open",
        source="person",
        opened_at=at,
    )
    session.add(risk)
    session.flush()
    append_event(
        session,
        type="hive.risk_opened",
        entity="hive_risk",
        entity_id=risk.id,
        actor=actor.label,
        payload={
            "hive_id": hive.id,
            "account_id": hive.account_id,
            "before": None,
            "after": _risk_state(risk),
        },
        occurred_at=at,
    )
    return risk


def update_risk(
    session: Session, actor: Actor, *, risk_id: int, changes: Mapping[str, Any], now: datetime | None = None
) -> m.Risk:
    """Change a risk's title, detail, function or owner (``hive.risk_changed``)."""
    risk, hive = get_risk(session, actor, risk_id)
    writable_hive(session, actor, hive.id)
    errors: list[FieldError] = []
    for key in changes:
        if key not in RISK_FIELDS:
            _invalid(errors, key, "unknown field")
    values: dict[str, Any] = {}
    if "title" in changes:
        values["title"] = _text(changes["title"], "title", TITLE_MAX, errors)
    if "detail" in changes:
        values["detail"] = _text(changes["detail"] or "", "detail", TEXT_MAX, errors, required=False)
    if "function" in changes:
        values["function"] = _function(changes["function"], errors)
    if "owner_id" in changes:
        values["owner_id"] = _member(session, hive.id, changes["owner_id"], "owner_id", errors)
    if errors:
        raise InvalidInput(errors)
    before = _risk_state(risk)
    for key, value in values.items():
        setattr(risk, key, value)
    after = _risk_state(risk)
    changed = sorted(key for key in after if after[key] != before[key])
    if not changed:
        return risk
    session.flush()
    append_event(
        session,
        type="hive.risk_changed",
        entity="hive_risk",
        entity_id=risk.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "fields": changed, "before": {k: before[k] for k in changed},
                 "after": {k: after[k] for k in changed}},
        occurred_at=now or utcnow(),
    )  # fmt: skip
    return risk


def close_risk(
    session: Session, actor: Actor, *, risk_id: int, note: str = "", now: datetime | None = None
) -> m.Risk:
    """Close a risk (``hive.risk_closed``); ``closed_by`` is who resolved it. Closing a
    closed risk is a conflict."""
    risk, hive = get_risk(session, actor, risk_id)
    writable_hive(session, actor, hive.id)
    if risk.status == "closed":
        raise Conflict("already_closed", entity="hive_risk", id=risk_id)
    errors: list[FieldError] = []
    clean_note = _text(note or "", "note", TEXT_MAX, errors, required=False)
    if errors:
        raise InvalidInput(errors)
    at = now or utcnow()
    risk.status = "closed"
    risk.closed_at = at
    risk.closed_by = actor.user_id
    session.flush()
    append_event(
        session,
        type="hive.risk_closed",
        entity="hive_risk",
        entity_id=risk.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "account_id": hive.account_id, "closed_by": actor.user_id,
                 "source": risk.source, "note": clean_note,
                 "before": {"status": "open"}, "after": {"status": "closed"}},
        occurred_at=at,
    )  # fmt: skip
    return risk


# --- decisions --------------------------------------------------------------------------------


def decisions_of(session: Session, actor: Actor, hive_id: int) -> list[m.Decision]:
    """A hive's decisions, newest first."""
    hive = get_hive(session, actor, hive_id)
    query = select(m.Decision).where(m.Decision.hive_id == hive.id)
    return list(
        session.scalars(query.order_by(m.Decision.decided_at.desc(), m.Decision.id.desc()).limit(LIST_MAX))
    )


def record_decision(
    session: Session, actor: Actor, *, hive_id: int, text: str, now: datetime | None = None
) -> m.Decision:
    """Record a decision taken for the job (``hive.decision_recorded``)."""
    hive = writable_hive(session, actor, hive_id)
    errors: list[FieldError] = []
    clean = _text(text, "text", TEXT_MAX, errors)
    if errors:
        raise InvalidInput(errors)
    at = now or utcnow()
    decision = m.Decision(hive_id=hive.id, text=clean, decided_by=actor.user_id, decided_at=at)
    session.add(decision)
    session.flush()
    append_event(
        session,
        type="hive.decision_recorded",
        entity="hive_decision",
        entity_id=decision.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "account_id": hive.account_id, "before": None,
                 "after": {"text": clean, "decided_by": actor.user_id}},
        occurred_at=at,
    )  # fmt: skip
    return decision


# --- requests ---------------------------------------------------------------------------------


def get_request(session: Session, actor: Actor, request_id: int) -> tuple[m.Request, m.Hive]:
    """A request and its hive, if the actor may read the hive (404 otherwise)."""
    request = session.get(m.Request, request_id)
    if request is None:
        raise NotFound("not_found", entity="hive_request", id=request_id)
    try:
        return request, get_hive(session, actor, request.hive_id)
    except NotFound:
        raise NotFound("not_found", entity="hive_request", id=request_id) from None


def requests_of(session: Session, actor: Actor, hive_id: int) -> list[m.Request]:
    """A hive's requests, unanswered first, newest first within each."""
    hive = get_hive(session, actor, hive_id)
    query = select(m.Request).where(m.Request.hive_id == hive.id)
    rows = session.scalars(query.order_by(m.Request.asked_at.desc(), m.Request.id.desc()).limit(LIST_MAX))
    return sorted(rows, key=lambda request: request.answered_at is not None)


def requests_to(session: Session, actor: Actor, *, open_only: bool = True) -> list[m.Request]:
    """Requests addressed to the actor in the hives they may read, oldest unanswered first."""
    hives = readable_hives(actor).with_only_columns(m.Hive.id).scalar_subquery()
    query = select(m.Request).where(
        m.Request.to_user_id == (actor.user_id or -1), m.Request.hive_id.in_(hives)
    )
    if open_only:
        query = query.where(m.Request.answered_at.is_(None))
    return list(session.scalars(query.order_by(m.Request.asked_at, m.Request.id).limit(LIST_MAX)))


def ask(
    session: Session, actor: Actor, *, hive_id: int, to_user_id: int, text: str, now: datetime | None = None
) -> m.Request:
    """Address a request to one member of the hive (``hive.request_asked``)."""
    hive = writable_hive(session, actor, hive_id)
    errors: list[FieldError] = []
    to_user = _member(session, hive.id, to_user_id, "to_user_id", errors)
    if to_user_id in (None, ""):
        errors.append(FieldError("to_user_id", "missing"))
    elif to_user is not None and to_user == actor.user_id:
        _invalid(errors, "to_user_id", "someone other than yourself")
    clean = _text(text, "text", TEXT_MAX, errors)
    if errors:
        raise InvalidInput(errors)
    assert to_user is not None
    at = now or utcnow()
    request = m.Request(
        hive_id=hive.id, from_user_id=actor.user_id, to_user_id=to_user, text=clean, asked_at=at
    )
    session.add(request)
    session.flush()
    append_event(
        session,
        type="hive.request_asked",
        entity="hive_request",
        entity_id=request.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "account_id": hive.account_id, "from_user_id": actor.user_id,
                 "to_user_id": to_user, "text": clean, "before": None, "after": {"answered": False}},
        occurred_at=at,
    )  # fmt: skip
    return request


def answer(
    session: Session, actor: Actor, *, request_id: int, text: str, now: datetime | None = None
) -> m.Request:
    """Answer a request addressed to you (``hive.request_answered``, with the response time).

    Only the addressee answers (403 for anyone else who can see it); answering twice is a
    conflict.
    """
    request, hive = get_request(session, actor, request_id)
    writable_hive(session, actor, hive.id)
    if actor.user_id is None or actor.user_id != request.to_user_id:
        raise PermissionDenied("not_addressee", entity="hive_request", id=request_id)
    if request.answered_at is not None:
        raise Conflict("already_answered", entity="hive_request", id=request_id)
    errors: list[FieldError] = []
    clean = _text(text, "text", TEXT_MAX, errors)
    if errors:
        raise InvalidInput(errors)
    at = now or utcnow()
    request.answer = clean
    request.answered_at = at
    session.flush()
    seconds = max(0.0, (at - request.asked_at).total_seconds())
    append_event(
        session,
        type="hive.request_answered",
        entity="hive_request",
        entity_id=request.id,
        actor=actor.label,
        payload={"hive_id": hive.id, "account_id": hive.account_id, "to_user_id": request.to_user_id,
                 "from_user_id": request.from_user_id, "response_seconds": round(seconds),
                 "before": {"answered": False}, "after": {"answered": True}},
        occurred_at=at,
    )  # fmt: skip
    return request
