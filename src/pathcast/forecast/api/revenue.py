"""Forecast API: revenue per period as a distribution (see pathcast.forecast.service.revenue).

``GET  /api/v1/forecast/periods?period=quarter|month&start=YYYY-MM-DD&scope=…``: P10/P50/P90,
expected (model and with reps' overrides), won so far, each open deal's contribution.
``GET  /api/v1/forecast/periods/what-moved?period=…&start=…&scope=…&since=…``: the change of
expected revenue since ``since`` (default a week ago), by cause.
``POST /api/v1/forecast/periods/record``: store this and next month's and quarter's
distributions (admins and managers); ``forecast.period_changed`` where P50 moved.

Scope defaults to what the caller sees first (admin: company, manager: team, rep: self).
Bad parameters answer 422 naming the parameter; a scope the caller may not see, 403.

This module avoids ``from __future__ import annotations``: FastAPI reads the types of the
handlers at definition time.
"""

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Query

from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import InvalidInput
from pathcast.forecast.service import revenue as service
from pathcast.forecast.service import revenue_moved

router = APIRouter(tags=["forecast"])


def _day(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput.single(name, "forecast_bad_date", value=value) from None


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput.single(name, "forecast_bad_datetime", value=value) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@router.get("/periods", summary="Revenue of a period as P10/P50/P90, with its deals")
def period_distribution(
    session: DbSession,
    actor: CurrentActor,
    period: str = Query("quarter", description="quarter or month"),
    start: str | None = Query(None, description="a day of the period, YYYY-MM-DD (default: today)"),
    scope: str | None = Query(None, description="company, team:ID or rep:USER_ID"),
    at: str | None = Query(None, description="as of this ISO date-time (default: now)"),
    draws: int = Query(5000, description="Monte Carlo draws (100–100000)"),
    seed: int = Query(7, description="seed of the draws; same seed, same numbers"),
) -> dict[str, Any]:
    moment = _moment(at, "at")
    result = service.period_distribution(
        session,
        actor=actor,
        period_kind=period,
        period_start=_day(start, "start") or (moment or datetime.now(UTC)).date(),
        scope=scope or service.default_scope(actor),
        at=moment,
        draws=draws,
        seed=seed,
    )
    return result.as_dict()


@router.get("/periods/what-moved", summary="What moved a period's expected revenue since a moment")
def period_what_moved(
    session: DbSession,
    actor: CurrentActor,
    period: str = Query("quarter", description="quarter or month"),
    start: str | None = Query(None, description="a day of the period, YYYY-MM-DD (default: today)"),
    scope: str | None = Query(None, description="company, team:ID or rep:USER_ID"),
    since: str | None = Query(None, description="ISO date-time (default: a week before until)"),
    until: str | None = Query(None, description="ISO date-time (default: now)"),
) -> dict[str, Any]:
    end = _moment(until, "until")
    result = revenue_moved.what_moved(
        session,
        actor=actor,
        period_kind=period,
        period_start=_day(start, "start") or (end or datetime.now(UTC)).date(),
        scope=scope or service.default_scope(actor),
        since=_moment(since, "since"),
        until=end,
    )
    return result.as_dict()


@router.post("/periods/record", summary="Store this and next period's forecasts (admins, managers)")
def record_periods(session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    rows = revenue_moved.record_periods(session, actor=actor)
    return {
        "recorded": len(rows),
        "computed_at": rows[0].computed_at.isoformat() if rows else None,
        "rows": [
            {
                "period_kind": row.period_kind,
                "period_start": row.period_start.isoformat(),
                "scope": row.scope,
                "p10": round(row.p10, 2),
                "p50": round(row.p50, 2),
                "p90": round(row.p90, 2),
                "expected": round(row.expected, 2),
                "won_so_far": round(row.won_so_far, 2),
            }
            for row in rows
        ],
    }
