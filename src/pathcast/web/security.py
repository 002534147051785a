"""Who is looking at a page: session cookie, login redirect, CSRF for forms.

Signed-in forms carry the session's CSRF token (``auth.sessions``). The login form,
shown before any session exists, uses a signed, short-lived double-submit pair: a
cookie holding a signed random nonce and a form field holding an HMAC of it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pathcast.auth.models import User
from pathcast.auth.sessions import CSRF_FIELD, SESSION_COOKIE, csrf_valid, read_session_cookie
from pathcast.config import get_settings
from pathcast.deps import DbSession
from pathcast.errors import PermissionDenied
from pathcast.i18n import LOCALES, locale_from_accept_language, normalise_locale
from pathcast.web.rendering import PageContext

LOGIN_CSRF_COOKIE = "pathcast_login_csrf"
LOGIN_CSRF_MAX_AGE = 2 * 3600
LOCALE_COOKIE = "pathcast_locale"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600


class LoginRequired(Exception):
    """Raised by page dependencies when nobody is signed in; answered with a redirect."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


# --- redirects ----------------------------------------------------------------------


def safe_next(value: str | None, default: str = "/") -> str:
    """``value`` if it is a path on this site, else ``default`` (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(char) < 32 for char in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def login_url(request: Request) -> str:
    """``/login`` with ``next`` pointing back at the requested page."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if target == "/":
        return "/login"
    return "/login?next=" + quote(target, safe="")


# --- cookies ------------------------------------------------------------------------


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None) -> None:
    """Set a cookie with Pathcast's flags: HttpOnly, SameSite=Lax, Secure if configured."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=get_settings().secure_cookies
    )


def anonymous_locale(request: Request) -> str:
    """The language before login: the locale cookie, else the browser's."""
    cookie = request.cookies.get(LOCALE_COOKIE)
    if cookie and cookie in LOCALES:
        return cookie
    return locale_from_accept_language(request.headers.get("accept-language"))


def valid_locale(value: str | None) -> str | None:
    """``value`` if it names a supported locale exactly (after normalisation)."""
    if not value:
        return None
    normalised = normalise_locale(value)
    return normalised if value.strip().lower() == normalised.lower() else None


# --- pre-login CSRF -----------------------------------------------------------------


def _login_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt="pathcast.login-csrf")


def _login_token(nonce: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"login-csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def _login_nonce(request: Request) -> str | None:
    value = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not value:
        return None
    try:
        nonce = _login_serializer().loads(value, max_age=LOGIN_CSRF_MAX_AGE)
    except BadSignature:
        return None
    return nonce if isinstance(nonce, str) and nonce else None


def login_csrf_pair(request: Request) -> tuple[str, str | None]:
    """The token for the login form, and a new cookie value if one must be set."""
    nonce = _login_nonce(request)
    if nonce is not None:
        return _login_token(nonce), None
    nonce = secrets.token_urlsafe(24)
    return _login_token(nonce), _login_serializer().dumps(nonce)


def login_csrf_valid(request: Request, token: str | None) -> bool:
    """Whether the posted token matches the signed, unexpired cookie."""
    nonce = _login_nonce(request)
    if nonce is None or not token:
        return False
    return hmac.compare_digest(_login_token(nonce), token)


# --- dependencies -------------------------------------------------------------------


def signed_in_user(request: Request, session: DbSession) -> tuple[User, str] | None:
    """The active user behind the session cookie and their CSRF token, or None."""
    web_session = read_session_cookie(request.cookies.get(SESSION_COOKIE))
    if web_session is None:
        return None
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    request.state.locale = user.locale
    request.state.user_name = user.name
    # the error page's navigation shows only the links this role may use
    request.state.user_role = str(user.role)
    request.state.csrf_token = web_session.csrf_token
    return user, web_session.csrf_token


def get_page(request: Request, session: DbSession) -> PageContext:
    """A page for a signed-in user; anyone else is sent to the login form."""
    found = signed_in_user(request, session)
    if found is None:
        raise LoginRequired(login_url(request))
    user, token = found
    return PageContext(request=request, locale=user.locale, csrf_token=token, user=user)


async def get_form_page(request: Request, session: DbSession) -> PageContext:
    """Like ``get_page`` for a posted form, which must carry the session's CSRF token."""
    found = signed_in_user(request, session)
    if found is None:
        raise LoginRequired("/login")
    user, _token = found
    form = await request.form()
    posted = form.get(CSRF_FIELD)
    web_session = read_session_cookie(request.cookies.get(SESSION_COOKIE))
    if web_session is None or not csrf_valid(web_session, posted if isinstance(posted, str) else None):
        raise PermissionDenied("csrf_failed")
    return PageContext(request=request, locale=user.locale, csrf_token=web_session.csrf_token, user=user)


Page = Annotated[PageContext, Depends(get_page)]
FormPage = Annotated[PageContext, Depends(get_form_page)]
