"""``pathcast rules …``: compile sentences, manage rules, dry-run them, run the worker.

Registered by ``pathcast.cli``. Exit codes: 0 done, 1 refused or not found, 2 the
sentence does not compile (the error names the span and suggestions).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

import typer
from rich.console import Console

from pathcast.auth.permissions import Actor

rules_app = typer.Typer(help="Rules written in plain Chinese or English.", no_args_is_help=True)
console = Console(stderr=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
LangOption = Annotated[str, typer.Option("--lang", help="zh or en.")]
AsUser = Annotated[
    str | None,
    typer.Option("--as", help="E-mail of the user acting (default: the system, with admin rights)."),
]


def _emit(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _check_lang(lang: str) -> str:
    if lang not in ("zh", "en"):
        _fail("--lang must be zh or en")
    return lang


def _actor(session: Any, email: str | None) -> Actor:
    if email is None:
        return Actor.system("cli")
    from pathcast.auth.service import get_user_by_email

    user = get_user_by_email(session, email)
    if user is None:
        _fail(f"no user with e-mail {email}")
    assert user is not None
    return Actor.for_user(user)


def _compile_or_exit(session: Any, text: str, lang: str, as_json: bool) -> Any:
    from pathcast.automation.language import CompileError, build_vocabulary, compile_rule

    try:
        return compile_rule(text, lang, build_vocabulary(session))  # type: ignore[arg-type]
    except CompileError as error:
        start, end = error.span
        if as_json:
            _emit({"error": error.code, "message": {"zh": error.message_zh, "en": error.message_en},
                   "errors": error.as_problem_errors()})  # fmt: skip
        else:
            console.print(f"[red]{error.message_zh}[/red]\n{error.message_en}")
            console.print(f"  {text}\n  {' ' * start}{'^' * max(1, end - start)}")
            if error.expected:
                console.print(f"  expected: {', '.join(error.expected)}")
            if error.suggestions:
                console.print(f"  did you mean: {', '.join(error.suggestions)}")
        raise typer.Exit(2) from None


@rules_app.command("compile")
def compile_command(
    text: Annotated[str, typer.Argument(help="The rule, e.g. 商机赢单后通知实施总监")],
    lang: LangOption = "zh",
    as_json: JsonOption = False,
) -> None:
    """Show the IR and the read-back of a sentence; nothing is saved."""
    from pathcast.db import unit_of_work

    _check_lang(lang)
    with unit_of_work(write=False) as session:
        result = _compile_or_exit(session, text, lang, as_json)
    document = {
        "ir": result.ir.model_dump(mode="json", by_alias=True),
        "readback": {"zh": result.readback_zh, "en": result.readback_en},
        "warnings": list(result.warnings),
    }
    if as_json:
        _emit(document)
    else:
        console.print(f"[bold]{result.readback_zh}[/bold]\n{result.readback_en}")
        _emit(document["ir"])


def _rule_json(session: Any, actor: Actor, rule_id: int) -> dict[str, Any]:
    from pathcast.automation.service import rules

    rule = rules.get_rule(session, rule_id=rule_id, actor=actor)
    version = rules.get_version(session, rule_id=rule_id, actor=actor)
    return {
        **rules.describe_rule(rule),
        "text": version.text,
        "lang": version.lang,
        "readback": {"zh": version.readback_zh, "en": version.readback_en},
        "ir": version.ir,
        "run_counts": rules.run_counts(session, [rule_id])[rule_id],
    }


def _guarded(action: Any) -> Any:
    from pathcast.errors import PathcastError

    try:
        return action()
    except PathcastError as error:
        _fail(f"{error.code} {error.params}")


@rules_app.command("create")
def create_command(
    text: Annotated[str, typer.Argument(help="The rule in plain words.")],
    lang: LangOption = "zh",
    name: Annotated[str | None, typer.Option(help="A short name (default: the sentence).")] = None,
    enable: Annotated[bool, typer.Option("--enable", help="Enable it right away.")] = False,
    as_user: AsUser = None,
    as_json: JsonOption = False,
) -> None:
    """Compile and save a rule (disabled unless --enable)."""
    from pathcast.automation.service import rules
    from pathcast.db import unit_of_work

    _check_lang(lang)
    with unit_of_work() as session:
        actor = _actor(session, as_user)
        result = _compile_or_exit(session, text, lang, as_json)

        def create() -> dict[str, Any]:
            rule = rules.create_rule(
                session,
                name=name,
                text=text,
                lang=lang,
                ir=result.ir,
                readback_zh=result.readback_zh,
                readback_en=result.readback_en,
                actor=actor,
            )
            if enable:
                rules.enable_rule(session, rule_id=rule.id, actor=actor)
            return _rule_json(session, actor, rule.id)

        document = _guarded(create)
    if as_json:
        _emit(document)
    else:
        state = "enabled" if document["is_enabled"] else "disabled"
        console.print(f"rule {document['id']} created ({state}): {document['readback']['zh']}")


@rules_app.command("list")
def list_command(as_user: AsUser = None, as_json: JsonOption = False) -> None:
    """List rules with their state, version and run counts."""
    from pathcast.automation.service import rules
    from pathcast.db import unit_of_work

    with unit_of_work(write=False) as session:
        actor = _actor(session, as_user)
        rows = [
            {
                **rules.describe_rule(summary.rule),
                "text": summary.version.text,
                "run_counts": summary.run_counts,
            }
            for summary in rules.list_rules(session, actor=actor)
        ]
    if as_json:
        _emit(rows)
        return
    for row in rows:
        state = "on " if row["is_enabled"] else "off"
        runs = sum(row["run_counts"].values())
        sys.stdout.write(
            f"{row['id']:>4}  {state}  v{row['current_version']}  runs {runs:<5} {row['name']}\n"
        )


@rules_app.command("show")
def show_command(rule: Annotated[int, typer.Argument(help="Rule id.")], as_user: AsUser = None) -> None:
    """Show a rule: its sentence, read-back, IR and run counts (JSON)."""
    from pathcast.db import unit_of_work

    with unit_of_work(write=False) as session:
        actor = _actor(session, as_user)
        _emit(_guarded(lambda: _rule_json(session, actor, rule)))


def _toggle(rule: int, as_user: str | None, as_json: bool, enable: bool) -> None:
    from pathcast.automation.service import rules
    from pathcast.db import unit_of_work

    with unit_of_work() as session:
        actor = _actor(session, as_user)
        change = rules.enable_rule if enable else rules.disable_rule
        _guarded(lambda: change(session, rule_id=rule, actor=actor))
        document = _rule_json(session, actor, rule)
    if as_json:
        _emit(document)
    else:
        console.print(f"rule {rule} {'enabled' if enable else 'disabled'}")


@rules_app.command("enable")
def enable_command(
    rule: Annotated[int, typer.Argument()], as_user: AsUser = None, as_json: JsonOption = False
) -> None:
    """Enable a rule: it fires on events from now on."""
    _toggle(rule, as_user, as_json, enable=True)


@rules_app.command("disable")
def disable_command(
    rule: Annotated[int, typer.Argument()], as_user: AsUser = None, as_json: JsonOption = False
) -> None:
    """Disable a rule."""
    _toggle(rule, as_user, as_json, enable=False)


def _parse_day(value: str, option: str, end: bool = False) -> datetime:
    try:
        if "T" in value:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        day = date.fromisoformat(value)
    except ValueError:
        _fail(f"{option} must be a date YYYY-MM-DD or an ISO 8601 date-time, not {value!r}")
        raise
    # A date means the whole day: --until 2026-11-30 includes the 30th.
    return datetime.combine(day, time.max if end else time.min, UTC)


@rules_app.command("dry-run")
def dry_run_command(
    rule: Annotated[str, typer.Argument(help="A rule id, or a sentence in quotes.")],
    since: Annotated[str, typer.Option("--since", help="Start date (YYYY-MM-DD or ISO date-time).")],
    until: Annotated[str, typer.Option("--until", help="End date, inclusive.")],
    lang: LangOption = "zh",
    limit: Annotated[int, typer.Option(help="At most this many fires.")] = 200,
    as_user: AsUser = None,
    as_json: JsonOption = False,
) -> None:
    """Replay the event log between two dates: what the rule would have done, and why. Nothing is done."""
    from pathcast.automation.engine.dryrun import dry_run
    from pathcast.automation.service import rules
    from pathcast.db import unit_of_work

    start, end = _parse_day(since, "--since"), _parse_day(until, "--until", end=True)
    if end <= start:
        _fail("--until must be after --since")
    with unit_of_work(write=False) as session:
        actor = _actor(session, as_user)
        if rule.isdigit():
            ir = _guarded(lambda: rules.current_ir(session, rule_id=int(rule), actor=actor))
        else:
            ir = _compile_or_exit(session, rule, _check_lang(lang), as_json).ir
        fires = [fire.as_dict() for fire in dry_run(session, ir=ir, since=start, until=end, limit=limit)]
    if as_json:
        _emit({"since": start, "until": end, "fires": fires})
        return
    console.print(f"{len(fires)} fire(s) between {start:%Y-%m-%d} and {end:%Y-%m-%d}")
    for fire in fires:
        sys.stdout.write(f"{fire['at']}  {fire['reason']}\n")
        for action in fire.get("actions", []):
            sys.stdout.write(f"    → {action.get('description', action)}\n")


@rules_app.command("worker")
def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Process what is due, then exit.")] = False,
) -> None:
    """Run the automation engine (matching, runs, timers) in this process until stopped."""
    from pathcast.automation.engine.worker import run_worker

    run_worker(once_until_idle=once)
