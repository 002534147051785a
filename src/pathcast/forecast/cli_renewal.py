"""``pathcast forecast renewals`` and ``pathcast forecast verification on|off`` (registered on
``forecast_app``; ``cli`` imports this module).

Both run as the system (every scope, admin rights). Exit codes: 0 done, 2 a bad argument.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pathcast.forecast.cli import _fail, forecast_app


@forecast_app.command("renewals")
def renewals_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")] = False,
    no_events: Annotated[
        bool,
        typer.Option(
            "--no-events",
            help="Score silently: no forecast.renewal_risk events (so no rule fires) and no insights.",
        ),
    ] = False,
) -> None:
    """Score the subscriptions renewing within 180 days (usage, tickets, sentiment, activity)
    and list them, riskiest first, with the factors behind each risk."""
    from pathcast.auth.permissions import Actor
    from pathcast.db import unit_of_work
    from pathcast.forecast.service import renewal

    system = Actor.system("cli")
    with unit_of_work() as session:
        scores = renewal.score_renewals(session, actor=system, threshold_events=not no_events)
        rows = renewal.list_renewals(session, actor=system)
    document = {"scored": len(scores), "renewals": rows}
    if as_json:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    _print_renewals(document)


def _print_renewals(document: dict[str, Any]) -> None:
    out = Console()
    table = Table(title=f"renewal risk ({document['scored']} subscriptions scored now)")
    for column in ("risk", "account", "contract", "renewal", "annual value", "top factors"):
        table.add_column(column, justify="right" if column in ("risk", "annual value") else "left")
    for row in document["renewals"]:
        top = "; ".join(f"{f['en']} (+{f['points']})" for f in row["factors"] if f.get("points"))[:120]
        table.add_row(
            f"{row['risk']:.2f}",
            row["account_name"],
            row["contract_number"],
            str(row["renewal_date"] or "-"),
            f"{row['annual_value']:,.0f} {row['currency']}",
            top or "-",
        )
    out.print(table)


@forecast_app.command("verification")
def verification_command(
    state: Annotated[
        str, typer.Argument(help="on: AI insights need a rep's written verification; off: not.")
    ],
) -> None:
    """Require (on) or stop requiring (off) a rep's written verification of AI insights before
    they enter an approval or a forecast submission."""
    from pathcast.auth.permissions import Actor
    from pathcast.db import unit_of_work
    from pathcast.forecast.service import guardrail

    wanted = state.strip().lower()
    if wanted not in ("on", "off"):
        _fail(f"say on or off, not {state!r}", 2)
    with unit_of_work() as session:
        guardrail.set_verification_required(session, actor=Actor.system("cli"), required=wanted == "on")
    Console().print(f"verification of AI insights: [bold]{wanted}[/bold]")
