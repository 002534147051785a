"""Forecast API: win-model versions and deal scores (see pathcast.forecast.service.scoring).

Thin handlers: the service checks who may do what and scopes the deals. This module
avoids ``from __future__ import annotations`` because FastAPI reads the body types at
definition time.
"""

from typing import Any

from fastapi import APIRouter

from pathcast.deps import CurrentActor, DbSession
from pathcast.forecast import schemas as s
from pathcast.forecast.service import scoring

router = APIRouter(tags=["forecast"])


@router.get(
    "/models", response_model=list[s.WinModelRead], summary="Trained win-model versions, newest first"
)
def list_models(session: DbSession, actor: CurrentActor) -> Any:
    scoring.require_forecast_right(actor, "read")
    return scoring.list_models(session)


@router.post(
    "/models/train",
    response_model=s.WinModelRead,
    status_code=201,
    summary="Train the next version on every deal closed so far (admins and managers)",
    responses={422: {"description": "Too few closed deals, or only one outcome"}},
)
def train(session: DbSession, actor: CurrentActor, body: s.TrainRequest | None = None) -> Any:
    request = body or s.TrainRequest()
    return scoring.train_model(
        session,
        actor=actor,
        seed=request.seed,
        n_estimators=request.n_estimators,
        activate=request.activate,
    )


@router.post(
    "/models/{version}/activate",
    response_model=s.WinModelRead,
    summary="Make this version the one scoring uses (admins)",
)
def activate(version: int, session: DbSession, actor: CurrentActor) -> Any:
    return scoring.activate_model(session, actor=actor, version=version)


@router.post(
    "/score",
    response_model=s.ScoreRunRead,
    summary="Rescore the open pipeline now with the active model (admins; managers their team's deals)",
    responses={409: {"description": "No model is active yet"}},
)
def rescore(session: DbSession, actor: CurrentActor) -> Any:
    run = scoring.score_run(session, actor=actor)
    return s.ScoreRunRead(
        model_version=run.model_version,
        scored_at=run.scored_at,
        scored=len(run.scores),
        risk_changes=run.risk_changes,
    )


@router.get(
    "/deals/{opportunity_id}/score",
    response_model=s.DealScoreRead,
    summary="A deal's win probability, its drivers in zh and en, and its score history",
)
def deal_score(opportunity_id: int, session: DbSession, actor: CurrentActor) -> Any:
    latest, history = scoring.deal_score(session, actor=actor, opportunity_id=opportunity_id)
    return s.DealScoreRead(
        opportunity_id=opportunity_id,
        probability=latest.probability,
        model_version=latest.model_version,
        scored_at=latest.scored_at,
        drivers=[s.Driver.model_validate(driver) for driver in latest.drivers],
        history=[s.ScorePoint.model_validate(score) for score in history],
    )
