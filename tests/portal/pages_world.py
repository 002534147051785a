"""A shared world for the portal pages tests: two accounts with communications, documents,
tickets, a customer contact of each, staff, and bearer-token headers per person."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from reportlab.pdfgen import canvas
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record, get_writable
from pathcast.crm.service.documents import add_document_version
from pathcast.db import utcnow
from tests import factories as f

SECRET = "INTERNAL-MARKER-7f3a"


def proposal_pdf() -> bytes:
    buffer = io.BytesIO()
    sheet = canvas.Canvas(buffer, invariant=1)
    sheet.drawString(72, 720, "Proposal")
    sheet.showPage()
    sheet.save()
    return buffer.getvalue()


def document(session: Session, who: Any, *, name: str, kind: str, account_id: int | None) -> m.Document:
    record: m.Document = create_record(
        session,
        actor=who,
        spec=SPECS["document"],
        data={"name": name, "kind": kind, "account_id": account_id},
    )
    return record


def version(
    session: Session, who: Any, doc: m.Document, content: bytes, content_type: str, filename: str
) -> None:
    add_document_version(
        session,
        actor=who,
        document=get_writable(session, who, SPECS["document"], doc.id),
        filename=filename,
        content=content,
        content_type=content_type,
    )


def ticket(
    session: Session, account_id: int, *, opened: datetime, hours: float | None, severity: str
) -> m.Ticket:
    data: dict[str, Any] = {
        "account_id": account_id,
        "subject": f"工单 {severity}",
        "severity": severity,
        "opened_at": opened,
    }
    if hours is not None:
        data["resolved_at"] = opened + timedelta(hours=hours)
        data["status"] = "resolved"
    record: m.Ticket = create_record(session, actor=f.SYSTEM, spec=SPECS["ticket"], data=data)
    return record


def build(session: Session) -> dict[str, Any]:
    """Account "ours" (the customer's) and "other", each with a bit of everything."""
    people = f.two_teams(session)
    rep = f.actor(people["east_rep"])
    ours = f.account(session, rep, name="北京仁和医院", owner_id=people["east_rep"].id)
    other = f.account(session, name="上海瑞金医院")
    buyer = f.contact(session, name="李主任", email="li@renhe.example", account_id=ours.id)
    foreign = f.contact(session, name="赵主任", email="zhao@ruijin.example", account_id=other.id)
    now = utcnow()
    f.activity(
        session, rep, kind="meeting", subject="方案沟通会", body=SECRET, account_id=ours.id,
        contact_id=buyer.id, owner_id=people["east_rep"].id, occurred_at=now - timedelta(days=2),
        duration_minutes=45,
    )  # fmt: skip
    f.activity(session, rep, kind="note", subject="内部备注 internal", account_id=ours.id)
    f.activity(session, kind="call", subject="瑞金来电", account_id=other.id, contact_id=foreign.id)
    proposal = document(session, rep, name="方案建议书", kind="proposal", account_id=ours.id)
    version(session, rep, proposal, proposal_pdf(), "application/pdf", "proposal-r1.pdf")
    version(session, rep, proposal, proposal_pdf(), "application/pdf", "proposal-r2.pdf")
    sheet = document(session, rep, name="对比表", kind="comparison", account_id=ours.id)
    version(session, rep, sheet, "项目,衡远\n".encode(), "text/csv", "sheet.csv")
    theirs = document(session, f.SYSTEM, name="瑞金方案", kind="proposal", account_id=other.id)
    version(session, f.SYSTEM, theirs, proposal_pdf(), "application/pdf", "ruijin.pdf")
    month = datetime(now.year, now.month, 1, 9, tzinfo=UTC)
    ticket(session, ours.id, opened=month, hours=4, severity="critical")  # within 8 h
    ticket(session, ours.id, opened=month, hours=100, severity="normal")  # over 72 h
    ticket(session, ours.id, opened=month, hours=None, severity="low")  # still open
    ticket(session, other.id, opened=month, hours=1, severity="low")
    people["customer"] = f.user(
        session, "buyer@renhe.example", role=f.Role.customer_contact, account_id=ours.id
    )
    people["stranger"] = f.user(
        session, "buyer@ruijin.example", role=f.Role.customer_contact, account_id=other.id
    )
    headers = {}
    for key in ("admin", "east_manager", "east_rep", "member", "customer", "stranger"):
        _, secret = auth_service.create_token(session, actor=f.SYSTEM, user=people[key])
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    return {
        **people, "ours": ours, "other": other, "buyer": buyer, "proposal": proposal, "sheet": sheet,
        "theirs": theirs, "headers": headers,
    }  # fmt: skip
