"""The audit file over the API (customer's own route, admin route, refusals, gzip) and
the CLI: ``pathcast audit verify --export FILE`` exits 0 / 1 naming the seq / 2, and
works with no database at all (the database URL points at a path that cannot exist)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.cli import app
from pathcast.events import Event
from pathcast.portal.audit import EXPORT_EVENT, dump, verify
from tests.portal.test_audit import ADMIN, MARKER, World, build_world

Headers = dict[str, dict[str, str]]


@pytest.fixture
def api_world(configured: str, session: Session) -> Iterator[tuple[World, Headers]]:
    world = build_world(session)
    headers: Headers = {}
    for key, person in world.users.items():
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    yield world, headers


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_api_routes_and_refusals(
    api_world: tuple[World, Headers], client: TestClient, session: Session
) -> None:
    world, headers = api_world
    own = client.get("/api/v1/portal/audit", headers=headers["customer"])
    assert own.status_code == 200, own.text
    assert own.headers["content-type"] == "application/json"
    assert "attachment" in own.headers["content-disposition"] and own.headers["x-export-id"]
    assert verify(own.content).ok and MARKER not in own.text
    assert own.json()["account"] == world.account_id
    zipped = client.get("/api/v1/portal/audit", params={"gzip": "true"}, headers=headers["customer"])
    assert zipped.headers["content-type"] == "application/gzip" and verify(zipped.content).ok
    url = f"/api/v1/accounts/{world.account_id}/audit"
    assert verify(client.get(url, headers=headers["admin"]).content).ok
    assert client.get(url, headers=headers["customer"]).status_code == 200
    other = f"/api/v1/accounts/{world.other_account_id}/audit"
    assert client.get(other, headers=headers["customer"]).status_code == 404
    assert client.get("/api/v1/accounts/999999/audit", headers=headers["admin"]).status_code == 404
    assert client.get(url, headers=headers["west_rep"]).status_code == 404
    forbidden = client.get(url, headers=headers["east_rep"])
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/portal/audit", headers=headers["admin"]).status_code == 403
    assert client.get("/api/v1/portal/audit").status_code == 401
    session.rollback()
    exported = session.scalars(select(Event).where(Event.type == EXPORT_EVENT)).all()
    assert len(exported) == 4 and {e.entity_id for e in exported} == {str(world.account_id)}


def test_cli_verifies_an_export_and_names_the_bad_seq(
    configured: str, session: Session, tmp_path: Path
) -> None:
    world = build_world(session)
    session.commit()
    raw = client_free_export(session, world)
    good = tmp_path / "audit.json"
    good.write_bytes(raw)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--export", str(good), "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    document = json.loads(raw)
    event = next(e for e in document["events"] if e["type"] == "contact.updated")
    event["actor"] = "someone else"
    bad = tmp_path / "bad.json"
    bad.write_bytes(dump(document))
    failed = runner.invoke(app, ["audit", "verify", "--export", str(bad), "--json"])
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["first_bad_seq"] == event["seq"]
    human = runner.invoke(app, ["audit", "verify", "--export", str(bad)])
    assert human.exit_code == 1 and str(event["seq"]) in human.output
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"not json")
    assert runner.invoke(app, ["audit", "verify", "--export", str(garbage)]).exit_code == 2
    assert runner.invoke(app, ["audit", "verify", "--export", str(tmp_path / "none.json")]).exit_code == 2
    # without --export the command still walks the database chain
    chain = runner.invoke(app, ["audit", "verify", "--json"])
    assert chain.exit_code == 0 and json.loads(chain.stdout)["ok"] is True


def client_free_export(session: Session, world: World) -> bytes:
    from pathcast.portal.service.audit_export import export_audit

    raw = export_audit(session, world.customer, world.account_id)
    session.commit()
    return raw


def test_cli_needs_no_database(configured: str, session: Session, tmp_path: Path) -> None:
    world = build_world(session)
    raw = client_free_export(session, world)
    path = tmp_path / "audit.json.gz"
    from pathcast.portal.audit import compress

    path.write_bytes(compress(raw))
    missing = tmp_path / "no" / "such" / "dir" / "pathcast.db"
    env = {**os.environ, "PATHCAST_DATABASE_URL": f"sqlite:///{missing}"}
    command = [
        str(Path(sys.executable).parent / "pathcast"),
        "audit",
        "verify",
        "--export",
        str(path),
        "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert not missing.parent.exists()
