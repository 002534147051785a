"""External condition checks: "预算已批复" (budget approved) asks the budget system.

An admin configures an ``http_check`` connector::

    {"url": "https://erp.example/api/budgets/{opportunity_id}?account={account_name}",
     "method": "GET",                                   # or POST with a "body_template"
     "auth": {"type": "bearer", "token": "…"},          # or basic {username, password}, or hmac {secret}
     "headers": {"X-Tenant": "acme"},
     "timeout": 5,
     "response_map": {"approved": "$.data.status == 'approved'", "amount": "$.data.amount"}}

``{placeholders}`` are filled from the run's context (URL-encoded in the URL); the JSON
answer is read with the mapping: a small JSONPath subset (``$``, ``.name``,
``['name']``, ``[0]``) optionally compared with one literal (``== != > >= < <=``,
strings in quotes, numbers, ``true``/``false``/``null``). It is parsed, never
``eval``-ed. With ``hmac`` auth the request carries ``X-Pathcast-Timestamp`` and
``X-Pathcast-Signature: sha256=<hex HMAC(secret, f"{ts}.{METHOD}.{path?query}." + body)>``:
the method and path are signed too, because a GET has no body to bind the signature to.

Anything that keeps the answer from being read raises ``CheckUnavailable``; its
``retryable`` flag says whether a later try may succeed (a timeout, a 5xx) or not (no
such connector, a 4xx, an answer that is not JSON). The engine retries either way
within its budget, and shows the reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.orm import Session

from pathcast.automation.actions.notify import find_connector
from pathcast.automation.models import Connector, ConnectorKind

DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 60.0
MAX_ERROR_BODY = 1000
PLACEHOLDER = re.compile(r"\{([^\W\d]\w*)\}")


class CheckUnavailable(Exception):
    """The external check could not answer now: why, and whether trying again may help."""

    def __init__(self, reason: str, *, retryable: bool = True, detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.detail = detail or {}


# --- the response mapping: a tiny JSONPath and one comparison ----------------------------------

_SEGMENT = re.compile(
    r"""\.(?P<name>[^\W\d][\w-]*)"""
    r"""|\[\s*(?P<index>-?\d+)\s*\]"""
    r"""|\[\s*'(?P<single>(?:[^'\\]|\\.)*)'\s*\]"""
    r"""|\[\s*"(?P<double>(?:[^"\\]|\\.)*)"\s*\]"""
)
_OPERATORS = ("==", "!=", ">=", "<=", ">", "<")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_MISSING = object()


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping: the path's segments, and optionally an operator and a literal."""

    path: tuple[str | int, ...]
    op: str | None = None
    literal: Any = None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _parse_path(text: str) -> tuple[tuple[str | int, ...], str]:
    """The segments of a ``$…`` path at the start of ``text``, and the rest of the text."""
    text = text.lstrip()
    if not text.startswith("$"):
        raise ValueError("a mapping starts with $")
    position, segments = 1, []
    while position < len(text):
        match = _SEGMENT.match(text, position)
        if match is None:
            break
        if match["name"] is not None:
            segments.append(match["name"])
        elif match["index"] is not None:
            segments.append(int(match["index"]))
        else:
            segments.append(_unescape(match["single"] if match["single"] is not None else match["double"]))
        position = match.end()
    return tuple(segments), text[position:]


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return _unescape(text[1:-1])
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    if _NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text and "e" not in lowered else number
    raise ValueError(f"{text!r} is not a literal: use 'text', a number, true, false or null")


def parse_mapping(expression: str) -> Mapping:
    """Parse ``$.data.status == 'approved'`` (or a bare path); ``ValueError`` says what is wrong."""
    path, rest = _parse_path(expression)
    rest = rest.strip()
    if not rest:
        return Mapping(path)
    for op in _OPERATORS:
        if rest.startswith(op):
            return Mapping(path, op, _parse_literal(rest[len(op) :]))
    raise ValueError(f"cannot read {rest!r}: expected .name, [index] or a comparison {' '.join(_OPERATORS)}")


