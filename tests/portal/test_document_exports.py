"""Watermarked exports with the database: who gets one, what is recorded, the download
route, and ``pathcast documents verify`` with its exit codes."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record, get_writable
from pathcast.crm.service.documents import add_document_version
from pathcast.errors import Conflict, NotFound
from pathcast.events import Event, verify_chain
from pathcast.portal.cli import documents_app
from pathcast.portal.models import DocumentExport
from pathcast.portal.service.documents import export_document, verify_document, watermark_key
from pathcast.portal.watermark import verify_pdf, watermark_pdf
from tests import factories as f
from tests.api.conftest import application, client  # noqa: F401  (fixtures)


def proposal_pdf() -> bytes:
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, invariant=1)
    sheet.drawString(72, 720, "方案建议书 Proposal")
    sheet.showPage()
    sheet.save()
    return buffer.getvalue()


PDF = proposal_pdf()


def _document(session: Session, rep: Any, *, name: str, kind: str, account_id: int | None) -> m.Document:
    document: m.Document = create_record(
        session,
        actor=rep,
        spec=SPECS["document"],
        data={"name": name, "kind": kind, "account_id": account_id},
    )
    return document


def _version(session: Session, rep: Any, document: m.Document, content: bytes, content_type: str) -> None:
    writable = get_writable(session, rep, SPECS["document"], document.id)
    add_document_version(
        session,
        actor=rep,
        document=writable,
        filename="proposal-r1.pdf",
        content=content,
        content_type=content_type,
    )


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    """A proposal PDF for one account, a CSV sheet, customers of this and another account."""
    people = f.two_teams(session)
    rep = f.actor(people["east_rep"])
    account = f.account(session, rep, name="北京仁和医院", owner_id=people["east_rep"].id)
    other = f.account(session, name="上海瑞金医院")
    proposal = _document(session, rep, name="方案建议书", kind="proposal", account_id=account.id)
    _version(session, rep, proposal, PDF, "application/pdf")
    sheet = _document(session, rep, name="对比表", kind="comparison", account_id=account.id)
    _version(session, rep, sheet, "项目,衡远\n".encode(), "text/csv")
    people["customer"] = f.user(
        session, "buyer@renhe.example", role=f.Role.customer_contact, account_id=account.id
    )
    people["stranger"] = f.user(
        session, "buyer@ruijin.example", role=f.Role.customer_contact, account_id=other.id
    )
    session.commit()
    return {**people, "account": account, "proposal": proposal, "sheet": sheet}


# --- the service --------------------------------------------------------------------------


def test_an_export_is_stamped_recorded_and_logged(session: Session, world: dict[str, Any]) -> None:
    rep = f.actor(world["east_rep"])
    content, filename, export = export_document(session, rep, document_id=world["proposal"].id, version=1)
    session.commit()

    result = verify_pdf(content, key=watermark_key())
    assert result.intact and result.export_id == export.export_id and result.customer == "北京仁和医院"
    assert filename == f"proposal-r1-{export.export_id}.pdf"
    assert (export.document_id, export.version, export.account_id) == (
        world["proposal"].id,
        1,
        world["account"].id,
    )
    assert export.recipient_user_id == world["east_rep"].id and export.created_by == rep.label
    assert export.source_sha256 == hashlib.sha256(PDF).hexdigest()
    assert export.output_sha256 == hashlib.sha256(content).hexdigest()
    event = session.scalars(select(Event).where(Event.type == "document.exported")).one()
    assert (event.entity, event.entity_id) == ("document", str(world["proposal"].id))
    assert event.payload["export"]["export_id"] == export.export_id
    assert verify_chain(session).ok


def test_each_export_gets_its_own_id(session: Session, world: dict[str, Any]) -> None:
    rep = f.actor(world["east_rep"])
    first = export_document(session, rep, document_id=world["proposal"].id, version=1)[2]
    second = export_document(session, rep, document_id=world["proposal"].id, version=1)[2]
    assert first.export_id != second.export_id
    assert session.scalar(select(DocumentExport.id).where(DocumentExport.export_id == second.export_id))


def test_only_readers_get_an_export(session: Session, world: dict[str, Any]) -> None:
    proposal = world["proposal"].id
    customer = f.actor(world["customer"])
    _, _, export = export_document(session, customer, document_id=proposal, version=1)
    assert export.recipient_label == "buyer@renhe.example" and export.customer == "北京仁和医院"
    for outsider in ("stranger", "west_rep"):
        with pytest.raises(NotFound):
            export_document(session, f.actor(world[outsider]), document_id=proposal, version=1)
    with pytest.raises(NotFound):
        export_document(session, customer, document_id=proposal, version=9)
    assert (
        session.scalar(select(DocumentExport.id).where(DocumentExport.recipient_label.like("%ruijin%")))
        is None
    )


def test_a_stored_file_that_is_not_a_pdf_is_not_handed_out_unmarked(
    session: Session, world: dict[str, Any]
) -> None:
    with pytest.raises(Conflict) as error:
        export_document(session, f.actor(world["east_rep"]), document_id=world["sheet"].id, version=1)
    assert error.value.code == "document_not_watermarkable"


def test_verify_document_reports_the_export_or_why_not(session: Session, world: dict[str, Any]) -> None:
    content, _, export = export_document(
        session, f.actor(world["customer"]), document_id=world["proposal"].id, version=1
    )
    session.flush()
    report = verify_document(session, content)
    assert report.status == "intact" and report.exit_code == 0
    data = report.as_dict()
    assert data["export"]["export_id"] == export.export_id and data["export"]["document_name"] == "方案建议书"
    assert data["export"]["recipient"] == "buyer@renhe.example"

    changed = bytearray(content)
    changed[len(changed) // 2] ^= 0x20
    altered = verify_document(session, bytes(changed))
    assert (altered.status, altered.exit_code, altered.verification.reason) == (
        "altered",
        1,
        "digest_mismatch",
    )
    assert altered.export is not None and altered.export.export_id == export.export_id

    unknown = watermark_pdf(
        PDF, customer="x", date=export.watermark_date, export_id="neverissued", key=watermark_key()
    )
    assert verify_document(session, unknown).status == "unknown_export"
    assert verify_document(session, PDF).exit_code == 2


# --- the download route -------------------------------------------------------------------


def _headers(session: Session, user: Any) -> dict[str, str]:
    from pathcast.auth import service as auth_service

    _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=user)
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_download_route_serves_a_watermarked_proposal(
    session: Session,
    world: dict[str, Any],
    client: TestClient,  # noqa: F811
) -> None:
    headers = _headers(session, world["customer"])
    response = client.get(f"/api/v1/documents/{world['proposal'].id}/versions/1/content", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    result = verify_pdf(response.content, key=watermark_key())
    assert result.intact and result.customer == "北京仁和医院"
    assert result.export_id and result.export_id in response.headers["content-disposition"]
    session.expire_all()
    export = session.scalars(select(DocumentExport).where(DocumentExport.export_id == result.export_id)).one()
    assert export.recipient_user_id == world["customer"].id
    assert export.output_sha256 == hashlib.sha256(response.content).hexdigest()


def test_the_download_route_serves_other_files_as_stored_and_scopes_reads(
    session: Session,
    world: dict[str, Any],
    client: TestClient,  # noqa: F811
) -> None:
    headers = _headers(session, world["customer"])
    response = client.get(f"/api/v1/documents/{world['sheet'].id}/versions/1/content", headers=headers)
    assert response.status_code == 200 and response.content == "项目,衡远\n".encode()
    stranger = _headers(session, world["stranger"])
    hidden = client.get(f"/api/v1/documents/{world['proposal'].id}/versions/1/content", headers=stranger)
    assert hidden.status_code == 404
    session.expire_all()
    assert session.scalar(select(DocumentExport.id)) is None


# --- the CLI ------------------------------------------------------------------------------


def test_the_cli_exit_codes(session: Session, world: dict[str, Any], tmp_path: Path) -> None:
    content, _, export = export_document(
        session, f.actor(world["east_rep"]), document_id=world["proposal"].id, version=1
    )
    session.commit()
    files = {"intact.pdf": content, "plain.pdf": PDF, "note.txt": b"not a pdf"}
    changed = bytearray(content)
    changed[len(changed) // 3] ^= 0x01
    files["altered.pdf"] = bytes(changed)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    runner = CliRunner()

    intact = runner.invoke(documents_app, ["verify", str(tmp_path / "intact.pdf"), "--json"])
    assert intact.exit_code == 0, intact.output
    report = json.loads(intact.stdout)
    assert report["status"] == "intact" and report["export"]["export_id"] == export.export_id
    assert report["export"]["document_id"] == world["proposal"].id and report["export"]["version"] == 1

    altered = runner.invoke(documents_app, ["verify", str(tmp_path / "altered.pdf")])
    assert altered.exit_code == 1
    assert "已被改动" in altered.output and "Altered" in altered.output and export.export_id in altered.output

    for name in ("plain.pdf", "note.txt"):
        result = runner.invoke(documents_app, ["verify", str(tmp_path / name)])
        assert result.exit_code == 2, result.output
        assert "Not a Pathcast-watermarked PDF" in result.output
    assert runner.invoke(documents_app, ["verify", str(tmp_path / "missing.pdf")]).exit_code == 2


def test_the_cli_is_registered_as_documents() -> None:
    from pathcast.cli import app

    result = CliRunner().invoke(app, ["documents", "verify", "--help"])
    assert result.exit_code == 0 and "pathcast documents verify" in result.output
