"""IMAP polling against a real Dovecot (see dovecot.py): cursors, UIDVALIDITY, no \\Seen flags."""

from __future__ import annotations

import base64
import imaplib
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pathcast.signals.connectors.base import ConnectorError, MessageDraft, SourceUnavailable
from pathcast.signals.connectors.email import ImapPoller, format_cursor, imap_utf7, parse_cursor
from tests.signals.connectors.conftest import ImapMailbox
from tests.signals.connectors.dovecot import DovecotServer


def _message(number: int, *, subject: str = "报价跟进") -> bytes:
    return (
        f"Message-ID: <poll-{number}@hospital.example.cn>\r\n"
        f"Date: Tue, 3 Nov 2026 1{number % 10}:00:00 +0800\r\n"
        "From: =?UTF-8?B?546L5Li75Lu7?= <Wang.ZR@hospital.example.cn>\r\n"
        "To: tester@pathcast.example\r\n"
        f"Subject: =?UTF-8?B?{base64.b64encode(f'{subject} #{number}'.encode()).decode()}?=\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"第 {number} 封邮件\r\n"
    ).encode()


def _poller(server: DovecotServer, mailbox: ImapMailbox) -> ImapPoller:
    return ImapPoller(
        server.host,
        server.port,
        server.username,
        server.password,
        mailbox=mailbox.name,
        timeout=10,
        mailbox_owner_addresses=["tester@pathcast.example"],
    )


def _drafts(items: list[tuple[int, MessageDraft | ConnectorError]]) -> list[MessageDraft]:
    drafts = [item for _, item in items]
    assert all(isinstance(item, MessageDraft) for item in drafts), drafts
    return [item for item in drafts if isinstance(item, MessageDraft)]


def test_first_poll_gets_everything_then_only_new_mail(
    dovecot: DovecotServer, imap_mailbox: ImapMailbox
) -> None:
    for number in (1, 2, 3):
        imap_mailbox.append(_message(number))
    poller = _poller(dovecot, imap_mailbox)

    first = poller.fetch_new(None, None)
    assert [uid for uid, _ in first.items] == [1, 2, 3]
    assert first.last_uid == 3
    assert first.reset is False and first.has_more is False
    drafts = _drafts(first.items)
    assert [d.subject for d in drafts] == [
        "报价跟进 #1",
        "报价跟进 #2",
        "报价跟进 #3",
    ]
    assert drafts[0].sender == "wang.zr@hospital.example.cn"
    assert drafts[0].sender_name == "王主任"
    assert drafts[0].body == "第 1 封邮件"
    assert drafts[0].direction == "inbound"

    cursor = format_cursor(first.uid_validity, first.last_uid)
    validity, last = parse_cursor(cursor)
    second = poller.fetch_new(last, validity)
    assert second.items == []
    assert second.last_uid == 3
    assert second.uid_validity == first.uid_validity

    imap_mailbox.append(_message(4))
    third = poller.fetch_new(second.last_uid, second.uid_validity)
    assert [uid for uid, _ in third.items] == [4]
    assert third.last_uid == 4

    # Nothing was marked as read.
    assert all(b"\\Seen" not in flags for flags in imap_mailbox.seen_flags())


def test_uidvalidity_change_restarts_from_the_beginning(
    dovecot: DovecotServer, imap_mailbox: ImapMailbox
) -> None:
    for number in (1, 2):
        imap_mailbox.append(_message(number))
    poller = _poller(dovecot, imap_mailbox)
    before = poller.fetch_new(None, None)
    assert before.last_uid == 2

    imap_mailbox.recreate()
    imap_mailbox.append(_message(1))  # the same message comes back with a new UID space
    after = poller.fetch_new(before.last_uid, before.uid_validity)
    assert after.uid_validity != before.uid_validity
    assert after.reset is True
    assert [uid for uid, _ in after.items] == [1]
    # Same Message-ID: the caller's idempotency check makes the re-read a no-op.
    assert _drafts(after.items)[0].idempotency_key == _drafts(before.items)[0].idempotency_key
    assert after.last_uid == 1


def test_a_cursor_beyond_the_last_uid_fetches_nothing(
    dovecot: DovecotServer, imap_mailbox: ImapMailbox
) -> None:
    imap_mailbox.append(_message(1))
    poller = _poller(dovecot, imap_mailbox)
    validity = poller.fetch_new(None, None).uid_validity
    # "UID 6:*" matches the highest UID even when it is below 6: it must be filtered out.
    batch = poller.fetch_new(5, validity)
    assert batch.items == []
    assert batch.last_uid == 5


