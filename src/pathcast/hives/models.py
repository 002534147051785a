"""Task hives: one workspace per customer job, its members, board, risks, capacity and archive.

A hive belongs to an account (and optionally a deal, a contract or a product line) and is
created by hand or by a rule from a template. Its board is tasks with dependencies; a
milestone is a task of kind ``milestone``. The schedule the board shows (forecast start and
finish, slack, the critical path) is derived by ``hives.schedule`` from the plan, the
dependencies and what is done, and cached on the task rows by the service after every write.

Capacity is resources (a production line, a team, a person with a skill) with a weekly
capacity, and reservations of units per week by a hive or an open deal; the promise check
reads both. Messages that ``signals`` receives are filed into hives with a reason.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, TimestampMixin

HIVE_STATUSES = ("forming", "active", "at_risk", "delivered", "closed")
TASK_KINDS = ("milestone", "task", "check")
TASK_STATUSES = ("todo", "doing", "blocked", "done")
RISK_STATUSES = ("open", "closed")
# The functions people serve a hive in; templates invite by function, risks are owned by one.
FUNCTIONS = (
    "sales",
    "delivery",
    "production_planning",
    "logistics",
    "it_implementation",
    "customer_success",
    "quality",
    "other",
)
RESOURCE_KINDS = ("line", "team", "person")
FILED_BY = ("auto", "person")


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


# --- templates ------------------------------------------------------------------------------


class Template(TimestampMixin, Base):
    """A hive template ("产线升级 / line upgrade") that admins edit.

    ``definition`` holds, as JSON (validated by ``hives.schemas.TemplateDefinition``):
    ``milestones`` [{key, name_zh, name_en, offset_days, duration_days, depends_on: [keys],
    function, needs: [{skill, units_per_week}]}], ``roles`` [functions to invite],
    ``risks`` [{title_zh, title_en, function}] and ``checklists`` [{milestone, items: [..]}].
    """

    __tablename__ = "hive_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    archived: Mapped[bool] = mapped_column(default=False)


# --- hives ----------------------------------------------------------------------------------


class Hive(TimestampMixin, Base):
    """A workspace for one customer job."""

    __tablename__ = "hives"
    __table_args__ = (
        _one_of("status", HIVE_STATUSES, "status_known"),
        Index("ix_hives_status_health", "status", "health"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="SET NULL"), index=True
    )
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id", ondelete="SET NULL"))
    product_line: Mapped[str | None] = mapped_column(String(120))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("hive_templates.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="forming")
    start_date: Mapped[date] = mapped_column(Date)
    # what sales promised the customer; the critical path is checked against it
    promised_date: Mapped[date | None] = mapped_column(Date)
    # derived by the service after each write (hives.schedule): the forecast end of the job
    forecast_finish: Mapped[date | None] = mapped_column(Date)
    # hive health 0–100 and its components, recomputed by the health service
    health: Mapped[int | None]
    health_components: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    health_at: Mapped[datetime | None]
    # "busy, not moving": much activity, no critical-path progress for N days
    busy_not_moving: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Member(Base):
    """A person in a hive, serving one function."""

    __tablename__ = "hive_members"
    __table_args__ = (
        UniqueConstraint("hive_id", "user_id"),
        _one_of("function", FUNCTIONS, "function_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    function: Mapped[str] = mapped_column(String(24))
    joined_at: Mapped[datetime]


class Task(TimestampMixin, Base):
    """A milestone, a task or a checklist item on a hive's board.

    ``planned_start`` + ``duration_days`` is the plan; ``due_date`` the date promised for
    it. ``forecast_start`` / ``forecast_finish`` / ``slack_days`` / ``critical`` are derived
    (``hives.schedule``) from the plan, the dependencies, today and what is done.
    """

    __tablename__ = "hive_tasks"
    __table_args__ = (
        _one_of("kind", TASK_KINDS, "kind_known"),
        _one_of("status", TASK_STATUSES, "status_known"),
        CheckConstraint("duration_days >= 0", name="duration_not_negative"),
        Index("ix_hive_tasks_owner_status", "owner_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("hive_tasks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default="task")
    # the template milestone it came from, if any
    key: Mapped[str | None] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(300))
    function: Mapped[str | None] = mapped_column(String(24))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default="todo")
    position: Mapped[int] = mapped_column(default=0)
    # the plan
    planned_start: Mapped[date] = mapped_column(Date)
    duration_days: Mapped[int] = mapped_column(default=1)
    due_date: Mapped[date] = mapped_column(Date)
    # what happened
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    # derived by hives.schedule after each write
    forecast_start: Mapped[date | None] = mapped_column(Date)
    forecast_finish: Mapped[date | None] = mapped_column(Date)
    slack_days: Mapped[int | None]
    critical: Mapped[bool] = mapped_column(default=False)


class Dependency(Base):
    """``task`` cannot start before ``depends_on`` is finished (finish-to-start)."""

    __tablename__ = "hive_dependencies"
    __table_args__ = (
        UniqueConstraint("task_id", "depends_on_id"),
        CheckConstraint("task_id <> depends_on_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("hive_tasks.id", ondelete="CASCADE"), index=True)
    depends_on_id: Mapped[int] = mapped_column(ForeignKey("hive_tasks.id", ondelete="CASCADE"), index=True)


class Risk(Base):
    """A risk of the job, owned by someone of the function that can act on it."""

    __tablename__ = "hive_risks"
    __table_args__ = (
        _one_of("status", RISK_STATUSES, "status_known"),
        _one_of("function", FUNCTIONS, "function_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")
    function: Mapped[str] = mapped_column(String(24))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(8), default="open")
    # set when a rule-visible alert raised it (critical path past the promise, a late dependency)
    source: Mapped[str] = mapped_column(String(40), default="person")
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Decision(Base):
    """A decision recorded in the hive (information-sync completeness counts them)."""

    __tablename__ = "hive_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime]


class Request(Base):
    """A request addressed to one member ("@物流 can we ship on the 12th?"): response time
    is measured from ``asked_at`` to ``answered_at``."""

    __tablename__ = "hive_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    asked_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]


class Contribution(Base):
    """Knowledge a member added to a hive (a document, an answer), and who used it later."""

    __tablename__ = "hive_knowledge"

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    added_at: Mapped[datetime]
    # people other than the author who used it: [{user_id, at}]
    used_by: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


# --- capacity ---------------------------------------------------------------------------------


class Resource(TimestampMixin, Base):
    """A production line, a team or a person with a skill, with capacity units per week."""

    __tablename__ = "hive_resources"
    __table_args__ = (
        _one_of("kind", RESOURCE_KINDS, "kind_known"),
        CheckConstraint("capacity_per_week >= 0", name="capacity_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    skill: Mapped[str] = mapped_column(String(80), index=True)
    capacity_per_week: Mapped[float]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)


class Reservation(Base):
    """Units of a resource booked for one week (Monday) by a hive or an open deal."""

    __tablename__ = "hive_reservations"
    __table_args__ = (
        CheckConstraint("units > 0", name="units_positive"),
        Index("ix_hive_reservations_resource_week", "resource_id", "week_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("hive_resources.id", ondelete="CASCADE"))
    hive_id: Mapped[int | None] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    week_start: Mapped[date] = mapped_column(Date)
    units: Mapped[float]
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# --- the message archive ----------------------------------------------------------------------


class Message(Base):
    """A message (email, WeCom, DingTalk, with its files) filed into a hive, and why."""

    __tablename__ = "hive_messages"
    __table_args__ = (
        UniqueConstraint("activity_id"),
        _one_of("filed_by", FILED_BY, "filed_by_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    # the crm activity signals filed the message as (kind "message")
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))
    thread: Mapped[str | None] = mapped_column(String(300), index=True)
    subject: Mapped[str] = mapped_column(String(500), default="")
    sender: Mapped[str] = mapped_column(String(300), default="")
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)
    body: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime]
    # jieba tokens of subject + body, lower-cased, space-separated: what the search box reads
    search_text: Mapped[str] = mapped_column(Text, default="")
    # why it was filed here: [{"kind": "thread"|"account"|"participants"|"keywords"|"person", "en", "zh", "weight"}]
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(default=0.0)
    filed_by: Mapped[str] = mapped_column(String(8), default="auto")
    filed_at: Mapped[datetime]


class FilingCorrection(Base):
    """A member moved a misfiled message: the filer learns from these (keyword weights)."""

    __tablename__ = "hive_filing_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("hive_messages.id", ondelete="CASCADE"), index=True)
    from_hive_id: Mapped[int | None] = mapped_column(ForeignKey("hives.id", ondelete="SET NULL"))
    to_hive_id: Mapped[int] = mapped_column(ForeignKey("hives.id", ondelete="CASCADE"), index=True)
    # the words of the message the filer should weigh towards the right hive next time
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    moved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moved_at: Mapped[datetime]


# --- a manager's OKRs fed by hives ---------------------------------------------------------

KEY_RESULT_METRICS = ("hive_health", "on_time_delivery")


class Objective(TimestampMixin, Base):
    """A manager's objective for a period; its key results can read hive metrics live."""

    __tablename__ = "hive_objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)


class KeyResult(Base):
    """A key result measured on hives: mean hive health, or the share delivered on time.

    ``team_id`` narrows it to the hives of that team's accounts (all hives when empty);
    ``current`` is recomputed whenever a hive's health or delivery changes.
    """

    __tablename__ = "hive_key_results"
    __table_args__ = (_one_of("metric", KEY_RESULT_METRICS, "metric_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(
        ForeignKey("hive_objectives.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    metric: Mapped[str] = mapped_column(String(20))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    target: Mapped[float]
    current: Mapped[float | None]
    computed_at: Mapped[datetime | None]
