"""Notifications: in-app, e-mail over SMTP, WeCom and DingTalk group robots.

Delivery is split into parts (one per person and channel, one per robot), and each part
that succeeds gets its own receipt under ``<idempotency key>#<part>``. A retry after a
timeout on the third e-mail therefore sends only the third: the first two find their
receipts. What a crash between a remote send and the commit can still repeat carries
the key to the other side: the e-mail's Message-ID is derived from it, so a mail client
or a mail log recognises the resend.

Errors are classified for the engine: timeouts, connection failures, HTTP 5xx/408/429,
SMTP 4xx and the robots' "too fast" codes are retryable; anything else (HTTP 4xx, SMTP
5xx, a bad signature) is not, and its detail carries the answer's body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.automation import ir
from pathcast.automation.actions import recipients
from pathcast.automation.actions.base import ActionContext, Outcome
from pathcast.automation.models import ActionReceipt, Connector, ConnectorKind, Notification, Run, Step
from pathcast.db import utcnow
from pathcast.events import to_jsonable
from pathcast.i18n import normalise_locale

HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SMTP_TIMEOUT = 15.0
MAX_ERROR_BODY = 2000
RECEIPT_KEY_LENGTH = 160
# Robot error codes that mean "try again later": WeCom 45009 and DingTalk 130101 are rate
# limits, -1 is "system busy" on both.
ROBOT_RETRYABLE_CODES = frozenset({-1, 45009, 130101})

PERSONAL_CHANNELS = ("in_app", "email")
GROUP_CHANNELS = {"wecom": ConnectorKind.wecom_robot.value, "dingtalk": ConnectorKind.dingtalk_robot.value}

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "【Pathcast】{rule}：{label}",
        "fired": "规则「{rule}」已触发：{label}",
        "rule": "规则",
        "record": "记录",
        "link": "链接",
        "to": "通知",
    },
    "en": {
        "title": "[Pathcast] {rule}: {label}",
        "fired": 'Rule "{rule}" fired on {label}',
        "rule": "Rule",
        "record": "Record",
        "link": "Link",
        "to": "To",
    },
}


def lang_of(user: User | None) -> str:
    """The language to write to a person in: ``zh-CN`` or ``en``."""
    return normalise_locale(user.locale if user is not None else None)


def text(lang: str, key: str, **params: Any) -> str:
    """A message of this module in ``lang``."""
    return TEXTS[normalise_locale(lang)][key].format(**params)


class DeliveryError(Exception):
    """A send that did not happen: why, whether trying again may help, and the answer's detail."""

    def __init__(self, reason: str, *, retryable: bool, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.detail = detail or {}

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "retryable": self.retryable, **self.detail}


# --- receipts ------------------------------------------------------------------------------------


def receipt_key(key: str, part: str | None = None) -> str:
    """The receipt key of an action (``part=None``) or of one part of it, at most 160 characters."""
    full = key if part is None else f"{key}#{part}"
    if len(full) <= RECEIPT_KEY_LENGTH:
        return full
    # A very long engine key still gives a stable, unique receipt key.
    digest = hashlib.sha256(key.encode()).hexdigest()[:48]
    return digest if part is None else f"{digest}#{part}"[:RECEIPT_KEY_LENGTH]


def find_receipt(session: Session, key: str, part: str | None = None) -> ActionReceipt | None:
    """The receipt of an action or of one of its parts, if it happened."""
    return session.get(ActionReceipt, receipt_key(key, part))


def write_receipt(ctx: ActionContext, kind: str, detail: dict[str, Any], part: str | None = None) -> None:
    """Record that an action (or one part of it) happened, in the run's transaction."""
    if ctx.dry_run:
        return
    session = ctx.session
    # The step may be absent (a test, a dry-run replay): the receipt stands without it.
    step_id = ctx.step_id if session.get(Step, ctx.step_id) is not None else None
    session.add(
        ActionReceipt(
            idempotency_key=receipt_key(ctx.idempotency_key, part),
            step_id=step_id,
            kind=kind[:30],
            detail=to_jsonable(detail),
            created_at=utcnow(),
        )
    )
    session.flush()


