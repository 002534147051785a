"""Member contribution in a hive, measured on real work, and the knowledge it counts.

Contribution is what ``hives.contribution`` computes from rows: requests addressed to the
member (``hive_requests``), tasks they own that were finished (a task nobody owns counts
for whoever finished it, from the event log), risks they closed, and knowledge they added
that *someone else* used. Messages, check-ins and logins are
never read here.

Knowledge is recorded with :func:`add_knowledge` (``hive.knowledge_added``) and its use
by another person with :func:`use_knowledge` (``hive.knowledge_used``); the author using
their own note is not a use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound
from pathcast.events import Event, append_event
from pathcast.hives import contribution as c
from pathcast.hives import health as h
from pathcast.hives import models as m
from pathcast.hives.service.access import get_hive, writable_hive

__all__ = ["WEEKS_MAX", "add_knowledge", "contribution_of", "knowledge_of", "use_knowledge"]

TITLE_MAX = 300
BODY_MAX = 20_000
WEEKS_MAX = 52


def add_knowledge(
    session: Session,
    actor: Actor,
    *,
    hive_id: int,
    title: str,
    body: str = "",
    document_id: int | None = None,
    now: datetime | None = None,
) -> m.Contribution:
    """Record a document or an answer someone added to a hive (``hive.knowledge_added``)."""
    hive = writable_hive(session, actor, hive_id)
    errors: list[FieldError] = []
    clean = " ".join((title or "").split())
    if not clean:
        errors.append(FieldError("title", "missing"))
    elif len(clean) > TITLE_MAX:
        errors.append(FieldError("title", "too_long", {"max": TITLE_MAX}))
    if len(body or "") > BODY_MAX:
        errors.append(FieldError("body", "too_long", {"max": BODY_MAX}))
    if document_id is not None:
        from pathcast.crm.models import Document

        if session.get(Document, document_id) is None:
            errors.append(FieldError("document_id", "unknown_reference", {"value": str(document_id)}))
    if errors:
        raise InvalidInput(errors)
    at = now or utcnow()
    item = m.Contribution(
        hive_id=hive.id,
        title=clean,
        body=body or "",
        document_id=document_id,
        added_by=actor.user_id,
        added_at=at,
        used_by=[],
    )
    session.add(item)
    session.flush()
    append_event(
        session,
        type="hive.knowledge_added",
        entity="hive",
        entity_id=hive.id,
        actor=actor.label,
        payload={"knowledge_id": item.id, "title": clean, "document_id": document_id},
        occurred_at=at,
    )
    return item


def use_knowledge(
    session: Session, actor: Actor, *, knowledge_id: int, now: datetime | None = None
) -> tuple[m.Contribution, bool]:
    """Record that ``actor`` used a piece of knowledge; returns (item, whether recorded).

    Counted once per person; the author's own use is not recorded (no event)."""
    item = session.get(m.Contribution, knowledge_id)
    if item is None:
        raise NotFound("not_found", entity="hive_knowledge", id=knowledge_id)
    try:
        writable_hive(session, actor, item.hive_id)
    except NotFound:
        raise NotFound("not_found", entity="hive_knowledge", id=knowledge_id) from None
    if actor.user_id is None or actor.user_id == item.added_by:
        return item, False
    if any(use.get("user_id") == actor.user_id for use in item.used_by or []):
        return item, False
    at = now or utcnow()
    # A new list, so the JSON column sees the change.
    item.used_by = [*(item.used_by or []), {"user_id": actor.user_id, "at": at.isoformat()}]
    session.flush()
    append_event(
        session,
        type="hive.knowledge_used",
        entity="hive",
        entity_id=item.hive_id,
        actor=actor.label,
        payload={"knowledge_id": item.id, "author_id": item.added_by, "user_id": actor.user_id},
        occurred_at=at,
    )
    return item, True


def knowledge_of(session: Session, actor: Actor, hive_id: int) -> list[m.Contribution]:
    """A readable hive's knowledge, newest first."""
    hive = get_hive(session, actor, hive_id)
    return list(
        session.scalars(
            select(m.Contribution)
            .where(m.Contribution.hive_id == hive.id)
            .order_by(m.Contribution.added_at.desc(), m.Contribution.id.desc())
        )
    )


