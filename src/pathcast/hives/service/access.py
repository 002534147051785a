"""Who sees and works in which hive.

- admins: every hive;
- managers and reps: the hives of accounts crm lets them read, and hives they belong to;
- members (delivery, production planning, logistics…): only the hives they belong to —
  they never read the pipeline (crm refuses them deals), only their work;
- customer contacts: none here (the portal shows customers their own data).

A hidden hive looks exactly like a missing one (404). Writing needs the ``hive`` right and
a readable hive; a member may work only in hives they belong to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, false, or_, select, true
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor, Operation, may
from pathcast.crm import models as crm_models
from pathcast.crm.service import readable_query, spec_for
from pathcast.errors import NotFound, PermissionDenied
from pathcast.hives import models as m

__all__ = ["get_hive", "is_member", "readable_clause", "readable_hives", "require", "writable_hive"]


def require(actor: Actor, operation: Operation, right: str = "hive") -> None:
    """Refuse (403) a role that may not ``operation`` on ``right`` at all."""
    if not may(actor, right, operation):
        raise PermissionDenied("forbidden_operation", entity=right, operation=operation)


def _membership(actor: Actor) -> ColumnElement[bool]:
    return m.Hive.id.in_(select(m.Member.hive_id).where(m.Member.user_id == (actor.user_id or -1)))


def readable_clause(actor: Actor) -> ColumnElement[bool]:
    """The hives ``actor`` may read, as a WHERE clause on ``hives``."""
    if actor.role is Role.admin:
        return true()
    if actor.role is Role.member:
        return _membership(actor)
    if actor.role in (Role.manager, Role.rep):
        accounts = readable_query(actor, spec_for("account")).with_only_columns(crm_models.Account.id)
        return or_(m.Hive.account_id.in_(accounts.scalar_subquery()), _membership(actor))
    return false()


def readable_hives(actor: Actor) -> Select[Any]:
    """``select(Hive)`` narrowed to what ``actor`` may read (403 without the hive right)."""
    require(actor, "read")
    return select(m.Hive).where(readable_clause(actor))


def get_hive(session: Session, actor: Actor, hive_id: int) -> m.Hive:
    """One hive ``actor`` may read; a hidden one is a 404 like a missing one."""
    hive = session.scalars(readable_hives(actor).where(m.Hive.id == hive_id)).first()
    if hive is None:
        raise NotFound("not_found", entity="hive", id=hive_id)
    return hive


def writable_hive(session: Session, actor: Actor, hive_id: int) -> m.Hive:
    """A hive ``actor`` may work in (read it, and hold the ``hive`` update right)."""
    hive = get_hive(session, actor, hive_id)
    require(actor, "update")
    return hive


def is_member(session: Session, hive_id: int, user_id: int | None) -> bool:
    """Whether the user belongs to the hive."""
    if user_id is None:
        return False
    return (
        session.scalars(
            select(m.Member.id).where(m.Member.hive_id == hive_id, m.Member.user_id == user_id)
        ).first()
        is not None
    )
