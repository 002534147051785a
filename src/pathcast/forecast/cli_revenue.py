"""``pathcast forecast revenue``: a period's revenue as P10/P50/P90, its top deals and what
moved it since last week (registered on ``forecast_app``; ``cli`` imports this module).

Runs as the system (every scope). Exit codes: 0 printed, 2 a bad option (the message names it).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pathcast.forecast.cli import _fail, forecast_app

TOP_DEALS = 10


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date YYYY-MM-DD, got {value!r}", 2)
    return None


def _parse_moment(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be an ISO date-time (e.g. 2026-11-20T00:00:00+00:00), got {value!r}", 2)
    return None


@forecast_app.command("revenue")
def revenue_command(
    period: Annotated[str, typer.Option(help="quarter or month.")] = "quarter",
    start: Annotated[
        str | None, typer.Option(help="A day of the period, YYYY-MM-DD (default: the current one).")
    ] = None,
    scope: Annotated[str, typer.Option(help="company, team:ID or rep:USER_ID.")] = "company",
    at: Annotated[
        str | None, typer.Option("--at", help="Forecast as of this ISO date-time (default: now).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="What moved it since this ISO date-time (default: a week before).")
    ] = None,
    draws: Annotated[int, typer.Option(help="Monte Carlo draws.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the draws; same seed, same numbers.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """The period's revenue distribution (P10/P50/P90, expected, won so far), its top deals by
    expected value, and what moved it since last week."""
    from pathcast.db import unit_of_work, utcnow
    from pathcast.errors import InvalidInput
    from pathcast.forecast.service import revenue, revenue_moved

    if period not in revenue.PERIOD_KINDS:
        _fail(f"--period must be quarter or month, got {period!r}", 2)
    moment = _parse_moment(at, "--at")
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    since_moment = _parse_moment(since, "--since")
    day = _parse_day(start, "--start") or (moment or utcnow()).date()
    try:
        with unit_of_work(write=False) as session:
            result = revenue.period_distribution(
                session,
                actor=None,
                period_kind=period,
                period_start=day,
                scope=scope,
                at=moment,
                draws=draws,
                seed=seed,
            )
            moved = revenue_moved.what_moved(
                session,
                actor=None,
                period_kind=period,
                period_start=day,
                scope=scope,
                since=since_moment,
                until=moment,
            )
    except InvalidInput as error:
        fields = ", ".join(
            f"--{e.field} ({e.code}: {e.params})" if e.params else f"--{e.field}" for e in error.errors
        )
        _fail(f"invalid option {fields}", 2)
        return
    document = {"distribution": result.as_dict(), "what_moved": moved.as_dict()}
    if as_json:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        _print_revenue(document)


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _print_revenue(document: dict[str, Any]) -> None:
    out = Console()
    dist, moved = document["distribution"], document["what_moved"]
    out.print(
        f"[bold]{dist['period_kind']} {dist['period_start']}[/bold] ({dist['scope']}), as of {dist['at']}: "
        f"P10 {_money(dist['p10'])} · P50 {_money(dist['p50'])} · P90 {_money(dist['p90'])}"
    )
    out.print(
        f"expected {_money(dist['expected'])} (with reps' overrides {_money(dist['expected_with_overrides'])}); "
        f"won so far {_money(dist['won_so_far'])} from {dist['won_deals']} deals; "
        f"{dist['open_deals']} open deals ({dist['sources']['model']} model, {dist['sources']['stage']} stage)"
    )
    table = Table(title="top deals by expected value")
    for column in ("deal", "owner", "amount", "p_win", "source", "override", "p_in_period", "expected"):
        table.add_column(column, justify="left" if column in ("deal", "owner", "source") else "right")
    for deal in dist["deals"][:TOP_DEALS]:
        override = deal["override_probability"]
        table.add_row(
            f"{deal['name']} (#{deal['id']})",
            deal["owner"] or "-",
            _money(deal["amount"]),
            f"{deal['p_win']:.0%}",
            deal["source"],
            "-" if override is None else f"{override:.0%}",
            f"{deal['p_in_period']:.0%}",
            _money(deal["expected_value"]),
        )
    out.print(table)
    out.print(
        f"what moved it since {moved['since']}: {_money(moved['before'])} → {_money(moved['after'])} "
        f"({moved['delta']:+,.0f})"
    )
    for bucket in moved["buckets"]:
        if bucket["deals"]:
            names = ", ".join(f"{d['name']} {d['delta']:+,.0f}" for d in bucket["deals"][:5])
            out.print(f"  {bucket['key']}: {bucket['total']:+,.0f}  ({names})")
    for note in dist["notes"]:
        out.print(f"note: {note}")
