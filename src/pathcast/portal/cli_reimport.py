"""``pathcast import pathcast-export FILE``: bring a Pathcast ZIP export into this instance.

Registered in crm's ``import`` group (``pathcast.crm.cli``). Exit codes: 0 imported
(rejected rows listed, the rest kept), 1 the importer may not create accounts, 2 the file
is not an intact export (nothing written; the altered or missing files are named).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)


def run(file: Path, *, as_json: bool) -> None:
    """Verify, import in one unit of work, and print the summary."""
    from pathcast.auth.permissions import Actor
    from pathcast.db import unit_of_work
    from pathcast.errors import PermissionDenied
    from pathcast.migrate import upgrade
    from pathcast.portal.service.reimport import ImportRefused, import_export

    upgrade()
    try:
        with unit_of_work() as session:
            result = import_export(session, Actor.system("cli"), file)
    except ImportRefused as refused:
        if as_json:
            report = refused.report.as_dict() if refused.report else None
            sys.stdout.write(json.dumps({"ok": False, "error": str(refused), "verify": report}) + "\n")
        console.print(f"[red]refused[/red]: {escape(str(refused))}", highlight=False)
        raise typer.Exit(2) from None
    except PermissionDenied as denied:
        console.print(f"[red]not allowed[/red]: {escape(str(denied))}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps({"ok": True, **result.as_dict()}, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(
        f"[green]imported[/green] export {escape(result.export_id)} as account {result.account_id}",
        highlight=False,
    )
    for dataset in sorted(set(result.created) | set(result.existing)):
        console.print(
            f"  {dataset}: {result.created.get(dataset, 0)} created, "
            f"{result.existing.get(dataset, 0)} already here",
            highlight=False,
        )
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    for row in result.rejected:
        console.print(
            f"[yellow]rejected[/yellow] {row['dataset']} row {row['row']} (id {row['id']}): {escape(row['reason'])}",
            highlight=False,
        )
