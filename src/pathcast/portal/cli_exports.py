"""``pathcast export account ID --format zip --out FILE`` and ``pathcast export verify FILE``.

Registered by ``pathcast.cli`` as ``export``. ``account`` runs as the system actor and
prints progress on stderr; ``verify`` recomputes every SHA-256 of a ZIP export's
manifest without a database: exit 0 intact, 1 altered (naming the files), 2 unreadable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

export_app = typer.Typer(help="Portable account exports: write one, verify one.", no_args_is_help=True)
console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@export_app.command("account")
def export_account(
    account_id: Annotated[int, typer.Argument(help="The account to export.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the export.")],
    fmt: Annotated[str, typer.Option("--format", help="json, csv or zip.")] = "zip",
    as_json: JsonOption = False,
) -> None:
    """Export everything the customer may take away about an account."""
    from pathcast.auth.permissions import Actor
    from pathcast.db import unit_of_work
    from pathcast.errors import NotFound
    from pathcast.portal.export_format import FORMATS
    from pathcast.portal.service.exports import export_account as run_export

    if fmt not in FORMATS:
        console.print(f"[red]unknown format {escape(fmt)}: use one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)

    def progress(dataset: str, rows: int) -> None:
        if not as_json:
            console.print(f"  {dataset}: {rows} rows", highlight=False)

    try:
        with unit_of_work() as session, out.open("wb") as handle:
            summary = run_export(
                session, Actor.system("cli"), account_id, fmt=fmt, out=handle, progress=progress
            )
    except NotFound:
        out.unlink(missing_ok=True)
        console.print(f"[red]account {account_id} not found[/red]")
        raise typer.Exit(1) from None
    if as_json:
        _emit({**summary.as_dict(), "file": str(out)})
    else:
        console.print(
            f"[green]exported[/green] account {account_id} to {escape(str(out))} ({summary.export_id})"
        )


@export_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The ZIP export to check.")],
    as_json: JsonOption = False,
) -> None:
    """Recompute every file's SHA-256 against manifest.json and name what changed."""
    from pathcast.portal.export_format import verify_manifest

    report = verify_manifest(file)
    if as_json:
        _emit(report.as_dict())
    elif report.ok:
        console.print(
            f"[green]intact[/green]: {report.checked} files match manifest.json ({report.export_id})"
        )
    elif report.error:
        console.print(f"[red]unreadable[/red]: {escape(report.error)}")
    else:
        for name in report.altered:
            console.print(f"[red]altered[/red]: {escape(name)}")
        for name in report.missing:
            console.print(f"[red]missing[/red]: {escape(name)}")
        for name in report.unexpected:
            console.print(f"[red]not in manifest[/red]: {escape(name)}")
    if report.error:
        raise typer.Exit(2)
    raise typer.Exit(0 if report.ok else 1)
