"""Polled sources: fetch what an IMAP mailbox received since the connector's cursor.

The cursor (``UIDVALIDITY:last UID``) moves only after the batch is stored, in the same
transaction, so a crash re-fetches rather than loses; idempotency keys make a re-fetch
harmless. A source that cannot be reached is recorded on the connector, not raised:
one broken mailbox must not stop the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.signals import models as m
from pathcast.signals.connectors import email as mail
from pathcast.signals.connectors.base import ConnectorError
from pathcast.signals.service.messages import ingest_drafts


@dataclass
class PollReport:
    connector: str
    stored: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    cursor: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "connector": self.connector,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "errors": self.errors,
            "failure": self.failure,
            "cursor": self.cursor,
        }


def poller_for(connector: m.Connector) -> mail.ImapPoller:
    """An IMAP poller from the connector's config (host, port, username, password, …)."""
    config = connector.config
    use_ssl = bool(config.get("use_ssl", False))
    return mail.ImapPoller(
        str(config["host"]),
        int(config.get("port") or (993 if use_ssl else 143)),
        str(config["username"]),
        str(config["password"]),
        mailbox=str(config.get("mailbox") or "INBOX"),
        use_ssl=use_ssl,
        starttls=bool(config.get("starttls", False)),
        mailbox_owner_addresses=tuple(config.get("owner_addresses") or ()),
    )


def poll_email_connector(session: Session, *, connector: m.Connector, max_batches: int = 20) -> PollReport:
    """Fetch and store new mail for one IMAP connector; record success or the failure on it."""
    report = PollReport(connector=connector.name)
    actor = Actor.system(f"connector:{connector.name}")
    poller = poller_for(connector)
    uid_validity, last_uid = mail.parse_cursor(connector.cursor)
    try:
        for _ in range(max_batches):
            batch = poller.fetch_new(last_uid, uid_validity)
            summary = ingest_drafts(
                session, items=batch.items, actor=actor, connector_id=connector.id, row_label="uid"
            )
            report.stored += summary.stored
            report.duplicates += summary.duplicates
            report.errors.extend(summary.errors)
            uid_validity, last_uid = batch.uid_validity, batch.last_uid
            connector.cursor = mail.format_cursor(batch.uid_validity, batch.last_uid)
            if not batch.has_more:
                break
        connector.last_error = None
    except ConnectorError as error:
        connector.last_error = f"{error.code}: {error}"
        report.failure = connector.last_error
    connector.last_polled_at = utcnow()
    report.cursor = connector.cursor
    session.flush()
    return report


def email_connectors(session: Session, name: str | None = None) -> list[m.Connector]:
    """Active e-mail connectors (one by name when given)."""
    query = select(m.Connector).where(
        m.Connector.kind == m.Channel.email.value, m.Connector.is_active.is_(True)
    )
    if name is not None:
        query = query.where(m.Connector.name == name)
    return list(session.scalars(query.order_by(m.Connector.id)))
