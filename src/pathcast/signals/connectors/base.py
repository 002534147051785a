"""What every message connector shares: its errors and the draft it produces.

A connector is pure protocol: it checks a signature, decrypts, parses a vendor payload
and hands back a :class:`MessageDraft`. It never touches the database; the caller
matches the draft to contacts, stores it and deduplicates on ``idempotency_key``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

# Database column width for idempotency keys; longer vendor ids are hashed down to fit.
IDEMPOTENCY_KEY_MAX = 200

CHANNELS = ("webhook", "wecom", "dingtalk", "email", "csv")
KINDS = ("call", "email", "meeting", "note", "message")
DIRECTIONS = ("inbound", "outbound")


class ConnectorError(Exception):
    """A payload a connector refuses. ``code`` is machine-readable, ``message`` is for people."""

    code: ClassVar[str] = "connector_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class SignatureInvalid(ConnectorError):
    """Missing or wrong signature, or a payload that does not decrypt: the route answers 401."""

    code = "bad_signature"


class ReplayRejected(ConnectorError):
    """A timestamp outside the tolerance window (or, at the caller, a nonce seen before)."""

    code = "replayed"


class PayloadInvalid(ConnectorError):
    """An authentic payload whose content is unusable; ``field`` (and the message) name the culprit."""

    code = "bad_payload"


class SourceUnavailable(ConnectorError):
    """A polled source (an IMAP server) cannot be reached, refuses the login or lacks the mailbox.

    Not a problem with any message: the caller records it on the connector and retries later.
    """

    code = "source_unavailable"


@dataclass(frozen=True)
class MessageDraft:
    """One message, normalised across channels, before it is matched and stored."""

    channel: str
    # Stable across redeliveries: the vendor's message id, the Message-ID, or a body hash.
    idempotency_key: str
    # Timezone-aware, UTC.
    sent_at: datetime
    body: str
    # E-mail address (lower-cased), WeCom UserID, DingTalk staff/sender id, phone number.
    sender: str | None = None
    sender_name: str | None = None
    recipients: tuple[str, ...] = ()
    subject: str | None = None
    # E-mail: root Message-ID of the thread; chat: the conversation id.
    thread_key: str | None = None
    is_reply: bool = False
    direction: str = "inbound"
    # Explicit pointers carried by the payload itself (webhook, CSV); the caller resolves them.
    contact_hint: str | None = None
    account_hint: str | None = None
    opportunity_hint: str | None = None
    kind_hint: str | None = None
    duration_minutes: int | None = None
    # JSON-able vendor extras: message type, chat title, attachment names...
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # These are programming errors in a connector, not bad payloads: fail loudly.
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {self.direction!r}")
        if self.sent_at.utcoffset() != timedelta(0):
            raise ValueError("sent_at must be timezone-aware UTC")
        if not self.idempotency_key or len(self.idempotency_key) > IDEMPOTENCY_KEY_MAX:
            raise ValueError("idempotency_key must be 1 to 200 characters")


def bounded_key(raw: str) -> str:
    """``raw``, or ``"sha256:" + its digest`` when it is longer than 200 characters.

    Vendor ids are usually short; hashing only the rare long one keeps keys readable
    while still fitting the column.
    """
    if len(raw) <= IDEMPOTENCY_KEY_MAX:
        return raw
    return content_key(raw.encode("utf-8"))


def content_key(data: bytes) -> str:
    """An idempotency key derived from content, for payloads that carry no id of their own."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def from_epoch(seconds: float, *, field: str) -> datetime:
    """A UTC datetime from epoch seconds, or PayloadInvalid naming ``field``."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadInvalid(f"{field} is not a valid timestamp: {seconds!r}", field=field)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (plain dicts from tests, Starlette headers, email headers)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return candidate
    return None


# Reply markers mail clients put in front of a subject: English, Simplified Chinese
# (Foxmail, Outlook zh-CN: 回复 / 答复) and Traditional (回覆). Compared case-insensitively.
_REPLY_PREFIXES = ("re:", "re：", "回复:", "回复：", "答复:", "答复：", "回覆:", "回覆：")


def subject_is_reply(subject: str | None) -> bool:
    """True when the subject starts with a reply marker (``Re:``, ``RE:``, ``回复:``, ``答复:``...)."""
    if not subject:
        return False
    return subject.lstrip().lower().startswith(_REPLY_PREFIXES)
