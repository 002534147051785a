"""Backtest the win model and the classic baselines by rolling a cutoff through history.

Honest by construction (first version; every choice is also in docs/forecast.md):

* **Snapshots.** A training snapshot is taken at the start of every month of the data
  (:func:`pathcast.forecast.snapshot.pipeline_as_of`, occurred clock), with its features
  as of that moment (:func:`pathcast.forecast.features.deal_features`).
* **Cutoffs.** The start of each period (quarter or month) whose period ends by the data's
  last date and that has at least ``min_train`` training rows.
* **Training at cutoff T** = the rows (snapshot s < T, deal open at s) of deals that
  CLOSED before T, labelled won/lost. Features of a deal closed before T are never taken
  at T (its stage would then say won/lost). Deals open at s that close after T are left
  out (censored), which slightly favours fast closers.
* **Predicted at T**: the deals open at T; outcome = their final status. Deals still open
  at the end of the data are left out of the deal-level metrics.
* **Period revenue** = amount of the open deals that are won *and* close within [T, T+L).
  The model forecasts it with a direct "won within the period" model: LightGBM trained on
  the deals open at earlier snapshots s aligned with the period (s ≡ T modulo L, so the
  same place in the quarter) whose whole window [s, s+L) ended by T, labelled won within
  that window (a deal still open at s+L is a 0: stale deals weigh in), recent windows
  weighted more (half-life 91 days). Its columns leave out the win histories, whose
  values drift as history accumulates. The baselines keep their first-version rule: win
  probability × an empirical "closes within L | won" rate by stage and age band. Every
  forecast is a seeded Monte Carlo over independent Bernoulli deals. The stage-weighted
  baseline uses the CRM's classic number, Σ stage probability × amount over the deals
  expected to close in the period (all open deals when a deal has no expected close
  date), as its point forecast and its own Monte Carlo for the interval.
* **Model intervals** are the Monte Carlo's P10–P90 widened to ± the split-conformal 80 %
  quantile of the model's own errors on earlier cutoffs whose period ended by T (the
  largest while fewer than 4), each error a share of the open pipeline's amount then,
  applied to today's;
  before any such cutoff, the errors of the period model on its own training windows
  (optimistic, and said so per cutoff).
* **Annotations.** When the deals carry reps' annotations, the model reads the annotation
  columns too, and the same cutoffs are run again without them: ``annotation_lift``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from lightgbm import LGBMClassifier
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.events import Event
from pathcast.forecast.evaluate import METRICS, THREADED_ROWS, _fit_model, _naive_bayes, _score
from pathcast.forecast.features import COLUMNS, FeatureMatrix
from pathcast.forecast.snapshot import DealSnapshot, pipeline_as_of

Period = Literal["quarter", "month"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
FORECASTERS = ("model", "stage_weighted", "stage_history", "naive_bayes")
REP_CATEGORY = "rep_category"
# A rep's call other than the default: when no deal carries one, the data has no rep forecast.
REP_CALLS = frozenset({"best_case", "commit", "omitted"})
PERIOD_MONTHS: dict[str, int] = {"quarter": 3, "month": 1}
DEFAULT_MIN_TRAIN = 200
DRAWS = 2000
WON = m.StageClass.won.value
RECENCY_HALF_LIFE_DAYS = 91.0
"""A period window's weight in the period model halves for every quarter between its end
and the cutoff: how deals close drifts (Maven's first quarter closed far more of its young
deals than later ones)."""
WIN_HISTORY_COLUMNS = frozenset(
    {
        "amount_vs_account_won_mean",
        "account_closed_deals",
        "account_win_rate",
        "owner_win_rate",
        "team_win_rate",
        "product_win_rate",
    }
)
"""Left out of the period model: a window early in the data sees almost no closed deals, so
these sit at their prior there and mean something else later."""
LIFT_METRICS = ("auc", "brier", "log_loss", "ece", "wape")


class BacktestError(ValueError):
    """The data cannot be backtested (the message says why)."""


@dataclass(frozen=True)
class TrainingRow:
    snapshot_at: datetime
    opportunity_id: int
    closed_at: datetime
    won: bool


@dataclass
class CutoffRun:
    """What one cutoff trained on and predicted (kept for inspection and tests)."""

    cutoff: datetime
    training: list[TrainingRow]
    open_deals: int
    scored: int  # open deals whose outcome is known by the end of the data
    calibration: str
    actual: float
    intervals: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """forecaster -> (p10, point forecast, p90)"""
    period_windows: int = 0
    """aligned windows the period model learned from (0: win probability × timing factor)"""
    pipeline: float = 0.0
    """amount of the deals open at the cutoff (as known then): the scale of interval errors"""
    interval_from: str = "monte carlo"
    """what widened the model's interval: "past cutoffs (n)", "training windows (n)" or none"""


