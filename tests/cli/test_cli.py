"""The command line: init, users, tokens, audit verification."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from pathcast.app import create_app
from pathcast.cli import app

runner = CliRunner()


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["init", "--help"],
        ["serve", "--help"],
        ["user", "create", "--help"],
        ["token", "create", "--help"],
        ["audit", "verify", "--help"],
        ["import", "crm", "--help"],
        ["demo", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)


def test_user_token_and_api_round_trip(configured: str) -> None:
    assert runner.invoke(app, ["init", "--json"]).exit_code == 0
    created = runner.invoke(
        app,
        [
            "user",
            "create",
            "--email",
            "Lin@Example.com",
            "--name",
            "林",
            "--role",
            "manager",
            "--team",
            "华东",
            "--password",
            "long-password",
            "--json",
        ],
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["email"] == "lin@example.com"
    duplicate = runner.invoke(
        app, ["user", "create", "--email", "lin@example.com", "--password", "long-password"]
    )
    assert duplicate.exit_code == 1 and "user_exists" in duplicate.output
    issued = runner.invoke(app, ["token", "create", "--user", "lin@example.com", "--json"])
    assert issued.exit_code == 0, issued.output
    token = json.loads(issued.stdout)["token"]
    with TestClient(create_app()) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["role"] == "manager"
    missing = runner.invoke(app, ["token", "create", "--user", "nobody@example.com"])
    assert missing.exit_code == 1


def test_short_password_is_refused(configured: str) -> None:
    result = runner.invoke(app, ["user", "create", "--email", "a@example.com", "--password", "short"])
    assert result.exit_code == 1
    assert "8 characters" in result.output


def test_audit_verify_names_an_event_edited_in_the_database(configured: str) -> None:
    runner.invoke(app, ["init"])
    for i in range(3):
        runner.invoke(app, ["user", "create", "--email", f"u{i}@example.com", "--password", "long-password"])
    ok = runner.invoke(app, ["audit", "verify", "--json"])
    assert ok.exit_code == 0, ok.output
    checked = json.loads(ok.stdout)["checked"]
    assert checked > 3
    # Edit one row behind the service's back, as someone with psql or sqlite3 could.
    engine = create_engine(configured)
    with engine.begin() as connection:
        connection.execute(text("UPDATE events SET actor = 'mallory' WHERE id = 5"))
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "event 5" in broken.output
    report = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)
    assert report == {
        "ok": False,
        "checked": 4,
        "first_bad_id": 5,
        "reason": "hash does not match the event's content",
    }
