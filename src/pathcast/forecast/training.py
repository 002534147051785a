"""The served win-probability model: fit, calibrate, store, and the rows it learns from.

* :func:`fit_calibrated` fits LightGBM and a calibrator (isotonic or Platt, whichever has
  the lower cross-fitted Brier score on a validation split, as
  :func:`pathcast.forecast.evaluate._choose_calibration` decides). One stratified
  validation split serves both early stopping and calibration, so a million rows are
  fit once, not k times.
* :class:`CalibratedModel` stores as LightGBM's own model text plus the calibrator as
  JSON (isotonic thresholds or Platt coefficients): nothing is pickled.
* :func:`model_matrix` is the feature matrix every served model reads: the point-in-time
  deal features followed by the annotation columns.
* :func:`training_set` is what a model trained at ``at`` may learn from, built as the
  backtest builds it: monthly snapshots of deals open then, of deals that closed before
  ``at``, labelled won/lost.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.events import Clock, Event
from pathcast.forecast import annotation_features
from pathcast.forecast.backtest import add_months
from pathcast.forecast.evaluate import THREADED_ROWS, Calibration, _choose_calibration
from pathcast.forecast.features import COLUMNS, FeatureMatrix, deal_features
from pathcast.forecast.snapshot import DealSnapshot, pipeline_as_of

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

VALIDATION_SHARE = 0.2
EARLY_STOPPING_ROUNDS = 30
CALIBRATION_CHOICE_ROWS = 50_000
"""At most this many validation rows decide isotonic vs Platt (cross-fitted three times);
the chosen calibrator is then fit on the whole validation split."""
STORAGE_FORMAT = 1


def _threads(rows: int) -> int:
    """Every core the process may use; one below ``THREADED_ROWS`` rows, where a second
    thread costs more than it saves."""
    if rows < THREADED_ROWS:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _params(seed: int, rows: int) -> dict[str, Any]:
    # the same model family as evaluate._fit_model (leads evaluate, backtest)
    return {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 20,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
        "num_threads": _threads(rows),
        "deterministic": True,
        "force_row_wise": True,
        "seed": seed,
        "verbose": -1,
    }


@dataclass
class CalibratedModel:
    """A LightGBM booster and the calibrator that maps its raw score to a probability."""

    booster: lgb.Booster
    calibration: Calibration
    calibrator: dict[str, Any]
    """isotonic: {"kind", "x", "y"} (thresholds); sigmoid: {"kind", "coef", "intercept"}"""

    @property
    def feature_count(self) -> int:
        return int(self.booster.num_feature())

    def raw_score(self, x: FloatArray) -> FloatArray:
        """LightGBM's log-odds score per row."""
        if len(x) == 0:
            return np.empty(0)
        return np.asarray(self.booster.predict(x, raw_score=True), dtype=np.float64)

    def calibrate(self, raw: FloatArray) -> FloatArray:
        """Calibrated probabilities for raw scores."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.calibration == "isotonic":
            # IsotonicRegression(out_of_bounds="clip") is linear interpolation between
            # its thresholds, held constant outside them: exactly np.interp
            xs = np.asarray(self.calibrator["x"], dtype=np.float64)
            ys = np.asarray(self.calibrator["y"], dtype=np.float64)
            return np.asarray(np.clip(np.interp(raw, xs, ys), 0.0, 1.0), dtype=np.float64)
        z = float(self.calibrator["coef"]) * raw + float(self.calibrator["intercept"])
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -700.0, 700.0))), dtype=np.float64)

    def predict(self, x: FloatArray) -> FloatArray:
        """Calibrated win probabilities, one per row of ``x``."""
        return self.calibrate(self.raw_score(x))

    def raw_contributions(self, x: FloatArray) -> FloatArray:
        """Per-feature contributions to the raw (log-odds) score, plus the expected value
        in the last column (shape n × (features + 1)); each row sums to its raw score."""
        if len(x) == 0:
            return np.empty((0, self.feature_count + 1))
        return np.asarray(self.booster.predict(x, pred_contrib=True), dtype=np.float64)

    def base_probability(self) -> float:
        """The calibrated probability of the model's expected raw score (the average deal)."""
        expected = self.raw_contributions(np.full((1, self.feature_count), np.nan))[0, -1]
        return float(self.calibrate(np.array([expected]))[0])

    def to_storage(self) -> tuple[bytes, dict[str, Any]]:
        """(LightGBM model text as UTF-8, calibrator as JSON-ready dict): no pickle."""
        text = self.booster.model_to_string()
        return text.encode("utf-8"), {"format": STORAGE_FORMAT, **self.calibrator}

    @classmethod
    def from_storage(cls, booster: bytes, calibrator: dict[str, Any]) -> CalibratedModel:
        """The model back from :meth:`to_storage`'s output."""
        kind = calibrator.get("kind")
        if kind not in ("isotonic", "sigmoid"):
            raise ValueError(f"unknown calibration {kind!r}")
        stored = {key: value for key, value in calibrator.items() if key != "format"}
        return cls(
            booster=lgb.Booster(model_str=booster.decode("utf-8")),
            calibration="isotonic" if kind == "isotonic" else "sigmoid",
            calibrator=stored,
        )


