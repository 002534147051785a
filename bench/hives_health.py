"""Hive health benchmark: recompute the health of 10,000 open hives on SQLite.

Setup (not timed): a fresh migrated SQLite file; one account and a handful of members; then
Core bulk inserts of ``--hives`` hives shaped like the line-upgrade template — 8 milestones
in a chain with owners and cached schedule, 8 dependencies, 4 members of different
functions, 2 open risks (one owned by the wrong function in a third of the hives), 3
cross-functional requests (answered fast, answered late, still open), a decision in half
of them, and 25 filed messages in one hive in ten (the noisy ones, flagged busy, not
moving).

Timed: ``hives.service.health.recompute_all`` over every hive (facts loaded per table,
scored in Python, one bulk UPDATE, one event per changed hive), then ``recompute_health``
of single hives (``--sample`` of them, cycling through) for p50 / p99 per hive.

    .venv/bin/python bench/hives_health.py              # 10,000 hives
    .venv/bin/python bench/hives_health.py --hives 2000
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.db import dispose_engines, unit_of_work
from pathcast.hives import models as m
from pathcast.migrate import upgrade

Row = tuple[str, str, str]
SYSTEM = Actor.system("bench")
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
FUNCTIONS = ("production_planning", "logistics", "it_implementation", "customer_success")
MILESTONES = 8


def _people(url: str) -> tuple[int, list[int]]:
    """One account and one member per function (through the services)."""
    from pathcast.auth import service as auth_service
    from pathcast.crm import service as crm

    with unit_of_work(url) as session:
        users = [
            auth_service.create_user(
                session,
                actor=SYSTEM,
                email=f"{name}@bench.example",
                name=name,
                role=Role.member,
                password=None,
            ).id
            for name in FUNCTIONS
        ]
        account = crm.create_record(
            session, actor=SYSTEM, spec=crm.SPECS["account"], data={"name": "Bench 精密"}
        ).id
    return account, users


def _chunks(rows: list[dict[str, Any]], size: int = 5000) -> list[list[dict[str, Any]]]:
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def populate(url: str, hives: int, *, seed: int = 7) -> None:
    """Bulk-insert ``hives`` hives with their members, tasks, risks, requests and messages."""
    rng = random.Random(seed)
    account, users = _people(url)
    start = NOW.date() - timedelta(days=20)
    hive_rows = [
        {"id": i + 1, "name": f"Hive {i + 1}", "account_id": account, "status": "active", "start_date": start,
         "promised_date": start + timedelta(days=rng.choice((40, 50, 60))), "health_components": {},
         "forecast_finish": start + timedelta(days=rng.choice((44, 48, 55, 70)))}
        for i in range(hives)
    ]  # fmt: skip
    members, tasks, dependencies, risks, requests, decisions, messages = [], [], [], [], [], [], []
    task_id = 0
    for hive in hive_rows:
        hive_id = hive["id"]
        members += [
            {"hive_id": hive_id, "user_id": user, "function": function, "joined_at": NOW - timedelta(days=20)}
            for user, function in zip(users, FUNCTIONS, strict=True)
        ]
        previous = None
        for number in range(MILESTONES):
            task_id += 1
            planned = start + timedelta(days=5 * number)
            done = number < 2 or (number == 2 and hive_id % 2 == 0)
            tasks.append(
                {"id": task_id, "hive_id": hive_id, "kind": "milestone", "name": f"M{number}", "status":
                 "done" if done else ("doing" if number == 2 else "todo"),
                 "owner_id": users[number % 4] if number % 7 else None, "position": number * 100,
                 "planned_start": planned, "duration_days": 5, "due_date": planned + timedelta(days=5),
                 "started_at": NOW - timedelta(days=20 - 5 * number) if number <= 2 else None,
                 "done_at": NOW - timedelta(days=18 - 5 * number) if done else None,
                 "forecast_start": planned, "forecast_finish": planned + timedelta(days=5 + rng.choice((0, 0, 3))),
                 "slack_days": 0, "critical": not done}
            )  # fmt: skip
            if previous is not None:
                dependencies.append({"hive_id": hive_id, "task_id": task_id, "depends_on_id": previous})
            previous = task_id
        wrong = hive_id % 3 == 0
        risks += [
            {"hive_id": hive_id, "title": "物料交期", "function": "production_planning", "owner_id": users[0],
             "status": "open", "source": "template", "opened_at": NOW - timedelta(days=20)},
            {"hive_id": hive_id, "title": "现场条件", "function": "it_implementation",
             "owner_id": users[0] if wrong else users[2], "status": "open", "source": "template",
             "opened_at": NOW - timedelta(days=20)},
        ]  # fmt: skip
        asked = NOW - timedelta(days=3)
        requests += [
            {"hive_id": hive_id, "from_user_id": users[1], "to_user_id": users[0], "text": "?", "asked_at": asked,
             "answered_at": asked + timedelta(hours=2), "answer": "ok"},
            {"hive_id": hive_id, "from_user_id": users[2], "to_user_id": users[1], "text": "?", "asked_at": asked,
             "answered_at": asked + timedelta(hours=40), "answer": "late"},
            {"hive_id": hive_id, "from_user_id": users[3], "to_user_id": users[2], "text": "?", "asked_at": asked,
             "answered_at": None, "answer": None},
        ]  # fmt: skip
        if hive_id % 2:
            decisions.append({"hive_id": hive_id, "text": "go", "decided_at": NOW - timedelta(days=4)})
        if hive_id % 10 == 0:
            messages += [
                {"hive_id": hive_id, "channel": "wecom", "subject": "进度?", "sender": "x", "participants": [],
                 "body": "进度?", "attachments": [], "sent_at": NOW - timedelta(hours=n + 1), "search_text": "进度",
                 "reasons": [], "score": 1.0, "filed_by": "auto", "filed_at": NOW - timedelta(hours=n + 1)}
                for n in range(25)
            ]  # fmt: skip
    with unit_of_work(url) as session:
        for table, rows in (
            (m.Hive, hive_rows), (m.Member, members), (m.Task, tasks), (m.Dependency, dependencies),
            (m.Risk, risks), (m.Request, requests), (m.Decision, decisions), (m.Message, messages),
        ):  # fmt: skip
            for chunk in _chunks(rows):
                session.execute(insert(table), chunk)


def bench(url: str, hives: int, sample: int) -> list[Row]:
    """Time the whole pass and single-hive recomputations."""
    from pathcast.hives.service import health

    with unit_of_work(url) as session:
        started = time.perf_counter()
        changes = health.recompute_all(session, SYSTEM, now=NOW)
        whole = time.perf_counter() - started
    flagged = sum(change.busy_not_moving for change in changes)
    # A second pass an hour later: the same facts, so no hive changes and no event is written.
    with unit_of_work(url) as session:
        started = time.perf_counter()
        again = health.recompute_all(session, SYSTEM, now=NOW + timedelta(hours=1))
        steady = time.perf_counter() - started
    moved = sum(change.changed for change in again)
    with unit_of_work(url, write=False) as session:
        spread = session.execute(select(func.min(m.Hive.health), func.max(m.Hive.health))).one()
    timings = []
    for number in range(sample):
        hive_id = 1 + (number * 37) % hives
        with unit_of_work(url) as session:
            started = time.perf_counter()
            health.recompute_health(session, SYSTEM, hive_id, now=NOW + timedelta(minutes=number))
            timings.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(timings, [50, 99])
    return [
        ("SQLite", f"hive health: recompute_all, {len(changes):,} hives", f"{whole:.2f} s ({len(changes) / whole:,.0f} hives/s)"),
        ("SQLite", "hive health: per hive within recompute_all", f"{whole / max(1, len(changes)) * 1000:.3f} ms mean"),
        ("SQLite", f"hive health: recompute_all again, {moved:,} changed", f"{steady:.2f} s ({len(again) / steady:,.0f} hives/s)"),
        ("SQLite", f"hive health: recompute_health one hive ({sample} runs)", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"),
        ("SQLite", "hive health: spread / flagged busy-not-moving", f"{spread[0]}–{spread[1]}, {flagged:,} flagged"),
    ]  # fmt: skip


def run_all(hives: int = 10_000, sample: int = 200) -> list[Row]:
    """Every hive-health row, on a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench_hives_health.db"
        upgrade(url)
        try:
            populate(url, hives)
            return bench(url, hives, sample)
        finally:
            dispose_engines()


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The size options (``--hives``, ``--sample``), optionally prefixed for bench/run.py."""
    parser.add_argument(f"--{prefix}hives", type=int, default=10_000, help="open hives to recompute")
    parser.add_argument(f"--{prefix}sample", type=int, default=200, help="single-hive recomputations timed")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    args = parser.parse_args()
    rows = run_all(args.hives, args.sample)
    sys.stdout.write(
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n| engine | measure | result |\n"
        "|---|---|---|\n" + "".join(f"| {e} | {m_} | {r} |\n" for e, m_, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
