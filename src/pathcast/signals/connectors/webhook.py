"""Generic JSON webhook: HMAC-SHA256 signed deliveries with replay protection.

Any system (a call-centre, a form tool, a home-made integration) can push messages by
POSTing one JSON object per message, signed with the shared secret of its connector.

Request headers
---------------
``X-Pathcast-Timestamp``
    Unix time in whole seconds when the request was signed. Requests more than
    ``tolerance_seconds`` (default 300) away from the server clock are rejected.
``X-Pathcast-Nonce``
    Unique per delivery, 1-120 characters of ``A-Z a-z 0-9 _ - + / = :`` (no dot: the
    dot separates the signed parts). The server remembers nonces for the tolerance
    window and refuses one it has seen: a captured request cannot be played again.
``X-Pathcast-Signature``
    ``sha256=<hex>`` with ``hex = HMAC-SHA256(secret, f"{timestamp}.{nonce}.".encode() + raw_body)``
    in lower-case hexadecimal, computed over the exact bytes sent.
``Idempotency-Key`` (optional)
    Used as the message's key when the body has no ``id``. A retry of the same message
    (new nonce, new timestamp, same id) is stored once.

Body
----
.. code-block:: json

    {"id": "crm-7731", "sent_at": "2026-11-03T14:05:00+08:00", "text": "王主任回电，要报价",
     "from": "wang@hospital.cn", "from_name": "王主任", "to": ["li@pathcast.example"],
     "subject": "DSA 报价", "thread": "case-42", "contact": "wang@hospital.cn",
     "account": "华东医院", "opportunity": "DSA 采购 2027", "kind": "call",
     "direction": "inbound", "extra": {"recording": "r-12.mp3"}}

Required: ``id`` (or the header), ``sent_at`` (ISO-8601 with an offset or ``Z``) and
``text`` (or ``body``). A missing or malformed field is refused with ``bad_payload``
naming that field.

Example client::

    body = json.dumps(message).encode()
    headers = webhook.sign(secret, body, timestamp=int(time.time()), nonce=secrets.token_hex(16))
    httpx.post(url, content=body, headers={**headers, "Content-Type": "application/json"})
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pathcast.signals.connectors.base import (
    DIRECTIONS,
    IDEMPOTENCY_KEY_MAX,
    KINDS,
    MessageDraft,
    PayloadInvalid,
    ReplayRejected,
    SignatureInvalid,
    header,
    subject_is_reply,
    to_utc,
)

TIMESTAMP_HEADER = "X-Pathcast-Timestamp"
NONCE_HEADER = "X-Pathcast-Nonce"
SIGNATURE_HEADER = "X-Pathcast-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"

NONCE_MAX = 120
# No dot in a nonce: with "a.b" allowed, (nonce "a", body "b.{...}") and (nonce "a.b",
# body "{...}") would sign the same bytes, letting a captured request be replayed under a
# fresh nonce. Digits-only timestamps close the same gap on the left.
_NONCE_RE = re.compile(rf"[A-Za-z0-9_\-+/=:]{{1,{NONCE_MAX}}}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
_SIGNATURE_PREFIX = "sha256="


def _digest(secret: str, body: bytes, *, timestamp: str, nonce: str) -> str:
    message = f"{timestamp}.{nonce}.".encode() + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int, nonce: str) -> dict[str, str]:
    """The three signature headers for ``body``, as a client sends them."""
    if not _NONCE_RE.fullmatch(nonce):
        raise ValueError("nonce must be 1-120 characters of A-Z a-z 0-9 _ - + / = :")
    stamp = str(int(timestamp))
    return {
        TIMESTAMP_HEADER: stamp,
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: _SIGNATURE_PREFIX + _digest(secret, body, timestamp=stamp, nonce=nonce),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
    tolerance_seconds: int = 300,
) -> str:
    """Check a delivery's signature and freshness and return its nonce.

    The caller must then refuse a nonce it has already stored (ReplayRejected): this
    module has no memory. The signature is checked before the clock so that only an
    authentic request learns it was too old.
    """
    timestamp = header(headers, TIMESTAMP_HEADER)
    nonce = header(headers, NONCE_HEADER)
    signature = header(headers, SIGNATURE_HEADER)
    if timestamp is None or nonce is None or signature is None:
        missing = [
            name
            for name, value in (
                (TIMESTAMP_HEADER, timestamp),
                (NONCE_HEADER, nonce),
                (SIGNATURE_HEADER, signature),
            )
            if value is None
        ]
        raise SignatureInvalid(f"missing header(s): {', '.join(missing)}")
    timestamp, nonce, signature = timestamp.strip(), nonce.strip(), signature.strip()
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise SignatureInvalid(f"{TIMESTAMP_HEADER} must be unix seconds")
    if not _NONCE_RE.fullmatch(nonce):
        raise SignatureInvalid(f"{NONCE_HEADER} must be 1-{NONCE_MAX} characters of A-Z a-z 0-9 _ - + / = :")
    if not signature.lower().startswith(_SIGNATURE_PREFIX):
        raise SignatureInvalid(f"{SIGNATURE_HEADER} must look like sha256=<hex>")
    expected = _digest(secret, body, timestamp=timestamp, nonce=nonce)
    # compare_digest on ASCII str is constant-time; non-ASCII input would raise, so encode.
    given = signature[len(_SIGNATURE_PREFIX) :].lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected.encode("ascii"), given):
        raise SignatureInvalid("signature does not match")
    skew = abs(to_utc(now).timestamp() - int(timestamp))
    if skew > tolerance_seconds:
        raise ReplayRejected(
            f"timestamp is {int(skew)} s away from the server clock (tolerance {tolerance_seconds} s)"
        )
    return nonce


def parse(body: bytes, headers: Mapping[str, str]) -> MessageDraft:
    """Turn a verified webhook body into a draft; PayloadInvalid names the bad field."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadInvalid("body is not UTF-8", field="body")
    except json.JSONDecodeError as error:
        raise PayloadInvalid(f"body is not JSON: {error.msg} at character {error.pos}", field="body")
    if not isinstance(payload, dict):
        raise PayloadInvalid("body must be a JSON object", field="body")

    key = _identifier(payload.get("id"), "id")
    if key is None:
        from_header = header(headers, IDEMPOTENCY_HEADER)
        key = _identifier(from_header.strip() if from_header else None, IDEMPOTENCY_HEADER)
    if key is None:
        raise PayloadInvalid(f"id is required (or an {IDEMPOTENCY_HEADER} header)", field="id")

    text_field = "text" if "text" in payload else "body"
    text = _string(payload, text_field)
    if text is None or not text.strip():
        raise PayloadInvalid("text (or body) is required and must not be empty", field=text_field)

    subject = _string(payload, "subject")
    kind = _choice(payload, "kind", KINDS) or _choice(payload, "channel_kind", KINDS)
    direction = _choice(payload, "direction", DIRECTIONS) or "inbound"
    extra = payload.get("extra", {})
    if not isinstance(extra, dict):
        raise PayloadInvalid("extra must be a JSON object", field="extra")
    is_reply = payload.get("is_reply", False)
    if not isinstance(is_reply, bool):
        raise PayloadInvalid("is_reply must be true or false", field="is_reply")

    return MessageDraft(
        channel="webhook",
        idempotency_key=key,
        sent_at=_sent_at(payload.get("sent_at")),
        body=text,
        sender=_address(_string(payload, "from")),
        sender_name=_string(payload, "from_name"),
        recipients=_recipients(payload.get("to")),
        subject=subject,
        thread_key=_identifier(payload.get("thread"), "thread"),
        is_reply=is_reply or subject_is_reply(subject),
        direction=direction,
        contact_hint=_address(_string(payload, "contact")),
        account_hint=_string(payload, "account"),
        opportunity_hint=_identifier(payload.get("opportunity"), "opportunity"),
        kind_hint=kind,
        duration_minutes=_duration(payload.get("duration_minutes")),
        extra=extra,
    )


