"""Radar tables: the configured sources with their cursor and health, and the items read.

Items are raw material (like signals' hits), so storing one appends no event; the facts
that matter to people (a source configured, a source turning unhealthy or recovering)
go to the event log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, StrEnum, TimestampMixin


class SourceKind(StrEnum):
    rss = "rss"
    atom = "atom"
    json_api = "json_api"
    html_list = "html_list"
    messages = "messages"


class SourceHealth(StrEnum):
    never = "never"
    ok = "ok"
    unhealthy = "unhealthy"


SEVERITIES = ("P1", "P2", "P3", "P4")

# Column widths; longer values from a page are cut (titles) or hashed (external ids).
EXTERNAL_ID_MAX = 300
TITLE_MAX = 500
URL_MAX = 2000
AUTHOR_MAX = 300


def _one_of(column: str, values: list[str] | tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class Source(TimestampMixin, Base):
    """A polled source of outside text: where it is, how to read it and how it is doing."""

    __tablename__ = "radar_sources"
    __table_args__ = (
        _one_of("kind", [kind.value for kind in SourceKind], "kind_known"),
        _one_of("health", [health.value for health in SourceHealth], "health_known"),
        CheckConstraint("poll_interval_seconds > 0", name="interval_positive"),
    )

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # how to read it: url, json field mapping or css selectors, timeout, encoding
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(default=True)
    poll_interval_seconds: Mapped[int] = mapped_column(default=900)
    # where the last poll stopped: etag, last-modified, last seen ids, newest published
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # health
    health: Mapped[str] = mapped_column(String(16), default=SourceHealth.never.value)
    health_code: Mapped[str | None] = mapped_column(String(32))
    health_reason: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]


class Item(Base):
    """One text read from a source, stored once per (source, external id)."""

    __tablename__ = "radar_items"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        _one_of("severity", SEVERITIES, "severity_known"),
        Index("ix_radar_items_source_published", "source_id", "published_at"),
    )

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("radar_sources.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX))
    # content
    url: Mapped[str | None] = mapped_column(String(URL_MAX))
    title: Mapped[str | None] = mapped_column(String(TITLE_MAX))
    text: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(AUTHOR_MAX))
    lang: Mapped[str | None] = mapped_column(String(8))
    # SHA-256 of the normalised title and text: the same notice reposted elsewhere.
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # time
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(index=True)
    # where it came from beyond the url (a signals message id, its account and contact)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # filled by the analysis later
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    severity: Mapped[str | None] = mapped_column(String(4))


# --- signals: settings, competitors, corrections, routes ------------------------------------

SETTING_KEYS = ("weights", "topics")
CORRECTABLE_FIELDS = ("polarity", "intent", "severity")


class Setting(Base):
    """An admin-edited radar setting (the weight table, the topic dictionary) as JSON.

    A missing row means the analysis library's packaged default: nothing is copied at
    install, so a newer default reaches everyone who never edited the setting.
    """

    __tablename__ = "radar_settings"
    __table_args__ = (_one_of("key", SETTING_KEYS, "key_known"),)

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Competitor(TimestampMixin, Base):
    """A competitor the analysis links by name and alias, with the products it sells."""

    __tablename__ = "radar_competitors"

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    products: Mapped[list[str]] = mapped_column(JSON, default=list)


class Correction(Base):
    """A rep's correction of one field of a signal: training data for ``radar train``."""

    __tablename__ = "radar_corrections"
    __table_args__ = (_one_of("field", CORRECTABLE_FIELDS, "field_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("radar_items.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(16))
    before: Mapped[str | None] = mapped_column(String(40))
    after: Mapped[str] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]


class Signal(Base):
    """The graded projection of an analysed item, one row per item, for filtering and scoping.

    ``radar_items.analysis`` holds the full analysis; this row holds what lists filter on
    (account, industry, polarity, intent, severity) in indexed columns, and the account
    and contact the item was linked to, which row scoping needs.
    """

    __tablename__ = "radar_signals"
    __table_args__ = (
        _one_of("severity", SEVERITIES, "severity_known"),
        Index("ix_radar_signals_severity_analysed", "severity", "analysed_at"),
    )

    item_id: Mapped[int] = mapped_column(ForeignKey("radar_items.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("radar_sources.id", ondelete="CASCADE"), index=True)
    # links
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    # grade
    industry: Mapped[str | None] = mapped_column(String(60), index=True)
    polarity: Mapped[str] = mapped_column(String(10))
    intent: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(4))
    score: Mapped[float]
    corrected: Mapped[bool] = mapped_column(default=False)
    analysed_at: Mapped[datetime]


class Route(Base):
    """A signal delivered to one person: the unique key makes routing idempotent."""

    __tablename__ = "radar_routes"
    __table_args__ = (UniqueConstraint("item_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("radar_items.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(4))
    notification_id: Mapped[int | None]
    created_at: Mapped[datetime]


# --- the response toolbox: knowledge base, competitor matrix, case studies ------------------

KNOWLEDGE_KINDS = ("qa", "reply")
ADVANTAGES = ("ours", "theirs", "even", "")


class Knowledge(TimestampMixin, Base):
    """A knowledge-base entry the FAQ draft retrieves from: a Q&A pair, or a past reply.

    crm documents are the third kind of passage; they stay in crm and are read through
    crm's service when the index is built, so an edited document is never stale here.
    A reply is kept only when the rep who wrote it chose to share it as knowledge.
    """

    __tablename__ = "radar_knowledge"
    __table_args__ = (_one_of("kind", KNOWLEDGE_KINDS, "kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    # a Q&A pair has both; a reply has only ``answer`` (and the signal it answered)
    question: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    # what a citation shows: "FAQ", "兼容性白皮书", "reply to signal #812"
    source: Mapped[str] = mapped_column(String(200))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("radar_items.id", ondelete="SET NULL"), index=True)
    archived: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class MatrixEntry(Base):
    """One competitor × product × criterion row of the competitor matrix product marketing edits."""

    __tablename__ = "radar_matrix_rows"
    __table_args__ = (
        UniqueConstraint("competitor_id", "product", "criterion"),
        _one_of("advantage", ADVANTAGES, "advantage_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    competitor_id: Mapped[int] = mapped_column(
        ForeignKey("radar_competitors.id", ondelete="CASCADE"), index=True
    )
    product: Mapped[str] = mapped_column(String(200))
    criterion: Mapped[str] = mapped_column(String(200))
    ours: Mapped[str] = mapped_column(Text)
    theirs: Mapped[str] = mapped_column(Text)
    advantage: Mapped[str] = mapped_column(String(8), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime]
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class CaseStudy(TimestampMixin, Base):
    """A published case study case matching ranks beside the won deals crm holds."""

    __tablename__ = "radar_case_studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    industry: Mapped[str | None] = mapped_column(String(60))
    products: Mapped[list[str]] = mapped_column(JSON, default=list)
    amount: Mapped[float | None]
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(URL_MAX))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    archived: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
