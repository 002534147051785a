"""The contract between the engine and the action adapters.

The engine owns flow (conditions, waits, approvals, confirmations, retries); an adapter
performs one side effect. ``execute`` is called inside the run's unit of work; an
adapter must be idempotent under ``ctx.idempotency_key``: if the key already has an
``ActionReceipt``, it returns the recorded outcome without acting again. Local effects
(a task, a tag) write their receipt in the same transaction; remote ones (an e-mail, a
webhook) write it right after the remote call succeeds, and carry the key to the remote
side where it can deduplicate (webhook header ``Idempotency-Key``, e-mail Message-ID).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor

OutcomeStatus = Literal["done", "not_available", "failed", "skipped"]


@dataclass(frozen=True)
class Subject:
    """The record a run is about: the triggering event's entity, resolved to its account."""

    entity: str | None
    id: int | None
    account_id: int | None = None
    contact_id: int | None = None
    opportunity_id: int | None = None


@dataclass(frozen=True)
class ActionContext:
    session: Session
    rule_id: int
    rule_version: int
    rule_name: str
    run_id: int
    step_id: int
    idempotency_key: str
    subject: Subject
    # the triggering event as plain JSON: type, entity, entity_id, payload, occurred_at
    event: dict[str, Any] | None
    now: datetime
    actor: Actor
    # dry-run: describe what would happen, touch nothing
    dry_run: bool = False


@dataclass
class Outcome:
    status: OutcomeStatus
    # human-readable and machine-readable result: whom it notified, the task id, the HTTP status…
    detail: dict[str, Any] = field(default_factory=dict)
    # failed but worth retrying (a timeout, a 5xx); the engine backs off and tries again
    retryable: bool = False


Handler = Callable[[Any, ActionContext], Outcome]
