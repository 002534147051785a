"""The served win model: train and version it, choose the active one, score the open
pipeline with per-deal drivers. The only writer of ``forecast_models`` and
``forecast_deal_scores``.

Events (each in the transaction of its write):

* ``forecast.model_trained`` on ``forecast_model`` / version:
  ``{version, trigger, training_rows, metrics, calibration}``
* ``forecast.model_activated`` on ``forecast_model`` / version: ``{version, previous_version}``
* ``forecast.deals_scored`` on ``forecast_model`` / version:
  ``{model_version, as_of, scored, risk_changes}`` (one per scoring run)
* ``forecast.deal_risk_changed`` on ``opportunity`` / deal id, when a deal's probability
  moves materially (see :func:`material_change`):
  ``{metric: "win_probability", entity: "opportunity", value, previous, risk,
  previous_risk, model_version, drivers}``

Who may do what: training and rescoring are for admins and managers (a manager rescores
only the deals of their team, crm's row scoping), activating a version for admins;
reading scores follows the ``forecast`` right and crm's scoping of the deal. Readers
without an actor (:func:`latest_scores`, :func:`score_history`,
:func:`probabilities_as_of`, :func:`active_model`, :func:`list_models`) leave scoping to
their callers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor, Operation, may
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.forecast import explain
from pathcast.forecast.evaluate import METRICS, _score
from pathcast.forecast.features import FeatureMatrix
from pathcast.forecast.models import DealScore, WinModel

# Imported for its reaction: a deal entering high risk becomes a suggestion to verify,
# in every process that scores (server, CLI, worker).
from pathcast.forecast.service import guardrail  # noqa: F401
from pathcast.forecast.snapshot import DealSnapshot, pipeline_as_of
from pathcast.forecast.training import CalibratedModel, fit_calibrated, model_matrix, training_rows

MIN_CLOSED_DEALS = 20
"""Fewer closed deals than this and a model would learn noise: training is refused."""
VALIDATION_SHARE = 0.2
"""The latest-closing fifth of the closed deals is held out for the validation metrics."""
MATERIAL_CHANGE = 0.10
HIGH_RISK_BELOW = 0.30
MEDIUM_RISK_BELOW = 0.60
DRIVERS_KEPT = 5
DRIVERS_IN_EVENT = 3
CHUNK = 5000
TRIGGERS = ("on_demand", "schedule")
OPPORTUNITY = crm.SPECS["opportunity"]


# --- rights --------------------------------------------------------------------------------


def require_forecast_right(actor: Actor, operation: Operation) -> None:
    """Refuse (403) unless the actor's role grants ``operation`` on the forecast."""
    if not may(actor, "forecast", operation):
        if operation == "read":
            raise PermissionDenied("forbidden_model", entity="forecast")
        raise PermissionDenied("forbidden_operation", entity="forecast", operation=operation)


def _require_manager(actor: Actor) -> None:
    require_forecast_right(actor, "create")
    if actor.role not in (Role.admin, Role.manager):
        raise PermissionDenied("forecast_managers_only")


def _require_admin(actor: Actor) -> None:
    if actor.role is not Role.admin:
        raise PermissionDenied("admin_only")


# --- models --------------------------------------------------------------------------------


def active_model(session: Session) -> WinModel | None:
    """The version scoring uses now, if any."""
    return session.scalars(
        select(WinModel).where(WinModel.is_active.is_(True)).order_by(WinModel.version.desc()).limit(1)
    ).first()


def list_models(session: Session) -> list[WinModel]:
    """Every trained version, newest first."""
    return list(session.scalars(select(WinModel).order_by(WinModel.version.desc())))


def get_model(session: Session, version: int) -> WinModel:
    """The model of this version (NotFound otherwise)."""
    model = session.scalars(select(WinModel).where(WinModel.version == version)).first()
    if model is None:
        raise NotFound(entity="forecast_model", id=version)
    return model


