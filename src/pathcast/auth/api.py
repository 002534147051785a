"""Users, teams and tokens over the API."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel
from sqlalchemy import select

from pathcast.auth import service
from pathcast.auth.models import Role, Team, User
from pathcast.auth.permissions import may
from pathcast.auth.schemas import TeamCreate, TeamRead, TokenCreated, UserCreate, UserRead, UserUpdate
from pathcast.deps import CurrentActor, CurrentUser, DbSession
from pathcast.errors import NotFound, PermissionDenied

router = APIRouter(tags=["auth"])


class TokenRequest(BaseModel):
    name: str = "api"


@router.get("/me", summary="The signed-in user")
def read_me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.patch("/me", summary="Change your own name or language")
def update_me(body: UserUpdate, session: DbSession, user: CurrentUser, actor: CurrentActor) -> UserRead:
    service.update_user(session, actor=actor, user=user, changes=body.model_dump(exclude_unset=True))
    return UserRead.model_validate(user)


@router.get("/users", summary="Users: admins see all, staff see their team")
def list_users(session: DbSession, actor: CurrentActor) -> list[UserRead]:
    if not may(actor, "user", "read"):
        raise PermissionDenied("forbidden_model", entity="user")
    query = select(User).order_by(User.id)
    if not actor.is_admin:
        query = (
            query.where(User.team_id == actor.team_id)
            if actor.team_id
            else query.where(User.id == actor.user_id)
        )
    return [UserRead.model_validate(user) for user in session.scalars(query)]


@router.post("/users", status_code=201, summary="Create a user (admins)")
def create_user(body: UserCreate, session: DbSession, actor: CurrentActor) -> UserRead:
    user = service.create_user(
        session,
        actor=actor,
        email=body.email,
        name=body.name,
        role=body.role,
        password=body.password,
        team_id=body.team_id,
        account_id=body.account_id,
        locale=body.locale,
    )
    return UserRead.model_validate(user)


@router.patch("/users/{user_id}", summary="Change a user (admins)")
def update_user(user_id: int, body: UserUpdate, session: DbSession, actor: CurrentActor) -> UserRead:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(entity="user", id=user_id)
    changes = body.model_dump(exclude_unset=True)
    if "role" in changes and changes["role"] is not None:
        changes["role"] = Role(changes["role"]).value
    service.update_user(session, actor=actor, user=user, changes=changes)
    return UserRead.model_validate(user)


@router.get("/teams", summary="Teams")
def list_teams(session: DbSession, actor: CurrentActor) -> list[TeamRead]:
    if not may(actor, "team", "read"):
        raise PermissionDenied("forbidden_model", entity="team")
    return [TeamRead.model_validate(team) for team in session.scalars(select(Team).order_by(Team.name))]


@router.post("/teams", status_code=201, summary="Create a team (admins)")
def create_team(body: TeamCreate, session: DbSession, actor: CurrentActor) -> TeamRead:
    team = service.create_team(
        session, actor=actor, name=body.name, region=body.region, manager_id=body.manager_id
    )
    return TeamRead.model_validate(team)


@router.post("/tokens", status_code=201, summary="Issue yourself an API token (shown once)")
def create_token(
    body: TokenRequest, session: DbSession, user: CurrentUser, actor: CurrentActor
) -> TokenCreated:
    token, secret = service.create_token(session, actor=actor, user=user, name=body.name)
    return TokenCreated(id=token.id, name=token.name, token=secret, user_email=user.email)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, summary="Revoke a token")
def revoke_token(token_id: int, session: DbSession, actor: CurrentActor) -> Response:
    service.revoke_token(session, actor=actor, token_id=token_id)
    return Response(status_code=204)
