"""The forecast's periodic refresh, in order: retrain when due, rescore the open pipeline,
record period distributions, score renewal risk.

``refresh`` runs each step in its own transaction, so a failure in one (say, too little
history to train) leaves the others done and says why in the report. The server's
:class:`pathcast.forecast.tasks.Refresher` calls it on a timer; ``pathcast forecast
refresh`` calls it once (for cron, or after an import).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import unit_of_work, utcnow
from pathcast.errors import InvalidInput, PathcastError
from pathcast.forecast.service import renewal, revenue_moved, scoring

logger = logging.getLogger("pathcast.forecast")
SYSTEM = Actor.system("forecast")


@dataclass
class RefreshReport:
    """What one refresh did: ``notes`` say why a step had nothing to do (too little history),
    ``failures`` why a step broke (the other steps still ran)."""

    at: datetime
    trained_version: int | None = None
    active_version: int | None = None
    scored_deals: int = 0
    periods_recorded: int = 0
    renewals_scored: int = 0
    notes: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The ``--json`` document of ``pathcast forecast refresh`` (a public interface)."""
        return {
            "at": self.at.isoformat(),
            "trained_version": self.trained_version,
            "active_version": self.active_version,
            "scored_deals": self.scored_deals,
            "periods_recorded": self.periods_recorded,
            "renewals_scored": self.renewals_scored,
            "notes": self.notes,
            "failures": self.failures,
        }


Step = Callable[[Session, RefreshReport, timedelta], None]


def _retrain(session: Session, report: RefreshReport, every: timedelta) -> None:
    model = scoring.retrain_if_due(session, actor=SYSTEM, now=report.at, every=every)
    if model is not None:
        report.trained_version = model.version
    active = scoring.active_model(session)
    report.active_version = active.version if active is not None else None
    if active is None:
        report.notes["retrain"] = "too little closed history to train a win model yet"


def _score(session: Session, report: RefreshReport, every: timedelta) -> None:
    if scoring.active_model(session) is None:
        report.notes["score"] = "no active win model: deals keep their stage probability"
        return
    report.scored_deals = len(scoring.score_open_deals(session, actor=SYSTEM, at=report.at))


def _periods(session: Session, report: RefreshReport, every: timedelta) -> None:
    report.periods_recorded = len(revenue_moved.record_periods(session, actor=SYSTEM, at=report.at))


def _renewals(session: Session, report: RefreshReport, every: timedelta) -> None:
    report.renewals_scored = len(renewal.score_renewals(session, actor=SYSTEM, at=report.at))


STEPS: tuple[tuple[str, Step], ...] = (
    ("retrain", _retrain),
    ("score", _score),
    ("periods", _periods),
    ("renewals", _renewals),
)


def explain_failure(error: Exception) -> str:
    """A one-line reason for the report and the log (our own errors carry their code)."""
    if isinstance(error, InvalidInput):
        return "; ".join(f"{item.field}: {item.code} {item.params or ''}".strip() for item in error.errors)
    if isinstance(error, PathcastError):
        return str(error)
    return f"{error.__class__.__name__}: {error}"


def refresh(
    *, url: str | None = None, at: datetime | None = None, retrain_every: timedelta | None = None
) -> RefreshReport:
    """Run every step, each in its own transaction; a failing step is reported, not fatal.

    ``retrain_every`` defaults to ``PATHCAST_FORECAST_RETRAIN_HOURS``."""
    from pathcast.config import get_settings

    every = retrain_every or timedelta(hours=get_settings().forecast_retrain_hours)
    report = RefreshReport(at=at or utcnow())
    for name, step in STEPS:
        try:
            with unit_of_work(url) as session:
                step(session, report, every)
        except Exception as error:  # one step's failure must not stop the others
            report.failures[name] = explain_failure(error)
            logger.warning("forecast refresh: %s failed: %s", name, report.failures[name])
    return report
