"""Automation tables: versioned rules, the engine's cursor and behaviour windows, durable
runs and steps, the human inbox, in-app notifications, and admin-configured connectors
(HTTP checks for conditions, outbound webhooks and chat robots for actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, StrEnum, TimestampMixin

BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name)


class RuleScope(StrEnum):
    all = "all"
    team = "team"
    region = "region"


class RunStatus(StrEnum):
    pending = "pending"  # fired, first step not started
    running = "running"
    waiting = "waiting"  # on a timer or a person
    done = "done"
    stopped = "stopped"  # a wait's "unless" happened, a rejection, a condition failed at run time
    failed = "failed"  # retries exhausted


class StepStatus(StrEnum):
    pending = "pending"
    running = "running"
    waiting = "waiting"
    done = "done"
    skipped = "skipped"
    not_available = "not_available"
    failed = "failed"


class InboxKind(StrEnum):
    approval = "approval"
    confirmation = "confirmation"


class InboxStatus(StrEnum):
    open = "open"
    approved = "approved"
    rejected = "rejected"
    confirmed = "confirmed"
    declined = "declined"
    cancelled = "cancelled"


class ConnectorKind(StrEnum):
    http_check = "http_check"  # a condition's external check ("预算已批复")
    webhook = "webhook"  # outbound, HMAC-signed
    wecom_robot = "wecom_robot"  # WeCom group robot webhook
    dingtalk_robot = "dingtalk_robot"  # DingTalk robot webhook with signing
    smtp = "smtp"  # mail server for e-mail notifications and meeting invites


# --- rules ---------------------------------------------------------------------------------------


class Rule(TimestampMixin, Base):
    """A rule; its text and IR live in versions, this row says which one is current."""

    __tablename__ = "automation_rules"
    __table_args__ = (_one_of("scope", RuleScope, "scope_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    scope: Mapped[str] = mapped_column(String(10), default=RuleScope.all.value)
    # team id or region name, by scope
    scope_value: Mapped[str | None] = mapped_column(String(120))
    is_enabled: Mapped[bool] = mapped_column(default=False)
    current_version: Mapped[int] = mapped_column(default=1)
    # Event id from which an enabled rule matches (set when enabled: no retroactive fires).
    enabled_from_event_id: Mapped[int | None] = mapped_column(BigInteger)


class RuleVersion(Base):
    """One immutable version: the sentence as written and the IR it compiled to."""

    __tablename__ = "automation_rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(2))
    ir: Mapped[dict[str, Any]] = mapped_column(JSON)
    readback_zh: Mapped[str] = mapped_column(Text)
    readback_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(120))


# --- matching ------------------------------------------------------------------------------------


class EngineCursor(Base):
    """How far a matcher has read a stream (the event log, signal views), per stream name."""

    __tablename__ = "automation_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    # For streams ordered by time rather than id (signal views' last_hit_at).
    position_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class BehaviourHit(Base):
    """A qualifying view (download, click) counted for a behaviour rule's window, once per
    view: the windows are kept incrementally, never by rescanning history."""

    __tablename__ = "automation_behaviour_hits"
    __table_args__ = (
        UniqueConstraint("rule_id", "view_key"),
        Index("ix_behaviour_hits_window", "rule_id", "subject_type", "subject_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int]
    view_key: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime]


# --- runs ---------------------------------------------------------------------------------------


class Run(TimestampMixin, Base):
    """One fire of one rule version on one subject; persisted so it survives a restart."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        _one_of("status", RunStatus, "status_known"),
        # The same rule fires once per triggering fact: a replayed event is not a new run.
        UniqueConstraint("rule_id", "fire_key"),
        Index("ix_automation_runs_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"), index=True)
    rule_version: Mapped[int]
    fire_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default=RunStatus.pending.value)
    # what fired it
    trigger_event_id: Mapped[int | None] = mapped_column(BigInteger)
    subject_entity: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # progress
    current_step: Mapped[int] = mapped_column(default=0)
    # a timer (wait, retry backoff): the run is picked up again at this time
    next_attempt_at: Mapped[datetime | None]
    fired_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # lease: which worker holds it until when (a crashed worker's lease expires)
    locked_by: Mapped[str | None] = mapped_column(String(80))
    locked_until: Mapped[datetime | None]


class Step(Base):
    """One action (or the wait) of a run, with its idempotency key and every attempt's outcome."""

    __tablename__ = "automation_steps"
    __table_args__ = (
        UniqueConstraint("run_id", "position"),
        UniqueConstraint("idempotency_key"),
        _one_of("status", StepStatus, "status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_runs.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(14), default=StepStatus.pending.value)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class ActionReceipt(Base):
    """Proof that an action's side effect happened, written in the same transaction as the
    effect when it is local (a task, a tag) and before marking the step done when it is
    remote (an e-mail, a webhook): a restarted worker finds it and does not repeat it."""

    __tablename__ = "automation_action_receipts"

    idempotency_key: Mapped[str] = mapped_column(String(160), primary_key=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("automation_steps.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]


# --- people in the loop ---------------------------------------------------------------------------


class InboxItem(TimestampMixin, Base):
    """An approval or confirmation waiting in someone's inbox; the run resumes or stops on it."""

    __tablename__ = "automation_inbox"
    __table_args__ = (
        _one_of("kind", InboxKind, "kind_known"),
        _one_of("status", InboxStatus, "status_known"),
        Index("ix_automation_inbox_assignee", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(14))
    status: Mapped[str] = mapped_column(String(10), default=InboxStatus.open.value)
    run_id: Mapped[int] = mapped_column(ForeignKey("automation_runs.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("automation_steps.id", ondelete="CASCADE"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # how the assignee was chosen, for the reader: "account.tier = strategic → sales_vp"
    routed_by: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note_required: Mapped[bool] = mapped_column(default=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """An in-app notification (and the record of other channels sent for it)."""

    __tablename__ = "automation_notifications"
    __table_args__ = (Index("ix_automation_notifications_user", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("automation_runs.id", ondelete="SET NULL"))
    channels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


# --- connectors --------------------------------------------------------------------------------


class Connector(TimestampMixin, Base):
    """An external system an admin configured: URL, auth and response mapping, or a robot."""

    __tablename__ = "automation_connectors"
    __table_args__ = (_one_of("kind", ConnectorKind, "kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # http_check: {"url", "method", "headers", "auth": {"type": "bearer"|"basic"|"hmac", …},
    #   "body_template", "response_map": {"approved": "$.data.status == 'approved'"}, "timeout"}
    # webhook: {"url", "secret"}; wecom_robot: {"url"}; dingtalk_robot: {"url", "secret"};
    # smtp: {"host", "port", "username", "password", "starttls", "from"}
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(default=True)