def _split(y: IntArray, seed: int) -> tuple[IntArray, IntArray]:
    """A stratified fit / validation split of the row indices (unstratified when a class
    has fewer than two rows)."""
    index = np.arange(len(y), dtype=np.int64)
    positives = int(y.sum())
    stratify = y if min(positives, len(y) - positives) >= 2 else None
    fit, valid = train_test_split(index, test_size=VALIDATION_SHARE, stratify=stratify, random_state=seed)
    return np.sort(fit), np.sort(valid)


def _fit_calibrator(kind: Calibration, raw: FloatArray, y: IntArray) -> dict[str, Any]:
    """The calibrator's parameters as JSON (same settings as ``evaluate._calibrator``)."""
    if kind == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        return {
            "kind": "isotonic",
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
        }
    if y.min() == y.max():
        # one class only: a constant at that class's (clipped) rate
        constant = 0.999 if int(y[0]) else 0.001
        return {"kind": "sigmoid", "coef": 0.0, "intercept": math.log(constant / (1 - constant))}
    platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
    return {"kind": "sigmoid", "coef": float(platt.coef_[0, 0]), "intercept": float(platt.intercept_[0])}


def fit_calibrated(x: FloatArray, y: IntArray, *, seed: int = 7, n_estimators: int = 300) -> CalibratedModel:
    """LightGBM with early stopping on a validation split, calibrated on that split.

    At most ``n_estimators`` trees; stops when the validation log-loss has not improved
    for 30 rounds. The calibration is isotonic or Platt, whichever the cross-fitted Brier
    score on (up to 50,000 rows of) the validation split prefers.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError("x must be a 2-d matrix with one row per label")
    if len(y) < 10:
        raise ValueError(f"{len(y)} training rows are too few to fit a model")
    fit, valid = _split(y, seed)
    params = _params(seed, len(fit))
    train_set = lgb.Dataset(x[fit], label=y[fit], free_raw_data=True)
    valid_set = lgb.Dataset(x[valid], label=y[valid], reference=train_set)
    trained = lgb.train(
        params,
        train_set,
        num_boost_round=n_estimators,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    # reload from its text so a stored and a fresh model are the very same trees
    booster = lgb.Booster(model_str=trained.model_to_string())
    raw = np.asarray(booster.predict(x[valid], raw_score=True), dtype=np.float64)
    y_valid = y[valid]
    if len(y_valid) > CALIBRATION_CHOICE_ROWS:
        rng = np.random.default_rng(seed)
        sample = rng.choice(len(y_valid), CALIBRATION_CHOICE_ROWS, replace=False)
        choice = _choose_calibration(raw[sample], y_valid[sample], seed=seed)
    else:
        choice = _choose_calibration(raw, y_valid, seed=seed)
    return CalibratedModel(booster, choice, _fit_calibrator(choice, raw, y_valid))


# --- the matrix a served model reads --------------------------------------------------


def feature_columns() -> tuple[str, ...]:
    """The served model's columns: deal features, then annotation features."""
    return COLUMNS + tuple(annotation_features.ANNOTATION_COLUMNS)