def _uses(raw: Any) -> tuple[tuple[int, datetime], ...]:
    uses: list[tuple[int, datetime]] = []
    for use in raw or []:
        try:
            at = datetime.fromisoformat(str(use["at"]))
            uses.append((int(use["user_id"]), at))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(uses)


def _credit_unowned(session: Session, tasks: list[h.TaskFact]) -> None:
    """A finished task nobody owns counts for whoever finished it, read from the event log
    (the ``hive.task_changed`` that moved it to done)."""
    unowned = {str(task.id): task for task in tasks if task.owner_id is None}
    if not unowned:
        return
    finisher: dict[str, int] = {}
    for entity_id, actor, payload in session.execute(
        select(Event.entity_id, Event.actor, Event.payload)
        .where(
            Event.entity == "hive_task", Event.type == "hive.task_changed", Event.entity_id.in_(list(unowned))
        )
        .order_by(Event.id)
    ):
        after = payload.get("after") if isinstance(payload, dict) else None
        if isinstance(after, dict) and after.get("status") == "done" and str(actor).startswith("user:"):
            finisher[entity_id] = int(str(actor).removeprefix("user:"))
    for entity_id, user_id in finisher.items():
        unowned[entity_id].owner_id = user_id


def contribution_of(
    session: Session, actor: Actor, hive_id: int, *, weeks: int = 8, now: datetime | None = None
) -> c.Contribution:
    """Each member's contribution to a readable hive over the last ``weeks`` weeks, and the
    member × week matrix (answers, problems resolved, knowledge used by others)."""
    hive = get_hive(session, actor, hive_id)
    if not 1 <= weeks <= WEEKS_MAX:
        raise InvalidInput.single("weeks", "invalid", message=f"from 1 to {WEEKS_MAX}")
    at = now or utcnow()
    members = [
        (user_id, function)
        for user_id, function in session.execute(
            select(m.Member.user_id, m.Member.function)
            .where(m.Member.hive_id == hive.id)
            .order_by(m.Member.id)
        )
    ]
    tasks = [
        h.TaskFact(id=row.id, kind=row.kind, status=row.status, owner_id=row.owner_id,
                   due_date=row.due_date, started_at=row.started_at, done_at=row.done_at)
        for row in session.execute(
            select(m.Task.id, m.Task.kind, m.Task.status, m.Task.owner_id, m.Task.due_date,
                   m.Task.started_at, m.Task.done_at).where(m.Task.hive_id == hive.id, m.Task.status == "done")
        )
    ]  # fmt: skip
    _credit_unowned(session, tasks)
    risks = [
        h.RiskFact(function=row.function, owner_id=row.owner_id, status=row.status,
                   closed_by=row.closed_by, closed_at=row.closed_at)
        for row in session.execute(
            select(m.Risk.function, m.Risk.owner_id, m.Risk.status, m.Risk.closed_by, m.Risk.closed_at)
            .where(m.Risk.hive_id == hive.id, m.Risk.status == "closed")
        )
    ]  # fmt: skip
    requests = [
        h.RequestFact(row.from_user_id, row.to_user_id, row.asked_at, row.answered_at)
        for row in session.execute(
            select(m.Request.from_user_id, m.Request.to_user_id, m.Request.asked_at, m.Request.answered_at)
            .where(m.Request.hive_id == hive.id)
        )
    ]  # fmt: skip
    knowledge = [
        c.KnowledgeFact(added_by=row.added_by, added_at=row.added_at, used_by=_uses(row.used_by))
        for row in session.execute(
            select(m.Contribution.added_by, m.Contribution.added_at, m.Contribution.used_by).where(
                m.Contribution.hive_id == hive.id
            )
        )
    ]
    return c.contribution(
        members=members, tasks=tasks, risks=risks, requests=requests, knowledge=knowledge, now=at, weeks=weeks
    )
