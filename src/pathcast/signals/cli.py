"""``pathcast signals …``: sites and their snippet, connectors, file imports, polling.

Registered by ``pathcast.cli``. Exit codes: 0 done (rejected rows are listed, the rest
stored), 1 a source failed or the input is unusable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pathcast.auth.permissions import Actor
from pathcast.config import get_settings

signals_app = typer.Typer(help="Behaviour signals: sites, connectors, message imports.", no_args_is_help=True)
site_app = typer.Typer(help="Sites that embed the tracking snippet.", no_args_is_help=True)
connector_app = typer.Typer(help="Message connectors (webhook, WeCom, DingTalk, IMAP).", no_args_is_help=True)
signals_app.add_typer(site_app, name="site")
signals_app.add_typer(connector_app, name="connector")

console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
ADMIN = Actor.system("cli")


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def snippet_html(site_key: str, base_url: str) -> str:
    """The tag a web page embeds."""
    return f'<script src="{base_url.rstrip("/")}/t.js" data-site="{site_key}" async></script>'


@site_app.command("create")
def site_create(
    name: Annotated[str, typer.Option(help="A name for the site, e.g. www or portal.")],
    origin: Annotated[
        list[str],
        typer.Option("--origin", help="An allowed origin, e.g. https://www.example.com (repeatable)."),
    ],
    rate_limit: Annotated[int, typer.Option(help="Collect requests per minute.")] = 600,
    base_url: Annotated[
        str, typer.Option(help="Where Pathcast is served, for the snippet.")
    ] = "http://127.0.0.1:8000",
    as_json: JsonOption = False,
) -> None:
    """Create a site and print its key and the snippet to paste into its pages."""
    from pathcast.db import unit_of_work
    from pathcast.errors import PathcastError
    from pathcast.signals.service import sites

    try:
        with unit_of_work() as session:
            site = sites.create_site(
                session, name=name, allowed_origins=origin, rate_limit_per_minute=rate_limit, actor=ADMIN
            )
            key, site_id = site.key, site.id
    except PathcastError as error:
        _fail(f"{error.code} {error.params}")
        return
    snippet = snippet_html(key, base_url)
    if as_json:
        _emit({"id": site_id, "key": key, "snippet": snippet})
        return
    console.print(f"site {name} created, key [bold]{key}[/bold]. Paste into every page:")
    sys.stdout.write(snippet + "\n")


@site_app.command("list")
def site_list(as_json: JsonOption = False) -> None:
    """List sites with their keys and allowed origins."""
    from pathcast.db import unit_of_work
    from pathcast.signals.service import sites

    with unit_of_work(write=False) as session:
        rows: list[dict[str, Any]] = [
            {
                "id": s.id,
                "name": s.name,
                "key": s.key,
                "origins": list(s.allowed_origins),
                "active": s.is_active,
            }
            for s in sites.list_sites(session, actor=ADMIN)
        ]
    if as_json:
        _emit(rows)
        return
    for row in rows:
        sys.stdout.write(f"{row['id']}\t{row['name']}\t{row['key']}\t{', '.join(row['origins'])}\n")


def _parse_settings(values: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            _fail(f"--set wants key=value, got {item!r}")
        if key == "owner_addresses":
            config[key] = [part.strip() for part in value.split(",") if part.strip()]
        elif value.lower() in ("true", "false"):
            config[key] = value.lower() == "true"
        elif value.isdigit():
            config[key] = int(value)
        else:
            config[key] = value
    return config


@connector_app.command("create")
def connector_create(
    kind: Annotated[str, typer.Argument(help="webhook | wecom | dingtalk | email")],
    name: Annotated[str, typer.Option(help="A unique name.")],
    setting: Annotated[
        list[str],
        typer.Option(
            "--set",
            help="Config as key=value (repeatable). webhook: secret; wecom: token, encoding_aes_key, corp_id; "
            "dingtalk: app_secret; email: host, port, username, password, mailbox, use_ssl, starttls, "
            "owner_addresses (comma-separated: our own addresses, so sent mail is outbound).",
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Configure a message source and print the address it delivers to."""
    from pathcast.db import unit_of_work
    from pathcast.errors import PathcastError
    from pathcast.signals.service import sites

    if kind not in sites.REQUIRED_CONFIG:
        _fail(f"unknown connector kind {kind!r}; choose one of {', '.join(sites.REQUIRED_CONFIG)}")
    try:
        with unit_of_work() as session:
            connector = sites.create_connector(
                session, kind=kind, name=name, config=_parse_settings(setting), actor=ADMIN
            )
            connector_id = connector.id
    except PathcastError as error:
        _fail(f"{error.code} {error.params}")
        return
    paths = {
        "webhook": f"/api/v1/signals/webhooks/{connector_id}",
        "wecom": f"/api/v1/signals/wecom/{connector_id}",
        "dingtalk": f"/api/v1/signals/dingtalk/{connector_id}",
        "email": None,
    }
    result = {"id": connector_id, "kind": kind, "name": name, "callback_path": paths[kind]}
    if as_json:
        _emit(result)
    else:
        where = paths[kind] or "polled by the server (or `pathcast signals poll`)"
        console.print(f"connector {name} ({kind}) created: {where}")


