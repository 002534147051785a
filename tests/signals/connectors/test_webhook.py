"""Generic webhook: HMAC signature, replay window, payload parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pathcast.signals.connectors import webhook
from pathcast.signals.connectors.base import PayloadInvalid, ReplayRejected, SignatureInvalid

SECRET = "whsec_3c1e0b8f2a"
NOW = datetime(2026, 11, 3, 6, 5, tzinfo=UTC)
STAMP = int(NOW.timestamp())
NONCE = "5f0d9c2b7a1e4c33"

Change = Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]


def _body(**fields: object) -> bytes:
    payload: dict[str, object] = {
        "id": "crm-7731",
        "sent_at": "2026-11-03T14:05:00+08:00",
        "text": "王主任回电，要报价",
    }
    payload.update(fields)
    return json.dumps({k: v for k, v in payload.items() if v is not None}, ensure_ascii=False).encode()


def test_sign_matches_the_documented_formula() -> None:
    body = _body()
    headers = webhook.sign(SECRET, body, timestamp=STAMP, nonce=NONCE)
    expected = hmac.new(SECRET.encode(), f"{STAMP}.{NONCE}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers == {
        "X-Pathcast-Timestamp": str(STAMP),
        "X-Pathcast-Nonce": NONCE,
        "X-Pathcast-Signature": f"sha256={expected}",
    }


def test_verify_returns_the_nonce_and_reads_headers_case_insensitively() -> None:
    body = _body()
    headers = {k.lower(): v for k, v in webhook.sign(SECRET, body, timestamp=STAMP, nonce=NONCE).items()}
    assert webhook.verify(SECRET, headers, body, now=NOW + timedelta(seconds=299)) == NONCE


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda h, b: (h, b + b" "), id="body-changed"),
        pytest.param(lambda h, b: ({**h, "X-Pathcast-Nonce": "other-nonce"}, b), id="nonce-changed"),
        pytest.param(lambda h, b: ({**h, "X-Pathcast-Timestamp": str(STAMP + 1)}, b), id="timestamp-changed"),
        pytest.param(lambda h, b: ({**h, "X-Pathcast-Signature": "sha256=" + "0" * 64}, b), id="wrong-hex"),
        pytest.param(
            lambda h, b: ({**h, "X-Pathcast-Signature": h["X-Pathcast-Signature"][7:]}, b), id="no-prefix"
        ),
        pytest.param(lambda h, b: ({**h, "X-Pathcast-Signature": "sha256=签名"}, b), id="non-ascii"),
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if "Signature" not in k}, b), id="missing"),
        pytest.param(lambda h, b: ({**h, "X-Pathcast-Nonce": "a.b"}, b), id="dot-in-nonce"),
        pytest.param(lambda h, b: ({**h, "X-Pathcast-Timestamp": "1.5e9"}, b), id="timestamp-not-digits"),
    ],
)
def test_verify_refuses_a_bad_signature(change: Change) -> None:
    body = _body()
    headers, body = change(webhook.sign(SECRET, body, timestamp=STAMP, nonce=NONCE), body)
    with pytest.raises(SignatureInvalid) as caught:
        webhook.verify(SECRET, headers, body, now=NOW)
    assert caught.value.code == "bad_signature"


def test_verify_refuses_the_wrong_secret() -> None:
    body = _body()
    headers = webhook.sign("another-secret", body, timestamp=STAMP, nonce=NONCE)
    with pytest.raises(SignatureInvalid):
        webhook.verify(SECRET, headers, body, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, 86400])
def test_verify_refuses_a_timestamp_outside_the_window(offset: int) -> None:
    body = _body()
    headers = webhook.sign(SECRET, body, timestamp=STAMP + offset, nonce=NONCE)
    with pytest.raises(ReplayRejected) as caught:
        webhook.verify(SECRET, headers, body, now=NOW)
    assert caught.value.code == "replayed"


def test_the_dot_separator_cannot_be_shifted_into_the_nonce() -> None:
    """Nonce "a" + body "b.{...}" must not verify as nonce "a.b" + body "{...}"."""
    body = b'b.{"id":"x"}'
    headers = webhook.sign(SECRET, body, timestamp=STAMP, nonce="a")
    forged = {**headers, "X-Pathcast-Nonce": "a.b"}
    with pytest.raises(SignatureInvalid):
        webhook.verify(SECRET, forged, b'{"id":"x"}', now=NOW)
    with pytest.raises(ValueError):
        webhook.sign(SECRET, body, timestamp=STAMP, nonce="a.b")


def test_parse_a_full_payload() -> None:
    body = _body(
        **{
            "from": "Wang@Hospital.example.cn",
            "from_name": "王主任",
            "to": ["Li@Pathcast.example", "zhao-bot"],
            "subject": "Re: DSA 报价",
            "thread": "case-42",
            "contact": "WANG@hospital.example.cn",
            "account": "华东医院",
            "opportunity": 1207,
            "kind": "Call",
            "direction": "inbound",
            "duration_minutes": 12,
            "extra": {"recording": "r-12.mp3"},
        }
    )
    draft = webhook.parse(body, {})
    assert draft.channel == "webhook"
    assert draft.idempotency_key == "crm-7731"
    assert draft.sent_at == datetime(2026, 11, 3, 6, 5, tzinfo=UTC)
    assert draft.body == "王主任回电，要报价"
    assert draft.sender == "wang@hospital.example.cn"
    assert draft.sender_name == "王主任"
    assert draft.recipients == ("li@pathcast.example", "zhao-bot")
    assert draft.subject == "Re: DSA 报价"
    assert draft.is_reply is True
    assert draft.thread_key == "case-42"
    assert draft.contact_hint == "wang@hospital.example.cn"
    assert draft.account_hint == "华东医院"
    assert draft.opportunity_hint == "1207"
    assert draft.kind_hint == "call"
    assert draft.duration_minutes == 12
    assert draft.extra == {"recording": "r-12.mp3"}


def test_parse_takes_body_and_the_idempotency_key_header() -> None:
    body = json.dumps({"sent_at": "2026-11-03T06:05:00Z", "body": "hello"}).encode()
    draft = webhook.parse(body, {"idempotency-key": "retry-safe-1"})
    assert draft.idempotency_key == "retry-safe-1"
    assert draft.body == "hello"
    assert draft.direction == "inbound"
    assert draft.sent_at == datetime(2026, 11, 3, 6, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (_body(id=None), "id"),
        (_body(id=True), "id"),
        (_body(id="x" * 201), "id"),
        (_body(sent_at=None), "sent_at"),
        (_body(sent_at="yesterday"), "sent_at"),
        (_body(sent_at="2026-11-03T14:05:00"), "sent_at"),
        (_body(sent_at=1795000000), "sent_at"),
        (_body(text=None), "body"),
        (_body(text="   "), "text"),
        (_body(text=42), "text"),
        (_body(to="ok", **{"from": 5}), "from"),
        (_body(to=[1, 2]), "to"),
        (_body(kind="fax"), "kind"),
        (_body(direction="sideways"), "direction"),
        (_body(duration_minutes=-1), "duration_minutes"),
        (_body(extra=[1]), "extra"),
        (_body(is_reply="yes"), "is_reply"),
    ],
)
def test_parse_names_the_bad_field(body: bytes, field: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        webhook.parse(body, {})
    assert caught.value.field == field
    assert caught.value.code == "bad_payload"
    assert field.split("_")[0] in caught.value.message
