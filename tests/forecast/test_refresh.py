"""The periodic refresh: one call retrains when due, scores, records periods and renewals,
each step in its own transaction; a step with nothing to do says why, and the CLI wraps it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.cli import app
from pathcast.forecast.models import DealScore, PeriodForecast, WinModel
from pathcast.forecast.service.refresh import refresh
from tests.forecast.test_backtest import build_history

runner = CliRunner()


def count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_refresh_on_an_empty_database_explains_and_does_not_fail(session: Session, configured: str) -> None:
    session.commit()
    report = refresh(url=configured)
    assert report.failures == {}
    assert report.active_version is None and report.trained_version is None
    assert "too little closed history" in report.notes["retrain"]
    assert "no active win model" in report.notes["score"]


def test_refresh_trains_when_due_scores_and_records(session: Session, configured: str) -> None:
    build_history(session)
    session.commit()
    first = refresh(url=configured, retrain_every=timedelta(days=7))
    assert first.failures == {}, first.failures
    assert first.trained_version == 1 and first.active_version == 1
    assert first.scored_deals > 0 and first.periods_recorded > 0
    session.expire_all()
    assert count(session, WinModel) == 1
    assert count(session, DealScore) == first.scored_deals
    assert count(session, PeriodForecast) == first.periods_recorded
    session.commit()

    # Not due again a minute later: the active model stays, deals are rescored.
    again = refresh(url=configured, retrain_every=timedelta(days=7))
    assert again.trained_version is None and again.active_version == 1
    # Due when the model is older than the schedule allows.
    later = refresh(url=configured, at=datetime.now(UTC) + timedelta(days=8), retrain_every=timedelta(days=7))
    assert later.trained_version == 2 and later.active_version == 2


def test_cli_refresh_prints_the_report(session: Session, configured: str) -> None:
    build_history(session)
    session.commit()
    result = runner.invoke(app, ["forecast", "refresh", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["active_version"] == 1 and document["failures"] == {}
    assert set(document) >= {
        "trained_version",
        "scored_deals",
        "periods_recorded",
        "renewals_scored",
        "notes",
    }
