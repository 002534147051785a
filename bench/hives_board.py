"""Hive board benchmark: the board and timeline panels and the schedule of a 500-task hive.

On a fresh SQLite database, one hive with ``--tasks`` tasks (default 500: a milestone every
25 tasks, the rest tasks with owners, some done, some under way) and about 1.2 dependencies
per task (each task waits for one or two earlier ones, so the graph has long chains and a
real critical path). The rows are inserted directly (the set-up is not what is measured),
then ``hives.recompute`` caches the schedule once. Timed, ``--runs`` times each (default 30)
after one warm-up:

- ``GET /hives/{id}/board-panel`` and ``GET /hives/{id}/timeline-panel`` through the real
  application (FastAPI TestClient, signed in through the login form): scoping, the schedule
  for today, the names, and the Jinja rendering;
- ``hives.service.hives.recompute`` (forward and backward pass, caching the forecast on the
  rows, the alert checks), each in its own committed unit of work.

Reported as p50 / p99 in milliseconds.

    .venv/bin/python bench/hives_board.py
    .venv/bin/python bench/hives_board.py --tasks 1000 --runs 50
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

Row = tuple[str, str, str]
PASSWORD = "bench-password-42"


def _percentiles(samples: list[float]) -> str:
    p50, p99 = np.percentile(np.array(samples) * 1000, [50, 99])
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def _timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm-up: templates compiled, caches filled
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def build_hive(url: str, tasks: int, *, seed: int = 5) -> tuple[int, int]:
    """The big hive and its people; returns (hive id, dependency count)."""
    from pathcast.auth import service as auth_service
    from pathcast.auth.models import Role
    from pathcast.auth.permissions import Actor
    from pathcast.crm import service as crm
    from pathcast.db import unit_of_work, utcnow
    from pathcast.hives import models as m
    from pathcast.hives.service.hives import MemberSpec, create_hive, recompute

    rng = random.Random(seed)
    system = Actor.system("bench")
    today = utcnow().date()
    start = today - timedelta(days=60)
    with unit_of_work(url) as session:
        auth_service.create_user(
            session,
            actor=system,
            email="admin@bench.example",
            name="Admin",
            role=Role.admin,
            password=PASSWORD,
        )
        people = [
            auth_service.create_user(
                session, actor=system, email=f"m{i}@bench.example", name=f"成员 {i}", role=Role.member
            )
            for i in range(8)
        ]
        account = crm.create_record(
            session, actor=system, spec=crm.SPECS["account"], data={"name": "Bench 客户"}
        )
        hive = create_hive(
            session, system, account_id=account.id, name="Bench hive", start_date=start,
            promised_date=start + timedelta(days=tasks // 2),
            members=[MemberSpec(person.id, "delivery") for person in people],
        )  # fmt: skip
        rows: list[m.Task] = []
        for number in range(tasks):
            milestone = number % 25 == 0
            planned = start + timedelta(days=number // 5)
            length = 0 if milestone else rng.randint(1, 8)
            task = m.Task(
                hive_id=hive.id, kind="milestone" if milestone else "task", name=f"任务 Task {number}",
                owner_id=rng.choice(people).id, status="todo", position=number, planned_start=planned,
                duration_days=length, due_date=planned + timedelta(days=length + rng.randint(0, 3)),
            )  # fmt: skip
            if planned + timedelta(days=length) < today - timedelta(days=10) and rng.random() < 0.8:
                task.status, task.started_at = "done", utcnow() - timedelta(days=40)
                task.done_at = task.started_at + timedelta(days=length)
            elif planned < today and rng.random() < 0.5:
                task.status, task.started_at = "doing", utcnow() - timedelta(days=3)
            rows.append(task)
        session.add_all(rows)
        session.flush()
        edges: set[tuple[int, int]] = set()
        for number in range(1, tasks):
            for _ in range(1 if rng.random() < 0.8 else 2):
                before = rng.randint(max(0, number - 30), number - 1)
                edges.add((rows[number].id, rows[before].id))
        session.add_all(m.Dependency(hive_id=hive.id, task_id=t, depends_on_id=d) for t, d in sorted(edges))
        session.flush()
        recompute(session, system, hive)
        return hive.id, len(edges)


def _sign_in(client: object) -> None:
    page = client.get("/login")  # type: ignore[attr-defined]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF field on the login page"
    answer = client.post(  # type: ignore[attr-defined]
        "/login",
        data={"email": "admin@bench.example", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def run_all(tasks: int = 500, runs: int = 30) -> list[Row]:
    """Board panel, timeline panel and recompute latency for a ``tasks``-task hive on SQLite."""
    from fastapi.testclient import TestClient

    from pathcast.app import create_app
    from pathcast.auth.permissions import Actor
    from pathcast.config import get_settings
    from pathcast.db import dispose_engines, unit_of_work
    from pathcast.hives import models as m
    from pathcast.hives.service.hives import recompute
    from pathcast.migrate import upgrade

    saved = {key: os.environ.get(key) for key in ("PATHCAST_DATABASE_URL", "PATHCAST_DATA_DIR", "PATHCAST_SECRET_KEY",
                                                  "PATHCAST_ENGINE_POLL_SECONDS", "PATHCAST_POLL_INTERVAL_SECONDS",
                                                  "PATHCAST_FORECAST_REFRESH_SECONDS", "PATHCAST_RADAR_POLL_SECONDS")}  # fmt: skip
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        os.environ.update(
            PATHCAST_DATABASE_URL=url, PATHCAST_DATA_DIR=f"{folder}/data",
            PATHCAST_SECRET_KEY="bench-secret-key-not-for-production", PATHCAST_ENGINE_POLL_SECONDS="0",
            PATHCAST_POLL_INTERVAL_SECONDS="0", PATHCAST_FORECAST_REFRESH_SECONDS="0", PATHCAST_RADAR_POLL_SECONDS="0",
        )  # fmt: skip
        get_settings.cache_clear()
        try:
            upgrade(url)
            hive_id, links = build_hive(url, tasks)
            shape = f"{tasks} tasks, {links} dependencies"
            with TestClient(create_app()) as client:
                _sign_in(client)
                for panel in ("board-panel", "timeline-panel"):

                    def fetch(panel: str = panel) -> None:
                        answer = client.get(f"/hives/{hive_id}/{panel}")
                        assert answer.status_code == 200, answer.text[:500]

                    rows.append(("SQLite", f"hive {panel} ({shape})", _percentiles(_timed(fetch, runs))))

            def again() -> None:
                with unit_of_work(url) as session:
                    hive = session.get(m.Hive, hive_id)
                    assert hive is not None
                    recompute(session, Actor.system("bench"), hive)

            rows.append(("SQLite", f"hive recompute ({shape})", _percentiles(_timed(again, runs))))
        finally:
            dispose_engines()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            get_settings.cache_clear()
    return rows


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}tasks", type=int, default=500, help="tasks in the hive (default 500)")
    parser.add_argument(
        f"--{prefix}runs", type=int, default=30, help="timed runs of each measure (default 30)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    args = parser.parse_args()
    rows = run_all(args.tasks, args.runs)
    sys.stdout.write(
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {date.today()}\n\n"
        "| engine | measure | result |\n|---|---|---|\n"
        + "".join(f"| {e} | {m} | {r} |\n" for e, m, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
