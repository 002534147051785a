"""External condition checks against a real local server: placeholders, auth, response mapping,
and failures that raise ``CheckUnavailable`` (retryable or not)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pathcast.automation.actions.checks import (
    CheckUnavailable,
    evaluate,
    evaluate_all,
    evaluate_check,
    parse_mapping,
)
from tests.automation.actions_support import HttpCapture, add_connector, http_server

CONTEXT = {"opportunity_id": 42, "account_name": "协和医院 & Co/北京", "amount": 120000}
ANSWER = {"data": {"status": "approved", "amount": 118000, "approvers": [{"name": "财务"}, {"name": "CFO"}]}}


@pytest.fixture
def server() -> Any:
    with http_server() as capture:
        yield capture


def budget_connector(session: Session, server: HttpCapture, **config: Any) -> None:
    add_connector(
        session,
        "http_check",
        "budget_approval",
        {
            "url": server.url + "/budgets/{opportunity_id}?account={account_name}",
            "auth": {"type": "bearer", "token": "s3cret"},
            "response_map": {
                "approved": "$.data.status == 'approved'",
                "amount": "$.data.amount",
                "big": "$.data.amount >= 100000",
                "last_approver": "$.data.approvers[-1].name",
            },
            "timeout": 2,
            **config,
        },
    )


def test_a_check_fills_placeholders_authenticates_and_maps_the_answer(
    session: Session, server: HttpCapture
) -> None:
    budget_connector(session, server)
    server.respond = lambda _request: (200, ANSWER)
    assert evaluate_check(session, "budget_approval", "approved", CONTEXT) is True
    (request,) = server.requests
    path = urllib.parse.urlsplit(request.path)
    assert path.path == "/budgets/42"
    assert urllib.parse.parse_qs(path.query) == {"account": ["协和医院 & Co/北京"]}
    assert request.method == "GET" and request.headers["authorization"] == "Bearer s3cret"
    assert evaluate_check(session, "budget_approval", "amount", CONTEXT) == 118000
    assert evaluate_check(session, "budget_approval", "$.data.approvers[0].name", CONTEXT) == "财务"
    assert evaluate_all(session, "budget_approval", CONTEXT) == {
        "approved": True,
        "amount": 118000,
        "big": True,
        "last_approver": "CFO",
    }
    server.respond = lambda _request: (200, {"data": {"status": "pending"}})
    assert evaluate_check(session, "budget_approval", "approved", CONTEXT) is False
    assert evaluate_check(session, "budget_approval", "amount", CONTEXT) is None


def test_basic_auth_and_a_typed_post_body(session: Session, server: HttpCapture) -> None:
    add_connector(
        session,
        "http_check",
        "credit",
        {
            "url": server.url + "/credit",
            "method": "POST",
            "auth": {"type": "basic", "username": "pathcast", "password": "pw:1"},
            "body_template": {"deal": "{opportunity_id}", "note": "deal {opportunity_id} of {account_name}"},
            "response_map": {"ok": "$.ok == true"},
        },
    )
    server.respond = lambda _request: (200, {"ok": True})
    assert evaluate_check(session, "credit", "ok", CONTEXT) is True
    (request,) = server.requests
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"pathcast:pw:1").decode()
    assert request.json() == {"deal": 42, "note": "deal 42 of 协和医院 & Co/北京"}


def test_hmac_auth_signs_timestamp_method_path_and_body(session: Session, server: HttpCapture) -> None:
    add_connector(
        session,
        "http_check",
        "erp",
        {"url": server.url + "/check?id={opportunity_id}", "auth": {"type": "hmac", "secret": "k"}},
    )
    server.respond = lambda _request: (200, {"approved": True})
    # no response_map: an unmapped name reads the answer's top-level key
    assert evaluate_check(session, "erp", "approved", CONTEXT) is True
    (request,) = server.requests
    stamp = request.headers["x-pathcast-timestamp"]
    expected = hmac.new(b"k", f"{stamp}.GET./check?id=42.".encode(), hashlib.sha256).hexdigest()
    assert request.headers["x-pathcast-signature"] == f"sha256={expected}"


def _status(code: int) -> Any:
    return lambda _request: (code, {"error": "nope"})


@pytest.mark.parametrize(
    ("code", "retryable"), [(500, True), (502, True), (429, True), (401, False), (404, False)]
)
def test_http_errors_raise_check_unavailable(
    session: Session, server: HttpCapture, code: int, retryable: bool
) -> None:
    budget_connector(session, server)
    server.respond = _status(code)
    with pytest.raises(CheckUnavailable) as raised:
        evaluate_check(session, "budget_approval", "approved", CONTEXT)
    assert raised.value.retryable is retryable and f"HTTP {code}" in raised.value.reason
    assert "nope" in raised.value.detail["body"]


def test_a_timeout_is_a_retryable_unavailable_check(session: Session, server: HttpCapture) -> None:
    budget_connector(session, server, timeout=0.3)
    server.delay = 1.0
    with pytest.raises(CheckUnavailable, match="timed out") as raised:
        evaluate_check(session, "budget_approval", "approved", CONTEXT)
    assert raised.value.retryable


def test_configuration_problems_are_not_retryable(session: Session, server: HttpCapture) -> None:
    budget_connector(session, server)
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("nobody", "approved", CONTEXT, "no active check connector"),
        ("budget_approval", "approved", {"account_name": "x"}, "{opportunity_id}"),
        ("budget_approval", "colour", CONTEXT, "maps no field"),
    ]
    server.respond = lambda _request: (200, ANSWER)
    for name, field, context, message in cases:
        with pytest.raises(CheckUnavailable) as raised:
            evaluate_check(session, name, field, context)
        assert message in raised.value.reason and not raised.value.retryable
    server.respond = lambda _request: (200, b"<html>not json</html>")
    with pytest.raises(CheckUnavailable, match="not JSON"):
        evaluate_check(session, "budget_approval", "approved", CONTEXT)


def test_a_closed_port_is_retryable(session: Session) -> None:
    add_connector(session, "http_check", "down", {"url": "http://127.0.0.1:9/x", "timeout": 1})
    with pytest.raises(CheckUnavailable) as raised:
        evaluate_check(session, "down", "x", {})
    assert raised.value.retryable


# --- the mapping language (no database) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("$", ANSWER),
        ("$.data.status", "approved"),
        ("$['data']['status']", "approved"),
        ('$["data"].approvers[1].name', "CFO"),
        ("$.data.approvers[5].name", None),
        ("$.data.missing.deeper", None),
        ("$.data.status == 'approved'", True),
        ('$.data.status != "approved"', False),
        ("$.data.amount > 100000", True),
        ("$.data.amount <= 100000.5", False),
        ("$.data.amount == 118000", True),
        ("$.data.amount == '118000'", False),
        ("$.data.missing == null", True),
        ("$.data.missing > 3", False),
        ("$.data.status > 'a'", True),
    ],
)
def test_mapping_paths_and_comparisons(expression: str, value: Any) -> None:
    assert evaluate(expression, ANSWER) == value


@pytest.mark.parametrize(
    "expression",
    [
        "data.status",
        "$.data.status = 'x'",
        "$.data.status == approved",
        "__import__('os').system('x')",
        "$.a + 1",
    ],
)
def test_anything_else_is_refused_not_evaluated(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_mapping(expression)


def test_parsed_mappings_keep_their_literal_types() -> None:
    assert parse_mapping("$.a == 1").literal == 1
    assert parse_mapping("$.a == 1.5").literal == 1.5
    assert parse_mapping("$.a == true").literal is True
    assert parse_mapping("$.a == 'it\\'s'").literal == "it's"
    assert json.dumps(parse_mapping("$.a[0]['b c']").path) == '["a", 0, "b c"]'
