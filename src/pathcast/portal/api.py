"""The customer login realm's API: a bearer token for a customer contact, or a magic link.

``POST /api/v1/portal/login`` answers a token (auth's token service) or a 401 problem;
the refusal is the same for an unknown address, a wrong password, a staff account and a
missing or wrong code, and it is recorded (so it is answered directly rather than raised:
a raised error would roll the event back). ``POST /api/v1/portal/magic-link`` is always 202.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from pathcast.auth import service as auth_service
from pathcast.auth.permissions import Actor
from pathcast.deps import DbSession
from pathcast.errors import Unauthenticated
from pathcast.i18n import translate
from pathcast.portal.service import login as login_service
from pathcast.problems import problem_response, request_locale

router = APIRouter(tags=["portal"])


class PortalLogin(BaseModel):
    """A customer contact's credentials, with the TOTP code when two-step sign-in is on."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    code: str | None = Field(default=None, max_length=12)


class PortalToken(BaseModel):
    """A bearer token for the portal API (shown once)."""

    token: str
    token_type: str = "bearer"
    user_id: int
    account_id: int | None


class MagicLinkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)


class MagicLinkAccepted(BaseModel):
    """The same answer whether or not the address is known."""

    status: str = "accepted"


def _refused(request: Request, code: str) -> Response:
    detail = translate(f"errors.{code}", request_locale(request))
    return problem_response(
        request, status=401, code=code, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


@router.post(
    "/portal/login",
    response_model=PortalToken,
    summary="Sign a customer contact in: a bearer token, or 401",
    responses={401: {"description": "Refused (the same for every reason)"}},
)
def portal_login(body: PortalLogin, request: Request, session: DbSession) -> PortalToken | Response:
    try:
        user = login_service.check_password(session, email=body.email, password=body.password)
        if login_service.totp_enabled(session, user.id):
            login_service.verify_code(session, user=user, code=body.code or "", method="password")
    except Unauthenticated as refusal:
        return _refused(request, refusal.code)
    login_service.complete_sign_in(session, user=user, method="password", channel="api")
    _token, secret = auth_service.create_token(session, actor=Actor.for_user(user), user=user, name="portal")
    return PortalToken(token=secret, user_id=user.id, account_id=user.account_id)


@router.post(
    "/portal/magic-link",
    status_code=202,
    response_model=MagicLinkAccepted,
    summary="E-mail a sign-in link if the address is a customer contact's (always 202)",
)
def portal_magic_link(body: MagicLinkBody, request: Request, session: DbSession) -> MagicLinkAccepted:
    login_service.request_magic_link(session, email=body.email, base_url=str(request.base_url))
    return MagicLinkAccepted()
