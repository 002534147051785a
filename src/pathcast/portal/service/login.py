"""The customer's login realm: password, e-mailed magic link, optional TOTP second factor.

Only ``customer_contact`` users sign in here. Every refusal says the same generic thing
(wrong address, wrong password, staff account, bad link: one message), so the portal
never tells a stranger whether an address is known. Each refusal and each sign-in is an
event (``portal.sign_in_failed``, ``portal.signed_in``); no password, token or code is
ever written to a payload.

Magic links: a random token is mailed; only its SHA-256 is stored
(``portal_magic_links``), it expires after ``MAGIC_LINK_TTL`` and is used once (the
``used_at`` stamp is set by a conditional UPDATE, so two clicks racing cannot both win).
At most ``MAGIC_LINKS_PER_HOUR`` are sent to one address per hour; beyond that the
request is answered the same way and nothing is sent.

TOTP: the base32 secret is encrypted at rest with Fernet under a key derived from the
server secret; the last accepted time-step is stored and no code at or before it is
accepted again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.automation.actions import notify
from pathcast.config import get_settings
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from pathcast.events import Event, append_event
from pathcast.portal import totp
from pathcast.portal.models import MagicLink, Totp
from pathcast.signals import models as signal_models
from pathcast.signals.service import consent, identity

logger = logging.getLogger("pathcast.portal.mail")

MAGIC_LINK_TTL = timedelta(minutes=15)
MAGIC_LINKS_PER_HOUR = 5
MAX_CODE_FAILURES = 5  # wrong TOTP codes per user within CODE_FAILURE_WINDOW, then refused
CODE_FAILURE_WINDOW = timedelta(minutes=15)
MAX_EMAIL = 320
# One refusal for everything: unknown address, wrong password, staff account, bad link, bad code.
BAD_CREDENTIALS = "portal_bad_credentials"
BAD_LINK = "portal_link_invalid"
BAD_CODE = "portal_code_invalid"

MAIL_TEXTS = {
    "zh-CN": ("【Pathcast】客户门户登录链接", "点击以下链接登录客户门户（15 分钟内有效，仅可使用一次）：\n\n{link}\n\n"
              "如果不是您本人操作，请忽略此邮件。"),
    "en": ("[Pathcast] Your sign-in link for the customer portal",
           "Open this link to sign in to the customer portal (valid for 15 minutes, once):\n\n{link}\n\n"
           "If you did not ask for it, ignore this e-mail."),
}  # fmt: skip


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a magic-link token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _fernet() -> Fernet:
    # A key of its own, derived from the server secret: rotating the secret invalidates
    # enrolled authenticators, which is the safe direction.
    raw = hmac.new(get_settings().resolved_secret_key().encode(), b"pathcast portal totp", hashlib.sha256)
    return Fernet(base64.urlsafe_b64encode(raw.digest()))


def encrypt_secret(secret_b32: str) -> str:
    return _fernet().encrypt(secret_b32.encode()).decode("ascii")


def decrypt_secret(encrypted: str) -> str:
    return _fernet().decrypt(encrypted.encode("ascii")).decode()


def _clean_email(email: str) -> str:
    # control characters (a NUL breaks PostgreSQL text) never reach a query or a payload
    return "".join(char for char in email.strip().lower() if ord(char) >= 32)[:MAX_EMAIL]


def _lookup(session: Session, email: str) -> User | None:
    """The user with this address, if it is one a person could type."""
    cleaned = _clean_email(email)
    if not cleaned or cleaned != email.strip().lower()[:MAX_EMAIL] or "@" not in cleaned:
        return None
    return auth_service.get_user_by_email(session, cleaned)


def _portal_user(user: User | None) -> User | None:
    """The user if they may sign in to the portal (an active customer contact)."""
    if user is None or not user.is_active or user.role != Role.customer_contact.value:
        return None
    return user


def record_failure(
    session: Session, *, email: str, method: str, reason: str, user: User | None = None
) -> None:
    """Append ``portal.sign_in_failed`` (what was tried and why it failed; never the secret)."""
    append_event(
        session,
        type="portal.sign_in_failed",
        entity="user",
        entity_id=user.id if user is not None else "unknown",
        actor=f"portal:{_clean_email(email)}" if user is None else f"user:{user.id}",
        payload={"email": _clean_email(email), "method": method, "reason": reason},
    )


# --- password ------------------------------------------------------------------------------


def check_password(session: Session, *, email: str, password: str) -> User:
    """The customer contact with these credentials, or ``Unauthenticated`` (one message for all)."""
    known = _lookup(session, email)
    try:
        if known is None:
            # same work as a wrong password, so timing does not tell the address is unknown
            auth_service.authenticate(session, email="", password=password)
        user = auth_service.authenticate(session, email=_clean_email(email), password=password)
    except Unauthenticated:
        record_failure(session, email=email, method="password", reason="bad_credentials", user=known)
        raise Unauthenticated(BAD_CREDENTIALS) from None
    if _portal_user(user) is None:
        # staff belong at /login; the message is the same so it reveals no role
        record_failure(session, email=email, method="password", reason="not_customer_contact", user=user)
        raise Unauthenticated(BAD_CREDENTIALS)
    return user


# --- magic links ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MagicLinkRequest:
    """What a request did, for tests and logs; the requester is told the same either way."""

    sent: bool
    reason: str  # "sent", "unknown_address", "rate_limited"


def request_magic_link(
    session: Session, *, email: str, base_url: str, now: datetime | None = None
) -> MagicLinkRequest:
    """Mail a sign-in link to a known customer contact; do nothing visible otherwise."""
    now = now or utcnow()
    user = _portal_user(_lookup(session, email))
    if user is None:
        return MagicLinkRequest(False, "unknown_address")
    recent = session.scalar(
        select(func.count())
        .select_from(MagicLink)
        .where(MagicLink.user_id == user.id, MagicLink.created_at > now - timedelta(hours=1))
    )
    if int(recent or 0) >= MAGIC_LINKS_PER_HOUR:
        record_failure(session, email=email, method="magic_link", reason="rate_limited", user=user)
        return MagicLinkRequest(False, "rate_limited")
    token = secrets.token_urlsafe(32)
    link = MagicLink(
        user_id=user.id, token_sha256=token_digest(token), created_at=now, expires_at=now + MAGIC_LINK_TTL
    )
    session.add(link)
    session.flush()
    delivery = _send_link(session, user, f"{base_url.rstrip('/')}/portal/magic/{token}", link.token_sha256)
    append_event(
        session,
        type="portal.magic_link_sent",
        entity="user",
        entity_id=user.id,
        actor=f"user:{user.id}",
        payload={"link_id": link.id, "expires_at": link.expires_at, "delivery": delivery},
    )
    return MagicLinkRequest(True, "sent")


def _send_link(session: Session, user: User, url: str, digest: str) -> str:
    """Mail the link through the SMTP connector notify uses; without one, log it (development).

    Returns how it went out: ``smtp``, ``log``, or ``failed`` (the requester is not told:
    a failure must not reveal that the address exists).
    """
    lang = notify.lang_of(user)
    subject, body = MAIL_TEXTS[lang]
    connector = notify.find_connector(session, "smtp")
    if connector is None:
        logger.info("portal sign-in link for %s (no SMTP connector configured): %s", user.email, url)
        return "log"
    base = str((connector.config or {}).get("base_url") or "").rstrip("/")
    if base:
        url = base + url[url.index("/portal/magic/") :]
    message = notify.build_email(
        connector, to=user, subject=subject, body=body.format(link=url), key=f"portal-magic:{digest[:32]}"
    )
    try:
        notify.smtp_send(connector, message)
    except notify.DeliveryError as error:
        logger.warning("portal sign-in link to user %s not sent: %s", user.id, error.reason)
        return "failed"
    return "smtp"


def consume_magic_link(session: Session, *, token: str, now: datetime | None = None) -> User:
    """The customer contact a valid, unused, unexpired link belongs to; the link is spent."""
    now = now or utcnow()
    link = session.scalars(select(MagicLink).where(MagicLink.token_sha256 == token_digest(token))).first()
    user = _portal_user(session.get(User, link.user_id)) if link is not None else None
    reason = None
    if link is None or user is None:
        reason = "unknown_link"
    elif link.used_at is not None:
        reason = "used_link"
    elif link.expires_at <= now:
        reason = "expired_link"
    else:
        # Spend it with a conditional UPDATE: of two racing requests only one changes the row.
        spent = session.execute(
            update(MagicLink).where(MagicLink.id == link.id, MagicLink.used_at.is_(None)).values(used_at=now)
        )
        if getattr(spent, "rowcount", 0) != 1:
            reason = "used_link"
    if reason is not None:
        email = user.email if user is not None else ""
        record_failure(session, email=email, method="magic_link", reason=reason, user=user)
        raise Unauthenticated(BAD_LINK)
    session.expire(link)
    assert user is not None
    return user


# --- TOTP ----------------------------------------------------------------------------------


def totp_enabled(session: Session, user_id: int) -> bool:
    """Whether the user signs in with a second factor."""
    row = session.get(Totp, user_id)
    return row is not None and row.enabled


def _recent_code_failures(session: Session, user_id: int) -> int:
    """Wrong codes for this user in the last ``CODE_FAILURE_WINDOW`` (read from the event log)."""
    recent = session.scalars(
        select(Event.payload)
        .where(
            Event.type == "portal.sign_in_failed",
            Event.entity == "user",
            Event.entity_id == str(user_id),
            Event.occurred_at > utcnow() - CODE_FAILURE_WINDOW,
        )
        .order_by(Event.id.desc())
        .limit(50)
    )
    return sum(1 for payload in recent if (payload or {}).get("reason") in ("bad_code", "too_many_codes"))


def verify_code(
    session: Session, *, user: User, code: str, method: str, unix_time: float | None = None
) -> None:
    """Accept a TOTP code once (``Unauthenticated`` for a wrong or replayed code)."""
    row = session.get(Totp, user.id)
    if row is None or not row.enabled:
        return
    try:
        key = totp.secret_bytes(decrypt_secret(row.secret_encrypted))
    except (InvalidToken, ValueError):
        # a secret the current key cannot read (the server secret changed): refuse, never skip
        record_failure(session, email=user.email, method=method, reason="totp_unreadable", user=user)
        raise Unauthenticated(BAD_CODE) from None
    if _recent_code_failures(session, user.id) >= MAX_CODE_FAILURES:
        # a million codes, three valid at a time: guessing must not be free
        record_failure(session, email=user.email, method=method, reason="too_many_codes", user=user)
        raise Unauthenticated(BAD_CODE)
    step = totp.matching_step(
        key, code or "", time.time() if unix_time is None else unix_time, after=row.last_step
    )
    if step is None:
        record_failure(session, email=user.email, method=method, reason="bad_code", user=user)
        raise Unauthenticated(BAD_CODE)
    row.last_step = step
    session.flush()


def totp_setup(user: User, secret_b32: str | None = None) -> tuple[str, str]:
    """A fresh secret (or the one being confirmed) and its ``otpauth://`` URI. Writes nothing:
    the secret is stored only once a code proves the app has it."""
    secret = secret_b32 or totp.new_secret()
    return secret, totp.provisioning_uri(secret, account=user.email)


def _require_customer(actor: Actor) -> None:
    if actor.role is not Role.customer_contact or actor.user_id is None:
        raise PermissionDenied("portal_customers_only")


def enable_totp(
    session: Session, *, actor: Actor, secret: str, code: str, unix_time: float | None = None
) -> None:
    """Turn the second factor on, once ``code`` proves the authenticator holds ``secret``."""
    _require_customer(actor)
    assert actor.user_id is not None
    row = session.get(Totp, actor.user_id)
    if row is not None and row.enabled:
        raise Conflict("portal_totp_already_enabled")
    try:
        key = totp.secret_bytes(secret)
    except ValueError:
        raise InvalidInput.single("secret", "invalid") from None
    if len(key) < 16:
        raise InvalidInput.single("secret", "invalid")
    step = totp.matching_step(key, code or "", time.time() if unix_time is None else unix_time)
    if step is None:
        raise InvalidInput.single("code", BAD_CODE)
    encrypted = encrypt_secret(secret.replace(" ", "").upper())
    if row is None:
        row = Totp(user_id=actor.user_id, secret_encrypted=encrypted, created_at=utcnow())
        session.add(row)
    row.secret_encrypted, row.enabled, row.last_step = encrypted, True, step
    session.flush()
    append_event(
        session, type="portal.totp_enabled", entity="user", entity_id=actor.user_id, actor=actor.label
    )


def disable_totp(session: Session, *, actor: Actor, code: str, unix_time: float | None = None) -> None:
    """Turn the second factor off; a current code is required, so a stolen session cannot."""
    _require_customer(actor)
    assert actor.user_id is not None
    user = session.get(User, actor.user_id)
    row = session.get(Totp, actor.user_id)
    if user is None or row is None or not row.enabled:
        raise Conflict("portal_totp_not_enabled")
    try:
        verify_code(session, user=user, code=code, method="totp_disable", unix_time=unix_time)
    except Unauthenticated:
        raise InvalidInput.single("code", BAD_CODE) from None
    session.delete(row)
    session.flush()
    append_event(
        session, type="portal.totp_disabled", entity="user", entity_id=actor.user_id, actor=actor.label
    )


# --- completing a sign-in ------------------------------------------------------------------


def complete_sign_in(
    session: Session,
    *,
    user: User,
    method: str,
    channel: str,
    site_key: str | None = None,
    visitor_key: str | None = None,
) -> None:
    """Record a finished sign-in: ``portal.signed_in`` and signals' deep interaction."""
    payload: dict[str, Any] = {
        "method": method,
        "channel": channel,
        "second_factor": totp_enabled(session, user.id),
        "account_id": user.account_id,
    }
    append_event(session, type="portal.signed_in", entity="user", entity_id=user.id, actor=f"user:{user.id}",
                 payload=payload)  # fmt: skip
    record_portal_login(session, user=user, site_key=site_key, visitor_key=visitor_key)


