"""What the portal records: each watermarked copy of a document that was handed out."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
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
