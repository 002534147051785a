"""Cross-validate lead scoring: calibrated LightGBM against the classic CRM naive Bayes.

For each of the stratified outer folds (shuffled with ``seed``, so reruns match):

* **Model.** LightGBM is fit on 80% of the training part; the other 20% is the inner
  validation split. Isotonic and Platt (sigmoid on the raw score) calibration are both
  compared on that split by 3-fold cross-fitting (fitting and scoring on the same points
  would always favour isotonic); the one with the lower Brier score is refit on the whole
  split and applied to the test fold. The choice is recorded per fold.
* **Baseline.** Naive Bayes over field-value frequencies with Laplace smoothing, as
  open-source CRMs score leads: every categorical value (missing is a value) and every
  numeric decile bin (fit on the training part) votes with its class-conditional frequency.

Metrics on each test fold: ROC AUC, Brier score, log-loss and expected calibration error
(10 equal-width bins, weighted by bin count).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from lightgbm import LGBMClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from pathcast.forecast.leads import LeadDataError, LeadTable

Calibration = Literal["isotonic", "sigmoid"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
METRICS = ("auc", "brier", "log_loss", "ece")
EPSILON = 1e-15
THREADED_ROWS = 5000
"""Below this many rows LightGBM runs on one thread: a second one costs more than it saves."""


@dataclass(frozen=True)
class MetricSummary:
    folds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.folds))

    @property
    def std(self) -> float:
        return float(np.std(self.folds))

    def as_dict(self) -> dict[str, Any]:
        return {"mean": _round(self.mean), "std": _round(self.std), "folds": [_round(v) for v in self.folds]}


@dataclass(frozen=True)
class ModelResult:
    name: str
    metrics: dict[str, MetricSummary]
    calibration: tuple[Calibration, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.calibration:
            data["calibration"] = {
                "isotonic": self.calibration.count("isotonic"),
                "sigmoid": self.calibration.count("sigmoid"),
            }
        data.update({metric: self.metrics[metric].as_dict() for metric in METRICS})
        return data


@dataclass(frozen=True)
class LeadEvaluation:
    folds: int
    seed: int
    model: ModelResult
    baseline: ModelResult
    top_features: tuple[tuple[str, float], ...] = field(default=())


def evaluate_leads(
    table: LeadTable, *, folds: int = 5, seed: int = 7, n_estimators: int = 300, top: int = 10
) -> LeadEvaluation:
    """Stratified ``folds``-fold cross-validation of the model and the baseline on ``table``."""
    if folds < 2:
        raise LeadDataError(f"--folds must be at least 2, got {folds}")
    smallest = min(table.positives, table.rows - table.positives)
    if smallest < 2 * folds:
        raise LeadDataError(
            f"target column {table.target!r} has only {smallest} row(s) of its rarer class; "
            f"{folds}-fold cross-validation needs at least {2 * folds}"
        )
    x = table.matrix()
    y = table.y
    categorical = table.categorical_indices()
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    model_scores: dict[str, list[float]] = {metric: [] for metric in METRICS}
    base_scores: dict[str, list[float]] = {metric: [] for metric in METRICS}
    choices: list[Calibration] = []
    gain = np.zeros(x.shape[1])
    for fold, (train, test) in enumerate(splitter.split(x, y)):
        probabilities, choice, fold_gain = _fit_model(
            x, y, train, test, categorical, seed=seed + fold, n_estimators=n_estimators
        )
        choices.append(choice)
        gain += fold_gain
        _score(model_scores, y[test], probabilities)
        _score(base_scores, y[test], _naive_bayes(x, y, train, test, categorical))
    names = table.feature_names
    ranked = sorted(zip(names, gain / folds, strict=True), key=lambda item: (-item[1], item[0]))
    return LeadEvaluation(
        folds=folds,
        seed=seed,
        model=ModelResult("lightgbm", _summaries(model_scores), tuple(choices)),
        baseline=ModelResult("naive_bayes", _summaries(base_scores)),
        top_features=tuple((name, _round(value)) for name, value in ranked[:top] if value > 0),
    )


# -- the model -------------------------------------------------------------------------


def _fit_model(
    x: FloatArray,
    y: IntArray,
    train: IntArray,
    test: IntArray,
    categorical: list[int],
    *,
    seed: int,
    n_estimators: int,
) -> tuple[FloatArray, Calibration, FloatArray]:
    fit, valid = train_test_split(train, test_size=0.2, stratify=y[train], random_state=seed)
    model = LGBMClassifier(
        n_estimators=n_estimators,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        n_jobs=2 if len(fit) >= THREADED_ROWS else 1,
        deterministic=True,
        force_row_wise=True,
        random_state=seed,
        verbose=-1,
    )
    model.fit(x[fit], y[fit], categorical_feature=categorical or "auto")
    valid_raw = np.asarray(model.predict(x[valid], raw_score=True), dtype=np.float64)
    test_raw = np.asarray(model.predict(x[test], raw_score=True), dtype=np.float64)
    choice = _choose_calibration(valid_raw, y[valid], seed=seed)
    calibrated = _calibrator(choice, valid_raw, y[valid])(test_raw)
    gain = np.asarray(model.booster_.feature_importance(importance_type="gain"), dtype=np.float64)
    return calibrated, choice, gain


def _calibrator(kind: Calibration, raw: FloatArray, y: IntArray) -> Any:
    if kind == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y)
        return lambda scores: np.asarray(iso.predict(scores), dtype=np.float64)
    platt = LogisticRegression(C=1e6).fit(raw.reshape(-1, 1), y)
    return lambda scores: np.asarray(platt.predict_proba(scores.reshape(-1, 1))[:, 1], dtype=np.float64)


def _choose_calibration(raw: FloatArray, y: IntArray, *, seed: int) -> Calibration:
    """The calibration with the lower cross-fitted Brier score on the validation split."""
    splits = min(3, int(y.sum()), int(len(y) - y.sum()))
    if splits < 2:
        return "sigmoid"
    brier: dict[Calibration, float] = {}
    for kind in ("isotonic", "sigmoid"):
        predicted = np.empty(len(y))
        for fit, held in StratifiedKFold(splits, shuffle=True, random_state=seed).split(raw, y):
            predicted[held] = _calibrator(kind, raw[fit], y[fit])(raw[held])
        brier[kind] = float(brier_score_loss(y, predicted))
    return "isotonic" if brier["isotonic"] < brier["sigmoid"] else "sigmoid"


# -- the baseline ----------------------------------------------------------------------


def _naive_bayes(
    x: FloatArray, y: IntArray, train: IntArray, test: IntArray, categorical: list[int], alpha: float = 1.0
) -> FloatArray:
    """P(converted | field values) with Laplace-smoothed value frequencies per class."""
    positives = int(y[train].sum())
    counts = np.array([len(train) - positives, positives], dtype=np.float64)
    log_odds = np.full(len(test), math.log((counts[1] + alpha) / (counts[0] + alpha)))
    for j in range(x.shape[1]):
        train_values, test_values = _discrete(x[train, j], x[test, j], is_categorical=j in categorical)
        levels = int(max(train_values.max(), test_values.max())) + 1
        table = np.zeros((2, levels))
        np.add.at(table, (y[train], train_values), 1.0)
        likelihood = (table + alpha) / (counts[:, None] + alpha * levels)
        log_odds += np.log(likelihood[1, test_values]) - np.log(likelihood[0, test_values])
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700))), dtype=np.float64)


def _discrete(train: FloatArray, test: FloatArray, *, is_categorical: bool) -> tuple[IntArray, IntArray]:
    """Small non-negative integers: category code or decile bin, and 0 for missing."""
    if is_categorical:
        return _shift(train), _shift(test)
    present = train[~np.isnan(train)]
    edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9))) if present.size else np.array([])
    return _shift(np.digitize(train, edges), train), _shift(np.digitize(test, edges), test)


def _shift(codes: npt.NDArray[Any], original: FloatArray | None = None) -> IntArray:
    source = codes if original is None else original
    missing = np.isnan(source)
    return np.where(missing, 0, np.nan_to_num(codes, nan=0.0) + 1).astype(np.int64)


# -- metrics ---------------------------------------------------------------------------


def expected_calibration_error(y: IntArray, p: FloatArray, bins: int = 10) -> float:
    """Σ over equal-width bins of (bin share) × |mean predicted − observed rate|."""
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            error += in_bin.mean() * abs(float(p[in_bin].mean()) - float(y[in_bin].mean()))
    return error


def _score(scores: dict[str, list[float]], y: IntArray, p: FloatArray) -> None:
    clipped = np.clip(p, EPSILON, 1 - EPSILON)
    scores["auc"].append(float(roc_auc_score(y, p)))
    scores["brier"].append(float(brier_score_loss(y, p)))
    scores["log_loss"].append(float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))))
    scores["ece"].append(expected_calibration_error(y, p))


def _summaries(scores: dict[str, list[float]]) -> dict[str, MetricSummary]:
    return {metric: MetricSummary(tuple(values)) for metric, values in scores.items()}


def _round(value: float) -> float:
    return round(float(value), 6)
