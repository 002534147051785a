"""The backtest harness: JSON shape, reproducibility, and training only on the past.

A small synthetic history (80 deals over 2023, built through the crm services) is enough
to check correctness; the Maven numbers live in docs/forecast.md.
"""

from __future__ import annotations

import json
import math
import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.cli import app
from pathcast.crm import service as crm
from pathcast.forecast.backtest import FORECASTERS, Backtest, _widen, add_months, run_backtest
from pathcast.forecast.service.annotations import annotate
from tests import factories as f
from tests.factories import SYSTEM
from tests.forecast.test_snapshot import at, deal, move, product, stage_keys

runner = CliRunner()
SMALL = {"period": "month", "min_train": 20, "n_estimators": 20, "draws": 200}


def build_history(
    session: Session, deals: int = 80, *, notes: bool = False, categories: bool = False
) -> None:
    """Deals opened every few days of 2023; big-account deals mostly win; a few stay open.

    With ``notes``, the owner annotates every deal that will close, five days after it
    opened, with a cue that agrees with its outcome: annotations with a perfect signal.
    With ``categories``, the owner calls each deal commit or omitted a week after it opened,
    right two times in three."""
    rng = random.Random(3)
    keys = stage_keys(session)
    team = f.team(session)
    reps = [f.user(session, f"rep{i}@example.com", team_obj=team, password=None) for i in range(2)]
    accounts = [f.account(session, name=f"Account {i}") for i in range(3)]
    products = [product(session, code) for code in ("CT-64", "MR-15")]
    start = date(2023, 1, 2)
    for i in range(deals):
        opened = start + timedelta(days=4 * i)
        account = accounts[i % 3]
        record = deal(
            session,
            opened=opened.isoformat(),
            account=account,
            owner_id=reps[i % 2].id,
            product_obj=products[i % 2],
            amount=50000 + 10000 * (i % 5),
        )
        if i % 4 == 0:
            move(session, record, keys["second"], (opened + timedelta(days=10)).isoformat())
        if i % 11 == 5:
            continue  # still open at the end
        closes = opened + timedelta(days=rng.randint(20, 80))
        wins = rng.random() < (0.8 if i % 3 == 0 else 0.3)
        if categories:
            call = "commit" if wins == (i % 3 != 1) else "omitted"
            crm.update_opportunity(
                session,
                actor=SYSTEM,
                opportunity=record,
                changes={"forecast_category": call},
                occurred_at=at((opened + timedelta(days=7)).isoformat()),
            )
        if notes:
            annotate(
                session,
                actor=f.actor(reps[i % 2]),
                opportunity_id=record.id,
                note="设备科反馈预算批复已下达" if wins else "客户预算冻结，采购推迟到明年",
                at=at((opened + timedelta(days=5)).isoformat()),
            )
        move(session, record, keys["won" if wins else "lost"], closes.isoformat())
    session.commit()


def numbers(result: Backtest) -> dict[str, Any]:
    return result.document("current")


def test_backtest_trains_on_the_past_and_is_reproducible(session: Session) -> None:
    build_history(session)
    result = run_backtest(session, seed=11, **SMALL)  # type: ignore[arg-type]
    assert result.runs, "some cutoff has enough history"
    for run in result.runs:
        assert run.training, run.cutoff
        assert all(row.closed_at < run.cutoff for row in run.training)
        assert all(row.snapshot_at < run.cutoff for row in run.training)
    document = numbers(result)
    for name in FORECASTERS:
        metrics = document["deal_level"][name]
        assert metrics["n"] > 0
        assert all(math.isfinite(metrics[key]) for key in ("auc", "brier", "log_loss", "ece"))
        level = document["period_level"][name]
        assert math.isfinite(level["wape"]) and 0.0 <= level["coverage_p10_p90"] <= 1.0
        for period in level["periods"]:
            assert period["p10"] <= period["p50"] <= period["p90"] or name == "stage_weighted"
    assert numbers(run_backtest(session, seed=11, **SMALL)) == document  # type: ignore[arg-type]