@dataclass
class Backtest:
    period: str
    seed: int
    min_train: int
    data_start: datetime
    data_end: datetime
    runs: list[CutoffRun]
    deal_level: dict[str, dict[str, float]]  # metric -> value, plus "n"
    notes: list[str]
    annotation_lift: dict[str, Any] | None = None
    """{"with", "without": {auc, brier, log_loss, ece, wape, n}, "delta", "annotated_deals",
    "annotated_predictions"}"""
    forecasters: tuple[str, ...] = FORECASTERS
    """the model and the baselines the data allows (``rep_category`` when deals carry one)"""

    def document(self, dataset: str) -> dict[str, Any]:
        """The ``--json`` document (a public interface: keep its shape)."""
        period_level: dict[str, Any] = {}
        for name in self.forecasters:
            periods = [
                {
                    "cutoff": run.cutoff.date().isoformat(),
                    "p10": _r(run.intervals[name][0]),
                    "p50": _r(run.intervals[name][1]),
                    "p90": _r(run.intervals[name][2]),
                    "actual": _r(run.actual),
                }
                for run in self.runs
            ]
            period_level[name] = {
                "wape": _r(self.wape(name)),
                "coverage_p10_p90": _r(self.coverage(name)),
                "periods": periods,
            }
        model_auc = self.deal_level["model"]["auc"]
        return {
            "dataset": dataset,
            "period": self.period,
            "data": {"start": self.data_start.isoformat(), "end": self.data_end.isoformat()},
            "min_train": self.min_train,
            "cutoffs": [
                {
                    "cutoff": run.cutoff.date().isoformat(),
                    "training_rows": len(run.training),
                    "open_deals": run.open_deals,
                    "scored_deals": run.scored,
                    "calibration": run.calibration,
                    "period_windows": run.period_windows,
                    "interval_from": run.interval_from,
                }
                for run in self.runs
            ],
            "deal_level": {
                name: {k: int(v) if k == "n" else _r(v) for k, v in self.deal_level[name].items()}
                for name in self.forecasters
            },
            "period_level": period_level,
            "goals": {
                "wape_at_most_half_stage_weighted": self.wape("model") <= 0.5 * self.wape("stage_weighted"),
                "auc_above_every_baseline": all(
                    model_auc > self.deal_level[name]["auc"] for name in self.forecasters[1:]
                ),
            },
            "annotation_lift": self.annotation_lift,
            "notes": [*self.notes, *self.goal_notes()],
            "seed": self.seed,
        }

    def goal_notes(self) -> list[str]:
        """The goals with the figures behind them, so a reader sees by how much."""
        wape, limit = self.wape("model"), 0.5 * self.wape("stage_weighted")
        best = max(self.forecasters[1:], key=lambda name: _nan_low(self.deal_level[name]["auc"]))
        auc, rival = self.deal_level["model"]["auc"], self.deal_level[best]["auc"]
        return [
            f"goal period WAPE ≤ half the stage-weighted baseline's: model {wape:.3f} against "
            f"{limit:.3f}: {'met' if wape <= limit else 'not met'}",
            f"goal AUC above every baseline: model {auc:.4f} against {best} {rival:.4f}: "
            f"{'met' if auc > rival else 'not met'}",
        ]

    def wape(self, name: str) -> float:
        actual = sum(run.actual for run in self.runs)
        error = sum(abs(run.intervals[name][1] - run.actual) for run in self.runs)
        return error / actual if actual > 0 else math.nan

    def coverage(self, name: str) -> float:
        inside = [run.intervals[name][0] <= run.actual <= run.intervals[name][2] for run in self.runs]
        return sum(inside) / len(inside) if inside else math.nan


