"""The customer portal's login realm and front page.

``/portal/login`` (e-mail + password), ``/portal/magic`` (an e-mailed one-time link),
``/portal/verify`` (the TOTP code, when the customer turned it on), ``/portal/totp``
(turning it on or off) and ``/portal`` (the front page).

A sign-in that still needs its code does not get the session cookie: it gets a short-lived
signed "pending" cookie naming the user, and only a correct code turns that into a
session. So no page, API call or token is reachable between the password and the code,
and the session machinery (``web.security``) needs no "second factor" flag.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pathcast.auth.models import Role, User
from pathcast.auth.sessions import SESSION_COOKIE, new_session_cookie
from pathcast.config import get_settings
from pathcast.deps import DbSession
from pathcast.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from pathcast.portal.service import home as home_service
from pathcast.portal.service import login as login_service
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import (
    LOCALE_COOKIE,
    LOCALE_COOKIE_MAX_AGE,
    LOGIN_CSRF_COOKIE,
    LOGIN_CSRF_MAX_AGE,
    LoginRequired,
    anonymous_locale,
    clear_cookie,
    get_form_page,
    login_csrf_pair,
    login_csrf_valid,
    safe_next,
    set_cookie,
    signed_in_user,
)

router = APIRouter(include_in_schema=False)
PENDING_COOKIE = "pathcast_portal_pending"
PENDING_MAX_AGE = 5 * 60  # minutes to type the code after the password or link
VISITOR_COOKIE = "_pc_vid"  # signals' first-party visitor id, when the snippet runs here
MAX_PASSWORD = 1024
FormText = Annotated[str, Form()]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def portal_next(value: str | None) -> str:
    """Where to go after signing in: a portal path, else the front page."""
    target = safe_next(value, "/portal")
    return target if target == "/portal" or target.startswith("/portal/") else "/portal"


# --- who is looking --------------------------------------------------------------------------


def _portal_login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/portal/login" if target == "/portal" else "/portal/login?next=" + quote(target, safe="")


def get_portal_page(request: Request, session: DbSession) -> PageContext:
    """A portal page for the signed-in customer contact; others are sent to sign in or refused."""
    found = signed_in_user(request, session)
    if found is None:
        raise LoginRequired(_portal_login_url(request))
    user, token = found
    if user.role != Role.customer_contact.value:
        raise PermissionDenied("portal_customers_only")
    return PageContext(request=request, locale=user.locale, csrf_token=token, user=user)


async def get_portal_form_page(request: Request, session: DbSession) -> PageContext:
    """Like ``get_portal_page`` for a posted form, which must carry the session's CSRF token."""
    if signed_in_user(request, session) is None:
        raise LoginRequired("/portal/login")
    page = await get_form_page(request, session)
    if page.user is None or page.user.role != Role.customer_contact.value:
        raise PermissionDenied("portal_customers_only")
    return page


PortalPage = Annotated[PageContext, Depends(get_portal_page)]
PortalFormPage = Annotated[PageContext, Depends(get_portal_form_page)]


# --- the pending second factor ----------------------------------------------------------------


def _pending_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt="pathcast.portal.pending")


def _read_pending(request: Request) -> dict[str, Any] | None:
    value = request.cookies.get(PENDING_COOKIE)
    if not value:
        return None
    try:
        data = _pending_serializer().loads(value, max_age=PENDING_MAX_AGE)
    except BadSignature:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("uid"), int) else None


def finish_sign_in(
    request: Request, session: DbSession, user: User, *, method: str, next_url: str
) -> Response:
    """After the password or the link: ask for the code if TOTP is on, else open the session.

    Also used by the staff login when a customer contact signs in there, so the second
    factor cannot be skipped by using the other door.
    """
    if login_service.totp_enabled(session, user.id):
        response = _redirect("/portal/verify")
        pending = _pending_serializer().dumps({"uid": user.id, "m": method, "next": portal_next(next_url)})
        set_cookie(response, PENDING_COOKIE, pending, max_age=PENDING_MAX_AGE)
        return response
    return _open_session(request, session, user, method=method, next_url=portal_next(next_url))


def _open_session(
    request: Request, session: DbSession, user: User, *, method: str, next_url: str
) -> Response:
    login_service.complete_sign_in(
        session, user=user, method=method, channel="web", visitor_key=request.cookies.get(VISITOR_COOKIE)
    )
    cookie, _web_session = new_session_cookie(user.id)
    response = _redirect(next_url)
    set_cookie(response, SESSION_COOKIE, cookie, max_age=get_settings().session_max_age_seconds)
    set_cookie(response, LOCALE_COOKIE, user.locale, max_age=LOCALE_COOKIE_MAX_AGE)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    clear_cookie(response, PENDING_COOKIE)
    return response


