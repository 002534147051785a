"""钉钉 (DingTalk) robot: verify and parse the messages DingTalk pushes to a robot's HTTP callback.

An enterprise-internal robot (企业内部机器人, HTTP mode; the older "outgoing" robot uses
the same format) receives a POST for every message that @-mentions it in a group or is
sent to it one-to-one.

Verification, per DingTalk's documentation: the request carries the headers
``timestamp`` (epoch **milliseconds**) and ``sign`` with
``sign = base64(HMAC-SHA256(key=AppSecret, msg=f"{timestamp}\\n{AppSecret}"))``.
A request whose timestamp is more than one hour from now, or whose sign differs, is
refused. The signature covers only the timestamp, not the body, so ``msgId`` is what
makes a redelivery (or a replay inside the hour) harmless: it is the idempotency key.

Parsed: ``msgtype == "text"`` only. Pictures, files, audio, ``richText`` and cards parse
to ``None``. ``sessionWebhook`` is deliberately not kept: it is a bearer URL that can post
into the conversation until it expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pathcast.signals.connectors.base import (
    MessageDraft,
    PayloadInvalid,
    ReplayRejected,
    SignatureInvalid,
    bounded_key,
    from_epoch,
    header,
    to_utc,
)

# Documented values of conversationType.
CONVERSATION_TYPES = {"1": "single", "2": "group"}


def sign(app_secret: str, timestamp_ms: int) -> str:
    """The ``sign`` header DingTalk sends with ``timestamp_ms``."""
    message = f"{int(timestamp_ms)}\n{app_secret}".encode()
    digest = hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(
    app_secret: str,
    headers: Mapping[str, str],
    *,
    now: datetime,
    tolerance_seconds: int = 3600,
) -> None:
    """Check the ``timestamp`` and ``sign`` headers; SignatureInvalid or ReplayRejected if wrong."""
    timestamp = header(headers, "timestamp")
    signature = header(headers, "sign")
    if timestamp is None or signature is None:
        raise SignatureInvalid("missing timestamp or sign header")
    timestamp = timestamp.strip()
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 16:
        raise SignatureInvalid("timestamp header must be epoch milliseconds")
    expected = sign(app_secret, int(timestamp)).encode("ascii")
    if not hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
        raise SignatureInvalid("sign does not match")
    skew = abs(to_utc(now).timestamp() * 1000 - int(timestamp)) / 1000
    if skew > tolerance_seconds:
        raise ReplayRejected(
            f"timestamp is {int(skew)} s from the server clock (tolerance {tolerance_seconds} s)"
        )


def parse_message(body: bytes) -> MessageDraft | None:
    """A draft for a text message pushed to the robot; ``None`` for other message types."""
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadInvalid("body is not UTF-8", field="body")
    except json.JSONDecodeError as error:
        raise PayloadInvalid(f"body is not JSON: {error.msg}", field="body")
    if not isinstance(payload, dict):
        raise PayloadInvalid("body must be a JSON object", field="body")
    if payload.get("msgtype") != "text":
        return None

    text = payload.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    # DingTalk strips the "@robot" mention and leaves the space before the rest.
    if not isinstance(content, str) or not content.strip():
        raise PayloadInvalid("text.content is missing or empty", field="text.content")
    msg_id = _string(payload, "msgId")
    if msg_id is None:
        raise PayloadInvalid("msgId is missing", field="msgId")
    created = payload.get("createAt")
    if isinstance(created, bool) or not isinstance(created, int):
        raise PayloadInvalid("createAt must be epoch milliseconds", field="createAt")
    sender = _string(payload, "senderStaffId") or _string(payload, "senderId")
    conversation = _string(payload, "conversationId")

    extra: dict[str, Any] = {"msgtype": "text"}
    for key in ("conversationTitle", "conversationType", "senderCorpId", "chatbotUserId", "robotCode"):
        value = _string(payload, key)
        if value is not None:
            extra[key] = value
    if isinstance(payload.get("isAdmin"), bool):
        extra["isAdmin"] = payload["isAdmin"]
    if "conversationType" in extra:
        extra["conversation"] = CONVERSATION_TYPES.get(extra["conversationType"], "other")
    if sender != _string(payload, "senderId") and _string(payload, "senderId"):
        # senderId is the encrypted per-robot id; keep it for matching later replies.
        extra["senderId"] = payload["senderId"]

    return MessageDraft(
        channel="dingtalk",
        idempotency_key=bounded_key(msg_id),
        sent_at=from_epoch(created / 1000, field="createAt"),
        body=content.strip(),
        sender=sender,
        sender_name=_string(payload, "senderNick"),
        recipients=_mentioned(payload.get("atUsers"), payload.get("chatbotUserId")),
        thread_key=f"dingtalk:{conversation}" if conversation else None,
        direction="inbound",
        extra=extra,
    )


def _string(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        # Ids are strings in DingTalk's payloads; a number would be a producer's bug, keep it usable.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise PayloadInvalid(f"{key} must be a string", field=key)
    return value.strip() or None


def _mentioned(at_users: object, chatbot_user_id: object) -> tuple[str, ...]:
    """Staff ids of the people @-mentioned, without the robot itself."""
    if not isinstance(at_users, list):
        return ()
    ids: list[str] = []
    for user in at_users:
        if not isinstance(user, dict) or user.get("dingtalkId") == chatbot_user_id:
            continue
        staff = user.get("staffId")
        if isinstance(staff, str) and staff and staff not in ids:
            ids.append(staff)
    return tuple(ids)
