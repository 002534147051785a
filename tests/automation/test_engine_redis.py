"""With PATHCAST_QUEUE_URL=redis://…, two worker processes share the runs through the real Redis at
127.0.0.1:6379: one dispatcher matches (elected by a Redis lock), both execute, each run once.
Redis being down fails the test with a message; it is never skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation.engine.queue import QueueUnavailable, RedisQueue, queue_for
from pathcast.automation.models import Run, Step
from tests import factories as f
from tests.automation.engine_support import make_rule, receiver, runs_of

REDIS_URL = os.environ.get("PATHCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUNS = 20


@pytest.fixture
def namespace() -> Iterator[str]:
    """A private key prefix on the real Redis; fails (does not skip) when Redis is down."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(
            f"Redis is unreachable at {REDIS_URL} ({error}); the distributed engine is tested on the real "
            "Redis. Start it with: redis-server --daemonize yes",
            pytrace=False,
        )
    name = f"pathcast:test:{uuid.uuid4().hex[:12]}"
    yield name
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


def start_worker(db_url: str, tmp_path: Path, namespace: str, name: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PATHCAST_")}
    env["PATHCAST_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pathcast.automation.engine",
            "--database-url",
            db_url,
            "--queue-url",
            REDIS_URL,
            "--namespace",
            namespace,
            "--worker-id",
            name,
            "--poll-seconds",
            "0.2",
            "--lease-seconds",
            "30",
            "--report",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / f"{name}.log").open("w"),
        text=True,
    )


def wait_ready(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert json.loads(line) == {"ready": True}, line


def stop(process: subprocess.Popen[str]) -> dict[str, Any]:
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_two_worker_processes_share_the_runs_each_run_once(
    session: Session, db_url: str, tmp_path: Path, namespace: str
) -> None:
    with receiver(delay=0.05) as hook:
        rule = make_rule(
            session,
            {
                "trigger": {"type": "record_event", "event": "activity.created"},
                "actions": [{"type": "webhook", "url": hook.url}],
            },
        )
        session.commit()
        workers = [start_worker(db_url, tmp_path, namespace, name) for name in ("w1", "w2")]
        try:
            for process in workers:
                wait_ready(process)
            for number in range(RUNS):
                f.activity(session, kind="call", subject=f"电话 {number}")
            session.commit()
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                statuses = [run.status for run in runs_of(session, rule)]
                session.commit()
                if len(statuses) == RUNS and set(statuses) == {"done"}:
                    break
                time.sleep(0.2)
            reports = [stop(process) for process in workers]
        finally:
            for process in workers:
                if process.poll() is None:
                    process.kill()
        runs = runs_of(session, rule)
        assert [run.status for run in runs] == ["done"] * RUNS
        executed = [set(report["executed"]) for report in reports]
        assert executed[0].isdisjoint(executed[1])
        assert executed[0] | executed[1] == {run.id for run in runs}
        assert all(executed), f"both workers should have taken runs: {reports}"
        attempts = session.scalars(select(Step.attempts).join(Run).where(Run.rule_id == rule.id)).all()
        assert attempts == [1] * RUNS
        assert len(hook.requests) == RUNS and len(hook.processed) == RUNS


def test_one_dispatcher_at_a_time(namespace: str) -> None:
    first, second = RedisQueue(REDIS_URL, namespace=namespace), RedisQueue(REDIS_URL, namespace=namespace)
    assert first.elect("a", ttl_seconds=5)
    assert not second.elect("b", ttl_seconds=5)
    assert first.elect("a", ttl_seconds=5)  # renewing its own term
    first.resign("a")
    assert second.elect("b", ttl_seconds=5)
    second.push([3, 4, 5])
    assert first.pop(0.1, limit=2) == [3, 4] and first.pop(0.1, limit=5) == [5]
    assert first.pop(0.05, limit=5) == []


def test_an_unreachable_queue_says_so() -> None:
    with pytest.raises(QueueUnavailable, match="Redis does not answer"):
        queue_for("redis://127.0.0.1:1/0")
