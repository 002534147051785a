"""What the portal records: each watermarked copy of a document that was handed out."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, utcnow


class DocumentExport(Base):
    """One watermarked copy of one document version, and who received it.

    ``export_id`` is printed on every page and signed into the file, so a copy found
    elsewhere leads back to this row. The row is a fact: it is never updated. It goes
    with its document (``CASCADE``); the ``document.exported`` event stays in the log.
    """

    __tablename__ = "document_exports"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "length(source_sha256) = 64 AND length(output_sha256) = 64", name="digests_are_sha256"
        ),
    )

    # identity
    id: Mapped[int] = mapped_column(primary_key=True)
    export_id: Mapped[str] = mapped_column(String(32), unique=True)
    # what was handed out
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    # who received it
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recipient_label: Mapped[str] = mapped_column(String(200))
    # the visible watermark
    customer: Mapped[str] = mapped_column(String(300))
    watermark_date: Mapped[date] = mapped_column(Date)
    # the bytes: the stored version's digest and the digest of the copy handed out
    source_sha256: Mapped[str] = mapped_column(String(64))
    output_sha256: Mapped[str] = mapped_column(String(64))
    # when and by whom
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


# --- the customer's login realm -----------------------------------------------------------


class MagicLink(Base):
    """A one-time sign-in link e-mailed to a customer contact. Only its SHA-256 is stored."""

    __tablename__ = "portal_magic_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Totp(Base):
    """A customer contact's optional TOTP second factor (RFC 6238)."""

    __tablename__ = "portal_totp"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # base32 secret, encrypted with the server's key (see portal.service.login)
    secret_encrypted: Mapped[str] = mapped_column(String(300))
    enabled: Mapped[bool] = mapped_column(default=False)
    last_step: Mapped[int | None]  # the last time-step accepted: a code is never accepted twice
    created_at: Mapped[datetime]


# --- grants to third parties ------------------------------------------------------------------

GRANT_PURPOSES = ("audit", "migration")


class Grant(Base):
    """Access a customer gives a third party: a field set × a time range × a purpose.

    ``audit`` is read-only in the portal, ``migration`` is export only. A grant expires and
    can be revoked (``revoked_at``); a grantee may derive a narrower grant, never a wider
    one (``parent_id``). Only the SHA-256 of the grantee's token is stored.
    """

    __tablename__ = "portal_grants"
    __table_args__ = (_one_of("purpose", GRANT_PURPOSES, "purpose_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("portal_grants.id", ondelete="CASCADE"))
    grantee: Mapped[str] = mapped_column(String(300))  # "KPMG audit team", an e-mail
    purpose: Mapped[str] = mapped_column(String(10))
    # datasets and their fields: {"activities": ["subject", "occurred_at", …], …}
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class GrantAccess(Base):
    """One use of a grant (what was read or exported): the customer sees every one."""

    __tablename__ = "portal_grant_accesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    grant_id: Mapped[int] = mapped_column(ForeignKey("portal_grants.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(40))  # "view", "export"
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


# --- data-access and portability requests -----------------------------------------------------

REQUEST_KINDS = ("access", "portability", "correction", "deletion")
REQUEST_STATUSES = ("open", "in_progress", "done", "refused")


class DataRequest(Base):
    """A customer's request about their data, with the date it is due and its status."""

    __tablename__ = "portal_data_requests"
    __table_args__ = (
        _one_of("kind", REQUEST_KINDS, "kind_known"),
        _one_of("status", REQUEST_STATUSES, "status_known"),
        Index("ix_portal_data_requests_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12), default="open")
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    due_on: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime | None]
    resolution: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# --- the reps' training and certificates ------------------------------------------------------


class Course(Base):
    """A course or certification programme admins maintain (e.g. "DSA 介入耗材产品认证")."""

    __tablename__ = "portal_courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # how long a certificate from it stays valid (None: it does not expire)
    valid_months: Mapped[int | None]
    customer_visible: Mapped[bool] = mapped_column(default=True)
    archived: Mapped[bool] = mapped_column(default=False)


class Enrollment(Base):
    """A person's progress in a course, and the certificate when they passed."""

    __tablename__ = "portal_enrollments"
    __table_args__ = (
        UniqueConstraint("user_id", "course_id"),
        CheckConstraint("progress >= 0 AND progress <= 100", name="progress_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("portal_courses.id", ondelete="CASCADE"), index=True)
    progress: Mapped[int] = mapped_column(default=0)
    certified_on: Mapped[date | None] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    certificate_no: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime]
