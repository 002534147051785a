"""Finding and changing hives: the list with its filters, the figures a list row shows,
a hive's own fields (name, promised date, status), who may manage its members, and the
active hive of an account (what a rule's ``add_member`` joins people to).

Every read starts from ``access.readable_hives``; every write goes through
``access.writable_hive`` and appends its event with ``before``/``after``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, PermissionDenied
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives.service.access import readable_hives, writable_hive
from pathcast.hives.service.hives import (
    NAME_MAX,
    add_member,
    recompute,
    remove_member,
    set_status,
)

__all__ = [
    "ACTIVE_STATUSES",
    "UNSET",
    "HiveCounts",
    "active_hive_for_account",
    "hive_counts",
    "invite_member",
    "list_hives",
    "may_manage_members",
    "staff_choices",
    "uninvite_member",
    "update_hive",
]

# A hive people still work in: a rule's add_member joins people to it.
ACTIVE_STATUSES = ("forming", "active", "at_risk")
LIST_MAX = 500


class _Unset:
    """Marks a field the caller did not send (``None`` clears a promised date)."""

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class HiveCounts:
    """What a list row and the detail header count for a hive."""

    members: int = 0
    tasks: int = 0
    tasks_done: int = 0
    milestones: int = 0
    milestones_done: int = 0
    open_risks: int = 0


def list_hives(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    account_id: int | None = None,
    mine: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[m.Hive]:
    """The hives ``actor`` may read, newest first, narrowed by status, account and
    ``mine`` (hives the actor belongs to). An unknown status is refused naming the field."""
    if status is not None and status not in m.HIVE_STATUSES:
        raise InvalidInput.single("status", "invalid", message=f"one of {', '.join(m.HIVE_STATUSES)}")
    query = readable_hives(actor)
    if status is not None:
        query = query.where(m.Hive.status == status)
    if account_id is not None:
        query = query.where(m.Hive.account_id == account_id)
    if mine:
        query = query.where(
            m.Hive.id.in_(select(m.Member.hive_id).where(m.Member.user_id == (actor.user_id or -1)))
        )
    query = query.order_by(m.Hive.id.desc()).limit(max(1, min(limit, LIST_MAX))).offset(max(0, offset))
    return list(session.scalars(query))


def hive_counts(session: Session, hive_ids: list[int]) -> dict[int, HiveCounts]:
    """Members, tasks (checklist items excluded), milestones and open risks per hive (the
    caller has read the hives)."""
    if not hive_ids:
        return {}
    members = Counter(
        {
            hive_id: count
            for hive_id, count in session.execute(
                select(m.Member.hive_id, func.count())
                .where(m.Member.hive_id.in_(hive_ids))
                .group_by(m.Member.hive_id)
            )
        }
    )
    risks = Counter(
        {
            hive_id: count
            for hive_id, count in session.execute(
                select(m.Risk.hive_id, func.count())
                .where(m.Risk.hive_id.in_(hive_ids), m.Risk.status == "open")
                .group_by(m.Risk.hive_id)
            )
        }
    )
    tallies: dict[int, Counter[str]] = {hive_id: Counter() for hive_id in hive_ids}
    rows = session.execute(
        select(m.Task.hive_id, m.Task.kind, m.Task.status, func.count())
        .where(m.Task.hive_id.in_(hive_ids), m.Task.kind != "check")
        .group_by(m.Task.hive_id, m.Task.kind, m.Task.status)
    )
    for hive_id, kind, status, count in rows:
        tally = tallies[hive_id]
        tally["tasks"] += count
        if status == "done":
            tally["tasks_done"] += count
        if kind == "milestone":
            tally["milestones"] += count
            if status == "done":
                tally["milestones_done"] += count
    return {
        hive_id: HiveCounts(
            members=members[hive_id],
            tasks=tallies[hive_id]["tasks"],
            tasks_done=tallies[hive_id]["tasks_done"],
            milestones=tallies[hive_id]["milestones"],
            milestones_done=tallies[hive_id]["milestones_done"],
            open_risks=risks[hive_id],
        )
        for hive_id in hive_ids
    }


def update_hive(
    session: Session,
    actor: Actor,
    *,
    hive_id: int,
    name: Any = UNSET,
    promised_date: Any = UNSET,
    status: str | None = None,
    now: datetime | None = None,
) -> m.Hive:
    """Change a hive's name, promised date (the schedule is rechecked against it at once)
    and status; appends ``hive.updated`` with ``before``/``after`` for the fields that changed.

    Sellers and admins only: the promise is what sales gave the customer (403 for members)."""
    hive = writable_hive(session, actor, hive_id)
    if not may_manage_members(actor):
        raise PermissionDenied("forbidden_operation", entity="hive", operation="update")
    errors: list[FieldError] = []
    changes: dict[str, Any] = {}
    if name is not UNSET:
        clean = (name or "").strip()
        if not clean:
            errors.append(FieldError("name", "required"))
        elif len(clean) > NAME_MAX:
            errors.append(FieldError("name", "too_long", {"max": NAME_MAX}))
        elif clean != hive.name:
            changes["name"] = clean
    if promised_date is not UNSET:
        if promised_date is not None and not isinstance(promised_date, date):
            errors.append(FieldError("promised_date", "date_invalid"))
        elif promised_date is not None and promised_date < hive.start_date:
            errors.append(FieldError("promised_date", "invalid", {"message": "not before the start date"}))
        elif promised_date != hive.promised_date:
            changes["promised_date"] = promised_date
    if status is not None and status not in m.HIVE_STATUSES:
        errors.append(FieldError("status", "invalid", {"message": f"one of {', '.join(m.HIVE_STATUSES)}"}))
    if errors:
        raise InvalidInput(errors)
    if changes:
        before = {key: _plain(getattr(hive, key)) for key in changes}
        promised_before = hive.promised_date
        for key, value in changes.items():
            setattr(hive, key, value)
        session.flush()
        append_event(
            session,
            type="hive.updated",
            entity="hive",
            entity_id=hive.id,
            actor=actor.label,
            payload={"before": before, "after": {key: _plain(value) for key, value in changes.items()}},
            occurred_at=now or utcnow(),
        )
        if "promised_date" in changes:
            recompute(session, actor, hive, now=now, promised_before=promised_before)
    if status is not None:
        set_status(session, actor, hive_id=hive.id, status=status)
    return hive


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def may_manage_members(actor: Actor) -> bool:
    """Sellers and admins invite and remove people; members work in their hive, and do not
    decide who else is in it."""
    return actor.role in (Role.admin, Role.manager, Role.rep)


def invite_member(
    session: Session, actor: Actor, *, hive_id: int, user_id: int, function: str
) -> tuple[m.Member, bool]:
    """Add a person to a hive (sellers and admins; 403 for members); see ``add_member``."""
    hive = writable_hive(session, actor, hive_id)
    if not may_manage_members(actor):
        raise PermissionDenied("forbidden_operation", entity="hive_member", operation="create")
    return add_member(session, actor, hive_id=hive.id, user_id=user_id, function=function, hive=hive)


def uninvite_member(session: Session, actor: Actor, *, hive_id: int, user_id: int) -> None:
    """Take a person out of a hive (sellers and admins; 403 for members)."""
    writable_hive(session, actor, hive_id)
    if not may_manage_members(actor):
        raise PermissionDenied("forbidden_operation", entity="hive_member", operation="delete")
    remove_member(session, actor, hive_id=hive_id, user_id=user_id)


def active_hive_for_account(
    session: Session, account_id: int, *, opportunity_id: int | None = None
) -> m.Hive | None:
    """The hive people still work in for an account (a rule joins people to it): the one
    of the deal when there is one, else the newest active one; None when there is none.

    Automation calls this with its own actor's authority, so it is not scoped to a viewer.
    """
    query = select(m.Hive).where(m.Hive.account_id == account_id, m.Hive.status.in_(ACTIVE_STATUSES))
    if opportunity_id is not None:
        of_deal = session.scalars(
            query.where(m.Hive.opportunity_id == opportunity_id).order_by(m.Hive.id.desc())
        ).first()
        if of_deal is not None:
            return of_deal
    return session.scalars(query.order_by(m.Hive.id.desc())).first()


def hive_of_deal(session: Session, opportunity_id: int) -> m.Hive | None:
    """The newest hive created for a deal, whatever its status (a rule must not create a
    second one for the same deal)."""
    return session.scalars(
        select(m.Hive).where(m.Hive.opportunity_id == opportunity_id).order_by(m.Hive.id.desc())
    ).first()


def staff_choices(session: Session) -> list[tuple[int, str]]:
    """Active staff (not customer contacts) a seller may invite, by name."""
    rows = session.execute(
        select(User.id, User.name)
        .where(User.is_active.is_(True), User.role != Role.customer_contact.value)
        .order_by(User.name, User.id)
    )
    return [(int(user_id), str(name)) for user_id, name in rows]
