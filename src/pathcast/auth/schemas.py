"""Pydantic I/O for users, teams and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, Field

from pathcast.auth.models import Role
from pathcast.schemas import CUSTOMER, INTERNAL, RETAINED, NonEmptyStr, ProjectBase

Locale = Annotated[str, Field(pattern=r"^(zh-CN|en)$")]


class UserCreate(ProjectBase):
    email: EmailStr
    name: NonEmptyStr
    password: Annotated[str, Field(min_length=8, max_length=200)] | None = None
    role: Role = Role.rep
    team_id: int | None = None
    account_id: int | None = None
    locale: Locale = "zh-CN"


class UserUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    role: Role | None = None
    team_id: int | None = None
    is_active: bool | None = None
    locale: Locale | None = None


class UserRead(ProjectBase):
    id: Annotated[int, CUSTOMER]
    email: Annotated[str, CUSTOMER]
    name: Annotated[str, CUSTOMER]
    role: Annotated[Role, INTERNAL]
    team_id: Annotated[int | None, INTERNAL]
    account_id: Annotated[int | None, INTERNAL]
    is_active: Annotated[bool, INTERNAL]
    locale: Annotated[str, INTERNAL]
    created_at: Annotated[datetime, RETAINED]


class TeamCreate(ProjectBase):
    name: NonEmptyStr
    region: NonEmptyStr | None = None
    manager_id: int | None = None


class TeamRead(ProjectBase):
    id: Annotated[int, CUSTOMER]
    name: Annotated[str, CUSTOMER]
    region: Annotated[str | None, CUSTOMER]
    manager_id: Annotated[int | None, INTERNAL]


class TokenCreated(ProjectBase):
    """A new token: ``token`` is shown only this once."""

    id: int
    name: str
    token: str
    user_email: str
