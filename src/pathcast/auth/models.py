"""Users, teams and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, StrEnum, TimestampMixin


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    rep = "rep"
    member = "member"
    customer_contact = "customer_contact"


ROLE_VALUES = ", ".join(f"'{role.value}'" for role in Role)


class Team(TimestampMixin, Base):
    """A sales team (or a delivery group); a manager leads it."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    region: Mapped[str | None] = mapped_column(String(100))
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, ondelete="SET NULL")
    )


class User(TimestampMixin, Base):
    """Anyone who logs in: staff of every role, and customers' own contacts."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({ROLE_VALUES})", name="role_known"),
        UniqueConstraint("external_source", "external_id"),
    )

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # access
    role: Mapped[str] = mapped_column(String(32), default=Role.rep.value)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE", use_alter=True), index=True
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    # preferences
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    # provenance
    external_source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(120))


class ApiToken(TimestampMixin, Base):
    """A bearer token; only its SHA-256 is stored, the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Position(TimestampMixin, Base):
    """A business position people hold ("实施总监" implementation director, sales VP, CSM):
    how rules address people by what they do rather than by name."""

    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str] = mapped_column(String(120))
    # other words for it, in both languages ("交付总监", "head of delivery")
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class UserPosition(Base):
    """A user holds a position, optionally for one region or team only."""

    __tablename__ = "user_positions"
    __table_args__ = (UniqueConstraint("user_id", "position_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id", ondelete="CASCADE"), index=True)
    region: Mapped[str | None] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))


class AccountTeamMember(Base):
    """Someone serving an account in a position ("the account's CSM")."""

    __tablename__ = "account_team_members"
    __table_args__ = (UniqueConstraint("account_id", "user_id", "position_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    position_id: Mapped[int] = mapped_column(ForeignKey("positions.id", ondelete="CASCADE"))