# --- time -----------------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def _month_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def _data_span(session: Session, deal_ids: set[int] | None) -> tuple[datetime, datetime]:
    # The forecast's own events (scores, annotations) sit on deals too, dated when written:
    # they are not deal history and must not stretch the data's end to today.
    query = select(func.min(Event.occurred_at), func.max(Event.occurred_at)).where(
        Event.entity == "opportunity", ~Event.type.like("forecast.%")
    )
    if deal_ids is not None:
        query = query.where(Event.entity_id.in_(sorted(deal_ids)))
    start, end = session.execute(query).one()
    if start is None or end is None:
        raise BacktestError("the database holds no deal history")
    return _aware(start), _aware(end)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- the run --------------------------------------------------------------------------


@dataclass
class _Snapshot:
    at: datetime
    open_deals: list[DealSnapshot]
    features: FeatureMatrix
    """deal features, then annotation columns (``training.model_matrix``)"""


@dataclass
class _Fitted:
    """One variant's (with or without annotations) forecasts for the deals open at a cutoff."""

    deal: FloatArray  # win probability
    calibration: str
    period: FloatArray  # probability of being won within the period
    windows: int  # aligned windows the period model learned from (0: timing factor instead)
    window_errors: list[float]  # its errors on those windows, as shares of their pipeline