def load_model(row: WinModel) -> CalibratedModel:
    """The stored booster and calibrator, ready to predict."""
    return CalibratedModel.from_storage(row.booster, row.calibrator)


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def _validation_metrics(
    x: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    closed_at: Sequence[datetime],
    opportunity_ids: Sequence[int],
    *,
    seed: int,
    n_estimators: int,
) -> tuple[dict[str, Any], list[str]]:
    """Fit on the deals that closed first, measure on the fifth that closed last.

    Split by deal (never the same deal on both sides) and by time, as a served model is
    used: trained on the past, judged on what closed after.
    """
    close_of: dict[int, datetime] = {}
    for deal_id, moment in zip(opportunity_ids, closed_at, strict=True):
        close_of[deal_id] = moment
    ordered = sorted(close_of, key=lambda deal_id: (close_of[deal_id], deal_id))
    held = set(ordered[len(ordered) - max(1, round(len(ordered) * VALIDATION_SHARE)) :])
    in_valid = np.array([deal_id in held for deal_id in opportunity_ids])
    empty: dict[str, Any] = {metric: None for metric in METRICS} | {"n": int(in_valid.sum())}
    y_fit, y_valid = y[~in_valid], y[in_valid]
    if len(y_fit) < 10 or y_fit.min() == y_fit.max():
        return empty, ["validation metrics skipped: the earlier deals hold only one outcome"]
    model = fit_calibrated(x[~in_valid], y_fit, seed=seed, n_estimators=n_estimators)
    p = model.predict(x[in_valid])
    if y_valid.min() == y_valid.max():
        brier = float(np.mean((p - y_valid) ** 2))
        return empty | {"brier": _round(brier)}, [
            "AUC, log-loss and ECE skipped: the latest-closing deals hold only one outcome"
        ]
    scores: dict[str, list[float]] = {metric: [] for metric in METRICS}
    _score(scores, y_valid, p)
    metrics: dict[str, Any] = {metric: _round(values[0]) for metric, values in scores.items()}
    return metrics | {"n": len(y_valid)}, []


def train_model(
    session: Session,
    *,
    actor: Actor,
    trigger: str = "on_demand",
    seed: int = 7,
    n_estimators: int = 300,
    at: datetime | None = None,
    activate: bool = True,
) -> WinModel:
    """Train the next version on every deal closed before ``at`` (now when None).

    Validation metrics come from a model fit on the earlier-closing deals and measured on
    the latest-closing fifth; the stored model is then fit on all of them. Refused
    (InvalidInput on ``history``) with fewer than ``MIN_CLOSED_DEALS`` closed deals or a
    single outcome.
    """
    _require_manager(actor)
    if trigger not in TRIGGERS:
        raise InvalidInput.single("trigger", "unknown_trigger", allowed=", ".join(TRIGGERS))
    now = utcnow()
    cutoff = at or now
    rows = training_rows(session, cutoff)
    labels = {deal_id: int(label) for deal_id, label in zip(rows.matrix.opportunity_ids, rows.y, strict=True)}
    if len(labels) < MIN_CLOSED_DEALS:
        raise InvalidInput.single(
            "history", "too_few_closed_deals", found=len(labels), needed=MIN_CLOSED_DEALS
        )
    won = sum(labels.values())
    if won == 0 or won == len(labels):
        raise InvalidInput.single("history", "single_outcome", won=won, lost=len(labels) - won)
    x, y = rows.matrix.values, rows.y
    metrics, notes = _validation_metrics(
        x, y, rows.closed_at, rows.matrix.opportunity_ids, seed=seed, n_estimators=n_estimators
    )
    served = fit_calibrated(x, y, seed=seed, n_estimators=n_estimators)
    booster, calibrator = served.to_storage()
    version = int(session.scalar(select(func.max(WinModel.version))) or 0) + 1
    notes = [
        f"trained on {len(labels)} closed deals ({won} won) as of {cutoff.isoformat()}",
        *notes,
    ]
    row = WinModel(
        version=version,
        trained_at=now,
        trained_by=actor.label,
        trigger=trigger,
        training_rows=len(y),
        features=list(rows.matrix.columns),
        calibration=served.calibration,
        metrics=metrics,
        booster=booster,
        calibrator=calibrator,
        is_active=False,
        notes=notes,
    )
    session.add(row)
    session.flush()
    append_event(
        session,
        type="forecast.model_trained",
        entity="forecast_model",
        entity_id=version,
        actor=actor.label,
        payload={
            "version": version,
            "trigger": trigger,
            "training_rows": len(y),
            "metrics": metrics,
            "calibration": served.calibration,
        },
    )
    if activate:
        _activate(session, row, actor)
    return row


def _activate(session: Session, row: WinModel, actor: Actor) -> None:
    previous = active_model(session)
    if previous is not None and previous.version == row.version:
        return
    for other in session.scalars(select(WinModel).where(WinModel.is_active.is_(True))):
        other.is_active = False
    session.flush()  # one active version at any moment, even within the transaction
    row.is_active = True
    session.flush()
    append_event(
        session,
        type="forecast.model_activated",
        entity="forecast_model",
        entity_id=row.version,
        actor=actor.label,
        payload={"version": row.version, "previous_version": previous.version if previous else None},
    )


def activate_model(session: Session, *, actor: Actor, version: int) -> WinModel:
    """Make ``version`` the one scoring uses (admins only; NotFound for an unknown version).
    Activating the active version changes nothing and records nothing."""
    _require_admin(actor)
    row = get_model(session, version)
    _activate(session, row, actor)
    return row