def model_matrix(
    session: Session,
    snapshots: Sequence[DealSnapshot],
    at: datetime,
    *,
    clock: Clock = "occurred",
    history: Sequence[DealSnapshot] | None = None,
) -> FeatureMatrix:
    """:func:`deal_features` of ``snapshots`` at ``at`` with the annotation columns
    appended (whatever :mod:`pathcast.forecast.annotation_features` defines)."""
    deals = deal_features(session, snapshots, at, clock=clock, history=history)
    extra_columns = tuple(annotation_features.ANNOTATION_COLUMNS)
    if not extra_columns:
        return deals
    extra = np.asarray(
        annotation_features.annotation_columns(session, list(deals.opportunity_ids), at, clock=clock),
        dtype=np.float64,
    ).reshape(len(deals.opportunity_ids), len(extra_columns))
    return FeatureMatrix(
        columns=deals.columns + extra_columns,
        values=np.hstack([deals.values, extra]),
        opportunity_ids=deals.opportunity_ids,
    )


# --- what a model trained at ``at`` may learn from ------------------------------------


@dataclass(frozen=True)
class TrainingRows:
    """The training set with each row's snapshot moment and its deal's close moment
    (rows in snapshot order, deals by id within a snapshot)."""

    matrix: FeatureMatrix
    y: IntArray
    snapshot_at: tuple[datetime, ...]
    closed_at: tuple[datetime, ...]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _first_deal_event(session: Session) -> datetime | None:
    # as backtest._data_span: the deal history starts with its first deal event (the
    # forecast's own events on a deal, risk changes and notes, are not deal history)
    start = session.scalar(
        select(func.min(Event.occurred_at)).where(
            Event.entity == "opportunity", ~Event.type.like("forecast.%")
        )
    )
    return None if start is None else _aware(start)


def training_rows(session: Session, at: datetime, *, clock: Clock = "occurred") -> TrainingRows:
    """Rows (snapshot s at the start of a month, s < ``at``, deal open at s) of the deals
    that closed before ``at``, labelled 1 won / 0 lost, features as of s.

    The backtest's construction (see :mod:`pathcast.forecast.backtest`): a closed deal's
    features are never taken after it closed (its stage would give the answer away);
    deals still open at ``at`` are left out.
    """
    if at.tzinfo is None:
        raise ValueError("the cutoff must be timezone-aware")
    columns = feature_columns()
    start = _first_deal_event(session)
    empty = TrainingRows(
        FeatureMatrix(columns, np.empty((0, len(columns))), ()), np.empty(0, np.int64), (), ()
    )
    if start is None:
        return empty
    final = {deal.opportunity_id: deal for deal in pipeline_as_of(session, at, clock=clock)}
    outcomes = {
        deal_id: deal
        for deal_id, deal in final.items()
        if not deal.is_open and deal.closed_at is not None and deal.closed_at < at
    }
    blocks: list[FloatArray] = []
    ids: list[int] = []
    labels: list[int] = []
    snapshot_at: list[datetime] = []
    closed_at: list[datetime] = []
    moment = add_months(datetime(start.year, start.month, 1, tzinfo=UTC), 1)
    while moment < at:
        history = pipeline_as_of(session, moment, clock=clock)
        picked = [deal for deal in history if deal.is_open and deal.opportunity_id in outcomes]
        if picked:
            matrix = model_matrix(session, picked, moment, clock=clock, history=history)
            blocks.append(matrix.values)
            for deal in picked:
                outcome = outcomes[deal.opportunity_id]
                ids.append(deal.opportunity_id)
                labels.append(int(outcome.stage_status == m.StageClass.won.value))
                snapshot_at.append(moment)
                closed_at.append(outcome.closed_at or at)
        moment = add_months(moment, 1)
    if not blocks:
        return empty
    return TrainingRows(
        FeatureMatrix(columns, np.vstack(blocks), tuple(ids)),
        np.array(labels, dtype=np.int64),
        tuple(snapshot_at),
        tuple(closed_at),
    )


def training_set(
    session: Session, at: datetime, *, clock: Clock = "occurred"
) -> tuple[FeatureMatrix, IntArray]:
    """The rows a model trained at ``at`` may learn from and their labels (1 won, 0 lost);
    see :func:`training_rows`."""
    rows = training_rows(session, at, clock=clock)
    return rows.matrix, rows.y