def contact_of(session: Session, user: User) -> int | None:
    """The crm contact this login is: the one contact of the user's account with their e-mail."""
    contact = crm_lookups.contacts_by_email(session, [user.email]).get(user.email.strip().lower())
    if contact is None or contact.account_id != user.account_id:
        return None
    return int(contact.id)


def record_portal_login(
    session: Session, *, user: User, site_key: str | None = None, visitor_key: str | None = None
) -> bool:
    """Count the login as a deep interaction for signals' consent threshold.

    With the tracking site's key and the browser's visitor id, signals' prepared
    ``identify_portal_login`` also links that browser to the contact. Without them the
    login still counts, through ``consent.record_deep_interaction``. False when the login
    is no crm contact (nothing to count).
    """
    contact_id = contact_of(session, user)
    if contact_id is None:
        return False
    if site_key and visitor_key:
        identity.identify_portal_login(
            session, site_key=site_key, visitor_key=visitor_key, contact_id=contact_id
        )
        return True
    now = utcnow()
    return consent.record_deep_interaction(
        session,
        contact_id=contact_id,
        kind=signal_models.DeepInteractionKind.portal_login,
        source=f"portal:user:{user.id}:{now.isoformat()}",
        occurred_at=now,
        actor_label=f"contact:{contact_id}",
    )