# --- connectors -----------------------------------------------------------------------------------


def find_connector(session: Session, kind: str, name: str | None = None) -> Connector | None:
    """An active connector of ``kind``: the one named (or aliased) ``name``, else the first configured."""
    candidates = list(
        session.scalars(
            select(Connector)
            .where(Connector.kind == kind, Connector.is_active.is_(True))
            .order_by(Connector.id)
        )
    )
    if name is None:
        return candidates[0] if candidates else None
    wanted = name.strip().lower()
    for connector in candidates:
        if connector.name.lower() == wanted or wanted in {alias.lower() for alias in connector.aliases or []}:
            return connector
    return None


# --- HTTP ---------------------------------------------------------------------------------------


def post(url: str, *, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST bytes; a 2xx answer is returned, anything else raises a classified ``DeliveryError``."""
    all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        response = httpx.post(url, content=content, headers=all_headers, timeout=HTTP_TIMEOUT)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise DeliveryError(f"bad URL: {error}", retryable=False) from error
    except httpx.TimeoutException as error:
        raise DeliveryError(f"timed out: {error.__class__.__name__}", retryable=True) from error
    except httpx.HTTPError as error:
        raise DeliveryError(f"could not connect: {error}", retryable=True) from error
    if 200 <= response.status_code < 300:
        return response
    status = response.status_code
    retryable = status >= 500 or status in (408, 429)
    raise DeliveryError(
        f"HTTP {status}",
        retryable=retryable,
        detail={"status_code": status, "body": response.text[:MAX_ERROR_BODY]},
    )


def post_json(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    """POST a JSON document (UTF-8, compact)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return post(url, content=body, headers=headers)


def _robot_answer(response: httpx.Response) -> dict[str, Any]:
    """Both robots answer HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``; a non-zero code is a refusal."""
    try:
        answer = response.json()
    except ValueError:
        return {"status_code": response.status_code}
    code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
    if code:
        raise DeliveryError(
            f"robot refused: {code} {answer.get('errmsg', '')}".strip(),
            retryable=code in ROBOT_RETRYABLE_CODES,
            detail={"errcode": code, "body": response.text[:MAX_ERROR_BODY]},
        )
    return {"status_code": response.status_code, "errcode": 0}


def wecom_payload(content: str, msgtype: str = "markdown") -> dict[str, Any]:
    """A WeCom group-robot message (``msgtype`` markdown or text; content at most 4096 bytes)."""
    clipped = content.encode()[:4096].decode(errors="ignore")
    if msgtype == "text":
        return {"msgtype": "text", "text": {"content": clipped}}
    return {"msgtype": "markdown", "markdown": {"content": clipped}}


def send_wecom(connector: Connector, content: str) -> dict[str, Any]:
    """POST to a WeCom group robot's webhook URL (``…/cgi-bin/webhook/send?key=…``)."""
    config = connector.config or {}
    url = str(config.get("url") or "")
    if not url:
        raise DeliveryError(f"WeCom robot {connector.name!r} has no URL", retryable=False)
    return _robot_answer(post_json(url, wecom_payload(content, str(config.get("msgtype", "markdown")))))


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64 of HMAC-SHA256(secret, f"{timestamp}\\n{secret}"), URL-encoded."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def dingtalk_url(url: str, secret: str | None, timestamp_ms: int | None = None) -> str:
    """The robot URL with ``timestamp`` and ``sign`` appended when the robot has a signing secret."""
    if not secret:
        return url
    stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}"


def dingtalk_payload(title: str, content: str, msgtype: str = "markdown") -> dict[str, Any]:
    """A DingTalk robot message (markdown with a title, or plain text)."""
    if msgtype == "text":
        return {"msgtype": "text", "text": {"content": content}, "at": {"isAtAll": False}}
    return {"msgtype": "markdown", "markdown": {"title": title, "text": content}, "at": {"isAtAll": False}}


