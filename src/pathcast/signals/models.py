"""Signals tables: raw hits (append-only, built for volume), what is derived from them
at ingest, identity links, the consent threshold and inbound messages.

Only business facts (a contact identified, a threshold reached, an opt-out, a message
received) go to the hash-chained event log; the hits themselves stay here.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, StrEnum, TimestampMixin

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants 64 bits at volume.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


def _one_of(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name)


class HitKind(StrEnum):
    view = "view"
    dwell = "dwell"
    click = "click"
    download = "download"
    identify = "identify"


class AssetKind(StrEnum):
    page = "page"
    document = "document"


class IdentityMethod(StrEnum):
    email_link = "email_link"
    form = "form"
    portal_login = "portal_login"
    manual = "manual"


class DeepInteractionKind(StrEnum):
    meeting = "meeting"
    long_call = "long_call"
    email_reply = "email_reply"
    portal_login = "portal_login"


class Channel(StrEnum):
    webhook = "webhook"
    wecom = "wecom"
    dingtalk = "dingtalk"
    email = "email"
    csv = "csv"


# --- tracking configuration -----------------------------------------------------------


class Site(TimestampMixin, Base):
    """A web property that embeds /t.js; its public key is what the snippet sends."""

    __tablename__ = "signal_sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    rate_limit_per_minute: Mapped[int] = mapped_column(default=600)
    is_active: Mapped[bool] = mapped_column(default=True)


class Asset(TimestampMixin, Base):
    """Something a customer reads: a page or a document, with a stable key and a name."""

    __tablename__ = "signal_assets"
    __table_args__ = (
        UniqueConstraint("site_id", "key"),
        _one_of("kind", AssetKind, "kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("signal_sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(16), default=AssetKind.page.value)
    url: Mapped[str | None] = mapped_column(String(2000))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))


# --- visitors and identity --------------------------------------------------------------


class Visitor(Base):
    """An anonymous browser (first-party cookie id); identity links say whose it is."""

    __tablename__ = "signal_visitors"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("signal_sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(80))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class IdentityLink(Base):
    """visitor → contact. Never updated in place except to record its reversal."""

    __tablename__ = "signal_identity_links"
    __table_args__ = (
        _one_of("method", IdentityMethod, "method_known"),
        Index("ix_identity_links_contact", "contact_id", "reverted_at"),
        Index("ix_identity_links_visitor", "visitor_id", "reverted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("signal_visitors.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))
    linked_at: Mapped[datetime]
    linked_by: Mapped[str] = mapped_column(String(120))
    reverted_at: Mapped[datetime | None]
    reverted_by: Mapped[str | None] = mapped_column(String(120))
    revert_reason: Mapped[str | None] = mapped_column(String(500))


# --- raw hits and what ingest derives from them ------------------------------------------


class Hit(Base):
    """One raw tracking event as received. Append-only; few indexes, so inserts stay cheap."""

    __tablename__ = "signal_hits"
    __table_args__ = (
        _one_of("kind", HitKind, "kind_known"),
        Index("ix_signal_hits_visitor", "visitor_id", "received_at"),
        # Readers that follow the stream of downloads and clicks (automation's behaviour
        # windows) resume from (received_at, id) without scanning every view hit.
        Index(
            "ix_signal_hits_received_actions",
            "received_at",
            "id",
            postgresql_where=text("kind IN ('download', 'click')"),
            sqlite_where=text("kind IN ('download', 'click')"),
        ),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    visitor_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    view_key: Mapped[str | None] = mapped_column(String(64))
    asset_id: Mapped[int | None] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    dwell_ms: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str | None] = mapped_column(String(2000))
    target: Mapped[str | None] = mapped_column(String(500))


class View(Base):
    """One page or asset view, its visible dwell kept current as heartbeats arrive."""

    __tablename__ = "signal_views"
    __table_args__ = (
        UniqueConstraint("site_id", "key"),
        Index("ix_signal_views_visitor_started", "visitor_id", "started_at"),
        # Views in the order their dwell last changed: how behaviour windows read them.
        Index("ix_signal_views_last_hit", "last_hit_at", "id"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    visitor_id: Mapped[int] = mapped_column(ForeignKey("signal_visitors.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("signal_assets.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    last_hit_at: Mapped[datetime]
    dwell_ms: Mapped[int] = mapped_column(Integer, default=0)


class VisitorAssetDay(Base):
    """Views and visible dwell per visitor, asset and UTC day: the heatmap and the windows."""

    __tablename__ = "signal_visitor_asset_days"
    __table_args__ = (UniqueConstraint("visitor_id", "asset_id", "day"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    visitor_id: Mapped[int] = mapped_column(ForeignKey("signal_visitors.id", ondelete="CASCADE"))
    asset_id: Mapped[int] = mapped_column(ForeignKey("signal_assets.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    views: Mapped[int] = mapped_column(Integer, default=0)
    dwell_ms: Mapped[int] = mapped_column(BigInteger, default=0)


# --- consent threshold -----------------------------------------------------------------


class DeepInteraction(Base):
    """A meeting held, a call over five minutes, an email reply or a portal login."""

    __tablename__ = "signal_deep_interactions"
    __table_args__ = (
        UniqueConstraint("contact_id", "source"),
        _one_of("kind", DeepInteractionKind, "kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Where it came from ("activity:12", "message:40", "portal:…"): one source counts once.
    source: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime]


class ConsentState(Base):
    """Whether behaviour may be shown against this contact by name, and since when."""

    __tablename__ = "signal_consent"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    deep_interactions: Mapped[int] = mapped_column(default=0)
    threshold: Mapped[int] = mapped_column(default=3)
    crossed_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]


# --- inbound messages ----------------------------------------------------------------


class Connector(TimestampMixin, Base):
    """A configured message source: its secrets, and the cursor of a polled source."""

    __tablename__ = "signal_connectors"
    __table_args__ = (_one_of("kind", Channel, "kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cursor: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_polled_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class WebhookNonce(Base):
    """A signed delivery's nonce, kept for the replay window so a replay is refused."""

    __tablename__ = "signal_webhook_nonces"
    __table_args__ = (UniqueConstraint("connector_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("signal_connectors.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(120))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class InboundMessage(Base):
    """A message received once, whatever the number of deliveries, and where it was filed."""

    __tablename__ = "signal_messages"
    __table_args__ = (
        UniqueConstraint("channel", "idempotency_key"),
        _one_of("channel", Channel, "channel_known"),
        Index("ix_signal_messages_thread", "thread_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("signal_connectors.id", ondelete="SET NULL"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(8), default="inbound")
    sender: Mapped[str | None] = mapped_column(String(320))
    sender_name: Mapped[str | None] = mapped_column(String(300))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    thread_key: Mapped[str | None] = mapped_column(String(300))
    is_reply: Mapped[bool] = mapped_column(default=False)
    sent_at: Mapped[datetime]
    received_at: Mapped[datetime]
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    opportunity_id: Mapped[int | None] = mapped_column(ForeignKey("opportunities.id", ondelete="SET NULL"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    # Filled later by the radar; a column now so features and exports have its place.
    sentiment: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
