"""FastAPI dependencies shared by every router, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.auth.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_valid, read_session_cookie
from pathcast.db import unit_of_work
from pathcast.errors import PermissionDenied, Unauthenticated

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """One unit of work per request: committed before the response is sent."""
    with unit_of_work(write=request.method not in SAFE_METHODS) as session:
        yield session


DbSession = Annotated[Session, Depends(get_db, scope="function")]


def authenticated_user(request: Request, session: Session) -> User:
    """The user behind a bearer token or a session cookie (with CSRF on writes)."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return auth_service.user_for_token(session, authorization[7:].strip())
    web_session = read_session_cookie(request.cookies.get(SESSION_COOKIE))
    if web_session is None:
        raise Unauthenticated()
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated()
    if request.method not in SAFE_METHODS and not csrf_valid(web_session, request.headers.get(CSRF_HEADER)):
        raise PermissionDenied("csrf_failed")
    return user


def get_current_user(request: Request, session: DbSession) -> User:
    user = authenticated_user(request, session)
    request.state.locale = user.locale
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def get_current_actor(user: CurrentUser) -> Actor:
    return Actor.for_user(user)


CurrentActor = Annotated[Actor, Depends(get_current_actor)]
