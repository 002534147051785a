"""Users, teams, passwords and API tokens. Every write appends its Event."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import ApiToken, Role, Team, User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from pathcast.events import append_event

TOKEN_PREFIX = "pc_"
_hasher = PasswordHasher()
# Verifying against a fixed hash when the user is unknown keeps response times alike.
_DUMMY_HASH = _hasher.hash("pathcast-timing-equaliser")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")


def _user_snapshot(user: User) -> dict[str, Any]:
    # Never put the password hash in the log: it is system-retained, not history.
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "team_id": user.team_id,
        "account_id": user.account_id,
        "is_active": user.is_active,
        "locale": user.locale,
    }


def get_user_by_email(session: Session, email: str) -> User | None:
    """The user with this e-mail address, compared case-insensitively."""
    return session.scalars(select(User).where(func.lower(User.email) == email.strip().lower())).first()


def create_team(
    session: Session,
    *,
    actor: Actor,
    name: str,
    region: str | None = None,
    manager_id: int | None = None,
    external_id: str | None = None,
) -> Team:
    """Create a team (admins only)."""
    _require_admin(actor)
    if session.scalars(select(Team).where(Team.name == name)).first() is not None:
        raise Conflict("team_exists", name=name)
    team = Team(name=name, region=region, manager_id=manager_id)
    session.add(team)
    session.flush()
    append_event(
        session,
        type="team.created",
        entity="team",
        entity_id=team.id,
        actor=actor.label,
        payload={"after": {"name": name, "region": region, "manager_id": manager_id}},
    )
    return team


def set_team_manager(session: Session, *, actor: Actor, team: Team, manager_id: int | None) -> Team:
    """Name the manager who leads a team."""
    _require_admin(actor)
    if team.manager_id != manager_id:
        before = team.manager_id
        team.manager_id = manager_id
        session.flush()
        append_event(
            session,
            type="team.updated",
            entity="team",
            entity_id=team.id,
            actor=actor.label,
            payload={"before": {"manager_id": before}, "after": {"manager_id": manager_id}},
        )
    return team


def create_user(
    session: Session,
    *,
    actor: Actor,
    email: str,
    name: str,
    role: Role = Role.rep,
    password: str | None = None,
    team_id: int | None = None,
    account_id: int | None = None,
    locale: str = "zh-CN",
    external_source: str | None = None,
    external_id: str | None = None,
) -> User:
    """Create a login. Passwords are stored only as argon2id hashes."""
    _require_admin(actor)
    email = email.strip().lower()
    if get_user_by_email(session, email) is not None:
        raise Conflict("user_exists", email=email)
    if role is Role.customer_contact and account_id is None:
        raise InvalidInput.single("account_id", "customer_needs_account")
    if team_id is not None and session.get(Team, team_id) is None:
        raise InvalidInput.single("team_id", "unknown_reference", entity="team", id=team_id)
    user = User(
        email=email,
        name=name,
        role=role.value,
        team_id=team_id,
        account_id=account_id,
        locale=locale,
        password_hash=hash_password(password) if password else None,
        external_source=external_source,
        external_id=external_id,
    )
    session.add(user)
    session.flush()
    append_event(
        session,
        type="user.created",
        entity="user",
        entity_id=user.id,
        actor=actor.label,
        payload={"after": _user_snapshot(user)},
    )
    return user


def update_user(session: Session, *, actor: Actor, user: User, changes: dict[str, Any]) -> User:
    """Change a user's name, role, team, active flag or locale.

    Admins may change anything; users may change only their own name and locale.
    """
    own_fields = {"name", "locale"}
    if not actor.is_admin and (actor.user_id != user.id or not set(changes) <= own_fields):
        raise PermissionDenied("admin_only")
    before = _user_snapshot(user)
    for key, value in changes.items():
        setattr(user, key, value.value if isinstance(value, Role) else value)
    after = _user_snapshot(user)
    diff = {key for key in after if after[key] != before[key]}
    if diff:
        session.flush()
        append_event(
            session,
            type="user.updated",
            entity="user",
            entity_id=user.id,
            actor=actor.label,
            payload={"before": {k: before[k] for k in diff}, "after": {k: after[k] for k in diff}},
        )
    return user


def set_password(session: Session, *, actor: Actor, user: User, password: str) -> None:
    """Set a user's password (the user themself or an admin)."""
    if not actor.is_admin and actor.user_id != user.id:
        raise PermissionDenied("admin_only")
    if len(password) < 8:
        raise InvalidInput.single("password", "password_too_short", min=8)
    user.password_hash = hash_password(password)
    session.flush()
    append_event(session, type="user.password_changed", entity="user", entity_id=user.id, actor=actor.label)


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The active user with these credentials, or ``Unauthenticated``."""
    user = get_user_by_email(session, email)
    stored = user.password_hash if user is not None and user.is_active else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated("bad_credentials") from None
    if user is None or stored is None:
        raise Unauthenticated("bad_credentials")
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, *, actor: Actor, user: User, name: str = "cli") -> tuple[ApiToken, str]:
    """Issue a bearer token for ``user``; returns the row and the secret (shown once)."""
    if not actor.is_admin and actor.user_id != user.id:
        raise PermissionDenied("admin_only")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, prefix=secret[:10], token_hash=_token_digest(secret))
    session.add(token)
    session.flush()
    append_event(
        session,
        type="api_token.created",
        entity="api_token",
        entity_id=token.id,
        actor=actor.label,
        payload={"after": {"user_id": user.id, "name": name, "prefix": token.prefix}},
    )
    return token, secret


def revoke_token(session: Session, *, actor: Actor, token_id: int) -> None:
    """Revoke a token; the next request with it is refused."""
    token = session.get(ApiToken, token_id)
    if token is None or (not actor.is_admin and token.user_id != actor.user_id):
        raise NotFound(entity="api_token", id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        append_event(
            session,
            type="api_token.revoked",
            entity="api_token",
            entity_id=token.id,
            actor=actor.label,
        )


def user_for_token(session: Session, secret: str) -> User:
    """The active user a bearer token belongs to, or ``Unauthenticated``."""
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == _token_digest(secret))).first()
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("bad_token")
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("bad_token")
    return user


def user_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """``{user id: display name}`` for the given ids (staff names are readable by every user)."""
    wanted = sorted({int(user_id) for user_id in user_ids if user_id is not None})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {int(user_id): str(name) for user_id, name in rows}