# --- anonymous pages --------------------------------------------------------------------------


def _anonymous_page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    token, new_cookie = login_csrf_pair(request)
    page = PageContext(request=request, locale=anonymous_locale(request), csrf_token=token)
    values = {"error": None, "field_errors": {}, "email": "", "next_url": "/portal", **context}
    response = render(page, template, values, status_code=status_code)
    if new_cookie is not None:
        set_cookie(response, LOGIN_CSRF_COOKIE, new_cookie, max_age=LOGIN_CSRF_MAX_AGE)
    return response


def _t(request: Request, key: str) -> str:
    return PageContext(request=request, locale=anonymous_locale(request)).t(key)


def _email_errors(request: Request, email: str) -> dict[str, str]:
    if not email:
        return {"email": _t(request, "login.email_required")}
    if "@" not in email:
        return {"email": _t(request, "login.email_invalid")}
    return {}


@router.get("/portal/login")
def login_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    """The customer sign-in form (public). A signed-in customer goes straight on."""
    found = signed_in_user(request, session)
    if found is not None and found[0].role == Role.customer_contact.value:
        return _redirect(portal_next(next))
    return _anonymous_page(request, "portal/login.html", {"next_url": portal_next(next)})


@router.post("/portal/login")
def login(
    request: Request,
    session: DbSession,
    email: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
    next: FormText = "/portal",
) -> Response:
    """Check a customer contact's password; then the code (if on), then the session."""
    email = email.strip()[: login_service.MAX_EMAIL]
    values = {"email": email, "next_url": portal_next(next)}
    if not login_csrf_valid(request, csrf_token):
        error = _t(request, "errors.csrf_failed")
        return _anonymous_page(request, "portal/login.html", {**values, "error": error}, status_code=403)
    field_errors = _email_errors(request, email)
    if not password:
        field_errors["password"] = _t(request, "login.password_required")
    if field_errors:
        context = {**values, "error": _t(request, "errors.invalid_input"), "field_errors": field_errors}
        return _anonymous_page(request, "portal/login.html", context, status_code=422)
    try:
        user = login_service.check_password(session, email=email, password=password[:MAX_PASSWORD])
    except Unauthenticated as refusal:
        error = _t(request, f"errors.{refusal.code}")
        return _anonymous_page(request, "portal/login.html", {**values, "error": error}, status_code=401)
    return finish_sign_in(request, session, user, method="password", next_url=values["next_url"])


@router.get("/portal/magic")
def magic_form(request: Request) -> Response:
    """Ask for a sign-in link by e-mail."""
    return _anonymous_page(request, "portal/login.html", {"mode": "magic"})


@router.post("/portal/magic")
def magic_request(
    request: Request, session: DbSession, email: FormText = "", csrf_token: FormText = ""
) -> Response:
    """Mail a link if the address is a customer contact's; the answer is the same either way."""
    email = email.strip()[: login_service.MAX_EMAIL]
    if not login_csrf_valid(request, csrf_token):
        error = _t(request, "errors.csrf_failed")
        context: dict[str, Any] = {"mode": "magic", "email": email, "error": error}
        return _anonymous_page(request, "portal/login.html", context, status_code=403)
    field_errors = _email_errors(request, email)
    if field_errors:
        context = {"mode": "magic", "email": email, "error": _t(request, "errors.invalid_input"),
                   "field_errors": field_errors}  # fmt: skip
        return _anonymous_page(request, "portal/login.html", context, status_code=422)
    login_service.request_magic_link(session, email=email, base_url=str(request.base_url))
    return _anonymous_page(request, "portal/magic_sent.html", {"email": email})


@router.get("/portal/magic/{token}")
def magic_sign_in(request: Request, session: DbSession, token: str) -> Response:
    """Sign in with a mailed link (once, within 15 minutes)."""
    try:
        user = login_service.consume_magic_link(session, token=token[:200])
    except Unauthenticated as refusal:
        context = {"mode": "magic", "error": _t(request, f"errors.{refusal.code}")}
        return _anonymous_page(request, "portal/login.html", context, status_code=401)
    return finish_sign_in(request, session, user, method="magic_link", next_url="/portal")