def retrain_if_due(session: Session, *, actor: Actor, now: datetime, every: timedelta) -> WinModel | None:
    """Train (trigger "schedule") when there is no active model or it was trained
    ``every`` or longer before ``now``. None when not due, or when the history is still
    too small to train on (the schedule tries again next time)."""
    current = active_model(session)
    if current is not None and now - current.trained_at < every:
        return None
    try:
        return train_model(session, actor=actor, trigger="schedule", at=now)
    except InvalidInput:
        return None


# --- scoring -------------------------------------------------------------------------------


def risk_band(probability: float) -> str:
    """ "high" (below 30 %), "medium" (below 60 %) or "low" risk of losing the deal."""
    if probability < HIGH_RISK_BELOW:
        return "high"
    if probability < MEDIUM_RISK_BELOW:
        return "medium"
    return "low"


def material_change(probability: float, previous: float | None) -> bool:
    """Whether a new score is worth an event: the probability moved by at least 10
    points or the risk band changed; a first score only when it is high risk."""
    if previous is None:
        return risk_band(probability) == "high"
    return abs(probability - previous) >= MATERIAL_CHANGE - 1e-12 or risk_band(probability) != risk_band(
        previous
    )


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _readable_deal_ids(session: Session, actor: Actor) -> set[int] | None:
    """The deals the actor may read (None: every deal)."""
    if actor.role is Role.admin:
        return None
    query = crm.readable_query(actor, OPPORTUNITY).with_only_columns(OPPORTUNITY.model.id)
    return {int(deal_id) for deal_id in session.scalars(query)}


def _aligned(matrix: FeatureMatrix, features: Sequence[str]) -> np.ndarray[Any, Any]:
    """The matrix's columns in the model's order; a column the model knows but the matrix
    lacks (features changed since training) is NaN, as LightGBM treats missing."""
    x = np.full((len(matrix.opportunity_ids), len(features)), np.nan)
    for j, name in enumerate(features):
        if name in matrix.columns:
            x[:, j] = matrix.values[:, matrix.columns.index(name)]
    return x


def _contexts(session: Session, deals: Sequence[DealSnapshot]) -> dict[int, explain.DealContext]:
    names: dict[int, tuple[str, str | None]] = {}
    for pipeline_id in {deal.pipeline_id for deal in deals if deal.pipeline_id is not None}:
        for stage in crm.stages_of(session, pipeline_id):
            names[stage.id] = (stage.name, stage.name_zh)
    found: dict[int, explain.DealContext] = {}
    for deal in deals:
        name, name_zh = names.get(deal.stage_id, (deal.stage_key, None))
        found[deal.opportunity_id] = explain.DealContext(stage_name=name, stage_name_zh=name_zh)
    return found


@dataclass(frozen=True)
class ScoreRun:
    """What :func:`score_open_deals` wrote."""

    model_version: int
    scored_at: datetime
    scores: list[DealScore]
    risk_changes: int


def score_open_deals(
    session: Session,
    *,
    actor: Actor,
    at: datetime | None = None,
    opportunity_ids: Sequence[int] | None = None,
) -> list[DealScore]:
    """Score the deals open at ``at`` (now when None) with the active model; see
    :func:`score_run` (this returns only the scores written)."""
    return score_run(session, actor=actor, at=at, opportunity_ids=opportunity_ids).scores


