"""Hives benchmark, the promise check: 200 resources and 2,000 reservations over 52 weeks.

**Pure** (``pathcast.hives.promise.plan``): the "产线升级 / line upgrade" template
(``hives.service.templates.LINE_UPGRADE``), ``--resources`` resources over its three skills
plus unrelated ones (lines, teams, people; seeded), ``--reservations`` bookings spread over
52 weeks (never overbooking a resource), and ``--runs`` checks with different start and
requested dates (half of them missed, so "what would have to move" is computed too). p50 /
p99 / max in milliseconds.

**Database-backed** (``hives.service.capacity_promise.promise_for_deal`` on a fresh SQLite
file): the same resources and bookings stored, an open deal, ``--db-runs`` checks, each in
its own transaction with its ``hive.promise_checked`` event. p50 / p99 / max.

    .venv/bin/python bench/hives_capacity.py
    .venv/bin/python bench/hives_capacity.py --resources 50 --reservations 300 --runs 20 --db-runs 5
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from datetime import date, timedelta

import numpy as np

from pathcast.hives.promise import Booking, Capacity, Step, monday, plan
from pathcast.hives.schemas import definition_of
from pathcast.hives.service.templates import LINE_UPGRADE

Row = tuple[str, str, str]
TODAY = date(2026, 11, 23)
WEEKS = 52
# the template's skills (with a capacity range) and some unrelated ones
SKILLS = {
    "assembly_line": (40, 80),
    "field_engineer": (4, 10),
    "logistics": (2, 6),
    "welding": (5, 20),
    "painting": (10, 40),
    "it_install": (2, 8),
}


def steps() -> list[Step]:
    """LINE_UPGRADE's milestones as the planner's steps."""
    return [
        Step(m.key, m.name_en, m.offset_days, m.duration_days, tuple(m.depends_on),
             tuple((n.skill, n.units_per_week) for n in m.needs))
        for m in definition_of(LINE_UPGRADE).milestones
    ]  # fmt: skip


def world(resources: int, reservations: int, *, seed: int = 11) -> tuple[list[Capacity], list[Booking]]:
    """Seeded resources and bookings over 52 weeks that never overbook a resource."""
    rng = random.Random(seed)
    skills = list(SKILLS)
    made = []
    for i in range(resources):
        skill = skills[i % len(skills)]
        low, high = SKILLS[skill]
        made.append(
            Capacity(i + 1, f"{skill}-{i + 1}", skill, float(rng.randint(low, high)), rng.random() > 0.05)
        )
    used: dict[tuple[int, date], float] = {}
    bookings: list[Booking] = []
    first = monday(TODAY)
    attempts = 0
    while len(bookings) < reservations and attempts < reservations * 20:
        attempts += 1
        resource = rng.choice(made)
        week = first + timedelta(weeks=rng.randrange(WEEKS))
        room = resource.capacity_per_week - used.get((resource.id, week), 0.0)
        if room < 1:
            continue
        units = float(rng.randint(1, max(1, int(room * 0.9))))
        used[(resource.id, week)] = used.get((resource.id, week), 0.0) + units
        holder = rng.choice(["hive", "deal", "other"])
        bookings.append(
            Booking(len(bookings) + 1, resource.id, week, units, holder, rng.randint(1, 500), holder)
        )
    return made, bookings


def _stats(latencies: list[float]) -> str:
    p50, p99 = np.percentile(latencies, [50, 99])
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms"


def bench_pure(resources: int, reservations: int, runs: int) -> Row:
    """The pure check's latency over ``runs`` start / requested dates."""
    capacities, bookings = world(resources, reservations)
    plan_steps = steps()
    rng = random.Random(3)
    plan(plan_steps, capacities, bookings, start=TODAY)  # warm-up
    latencies, missed = [], 0
    for _ in range(runs):
        start = TODAY + timedelta(days=rng.randrange(0, 200))
        requested = start + timedelta(days=rng.randrange(30, 90))
        begin = time.perf_counter()
        answer = plan(plan_steps, capacities, bookings, start=start, requested=requested)
        latencies.append((time.perf_counter() - begin) * 1000)
        missed += answer.meets_request is False
    return (
        "in memory",
        f"promise check (line_upgrade, {len(capacities):,} resources, {len(bookings):,} reservations over "
        f"{WEEKS} weeks, {runs} start/requested dates, {missed} missed → moves computed)",
        _stats(latencies),
    )


def bench_database(resources: int, reservations: int, runs: int) -> Row:
    """``promise_for_deal`` on SQLite, one transaction (and event) per check."""
    from pathcast.auth.permissions import Actor
    from pathcast.crm import service as crm
    from pathcast.db import dispose_engines, unit_of_work, utcnow
    from pathcast.hives import models as m
    from pathcast.hives.service.capacity_promise import promise_for_deal
    from pathcast.hives.service.templates import ensure_default_templates
    from pathcast.migrate import upgrade

    system = Actor.system("bench")
    capacities, bookings = world(resources, reservations)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        with unit_of_work(url) as session:
            ensure_default_templates(session, system)
            crm.ensure_default_pipeline(session, actor=system)
            account = crm.create_record(
                session, actor=system, spec=crm.SPECS["account"], data={"name": "Bench Co"}
            )
            deal = crm.create_opportunity(
                session, actor=system, data={"name": "Bench deal", "account_id": account.id}
            )
            deal_id = deal.id
            session.add_all(
                m.Resource(id=c.id, name=c.name, kind="line", skill=c.skill, capacity_per_week=c.capacity_per_week,
                           active=c.active)
                for c in capacities
            )  # fmt: skip
            session.flush()
            now = utcnow()
            session.add_all(
                m.Reservation(resource_id=b.resource_id, week_start=b.week, units=b.units, note=b.label,
                              created_at=now)
                for b in bookings
            )  # fmt: skip
        rng = random.Random(5)
        latencies = []
        for i in range(runs + 1):
            start = TODAY + timedelta(days=rng.randrange(0, 200))
            requested = start + timedelta(days=rng.randrange(30, 90))
            begin = time.perf_counter()
            with unit_of_work(url) as session:
                promise_for_deal(session, system, deal_id, start_date=start, requested_date=requested,
                                 now=utcnow())  # fmt: skip
            if i:  # the first is warm-up (caches, template lookup)
                latencies.append((time.perf_counter() - begin) * 1000)
        dispose_engines()
    return (
        "SQLite",
        f"promise_for_deal (load resources + bookings, plan, append event, commit; "
        f"{resources:,} resources, {len(bookings):,} reservations, {runs} checks)",
        _stats(latencies),
    )


def run_all(resources: int = 200, reservations: int = 2000, runs: int = 200, db_runs: int = 30) -> list[Row]:
    """Every row: the pure check and the database-backed one."""
    return [bench_pure(resources, reservations, runs), bench_database(resources, reservations, db_runs)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--reservations", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=200, help="pure checks timed (default 200)")
    parser.add_argument("--db-runs", type=int, default=30, help="database-backed checks timed (default 30)")
    args = parser.parse_args()
    rows = run_all(args.resources, args.reservations, args.runs, args.db_runs)
    sys.stdout.write(
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n| engine | measure | result |\n"
        "|---|---|---|\n" + "".join(f"| {e} | {m} | {r} |\n" for e, m, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