def send_dingtalk(connector: Connector, title: str, content: str) -> dict[str, Any]:
    """POST to a DingTalk robot, signed (the timestamp is DingTalk's: now, within an hour)."""
    config = connector.config or {}
    url = str(config.get("url") or "")
    if not url:
        raise DeliveryError(f"DingTalk robot {connector.name!r} has no URL", retryable=False)
    signed = dingtalk_url(url, config.get("secret"))
    payload = dingtalk_payload(title, content, str(config.get("msgtype", "markdown")))
    return _robot_answer(post_json(signed, payload))


# --- e-mail ---------------------------------------------------------------------------------------


def sender_address(connector: Connector) -> str:
    config = connector.config or {}
    return str(config.get("from") or config.get("username") or "pathcast@localhost")


def message_id(key: str, user_id: int, sender: str) -> str:
    """A Message-ID derived from the idempotency key: the same send always has the same id."""
    domain = sender.rsplit("@", 1)[-1].strip(" >") or "pathcast.local"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<pathcast.{digest}.{user_id}@{domain}>"


def build_email(
    connector: Connector,
    *,
    to: User,
    subject: str,
    body: str,
    key: str,
    calendar: str | None = None,
) -> EmailMessage:
    """A UTF-8 e-mail to one person; with ``calendar``, an RFC 5545 invite both inline
    (``text/calendar; method=REQUEST``, which calendars act on) and as ``invite.ics``."""
    sender = sender_address(connector)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = formataddr((str((connector.config or {}).get("from_name", "Pathcast")), sender))
    message["To"] = formataddr((to.name, to.email))
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id(key, to.id, sender)
    message["X-Pathcast-Idempotency-Key"] = key
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body)
    if calendar is not None:
        message.add_alternative(calendar, subtype="calendar", params={"method": "REQUEST"})
        message.add_attachment(
            calendar.encode(), maintype="application", subtype="ics", filename="invite.ics"
        )
    return message


def smtp_send(connector: Connector, message: EmailMessage) -> None:
    """Hand one message to the configured SMTP server (``ssl`` or ``starttls``, optional login)."""
    config = connector.config or {}
    host = str(config.get("host") or "")
    if not host:
        raise DeliveryError(f"SMTP connector {connector.name!r} has no host", retryable=False)
    port = int(config.get("port") or (465 if config.get("ssl") else 25))
    timeout = float(config.get("timeout") or SMTP_TIMEOUT)
    try:
        client = (
            smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            if config.get("ssl")
            else smtplib.SMTP(host, port, timeout=timeout)
        )
        with client:
            if config.get("starttls") and not config.get("ssl"):
                client.starttls(context=ssl.create_default_context())
            if config.get("username"):
                client.login(str(config["username"]), str(config.get("password") or ""))
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError(f"SMTP login refused: {error.smtp_code}", retryable=False) from error
    except smtplib.SMTPRecipientsRefused as error:
        codes = [code for code, _ in error.recipients.values()]
        raise DeliveryError(
            f"recipient refused: {codes}",
            retryable=all(400 <= code < 500 for code in codes),
            detail={"smtp_codes": codes},
        ) from error
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(
            f"SMTP {error.smtp_code}: {error.smtp_error!r}"[:MAX_ERROR_BODY],
            retryable=400 <= error.smtp_code < 500,
            detail={"smtp_code": error.smtp_code},
        ) from error
    except smtplib.SMTPNotSupportedError as error:
        raise DeliveryError(f"SMTP server does not support it: {error}", retryable=False) from error
    except (smtplib.SMTPException, OSError) as error:
        # connection refused, reset, timed out, TLS failed: the server may be back later
        raise DeliveryError(
            f"SMTP unavailable: {error.__class__.__name__}: {error}", retryable=True
        ) from error


