"""Forecast benchmark: win-model train time, scoring throughput, Maven backtest wall time.

**Train time** at 100k and 1M synthetic opportunities: a feature matrix with the served
model's columns (``training.feature_columns()``: deal features, then annotation columns),
realistic value ranges and missing shares, and a learnable signal (the label is drawn
from a logistic function of stage, win histories, activity recency, amount and the
annotation override, with an interaction, so trees have something to find). Timed: one
``training.fit_calibrated(x, y, seed=7, n_estimators=300)`` — the served model's fit,
early stopping and calibration included. Goal: ≤ 60 s at 1M on this machine.

**Scoring throughput**: deals per second through the fitted model's calibrated
``predict`` and its per-feature ``raw_contributions`` (what the deal page's drivers
read), on fresh synthetic rows.

**Backtest wall time on Maven**: import ``../shared/datasets/maven_crm`` into a fresh
SQLite database (not timed here: the import has its own row), then
``run_backtest(period="quarter", seed=7)`` as ``pathcast forecast backtest --dataset maven``
runs it. Skipped, with the reason, when the dataset is absent.

    .venv/bin/python bench/forecast.py                       # all three
    .venv/bin/python bench/forecast.py --rows 100000 --no-backtest
"""

from __future__ import annotations

import os

# OpenMP threads that wait for work sleep instead of spinning. Set before LightGBM (and
# its libgomp) loads; with the default (spinning), a LightGBM fit on 2 threads took 30 s
# of wall time and 15 s of CPU where 1 thread took 2 s, whenever other processes wanted
# the cores too (measured here under load 12). See RESULTS.md.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import math
import platform
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import numpy.typing as npt

from pathcast.forecast.training import CalibratedModel, feature_columns, fit_calibrated

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Row = tuple[str, str, str]
MAVEN = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "maven_crm"
SCORED_ROWS = 10_000


def synthetic(rows: int, *, seed: int = 7) -> tuple[FloatArray, IntArray]:
    """``rows`` opportunities in the served model's columns, and won (1) / lost (0) labels.

    Columns the generator does not know (added later) are noise, so the matrix always
    has the served width.
    """
    rng = np.random.default_rng(seed)
    columns = feature_columns()
    x = rng.normal(size=(rows, len(columns)))
    stage = rng.integers(0, 6, rows).astype(np.float64)
    values: dict[str, FloatArray] = {
        "stage_position": stage,
        "stage_probability": np.minimum(0.1 + 0.15 * stage, 0.9),
        "days_in_stage": rng.exponential(25.0, rows),
        "stage_changes": rng.poisson(1.5, rows).astype(np.float64),
        "days_since_created": rng.exponential(70.0, rows),
        "log_amount": rng.normal(11.0, 1.2, rows),
        "amount_vs_account_won_mean": rng.lognormal(0.0, 0.6, rows),
        "account_closed_deals": rng.poisson(3.0, rows).astype(np.float64),
        "account_win_rate": rng.beta(3, 4, rows),
        "owner_win_rate": rng.beta(4, 5, rows),
        "team_win_rate": rng.beta(8, 10, rows),
        "product_win_rate": rng.beta(6, 8, rows),
        "days_since_last_activity": rng.exponential(12.0, rows),
        "activities_30d": rng.poisson(3.0, rows).astype(np.float64),
        "activities_90d": rng.poisson(8.0, rows).astype(np.float64),
        "days_to_expected_close": rng.normal(30.0, 40.0, rows),
        "signal_views_30d": rng.poisson(4.0, rows).astype(np.float64),
        "signal_qualifying_views_30d": rng.poisson(1.0, rows).astype(np.float64),
        "annotation_count": rng.poisson(0.4, rows).astype(np.float64),
        "override_probability": rng.uniform(0.0, 1.0, rows),
        "annotation_text_score": rng.uniform(-1.0, 1.0, rows),
    }
    values["stage_changes_per_30d"] = (
        values["stage_changes"] / np.maximum(values["days_since_created"], 1) * 30
    )
    for index, name in enumerate(columns):
        if name in values:
            x[:, index] = values[name]
    # missing as in real pipelines: no activity yet, no close date, no annotation
    for name, share in (
        ("days_since_last_activity", 0.3),
        ("days_to_expected_close", 0.2),
        ("amount_vs_account_won_mean", 0.4),
        ("override_probability", 0.85),
        ("annotation_text_score", 0.7),
    ):
        if name in columns:
            x[rng.random(rows) < share, columns.index(name)] = math.nan
    signal = (
        0.5 * stage
        + 2.0 * (values["account_win_rate"] - 0.43)
        + 1.5 * (values["owner_win_rate"] - 0.44)
        - 0.03 * np.nan_to_num(x[:, columns.index("days_since_last_activity")], nan=40.0)
        + 0.2 * values["activities_30d"] * (stage >= 2)
        - 0.3 * (values["log_amount"] - 11.0)
        + 1.5 * np.nan_to_num(x[:, columns.index("override_probability")] - 0.5, nan=0.0)
        - 1.2
    )
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-signal))).astype(np.int64)
    return x, y


