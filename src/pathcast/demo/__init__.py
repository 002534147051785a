"""``pathcast demo``: a coherent synthetic B2B company with two years of honest history.

Three business lines (医疗器械 medical devices, 工业自动化 industrial automation, SaaS),
sales teams with managers and reps, delivery members, a customer-portal login,
accounts with distributors and outlets, deals walked through the pipeline over time,
activities, quotes, contracts, subscriptions, tickets and versioned documents. Every
row is written by a service, so every change has its event at the moment it happened.

Every demo login shares the password ``pathcast-demo``.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console

from pathcast.demo.vocabulary import DEMO_PASSWORD

__all__ = ["DEMO_PASSWORD", "demo_command", "load_demo_if_empty", "parse_today"]


def parse_today(raw: str | None) -> date:
    """The ``--today`` anchor: a YYYY-MM-DD date, not after today (default: today)."""
    latest = max(date.today(), datetime.now(UTC).date())
    if raw is None:
        return date.today()
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"--today must be a date written YYYY-MM-DD, not {raw!r}") from None
    if value > latest:
        raise ValueError(f"--today {value} is in the future; history cannot end after {latest}")
    if value < date(2000, 1, 1) + timedelta(days=900):
        raise ValueError("--today must leave room for two years of history after 2000-01-01")
    return value


def demo_command(
    accounts: Annotated[
        int,
        typer.Option(
            "--accounts", min=3, max=5000, help="How many accounts (distributors and outlets included)."
        ),
    ] = 60,
    seed: Annotated[
        int, typer.Option("--seed", help="Random seed: the same seed and --today give the same data.")
    ] = 7,
    today: Annotated[
        str | None,
        typer.Option("--today", metavar="YYYY-MM-DD", help="The day the history ends at (default: today)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
) -> None:
    """Load a demo company (medical devices, automation, SaaS) with two years of history."""
    from pathcast.cli import console, emit_json, fail, migrate_database
    from pathcast.db import unit_of_work
    from pathcast.demo.loader import demo_exists, load_demo
    from pathcast.demo.people import ADMIN_EMAIL
    from pathcast.errors import PathcastError
    from pathcast.events import buffered_events

    try:
        anchor = parse_today(today)
    except ValueError as error:
        fail(str(error))
        return
    migrate_database()
    started = time.perf_counter()
    try:
        with unit_of_work() as session:
            if demo_exists(session):
                fail(
                    f"this database already holds the demo ({ADMIN_EMAIL} exists); "
                    "point PATHCAST_DATABASE_URL or PATHCAST_DATA_DIR at an empty database to load it again"
                )
                return
            with buffered_events(session):
                result = load_demo(session, accounts=accounts, seed=seed, today=anchor)
    except PathcastError as error:
        fail(f"the demo could not be loaded: {error.code} {error.params}")
        return
    seconds = round(time.perf_counter() - started, 2)
    if as_json:
        emit_json(
            {
                "counts": result.counts,
                "logins": result.logins,
                "seed": seed,
                "today": anchor.isoformat(),
                "accounts": accounts,
                "seconds": seconds,
            }
        )
        return
    _print_summary(console, result.counts, result.logins, seconds)


def _print_summary(
    console: Console, counts: dict[str, int], logins: list[dict[str, str]], seconds: float
) -> None:
    from rich.table import Table

    table = Table(title=f"Demo data loaded in {seconds:.1f} s", show_header=True, box=None)
    table.add_column("entity")
    table.add_column("rows", justify="right")
    for label, value in counts.items():
        table.add_row(label, str(value))
    console.print(table)
    people = Table(title=f"Demo logins — password for all: {DEMO_PASSWORD}", box=None)
    people.add_column("role", no_wrap=True)
    people.add_column("email", no_wrap=True)
    people.add_column("name", no_wrap=True)
    for login in logins:
        people.add_row(login["role"], login["email"], login.get("name", ""))
    console.print(people)
    console.print(f"[bold]password for every demo login:[/bold] {DEMO_PASSWORD}")


def load_demo_if_empty(
    *,
    accounts: int | None = None,
    seed: int | None = None,
    today: date | None = None,
) -> list[dict[str, str]]:
    """Load the demo (default size) when the database has no accounts and no users.

    Returns the demo logins when it loaded, ``[]`` when the database already had data.
    The schema must be migrated (``serve`` does that first).
    """
    from pathcast.db import unit_of_work
    from pathcast.demo.loader import DEFAULT_ACCOUNTS, DEFAULT_SEED, database_is_empty, load_demo
    from pathcast.events import buffered_events

    with unit_of_work() as session:
        if not database_is_empty(session):
            return []
        with buffered_events(session):
            result = load_demo(
                session,
                accounts=accounts or DEFAULT_ACCOUNTS,
                seed=DEFAULT_SEED if seed is None else seed,
                today=today,
            )
    return result.logins
