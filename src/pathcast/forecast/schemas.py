"""Forecast API schemas: win-model versions, deal scores with their drivers.

Every field is ``internal``: a model's number and its reasons are the company's own
judgement of a deal, never part of what a customer exports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from pathcast.schemas import INTERNAL, ProjectBase


class WinModelRead(ProjectBase):
    """One trained model version (the booster itself is not sent)."""

    version: int = INTERNAL
    trained_at: datetime = INTERNAL
    trained_by: str = INTERNAL
    trigger: str = INTERNAL
    training_rows: int = INTERNAL
    features: list[str] = INTERNAL
    calibration: str = INTERNAL
    metrics: dict[str, Any] = INTERNAL
    is_active: bool = INTERNAL
    notes: list[str] = INTERNAL


class TrainRequest(ProjectBase):
    """Train a new version now; it becomes the active one unless ``activate`` is false."""

    seed: int = 7
    n_estimators: Annotated[int, Field(ge=10, le=2000)] = 300
    activate: bool = True


class Driver(ProjectBase):
    """One reason behind a deal's probability, in percentage points and in both languages."""

    feature: str = INTERNAL
    value: float | None = INTERNAL
    points: float = INTERNAL
    en: str = INTERNAL
    zh: str = INTERNAL


class ScorePoint(ProjectBase):
    """A deal's probability at one scoring."""

    scored_at: datetime = INTERNAL
    probability: float = INTERNAL
    model_version: int = INTERNAL


class DealScoreRead(ProjectBase):
    """A deal's latest probability with its drivers, and every earlier score (oldest first)."""

    opportunity_id: int = INTERNAL
    probability: float = INTERNAL
    model_version: int = INTERNAL
    scored_at: datetime = INTERNAL
    drivers: list[Driver] = INTERNAL
    history: list[ScorePoint] = INTERNAL


class ScoreRunRead(ProjectBase):
    """What a rescoring did."""

    model_version: int = INTERNAL
    scored_at: datetime = INTERNAL
    scored: int = INTERNAL
    risk_changes: int = INTERNAL
