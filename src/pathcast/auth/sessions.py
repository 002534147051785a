"""Signed session cookies and CSRF tokens for the web pages.

The cookie holds the user id and a random session nonce, signed with the secret key;
the CSRF token is an HMAC of that nonce, so a form posted from another site cannot
carry a valid one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from pathcast.config import get_settings

SESSION_COOKIE = "pathcast_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class WebSession:
    """What a valid session cookie says: who, and the nonce CSRF tokens derive from."""

    user_id: int
    nonce: str

    @property
    def csrf_token(self) -> str:
        return csrf_token_for(self.nonce)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt="pathcast.session")


def new_session_cookie(user_id: int) -> tuple[str, WebSession]:
    """A fresh signed cookie value for ``user_id`` (a new nonce on every login)."""
    web_session = WebSession(user_id=user_id, nonce=secrets.token_urlsafe(24))
    value = _serializer().dumps({"uid": user_id, "n": web_session.nonce})
    return value, web_session


def read_session_cookie(value: str | None) -> WebSession | None:
    """The session a cookie carries, or None if absent, tampered with or expired."""
    if not value:
        return None
    try:
        data = _serializer().loads(value, max_age=get_settings().session_max_age_seconds)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("uid"), int) or not data.get("n"):
        return None
    return WebSession(user_id=data["uid"], nonce=str(data["n"]))


def csrf_token_for(nonce: str) -> str:
    """The CSRF token that goes with a session nonce."""
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(web_session: WebSession, token: str | None) -> bool:
    """Whether ``token`` is this session's CSRF token (constant-time comparison)."""
    return bool(token) and hmac.compare_digest(web_session.csrf_token, token or "")
