"""Signals I/O: the collect wire format, identity, consent, features and messages."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from pathcast.schemas import ProjectBase

MAX_BATCH = 500
MAX_DWELL_MS = 24 * 3600 * 1000
WINDOWS: dict[str, int] = {"1d": 1, "7d": 7, "30d": 30}

Key = Annotated[str, Field(min_length=1, max_length=200)]


def _clipped(limit: int) -> BeforeValidator:
    """Descriptive text (a URL, a title) is cut to fit rather than refused: losing the view
    over a long query string would lose its dwell too. Keys are never cut."""

    def clip(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) else value

    return BeforeValidator(clip)


class CollectEvent(BaseModel):
    """One tracking event as /t.js (or a server-side relay) sends it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    type: Literal["view", "dwell", "click", "download", "identify"]
    ts: int | None = Field(default=None, description="Epoch milliseconds by the sender's clock.")
    visitor: str | None = Field(default=None, min_length=8, max_length=80)
    view: str | None = Field(default=None, min_length=1, max_length=64)
    asset: Key | None = None
    asset_name: Annotated[str | None, _clipped(300)] = Field(default=None, max_length=300)
    asset_kind: Literal["page", "document"] | None = None
    url: Annotated[str | None, _clipped(2000)] = Field(default=None, max_length=2000)
    dwell_ms: int | None = Field(default=None, ge=0, le=MAX_DWELL_MS)
    target: Annotated[str | None, _clipped(500)] = Field(default=None, max_length=500)
    token: str | None = Field(default=None, max_length=500)
    email: str | None = Field(default=None, max_length=320)

    @field_validator("url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) address")
        return value


class CollectBatch(BaseModel):
    """The body of ``POST /api/v1/collect``; events are validated one by one by the service."""

    model_config = ConfigDict(extra="ignore")

    site: str = Field(min_length=1, max_length=64)
    visitor: str | None = Field(default=None, min_length=8, max_length=80)
    sent_at: int | None = None
    events: list[Any] = Field(max_length=MAX_BATCH)


class RejectedEvent(BaseModel):
    index: int
    field: str | None
    code: str
    reason: str


class CollectReport(BaseModel):
    accepted: int
    rejected: list[RejectedEvent] = []


# --- configuration ---------------------------------------------------------------------


class SiteCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    allowed_origins: list[str] = []
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000)


class SiteRead(ProjectBase):
    id: int
    key: str
    name: str
    allowed_origins: list[str]
    rate_limit_per_minute: int
    is_active: bool


class AssetRead(ProjectBase):
    id: int
    site_id: int
    key: str
    name: str
    kind: str
    url: str | None


class ConnectorCreate(BaseModel):
    kind: Literal["webhook", "wecom", "dingtalk", "email"]
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any] = {}


class ConnectorRead(ProjectBase):
    """A connector without its secrets."""

    id: int
    kind: str
    name: str
    is_active: bool
    cursor: str | None
    last_polled_at: datetime | None
    last_error: str | None


# --- identity and consent -----------------------------------------------------------------


class TrackedLinkCreate(BaseModel):
    contact_id: int
    url: str = Field(min_length=1, max_length=2000)


class TrackedLinkRead(BaseModel):
    url: str
    token: str


class MergeRequest(BaseModel):
    contact_id: int


class RevertRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class VisitorRead(ProjectBase):
    id: int
    site_id: int
    key: str
    first_seen_at: datetime
    last_seen_at: datetime


class IdentityLinkRead(ProjectBase):
    id: int
    visitor_id: int
    contact_id: int
    method: str
    linked_at: datetime
    linked_by: str
    reverted_at: datetime | None
    reverted_by: str | None
    revert_reason: str | None


class ConsentRead(BaseModel):
    """Where a contact stands against the consent threshold."""

    contact_id: int
    deep_interactions: int
    threshold: int
    crossed: bool
    crossed_at: datetime | None
    opted_out: bool
    opted_out_at: datetime | None


# --- features -----------------------------------------------------------------------


class WindowFigures(BaseModel):
    views: int = 0
    dwell_seconds: float = 0.0
    qualifying_views: int = 0


class AssetFeatures(BaseModel):
    asset_id: int
    key: str
    name: str
    windows: dict[str, WindowFigures]
    last_viewed_at: datetime | None


class Features(BaseModel):
    """Rolling behaviour features of a contact or an account, as known at ``as_of``."""

    subject: Literal["contact", "account"]
    subject_id: int
    as_of: datetime
    min_dwell_seconds: int
    identified: bool = Field(
        description="Contact: behaviour may be shown by name (threshold crossed, not opted out). "
        "Account: always true; account figures are anonymous aggregates."
    )
    consent: ConsentRead | None = None
    windows: dict[str, WindowFigures]
    assets: list[AssetFeatures]
    last_seen_at: datetime | None
    recency_days: float | None
    distinct_visitors: dict[str, int]
    deep_interactions: int
    sentiment: float | None = Field(
        default=None, description="Mean message sentiment over 30 days; filled by the radar."
    )


class HeatmapCell(BaseModel):
    asset_id: int
    asset_name: str
    day: date
    views: int
    dwell_seconds: float


class InboxItem(BaseModel):
    """One identified view, for the signals inbox."""

    contact_id: int
    contact_name: str
    account_id: int | None
    account_name: str | None
    asset_id: int
    asset_name: str
    started_at: datetime
    dwell_seconds: float


# --- messages ------------------------------------------------------------------------


class MessageRead(ProjectBase):
    id: int
    channel: str
    idempotency_key: str
    direction: str
    sender: str | None
    sender_name: str | None
    subject: str | None
    body: str | None
    thread_key: str | None
    is_reply: bool
    sent_at: datetime
    received_at: datetime
    contact_id: int | None
    account_id: int | None
    opportunity_id: int | None
    activity_id: int | None
    sentiment: float | None


class IngestResult(BaseModel):
    """What happened to one inbound message."""

    message_id: int
    duplicate: bool
    activity_id: int | None
    contact_id: int | None
    account_id: int | None
    opportunity_id: int | None


class ImportSummary(BaseModel):
    """A file import of messages or interactions: stored, duplicates, and rejected rows."""

    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = []
