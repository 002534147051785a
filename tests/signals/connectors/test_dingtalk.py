"""钉钉 robot callbacks: header signature, replay window and the documented message JSON."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pathcast.signals.connectors import dingtalk
from pathcast.signals.connectors.base import PayloadInvalid, ReplayRejected, SignatureInvalid

APP_SECRET = "SECb8f2c1e0d7a94c3b9e6f1a2d3c4b5a6e7f8091a2b3c4d5e6f7a8b9c0d1e2f3"
NOW = datetime(2021, 2, 18, 6, 6, 47, 880000, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)

# A group message @-mentioning the robot, shaped as in DingTalk's documentation of the
# message a robot receives (企业内部机器人 / HTTP callback). Ids are sample values.
GROUP_TEXT: dict[str, Any] = {
    "conversationId": "cidqO7Ne0+Zy5Q3hyNxbE8w3g==",
    "atUsers": [
        {"dingtalkId": "$:LWCP_v1:$Bv4/ZDSp6TO/a7QBupxQ=="},
        {"dingtalkId": "$:LWCP_v1:$h2Xl3Mz5yR0wJ3pL7A9mBw==", "staffId": "manager0427"},
    ],
    "chatbotCorpId": "dinge8a565e8a6b5c7d2",
    "chatbotUserId": "$:LWCP_v1:$Bv4/ZDSp6TO/a7QBupxQ==",
    "msgId": "msgdHYa7sGFdf2m+BxG7+A==",
    "senderNick": "张三",
    "isAdmin": True,
    "senderStaffId": "user123",
    "sessionWebhookExpiredTime": 1613633808198,
    "createAt": 1613628407880,
    "senderCorpId": "dinge8a565e8a6b5c7d2",
    "conversationType": "2",
    "senderId": "$:LWCP_v1:$ZxK1tPqR3oVc9Y2hW6dNgA==",
    "conversationTitle": "华东医院 DSA 项目群",
    "isInAtList": True,
    "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=c3f1b0a9e8d7c6b5a4",
    "text": {"content": " 王主任说下周二来院演示，@经理 请安排"},
    "robotCode": "dingf0apw4ibx5u5ktba",
    "msgtype": "text",
}


def test_sign_is_base64_hmac_sha256_of_timestamp_newline_secret() -> None:
    digest = hmac.new(APP_SECRET.encode(), f"{NOW_MS}\n{APP_SECRET}".encode(), hashlib.sha256).digest()
    assert dingtalk.sign(APP_SECRET, NOW_MS) == base64.b64encode(digest).decode()


def test_verify_accepts_a_fresh_signed_request() -> None:
    headers = {"timestamp": str(NOW_MS), "sign": dingtalk.sign(APP_SECRET, NOW_MS)}
    dingtalk.verify_signature(APP_SECRET, headers, now=NOW + timedelta(minutes=59))
    # Header names are case-insensitive.
    dingtalk.verify_signature(
        APP_SECRET, {"Timestamp": headers["timestamp"], "Sign": headers["sign"]}, now=NOW
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"timestamp": str(NOW_MS)},
        {"timestamp": str(NOW_MS), "sign": "AAAA"},
        {"timestamp": str(NOW_MS + 1), "sign": dingtalk.sign(APP_SECRET, NOW_MS)},
        {"timestamp": "soon", "sign": dingtalk.sign(APP_SECRET, NOW_MS)},
        {"timestamp": str(NOW_MS), "sign": dingtalk.sign("another-secret", NOW_MS)},
        {"timestamp": str(NOW_MS), "sign": "签名"},
    ],
)
def test_verify_refuses_bad_signatures(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureInvalid):
        dingtalk.verify_signature(APP_SECRET, headers, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(hours=1, seconds=1), -timedelta(hours=2)])
def test_verify_refuses_a_timestamp_more_than_an_hour_away(offset: timedelta) -> None:
    headers = {"timestamp": str(NOW_MS), "sign": dingtalk.sign(APP_SECRET, NOW_MS)}
    with pytest.raises(ReplayRejected):
        dingtalk.verify_signature(APP_SECRET, headers, now=NOW + offset)


def test_parse_a_group_text_message() -> None:
    draft = dingtalk.parse_message(json.dumps(GROUP_TEXT, ensure_ascii=False).encode())
    assert draft is not None
    assert draft.channel == "dingtalk"
    assert draft.idempotency_key == "msgdHYa7sGFdf2m+BxG7+A=="
    assert draft.sent_at == datetime(2021, 2, 18, 6, 6, 47, 880000, tzinfo=UTC)
    assert draft.body == "王主任说下周二来院演示，@经理 请安排"
    assert draft.sender == "user123"
    assert draft.sender_name == "张三"
    assert draft.recipients == ("manager0427",)
    assert draft.thread_key == "dingtalk:cidqO7Ne0+Zy5Q3hyNxbE8w3g=="
    assert draft.direction == "inbound"
    assert draft.extra["conversationTitle"] == "华东医院 DSA 项目群"
    assert draft.extra["conversationType"] == "2"
    assert draft.extra["conversation"] == "group"
    assert draft.extra["senderId"] == "$:LWCP_v1:$ZxK1tPqR3oVc9Y2hW6dNgA=="
    assert draft.extra["isAdmin"] is True
    # The session webhook is a bearer URL: never stored.
    assert "sessionWebhook" not in json.dumps(dict(draft.extra))


def test_single_chat_without_staff_id_uses_sender_id() -> None:
    payload = {
        **GROUP_TEXT,
        "conversationType": "1",
        "atUsers": [],
        "text": {"content": "hello"},
    }
    del payload["senderStaffId"]
    del payload["conversationTitle"]
    draft = dingtalk.parse_message(json.dumps(payload).encode())
    assert draft is not None
    assert draft.sender == "$:LWCP_v1:$ZxK1tPqR3oVc9Y2hW6dNgA=="
    assert draft.extra["conversation"] == "single"
    assert "senderId" not in draft.extra
    assert draft.recipients == ()


@pytest.mark.parametrize("msgtype", ["picture", "richText", "audio", "file", "interactiveCard", None])
def test_other_message_types_store_nothing(msgtype: str | None) -> None:
    payload = {**GROUP_TEXT, "msgtype": msgtype, "content": {"downloadCode": "x"}}
    assert dingtalk.parse_message(json.dumps(payload).encode()) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"text": {"content": "  "}}, "text.content"),
        ({"text": "hello"}, "text.content"),
        ({"msgId": None}, "msgId"),
        ({"createAt": "1613628407880"}, "createAt"),
        ({"createAt": 10**20}, "createAt"),
        ({"senderNick": ["x"]}, "senderNick"),
    ],
)
def test_bad_text_payload_names_the_field(change: dict[str, Any], field: str) -> None:
    payload = {**GROUP_TEXT, **change}
    with pytest.raises(PayloadInvalid) as caught:
        dingtalk.parse_message(json.dumps(payload).encode())
    assert caught.value.field == field


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"\xff"])
def test_bad_json_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        dingtalk.parse_message(body)
    assert caught.value.field == "body"
