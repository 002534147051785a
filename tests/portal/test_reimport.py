"""The re-import path: export an account (SQLite and PostgreSQL), verify the manifest,
import into an empty SQLite instance, export again and compare record by record. Also:
idempotence, refusal of an altered file, rejected rows reported with the rest kept, the
CLI."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.crm.service import documents as crm_documents
from pathcast.db import dispose_engines, session_factory, write_intent
from pathcast.events import Event
from pathcast.portal.export_format import MANIFEST, verify_manifest
from pathcast.portal.service.exports import export_account
from pathcast.portal.service.reimport import (
    EXTERNAL_SOURCE,
    REFS,
    UNMAPPABLE,
    ImportRefused,
    import_export,
)
from tests import factories as f
from tests.portal.test_account_export import ADMIN, build_world

METADATA = {"export_id", "created_at", "schema_version"}


def rich_world(session: Session) -> int:
    """The export tests' world plus what a round trip must carry: dated activities tied
    to a contact and a deal, several versions, a quote with lines, a ticket's contact."""
    world = build_world(session, with_files=True)
    account_id = world.account_id
    contact = f.contact(session, account_id=account_id, name="李工 Li", email="li@hengtai.example")
    deal = f.opportunity(session, ADMIN, account_id=account_id, name="Line 2")
    for minute in range(3):
        f.activity(
            session,
            account_id=account_id,
            contact_id=contact.id,
            opportunity_id=deal.id,
            subject=f"现场调试 {minute}",
            occurred_at=datetime(2025, 3, 1, 9, minute, tzinfo=UTC),
        )
    crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["ticket"],
        data={"account_id": account_id, "contact_id": contact.id, "subject": "Spindle", "severity": "high",
              "opened_at": datetime(2025, 4, 2, 8, tzinfo=UTC)},
    )  # fmt: skip
    document = crm.create_record(
        session,
        actor=ADMIN,
        spec=crm.SPECS["document"],
        data={"name": "报价书 Quote letter", "kind": "proposal", "account_id": account_id},
    )
    for number, body in enumerate((b"%PDF-1.4 first", b"%PDF-1.4 second, longer"), start=1):
        crm_documents.add_document_version(
            session, actor=ADMIN, document=document, filename=f"q{number}.pdf", content=body,
            content_type="application/pdf", note=f"v{number}",
        )  # fmt: skip
    quote = crm.create_quote(session, actor=ADMIN, data={"opportunity_id": deal.id, "discount_pct": 5})
    for price in (100, 250):
        crm.add_quote_line(
            session, actor=ADMIN, data={"quote_id": quote.id, "description": f"Module {price}",
                                        "quantity": 2, "unit_price": price},
        )  # fmt: skip
    session.flush()
    return account_id


def export_zip(session: Session, account_id: int) -> bytes:
    buffer = io.BytesIO()
    export_account(session, ADMIN, account_id, fmt="zip", out=buffer)
    session.commit()
    return buffer.getvalue()


def datasets_of(blob: bytes) -> dict[str, list[dict[str, Any]]]:
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        manifest = json.loads(archive.read(MANIFEST))
        return {
            entry["name"].removesuffix(".json"): json.loads(archive.read(entry["name"]))
            for entry in manifest["files"]
            if entry["name"] not in ("schema.json", "retained.json")
        }


def comparable(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Records without ids: a reference becomes the position of its target in the export
    (deals, never exported, by the order of their ids); owners, parents and products,
    which no export carries, are dropped."""
    rank = {name: {row["id"]: index for index, row in enumerate(rows)} for name, rows in data.items()}
    deals = sorted(
        {r["opportunity_id"] for ds in ("activities", "quotes") for r in data.get(ds, [])} - {None}
    )
    rank["deals"] = {old: index for index, old in enumerate(deals)}
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in data.items():
        out[name] = [
            {
                key: (rank[REFS[name][key]][value] if key in REFS[name] and value is not None else value)
                for key, value in row.items()
                if key != "id" and key not in UNMAPPABLE
            }
            for row in rows
        ]
    return out


@pytest.fixture
def fresh_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated SQLite instance beside the test's own database."""
    path = tmp_path / "fresh.db"
    shutil.copy(sqlite_template, path)
    yield f"sqlite:///{path}"
    dispose_engines()


def in_fresh(url: str, work: Callable[[Session], Any]) -> Any:
    with write_intent():
        db = session_factory(url)()
        try:
            result = work(db)
            db.commit()
            return result
        finally:
            db.close()


def test_round_trip_into_an_empty_instance_loses_nothing_exportable(
    configured: str, session: Session, fresh_url: str
) -> None:
    first = export_zip(session, rich_world(session))
    assert verify_manifest(io.BytesIO(first)).ok
    imported = in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(first)))
    assert imported.rejected == []
    assert imported.created["activities"] == 4 and imported.created["quote_lines"] == 2
    second = in_fresh(fresh_url, lambda db: export_zip(db, imported.account_id))
    before, after = datasets_of(first), datasets_of(second)
    assert set(before) == set(after)
    for name in before:
        assert comparable(after)[name] == comparable(before)[name], name
    # timestamps kept, references re-pointed, origin recorded
    assert [a["occurred_at"] for a in after["activities"]] == [a["occurred_at"] for a in before["activities"]]
    assert [v["created_at"] for v in after["document_versions"]] == [
        v["created_at"] for v in before["document_versions"]
    ]

    def origin(db: Session) -> tuple[Any, ...]:
        account = db.get(m.Account, imported.account_id)
        assert account is not None
        contacts = db.scalars(select(m.Contact.external_id).where(m.Contact.account_id == account.id))
        return account.external_source, account.external_id, sorted(contacts)

    source, external_id, contacts = in_fresh(fresh_url, origin)
    assert (source, external_id) == (EXTERNAL_SOURCE, str(before["accounts"][0]["id"]))
    assert contacts == sorted(str(c["id"]) for c in before["contacts"])


