"""The shared draft and errors: invariants the database glue relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pathcast.signals.connectors import (
    ConnectorError,
    MessageDraft,
    PayloadInvalid,
    ReplayRejected,
    SignatureInvalid,
    SourceUnavailable,
)
from pathcast.signals.connectors.base import bounded_key, content_key, header, subject_is_reply

WHEN = datetime(2026, 11, 3, 6, 5, tzinfo=UTC)


def test_error_codes_for_the_routes() -> None:
    assert SignatureInvalid("x").code == "bad_signature"
    assert ReplayRejected("x").code == "replayed"
    assert PayloadInvalid("x", field="sent_at").code == "bad_payload"
    assert SourceUnavailable("x").code == "source_unavailable"
    error = PayloadInvalid("sent_at is required", field="sent_at")
    assert isinstance(error, ConnectorError)
    assert (error.message, error.field, str(error)) == (
        "sent_at is required",
        "sent_at",
        "sent_at is required",
    )


def test_draft_defaults() -> None:
    draft = MessageDraft(channel="webhook", idempotency_key="k", sent_at=WHEN, body="hi")
    assert draft.direction == "inbound"
    assert draft.recipients == ()
    assert draft.extra == {}
    assert draft.is_reply is False


@pytest.mark.parametrize(
    "changes",
    [
        {"sent_at": datetime(2026, 11, 3, 6, 5)},
        {"sent_at": datetime(2026, 11, 3, 14, 5, tzinfo=timezone(timedelta(hours=8)))},
        {"idempotency_key": ""},
        {"idempotency_key": "k" * 201},
        {"direction": "sideways"},
    ],
)
def test_draft_refuses_broken_invariants(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"channel": "email", "idempotency_key": "k", "sent_at": WHEN, "body": ""}
    fields.update(changes)
    with pytest.raises(ValueError):
        MessageDraft(**fields)  # type: ignore[arg-type]


def test_keys_fit_the_column() -> None:
    assert bounded_key("abc") == "abc"
    long = bounded_key("x" * 500)
    assert long.startswith("sha256:") and len(long) == 71
    assert content_key(b"a") == content_key(b"a") != content_key(b"b")


@pytest.mark.parametrize(
    ("subject", "reply"),
    [
        ("Re: x", True),
        ("RE:x", True),
        ("回复：x", True),
        ("答复: x", True),
        ("  re: x", True),
        ("Fwd: x", False),
        ("Report", False),
        ("", False),
        (None, False),
    ],
)
def test_subject_is_reply(subject: str | None, reply: bool) -> None:
    assert subject_is_reply(subject) is reply


def test_header_lookup_is_case_insensitive() -> None:
    assert header({"X-Pathcast-Nonce": "n"}, "x-pathcast-nonce") == "n"
    assert header({"x-pathcast-nonce": "n"}, "X-Pathcast-Nonce") == "n"
    assert header({}, "X") is None