def _string(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadInvalid(f"{name} must be a string", field=name)
    return value.strip() or None


def _identifier(value: object, name: str) -> str | None:
    """An id given as a string or an integer (JSON producers use both)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise PayloadInvalid(f"{name} must be a string or an integer", field=name)
    text = str(value).strip()
    if not text:
        return None
    if len(text) > IDEMPOTENCY_KEY_MAX:
        raise PayloadInvalid(f"{name} is longer than {IDEMPOTENCY_KEY_MAX} characters", field=name)
    return text


def _choice(payload: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _string(payload, name)
    if value is None:
        return None
    if value.lower() not in allowed:
        raise PayloadInvalid(f"{name} must be one of {', '.join(allowed)}", field=name)
    return value.lower()


def _address(value: str | None) -> str | None:
    # E-mail addresses compare case-insensitively in practice; chat ids do not, keep them.
    if value is not None and "@" in value:
        return value.lower()
    return value


def _recipients(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PayloadInvalid("to must be a list of strings", field="to")
    return tuple(_address(item.strip()) or "" for item in value if item.strip())


def _sent_at(value: object) -> datetime:
    if value is None:
        raise PayloadInvalid("sent_at is required (ISO-8601 with an offset)", field="sent_at")
    if not isinstance(value, str):
        raise PayloadInvalid("sent_at must be an ISO-8601 string", field="sent_at")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadInvalid(f"sent_at is not ISO-8601: {value!r}", field="sent_at")
    # A naive time is ambiguous (UTC? Beijing?): refuse rather than guess eight hours wrong.
    if moment.tzinfo is None:
        raise PayloadInvalid("sent_at needs a UTC offset, e.g. +08:00 or Z", field="sent_at")
    return to_utc(moment)


def _duration(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 24 * 60:
        raise PayloadInvalid("duration_minutes must be an integer from 0 to 1440", field="duration_minutes")
    return value