def bench_train(rows: int, *, n_estimators: int) -> tuple[float, float, CalibratedModel, float]:
    """Wall and CPU seconds to fit the calibrated win model on ``rows`` synthetic deals,
    the model, and its AUC on fresh rows (a check that it learned the signal)."""
    from sklearn.metrics import roc_auc_score

    x, y = synthetic(rows)
    start, cpu = time.perf_counter(), time.process_time()
    model = fit_calibrated(x, y, seed=7, n_estimators=n_estimators)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    x_new, y_new = synthetic(20_000, seed=8)
    return elapsed, cpu, model, float(roc_auc_score(y_new, model.predict(x_new)))


def bench_scoring(model: CalibratedModel, rows: int = SCORED_ROWS) -> tuple[float, float]:
    """Deals per second through the calibrated probability alone, and through the
    probability plus the per-feature contributions (TreeSHAP, the drivers' source)."""
    x, _ = synthetic(rows, seed=9)
    start = time.perf_counter()
    model.predict(x)
    predicted = time.perf_counter() - start
    model.raw_contributions(x)
    both = time.perf_counter() - start
    return rows / predicted, rows / both


def bench_backtest(database: Callable[[], AbstractContextManager[str]]) -> Row:
    """The quarterly Maven backtest's wall time on a fresh SQLite database."""
    if not MAVEN.is_dir():
        return ("SQLite", "forecast backtest on Maven", f"skipped: {MAVEN} is absent")
    from pathcast.crm.importers import run_import
    from pathcast.db import unit_of_work
    from pathcast.forecast.backtest import maven_deal_ids, run_backtest

    with database() as url:
        run_import(url, format="maven", paths=[MAVEN])
        with unit_of_work(url, write=False) as session:
            deals = maven_deal_ids(session)
            start = time.perf_counter()
            result = run_backtest(session, period="quarter", seed=7, deal_ids=deals)
            elapsed = time.perf_counter() - start
    scored = sum(run.scored for run in result.runs)
    return (
        "SQLite",
        f"forecast backtest on Maven ({len(deals):,} deals, quarterly, {len(result.runs)} cutoffs, seed 7)",
        f"{elapsed:.1f} s (monthly snapshots, features, models, Monte Carlo; {scored:,} predictions scored)",
    )


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(
        f"--{prefix}rows",
        default="100000,1000000",
        help="synthetic opportunities to train on, comma-separated (default 100000,1000000)",
    )
    parser.add_argument(
        f"--{prefix}trees", type=int, default=300, help="at most this many trees (default 300)"
    )
    parser.add_argument(
        f"--{prefix}no-backtest", action="store_true", help="leave out the Maven backtest wall time"
    )


def run_all(
    sizes: str,
    trees: int,
    database: Callable[[], AbstractContextManager[str]] | None,
    skipped: str = "--no-backtest",
) -> list[Row]:
    """The section's rows: train time per size, scoring throughput (last size's model),
    and the Maven backtest, or a row saying it was ``skipped`` when ``database`` is None."""
    rows: list[Row] = []
    model: CalibratedModel | None = None
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wait = os.environ.get("OMP_WAIT_POLICY", "default")
    for count in (int(part.replace("_", "")) for part in sizes.split(",") if part.strip()):
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
        elapsed, cpu, model, auc = bench_train(count, n_estimators=trees)
        verdict = (
            ""
            if count < 1_000_000
            else (" (goal ≤ 60 s: met)" if elapsed <= 60 else " (goal ≤ 60 s: NOT met)")
        )
        rows.append(
            (
                "in memory",
                f"win model fit_calibrated, {count:,} synthetic deals × {model.feature_count} columns, "
                f"≤ {trees} trees, {threads} threads, OMP_WAIT_POLICY {wait}",
                f"{elapsed:.1f} s{verdict}, {cpu:.1f} CPU-s (load average {load:.1f} before); "
                f"{model.booster.num_trees()} trees kept, "
                f"{model.calibration} calibration, AUC on fresh rows {auc:.3f}",
            )
        )
    if model is not None:
        alone, with_drivers = bench_scoring(model)
        rows.append(
            (
                "in memory",
                f"win model scoring ({SCORED_ROWS:,} deals, model of the last size)",
                f"{alone:,.0f} deals/s calibrated probability; {with_drivers:,.0f} deals/s with "
                "per-feature contributions",
            )
        )
    if database is not None:
        rows.append(bench_backtest(database))
    else:
        rows.append(("SQLite", "forecast backtest on Maven", f"skipped ({skipped})"))
    return rows


def main() -> int:
    from run import sqlite_database  # bench/ is on sys.path when run as a script

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    args = parser.parse_args()
    rows = run_all(args.rows, args.trees, None if args.no_backtest else sqlite_database)
    sys.stdout.write(
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n| engine | measure | result |\n"
        "|---|---|---|\n" + "".join(f"| {e} | {m} | {r} |\n" for e, m, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