def test_limit_and_has_more(dovecot: DovecotServer, imap_mailbox: ImapMailbox) -> None:
    for number in range(1, 6):
        imap_mailbox.append(_message(number))
    poller = _poller(dovecot, imap_mailbox)
    first = poller.fetch_new(None, None, limit=2)
    assert [uid for uid, _ in first.items] == [1, 2]
    assert first.has_more is True
    rest = poller.fetch_new(first.last_uid, first.uid_validity, limit=10)
    assert [uid for uid, _ in rest.items] == [3, 4, 5]
    assert rest.has_more is False


def test_a_bad_message_is_an_item_and_internaldate_is_the_date_fallback(
    dovecot: DovecotServer, imap_mailbox: ImapMailbox
) -> None:
    imap_mailbox.append(_message(1))
    imap_mailbox.append(
        b"X-Note: no date, no id\r\nFrom: a@x.cn\r\n\r\nbody\r\n", internal_date="03-Nov-2026 14:05:00 +0800"
    )
    imap_mailbox.append(b"\x00\x01\x02 not a message at all\r\n")
    imap_mailbox.append(_message(4))
    batch = _poller(dovecot, imap_mailbox).fetch_new(None, None)
    assert [uid for uid, _ in batch.items] == [1, 2, 3, 4]
    kinds = [type(item).__name__ for _, item in batch.items]
    assert kinds == ["MessageDraft", "MessageDraft", "PayloadInvalid", "MessageDraft"]
    undated = batch.items[1][1]
    assert isinstance(undated, MessageDraft)
    assert undated.sent_at == datetime(2026, 11, 3, 6, 5, tzinfo=UTC)
    assert batch.last_uid == 4


def test_outbound_mail_in_a_sent_folder(
    dovecot: DovecotServer, imap_mailbox: ImapMailbox, fixtures: Path
) -> None:
    raw = (
        (fixtures / "zh_utf8_quote.eml")
        .read_bytes()
        .replace(b"Li.Ming@Pathcast.Example", b"Tester@Pathcast.Example")
    )
    imap_mailbox.append(raw)
    [(_, draft)] = _poller(dovecot, imap_mailbox).fetch_new(None, None).items
    assert isinstance(draft, MessageDraft)
    assert draft.direction == "outbound"


def test_a_chinese_mailbox_name(dovecot: DovecotServer, imap_mailbox: ImapMailbox) -> None:
    name = f"{imap_mailbox.name}-已发送"
    client = imaplib.IMAP4(dovecot.host, dovecot.port)
    client.login(dovecot.username, dovecot.password)
    assert client.create(f'"{imap_utf7(name)}"')[0] == "OK"
    assert client.append(f'"{imap_utf7(name)}"', None, None, _message(1))[0] == "OK"
    client.logout()
    poller = ImapPoller(dovecot.host, dovecot.port, dovecot.username, dovecot.password, mailbox=name)
    assert [uid for uid, _ in poller.fetch_new(None, None).items] == [1]


def test_wrong_password_missing_mailbox_and_closed_port(
    dovecot: DovecotServer, imap_mailbox: ImapMailbox
) -> None:
    with pytest.raises(SourceUnavailable):
        ImapPoller(
            dovecot.host, dovecot.port, dovecot.username, "wrong", mailbox=imap_mailbox.name
        ).fetch_new(None, None)
    with pytest.raises(SourceUnavailable) as caught:
        ImapPoller(
            dovecot.host, dovecot.port, dovecot.username, dovecot.password, mailbox="NoSuchBox"
        ).fetch_new(None, None)
    assert caught.value.code == "source_unavailable"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(SourceUnavailable):
        ImapPoller("127.0.0.1", closed_port, "u", "p", timeout=2).fetch_new(None, None)


def test_password_is_not_in_the_repr() -> None:
    poller = ImapPoller("imap.example.cn", 993, "li@example.cn", "hunter2", use_ssl=True)
    assert "hunter2" not in repr(poller)


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [(None, (None, None)), ("", (None, None)), ("1795664235:42", (1795664235, 42)), (" 7:0 ", (7, 0))],
)
def test_parse_cursor(cursor: str | None, expected: tuple[int | None, int | None]) -> None:
    assert parse_cursor(cursor) == expected


@pytest.mark.parametrize("cursor", ["42", "a:b", "1:-2", "1:2:3"])
def test_parse_cursor_refuses_garbage(cursor: str) -> None:
    with pytest.raises(ValueError):
        parse_cursor(cursor)
