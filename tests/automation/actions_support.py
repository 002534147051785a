"""Test support for the action adapters: contexts, run rows, connectors, and real local servers
(an HTTP server that records requests, an SMTP server from aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation.actions.base import ActionContext, Subject
from pathcast.automation.models import Connector, Rule, Run, Step

SYSTEM = Actor.system("rule:test")
# A Tuesday morning in Beijing (01:00 UTC = 09:00 +08:00).
NOW = datetime(2025, 7, 1, 1, 0, tzinfo=UTC)


def run_rows(session: Session, key: str = "run-1/step-0") -> tuple[Run, Step]:
    """A rule, a run and a step, for the foreign keys of receipts and notifications."""
    rule = Rule(name="测试规则", is_enabled=True)
    session.add(rule)
    session.flush()
    run = Run(rule_id=rule.id, rule_version=1, fire_key=key, fired_at=NOW)
    session.add(run)
    session.flush()
    step = Step(run_id=run.id, position=0, kind="action", idempotency_key=key)
    session.add(step)
    session.flush()
    return run, step


def make_ctx(
    session: Session,
    subject: Subject,
    *,
    key: str = "rule-1/run-1/step-0",
    dry_run: bool = False,
    now: datetime = NOW,
    actor: Actor = SYSTEM,
    run: Run | None = None,
    step: Step | None = None,
    event: dict[str, Any] | None = None,
) -> ActionContext:
    """An ActionContext as the engine builds it (run and step rows optional)."""
    return ActionContext(
        session=session,
        rule_id=run.rule_id if run is not None else 1,
        rule_version=1,
        rule_name="测试规则",
        run_id=run.id if run is not None else 999_999,
        step_id=step.id if step is not None else 999_999,
        idempotency_key=key,
        subject=subject,
        event=event,
        now=now,
        actor=actor,
        dry_run=dry_run,
    )


def add_connector(session: Session, kind: str, name: str, config: dict[str, Any]) -> Connector:
    connector = Connector(kind=kind, name=name, config=config, aliases=[])
    session.add(connector)
    session.flush()
    return connector


# --- a local HTTP server -------------------------------------------------------------------------


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Captured], tuple[int, Any]]


@dataclass
class HttpCapture:
    """Requests received, and how to answer: ``respond(request) -> (status, body)``; ``delay`` seconds."""

    url: str
    requests: list[Captured] = field(default_factory=list)
    respond: Responder = lambda _request: (200, {"ok": True})
    delay: float = 0.0


@contextmanager
def http_server() -> Iterator[HttpCapture]:
    """A real HTTP server on 127.0.0.1 in a thread, recording every request."""
    capture = HttpCapture(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Captured(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            capture.requests.append(request)
            if capture.delay:
                time.sleep(capture.delay)
            status, body = capture.respond(request)
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    capture.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()


# --- a local SMTP server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpCapture:
    """Messages received; ``refuse`` maps an address to an SMTP reply such as ``"451 4.3.0 later"``."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "from": "robot@pathcast.example", "timeout": 5}


class _Handler:
    def __init__(self, capture: SmtpCapture) -> None:
        self.capture = capture

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() in self.capture.refuse:
            return self.capture.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.capture.messages.append(message)
        self.capture.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"


@contextmanager
def smtp_server() -> Iterator[SmtpCapture]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, recording every message."""
    capture = SmtpCapture("127.0.0.1", free_port())
    controller = Controller(_Handler(capture), hostname=capture.host, port=capture.port)
    controller.start()
    try:
        yield capture
    finally:
        controller.stop()
