"""``pathcast documents verify FILE``: which export a PDF came from, and whether it changed.

Registered by ``pathcast.cli`` as ``documents``. Exit codes: 0 the signature holds and
the export is on record; 1 the file was altered or its export is unknown here; 2 not a
Pathcast-watermarked PDF (or no file to read). Messages are printed in zh and en.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pathcast.i18n import translate

documents_app = typer.Typer(help="Watermarked documents: verify an exported PDF.", no_args_is_help=True)
console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
LOCALES = ("zh-CN", "en")


@documents_app.callback()
def documents() -> None:
    """Watermarked documents: verify an exported PDF (a group, so more commands can join)."""


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _say(key: str, colour: str, **params: Any) -> None:
    for locale in LOCALES:
        console.print(f"[{colour}]{escape(translate(key, locale, **params))}[/{colour}]")


@documents_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(help="The PDF to check.")],
    as_json: JsonOption = False,
) -> None:
    """Say which export a PDF came from (document, version, customer, who, when) and
    whether any byte of it changed since it was handed out."""
    from pathcast.db import unit_of_work
    from pathcast.portal.service.documents import verify_document

    try:
        content = file.read_bytes()
    except OSError as error:
        _say("portal.verify.unreadable", "red", file=str(file), error=error.strerror or str(error))
        raise typer.Exit(2)
    with unit_of_work(write=False) as session:
        report = verify_document(session, content)
        data = report.as_dict()
    if as_json:
        _emit(data)
    else:
        _print(data)
    raise typer.Exit(report.exit_code)


def _print(data: dict[str, Any]) -> None:
    status = data["status"]
    colour = {"intact": "green", "not_watermarked": "yellow", "not_a_pdf": "yellow"}.get(status, "red")
    _say(f"portal.verify.{status}", colour, reason=data["reason"], export_id=data["export_id"] or "?")
    export = data["export"]
    if export is not None:
        _say("portal.verify.export", "default", **export)
    elif data["watermarked"]:
        _say(
            "portal.verify.claims",
            "default",
            export_id=data["export_id"] or "?",
            customer=data["customer"] or "?",
            date=data["date"] or "?",
        )