def run_backtest(
    session: Session,
    *,
    period: Period = "quarter",
    seed: int = 7,
    min_train: int = DEFAULT_MIN_TRAIN,
    deal_ids: set[int] | None = None,
    n_estimators: int = 300,
    draws: int = DRAWS,
    annotations: bool = True,
) -> Backtest:
    """Roll the cutoff through the history of ``deal_ids`` (every deal when None).

    With ``annotations`` (the default) and annotated deals in the data, the model reads
    the annotation columns and the run is repeated without them (``annotation_lift``).
    """
    # imported here: training imports this module (add_months)
    from pathcast.forecast.training import model_matrix

    if period not in PERIOD_MONTHS:
        raise BacktestError(f"unknown period {period!r} (quarter or month)")
    months = PERIOD_MONTHS[period]
    start, end = _data_span(session, deal_ids)

    def keep(deal: DealSnapshot) -> bool:
        return deal_ids is None or deal.opportunity_id in deal_ids

    last_day_end = datetime.combine(end.date() + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    final = {deal.opportunity_id: deal for deal in pipeline_as_of(session, end) if keep(deal)}
    snapshots: list[_Snapshot] = []
    moment = add_months(_month_start(start), 1)
    while moment <= end:
        history = [deal for deal in pipeline_as_of(session, moment) if keep(deal)]
        opened = [deal for deal in history if deal.is_open]
        snapshots.append(_Snapshot(moment, opened, model_matrix(session, opened, moment, history=history)))
        moment = add_months(moment, 1)
    annotated = _annotated_deals(snapshots)
    # None keeps every column; len(COLUMNS) keeps the deal features only
    variants: dict[str, int | None] = {"with": None, "without": len(COLUMNS)}
    if not (annotations and annotated):
        variants = {"without": len(COLUMNS)}
    main = next(iter(variants))

    # Baseline 4, the rep's own forecast category, where the data has one.
    with_category = any(d.forecast_category in REP_CALLS for snap in snapshots for d in snap.open_deals)
    forecasters = (*FORECASTERS, REP_CATEGORY) if with_category else FORECASTERS

    runs: list[CutoffRun] = []
    pooled_y: list[int] = []
    pooled_p: dict[str, list[float]] = {name: [] for name in (*forecasters, *variants)}
    points: dict[str, list[float]] = {name: [] for name in variants}
    noted = 0  # scored predictions whose deal had an annotation known at the cutoff
    for index, snap in enumerate(snapshots):
        cutoff = snap.at
        if (cutoff.month - 1) % months or add_months(cutoff, months) > last_day_end:
            continue
        earlier = [s for s in snapshots if s.at < cutoff]
        rows, train_deals, x_train = _training(earlier, final, cutoff)
        y_train = np.array([int(row.won) for row in rows], dtype=np.int64)
        if len(rows) < min_train or y_train.sum() < 10 or len(rows) - y_train.sum() < 10:
            continue
        outcome = [final.get(deal.opportunity_id) for deal in snap.open_deals]
        known = np.array([o is not None and not o.is_open for o in outcome], dtype=bool)
        y_open = np.array([int(o is not None and o.stage_status == WON) for o in outcome], dtype=np.int64)
        period_end = add_months(cutoff, months)
        amounts = _amounts(snap.open_deals, rows, final)
        fitted = {
            name: _fit(
                earlier, snap, final, x_train, y_train, months, limit, seed=seed + index, n=n_estimators
            )
            for name, limit in variants.items()
        }
        forecasts: dict[str, FloatArray] = {
            "model": fitted[main].deal,
            "stage_weighted": np.array([d.stage_probability / 100.0 for d in snap.open_deals]),
            "stage_history": _stage_history(train_deals, y_train, snap.open_deals),
            "naive_bayes": _nb(train_deals, y_train, snap.open_deals),
        }
        if with_category:
            forecasts[REP_CATEGORY] = _category_history(train_deals, y_train, snap.open_deals)
        for name, p in [*forecasts.items(), *((name, f.deal) for name, f in fitted.items())]:
            pooled_p[name].extend(float(v) for v in p[known])
        pooled_y.extend(int(v) for v in y_open[known])
        if "with" in variants:
            noted += int((snap.features.column("annotation_count")[known] > 0).sum())

        within = _within_rates(earlier, final, cutoff, months)
        timing = np.array([within(deal) for deal in snap.open_deals])
        actual = sum(
            float(o.amount or 0.0)
            for o in outcome
            if o is not None
            and o.stage_status == WON
            and o.closed_at is not None
            and cutoff <= o.closed_at < period_end
        )
        run = CutoffRun(
            cutoff, rows, len(snap.open_deals), int(known.sum()), fitted[main].calibration, actual
        )
        rng = np.random.default_rng([seed, index])
        for name, p in forecasts.items():
            if name == "stage_weighted":
                expected = np.array([_expected_in_period(d, cutoff, period_end) for d in snap.open_deals])
                q = p * expected
                low, _, high = _simulate(q, amounts, rng, draws)
                run.intervals[name] = (low, float(q @ amounts), high)
            elif name == "model":
                run.intervals[name] = _simulate(_period_q(fitted[main], timing), amounts, rng, draws)
            else:
                run.intervals[name] = _simulate(p * timing, amounts, rng, draws)
        for number, (name, fit) in enumerate(fitted.items()):
            # the variant's P50, as the period level scores it (own stream for the second)
            other = np.random.default_rng([seed, index, number])
            points[name].append(
                run.intervals["model"][1]
                if name == main
                else _simulate(_period_q(fit, timing), amounts, other, draws)[1]
            )
        run.period_windows, run.pipeline = fitted[main].windows, float(amounts.sum())
        past = [
            (r.actual - r.intervals["model"][1]) / r.pipeline
            for r in runs
            if add_months(r.cutoff, months) <= cutoff and r.pipeline > 0
        ]
        errors, run.interval_from = (
            (past, f"past cutoffs ({len(past)})")
            if past
            else (fitted[main].window_errors, f"training windows ({len(fitted[main].window_errors)})")
        )
        if errors:
            run.intervals["model"] = _widen(run.intervals["model"], errors, run.pipeline)
        else:
            run.interval_from = "monte carlo"
        runs.append(run)
    if not runs:
        raise BacktestError(
            f"no {period} has at least {min_train} training rows of deals closed before it and ends "
            f"by the data's last date ({end.date()}); try --period month"
        )
    y = np.array(pooled_y, dtype=np.int64)
    deal_level = {name: _metrics(y, np.array(pooled_p[name], dtype=np.float64)) for name in forecasters}
    notes = (
        []
        if with_category
        else [
            "rep_category baseline skipped: no deal carries a forecast category other than the "
            "default (pipeline), so the data has no rep forecast to compare with"
        ]
    )
    fallback = [run.cutoff.date().isoformat() for run in runs if not run.period_windows]
    if fallback:
        notes.append(
            "period model: no complete window aligned with the period before "
            f"{', '.join(fallback)}; the model's period forecast there is win probability × timing factor"
        )
    lift: dict[str, Any] | None = None
    if "with" in variants:
        actuals = [run.actual for run in runs]
        lift = _lift(y, pooled_p, points, actuals, annotated) | {"annotated_predictions": noted}
    elif not annotations:
        notes.append("annotations left out on request: the model reads the deal features only")
    else:
        notes.append("no annotations in the data: the model reads the deal features only; no annotation lift")
    return Backtest(period, seed, min_train, start, end, runs, deal_level, notes, lift, forecasters)


def _annotated_deals(snapshots: Sequence[_Snapshot]) -> int:
    """Deals with at least one annotation known at some snapshot."""
    found: set[int] = set()
    for snap in snapshots:
        if "annotation_count" not in snap.features.columns:
            return 0
        counts = snap.features.column("annotation_count")
        found.update(i for i, c in zip(snap.features.opportunity_ids, counts, strict=True) if c > 0)
    return len(found)


def _fit(
    earlier: Sequence[_Snapshot],
    snap: _Snapshot,
    final: dict[int, DealSnapshot],
    x_train: FloatArray,
    y_train: IntArray,
    months: int,
    limit: int | None,
    *,
    seed: int,
    n: int,
) -> _Fitted:
    """The win model and the period model at ``snap``'s cutoff on the first ``limit`` columns."""
    deal, calibration = _model(x_train[:, :limit], y_train, snap.features.values[:, :limit], seed=seed, n=n)
    period, windows, errors = _period_model(earlier, snap, final, months, limit, seed=seed, n=n)
    return _Fitted(deal, calibration, period, windows, errors)


def _period_q(fit: _Fitted, timing: FloatArray) -> FloatArray:
    """P(won within the period): the direct model's, else win probability × timing factor."""
    return fit.period if fit.windows else fit.deal * timing


def _widen(
    interval: tuple[float, float, float], errors: Sequence[float], pipeline: float
) -> tuple[float, float, float]:
    """P10–P90 at least ± the split-conformal 80 % quantile of the past absolute errors
    (shares of the then open pipeline) times today's ``pipeline``: the ⌈0.8 (n + 1)⌉-th
    smallest of n errors, the largest while n < 4. Shares of the pipeline, not of the
    forecast: a tiny forecast would turn an ordinary miss into a thousandfold one."""
    low, point, high = interval
    ranked = sorted(abs(error) for error in errors)
    half = ranked[min(math.ceil(0.8 * (len(ranked) + 1)), len(ranked)) - 1] * pipeline
    return min(low, max(0.0, point - half)), point, max(high, point + half)


def _lift(
    y: IntArray,
    pooled: dict[str, list[float]],
    points: dict[str, list[float]],
    actuals: Sequence[float],
    annotated: int,
) -> dict[str, Any]:
    total = sum(actuals)
    side: dict[str, dict[str, float]] = {}
    for name in ("with", "without"):
        metrics = _metrics(y, np.array(pooled[name], dtype=np.float64))
        error = sum(abs(p - a) for p, a in zip(points[name], actuals, strict=True))
        metrics["wape"] = error / total if total > 0 else math.nan
        side[name] = metrics
    return {
        "with": {k: int(v) if k == "n" else _r(v) for k, v in side["with"].items()},
        "without": {k: int(v) if k == "n" else _r(v) for k, v in side["without"].items()},
        "delta": {k: _r(side["with"][k] - side["without"][k]) for k in LIFT_METRICS},
        "annotated_deals": annotated,
    }


def _training(
    earlier: Sequence[_Snapshot], final: dict[int, DealSnapshot], cutoff: datetime
) -> tuple[list[TrainingRow], list[DealSnapshot], FloatArray]:
    rows: list[TrainingRow] = []
    deals: list[DealSnapshot] = []
    blocks: list[FloatArray] = []
    for snap in earlier:
        picked: list[int] = []
        for position, deal in enumerate(snap.open_deals):
            outcome = final.get(deal.opportunity_id)
            if outcome is None or outcome.closed_at is None or outcome.closed_at >= cutoff:
                continue
            picked.append(position)
            deals.append(deal)
            rows.append(
                TrainingRow(snap.at, deal.opportunity_id, outcome.closed_at, outcome.stage_status == WON)
            )
        blocks.append(snap.features.values[picked])
    width = earlier[0].features.values.shape[1] if earlier else 0
    return rows, deals, np.vstack(blocks) if blocks else np.empty((0, width))


def _model(x: FloatArray, y: IntArray, x_open: FloatArray, *, seed: int, n: int) -> tuple[FloatArray, str]:
    if len(x_open) == 0:
        return np.empty(0), "-"
    both = np.vstack([x, x_open])
    train = np.arange(len(x), dtype=np.int64)
    test = np.arange(len(x), len(both), dtype=np.int64)
    probabilities, choice, _ = _fit_model(
        both, np.concatenate([y, np.zeros(len(x_open), np.int64)]), train, test, [], seed=seed, n_estimators=n
    )
    return probabilities, choice


def _period_model(
    earlier: Sequence[_Snapshot],
    snap: _Snapshot,
    final: dict[int, DealSnapshot],
    months: int,
    limit: int | None,
    *,
    seed: int,
    n: int,
) -> tuple[FloatArray, int, list[float]]:
    """P(won within [T, T+L)) for the deals open at T = ``snap.at``, learned from the deals
    open at earlier snapshots s aligned with the period whose window [s, s+L) ended by T.

    Returns the probabilities, the number of windows, and the model's in-sample error on
    each window's revenue, (actual − forecast) / the window's open pipeline amount.
    """
    cutoff = snap.at
    windows = [
        s
        for s in earlier
        if add_months(s.at, months) <= cutoff and _month_index(cutoff) % months == _month_index(s.at) % months
    ]
    blocks: list[FloatArray] = []
    labels: list[int] = []
    weights: list[float] = []
    won_amounts: list[float] = []
    for window in windows:
        window_end = add_months(window.at, months)
        outcome = [final.get(deal.opportunity_id) for deal in window.open_deals]
        won = [
            o is not None and o.stage_status == WON and o.closed_at is not None and o.closed_at < window_end
            for o in outcome
        ]
        blocks.append(_period_matrix(window, limit))
        labels.extend(int(w) for w in won)
        weights.extend([0.5 ** ((cutoff - window_end).days / RECENCY_HALF_LIFE_DAYS)] * len(won))
        won_amounts.append(sum(float(o.amount or 0.0) for o, w in zip(outcome, won, strict=True) if o and w))
    if not windows or not labels:
        return np.empty(0), 0, []
    x, y, w = np.vstack(blocks), np.array(labels, dtype=np.int64), np.array(weights)
    predict = _constant(x, y, w) if y.min() == y.max() else _classifier(x, y, w, seed=seed, n=n)
    errors: list[float] = []
    for window, block, actual in zip(windows, blocks, won_amounts, strict=True):
        # amounts as known at the window's start (unknown ones count 0 here)
        amounts = np.array([d.amount or 0.0 for d in window.open_deals], dtype=np.float64)
        if amounts.sum() > 0:
            errors.append((actual - float(predict(block) @ amounts)) / float(amounts.sum()))
    return predict(_period_matrix(snap, limit)), len(windows), errors


def _constant(x: FloatArray, y: IntArray, w: FloatArray) -> Callable[[FloatArray], FloatArray]:
    """One outcome only in the windows: its smoothed, weighted rate for every deal."""
    rate = (float(w @ y) + 0.5) / (float(w.sum()) + 1.0)

    def predict(rows: FloatArray) -> FloatArray:
        return np.full(len(rows), rate)

    return predict


def _classifier(
    x: FloatArray, y: IntArray, w: FloatArray, *, seed: int, n: int
) -> Callable[[FloatArray], FloatArray]:
    """LightGBM weighted by window recency; shallower than the win model (fewer, noisier
    labels per window) and uncalibrated: only sums of its probabilities are used."""
    model = LGBMClassifier(
        n_estimators=n,
        learning_rate=0.03,
        num_leaves=15,
        min_child_samples=50,
        colsample_bytree=0.8,
        reg_lambda=1.0,
        n_jobs=2 if len(x) >= THREADED_ROWS else 1,
        deterministic=True,
        force_row_wise=True,
        random_state=seed,
        verbose=-1,
    )
    model.fit(x, y, sample_weight=w)

    def predict(rows: FloatArray) -> FloatArray:
        if len(rows) == 0:
            return np.empty(0)
        return np.asarray(np.asarray(model.predict_proba(rows))[:, 1], dtype=np.float64)

    return predict


def _period_matrix(snap: _Snapshot, limit: int | None) -> FloatArray:
    """The period model's columns: deal features but the win histories, annotation
    columns (when kept), whether the deal has an account at all, and the window's month
    in its quarter (deals bunch their closes towards a quarter's end)."""
    names = snap.features.columns[:limit]
    picked = [i for i, name in enumerate(names) if name not in WIN_HISTORY_COLUMNS]
    has_account = [float(d.account_id is not None) for d in snap.open_deals]
    calendar = np.column_stack([has_account, np.full(len(has_account), float((snap.at.month - 1) % 3))])
    return np.hstack([snap.features.values[:, picked], calendar.reshape(len(has_account), 2)])


def _month_index(moment: datetime) -> int:
    return moment.year * 12 + moment.month - 1


def _stage_history(train: Sequence[DealSnapshot], y: IntArray, deals: Sequence[DealSnapshot]) -> FloatArray:
    """Share won among training deals in the same stage at their snapshot (Laplace-smoothed)."""
    won: dict[int, int] = defaultdict(int)
    seen: dict[int, int] = defaultdict(int)
    for deal, label in zip(train, y, strict=True):
        seen[deal.stage_id] += 1
        won[deal.stage_id] += int(label)
    return np.array([(won[d.stage_id] + 1) / (seen[d.stage_id] + 2) for d in deals], dtype=np.float64)


def _category_history(
    train: Sequence[DealSnapshot], y: IntArray, deals: Sequence[DealSnapshot]
) -> FloatArray:
    """Share won among training deals with the same forecast category at their snapshot
    (Laplace-smoothed): the rep's own call, read the way a manager reads it."""
    won: dict[str | None, int] = defaultdict(int)
    seen: dict[str | None, int] = defaultdict(int)
    for deal, label in zip(train, y, strict=True):
        seen[deal.forecast_category] += 1
        won[deal.forecast_category] += int(label)
    return np.array(
        [(won[d.forecast_category] + 1) / (seen[d.forecast_category] + 2) for d in deals], dtype=np.float64
    )


def _fields(deals: Sequence[DealSnapshot], products: dict[str, int]) -> FloatArray:
    def code(value: int | None) -> float:
        return math.nan if value is None else float(value)

    return np.array(
        [
            [
                float(d.stage_id),
                float(products.setdefault(d.product_codes[0], len(products)))
                if d.product_codes
                else math.nan,
                code(d.owner_id),
                code(d.account_id),
                math.nan if d.amount is None else d.amount,
            ]
            for d in deals
        ],
        dtype=np.float64,
    ).reshape(len(deals), 5)


def _nb(train: Sequence[DealSnapshot], y: IntArray, deals: Sequence[DealSnapshot]) -> FloatArray:
    """Naive Bayes over stage, product, owner, account and amount decile (as evaluate's)."""
    if not deals:
        return np.empty(0)
    products: dict[str, int] = {}
    x = np.vstack([_fields(train, products), _fields(deals, products)])
    labels = np.concatenate([y, np.zeros(len(deals), np.int64)])
    train_index = np.arange(len(train), dtype=np.int64)
    test_index = np.arange(len(train), len(x), dtype=np.int64)
    return _naive_bayes(x, labels, train_index, test_index, [0, 1, 2, 3])


def _within_rates(
    earlier: Sequence[_Snapshot], final: dict[int, DealSnapshot], cutoff: datetime, months: int
) -> Callable[[DealSnapshot], float]:
    """P(closes within the period | won), by stage and age band at the snapshot, as the ratio of two
    shares measured at snapshots s whose whole window [s, s+L) ended by the cutoff:
    (open at s, won within the window) / (open at s) over (won) / (closed by the cutoff).

    Counting every deal open at s, including those still open at the cutoff, is what keeps
    stale deals that never close from inflating the forecast. Smoothed (10 pseudo-deals)
    towards the all-stage ratio; at most 1.
    """
    inside: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    won: dict[str, int] = defaultdict(int)
    closed: dict[str, int] = defaultdict(int)
    for snap in earlier:
        window_end = add_months(snap.at, months)
        if window_end > cutoff:
            continue
        for deal in snap.open_deals:
            outcome = final.get(deal.opportunity_id)
            key = timing_key(deal)
            total[key] += 1
            if outcome is None or outcome.closed_at is None or outcome.closed_at >= cutoff:
                continue
            closed[key] += 1
            won[key] += int(outcome.stage_status == WON)
            inside[key] += int(outcome.stage_status == WON and outcome.closed_at < window_end)

    def ratio(key: str | None, prior: float, weight: float) -> float:
        share_inside = (_sum(inside, key) + weight * prior * 0.5) / (_sum(total, key) + weight)
        share_won = (_sum(won, key) + weight * 0.5) / (_sum(closed, key) + weight)
        return min(1.0, share_inside / share_won)

    overall = ratio(None, 1.0, 2.0)
    return lambda deal: ratio(timing_key(deal), overall, 10.0)


AGE_BUCKETS = (30, 60, 90, 180)


def timing_key(deal: DealSnapshot) -> str:
    """Stage and age band (days since created: <30, <60, <90, <180, older) at the snapshot:
    a deal open for months is far less likely to close this period than a fresh one."""
    age = (deal.as_of - deal.created_at).days
    band = sum(age >= limit for limit in AGE_BUCKETS)
    return f"{deal.stage_key}|{band}"


def _sum(counts: dict[str, int], key: str | None) -> int:
    return sum(counts.values()) if key is None else counts.get(key, 0)


def _amounts(
    deals: Sequence[DealSnapshot], rows: Sequence[TrainingRow], final: dict[int, DealSnapshot]
) -> FloatArray:
    """The deal's amount as known at the cutoff; unknown amounts take the mean won amount
    of training deals (else 0)."""
    won = [final[row.opportunity_id].amount for row in rows if row.won]
    known = [a for a in won if a is not None]
    fallback = sum(known) / len(known) if known else 0.0
    return np.array([fallback if d.amount is None else d.amount for d in deals], dtype=np.float64)


def _expected_in_period(deal: DealSnapshot, start: datetime, end: datetime) -> float:
    if deal.expected_close_date is None:
        return 1.0
    return float(start.date() <= deal.expected_close_date < end.date())


def _simulate(
    q: FloatArray, amounts: FloatArray, rng: np.random.Generator, draws: int
) -> tuple[float, float, float]:
    if len(q) == 0:
        return 0.0, 0.0, 0.0
    wins = rng.random((draws, len(q))) < np.clip(q, 0.0, 1.0)
    revenue = wins.astype(np.float64) @ amounts
    low, mid, high = np.quantile(revenue, [0.1, 0.5, 0.9])
    return float(low), float(mid), float(high)


def _metrics(y: IntArray, p: FloatArray) -> dict[str, float]:
    if len(y) == 0 or y.min() == y.max():
        return {metric: math.nan for metric in METRICS} | {"n": float(len(y))}
    scores: dict[str, list[float]] = {metric: [] for metric in METRICS}
    _score(scores, y, p)
    return {metric: values[0] for metric, values in scores.items()} | {"n": float(len(y))}


def _nan_low(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _r(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


# --- datasets -------------------------------------------------------------------------


def maven_deal_ids(session: Session) -> set[int]:
    """The deals imported from the Maven dataset."""
    query = select(m.Opportunity.id).where(m.Opportunity.external_source == "maven")
    return {int(deal_id) for deal_id in session.scalars(query)}
