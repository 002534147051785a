"""Message imports from the command line: e-mail files, the interactions CSV, IMAP polling
against the real Dovecot the suite starts; replies from a contact count toward consent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.cli import app
from pathcast.crm import models as crm_models
from pathcast.signals import models as m
from tests import factories
from tests.signals.connectors.conftest import ImapMailbox, dovecot, imap_mailbox

__all__ = ["dovecot", "imap_mailbox"]

runner = CliRunner()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "signals"


def run_json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def hospital(session: Session, company: dict[str, Any]) -> int:
    account = factories.account(session, name="华东医院")
    factories.contact(session, name="王主任", email="wang.zr@hospital.example.cn", account_id=account.id)
    factories.contact(session, name="张喆", email="zhang.zhe@hospital.example.cn", account_id=account.id)
    session.commit()
    return int(account.id)


def test_email_files_are_imported_once_and_filed(session: Session, company: dict[str, Any]) -> None:
    account_id = hospital(session, company)
    files = [str(path) for path in sorted(FIXTURES.glob("*.eml"))]
    owners = ["--owner", "li.ming@pathcast.example", "--owner", "zhao@pathcast.example"]
    first = run_json("signals", "import-email", *files, *owners)
    assert first["stored"] == len(files) and first["errors"] == []
    again = run_json("signals", "import-email", *files, *owners)
    assert (again["stored"], again["duplicates"]) == (0, len(files))
    session.commit()
    stored = list(session.scalars(select(m.InboundMessage).order_by(m.InboundMessage.id)))
    assert all(message.account_id == account_id for message in stored)
    outbound = [message for message in stored if message.direction == "outbound"]
    assert outbound and all(message.contact_id is not None for message in outbound)
    assert session.scalar(
        select(func.count()).select_from(crm_models.Activity).where(crm_models.Activity.channel == "email")
    ) == len(files)


def test_mbox_with_a_broken_message_keeps_the_rest(session: Session, company: dict[str, Any]) -> None:
    hospital(session, company)
    summary = run_json("signals", "import-email", str(FIXTURES / "archive.mbox"))
    assert summary["stored"] == 2
    [error] = summary["errors"]
    assert error["where"] == "archive.mbox#2" and error["code"] == "bad_payload" and error["message"]


def test_interactions_csv_names_bad_rows_and_keeps_good_ones(
    session: Session, company: dict[str, Any]
) -> None:
    hospital(session, company)
    summary = run_json("signals", "import-interactions", str(FIXTURES / "interactions_mixed.csv"))
    assert summary["stored"] >= 2
    assert summary["errors"] and all("row" in error for error in summary["errors"])
    assert 4 in [error["row"] for error in summary["errors"]]
    session.commit()
    call = session.scalars(select(crm_models.Activity).where(crm_models.Activity.kind == "call")).first()
    assert call is not None and call.duration_minutes == 15 and call.channel == "csv"
    # A call over five minutes with a known contact is a deep interaction.
    assert session.scalar(select(func.count()).select_from(m.DeepInteraction)) >= 1


REPLY = (
    "From: =?UTF-8?B?546L5Li75Lu7?= <Wang.ZR@hospital.example.cn>\r\n"
    "To: li.ming@pathcast.example\r\n"
    "Subject: =?UTF-8?B?UmU6IERTQSDku4vlhaXogJfmnZDmiqXku7c=?=\r\n"
    "Date: Tue, 03 Nov 2026 16:20:00 +0800\r\n"
    "Message-ID: <reply-{n}@hospital.example.cn>\r\n"
    "In-Reply-To: <quote-1@pathcast.example>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "收到报价，下周二来院演示。\r\n"
)


def test_imap_polling_fetches_new_mail_once(
    session: Session, company: dict[str, Any], imap_mailbox: ImapMailbox
) -> None:
    hospital(session, company)
    server = imap_mailbox.server
    created = run_json(
        "signals", "connector", "create", "email", "--name", "sales-inbox",
        "--set", f"host={server.host}", "--set", f"port={server.port}",
        "--set", f"username={server.username}", "--set", f"password={server.password}",
        "--set", f"mailbox={imap_mailbox.name}", "--set", "owner_addresses=li.ming@pathcast.example",
    )  # fmt: skip
    assert created["kind"] == "email"
    imap_mailbox.append(REPLY.format(n=1).encode())
    imap_mailbox.append((FIXTURES / "zh_gbk_body.eml").read_bytes())
    [first] = run_json("signals", "poll")
    assert (first["stored"], first["failure"]) == (2, None)
    [second] = run_json("signals", "poll")
    assert second["stored"] == 0 and second["cursor"] == first["cursor"]
    imap_mailbox.append(REPLY.format(n=2).encode())
    [third] = run_json("signals", "poll", "--connector", "sales-inbox")
    assert third["stored"] == 1
    session.commit()
    replies = session.scalars(select(m.DeepInteraction).where(m.DeepInteraction.kind == "email_reply")).all()
    assert len(replies) == 2  # two replies from 王主任, each counted once
    assert imap_mailbox.seen_flags() and not any(b"\\Seen" in flags for flags in imap_mailbox.seen_flags())


def test_an_unreachable_mailbox_is_recorded_not_fatal(session: Session, company: dict[str, Any]) -> None:
    run_json(
        "signals", "connector", "create", "email", "--name", "gone",
        "--set", "host=127.0.0.1", "--set", "port=1", "--set", "username=x", "--set", "password=y",
    )  # fmt: skip
    result = runner.invoke(app, ["signals", "poll", "--json"])
    assert result.exit_code == 1
    [report] = json.loads(result.stdout)
    assert report["failure"] and report["failure"].startswith("source_unavailable")
    session.commit()
    connector = session.scalars(select(m.Connector).where(m.Connector.name == "gone")).one()
    assert connector.last_error and connector.last_polled_at is not None


def test_site_and_connector_commands(configured: str) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    site = run_json("signals", "site", "create", "--name", "www", "--origin", "https://www.example.com")
    assert site["key"] and f'data-site="{site["key"]}"' in site["snippet"]
    duplicate = runner.invoke(
        app, ["signals", "site", "create", "--name", "www", "--origin", "https://x.example"]
    )
    assert duplicate.exit_code == 1
    bad = runner.invoke(app, ["signals", "site", "create", "--name", "w2", "--origin", "ftp://x"])
    assert bad.exit_code == 1
    listed = run_json("signals", "site", "list")
    assert [row["name"] for row in listed] == ["www"]
    hook = run_json("signals", "connector", "create", "webhook", "--name", "crm-hook", "--set", "secret=abc")
    assert hook["callback_path"] == f"/api/v1/signals/webhooks/{hook['id']}"
    missing = runner.invoke(
        app, ["signals", "connector", "create", "wecom", "--name", "wx", "--set", "token=t"]
    )
    assert missing.exit_code == 1
