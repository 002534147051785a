"""Forecast tables: trained model versions, deal scores with their drivers, rep annotations,
period distributions, renewal-risk scores, AI insights awaiting a rep's verification, and
forecast submissions.

Every row here is written by ``pathcast.forecast.service`` in the same transaction as its
event (``forecast.*``). Scores and distributions are kept as history (append-only), so
"what moved it" and the deal page's probability trail read them back as of any moment.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pathcast.db import Base, StrEnum


def _one_of(column: str, enum: type[StrEnum], name: str) -> CheckConstraint:
    values = ", ".join(f"'{member.value}'" for member in enum)
    return CheckConstraint(f"{column} IN ({values})", name=name)


class PeriodKind(StrEnum):
    month = "month"
    quarter = "quarter"


class InsightKind(StrEnum):
    risk_flag = "risk_flag"
    next_step = "next_step"
    renewal_risk = "renewal_risk"


class WinModel(Base):
    """One trained, calibrated win-probability model. Exactly one version is active."""

    __tablename__ = "forecast_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    trained_at: Mapped[datetime]
    trained_by: Mapped[str] = mapped_column(String(120))
    # "on_demand" (a person or the CLI) or "schedule" (the worker's retraining loop)
    trigger: Mapped[str] = mapped_column(String(16), default="on_demand")
    training_rows: Mapped[int] = mapped_column(Integer)
    features: Mapped[list[str]] = mapped_column(JSON)
    calibration: Mapped[str] = mapped_column(String(16))
    # validation metrics (auc, brier, log_loss, ece, n) of the held-out fold
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    # LightGBM's own text format plus the calibrator as JSON: no pickle in the database
    booster: Mapped[bytes] = mapped_column(LargeBinary)
    calibrator: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)


class DealScore(Base):
    """A deal's win probability from one model version at one moment, with its drivers."""

    __tablename__ = "forecast_deal_scores"
    __table_args__ = (
        Index("ix_forecast_deal_scores_deal_scored", "opportunity_id", "scored_at"),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(ForeignKey("opportunities.id", ondelete="CASCADE"))
    model_version: Mapped[int] = mapped_column(Integer)
    scored_at: Mapped[datetime] = mapped_column(index=True)
    probability: Mapped[float] = mapped_column(Float)
    # [{"feature", "value", "points", "en", "zh"}], largest |points| first
    drivers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


class Annotation(Base):
    """A rep's context note on a deal, optionally overriding the probability or category."""

    __tablename__ = "forecast_annotations"
    __table_args__ = (
        CheckConstraint(
            "override_probability IS NULL OR (override_probability >= 0 AND override_probability <= 1)",
            name="override_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opportunity_id: Mapped[int] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_label: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(Text)
    # jieba / word tokens of the note, kept so training reads them as of the note's time
    tokens: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_probability: Mapped[float | None] = mapped_column(Float)
    override_category: Mapped[str | None] = mapped_column(String(16))
    # the model's number when the note was written, shown beside the override
    model_probability: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(index=True)
    withdrawn_at: Mapped[datetime | None]


class PeriodForecast(Base):
    """A revenue distribution for one period and scope, as computed at one moment."""

    __tablename__ = "forecast_periods"
    __table_args__ = (
        _one_of("period_kind", PeriodKind, "period_kind_known"),
        Index("ix_forecast_periods_scope", "period_kind", "period_start", "scope", "computed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime]
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    # "company", "team:<id>" or "rep:<id>"
    scope: Mapped[str] = mapped_column(String(40))
    model_version: Mapped[int | None] = mapped_column(Integer)
    p10: Mapped[float] = mapped_column(Float)
    p50: Mapped[float] = mapped_column(Float)
    p90: Mapped[float] = mapped_column(Float)
    expected: Mapped[float] = mapped_column(Float)
    won_so_far: Mapped[float] = mapped_column(Float, default=0.0)
    # per open deal in scope: {"id", "amount", "p_win", "p_in_period"}; what-moved reads it back
    deals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class RenewalScore(Base):
    """A subscription's renewal risk (0–1) at one moment, with the factors behind it."""

    __tablename__ = "forecast_renewal_scores"
    __table_args__ = (
        Index("ix_forecast_renewal_scores_sub_scored", "subscription_id", "scored_at"),
        CheckConstraint("risk >= 0 AND risk <= 1", name="risk_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    scored_at: Mapped[datetime]
    risk: Mapped[float] = mapped_column(Float)
    # [{"factor", "value", "points", "en", "zh"}]
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True, index=True)


class Insight(Base):
    """An AI-generated suggestion (a risk flag, a next step). Never a decision by itself:
    when the admin requires it, a rep's written verification must precede its use."""

    __tablename__ = "forecast_insights"
    __table_args__ = (_one_of("kind", InsightKind, "insight_kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    opportunity_id: Mapped[int | None] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    text_en: Mapped[str] = mapped_column(Text)
    text_zh: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(80))  # e.g. "win model v3", "renewal risk"
    created_at: Mapped[datetime]
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    verified_at: Mapped[datetime | None]
    verification_note: Mapped[str | None] = mapped_column(Text)
    dismissed_at: Mapped[datetime | None]


class Submission(Base):
    """A rep's (or manager's) forecast call for a period: commit and best case."""

    __tablename__ = "forecast_submissions"
    __table_args__ = (
        _one_of("period_kind", PeriodKind, "submission_period_kind_known"),
        UniqueConstraint("user_id", "period_kind", "period_start", "submitted_at", name="one_per_moment"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    period_kind: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    commit_amount: Mapped[float] = mapped_column(Float)
    best_case_amount: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime]


class ForecastSetting(Base):
    """Admin switches of the forecast (a key-value row each), e.g. whether AI insights need a
    rep's written verification before they enter an approval or a forecast submission."""

    __tablename__ = "forecast_settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(120))
