"""Account exports on SQLite and PostgreSQL: who may export (admin, the account's own
customer contact; 404 hidden, 403 sellers), what leaves (the customer-visible projection
of what crm returns; internal markers never), the event, the ZIP manifest, constant
memory, the API and the CLI."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm import schemas as s
from pathcast.crm import service as crm
from pathcast.crm.service import documents as crm_documents
from pathcast.errors import NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.portal.export_format import FORMATS, MANIFEST, Format, project, verify_manifest
from pathcast.portal.service.exports import export_account
from tests import factories as f

ADMIN = f.SYSTEM
MARKER = "INTERNAL-NOTE-MARKER-4411"


@dataclass
class World:
    account_id: int
    other_account_id: int
    admin: Actor
    customer: Actor
    other_customer: Actor
    east_rep: Actor
    west_rep: Actor
    users: dict[str, Any]


def build_world(session: Session, *, with_files: bool = False) -> World:
    east, west = f.team(session, "East"), f.team(session, "West")
    east_rep = f.user(session, "rep@example.com", team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    admin = f.user(session, "admin@example.com", role=Role.admin)
    account = f.account(
        session, name="恒泰精密 Hengtai", notes=MARKER, owner_id=east_rep.id, external_id="X-1"
    )
    other = f.account(session, name="Other Co", notes=MARKER, owner_id=east_rep.id)
    customer = f.user(session, "buyer@hengtai.example", role=Role.customer_contact, account_id=account.id)
    other_customer = f.user(session, "buyer@other.example", role=Role.customer_contact, account_id=other.id)
    contact = f.contact(session, account_id=account.id, notes=MARKER)
    f.contact(session, account_id=other.id, name="Not theirs", notes=MARKER)
    f.activity(session, account_id=account.id, contact_id=contact.id, body=MARKER, subject="=HYPERLINK(1)")
    f.activity(session, account_id=other.id, body=MARKER, subject="other account's call")
    crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["ticket"],
        data={
            "account_id": account.id,
            "subject": "PLC 通讯中断",
            "owner_id": east_rep.id,
            "opened_at": datetime(2026, 2, 1, tzinfo=UTC),
        },
    )
    contract = crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["contract"],
        data={"account_id": account.id, "number": "C-1", "value": 1000},
    )
    crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["subscription"],
        data={"contract_id": contract.id, "start_date": date(2026, 1, 1), "annual_value": 500},
    )
    deal = f.opportunity(session, ADMIN, account_id=account.id, description=MARKER)
    crm.create_quote(session, actor=ADMIN, data={"opportunity_id": deal.id, "notes": MARKER})
    shared = crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["document"],
        data={"name": "Proposal", "kind": "proposal", "account_id": account.id, "audience": "customer"},
    )
    crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["document"],
        data={"name": "Pricing strategy", "account_id": account.id, "audience": "internal"},
    )
    if with_files:
        crm_documents.add_document_version(
            session, actor=ADMIN, document=shared, filename="p.txt", content=b"v1", content_type="text/plain"
        )
    session.flush()
    return World(
        account_id=account.id,
        other_account_id=other.id,
        admin=f.actor(admin),
        customer=f.actor(customer),
        other_customer=f.actor(other_customer),
        east_rep=f.actor(east_rep),
        west_rep=f.actor(west_rep),
        users={"admin": admin, "customer": customer, "east_rep": east_rep, "west_rep": west_rep},
    )


def _run(session: Session, actor: Actor, account_id: int, fmt: Format = "json", **kwargs: Any) -> bytes:
    out = io.BytesIO()
    export_account(session, actor, account_id, fmt=fmt, out=out, **kwargs)
    return out.getvalue()


def _text(fmt: Format, payload: bytes) -> str:
    if fmt != "zip":
        return payload.decode("utf-8")
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return "\n".join(archive.read(name).decode("utf-8") for name in archive.namelist())


# --- what leaves ------------------------------------------------------------------------


def test_json_round_trip_equals_the_projection_of_what_crm_returns(session: Session) -> None:
    world = build_world(session)
    document = json.loads(_run(session, world.admin, world.account_id))
    datasets = document["datasets"]
    account = crm.get_readable(session, world.admin, crm.SPECS["account"], world.account_id)
    assert datasets["accounts"] == [project(s.AccountRead, account)]
    assert "notes" not in datasets["accounts"][0] and "external_id" not in datasets["accounts"][0]
    for name, entity, column in [
        ("contacts", "contact", m.Contact.account_id),
        ("activities", "activity", m.Activity.account_id),
        ("tickets", "ticket", m.Ticket.account_id),
        ("documents", "document", m.Document.account_id),
        ("contracts", "contract", m.Contract.account_id),
    ]:
        spec = crm.SPECS[entity]
        rows = session.scalars(
            crm.readable_query(world.admin, spec).where(column == world.account_id).order_by(spec.model.id)
        )
        assert datasets[name] == [project(spec.read_schema, row) for row in rows], name
    assert len(datasets["subscriptions"]) == 1 and len(datasets["quotes"]) == 1
    assert MARKER not in json.dumps(document)
    assert "Other Co" not in json.dumps(document) and "other account's call" not in json.dumps(document)


@pytest.mark.parametrize("fmt", FORMATS)
def test_customer_exports_own_account_without_internal_content(session: Session, fmt: Format) -> None:
    world = build_world(session)
    payload = _run(session, world.customer, world.account_id, fmt)
    content = _text(fmt, payload)
    assert MARKER not in content
    assert "恒泰精密" in content and "Proposal" in content
    assert "Pricing strategy" not in content  # crm hides internal-audience documents from customers
    assert "Not theirs" not in content


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # NUL is left out: PostgreSQL text cannot hold it and crm does not refuse it yet (noted)
    notes=st.lists(
        st.text(st.characters(blacklist_characters="\x00"), min_size=1, max_size=30), min_size=1, max_size=4
    ),
    fmt=st.sampled_from(FORMATS),
)
def test_random_internal_fields_never_appear_in_any_format(
    session: Session, notes: list[str], fmt: Format
) -> None:
    account = f.account(session, name="Prop Co", notes=MARKER + notes[0])
    for index, note in enumerate(notes):
        marked = f"{MARKER}{index}{note}"
        f.contact(session, account_id=account.id, name=f"c{index}", notes=marked)
        f.activity(session, account_id=account.id, subject=f"s{index}", body=marked, due_at=None)
        deal = f.opportunity(session, ADMIN, account_id=account.id, description=marked)
        crm.create_quote(session, actor=ADMIN, data={"opportunity_id": deal.id, "notes": marked})
    content = _text(fmt, _run(session, ADMIN, account.id, fmt))
    assert MARKER not in content
    session.rollback()


def test_export_appends_an_event_and_reports_progress(session: Session) -> None:
    world = build_world(session)
    calls: list[tuple[str, int]] = []
    _run(
        session,
        world.customer,
        world.account_id,
        "zip",
        progress=lambda name, rows: calls.append((name, rows)),
    )
    event = session.scalars(select(Event).where(Event.type == "account.exported")).one()
    assert event.entity == "account" and event.entity_id == str(world.account_id)
    assert event.actor == world.customer.label
    assert event.payload["format"] == "zip" and event.payload["counts"]["contacts"] == 1
    assert event.payload["counts"]["documents"] == 1
    # a customer contact's role reads no activities, contracts or quotes in crm
    assert "activities" in event.payload["skipped"]
    assert ("contacts", 1) in calls and ("accounts", 1) in calls


def test_zip_manifest_verifies(session: Session, tmp_path: Path) -> None:
    world = build_world(session)
    path = tmp_path / "export.zip"
    path.write_bytes(_run(session, world.admin, world.account_id, "zip"))
    report = verify_manifest(path)
    assert report.ok, report
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(MANIFEST))
    names = {entry["name"] for entry in manifest["files"]}
    assert {
        "accounts.json",
        "activities.json",
        "document_versions.json",
        "schema.json",
        "retained.json",
    } <= names
    activities = next(e for e in manifest["files"] if e["name"] == "activities.json")
    assert activities["fields"]["body"] == "internal" and activities["rows"] == 1


def test_document_versions_are_listed(configured: str, session: Session) -> None:
    world = build_world(session, with_files=True)
    versions = json.loads(_run(session, world.customer, world.account_id))["datasets"]["document_versions"]
    assert [(v["filename"], v["version"]) for v in versions] == [("p.txt", 1)]
    assert "sha256" not in versions[0] and "created_by_id" not in versions[0]


# --- refusals ---------------------------------------------------------------------------


def test_refusals(session: Session) -> None:
    world = build_world(session)
    with pytest.raises(NotFound):
        _run(session, world.other_customer, world.account_id)
    with pytest.raises(NotFound):
        _run(session, world.customer, world.other_account_id)
    with pytest.raises(NotFound):
        _run(session, world.west_rep, world.account_id)  # cannot see it at all
    with pytest.raises(PermissionDenied):
        _run(session, world.east_rep, world.account_id)  # sees it, may not export it
    with pytest.raises(NotFound):
        _run(session, world.admin, 999_999)
    assert session.scalars(select(Event).where(Event.type == "account.exported")).first() is None


# --- constant memory --------------------------------------------------------------------


def _bulk_activities(session: Session, account_id: int, count: int, start: int) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "kind": "call",
            "subject": f"Call {start + index} about the line",
            "body": MARKER * 4,
            "account_id": account_id,
            "occurred_at": when + timedelta(minutes=index),
            "created_at": when,
            "updated_at": when,
        }
        for index in range(count)
    ]
    session.execute(insert(m.Activity), rows)
    session.flush()


def _peak(session: Session, account_id: int) -> tuple[int, int]:
    sink = _NullSink()
    tracemalloc.start()
    try:
        summary = export_account(session, ADMIN, account_id, fmt="zip", out=sink)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary.counts["activities"], peak


class _NullSink(io.RawIOBase):
    """A write-only, unseekable sink (as a network stream is): memory stays out of it."""

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def test_memory_does_not_grow_with_the_account(session: Session) -> None:
    account = f.account(session, name="Big Co")
    _bulk_activities(session, account.id, 10_000, 0)
    small_rows, small_peak = _peak(session, account.id)
    _bulk_activities(session, account.id, 10_000, 10_000)
    large_rows, large_peak = _peak(session, account.id)
    print(f"\nexport peak memory: {small_rows} rows {small_peak} B, {large_rows} rows {large_peak} B")
    assert (small_rows, large_rows) == (10_000, 20_000)
    assert large_peak < 8 * 1024 * 1024
    assert large_peak < small_peak * 1.3 + 256 * 1024


# --- API and CLI ------------------------------------------------------------------------


@pytest.fixture
def api_world(configured: str, session: Session) -> Iterator[tuple[World, dict[str, dict[str, str]]]]:
    world = build_world(session)
    headers: dict[str, dict[str, str]] = {}
    for key, person in world.users.items():
        _, secret = auth_service.create_token(session, actor=ADMIN, user=person)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    yield world, headers


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def test_api_streams_each_format_and_refuses(
    api_world: tuple[World, dict[str, dict[str, str]]], client: TestClient, tmp_path: Path
) -> None:
    world, headers = api_world
    url = f"/api/v1/accounts/{world.account_id}/export"
    zipped = client.get(url, params={"format": "zip"}, headers=headers["admin"])
    assert zipped.status_code == 200, zipped.text
    assert zipped.headers["content-type"] == "application/zip"
    assert "attachment" in zipped.headers["content-disposition"]
    path = tmp_path / "api.zip"
    path.write_bytes(zipped.content)
    assert verify_manifest(path).ok
    as_json = client.get(url, headers=headers["customer"])
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    assert as_json.json()["account"]["id"] == world.account_id
    as_csv = client.get(url, params={"format": "csv"}, headers=headers["customer"])
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith("\ufeff".encode()) and MARKER not in as_csv.text
    other = f"/api/v1/accounts/{world.other_account_id}/export"
    assert client.get(other, headers=headers["customer"]).status_code == 404
    assert client.get(url, headers=headers["west_rep"]).status_code == 404
    assert client.get(url, headers=headers["east_rep"]).status_code == 403
    assert client.get(url, params={"format": "xml"}, headers=headers["admin"]).status_code == 422
    assert client.get(url).status_code == 401


def test_cli_exports_and_verifies(configured: str, session: Session, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pathcast.cli import app

    world = build_world(session)
    session.commit()
    runner = CliRunner()
    out = tmp_path / "cli.zip"
    result = runner.invoke(app, ["export", "account", str(world.account_id), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"]["activities"] == 1 and out.is_file()
    verified = runner.invoke(app, ["export", "verify", str(out)])
    assert verified.exit_code == 0, verified.output
    altered = tmp_path / "altered.zip"
    with zipfile.ZipFile(out) as old, zipfile.ZipFile(altered, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "tickets.json":
                data = data.replace(b"PLC", b"PLX")
            new.writestr(info.filename, data)
    failed = runner.invoke(app, ["export", "verify", str(altered), "--json"])
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["altered"] == ["tickets.json"]
    missing = runner.invoke(app, ["export", "account", "999999", "--out", str(tmp_path / "x.zip")])
    assert missing.exit_code == 1
