"""``pathcast import crm``: bring CSV exports of other CRMs into Pathcast.
(``pathcast import pathcast-export`` lives in ``pathcast.portal.cli_reimport``.)

Registered by ``pathcast.cli`` as the ``import`` group. Exit code 0 when the import
ran (rejected rows included; see the rejects file), 2 when the input is unusable.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pathcast.crm.importers import ImportInputError, ImportReport, Progress, run_import

import_app = typer.Typer(help="Import data from files.", no_args_is_help=True)
console = Console(stderr=True)


class ImportFormat(StrEnum):
    generic = "generic"
    salesforce = "salesforce"
    hubspot = "hubspot"
    maven = "maven"


@import_app.callback()
def _group() -> None:
    """Import data from files (CSV exports of other systems)."""


@import_app.command("crm")
def import_crm(
    paths: Annotated[
        list[Path],
        typer.Argument(help="CSV files (for maven also the dataset folder).", show_default=False),
    ],
    format: Annotated[
        ImportFormat, typer.Option("--format", "-f", help="Layout of the files.", case_sensitive=False)
    ],
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Column mapping (JSON or TOML) for --format generic.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and report, write nothing to the database.")
    ] = False,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Where to write rejected rows (default: <first input>.rejects.csv)."),
    ] = None,
    encoding: Annotated[
        str, typer.Option("--encoding", help="File encoding; 'auto' detects UTF-8 or GB18030.")
    ] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Import accounts, contacts and opportunities from CSV files.

    Accounts are imported before contacts before opportunities. Re-importing the same
    files creates no duplicates; unchanged rows write nothing.
    """
    from pathcast.migrate import upgrade

    upgrade()
    try:
        if sys.stderr.isatty():
            report = _with_progress(paths, format.value, mapping, dry_run, rejects, encoding)
        else:
            report = run_import(
                format=format.value,
                paths=paths,
                mapping_path=mapping,
                dry_run=dry_run,
                encoding=encoding,
                rejects_path=rejects,
            )
    except ImportInputError as error:
        console.print(f"[red]error:[/red] {error}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_summary(report)


def _with_progress(
    paths: list[Path], format: str, mapping: Path | None, dry_run: bool, rejects: Path | None, encoding: str
) -> ImportReport:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    with Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def advance(task: str, done: int, total: int) -> None:
            if task not in tasks:
                tasks[task] = bar.add_task(task, total=total)
            # redrawing on every row would cost more than the row itself
            if done == total or done % 50 == 0:
                bar.update(tasks[task], completed=done, total=total)

        callback: Progress = advance
        return run_import(
            format=format,
            paths=paths,
            mapping_path=mapping,
            dry_run=dry_run,
            encoding=encoding,
            rejects_path=rejects,
            progress=callback,
        )


def _print_summary(report: ImportReport) -> None:
    title = "Import summary" + (" (dry run: nothing written)" if report.dry_run else "")
    table = Table(title=title)
    for column in ("entity", "imported", "updated", "unchanged", "rejected"):
        table.add_column(column, justify="left" if column == "entity" else "right")
    for entity in report.ordered_entities():
        counts = report.entities[entity]
        table.add_row(entity, *(str(v) for v in counts.as_dict().values()))
    table.add_row("total", *(str(v) for v in report.total.as_dict().values()), style="bold")
    console.print(table)
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    for warning, count in report.warnings.items():
        console.print(f"[yellow]warning:[/yellow] {warning} ({count}×)", highlight=False)
    if report.rejects_path is not None and report.rejects:
        console.print(
            f"{len(report.rejects)} problems in {report.total.rejected} rows written to {report.rejects_path}",
            highlight=False,
        )
    console.print(f"{report.rows_read} rows in {report.elapsed_seconds:.1f} s", highlight=False)


@import_app.command("pathcast-export")
def import_pathcast_export(
    file: Annotated[Path, typer.Argument(help="A ZIP written by `pathcast export account --format zip`.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Import a Pathcast ZIP export (verified against its manifest first); re-running it duplicates nothing."""
    from pathcast.portal.cli_reimport import run

    run(file, as_json=as_json)
