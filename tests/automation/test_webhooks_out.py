"""Outbound HTTP against a real local server: the signed webhook, WeCom and DingTalk robots,
and how answers are classified (5xx/timeout retryable, 4xx not)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy.orm import Session

from pathcast.automation import actions, ir
from pathcast.automation.actions import notify as notify_module
from pathcast.automation.actions import webhook as webhook_module
from pathcast.automation.actions.base import Subject
from pathcast.automation.models import ActionReceipt
from tests import factories as f
from tests.automation.actions_support import SYSTEM, HttpCapture, add_connector, http_server, make_ctx

ACTION = TypeAdapter(ir.Action)
SECRET = "whsec_test_不要外传"
EVENT = {"type": "opportunity.won", "entity": "opportunity", "entity_id": "7", "payload": {"amount": "1.00"}}


def action(**data: Any) -> Any:
    return ACTION.validate_python(data)


@pytest.fixture
def server() -> Any:
    with http_server() as capture:
        yield capture


@pytest.fixture
def subject(session: Session) -> Subject:
    rep = f.user(session, "rep@example.com", password=None)
    account = f.account(session, owner_id=rep.id)
    deal = f.opportunity(session, SYSTEM, account_id=account.id, owner_id=rep.id, name="DSA 采购")
    return Subject("opportunity", deal.id, account_id=account.id, opportunity_id=deal.id)


# --- the signed webhook ---------------------------------------------------------------------------


def test_the_webhook_is_signed_carries_the_key_and_is_sent_once(
    session: Session, server: HttpCapture, subject: Subject
) -> None:
    add_connector(session, "webhook", "erp", {"url": f"{server.url}/hooks/pathcast", "secret": SECRET})
    ctx = make_ctx(session, subject, event=EVENT)
    outcome = actions.execute(action(type="webhook", connector="ERP"), ctx)
    assert outcome.status == "done" and outcome.detail["status_code"] == 200 and outcome.detail["signed"]
    (request,) = server.requests
    assert request.method == "POST" and request.path == "/hooks/pathcast"
    timestamp = request.headers["x-pathcast-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-pathcast-signature"] == f"sha256={expected}"
    assert webhook_module.verify(SECRET, timestamp, request.body, request.headers["x-pathcast-signature"])
    assert not webhook_module.verify(
        "wrong", timestamp, request.body, request.headers["x-pathcast-signature"]
    )
    assert request.headers["idempotency-key"] == ctx.idempotency_key
    body = request.json()
    assert set(body) == {"rule", "run", "event", "subject"}
    assert body["rule"]["name"] == "测试规则" and body["event"] == EVENT
    assert body["subject"]["opportunity_id"] == subject.opportunity_id
    assert body["run"]["idempotency_key"] == ctx.idempotency_key
    again = actions.execute(action(type="webhook", connector="erp"), ctx)
    assert again.detail["replayed"] is True and len(server.requests) == 1


def test_a_bare_url_uses_the_secret_configured_for_it_or_goes_unsigned(
    session: Session, server: HttpCapture, subject: Subject
) -> None:
    unsigned = actions.execute(
        action(type="webhook", url=f"{server.url}/open"), make_ctx(session, subject, key="k-1")
    )
    assert unsigned.status == "done" and unsigned.detail["signed"] is False
    assert "x-pathcast-signature" not in server.requests[0].headers
    add_connector(session, "webhook", "crm-sync", {"url": f"{server.url}/signed", "secret": SECRET})
    signed = actions.execute(
        action(type="webhook", url=f"{server.url}/signed"), make_ctx(session, subject, key="k-2")
    )
    assert signed.detail["signed"] is True and signed.detail["connector"] == "crm-sync"
    assert server.requests[1].headers["x-pathcast-signature"].startswith("sha256=")
    missing = actions.execute(action(type="webhook", connector="nope"), make_ctx(session, subject, key="k-3"))
    assert missing.status == "failed" and not missing.retryable and "nope" in missing.detail["reason"]


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_server_errors_are_retryable_and_client_errors_are_not(
    session: Session, server: HttpCapture, subject: Subject, status: int, retryable: bool
) -> None:
    server.respond = lambda _request: (status, {"error": "bad signature" if status < 500 else "down"})
    ctx = make_ctx(session, subject)
    outcome = actions.execute(action(type="webhook", url=f"{server.url}/x"), ctx)
    assert outcome.status == "failed" and outcome.retryable is retryable
    assert outcome.detail["status_code"] == status and "error" in outcome.detail["body"]
    assert session.get(ActionReceipt, ctx.idempotency_key) is None


def test_a_timeout_or_a_closed_port_is_retryable(
    session: Session, server: HttpCapture, subject: Subject, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setattr(notify_module, "HTTP_TIMEOUT", httpx.Timeout(0.3))
    server.delay = 1.0
    slow = actions.execute(
        action(type="webhook", url=f"{server.url}/slow"), make_ctx(session, subject, key="k-1")
    )
    assert slow.status == "failed" and slow.retryable and "timed out" in slow.detail["reason"]
    closed = actions.execute(
        action(type="webhook", url="http://127.0.0.1:9/x"), make_ctx(session, subject, key="k-2")
    )
    assert closed.status == "failed" and closed.retryable
    bad = actions.execute(
        action(type="webhook", url="ftp://example.com/x"), make_ctx(session, subject, key="k-3")
    )
    assert bad.status == "failed" and not bad.retryable


# --- chat robots ------------------------------------------------------------------------------------

ROBOTS = {
    "type": "notify",
    "recipients": [{"kind": "relation", "value": "owner"}],
    "channels": ["wecom", "dingtalk"],
}


def test_wecom_robot_gets_its_documented_markdown_payload(
    session: Session, server: HttpCapture, subject: Subject
) -> None:
    add_connector(session, "wecom_robot", "销售群", {"url": f"{server.url}/cgi-bin/webhook/send?key=abc"})
    server.respond = lambda _request: (200, {"errcode": 0, "errmsg": "ok"})
    outcome = actions.execute(action(**{**ROBOTS, "channels": ["wecom"]}), make_ctx(session, subject))
    assert outcome.status == "done" and outcome.detail["sent"] == {"wecom": ["销售群"]}
    (request,) = server.requests
    assert request.path == "/cgi-bin/webhook/send?key=abc"
    assert request.headers["content-type"].startswith("application/json")
    payload = request.json()
    assert payload["msgtype"] == "markdown" and set(payload) == {"msgtype", "markdown"}
    assert "DSA 采购" in payload["markdown"]["content"] and "rep" in payload["markdown"]["content"]
    assert notify_module.wecom_payload("hi", "text") == {"msgtype": "text", "text": {"content": "hi"}}


@pytest.mark.parametrize(("errcode", "retryable"), [(45009, True), (93000, False)])
def test_a_robot_refusal_inside_http_200_is_a_failure(
    session: Session, server: HttpCapture, subject: Subject, errcode: int, retryable: bool
) -> None:
    add_connector(session, "wecom_robot", "销售群", {"url": f"{server.url}/send"})
    server.respond = lambda _request: (200, {"errcode": errcode, "errmsg": "refused"})
    outcome = actions.execute(action(**{**ROBOTS, "channels": ["wecom"]}), make_ctx(session, subject))
    assert outcome.status == "failed" and outcome.retryable is retryable
    assert outcome.detail["failures"][0]["errcode"] == errcode


def test_dingtalk_robot_is_signed_as_dingtalk_documents(
    session: Session, server: HttpCapture, subject: Subject
) -> None:
    secret = "SEC0123456789abcdef"
    add_connector(
        session,
        "dingtalk_robot",
        "交付群",
        {"url": f"{server.url}/robot/send?access_token=t0k", "secret": secret},
    )
    server.respond = lambda _request: (200, {"errcode": 0, "errmsg": "ok"})
    outcome = actions.execute(action(**{**ROBOTS, "channels": ["dingtalk"]}), make_ctx(session, subject))
    assert outcome.status == "done", outcome.detail
    (request,) = server.requests
    url = urllib.parse.urlsplit(request.path)
    query = urllib.parse.parse_qs(url.query)
    assert url.path == "/robot/send" and query["access_token"] == ["t0k"]
    timestamp = query["timestamp"][0]
    assert abs(int(timestamp) - time.time() * 1000) < 60_000
    # DingTalk: sign = urlEncode(base64(HmacSHA256(key=secret, message=timestamp + "\n" + secret)))
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(digest).decode()]
    payload = json.loads(request.body)
    assert payload["msgtype"] == "markdown"
    assert (
        payload["markdown"]["title"].startswith("【Pathcast】") and "DSA 采购" in payload["markdown"]["text"]
    )
    assert payload["at"] == {"isAtAll": False}


def test_dingtalk_sign_matches_the_documented_sample_computation() -> None:
    timestamp, secret = 1577262236757, "SECxxx"
    expected = urllib.parse.quote_plus(
        base64.b64encode(
            hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
        )
    )
    assert notify_module.dingtalk_sign(secret, timestamp) == expected
    assert notify_module.dingtalk_url(
        "https://oapi.dingtalk.com/robot/send?access_token=x", secret, timestamp
    ) == (f"https://oapi.dingtalk.com/robot/send?access_token=x&timestamp={timestamp}&sign={expected}")
    assert notify_module.dingtalk_url("https://example/robot", None) == "https://example/robot"
