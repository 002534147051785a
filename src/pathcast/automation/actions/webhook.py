"""Outbound webhook: POST the run's facts as JSON, signed with HMAC-SHA256.

Headers the receiver gets::

    X-Pathcast-Timestamp: 1719800000
    X-Pathcast-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.".encode() + body)>
    Idempotency-Key: <the step's idempotency key>

The receiver recomputes the signature over the raw body, rejects stale timestamps, and
uses ``Idempotency-Key`` to ignore a delivery it already processed: a retry after a
timeout, or a resend after a crash between the answer and the commit, carries the same
key. The secret is the webhook connector's ``secret``; a bare URL in a rule is signed
with the secret of a webhook connector configured for that URL, and sent unsigned (the
outcome says so) when there is none.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from sqlalchemy import select

from pathcast.automation import ir
from pathcast.automation.actions.base import ActionContext, Outcome
from pathcast.automation.actions.notify import DeliveryError, find_connector, post
from pathcast.automation.models import Connector, ConnectorKind
from pathcast.events import to_jsonable

SIGNATURE_HEADER = "X-Pathcast-Signature"
TIMESTAMP_HEADER = "X-Pathcast-Timestamp"


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC of ``f"{timestamp}." + body``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: int | None = 300) -> bool:
    """Whether a received signature is ours and fresh (for receivers written in Python, and tests)."""
    if tolerance is not None and abs(time.time() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def payload(ctx: ActionContext) -> dict[str, Any]:
    """The JSON a webhook receives: which rule and run, the triggering event, the subject."""
    subject = ctx.subject
    return {
        "rule": {"id": ctx.rule_id, "version": ctx.rule_version, "name": ctx.rule_name},
        "run": {"id": ctx.run_id, "step_id": ctx.step_id, "idempotency_key": ctx.idempotency_key},
        "event": to_jsonable(ctx.event),
        "subject": {
            "entity": subject.entity,
            "id": subject.id,
            "account_id": subject.account_id,
            "contact_id": subject.contact_id,
            "opportunity_id": subject.opportunity_id,
        },
    }


def _target(ctx: ActionContext, action: ir.WebhookAction) -> tuple[str | None, Connector | None, str | None]:
    """(url, connector, problem): the connector named by the action, or the one configured for its URL."""
    if action.connector:
        connector = find_connector(ctx.session, ConnectorKind.webhook.value, action.connector)
        if connector is None:
            return None, None, f"no active webhook connector named {action.connector!r}"
        url = action.url or str((connector.config or {}).get("url") or "")
        return (url or None), connector, None if url else f"webhook connector {connector.name!r} has no URL"
    if not action.url:
        return None, None, "the webhook has neither a URL nor a connector"
    configured = select(Connector).where(
        Connector.kind == ConnectorKind.webhook.value, Connector.is_active.is_(True)
    )
    for candidate in ctx.session.scalars(configured.order_by(Connector.id)):
        if (candidate.config or {}).get("url") == action.url:
            return action.url, candidate, None
    return action.url, None, None


def webhook(action: ir.WebhookAction, ctx: ActionContext) -> Outcome:
    """POST the signed payload; 2xx is done, 5xx/408/429/timeouts retryable, other answers not."""
    url, connector, problem = _target(ctx, action)
    detail: dict[str, Any] = {"url": url, "connector": connector.name if connector else None}
    if problem is not None or url is None:
        return Outcome("failed", {**detail, "reason": problem or "no URL"})
    secret = str((connector.config or {}).get("secret") or "") if connector is not None else ""
    detail["signed"] = bool(secret)
    if not secret:
        detail["unsigned_reason"] = "no secret configured for this URL"
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True, "would_send": payload(ctx)})
    body = json.dumps(payload(ctx), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {TIMESTAMP_HEADER: str(timestamp), "Idempotency-Key": ctx.idempotency_key}
    extra = (connector.config or {}).get("headers") if connector is not None else None
    if isinstance(extra, dict):
        headers |= {str(key): str(value) for key, value in extra.items()}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
    try:
        response = post(url, content=body, headers=headers)
    except DeliveryError as error:
        return Outcome("failed", {**detail, **error.as_dict()}, retryable=error.retryable)
    return Outcome("done", {**detail, "status_code": response.status_code, "response": response.text[:500]})
