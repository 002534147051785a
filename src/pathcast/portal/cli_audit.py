"""``pathcast audit verify --export FILE``: check a customer's audit file offline.

Called by the ``audit verify`` command in ``pathcast.cli`` when ``--export`` is given;
it reads only the file (``portal.audit.verify``, the same code the server's format
comes from) and never opens a database. Exit codes: 0 intact; 1 problems (the first
bad seq and why); 2 not a readable audit file (or no file). Printed in zh and en.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pathcast.i18n import translate
from pathcast.portal.audit import Report, verify

console = Console(stderr=True)
LOCALES = ("zh-CN", "en")


def _say(key: str, colour: str, **params: object) -> None:
    for locale in LOCALES:
        console.print(f"[{colour}]{escape(translate(key, locale, **params))}[/{colour}]")


def verify_export(file: str, *, as_json: bool) -> None:
    """Verify ``file``, print the report, and exit with its code."""
    try:
        raw = Path(file).read_bytes()
    except OSError as error:
        report = Report(ok=False, unreadable=f"{file}: {error.strerror or error}")
    else:
        report = verify(raw)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    elif report.unreadable:
        _say("portal_audit.cli.unreadable", "red", reason=report.unreadable)
    elif report.ok:
        head = report.chain_head or {}
        _say(
            "portal_audit.cli.ok",
            "green",
            checked=report.checked,
            events=report.events,
            retained=report.retained,
            export_id=report.export_id,
            account=report.account,
            head=f"{head.get('seq')}:{str(head.get('hash'))[:12]}",
        )
    else:
        _say("portal_audit.cli.problems", "red", seq=report.first_bad_seq or "?")
        for problem in report.problems:
            console.print(
                escape(
                    translate(
                        "portal_audit.cli.problem",
                        "en",
                        seq=problem.seq or "-",
                        code=problem.code,
                        detail=problem.detail,
                    )
                )
            )
    raise typer.Exit(report.exit_code)
