"""``pathcast radar source add | sources | poll | signals``: the radar's database commands.

Registered on ``pathcast.radar.cli.radar_app`` when this module is imported. Exit codes:
0 done, 1 refused or not found (the message says which field or name), 2 a bad
``--set`` value.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pathcast.auth.permissions import Actor
from pathcast.errors import InvalidInput, PathcastError
from pathcast.i18n import translate
from pathcast.radar.cli import radar_app

source_app = typer.Typer(help="Radar sources: feeds, APIs, bidding pages, messages.", no_args_is_help=True)
radar_app.add_typer(source_app, name="source")

console = Console(stderr=True)
ADMIN = Actor.system("cli")
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
KINDS = ("rss", "atom", "json_api", "html_list", "messages")


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(error: PathcastError) -> None:
    """Print a refusal in the people's words (zh and en) with each offending field."""
    for locale in ("zh-CN", "en"):
        console.print(
            f"[red]error:[/red] {escape(translate(f'errors.{error.code}', locale, **error.params))}"
        )
    if isinstance(error, InvalidInput):
        for field in error.errors:
            detail = translate(f"errors.field.{field.code}", "en", **field.params)
            console.print(f"  {escape(field.field)}: {escape(detail)}", highlight=False)
    raise typer.Exit(1)


def parse_settings(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs into a config dict: dotted keys nest, values are JSON when they parse."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            console.print(f"[red]error:[/red] --set {escape(pair)}: expected key=value / 应为 key=value")
            raise typer.Exit(2)
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw  # plain text: a URL, a CSS selector
        node = config
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                console.print(f"[red]error:[/red] --set {escape(pair)}: {escape(part)} is not an object")
                raise typer.Exit(2)
            node = child
        node[parts[-1]] = value
    return config


@source_app.command("add")
def source_add(
    name: Annotated[str, typer.Argument(help="A unique name for the source.", show_default=False)],
    kind: Annotated[str, typer.Option("--kind", help="rss, atom, json_api, html_list or messages.")],
    url: Annotated[str | None, typer.Option("--url", help="Where to read it (not for messages).")] = None,
    settings: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A config value key=value (dots nest: selectors.item=tr.notice).",
            show_default=False,
        ),
    ] = None,
    interval: Annotated[int, typer.Option("--interval", help="Seconds between polls.")] = 900,
    as_json: JsonOption = False,
) -> None:
    """Add a source; its config is checked for its kind and errors name the field."""
    from pathcast.db import unit_of_work
    from pathcast.radar.schemas import SourceRead
    from pathcast.radar.service import sources

    if kind not in KINDS:
        console.print(f"[red]error:[/red] --kind: one of {', '.join(KINDS)} / 应为 {', '.join(KINDS)} 之一")
        raise typer.Exit(2)
    config = parse_settings(settings or [])
    if url is not None:
        config["url"] = url
    try:
        with unit_of_work() as session:
            source = sources.create_source(
                session, actor=ADMIN, name=name, kind=kind, config=config, poll_interval_seconds=interval
            )
            read = SourceRead.of(source)
    except PathcastError as error:
        _fail(error)
        return
    if as_json:
        _emit(read.model_dump(mode="json"))
        return
    console.print(f"source {escape(read.name)} ({read.kind}) added, id {read.id}")


@radar_app.command("sources")
def sources_list(as_json: JsonOption = False) -> None:
    """List sources with their health."""
    from pathcast.db import unit_of_work
    from pathcast.radar.schemas import SourceRead
    from pathcast.radar.service import sources

    with unit_of_work(write=False) as session:
        rows = [
            SourceRead.of(source).model_dump(mode="json")
            for source in sources.list_sources(session, actor=ADMIN)
        ]
    if as_json:
        _emit(rows)
        return
    for row in rows:
        reason = f" — {row['health_code']}: {row['health_reason']}" if row["health_code"] else ""
        console.print(
            f"{escape(row['name'])} [{row['kind']}] {row['health']}{escape(reason)}", highlight=False
        )


@radar_app.command("poll")
def poll(
    source: Annotated[
        str | None, typer.Option("--source", help="Poll only this source (by name), due or not.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Poll due sources (or one), analyse the new items and route the graded signals."""
    from pathcast.db import unit_of_work
    from pathcast.radar import tasks
    from pathcast.radar.service import routing, sources

    analysed = notified = 0
    try:
        if source is not None:
            with unit_of_work() as session:
                found = routing.find_source(session, actor=ADMIN, name=source)
                outcome = routing.poll_analyse_route(session, actor=ADMIN, source=found)
                polls = [outcome.poll.as_dict()]
                analysed, notified = len(outcome.analysed), outcome.notified
        else:
            polls = [report.as_dict() for report in sources.poll_due()]
        more_analysed, more_notified = tasks.analyse_and_route()
    except PathcastError as error:
        _fail(error)
        return
    analysed += more_analysed
    notified += more_notified
    if as_json:
        _emit({"polls": polls, "analysed": analysed, "notified": notified})
        return
    for report in polls:
        line = f"{report['source']}: {report['health']}, {report['stored']} new"
        if report["failure"]:
            line += f" — {report['failure_code']}: {report['failure']}"
        console.print(escape(line), highlight=False)
    console.print(f"analysed {analysed}, notified {notified}")


@radar_app.command("signals")
def signals_list(
    severity: Annotated[str | None, typer.Option("--severity", help="Only this level (P1–P4).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List graded signals, most severe and newest first."""
    from pathcast.db import unit_of_work
    from pathcast.radar.schemas import SignalRead
    from pathcast.radar.service import signals

    try:
        with unit_of_work(write=False) as session:
            rows = [
                SignalRead.of(item, signal).model_dump(mode="json")
                for item, signal in signals.list_signals(session, actor=ADMIN, severity=severity, limit=limit)
            ]
    except PathcastError as error:
        _fail(error)
        return
    if as_json:
        _emit(rows)
        return
    for row in rows:
        console.print(
            escape(f"#{row['id']} {row['severity']} {row['polarity']}/{row['intent']} {row['title'] or ''}"),
            highlight=False,
        )
