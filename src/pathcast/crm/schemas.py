"""Pydantic I/O for CRM entities. Every field of a ``*Read`` schema has an export class."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import EmailStr, Field

from pathcast.crm.models import (
    ActivityKind,
    ContractStatus,
    DocumentAudience,
    ForecastCategory,
    QuoteStatus,
    Severity,
    StageClass,
    TicketStatus,
    Tier,
)
from pathcast.schemas import (
    CUSTOMER,
    INTERNAL,
    RETAINED,
    CurrencyCode,
    Money,
    NonEmptyStr,
    Probability,
    ProjectBase,
    ShortStr,
)

Id = Annotated[int, CUSTOMER]
Created = Annotated[datetime, RETAINED]
Updated = Annotated[datetime, RETAINED]
ExternalSource = Annotated[str | None, RETAINED]
ExternalId = Annotated[str | None, RETAINED]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2)]


class RecordRead(ProjectBase):
    id: Id
    created_at: Created
    updated_at: Updated


# --- pipelines ---------------------------------------------------------------------


class StageCreate(ProjectBase):
    pipeline_id: int
    key: NonEmptyStr
    name: NonEmptyStr
    name_zh: ShortStr | None = None
    position: int
    probability: Probability
    status_class: StageClass = StageClass.open


class StageUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    name_zh: ShortStr | None = None
    position: int | None = None
    probability: Probability | None = None
    status_class: StageClass | None = None


class StageRead(RecordRead):
    pipeline_id: Annotated[int, INTERNAL]
    key: Annotated[str, CUSTOMER]
    name: Annotated[str, CUSTOMER]
    name_zh: Annotated[str | None, CUSTOMER]
    position: Annotated[int, INTERNAL]
    probability: Annotated[int, INTERNAL]
    status_class: Annotated[StageClass, CUSTOMER]


class PipelineCreate(ProjectBase):
    name: NonEmptyStr
    is_default: bool = False


class PipelineUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    is_default: bool | None = None


class PipelineRead(RecordRead):
    name: Annotated[str, INTERNAL]
    is_default: Annotated[bool, INTERNAL]


# --- accounts and contacts -----------------------------------------------------------


class AccountCreate(ProjectBase):
    name: NonEmptyStr
    website: ShortStr | None = None
    industry: ShortStr | None = None
    tier: Tier = Tier.standard
    region: ShortStr | None = None
    country: ShortStr | None = None
    city: ShortStr | None = None
    employees: Annotated[int, Field(ge=0)] | None = None
    annual_revenue: Money | None = None
    year_established: Annotated[int, Field(ge=1000, le=2200)] | None = None
    parent_id: int | None = None
    owner_id: int | None = None
    notes: str | None = None
    external_source: ShortStr | None = None
    external_id: ShortStr | None = None


class AccountUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    website: ShortStr | None = None
    industry: ShortStr | None = None
    tier: Tier | None = None
    region: ShortStr | None = None
    country: ShortStr | None = None
    city: ShortStr | None = None
    employees: Annotated[int, Field(ge=0)] | None = None
    annual_revenue: Money | None = None
    year_established: Annotated[int, Field(ge=1000, le=2200)] | None = None
    parent_id: int | None = None
    owner_id: int | None = None
    notes: str | None = None


class AccountRead(RecordRead):
    name: Annotated[str, CUSTOMER]
    website: Annotated[str | None, CUSTOMER]
    industry: Annotated[str | None, CUSTOMER]
    tier: Annotated[Tier, INTERNAL]
    region: Annotated[str | None, CUSTOMER]
    country: Annotated[str | None, CUSTOMER]
    city: Annotated[str | None, CUSTOMER]
    employees: Annotated[int | None, CUSTOMER]
    annual_revenue: Annotated[Decimal | None, CUSTOMER]
    year_established: Annotated[int | None, CUSTOMER]
    parent_id: Annotated[int | None, CUSTOMER]
    owner_id: Annotated[int | None, CUSTOMER]
    notes: Annotated[str | None, INTERNAL]
    external_source: ExternalSource
    external_id: ExternalId


class ContactCreate(ProjectBase):
    name: NonEmptyStr
    account_id: int | None = None
    title: ShortStr | None = None
    department: ShortStr | None = None
    email: EmailStr | None = None
    phone: ShortStr | None = None
    owner_id: int | None = None
    notes: str | None = None
    external_source: ShortStr | None = None
    external_id: ShortStr | None = None


class ContactUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    account_id: int | None = None
    title: ShortStr | None = None
    department: ShortStr | None = None
    email: EmailStr | None = None
    phone: ShortStr | None = None
    owner_id: int | None = None
    notes: str | None = None


class ContactRead(RecordRead):
    name: Annotated[str, CUSTOMER]
    account_id: Annotated[int | None, CUSTOMER]
    title: Annotated[str | None, CUSTOMER]
    department: Annotated[str | None, CUSTOMER]
    email: Annotated[str | None, CUSTOMER]
    phone: Annotated[str | None, CUSTOMER]
    owner_id: Annotated[int | None, CUSTOMER]
    notes: Annotated[str | None, INTERNAL]
    external_source: ExternalSource
    external_id: ExternalId


# --- products and prices -------------------------------------------------------------


class ProductCreate(ProjectBase):
    code: NonEmptyStr
    name: NonEmptyStr
    family: ShortStr | None = None
    description: str | None = None
    list_price: Money = Decimal(0)
    currency: CurrencyCode = "CNY"
    is_active: bool = True
    external_source: ShortStr | None = None
    external_id: ShortStr | None = None


class ProductUpdate(ProjectBase):
    code: NonEmptyStr | None = None
    name: NonEmptyStr | None = None
    family: ShortStr | None = None
    description: str | None = None
    list_price: Money | None = None
    currency: CurrencyCode | None = None
    is_active: bool | None = None


class ProductRead(RecordRead):
    code: Annotated[str, CUSTOMER]
    name: Annotated[str, CUSTOMER]
    family: Annotated[str | None, CUSTOMER]
    description: Annotated[str | None, CUSTOMER]
    list_price: Annotated[Decimal, CUSTOMER]
    currency: Annotated[str, CUSTOMER]
    is_active: Annotated[bool, INTERNAL]
    external_source: ExternalSource
    external_id: ExternalId


class PriceListCreate(ProjectBase):
    name: NonEmptyStr
    currency: CurrencyCode = "CNY"
    is_default: bool = False
    valid_from: date | None = None
    valid_to: date | None = None


class PriceListUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    currency: CurrencyCode | None = None
    is_default: bool | None = None
    valid_from: date | None = None
    valid_to: date | None = None


class PriceListRead(RecordRead):
    name: Annotated[str, CUSTOMER]
    currency: Annotated[str, CUSTOMER]
    is_default: Annotated[bool, INTERNAL]
    valid_from: Annotated[date | None, CUSTOMER]
    valid_to: Annotated[date | None, CUSTOMER]


class PriceListItemCreate(ProjectBase):
    price_list_id: int
    product_id: int
    unit_price: Money


class PriceListItemUpdate(ProjectBase):
    unit_price: Money | None = None


class PriceListItemRead(RecordRead):
    price_list_id: Annotated[int, CUSTOMER]
    product_id: Annotated[int, CUSTOMER]
    unit_price: Annotated[Decimal, CUSTOMER]


# --- opportunities -------------------------------------------------------------------


class OpportunityCreate(ProjectBase):
    name: NonEmptyStr
    account_id: int | None = None
    contact_id: int | None = None
    pipeline_id: int | None = None
    stage_id: int | None = Field(default=None, description="Defaults to the pipeline's first stage.")
    forecast_category: ForecastCategory | None = None
    lead_source: ShortStr | None = None
    amount: Money | None = None
    currency: CurrencyCode = "CNY"
    expected_close_date: date | None = None
    owner_id: int | None = Field(default=None, description="Defaults to the caller.")
    description: str | None = None
    external_source: ShortStr | None = None
    external_id: ShortStr | None = None


class OpportunityUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    account_id: int | None = None
    contact_id: int | None = None
    stage_id: int | None = None
    forecast_category: ForecastCategory | None = None
    lead_source: ShortStr | None = None
    amount: Money | None = None
    currency: CurrencyCode | None = None
    expected_close_date: date | None = None
    owner_id: int | None = None
    description: str | None = None


class OpportunityRead(RecordRead):
    name: Annotated[str, CUSTOMER]
    account_id: Annotated[int | None, CUSTOMER]
    contact_id: Annotated[int | None, CUSTOMER]
    pipeline_id: Annotated[int, INTERNAL]
    stage_id: Annotated[int, INTERNAL]
    status: Annotated[StageClass, CUSTOMER]
    stage_changed_at: Annotated[datetime | None, INTERNAL]
    forecast_category: Annotated[ForecastCategory, INTERNAL]
    lead_source: Annotated[str | None, INTERNAL]
    amount: Annotated[Decimal | None, CUSTOMER]
    currency: Annotated[str, CUSTOMER]
    expected_close_date: Annotated[date | None, CUSTOMER]
    opened_at: Annotated[datetime | None, CUSTOMER]
    closed_at: Annotated[datetime | None, CUSTOMER]
    owner_id: Annotated[int | None, CUSTOMER]
    description: Annotated[str | None, INTERNAL]
    external_source: ExternalSource
    external_id: ExternalId


class StageChangeRead(ProjectBase):
    id: Id
    opportunity_id: Annotated[int, CUSTOMER]
    from_stage_id: Annotated[int | None, INTERNAL]
    to_stage_id: Annotated[int, INTERNAL]
    changed_at: Annotated[datetime, INTERNAL]
    changed_by_id: Annotated[int | None, RETAINED]


class FieldChangeRead(ProjectBase):
    id: Id
    opportunity_id: Annotated[int, CUSTOMER]
    field: Annotated[str, INTERNAL]
    old_value: Annotated[str | None, INTERNAL]
    new_value: Annotated[str | None, INTERNAL]
    changed_at: Annotated[datetime, INTERNAL]
    changed_by_id: Annotated[int | None, RETAINED]


class OpportunityLineCreate(ProjectBase):
    opportunity_id: int
    product_id: int
    quantity: Quantity = Decimal(1)
    unit_price: Money | None = Field(default=None, description="Defaults to the product's list price.")
    discount_pct: Percent = Decimal(0)


class OpportunityLineUpdate(ProjectBase):
    quantity: Quantity | None = None
    unit_price: Money | None = None
    discount_pct: Percent | None = None


class OpportunityLineRead(RecordRead):
    opportunity_id: Annotated[int, CUSTOMER]
    product_id: Annotated[int, CUSTOMER]
    quantity: Annotated[Decimal, CUSTOMER]
    unit_price: Annotated[Decimal, CUSTOMER]
    discount_pct: Annotated[Decimal, CUSTOMER]


# --- quotes ---------------------------------------------------------------------------


class QuoteCreate(ProjectBase):
    opportunity_id: int
    number: NonEmptyStr | None = Field(default=None, description="Generated when omitted.")
    status: QuoteStatus = QuoteStatus.draft
    currency: CurrencyCode = "CNY"
    discount_pct: Percent = Decimal(0)
    valid_until: date | None = None
    owner_id: int | None = None
    notes: str | None = None


class QuoteUpdate(ProjectBase):
    status: QuoteStatus | None = None
    currency: CurrencyCode | None = None
    discount_pct: Percent | None = None
    valid_until: date | None = None
    owner_id: int | None = None
    notes: str | None = None


class QuoteRead(RecordRead):
    number: Annotated[str, CUSTOMER]
    opportunity_id: Annotated[int, CUSTOMER]
    status: Annotated[QuoteStatus, CUSTOMER]
    currency: Annotated[str, CUSTOMER]
    discount_pct: Annotated[Decimal, CUSTOMER]
    valid_until: Annotated[date | None, CUSTOMER]
    total: Annotated[Decimal, CUSTOMER]
    owner_id: Annotated[int | None, CUSTOMER]
    notes: Annotated[str | None, INTERNAL]


class QuoteLineCreate(ProjectBase):
    quote_id: int
    product_id: int | None = None
    description: NonEmptyStr | None = Field(default=None, description="Defaults to the product name.")
    quantity: Quantity = Decimal(1)
    unit_price: Money | None = None
    discount_pct: Percent = Decimal(0)


class QuoteLineUpdate(ProjectBase):
    description: NonEmptyStr | None = None
    quantity: Quantity | None = None
    unit_price: Money | None = None
    discount_pct: Percent | None = None


class QuoteLineRead(RecordRead):
    quote_id: Annotated[int, CUSTOMER]
    product_id: Annotated[int | None, CUSTOMER]
    description: Annotated[str, CUSTOMER]
    quantity: Annotated[Decimal, CUSTOMER]
    unit_price: Annotated[Decimal, CUSTOMER]
    discount_pct: Annotated[Decimal, CUSTOMER]


# --- activities ------------------------------------------------------------------------


class ActivityCreate(ProjectBase):
    kind: ActivityKind
    subject: NonEmptyStr
    body: str | None = None
    account_id: int | None = None
    contact_id: int | None = None
    opportunity_id: int | None = None
    owner_id: int | None = None
    occurred_at: datetime | None = None
    due_at: datetime | None = None
    done_at: datetime | None = None
    duration_minutes: Annotated[int, Field(ge=0)] | None = None


class ActivityUpdate(ProjectBase):
    subject: NonEmptyStr | None = None
    body: str | None = None
    contact_id: int | None = None
    owner_id: int | None = None
    occurred_at: datetime | None = None
    due_at: datetime | None = None
    done_at: datetime | None = None
    duration_minutes: Annotated[int, Field(ge=0)] | None = None


class ActivityRead(RecordRead):
    kind: Annotated[ActivityKind, CUSTOMER]
    subject: Annotated[str, CUSTOMER]
    body: Annotated[str | None, INTERNAL]
    account_id: Annotated[int | None, CUSTOMER]
    contact_id: Annotated[int | None, CUSTOMER]
    opportunity_id: Annotated[int | None, CUSTOMER]
    owner_id: Annotated[int | None, CUSTOMER]
    occurred_at: Annotated[datetime | None, CUSTOMER]
    due_at: Annotated[datetime | None, INTERNAL]
    done_at: Annotated[datetime | None, INTERNAL]
    duration_minutes: Annotated[int | None, CUSTOMER]
    channel: Annotated[str | None, CUSTOMER] = None


# --- contracts, subscriptions, tickets ---------------------------------------------------


class ContractCreate(ProjectBase):
    account_id: int
    number: NonEmptyStr | None = None
    opportunity_id: int | None = None
    status: ContractStatus = ContractStatus.draft
    start_date: date | None = None
    end_date: date | None = None
    renewal_date: date | None = None
    value: Money = Decimal(0)
    currency: CurrencyCode = "CNY"
    owner_id: int | None = None


class ContractUpdate(ProjectBase):
    status: ContractStatus | None = None
    start_date: date | None = None
    end_date: date | None = None
    renewal_date: date | None = None
    value: Money | None = None
    currency: CurrencyCode | None = None
    owner_id: int | None = None


class ContractRead(RecordRead):
    number: Annotated[str, CUSTOMER]
    account_id: Annotated[int, CUSTOMER]
    opportunity_id: Annotated[int | None, INTERNAL]
    status: Annotated[ContractStatus, CUSTOMER]
    start_date: Annotated[date | None, CUSTOMER]
    end_date: Annotated[date | None, CUSTOMER]
    renewal_date: Annotated[date | None, CUSTOMER]
    value: Annotated[Decimal, CUSTOMER]
    currency: Annotated[str, CUSTOMER]
    owner_id: Annotated[int | None, CUSTOMER]


class SubscriptionCreate(ProjectBase):
    contract_id: int
    product_id: int | None = None
    quantity: Quantity = Decimal(1)
    start_date: date
    end_date: date | None = None
    renewal_date: date | None = None
    annual_value: Money = Decimal(0)
    currency: CurrencyCode = "CNY"
    is_active: bool = True


class SubscriptionUpdate(ProjectBase):
    quantity: Quantity | None = None
    end_date: date | None = None
    renewal_date: date | None = None
    annual_value: Money | None = None
    is_active: bool | None = None


class SubscriptionRead(RecordRead):
    contract_id: Annotated[int, CUSTOMER]
    product_id: Annotated[int | None, CUSTOMER]
    quantity: Annotated[Decimal, CUSTOMER]
    start_date: Annotated[date, CUSTOMER]
    end_date: Annotated[date | None, CUSTOMER]
    renewal_date: Annotated[date | None, CUSTOMER]
    annual_value: Annotated[Decimal, CUSTOMER]
    currency: Annotated[str, CUSTOMER]
    is_active: Annotated[bool, CUSTOMER]


class TicketCreate(ProjectBase):
    account_id: int
    contact_id: int | None = None
    subject: NonEmptyStr
    description: str | None = None
    severity: Severity = Severity.normal
    status: TicketStatus = TicketStatus.open
    opened_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    owner_id: int | None = None


class TicketUpdate(ProjectBase):
    subject: NonEmptyStr | None = None
    description: str | None = None
    severity: Severity | None = None
    status: TicketStatus | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    owner_id: int | None = None


class TicketRead(RecordRead):
    account_id: Annotated[int, CUSTOMER]
    contact_id: Annotated[int | None, CUSTOMER]
    subject: Annotated[str, CUSTOMER]
    description: Annotated[str | None, CUSTOMER]
    severity: Annotated[Severity, CUSTOMER]
    status: Annotated[TicketStatus, CUSTOMER]
    opened_at: Annotated[datetime, CUSTOMER]
    first_response_at: Annotated[datetime | None, CUSTOMER]
    resolved_at: Annotated[datetime | None, CUSTOMER]
    owner_id: Annotated[int | None, INTERNAL]


# --- documents -------------------------------------------------------------------------


class DocumentCreate(ProjectBase):
    name: NonEmptyStr
    kind: NonEmptyStr = "asset"
    audience: DocumentAudience = DocumentAudience.customer
    account_id: int | None = None
    opportunity_id: int | None = None
    owner_id: int | None = None


class DocumentUpdate(ProjectBase):
    name: NonEmptyStr | None = None
    kind: NonEmptyStr | None = None
    audience: DocumentAudience | None = None
    owner_id: int | None = None


class DocumentRead(RecordRead):
    name: Annotated[str, CUSTOMER]
    kind: Annotated[str, CUSTOMER]
    audience: Annotated[DocumentAudience, INTERNAL]
    account_id: Annotated[int | None, CUSTOMER]
    opportunity_id: Annotated[int | None, INTERNAL]
    owner_id: Annotated[int | None, INTERNAL]
    current_version: Annotated[int, CUSTOMER]


class DocumentVersionRead(ProjectBase):
    id: Id
    document_id: Annotated[int, CUSTOMER]
    version: Annotated[int, CUSTOMER]
    filename: Annotated[str, CUSTOMER]
    content_type: Annotated[str, CUSTOMER]
    size_bytes: Annotated[int, CUSTOMER]
    sha256: Annotated[str, RETAINED]
    note: Annotated[str | None, CUSTOMER]
    created_at: Annotated[datetime, CUSTOMER]
    created_by_id: Annotated[int | None, RETAINED]