def test_backtest_command_prints_one_json_document(session: Session, configured: str) -> None:
    build_history(session)
    result = runner.invoke(
        app,
        ["forecast", "backtest", "--dataset", "current", "--period", "month", "--min-train", "20", "--json"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) >= {"dataset", "period", "cutoffs", "deal_level", "period_level", "goals", "seed"}
    assert document["dataset"] == "current" and document["period"] == "month" and document["seed"] == 7
    assert set(document["deal_level"]) == set(FORECASTERS) == set(document["period_level"])
    assert set(document["deal_level"]["model"]) == {"auc", "brier", "log_loss", "ece", "n"}
    assert set(document["period_level"]["model"]["periods"][0]) == {"cutoff", "p10", "p50", "p90", "actual"}
    assert set(document["goals"]) == {"wape_at_most_half_stage_weighted", "auc_above_every_baseline"}
    assert document["annotation_lift"] is None
    assert any(note.startswith("no annotations in the data") for note in document["notes"])
    assert any(note.startswith("goal period WAPE") for note in document["notes"])
    assert any(note.startswith("goal AUC above every baseline") for note in document["notes"])


def test_backtest_refuses_too_little_history(session: Session, configured: str) -> None:
    build_history(session, deals=10)
    result = runner.invoke(app, ["forecast", "backtest", "--json"])
    assert result.exit_code == 2
    assert "training rows" in result.output


def test_period_model_learns_only_from_aligned_windows_ended_by_the_cutoff(session: Session) -> None:
    build_history(session)
    result = run_backtest(session, seed=5, period="quarter", min_train=20, n_estimators=20, draws=200)
    assert result.runs
    first = add_months(result.data_start.replace(day=1, hour=0, minute=0, second=0, microsecond=0), 1)
    for run in result.runs:
        # monthly snapshots s < T, in the same place of the quarter, whose window ended by T
        expected, moment = 0, first
        while moment < run.cutoff:
            aligned = (run.cutoff.year * 12 + run.cutoff.month - moment.year * 12 - moment.month) % 3 == 0
            expected += aligned and add_months(moment, 3) <= run.cutoff
            moment = add_months(moment, 1)
        assert run.period_windows == expected
        low, point, high = run.intervals["model"]
        assert 0.0 <= low <= point <= high
        assert run.interval_from.startswith(("past cutoffs", "training windows", "monte carlo"))
    for earlier, later in zip(result.runs, result.runs[1:], strict=False):
        if add_months(earlier.cutoff, 3) <= later.cutoff:
            assert later.interval_from.startswith("past cutoffs")


def test_intervals_widen_to_the_largest_past_error() -> None:
    # errors are shares of the pipeline open then, applied to today's pipeline (200)
    assert _widen((90.0, 100.0, 110.0), [0.05, -0.15], 200.0) == (70.0, 100.0, 130.0)
    assert _widen((50.0, 100.0, 150.0), [0.1], 200.0) == (50.0, 100.0, 150.0)  # never narrower
    assert _widen((10.0, 100.0, 300.0), [-0.75], 200.0)[0] == 0.0  # revenue is not negative
    # from 4 errors on, the ⌈0.8 (n + 1)⌉-th smallest: the 4th of 4, the 8th of 9
    assert _widen((100.0, 100.0, 100.0), [0.1, 0.2, 0.3, 0.4], 100.0) == (60.0, 100.0, 140.0)
    nine = [0.01 * k for k in range(1, 10)]
    assert _widen((100.0, 100.0, 100.0), nine, 100.0) == (92.0, 100.0, 108.0)


def test_annotation_lift_is_measured_when_the_deals_carry_annotations(session: Session) -> None:
    build_history(session, notes=True)
    document = numbers(run_backtest(session, seed=11, **SMALL))  # type: ignore[arg-type]
    lift = document["annotation_lift"]
    assert lift is not None and lift["annotated_deals"] > 30
    assert set(lift) == {"with", "without", "delta", "annotated_deals", "annotated_predictions"}
    assert 0 < lift["annotated_predictions"] <= lift["with"]["n"]
    assert set(lift["with"]) == set(lift["without"]) == {"auc", "brier", "log_loss", "ece", "wape", "n"}
    assert lift["with"]["n"] == lift["without"]["n"] == document["deal_level"]["model"]["n"]
    # the served model is the one with annotations; their cue agrees with every outcome
    assert lift["with"]["auc"] == document["deal_level"]["model"]["auc"]
    assert lift["with"]["wape"] == document["period_level"]["model"]["wape"]
    assert lift["delta"]["auc"] == round(lift["with"]["auc"] - lift["without"]["auc"], 6)
    assert lift["with"]["auc"] > lift["without"]["auc"]

    plain = numbers(run_backtest(session, seed=11, annotations=False, **SMALL))  # type: ignore[arg-type]
    assert plain["annotation_lift"] is None
    assert plain["deal_level"]["model"]["auc"] == lift["without"]["auc"]
    assert any(note.startswith("annotations left out on request") for note in plain["notes"])


def test_the_reps_forecast_category_is_a_baseline_where_the_data_has_one(session: Session) -> None:
    build_history(session, categories=True)
    document = numbers(run_backtest(session, seed=5, **SMALL))  # type: ignore[arg-type]
    assert set(document["deal_level"]) == {*FORECASTERS, "rep_category"} == set(document["period_level"])
    assert document["deal_level"]["rep_category"]["n"] == document["deal_level"]["model"]["n"]
    # the calls are right two times in three: the baseline reads them
    assert document["deal_level"]["rep_category"]["auc"] > 0.55
    assert not any("rep_category baseline skipped" in note for note in document["notes"])


def test_without_rep_calls_the_category_baseline_is_skipped_with_a_reason(session: Session) -> None:
    build_history(session)
    document = numbers(run_backtest(session, seed=5, **SMALL))  # type: ignore[arg-type]
    assert "rep_category" not in document["deal_level"]
    assert any("rep_category baseline skipped" in note for note in document["notes"])
