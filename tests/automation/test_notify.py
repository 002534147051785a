"""E-mail over a real local SMTP server (aiosmtpd): notifications in each person's language,
meeting invitations whose ICS parses, Message-IDs from the idempotency key, and no resend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import icalendar
import pytest
from pydantic import TypeAdapter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.automation import actions, ir
from pathcast.automation.actions.base import Subject
from pathcast.automation.actions.meetings import ics_fold, invite_uid
from pathcast.automation.actions.notify import message_id
from pathcast.automation.models import ActionReceipt, Notification
from pathcast.crm import models as m
from tests import factories as f
from tests.automation.actions_support import (
    SYSTEM,
    SmtpCapture,
    add_connector,
    free_port,
    make_ctx,
    run_rows,
    smtp_server,
)

ACTION = TypeAdapter(ir.Action)


def action(**data: Any) -> Any:
    return ACTION.validate_python(data)


@pytest.fixture
def smtp() -> Any:
    with smtp_server() as capture:
        yield capture


@pytest.fixture
def people(session: Session) -> dict[str, Any]:
    east = f.team(session, "East")
    manager = f.user(session, "boss@example.com", role=Role.manager, team_obj=east, password=None)
    manager.locale = "en"
    rep = f.user(session, "rep@example.com", team_obj=east, password=None)
    account = f.account(session, owner_id=rep.id, name="协和医院")
    deal = f.opportunity(session, SYSTEM, account_id=account.id, owner_id=rep.id, name="DSA 采购")
    subject = Subject("opportunity", deal.id, account_id=account.id, opportunity_id=deal.id)
    return {"rep": rep, "manager": manager, "deal": deal, "subject": subject}


def body_of(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content())


NOTIFY = {
    "type": "notify",
    "recipients": [{"kind": "relation", "value": "owner"}, {"kind": "role", "value": "manager"}],
    "channels": ["in_app", "email"],
    "message": "客户POC测试通过，请安排交付",
}


def test_notify_emails_each_person_in_their_language_once(
    session: Session, smtp: SmtpCapture, people: dict[str, Any]
) -> None:
    add_connector(session, "smtp", "mail", smtp.config())
    run, step = run_rows(session)
    ctx = make_ctx(session, people["subject"], run=run, step=step)
    outcome = actions.execute(action(**NOTIFY), ctx)
    assert outcome.status == "done", outcome.detail
    assert outcome.detail["sent"]["email"] == ["rep@example.com", "boss@example.com"]
    by_to = {message["To"].addresses[0].addr_spec: message for message in smtp.messages}
    assert set(by_to) == {"rep@example.com", "boss@example.com"}
    zh, en = by_to["rep@example.com"], by_to["boss@example.com"]
    assert str(zh["Subject"]).startswith("【Pathcast】测试规则") and "记录: DSA 采购" in body_of(zh)
    assert str(en["Subject"]).startswith("[Pathcast] 测试规则") and "Record: DSA 采购" in body_of(en)
    assert "客户POC测试通过" in body_of(zh)
    assert zh["Message-ID"] == message_id(ctx.idempotency_key, people["rep"].id, "robot@pathcast.example")
    assert zh["X-Pathcast-Idempotency-Key"] == ctx.idempotency_key
    notes = list(session.scalars(select(Notification).order_by(Notification.id)))
    assert [note.channels["email"] for note in notes] == [zh["Message-ID"], en["Message-ID"]]
    # the same key again: nothing more is sent or stored
    again = actions.execute(action(**NOTIFY), ctx)
    assert again.detail["replayed"] is True
    assert len(smtp.messages) == 2 and session.scalar(select(func.count()).select_from(Notification)) == 2


def test_a_temporary_refusal_retries_only_the_person_not_yet_reached(
    session: Session, smtp: SmtpCapture, people: dict[str, Any]
) -> None:
    add_connector(session, "smtp", "mail", smtp.config())
    smtp.refuse["boss@example.com"] = "451 4.3.0 mailbox busy, try later"
    ctx = make_ctx(session, people["subject"])
    first = actions.execute(action(**NOTIFY), ctx)
    assert first.status == "failed" and first.retryable is True
    assert first.detail["sent"]["email"] == ["rep@example.com"]
    assert first.detail["failures"][0]["to"] == "boss@example.com"
    assert session.get(ActionReceipt, ctx.idempotency_key) is None
    del smtp.refuse["boss@example.com"]
    second = actions.execute(action(**NOTIFY), ctx)
    assert second.status == "done", second.detail
    assert [message["To"].addresses[0].addr_spec for message in smtp.messages] == [
        "rep@example.com",
        "boss@example.com",
    ]
    assert session.scalar(select(func.count()).select_from(Notification)) == 2


def test_a_permanent_refusal_is_not_retried_and_an_absent_server_is(
    session: Session, smtp: SmtpCapture, people: dict[str, Any]
) -> None:
    connector = add_connector(session, "smtp", "mail", smtp.config())
    smtp.refuse["rep@example.com"] = "550 5.1.1 no such mailbox"
    only_owner = {**NOTIFY, "recipients": [{"kind": "relation", "value": "owner"}], "channels": ["email"]}
    refused = actions.execute(action(**only_owner), make_ctx(session, people["subject"], key="k-550"))
    assert refused.status == "failed" and refused.retryable is False
    assert refused.detail["failures"][0]["smtp_codes"] == [550]
    connector.config = {**smtp.config(), "port": free_port()}
    down = actions.execute(action(**only_owner), make_ctx(session, people["subject"], key="k-down"))
    assert (
        down.status == "failed"
        and down.retryable is True
        and "SMTP unavailable" in down.detail["failures"][0]["reason"]
    )


def test_a_meeting_invite_is_an_ics_request_in_each_attendees_language(
    session: Session, smtp: SmtpCapture, people: dict[str, Any]
) -> None:
    add_connector(session, "smtp", "mail", smtp.config())
    meeting = action(
        type="create_meeting",
        title="交付启动会",
        attendees=[{"kind": "relation", "value": "owner"}, {"kind": "user", "value": "boss@example.com"}],
        within="P7D",
    )
    ctx = make_ctx(session, people["subject"])
    outcome = actions.execute(meeting, ctx)
    assert outcome.status == "done", outcome.detail
    assert outcome.detail["invitations"] == "email_ics_and_in_app"
    assert len(smtp.messages) == 2
    summaries = {}
    for message in smtp.messages:
        calendars = [part for part in message.walk() if part.get_content_type() == "text/calendar"]
        assert len(calendars) == 1 and calendars[0].get_param("method") == "REQUEST"
        attachment = [part for part in message.iter_attachments() if part.get_filename() == "invite.ics"]
        assert attachment and attachment[0].get_content() == calendars[0].get_content().encode()
        calendar = icalendar.Calendar.from_ical(calendars[0].get_content())
        assert str(calendar["METHOD"]) == "REQUEST"
        (event,) = calendar.walk("VEVENT")
        assert str(event["UID"]) == invite_uid(ctx.idempotency_key)
        assert event.decoded("DTSTART") == datetime(2025, 7, 2, 2, 0, tzinfo=UTC)
        assert event.decoded("DTEND") == datetime(2025, 7, 2, 3, 0, tzinfo=UTC)
        assert str(event["ORGANIZER"]) == "mailto:robot@pathcast.example"
        attendees = cast(list[Any], event["ATTENDEE"])
        assert sorted(str(a) for a in attendees) == ["mailto:boss@example.com", "mailto:rep@example.com"]
        summaries[message["To"].addresses[0].addr_spec] = str(event["SUMMARY"])
    assert summaries == {
        "rep@example.com": "交付启动会（DSA 采购）",
        "boss@example.com": "交付启动会 (DSA 采购)",
    }
    assert actions.execute(meeting, ctx).detail["replayed"] is True
    assert len(smtp.messages) == 2
    assert (
        session.scalar(select(func.count()).select_from(m.Activity).where(m.Activity.kind == "meeting")) == 1
    )


def test_a_meeting_retried_after_a_mail_failure_keeps_its_one_booking(
    session: Session, smtp: SmtpCapture, people: dict[str, Any]
) -> None:
    add_connector(session, "smtp", "mail", smtp.config())
    smtp.refuse["boss@example.com"] = "421 4.7.0 try again later"
    meeting = action(
        type="create_meeting",
        title="Kick-off",
        attendees=[{"kind": "relation", "value": "owner"}, {"kind": "role", "value": "manager"}],
    )
    ctx = make_ctx(session, people["subject"])
    first = actions.execute(meeting, ctx)
    assert first.status == "failed" and first.retryable
    smtp.refuse.clear()
    second = actions.execute(meeting, ctx)
    assert second.status == "done" and second.detail["activity_id"] == first.detail["activity_id"]
    assert len(smtp.messages) == 2
    assert (
        session.scalar(select(func.count()).select_from(m.Activity).where(m.Activity.kind == "meeting")) == 1
    )


def test_dry_run_sends_no_mail(session: Session, smtp: SmtpCapture, people: dict[str, Any]) -> None:
    add_connector(session, "smtp", "mail", smtp.config())
    outcome = actions.execute(action(**NOTIFY), make_ctx(session, people["subject"], dry_run=True))
    assert outcome.detail["would_notify"] == ["rep@example.com", "boss@example.com"]
    assert smtp.messages == [] and session.scalar(select(func.count()).select_from(Notification)) == 0


def test_ics_lines_fold_at_75_octets_without_splitting_characters() -> None:
    folded = ics_fold("SUMMARY:" + "交付启动会" * 20)
    lines = folded.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines) and len(lines) > 1
    assert all(line.startswith(" ") for line in lines[1:])
    assert "".join(line[1:] if i else line for i, line in enumerate(lines)) == "SUMMARY:" + "交付启动会" * 20
