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
