"""CRM tables. Integrity rules live here as constraints, not only in Python."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, StrEnum, TimestampMixin

MONEY = Numeric(16, 2)


def _one_of(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name)


class Tier(StrEnum):
    strategic = "strategic"
    key = "key"
    standard = "standard"


class StageClass(StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class ForecastCategory(StrEnum):
    pipeline = "pipeline"
    best_case = "best_case"
    commit = "commit"
    omitted = "omitted"
    closed = "closed"


class QuoteStatus(StrEnum):
    draft = "draft"
    sent = "sent"
    accepted = "accepted"
    rejected = "rejected"
    expired = "expired"


class ActivityKind(StrEnum):
    call = "call"
    email = "email"
    meeting = "meeting"
    note = "note"
    task = "task"
    message = "message"


class ContractStatus(StrEnum):
    draft = "draft"
    active = "active"
    expired = "expired"
    terminated = "terminated"


class Severity(StrEnum):
    critical = "critical"
    high = "high"
    normal = "normal"
    low = "low"


class TicketStatus(StrEnum):
    open = "open"
    pending = "pending"
    resolved = "resolved"
    closed = "closed"


class DocumentAudience(StrEnum):
    public = "public"
    customer = "customer"
    internal = "internal"


class ExternalIdMixin:
    """Where an imported row came from, so re-importing never duplicates it."""

    external_source: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(120))


# --- pipelines ----------------------------------------------------------------------


class Pipeline(TimestampMixin, Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)


class Stage(TimestampMixin, Base):
    """A pipeline step with its probability and whether it is open, won or lost."""

    __tablename__ = "stages"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "key"),
        CheckConstraint("probability >= 0 AND probability <= 100", name="probability_range"),
        _one_of("status_class", StageClass, "status_class_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))
    name_zh: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int]
    probability: Mapped[int]
    status_class: Mapped[str] = mapped_column(String(8), default=StageClass.open.value)


# --- accounts and people ------------------------------------------------------------


class Account(ExternalIdMixin, TimestampMixin, Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("external_source", "external_id"),
        _one_of("tier", Tier, "tier_known"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    # segmentation
    industry: Mapped[str | None] = mapped_column(String(120), index=True)
    tier: Mapped[str] = mapped_column(String(16), default=Tier.standard.value)
    region: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(120))
    employees: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(MONEY)
    year_established: Mapped[int | None]
    # structure and ownership
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # internal
    notes: Mapped[str | None] = mapped_column(Text)


class Contact(ExternalIdMixin, TimestampMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("external_source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    department: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(60))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)


# --- products and prices ------------------------------------------------------------


class Product(ExternalIdMixin, TimestampMixin, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("external_source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    family: Mapped[str | None] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    list_price: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    is_active: Mapped[bool] = mapped_column(default=True)


class PriceList(TimestampMixin, Base):
    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    is_default: Mapped[bool] = mapped_column(default=False)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class PriceListItem(TimestampMixin, Base):
    __tablename__ = "price_list_items"
    __table_args__ = (
        UniqueConstraint("price_list_id", "product_id"),
        CheckConstraint("unit_price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id", ondelete="CASCADE"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)


# --- opportunities ------------------------------------------------------------------


class Opportunity(ExternalIdMixin, TimestampMixin, Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        UniqueConstraint("external_source", "external_id"),
        CheckConstraint("amount IS NULL OR amount >= 0", name="amount_not_negative"),
        _one_of("status", StageClass, "status_known"),
        _one_of("forecast_category", ForecastCategory, "forecast_category_known"),
        Index("ix_opportunities_owner_status", "owner_id", "status"),
    )

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    # pipeline
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default=StageClass.open.value, index=True)
    stage_changed_at: Mapped[datetime | None]
    forecast_category: Mapped[str] = mapped_column(String(16), default=ForecastCategory.pipeline.value)
    lead_source: Mapped[str | None] = mapped_column(String(120))
    # money and dates
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    expected_close_date: Mapped[date | None] = mapped_column(Date, index=True)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # ownership
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # internal
    description: Mapped[str | None] = mapped_column(Text)


class OpportunityLine(TimestampMixin, Base):
    """A product on an opportunity."""

    __tablename__ = "opportunity_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("discount_pct >= 0 AND discount_pct <= 100", name="discount_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(1))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))


class OpportunityStageChange(Base):
    """One move between stages: from, to, when, by whom. Never edited."""

    __tablename__ = "opportunity_stage_changes"
    __table_args__ = (Index("ix_stage_changes_opportunity", "opportunity_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    changed_at: Mapped[datetime]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OpportunityFieldChange(Base):
    """A change of amount or expected close date, kept for slip and forecast analysis."""

    __tablename__ = "opportunity_field_changes"
    __table_args__ = (Index("ix_field_changes_opportunity", "opportunity_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(String(60))
    new_value: Mapped[str | None] = mapped_column(String(60))
    changed_at: Mapped[datetime]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# --- quotes -------------------------------------------------------------------------


class Quote(TimestampMixin, Base):
    __tablename__ = "quotes"
    __table_args__ = (
        _one_of("status", QuoteStatus, "status_known"),
        CheckConstraint("discount_pct >= 0 AND discount_pct <= 100", name="discount_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=QuoteStatus.draft.value)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))
    valid_until: Mapped[date | None] = mapped_column(Date)
    total: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)


class QuoteLine(TimestampMixin, Base):
    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("discount_pct >= 0 AND discount_pct <= 100", name="discount_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(1))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal(0))


# --- activities ---------------------------------------------------------------------


class Activity(TimestampMixin, Base):
    __tablename__ = "activities"
    __table_args__ = (
        _one_of("kind", ActivityKind, "kind_known"),
        CheckConstraint("duration_minutes IS NULL OR duration_minutes >= 0", name="duration_not_negative"),
        Index("ix_activities_owner_due", "owner_id", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    occurred_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    duration_minutes: Mapped[int | None]
    # Where it came from when not typed in: "email", "wecom", "dingtalk", "webhook", "csv".
    channel: Mapped[str | None] = mapped_column(String(16))


# --- contracts, subscriptions, tickets ----------------------------------------------


class Contract(TimestampMixin, Base):
    __tablename__ = "contracts"
    __table_args__ = (
        _one_of("status", ContractStatus, "status_known"),
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", name="dates_ordered"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=ContractStatus.draft.value)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


class Subscription(TimestampMixin, Base):
    __tablename__ = "subscriptions"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(1))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    renewal_date: Mapped[date | None] = mapped_column(Date)
    annual_value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    is_active: Mapped[bool] = mapped_column(default=True)


class Ticket(TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        _one_of("severity", Severity, "severity_known"),
        _one_of("status", TicketStatus, "status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), default=Severity.normal.value)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.open.value)
    opened_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)


# --- documents ----------------------------------------------------------------------


class Document(TimestampMixin, Base):
    """Something customers read (a comparison sheet, a proposal), with versions."""

    __tablename__ = "documents"
    __table_args__ = (_one_of("audience", DocumentAudience, "audience_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(40), default="asset")
    audience: Mapped[str] = mapped_column(String(16), default=DocumentAudience.customer.value)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    current_version: Mapped[int] = mapped_column(default=0)


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    version: Mapped[int]
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(120))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# --- tags ---------------------------------------------------------------------------------


class RecordTag(Base):
    """A label on an account, contact or opportunity ("high intent"), set by a person or a rule."""

    __tablename__ = "record_tags"
    __table_args__ = (
        UniqueConstraint("entity", "record_id", "tag"),
        Index("ix_record_tags_tag", "tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int]
    tag: Mapped[str] = mapped_column(String(80))
    applied_at: Mapped[datetime]
    applied_by: Mapped[str] = mapped_column(String(120))