# --- delivery ------------------------------------------------------------------------------------


@dataclass
class Letter:
    """What one person receives: title, body, a link, and optionally a calendar invite."""

    title: str
    body: str
    link: str | None = None
    calendar: str | None = None


Compose = Callable[[User, str], Letter]


@dataclass
class Delivery:
    """What a delivery did: per channel whom it reached, what it skipped and why, what failed."""

    sent: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    notification_ids: list[int] = field(default_factory=list)

    def reached(self, channel: str, who: str) -> None:
        self.sent.setdefault(channel, []).append(who)

    def failed(self, channel: str, who: str, error: DeliveryError) -> None:
        self.failures.append({"channel": channel, "to": who, **error.as_dict()})

    def outcome(self, detail: dict[str, Any]) -> Outcome:
        """done if anything reached anyone; failed (retryable if any part may succeed later)
        if something failed; skipped if there was nothing to do."""
        full = {**detail, "sent": self.sent}
        if self.skipped:
            full["skipped_channels"] = self.skipped
        if self.failures:
            full["failures"] = self.failures
            # one line for the run history; the list above has the details
            full["reason"] = "; ".join(
                f"{failure['channel']} to {failure['to']}: {failure['reason']}" for failure in self.failures
            )[:500]
        if self.notification_ids:
            full["notification_ids"] = self.notification_ids
        if any(failure["retryable"] for failure in self.failures):
            return Outcome("failed", full, retryable=True)
        if self.failures and not self.sent:
            return Outcome("failed", full)
        if not self.sent:
            return Outcome("skipped", full)
        if self.failures:
            full["partial"] = True
        return Outcome("done", full)


def _run_id(ctx: ActionContext) -> int | None:
    return ctx.run_id if ctx.session.get(Run, ctx.run_id) is not None else None


def deliver_personal(
    ctx: ActionContext,
    users: list[User],
    compose: Compose,
    channels: Sequence[str],
    delivery: Delivery,
    *,
    kind: str,
) -> None:
    """In-app and e-mail to each person, in their language, each part once under its receipt."""
    smtp = find_connector(ctx.session, ConnectorKind.smtp.value) if "email" in channels else None
    if "email" in channels and smtp is None:
        delivery.skipped["email"] = "no SMTP connector configured"
    run_id = _run_id(ctx) if "in_app" in channels else None
    for user in users:
        letter = compose(user, lang_of(user))
        notification: Notification | None = None
        if "in_app" in channels:
            done = find_receipt(ctx.session, ctx.idempotency_key, f"in_app:{user.id}")
            if done is None:
                notification = Notification(
                    user_id=user.id,
                    title=letter.title[:300],
                    body=letter.body,
                    link=letter.link,
                    run_id=run_id,
                    channels={"in_app": True},
                    created_at=utcnow(),
                )
                ctx.session.add(notification)
                ctx.session.flush()
                write_receipt(ctx, kind, {"notification_id": notification.id}, f"in_app:{user.id}")
                delivery.notification_ids.append(notification.id)
            delivery.reached("in_app", user.email)
        if smtp is None:
            continue
        if find_receipt(ctx.session, ctx.idempotency_key, f"email:{user.id}") is not None:
            delivery.reached("email", user.email)
            continue
        body = letter.body
        base_url = str((smtp.config or {}).get("base_url") or "").rstrip("/")
        if letter.link and base_url:
            body = body.replace(letter.link, f"{base_url}{letter.link}")
        email = build_email(
            smtp, to=user, subject=letter.title, body=body, key=ctx.idempotency_key, calendar=letter.calendar
        )
        try:
            smtp_send(smtp, email)
        except DeliveryError as error:
            delivery.failed("email", user.email, error)
            continue
        write_receipt(ctx, kind, {"message_id": email["Message-ID"]}, f"email:{user.id}")
        if notification is not None:
            notification.channels = {**notification.channels, "email": email["Message-ID"]}
        delivery.reached("email", user.email)


