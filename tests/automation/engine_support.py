"""Test support for the engine: a fake clock, rules built from IR, an engine driven to idle,
and a local HTTP receiver that records (and deduplicates) webhook deliveries."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation import service
from pathcast.automation.engine.queue import LocalQueue
from pathcast.automation.engine.worker import Engine
from pathcast.automation.ir import RuleIR
from pathcast.automation.models import Rule, Run, Step
from pathcast.db import utcnow

ADMIN = Actor.system("test-admin")


class FakeClock:
    """The engine's ``now``, moved by the test."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_rule(
    session: Session,
    ir: dict[str, Any] | RuleIR,
    *,
    actor: Actor = ADMIN,
    name: str = "测试规则",
    enable: bool = True,
    scope: str = "all",
    scope_value: str | None = None,
) -> Rule:
    """A rule from an IR, enabled (so only events after now fire it)."""
    parsed = ir if isinstance(ir, RuleIR) else RuleIR.model_validate(ir)
    rule = service.create_rule(
        session,
        name=name,
        text=name,
        lang="zh",
        ir=parsed,
        readback_zh=name,
        readback_en=name,
        actor=actor,
        scope=scope,
        scope_value=scope_value,
    )
    if enable:
        service.enable_rule(session, rule_id=rule.id, actor=actor)
    return rule


def engine_for(url: str, clock: FakeClock, *, worker_id: str = "test-worker") -> Engine:
    return Engine(url, worker_id=worker_id, clock=clock, lease_seconds=60, queue=LocalQueue())


def run_engine(session: Session, url: str, clock: FakeClock, *, engine: Engine | None = None) -> list[int]:
    """Commit the test's work, tick the engine until a round finds nothing, refresh the session."""
    session.commit()
    engine = engine or engine_for(url, clock)
    executed: list[int] = []
    for _ in range(100):
        report = engine.tick()
        executed.extend(report.executed)
        if not report.work:
            break
    else:  # pragma: no cover - a loop that never settles is a bug
        raise AssertionError("the engine did not settle")
    session.expire_all()
    return executed


def runs_of(session: Session, rule: Rule | int) -> list[Run]:
    rule_id = rule if isinstance(rule, int) else rule.id
    return list(session.scalars(select(Run).where(Run.rule_id == rule_id).order_by(Run.id)))


def steps_of(session: Session, run: Run) -> list[Step]:
    return list(session.scalars(select(Step).where(Step.run_id == run.id).order_by(Step.position)))


# --- a webhook receiver ------------------------------------------------------------------------


@dataclass
class Receiver:
    """What the local server received, and how it should answer."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    # answer these status codes first, then 200
    failures: list[int] = field(default_factory=list)
    # when set, the first request blocks until released (the crash test kills the sender meanwhile)
    block_first: bool = False
    # seconds each POST takes to answer (spreads work across workers)
    delay: float = 0.0
    # the JSON a GET answers (an external check's API)
    document: dict[str, Any] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def keys(self) -> list[str]:
        return [request["idempotency_key"] for request in self.requests]

    @property
    def processed(self) -> set[str]:
        """Deliveries a deduplicating receiver acts on: one per Idempotency-Key."""
        return set(self.keys)


@contextmanager
def receiver(**options: Any) -> Iterator[Receiver]:
    state = Receiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with state.lock:
                first = not state.requests
                state.requests.append(
                    {
                        "idempotency_key": self.headers.get("Idempotency-Key"),
                        "body": json.loads(body or b"{}"),
                    }
                )
                status = state.failures.pop(0) if state.failures else 200
            state.arrived.set()
            if first and state.block_first:
                state.release.wait(60)
            if state.delay:
                time.sleep(state.delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')
            except OSError:  # the sender was killed while we held the request
                pass

        def do_GET(self) -> None:
            with state.lock:
                state.requests.append({"idempotency_key": None, "path": self.path})
                status = state.failures.pop(0) if state.failures else 200
            body = json.dumps(state.document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
