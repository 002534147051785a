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
from pathcast.forecast.backtest import FORECASTERS, Backtest, run_backtest
from tests import factories as f
from tests.forecast.test_snapshot import deal, move, product, stage_keys

runner = CliRunner()
SMALL = {"period": "month", "min_train": 20, "n_estimators": 20, "draws": 200}


def build_history(session: Session, deals: int = 80) -> None:
    """Deals opened every few days of 2023; big-account deals mostly win; a few stay open."""
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


def test_backtest_refuses_too_little_history(session: Session, configured: str) -> None:
    build_history(session, deals=10)
    result = runner.invoke(app, ["forecast", "backtest", "--json"])
    assert result.exit_code == 2
    assert "training rows" in result.output