def deliver_group(
    ctx: ActionContext, channel: str, title: str, content: str, delivery: Delivery, *, kind: str
) -> None:
    """One message to the configured WeCom or DingTalk group robot, once under its receipt."""
    connector = find_connector(ctx.session, GROUP_CHANNELS[channel])
    if connector is None:
        delivery.skipped[channel] = f"no {GROUP_CHANNELS[channel]} connector configured"
        return
    part = f"{channel}:{connector.id}"
    if find_receipt(ctx.session, ctx.idempotency_key, part) is not None:
        delivery.reached(channel, connector.name)
        return
    try:
        answer = (
            send_wecom(connector, content) if channel == "wecom" else send_dingtalk(connector, title, content)
        )
    except DeliveryError as error:
        delivery.failed(channel, connector.name, error)
        return
    write_receipt(ctx, kind, answer, part)
    delivery.reached(channel, connector.name)


# --- the notify action -----------------------------------------------------------------------------


def _compose_notice(ctx: ActionContext, action: ir.NotifyAction, label: str, link: str | None) -> Compose:
    def compose(_user: User, lang: str) -> Letter:
        lines = [action.message or text(lang, "fired", rule=ctx.rule_name, label=label), ""]
        lines.append(f"{text(lang, 'rule')}: {ctx.rule_name}")
        lines.append(f"{text(lang, 'record')}: {label}")
        if link:
            lines.append(f"{text(lang, 'link')}: {link}")
        return Letter(text(lang, "title", rule=ctx.rule_name, label=label), "\n".join(lines), link)

    return compose


def group_markdown(
    ctx: ActionContext, message: str | None, label: str, link: str | None, names: list[str]
) -> str:
    """A bilingual robot message: chat groups mix languages, so both are written."""
    record = f"[{label}]({link})" if link else label
    lines = [
        f"**{text('zh-CN', 'title', rule=ctx.rule_name, label=label)}**",
        message or text("zh-CN", "fired", rule=ctx.rule_name, label=label),
    ]
    if not message:
        lines.append(text("en", "fired", rule=ctx.rule_name, label=label))
    lines.append(f"{text('zh-CN', 'record')} {text('en', 'record')}: {record}")
    if names:
        lines.append(f"{text('zh-CN', 'to')} {text('en', 'to')}: {', '.join(names)}")
    return "\n\n".join(lines)


def notify(action: ir.NotifyAction, ctx: ActionContext) -> Outcome:
    """Notify the recipients on each channel: in-app and e-mail per person, robots per group."""
    session = ctx.session
    scope = recipients.load_scope(session, ctx.subject)
    label = recipients.subject_label(session, ctx.subject, scope)
    link = recipients.subject_link(ctx.subject, scope)
    users = recipients.resolve_all(session, action.recipients, ctx.subject)
    wanted = [recipients.describe(recipient) for recipient in action.recipients]
    detail: dict[str, Any] = {
        "recipients": wanted,
        "users": [user.email for user in users],
        "channels": list(action.channels),
    }
    personal = [channel for channel in action.channels if channel in PERSONAL_CHANNELS]
    groups = [channel for channel in action.channels if channel in GROUP_CHANNELS]
    if not users and not groups:
        return Outcome("skipped", {**detail, "reason": "no recipient", "reason_zh": "没有匹配的接收人"})
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True, "would_notify": detail["users"]})
    delivery = Delivery()
    if users:
        deliver_personal(
            ctx, users, _compose_notice(ctx, action, label, link), personal, delivery, kind="notify"
        )
    elif personal:
        delivery.skipped["people"] = "no recipient"
    for channel in groups:
        content = group_markdown(ctx, action.message, label, link, [user.name for user in users])
        deliver_group(
            ctx,
            channel,
            text("zh-CN", "title", rule=ctx.rule_name, label=label),
            content,
            delivery,
            kind="notify",
        )
    return delivery.outcome(detail)
