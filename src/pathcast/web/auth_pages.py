"""Sign in, sign out and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.auth.sessions import (
    SESSION_COOKIE,
    csrf_valid,
    new_session_cookie,
    read_session_cookie,
)
from pathcast.config import get_settings
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, PermissionDenied, Unauthenticated
from pathcast.i18n import LOCALES
from pathcast.web.portal import finish_sign_in
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import (
    LOCALE_COOKIE,
    LOCALE_COOKIE_MAX_AGE,
    LOGIN_CSRF_COOKIE,
    LOGIN_CSRF_MAX_AGE,
    FormPage,
    anonymous_locale,
    clear_cookie,
    login_csrf_pair,
    login_csrf_valid,
    safe_next,
    set_cookie,
    signed_in_user,
    valid_locale,
)

router = APIRouter(include_in_schema=False)
MAX_EMAIL = 320
MAX_PASSWORD = 1024

FormText = Annotated[str, Form()]


def _login_page(
    request: Request,
    *,
    email: str = "",
    next_url: str = "/",
    error: str | None = None,
    field_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    token, new_cookie = login_csrf_pair(request)
    page = PageContext(request=request, locale=anonymous_locale(request), csrf_token=token)
    response = render(
        page,
        "login.html",
        {"email": email, "next_url": next_url, "error": error, "field_errors": field_errors or {}},
        status_code=status_code,
    )
    if new_cookie is not None:
        set_cookie(response, LOGIN_CSRF_COOKIE, new_cookie, max_age=LOGIN_CSRF_MAX_AGE)
    return response


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.get("/login")
def login_form(request: Request, session: DbSession, next: str | None = None) -> Response:
    """The sign-in form (public). Signed-in users go straight on."""
    next_url = safe_next(next)
    if signed_in_user(request, session) is not None:
        return _redirect(next_url)
    return _login_page(request, next_url=next_url)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    email: FormText = "",
    password: FormText = "",
    csrf_token: FormText = "",
    next: FormText = "/",
) -> Response:
    """Check the credentials; on success set the session cookie and go on (303)."""
    locale = anonymous_locale(request)
    page = PageContext(request=request, locale=locale)
    email = email.strip()[:MAX_EMAIL]
    next_url = safe_next(next)
    if not login_csrf_valid(request, csrf_token):
        return _login_page(
            request, email=email, next_url=next_url, error=page.t("errors.csrf_failed"), status_code=403
        )
    field_errors: dict[str, str] = {}
    if not email:
        field_errors["email"] = page.t("login.email_required")
    elif "@" not in email:
        field_errors["email"] = page.t("login.email_invalid")
    if not password:
        field_errors["password"] = page.t("login.password_required")
    if field_errors:
        return _login_page(
            request,
            email=email,
            next_url=next_url,
            error=page.t("errors.invalid_input"),
            field_errors=field_errors,
            status_code=400,
        )
    try:
        user = auth_service.authenticate(session, email=email, password=password[:MAX_PASSWORD])
    except Unauthenticated as error:
        return _login_page(
            request, email=email, next_url=next_url, error=page.t(f"errors.{error.code}"), status_code=401
        )
    if user.role == Role.customer_contact.value:
        # Customers belong in the portal, through its door: the second factor applies.
        return finish_sign_in(request, session, user, method="password", next_url=next_url)
    cookie, _web_session = new_session_cookie(user.id)
    response = _redirect(next_url)
    set_cookie(response, SESSION_COOKIE, cookie, max_age=get_settings().session_max_age_seconds)
    set_cookie(response, LOCALE_COOKIE, user.locale, max_age=LOCALE_COOKIE_MAX_AGE)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(page: FormPage) -> Response:
    """End the session (the form carries the CSRF token)."""
    response = _redirect("/login")
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.post("/locale")
def switch_locale(
    request: Request,
    session: DbSession,
    locale: FormText = "",
    csrf_token: FormText = "",
    next: FormText = "/",
) -> Response:
    """Change the language: saved on the user when signed in, else in a cookie."""
    found = signed_in_user(request, session)
    web_session = read_session_cookie(request.cookies.get(SESSION_COOKIE))
    if found is not None:
        if web_session is None or not csrf_valid(web_session, csrf_token):
            raise PermissionDenied("csrf_failed")
    elif not login_csrf_valid(request, csrf_token):
        raise PermissionDenied("csrf_failed")
    chosen = valid_locale(locale)
    if chosen is None:
        raise InvalidInput.single("locale", "invalid", message=", ".join(LOCALES))
    if found is not None:
        user = found[0]
        auth_service.update_user(session, actor=Actor.for_user(user), user=user, changes={"locale": chosen})
        request.state.locale = chosen
    response = _redirect(safe_next(next))
    set_cookie(response, LOCALE_COOKIE, chosen, max_age=LOCALE_COOKIE_MAX_AGE)
    return response
