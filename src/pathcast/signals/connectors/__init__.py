"""Message connectors: the protocol layer that turns vendor payloads into message drafts.

Each vendor is one pure module (no database, no HTTP framework): ``webhook`` (generic
signed JSON), ``wecom`` (企业微信 callbacks), ``dingtalk`` (钉钉 robot), ``email`` (.eml,
mbox, IMAP) and ``interactions_csv`` (spreadsheet import). They verify, decrypt and
parse, and return :class:`MessageDraft` objects or raise :class:`ConnectorError`
subclasses; storing, matching and deduplicating is the caller's job.
"""

from pathcast.signals.connectors.base import (
    ConnectorError,
    MessageDraft,
    PayloadInvalid,
    ReplayRejected,
    SignatureInvalid,
    SourceUnavailable,
)

__all__ = [
    "ConnectorError",
    "MessageDraft",
    "PayloadInvalid",
    "ReplayRejected",
    "SignatureInvalid",
    "SourceUnavailable",
]
