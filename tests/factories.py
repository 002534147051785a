"""Small builders for test data, all going through the services."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, Team, User

__all__ = ["Role"]
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm import service as crm

SYSTEM = Actor.system("test")
PASSWORD = "correct-horse-42"


def team(session: Session, name: str = "East") -> Team:
    return auth_service.create_team(session, actor=SYSTEM, name=name)


def user(
    session: Session,
    email: str,
    *,
    role: Role = Role.rep,
    team_obj: Team | None = None,
    account_id: int | None = None,
    password: str | None = PASSWORD,
) -> User:
    return auth_service.create_user(
        session,
        actor=SYSTEM,
        email=email,
        name=email.split("@")[0],
        role=role,
        team_id=team_obj.id if team_obj else None,
        account_id=account_id,
        password=password,
    )


def actor(user_obj: User) -> Actor:
    return Actor.for_user(user_obj)


def pipeline(session: Session) -> m.Pipeline:
    return crm.ensure_default_pipeline(session, actor=SYSTEM)


def account(session: Session, who: Actor = SYSTEM, **values: Any) -> m.Account:
    data = {"name": "协和医院 Peking Union", "industry": "medical"} | values
    record: m.Account = crm.create_record(session, actor=who, spec=crm.SPECS["account"], data=data)
    return record


def contact(session: Session, who: Actor = SYSTEM, **values: Any) -> m.Contact:
    data = {"name": "王主任", "email": "wang@hospital.example"} | values
    record: m.Contact = crm.create_record(session, actor=who, spec=crm.SPECS["contact"], data=data)
    return record


def activity(session: Session, who: Actor = SYSTEM, **values: Any) -> m.Activity:
    data = {"kind": "meeting", "subject": "方案沟通会"} | values
    record: m.Activity = crm.create_record(session, actor=who, spec=crm.SPECS["activity"], data=data)
    return record


def opportunity(session: Session, who: Actor, **values: Any) -> m.Opportunity:
    pipeline(session)
    data = {"name": "DSA 介入耗材 deal", "amount": 120000} | values
    return crm.create_opportunity(session, actor=who, data=data)


def two_teams(session: Session) -> dict[str, Any]:
    """East and West teams, each with a manager and a rep, plus an admin."""
    east, west = team(session, "East"), team(session, "West")
    people = {
        "admin": user(session, "admin@example.com", role=Role.admin, password=None),
        "east_manager": user(session, "em@example.com", role=Role.manager, team_obj=east, password=None),
        "east_rep": user(session, "er@example.com", role=Role.rep, team_obj=east, password=None),
        "east_rep2": user(session, "er2@example.com", role=Role.rep, team_obj=east, password=None),
        "west_manager": user(session, "wm@example.com", role=Role.manager, team_obj=west, password=None),
        "west_rep": user(session, "wr@example.com", role=Role.rep, team_obj=west, password=None),
        "member": user(session, "member@example.com", role=Role.member, password=None),
    }
    return {"east": east, "west": west, **people}