@signals_app.command("poll")
def poll(
    connector: Annotated[str | None, typer.Option(help="Only this e-mail connector (by name).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch new mail from the IMAP connectors now (the server also does this on a timer)."""
    from pathcast.db import unit_of_work
    from pathcast.signals.service import polling

    reports = []
    with unit_of_work(write=False) as session:
        ids = [c.id for c in polling.email_connectors(session, connector)]
    if connector and not ids:
        _fail(f"no active e-mail connector named {connector!r}")
    for connector_id in ids:
        with unit_of_work() as session:
            found = session.get(polling.m.Connector, connector_id)
            assert found is not None
            reports.append(polling.poll_email_connector(session, connector=found).as_dict())
    if as_json:
        _emit(reports)
    else:
        for report in reports:
            state = report["failure"] or "ok"
            console.print(
                f"{report['connector']}: {report['stored']} stored, {report['duplicates']} already had, "
                f"{len(report['errors'])} unreadable — {state}"
            )
    if any(report["failure"] for report in reports):
        raise typer.Exit(1)


def _print_summary(summary: Any, as_json: bool) -> None:
    if as_json:
        _emit(summary.model_dump())
        return
    console.print(
        f"{summary.stored} stored, {summary.duplicates} already had, {len(summary.errors)} rejected"
    )
    for error in summary.errors[:50]:
        console.print(f"  {error}")


@signals_app.command("import-email")
def import_email(
    paths: Annotated[
        list[Path], typer.Argument(help=".eml files and/or .mbox files.", exists=True, dir_okay=False)
    ],
    owner: Annotated[
        list[str] | None, typer.Option("--owner", help="Our own address (repeatable): its mail is outbound.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import e-mail files; each message is stored once and filed on its contact."""
    from pathcast.db import unit_of_work
    from pathcast.signals.connectors import email as mail
    from pathcast.signals.service import messages

    owners = tuple(owner or ())
    items: list[Any] = []
    for path in paths:
        if path.suffix.lower() == ".mbox":
            items.extend(
                (f"{path.name}#{number}", item)
                for number, item in mail.iter_mbox(path, mailbox_owner_addresses=owners)
            )
        else:
            items.extend(
                (path.name, item) for _, item in mail.iter_eml_files([path], mailbox_owner_addresses=owners)
            )
    with unit_of_work() as session:
        summary = messages.ingest_drafts(
            session, items=items, actor=Actor.system("import:email"), row_label="where"
        )
    _print_summary(summary, as_json)


@signals_app.command("import-interactions")
def import_interactions(
    path: Annotated[
        Path, typer.Argument(help="A CSV of calls, meetings, e-mails, notes.", exists=True, dir_okay=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Import interactions from a CSV (columns in docs/signals.md); bad rows are named, the rest kept."""
    from pathcast.db import unit_of_work
    from pathcast.signals.connectors.interactions_csv import read_interactions
    from pathcast.signals.service import messages

    with unit_of_work() as session:
        summary = messages.ingest_drafts(
            session, items=read_interactions(path), actor=Actor.system("import:csv"), row_label="row"
        )
    _print_summary(summary, as_json)


@signals_app.command("rebuild-consent")
def rebuild_consent(as_json: JsonOption = False) -> None:
    """Count deep interactions from every existing activity (after an import or an upgrade)."""
    from pathcast.db import unit_of_work
    from pathcast.signals.service import consent

    with unit_of_work() as session:
        counted = consent.rebuild_from_activities(session)
    threshold = get_settings().consent_threshold
    if as_json:
        _emit({"counted": counted, "threshold": threshold})
    else:
        console.print(f"{counted} deep interactions counted (threshold {threshold})")
