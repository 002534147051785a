"""Fixtures for the connector tests: sample files and a real IMAP server (Dovecot).

The IMAP tests do not skip when Dovecot is missing: they fail and say that
``make services`` installs it, the same rule as PostgreSQL for the database tests.
"""

from __future__ import annotations

import imaplib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.signals.connectors.dovecot import DovecotServer, dovecot_binary, start_dovecot

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "signals"


@pytest.fixture
def fixtures() -> Path:
    """The directory of sample .eml, .mbox and .csv files."""
    return FIXTURES


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot per test process (so one per xdist worker, each on its own port and directory)."""
    if dovecot_binary() is None:
        pytest.fail(
            "Dovecot is not installed: the IMAP tests need a real IMAP server. "
            "Run `make services` (it installs Debian's dovecot-imapd).",
            pytrace=False,
        )
    try:
        server = start_dovecot()
    except RuntimeError as error:
        pytest.fail(f"could not start Dovecot for the IMAP tests: {error}", pytrace=False)
    yield server
    server.stop()


@dataclass
class ImapMailbox:
    """A fresh mailbox on the test server, with helpers to put mail in and to rebuild it."""

    server: DovecotServer
    name: str

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.server.host, self.server.port, timeout=10)
        client.login(self.server.username, self.server.password)
        return client

    def append(self, raw: bytes, *, internal_date: str | None = None) -> None:
        """Deliver ``raw`` by IMAP APPEND (``internal_date`` like ``"03-Nov-2026 14:05:00 +0800"``)."""
        client = self._client()
        try:
            date = f'"{internal_date}"' if internal_date else None
            status, data = client.append(f'"{self.name}"', None, date, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def recreate(self) -> None:
        """Delete and create the mailbox again: same name, new UIDVALIDITY, UIDs from 1."""
        client = self._client()
        try:
            assert client.delete(f'"{self.name}"')[0] == "OK"
            assert client.create(f'"{self.name}"')[0] == "OK"
        finally:
            client.logout()

    def seen_flags(self) -> list[bytes]:
        """The FLAGS of every message (to prove polling marks nothing as read)."""
        client = self._client()
        try:
            client.select(f'"{self.name}"', readonly=True)
            status, data = client.uid("FETCH", "1:*", "(FLAGS)")
            assert status == "OK"
            return [entry for entry in data if isinstance(entry, bytes)]
        finally:
            client.logout()


@pytest.fixture
def imap_mailbox(dovecot: DovecotServer) -> ImapMailbox:
    """An empty mailbox of its own for each test, on the shared per-process server."""
    mailbox = ImapMailbox(dovecot, f"Test-{uuid.uuid4().hex[:12]}")
    client = mailbox._client()
    try:
        status, data = client.create(f'"{mailbox.name}"')
        assert status == "OK", data
    finally:
        client.logout()
    return mailbox