def test_importing_twice_duplicates_nothing_and_writes_events(
    configured: str, session: Session, fresh_url: str
) -> None:
    blob = export_zip(session, rich_world(session))
    first = in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(blob)))
    second = in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(blob)))
    assert second.account_id == first.account_id
    assert dict(second.created) == {} and second.rejected == []
    assert dict(second.existing) == {k: v for k, v in first.created.items() if k != "deals"}

    def counts(db: Session) -> tuple[int, int, int, list[str]]:
        types = list(db.scalars(select(Event.type).where(Event.type.like("%.imported"))))
        return (
            db.scalar(select(func.count()).select_from(m.Account)) or 0,
            db.scalar(select(func.count()).select_from(m.Activity)) or 0,
            db.scalar(select(func.count()).select_from(Event).where(Event.type == "activity.created")) or 0,
            types,
        )

    accounts, activities, created_events, types = in_fresh(fresh_url, counts)
    assert (accounts, activities, created_events) == (1, 4, 4)
    assert types == ["account.imported", "account.imported"]


def rewrite(blob: bytes, name: str, change: Callable[[bytes], bytes], *, fix_manifest: bool) -> bytes:
    """A copy of the ZIP with one member changed (and, if asked, its manifest entry)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as old, zipfile.ZipFile(out, "w") as new:
        manifest = json.loads(old.read(MANIFEST))
        for info in old.infolist():
            if info.filename == MANIFEST:
                continue
            data = old.read(info.filename)
            if info.filename == name:
                data = change(data)
                for entry in manifest["files"]:
                    if entry["name"] == name and fix_manifest:
                        entry.update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
            new.writestr(info.filename, data)
        new.writestr(MANIFEST, json.dumps(manifest))
    return out.getvalue()


def test_an_altered_export_is_refused_and_nothing_written(
    configured: str, session: Session, fresh_url: str
) -> None:
    blob = export_zip(session, rich_world(session))
    altered = rewrite(blob, "tickets.json", lambda d: d.replace(b"Spindle", b"Spindlf"), fix_manifest=False)
    with pytest.raises(ImportRefused, match=r"tickets\.json"):
        in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(altered)))
    with pytest.raises(ImportRefused, match="not a readable"):
        in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(b"not a zip")))
    nameless = rewrite(
        blob, "accounts.json", lambda d: d.replace(b'"name":"', b'"name":null,"x":"'), fix_manifest=True
    )
    with pytest.raises(ImportRefused, match="account row cannot be imported: name"):
        in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(nameless)))
    count = in_fresh(fresh_url, lambda db: db.scalar(select(func.count()).select_from(m.Account)))
    assert count == 0


def test_bad_rows_are_reported_and_the_rest_kept(configured: str, session: Session, fresh_url: str) -> None:
    blob = export_zip(session, rich_world(session))

    def spoil(data: bytes) -> bytes:
        rows = json.loads(data)
        rows[0]["kind"] = "carrier pigeon"  # not an activity kind
        rows[1]["contact_id"] = 999_999  # a contact the export does not hold
        return json.dumps(rows).encode()

    spoiled = rewrite(blob, "activities.json", spoil, fix_manifest=True)
    result = in_fresh(fresh_url, lambda db: import_export(db, ADMIN, io.BytesIO(spoiled)))
    assert [(r["dataset"], r["row"]) for r in result.rejected] == [("activities", 1), ("activities", 2)]
    assert "kind" in result.rejected[0]["reason"] and "contact_id" in result.rejected[1]["reason"]
    assert result.created["activities"] == 2 and result.created["quote_lines"] == 2


def test_cli_imports_and_refuses(configured: str, session: Session, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pathcast.cli import app

    account_id = build_world(session).account_id
    session.commit()
    runner = CliRunner()
    out = tmp_path / "a.zip"
    assert runner.invoke(app, ["export", "account", str(account_id), "--out", str(out)]).exit_code == 0
    # the same instance: the origin is a different account, so this is a copy of it
    result = runner.invoke(app, ["import", "pathcast-export", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] and summary["account_id"] != account_id
    assert summary["created"]["contacts"] == 1
    again = runner.invoke(app, ["import", "pathcast-export", str(out), "--json"])
    assert json.loads(again.stdout)["created"] == {}
    bad = tmp_path / "bad.zip"
    bad.write_bytes(rewrite(out.read_bytes(), "contacts.json", lambda d: d + b" ", fix_manifest=False))
    refused = runner.invoke(app, ["import", "pathcast-export", str(bad)])
    assert refused.exit_code == 2 and "contacts.json" in refused.output