@router.get("/portal/verify")
def verify_form(request: Request) -> Response:
    """The second step: the code from the customer's authenticator app."""
    if _read_pending(request) is None:
        return _redirect("/portal/login")
    return _anonymous_page(request, "portal/totp.html", {"mode": "verify", "code": ""})


@router.post("/portal/verify")
def verify(request: Request, session: DbSession, code: FormText = "", csrf_token: FormText = "") -> Response:
    """Check the code; a right one opens the session, a wrong or replayed one is refused."""
    pending = _read_pending(request)
    if pending is None:
        return _redirect("/portal/login")
    code = code.strip()[:12]
    context: dict[str, Any] = {"mode": "verify", "code": code}
    if not login_csrf_valid(request, csrf_token):
        error = _t(request, "errors.csrf_failed")
        return _anonymous_page(request, "portal/totp.html", {**context, "error": error}, status_code=403)
    if not code:
        context.update(error=_t(request, "errors.invalid_input"),
                       field_errors={"code": _t(request, "portal_login.code_required")})  # fmt: skip
        return _anonymous_page(request, "portal/totp.html", context, status_code=422)
    user = session.get(User, pending["uid"])
    if user is None or not user.is_active or user.role != Role.customer_contact.value:
        return _redirect("/portal/login")
    try:
        login_service.verify_code(session, user=user, code=code, method=str(pending.get("m", "password")))
    except Unauthenticated as refusal:
        error = _t(request, f"errors.{refusal.code}")
        return _anonymous_page(request, "portal/totp.html", {**context, "error": error}, status_code=401)
    method = str(pending.get("m", "password"))
    return _open_session(request, session, user, method=method, next_url=portal_next(pending.get("next")))


# --- signed-in pages --------------------------------------------------------------------------


@router.get("/portal")
def home(page: PortalPage, session: DbSession) -> Response:
    """The customer's account, what we hold about it, and "download all my data"."""
    summary = home_service.home_summary(session, page.actor)
    totp_on = login_service.totp_enabled(session, page.actor.user_id or -1)
    return render(page, "portal/home.html", {"summary": summary, "totp_on": totp_on, "portal_tab": "home"})


def _totp_page(
    page: PageContext, session: DbSession, *, secret: str | None = None, code: str = "",
    error: str | None = None, field_errors: dict[str, str] | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    assert page.user is not None
    enabled = login_service.totp_enabled(session, page.user.id)
    secret, uri = login_service.totp_setup(page.user, None if enabled else secret)
    context = {"mode": "enabled" if enabled else "setup", "secret": secret, "uri": uri, "code": code,
               "error": error, "field_errors": field_errors or {}}  # fmt: skip
    return render(page, "portal/totp.html", context, status_code=status_code)


@router.get("/portal/totp")
def totp_settings(page: PortalPage, session: DbSession) -> Response:
    """Turn two-step sign-in on (a new secret to scan, confirmed with a code) or off."""
    return _totp_page(page, session)


@router.post("/portal/totp")
def totp_enable(
    page: PortalFormPage, session: DbSession, secret: FormText = "", code: FormText = ""
) -> Response:
    """Confirm the authenticator holds the secret; on success the second factor is on."""
    secret, code = secret.strip()[:64], code.strip()[:12]
    try:
        login_service.enable_totp(session, actor=page.actor, secret=secret, code=code)
    except InvalidInput as invalid:
        fields = {error.field: page.t(f"errors.field.{error.code}") for error in invalid.errors}
        return _totp_page(page, session, secret=secret or None, code=code, error=page.t("errors.invalid_input"),
                          field_errors=fields, status_code=422)  # fmt: skip
    except Conflict:
        return _redirect("/portal/totp")
    return _redirect("/portal/totp")


@router.post("/portal/totp/disable")
def totp_disable(page: PortalFormPage, session: DbSession, code: FormText = "") -> Response:
    """Turn the second factor off (a current code is required)."""
    code = code.strip()[:12]
    try:
        login_service.disable_totp(session, actor=page.actor, code=code)
    except InvalidInput as invalid:
        fields = {error.field: page.t(f"errors.field.{error.code}") for error in invalid.errors}
        return _totp_page(page, session, code=code, error=page.t("errors.invalid_input"), field_errors=fields,
                          status_code=422)  # fmt: skip
    except Conflict:
        return _redirect("/portal/totp")
    return _redirect("/portal/totp")