def score_run(
    session: Session,
    *,
    actor: Actor,
    at: datetime | None = None,
    opportunity_ids: Sequence[int] | None = None,
) -> ScoreRun:
    """Score the open pipeline as of ``at`` (all of it, or ``opportunity_ids``; a manager
    only their team's deals) with the active model, writing one :class:`DealScore` per
    deal with its drivers, and ``forecast.deal_risk_changed`` for each material change.
    Conflict ``no_active_model`` when no model is active."""
    _require_manager(actor)
    row = active_model(session)
    if row is None:
        raise Conflict("no_active_model")
    moment = at or utcnow()
    history = pipeline_as_of(session, moment)
    readable = _readable_deal_ids(session, actor)
    wanted = None if opportunity_ids is None else {int(deal_id) for deal_id in opportunity_ids}
    deals = [
        deal
        for deal in history
        if deal.is_open
        and (wanted is None or deal.opportunity_id in wanted)
        and (readable is None or deal.opportunity_id in readable)
    ]
    model = load_model(row)
    matrix = model_matrix(session, deals, moment, history=history)
    x = _aligned(matrix, row.features)
    probabilities = model.predict(x)
    contributions = model.raw_contributions(x)
    contexts = _contexts(session, deals)
    ids = [deal.opportunity_id for deal in deals]
    before = scores_as_of(session, moment, ids)
    latest = latest_scores(session, ids)
    written: list[DealScore] = []
    changes = 0
    for index, deal_id in enumerate(ids):
        probability = float(np.clip(probabilities[index], 0.0, 1.0))
        reasons = explain.drivers(
            model,
            contributions[index],
            x[index],
            row.features,
            top=DRIVERS_KEPT,
            context=contexts[deal_id],
        )
        current = latest.get(deal_id)
        newest = current is None or current.scored_at <= moment
        if newest and current is not None:
            current.is_latest = False
        score = DealScore(
            opportunity_id=deal_id,
            model_version=row.version,
            scored_at=moment,
            probability=round(probability, 6),
            drivers=reasons,
            is_latest=newest,
        )
        written.append(score)
        previous = before.get(deal_id)
        previous_p = None if previous is None else previous.probability
        if material_change(probability, previous_p):
            changes += 1
            append_event(
                session,
                type="forecast.deal_risk_changed",
                entity="opportunity",
                entity_id=deal_id,
                actor=actor.label,
                occurred_at=moment,
                payload={
                    "metric": "win_probability",
                    "entity": "opportunity",
                    "value": round(probability, 4),
                    "previous": None if previous_p is None else round(previous_p, 4),
                    "risk": risk_band(probability),
                    "previous_risk": None if previous_p is None else risk_band(previous_p),
                    "model_version": row.version,
                    "drivers": reasons[:DRIVERS_IN_EVENT],
                },
            )
    session.flush()  # the old latest rows lose their flag before the new ones carry it
    session.add_all(written)
    session.flush()
    append_event(
        session,
        type="forecast.deals_scored",
        entity="forecast_model",
        entity_id=row.version,
        actor=actor.label,
        occurred_at=moment,
        payload={
            "model_version": row.version,
            "as_of": moment.isoformat(),
            "scored": len(written),
            "risk_changes": changes,
        },
    )
    return ScoreRun(row.version, moment, written, changes)


# --- reading scores -----------------------------------------------------------------------


def latest_scores(session: Session, opportunity_ids: Sequence[int]) -> dict[int, DealScore]:
    """Deal id → its latest score (deals never scored are absent)."""
    found: dict[int, DealScore] = {}
    for chunk in _chunks(opportunity_ids):
        query = (
            select(DealScore)
            .where(DealScore.opportunity_id.in_(chunk), DealScore.is_latest.is_(True))
            .order_by(DealScore.scored_at, DealScore.id)
        )
        for score in session.scalars(query):
            found[score.opportunity_id] = score
    return found


def score_history(session: Session, opportunity_id: int) -> list[DealScore]:
    """Every score of the deal, oldest first."""
    return list(
        session.scalars(
            select(DealScore)
            .where(DealScore.opportunity_id == opportunity_id)
            .order_by(DealScore.scored_at, DealScore.id)
        )
    )


def scores_as_of(
    session: Session, at: datetime, opportunity_ids: Sequence[int] | None = None
) -> dict[int, DealScore]:
    """Deal id → its latest score at or before ``at`` (with drivers and model version)."""
    ranked = (
        select(
            DealScore.id,
            func.row_number()
            .over(
                partition_by=DealScore.opportunity_id,
                order_by=(DealScore.scored_at.desc(), DealScore.id.desc()),
            )
            .label("rank"),
        )
        .where(DealScore.scored_at <= at)
        .subquery()
    )
    found: dict[int, DealScore] = {}
    chunks: list[list[int] | None] = list(_chunks(opportunity_ids)) if opportunity_ids is not None else [None]
    for chunk in chunks:
        if chunk is not None and not chunk:
            continue
        query = select(DealScore).join(ranked, ranked.c.id == DealScore.id).where(ranked.c.rank == 1)
        if chunk is not None:
            query = query.where(DealScore.opportunity_id.in_(chunk))
        for score in session.scalars(query):
            found[score.opportunity_id] = score
    return found


def probabilities_as_of(
    session: Session, at: datetime, opportunity_ids: Sequence[int] | None = None
) -> dict[int, float]:
    """Deal id → the probability of its latest score at or before ``at``."""
    return {
        deal_id: score.probability for deal_id, score in scores_as_of(session, at, opportunity_ids).items()
    }


def deal_score(session: Session, *, actor: Actor, opportunity_id: int) -> tuple[DealScore, list[DealScore]]:
    """A deal's latest score and its whole history, for someone who may read the deal:
    403 without the forecast right, 404 for a deal the actor cannot see (as crm answers)
    or one never scored."""
    require_forecast_right(actor, "read")
    crm.get_readable(session, actor, OPPORTUNITY, opportunity_id)
    history = score_history(session, opportunity_id)
    latest = latest_scores(session, [opportunity_id]).get(opportunity_id)
    if latest is None:
        raise NotFound("not_scored", entity="opportunity", id=opportunity_id)
    return latest, history
