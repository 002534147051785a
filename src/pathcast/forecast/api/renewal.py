"""Forecast API: renewal risk (see pathcast.forecast.service.renewal).

``GET  /api/v1/forecast/renewals``: the latest score of each readable subscription, riskiest first.
``POST /api/v1/forecast/renewals/score``: score the subscriptions renewing within 180 days
(admins and managers), appending ``forecast.renewal_risk`` where the risk moved.

No ``from __future__ import annotations``: FastAPI reads the types at definition time.
"""

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter

from pathcast.deps import CurrentActor, DbSession
from pathcast.forecast.service import renewal as service
from pathcast.schemas import INTERNAL, ProjectBase

router = APIRouter(tags=["forecast"])


class RenewalRead(ProjectBase):
    """A subscription's latest renewal risk and the factors behind it."""

    subscription_id: int = INTERNAL
    contract_id: int = INTERNAL
    contract_number: str = INTERNAL
    account_id: int = INTERNAL
    account_name: str = INTERNAL
    renewal_date: date | None = INTERNAL
    annual_value: float = INTERNAL
    currency: str = INTERNAL
    risk: float = INTERNAL
    scored_at: datetime = INTERNAL
    # [{"factor", "value", "points", "en", "zh"}], largest points first
    factors: list[dict[str, Any]] = INTERNAL


class ScoreReport(ProjectBase):
    scored: int
    renewals: list[RenewalRead]


@router.get("/renewals")
def list_renewals(session: DbSession, actor: CurrentActor) -> list[RenewalRead]:
    """Scored subscriptions the caller may read."""
    return [RenewalRead.model_validate(row) for row in service.list_renewals(session, actor=actor)]


@router.post("/renewals/score")
def score_renewals(session: DbSession, actor: CurrentActor) -> ScoreReport:
    """Score now (admins and managers); answers the scored list."""
    scores = service.score_renewals(session, actor=actor)
    rows = service.list_renewals(session, actor=actor)
    return ScoreReport(scored=len(scores), renewals=[RenewalRead.model_validate(row) for row in rows])
