"""Business positions ("实施总监", sales VP, CSM): who holds them, where, and on which accounts.

Rules address people by what they do ("notify the implementation director"), not by
name; this service keeps the positions, their holders (optionally for one region or
team) and account teams ("the account's CSM"). Every write appends its Event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import AccountTeamMember, Position, Role, User, UserPosition
from pathcast.auth.permissions import Actor
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import append_event


@dataclass(frozen=True)
class PositionPlan:
    """A position every installation starts with."""

    key: str
    name: str
    name_zh: str
    aliases: tuple[str, ...] = ()


DEFAULT_POSITIONS: tuple[PositionPlan, ...] = (
    PositionPlan(
        "implementation_director",
        "Implementation director",
        "实施总监",
        ("交付总监", "head of implementation", "implementation lead"),
    ),
    PositionPlan("sales_vp", "Sales VP", "销售副总裁", ("销售VP", "VP of sales", "销售总监", "vp sales")),
    PositionPlan("regional_manager", "Regional manager", "区域经理", ("区域销售经理", "area manager")),
    PositionPlan(
        "csm",
        "Customer success manager",
        "客户成功经理",
        ("CSM", "customer success manager", "客户成功"),
    ),
    PositionPlan("delivery_manager", "Delivery manager", "交付经理", ("项目经理", "delivery lead")),
    PositionPlan(
        "production_planner", "Production planner", "生产计划", ("生产计划员", "production planning")
    ),
    PositionPlan("logistics", "Logistics", "物流", ("物流专员", "logistics coordinator")),
)


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")


def _norm(word: str) -> str:
    # Case and inner spacing are not meaningful in a position's name ("VP of Sales", "销售 VP").
    return "".join(word.split()).lower()


def _position_snapshot(position: Position) -> dict[str, object]:
    return {
        "key": position.key,
        "name": position.name,
        "name_zh": position.name_zh,
        "aliases": list(position.aliases or []),
    }


def get_position(session: Session, key: str) -> Position | None:
    """The position with this key, if any."""
    return session.scalars(select(Position).where(Position.key == key)).first()


def find_position(session: Session, word: str) -> Position | None:
    """A position by key, English or Chinese name, or one of its aliases (case and spaces ignored)."""
    wanted = _norm(word)
    if not wanted:
        return None
    exact = get_position(session, word.strip())
    if exact is not None:
        return exact
    for position in session.scalars(select(Position).order_by(Position.id)):
        names = [position.key, position.name, position.name_zh, *(position.aliases or [])]
        if any(_norm(name) == wanted for name in names):
            return position
    return None


def ensure_position(
    session: Session,
    *,
    key: str,
    name: str,
    name_zh: str,
    aliases: Sequence[str] = (),
    actor: Actor,
    occurred_at: datetime | None = None,
) -> Position:
    """The position with ``key``, created (``position.created``) or brought up to date
    (``position.updated``) so that its names and aliases are the given ones."""
    _require_admin(actor)
    key = key.strip()
    if not key or not name.strip() or not name_zh.strip():
        raise InvalidInput.single("key", "missing")
    wanted_aliases = list(dict.fromkeys(alias.strip() for alias in aliases if alias.strip()))
    position = get_position(session, key)
    if position is None:
        position = Position(key=key, name=name.strip(), name_zh=name_zh.strip(), aliases=wanted_aliases)
        session.add(position)
        session.flush()
        append_event(
            session,
            type="position.created",
            entity="position",
            entity_id=position.id,
            actor=actor.label,
            payload={"after": _position_snapshot(position)},
            occurred_at=occurred_at,
        )
        return position
    before = _position_snapshot(position)
    position.name, position.name_zh, position.aliases = name.strip(), name_zh.strip(), wanted_aliases
    after = _position_snapshot(position)
    changed = [field for field in after if after[field] != before[field]]
    if changed:
        session.flush()
        append_event(
            session,
            type="position.updated",
            entity="position",
            entity_id=position.id,
            actor=actor.label,
            payload={
                "before": {field: before[field] for field in changed},
                "after": {field: after[field] for field in changed},
            },
            occurred_at=occurred_at,
        )
    return position


def ensure_default_positions(
    session: Session, *, actor: Actor, occurred_at: datetime | None = None
) -> dict[str, Position]:
    """Every position of ``DEFAULT_POSITIONS``, by key."""
    return {
        plan.key: ensure_position(
            session,
            key=plan.key,
            name=plan.name,
            name_zh=plan.name_zh,
            aliases=plan.aliases,
            actor=actor,
            occurred_at=occurred_at,
        )
        for plan in DEFAULT_POSITIONS
    }


def _check_holder(user: User) -> None:
    if user.role == Role.customer_contact.value:
        raise InvalidInput.single("user_id", "position_needs_staff", id=user.id)


def assign_position(
    session: Session,
    *,
    user: User,
    position: Position,
    region: str | None = None,
    team_id: int | None = None,
    actor: Actor,
    occurred_at: datetime | None = None,
) -> UserPosition:
    """Make ``user`` a holder of ``position`` (for one region or team when given);
    appends ``position.assigned``. Assigning again changes the region or team."""
    _require_admin(actor)
    _check_holder(user)
    region = region.strip() if region and region.strip() else None
    held = session.scalars(
        select(UserPosition).where(UserPosition.user_id == user.id, UserPosition.position_id == position.id)
    ).first()
    if held is not None and held.region == region and held.team_id == team_id:
        return held
    if held is None:
        held = UserPosition(user_id=user.id, position_id=position.id, region=region, team_id=team_id)
        session.add(held)
    else:
        held.region, held.team_id = region, team_id
    session.flush()
    append_event(
        session,
        type="position.assigned",
        entity="position",
        entity_id=position.id,
        actor=actor.label,
        payload={"user_id": user.id, "position": position.key, "region": region, "team_id": team_id},
        occurred_at=occurred_at,
    )
    return held


def unassign_position(
    session: Session, *, user: User, position: Position, actor: Actor, occurred_at: datetime | None = None
) -> bool:
    """``user`` no longer holds ``position``; appends ``position.unassigned``. False if they did not."""
    _require_admin(actor)
    held = session.scalars(
        select(UserPosition).where(UserPosition.user_id == user.id, UserPosition.position_id == position.id)
    ).first()
    if held is None:
        return False
    session.delete(held)
    session.flush()
    append_event(
        session,
        type="position.unassigned",
        entity="position",
        entity_id=position.id,
        actor=actor.label,
        payload={"user_id": user.id, "position": position.key},
        occurred_at=occurred_at,
    )
    return True


def add_account_team_member(
    session: Session,
    *,
    account_id: int,
    user: User,
    position: Position,
    actor: Actor,
    occurred_at: datetime | None = None,
) -> AccountTeamMember:
    """Put ``user`` on the account's team in ``position`` ("the account's CSM");
    appends ``account.team_member_added``. Adding the same member again changes nothing."""
    _require_admin(actor)
    _check_holder(user)
    existing = session.scalars(
        select(AccountTeamMember).where(
            AccountTeamMember.account_id == account_id,
            AccountTeamMember.user_id == user.id,
            AccountTeamMember.position_id == position.id,
        )
    ).first()
    if existing is not None:
        return existing
    member = AccountTeamMember(account_id=account_id, user_id=user.id, position_id=position.id)
    session.add(member)
    session.flush()
    append_event(
        session,
        type="account.team_member_added",
        entity="account",
        entity_id=account_id,
        actor=actor.label,
        payload={"user_id": user.id, "position": position.key},
        occurred_at=occurred_at,
    )
    return member


def holders(session: Session, key: str) -> list[User]:
    """The active staff who hold the position ``key``, wherever they hold it, by id."""
    return list(
        session.scalars(
            select(User)
            .join(UserPosition, UserPosition.user_id == User.id)
            .join(Position, Position.id == UserPosition.position_id)
            .where(
                Position.key == key,
                User.is_active.is_(True),
                User.role != Role.customer_contact.value,
            )
            .order_by(User.id)
        )
    )


def holdings(session: Session, position: Position) -> list[tuple[User, UserPosition]]:
    """Each active staff holder of ``position`` with where they hold it (region, team)."""
    rows = session.execute(
        select(User, UserPosition)
        .join(UserPosition, UserPosition.user_id == User.id)
        .where(
            UserPosition.position_id == position.id,
            User.is_active.is_(True),
            User.role != Role.customer_contact.value,
        )
        .order_by(User.id)
    )
    return [(user, held) for user, held in rows]


def account_team(session: Session, account_id: int, position_key: str | None = None) -> list[User]:
    """The active staff on an account's team, optionally only those in one position."""
    query = (
        select(User)
        .join(AccountTeamMember, AccountTeamMember.user_id == User.id)
        .join(Position, Position.id == AccountTeamMember.position_id)
        .where(
            AccountTeamMember.account_id == account_id,
            User.is_active.is_(True),
            User.role != Role.customer_contact.value,
        )
        .order_by(User.id)
    )
    if position_key is not None:
        query = query.where(Position.key == position_key)
    return list(session.scalars(query).unique())