def read_path(document: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path``, or ``None`` when any step is missing."""
    current = document
    for segment in path:
        if isinstance(segment, int) and isinstance(current, list):
            if not -len(current) <= segment < len(current):
                return None
            current = current[segment]
        elif isinstance(segment, str) and isinstance(current, dict):
            current = current.get(segment, _MISSING)
            if current is _MISSING:
                return None
        else:
            return None
    return current


def _compare(value: Any, op: str, literal: Any) -> bool:
    numbers = (int, float)
    both_numbers = (
        isinstance(value, numbers)
        and isinstance(literal, numbers)
        and not isinstance(value, bool)
        and not isinstance(literal, bool)
    )
    if op == "==":
        return bool(value == literal) if both_numbers or type(value) is type(literal) else False
    if op == "!=":
        return not _compare(value, "==", literal)
    comparable = both_numbers or (isinstance(value, str) and isinstance(literal, str))
    if not comparable:
        return False
    return {">": value > literal, ">=": value >= literal, "<": value < literal, "<=": value <= literal}[op]


def evaluate(expression: str, document: Any) -> Any:
    """The mapped value of ``document``: the path's value, or the comparison's truth."""
    mapping = parse_mapping(expression)
    value = read_path(document, mapping.path)
    if mapping.op is None:
        return value
    return _compare(value, mapping.op, mapping.literal)


# --- the request --------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def fill(template: str, context: dict[str, Any], *, url: bool = False) -> str:
    """Fill ``{name}`` placeholders from the context (URL-encoded in URLs); a missing one is an error."""

    def value_of(match: re.Match[str]) -> str:
        name = match[1]
        if name not in context:
            raise CheckUnavailable(
                f"the check needs {{{name}}}, which this run does not have", retryable=False
            )
        value = _text(context[name])
        return urllib.parse.quote(value, safe="") if url else value

    return PLACEHOLDER.sub(value_of, template)


def fill_json(template: Any, context: dict[str, Any]) -> Any:
    """A JSON body template filled in: ``"{amount}"`` alone keeps the value's type."""
    if isinstance(template, dict):
        return {key: fill_json(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_json(value, context) for value in template]
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        if whole is not None and whole[1] in context:
            return context[whole[1]]
        return fill(template, context)
    return template


def _auth_headers(auth: dict[str, Any], method: str, url: str, body: bytes) -> dict[str, str]:
    kind = str(auth.get("type") or "").lower()
    if kind == "bearer":
        return {"Authorization": f"Bearer {auth.get('token', '')}"}
    if kind == "basic":
        pair = f"{auth.get('username', '')}:{auth.get('password', '')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    if kind == "hmac":
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        stamp = str(int(time.time()))
        signed = f"{stamp}.{method}.{target}.".encode() + body
        digest = hmac.new(str(auth.get("secret", "")).encode(), signed, hashlib.sha256).hexdigest()
        return {
            "X-Pathcast-Timestamp": stamp,
            str(auth.get("header") or "X-Pathcast-Signature"): f"sha256={digest}",
        }
    if kind in ("", "none"):
        return {}
    raise CheckUnavailable(f"unknown auth type {kind!r}", retryable=False)


def call(connector: Connector, context: dict[str, Any]) -> Any:
    """Ask the connector's API and return its parsed JSON answer."""
    config = connector.config or {}
    template = str(config.get("url") or "")
    if not template:
        raise CheckUnavailable(f"check {connector.name!r} has no URL", retryable=False)
    url = fill(template, context, url=True)
    method = str(config.get("method") or "GET").upper()
    if method not in ("GET", "POST", "PUT"):
        raise CheckUnavailable(f"unsupported method {method}", retryable=False)
    body = b""
    headers = {"Accept": "application/json"}
    if config.get("body_template") is not None and method != "GET":
        filled = config["body_template"]
        body = (
            fill(filled, context).encode()
            if isinstance(filled, str)
            else json.dumps(fill_json(filled, context), ensure_ascii=False, separators=(",", ":")).encode()
        )
        headers["Content-Type"] = "application/json; charset=utf-8"
    headers |= {str(key): str(value) for key, value in (config.get("headers") or {}).items()}
    headers |= _auth_headers(dict(config.get("auth") or {}), method, url, body)
    timeout = min(float(config.get("timeout") or DEFAULT_TIMEOUT), MAX_TIMEOUT)
    try:
        response = httpx.request(method, url, content=body or None, headers=headers, timeout=timeout)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise CheckUnavailable(f"bad URL: {error}", retryable=False) from error
    except httpx.TimeoutException as error:
        raise CheckUnavailable(f"{connector.name}: timed out after {timeout:g}s") from error
    except httpx.HTTPError as error:
        raise CheckUnavailable(f"{connector.name}: could not connect: {error}") from error
    status = response.status_code
    if not 200 <= status < 300:
        raise CheckUnavailable(
            f"{connector.name}: HTTP {status}",
            retryable=status >= 500 or status in (408, 429),
            detail={"status_code": status, "body": response.text[:MAX_ERROR_BODY]},
        )
    try:
        return response.json()
    except ValueError as error:
        raise CheckUnavailable(
            f"{connector.name}: the answer is not JSON",
            retryable=False,
            detail={"body": response.text[:MAX_ERROR_BODY]},
        ) from error


def map_field(connector: Connector, field: str, document: Any) -> Any:
    """One field of the answer through the connector's ``response_map`` (a ``$`` path also works
    as the field itself; an unmapped name falls back to the answer's top-level key)."""
    response_map = (connector.config or {}).get("response_map") or {}
    expression = response_map.get(field)
    if expression is None and field.startswith("$"):
        expression = field
    if expression is None:
        if isinstance(document, dict) and field in document:
            return document[field]
        raise CheckUnavailable(
            f"check {connector.name!r} maps no field {field!r}",
            retryable=False,
            detail={"mapped": sorted(response_map)},
        )
    try:
        return evaluate(str(expression), document)
    except ValueError as error:
        raise CheckUnavailable(
            f"check {connector.name!r}: bad mapping for {field!r}: {error}", retryable=False
        )


def evaluate_check(session: Session, connector_name: str, field: str, context: dict[str, Any]) -> Any:
    """Call the named ``http_check`` connector with the run's context and return the mapped field."""
    connector = find_connector(session, ConnectorKind.http_check.value, connector_name)
    if connector is None:
        raise CheckUnavailable(f"no active check connector named {connector_name!r}", retryable=False)
    return map_field(connector, field, call(connector, context))


def evaluate_all(session: Session, connector_name: str, context: dict[str, Any]) -> dict[str, Any]:
    """Every mapped field of one call (for an admin's "test this connector" button)."""
    connector = find_connector(session, ConnectorKind.http_check.value, connector_name)
    if connector is None:
        raise CheckUnavailable(f"no active check connector named {connector_name!r}", retryable=False)
    document = call(connector, context)
    response_map = (connector.config or {}).get("response_map") or {}
    return {field: map_field(connector, field, document) for field in response_map}
