"""The ``pathcast`` command line. Every command has ``--help``; ``--json`` where scripts read."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.config import get_settings

app = typer.Typer(
    name="pathcast",
    help="Pathcast (推演): sales management that deduces the path, not only the number.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
audit_app = typer.Typer(help="Check the event log.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(audit_app, name="audit")

console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> None:
    """Print an error for a person and exit non-zero."""
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def migrate_database() -> None:
    """Create or upgrade the schema, and make sure the default pipeline exists."""
    from pathcast.crm.service import ensure_default_pipeline
    from pathcast.db import unit_of_work
    from pathcast.migrate import upgrade

    upgrade()
    with unit_of_work() as session:
        ensure_default_pipeline(session, actor=Actor.system("init"))


@app.command()
def init(as_json: JsonOption = False) -> None:
    """Create or upgrade the database (SQLite in the data directory unless configured)."""
    migrate_database()
    url = get_settings().resolved_database_url()
    if as_json:
        emit_json({"database": _redacted(url), "migrated": True})
    else:
        console.print(f"database ready: {_redacted(url)}")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo_on_first_start: Annotated[
        bool, typer.Option("--demo-on-first-start", help="Load demo data if the database is empty.")
    ] = False,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Migrate, then serve the web app and API."""
    import uvicorn

    migrate_database()
    if demo_on_first_start:
        from pathcast.demo import load_demo_if_empty

        logins = load_demo_if_empty()
        if logins:
            console.print("[bold]demo data loaded.[/bold] Demo logins (role, e-mail, password):")
            for login in logins:
                console.print(f"  {login['role']:<10} {login['email']:<32} {login['password']}")
    console.print(f"[bold green]Pathcast is serving at http://{host}:{port}[/bold green]")
    uvicorn.run("pathcast.app:create_app", factory=True, host=host, port=port, reload=reload)


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    role: Annotated[Role, typer.Option(help="Role.")] = Role.rep,
    team: Annotated[str | None, typer.Option(help="Team name (created if missing).")] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password (min. 8 characters); prompted when omitted on a terminal."),
    ] = None,
    account_id: Annotated[int | None, typer.Option(help="Account of a customer_contact.")] = None,
    locale: Annotated[str, typer.Option(help="zh-CN or en.")] = "zh-CN",
    as_json: JsonOption = False,
) -> None:
    """Create a user who can log in."""
    from sqlalchemy import select

    from pathcast.auth import service as auth_service
    from pathcast.auth.models import Team
    from pathcast.db import unit_of_work
    from pathcast.errors import PathcastError

    if password is None and sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if password is not None and len(password) < 8:
        fail("the password must have at least 8 characters")
    migrate_database()
    actor = Actor.system("cli")
    try:
        with unit_of_work() as session:
            team_id = None
            if team:
                found = session.scalars(select(Team).where(Team.name == team)).first()
                team_id = (found or auth_service.create_team(session, actor=actor, name=team)).id
            user = auth_service.create_user(
                session,
                actor=actor,
                email=email,
                name=name or email.split("@")[0],
                role=role,
                password=password,
                team_id=team_id,
                account_id=account_id,
                locale=locale,
            )
            result = {"id": user.id, "email": user.email, "role": user.role, "team_id": team_id}
    except PathcastError as error:
        fail(f"{error.code}: {error.params}")
        return
    if as_json:
        emit_json(result)
    else:
        console.print(f"created {result['role']} {result['email']} (id {result['id']})")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="E-mail of the user the token acts as.")],
    name: Annotated[str, typer.Option(help="A label to recognise the token by.")] = "cli",
    as_json: JsonOption = False,
) -> None:
    """Issue a bearer token for the API. It is printed once; only its hash is kept."""
    from pathcast.auth import service as auth_service
    from pathcast.db import unit_of_work

    migrate_database()
    with unit_of_work() as session:
        found = auth_service.get_user_by_email(session, user)
        if found is None:
            fail(f"no user with e-mail {user}")
            return
        token, secret = auth_service.create_token(session, actor=Actor.system("cli"), user=found, name=name)
        token_id = token.id
    if as_json:
        emit_json({"id": token_id, "user": user, "name": name, "token": secret})
    else:
        sys.stdout.write(secret + "\n")
        console.print(f"token {token_id} for {user}: use it as 'Authorization: Bearer <token>'")


@audit_app.command("verify")
def audit_verify(
    as_json: JsonOption = False,
    export: Annotated[
        str | None,
        typer.Option(
            "--export",
            metavar="FILE",
            help="Verify a customer's exported audit file offline (no database) instead of the log.",
        ),
    ] = None,
) -> None:
    """Walk the hash chain; exit 0 with the count checked, or 1 naming the first bad event.

    With ``--export FILE``: check that audit file offline; exit 0 intact, 1 problems
    (naming the seq), 2 unreadable."""
    if export is not None:
        from pathcast.portal.cli_audit import verify_export

        verify_export(export, as_json=as_json)
        return
    from pathcast.db import unit_of_work
    from pathcast.events import verify_chain

    with unit_of_work(write=False) as session:
        report = verify_chain(session)
    if as_json:
        emit_json(report.as_dict())
    elif report.ok:
        console.print(f"[green]ok[/green]: {report.checked} events checked, chain intact")
    else:
        console.print(
            f"[red]broken[/red]: event {report.first_bad_id}: {report.reason} "
            f"({report.checked} events before it are intact)"
        )
    if not report.ok:
        raise typer.Exit(1)


def _register_subcommands() -> None:
    from pathcast.automation.cli import rules_app
    from pathcast.crm.cli import import_app
    from pathcast.demo import demo_command
    from pathcast.forecast.cli import forecast_app, leads_app
    from pathcast.portal.cli import documents_app
    from pathcast.portal.cli_exports import export_app
    from pathcast.radar import cli_ops  # noqa: F401  (registers source add, sources, poll, signals)
    from pathcast.radar.cli import radar_app
    from pathcast.signals.cli import signals_app

    app.add_typer(import_app, name="import")
    app.add_typer(rules_app, name="rules")
    app.add_typer(signals_app, name="signals")
    app.add_typer(leads_app, name="leads")
    app.add_typer(forecast_app, name="forecast")
    app.add_typer(radar_app, name="radar")
    app.add_typer(documents_app, name="documents")
    app.add_typer(export_app, name="export")
    app.command("demo")(demo_command)


_register_subcommands()
