"""Pathcast benchmarks: `make bench` prints a table and appends it to bench/RESULTS.md.

Measures the Maven CRM import (time, rows/s), event appends per second on SQLite and
PostgreSQL, hash-chain verification per second, and the ingest of tracking events through
``POST /api/v1/collect`` on a real uvicorn server (events/s, latency per batch; see
bench/collect.py, which also runs alone), and the automation engine: matching throughput
with 1,000 rules over a replayed stream, and commit → action start latency with the
in-process worker (see bench/automation.py, which also runs alone), and the forecast:
win-model train time at 100k and 1M synthetic opportunities, scoring throughput and the
Maven backtest's wall time (see bench/forecast.py, which also runs alone), and the radar:
texts analysed per second (Chinese, English) and BM25 retrieval latency p50/p99 over 100k
knowledge-base passages (see bench/radar.py, which also runs alone), and the hives: board
and timeline rendering with 500 tasks, the promise check with 200 resources and 2,000
reservations, and health recomputation for 10,000 hives (bench/hives_board.py,
hives_capacity.py, hives_health.py, each also runs alone). Each run uses
fresh databases (a temp SQLite file; a private PostgreSQL schema that is dropped afterwards).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

import automation
import collect
import forecast
import hives_board
import hives_capacity
import hives_health
import portal_export
import radar
from pathcast.db import dispose_engines, unit_of_work
from pathcast.events import EventDraft, append_event, append_events, verify_chain
from pathcast.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
MAVEN = ROOT.parent / "shared" / "datasets" / "maven_crm"
PG_BASE = os.environ.get("PATHCAST_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        upgrade(url)
        yield url
        dispose_engines()


@contextmanager
def postgres_database() -> Iterator[str]:
    schema = f"pathcast_bench_{os.getpid()}"
    admin = create_engine(PG_BASE)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_single_appends(url: str, count: int) -> float:
    """Events per second, one committed transaction per event (a request's worth)."""

    def run() -> None:
        for i in range(count):
            with unit_of_work(url) as session:
                append_event(
                    session,
                    type="bench.appended",
                    entity="bench",
                    entity_id=i % 50,
                    actor="bench",
                    payload={"after": {"i": i, "名称": "基准"}},
                )

    return count / timed(run)


def bench_batch_appends(url: str, count: int, batch: int = 1000) -> float:
    """Events per second appended in batches of ``batch`` per transaction (imports)."""

    def run() -> None:
        for start in range(0, count, batch):
            with unit_of_work(url) as session:
                append_events(
                    session,
                    [
                        EventDraft("bench.batched", "batch", i % 500, "bench", {"after": {"i": i}})
                        for i in range(start, min(count, start + batch))
                    ],
                )

    return count / timed(run)


def bench_verify(url: str) -> tuple[int, float]:
    with unit_of_work(url, write=False) as session:
        start = time.perf_counter()
        report = verify_chain(session)
        elapsed = time.perf_counter() - start
    assert report.ok, report
    return report.checked, report.checked / elapsed


def bench_maven(url: str, skip: bool = False) -> tuple[int, float] | None:
    if skip or not MAVEN.is_dir():
        return None
    from pathcast.crm.importers import run_import

    start = time.perf_counter()
    report = run_import(url, format="maven", paths=[MAVEN])
    elapsed = time.perf_counter() - start
    return report.rows_read, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000, help="single-transaction appends per engine")
    parser.add_argument("--batch-events", type=int, default=20000, help="batched appends per engine")
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    parser.add_argument("--skip-maven", action="store_true", help="leave out the Maven import")
    parser.add_argument("--skip-collect", action="store_true", help="leave out the collect ingest")
    parser.add_argument("--skip-automation", action="store_true", help="leave out the automation engine")
    parser.add_argument("--skip-forecast", action="store_true", help="leave out the forecast model")
    parser.add_argument(
        "--skip-radar", action="store_true", help="leave out the radar analysis and retrieval"
    )
    parser.add_argument(
        "--skip-hives", action="store_true", help="leave out the hives board, promise check and health"
    )
    parser.add_argument("--skip-portal", action="store_true", help="leave out the portal's account export")
    parser.add_argument(
        "--only",
        choices=("collect", "automation", "forecast", "radar", "hives", "portal"),
        help="run only this section",
    )
    collect.add_size_arguments(parser, prefix="collect-")
    automation.add_size_arguments(parser, prefix="automation-")
    forecast.add_size_arguments(parser, prefix="forecast-")
    radar.add_size_arguments(parser, prefix="radar-")
    hives_board.add_size_arguments(parser, prefix="hives-board-")
    hives_health.add_size_arguments(parser, prefix="hives-health-")
    parser.add_argument("--hives-resources", type=int, default=200, help="resources in the promise check")
    parser.add_argument(
        "--hives-reservations", type=int, default=2000, help="reservations in the promise check"
    )
    portal_export.add_size_arguments(parser, prefix="portal-")
    args = parser.parse_args()
    if args.only == "collect" and args.skip_collect:
        parser.error("--only collect and --skip-collect exclude each other")
    if args.only == "automation" and args.skip_automation:
        parser.error("--only automation and --skip-automation exclude each other")
    if args.only == "forecast" and args.skip_forecast:
        parser.error("--only forecast and --skip-forecast exclude each other")
    if args.only == "radar" and args.skip_radar:
        parser.error("--only radar and --skip-radar exclude each other")
    if args.only == "hives" and args.skip_hives:
        parser.error("--only hives and --skip-hives exclude each other")
    engines = (("SQLite", sqlite_database), ("PostgreSQL", postgres_database))
    rows: list[tuple[str, str, str]] = []
    details: list[str] = []
    for engine, database in engines if args.only is None else ():
        with database() as url:
            maven = bench_maven(url, skip=args.skip_maven)
            if maven is None:
                rows.append((engine, "Maven import", "skipped"))
            else:
                total, elapsed = maven
                rows.append(
                    (
                        engine,
                        "Maven import (8,800 deals + accounts, products, teams)",
                        f"{elapsed:.1f} s, {total / elapsed:,.0f} rows/s",
                    )
                )
            rows.append(
                (
                    engine,
                    f"event appends, 1 per transaction ({args.events:,})",
                    f"{bench_single_appends(url, args.events):,.0f} events/s",
                )
            )
            rows.append(
                (
                    engine,
                    f"event appends, batches of 1,000 ({args.batch_events:,})",
                    f"{bench_batch_appends(url, args.batch_events):,.0f} events/s",
                )
            )
            checked, rate = bench_verify(url)
            rows.append((engine, f"chain verification ({checked:,} events)", f"{rate:,.0f} events/s"))
    for engine, database in engines if not args.skip_collect and args.only in (None, "collect") else ():
        over_http, in_process = collect.bench_engine(
            engine,
            database,
            batches=args.collect_batches,
            batch_size=args.collect_batch_size,
            clients=args.collect_clients,
            visitors=args.collect_visitors,
            assets=args.collect_assets,
            workers=args.collect_workers,
        )
        if over_http is not None:
            rows += collect.http_rows(over_http)
        if in_process is not None:
            rows += collect.profile_rows(in_process)
            details.append(collect.phase_table(in_process))
    if not args.skip_automation and args.only in (None, "automation"):
        rows += automation.run_all(
            args.automation_rules, args.automation_events, args.automation_samples, list(engines)
        )
    if not args.skip_forecast and args.only in (None, "forecast"):
        rows += forecast.run_all(
            args.forecast_rows,
            args.forecast_trees,
            None if args.forecast_no_backtest or args.skip_maven else sqlite_database,
            "--skip-maven" if args.skip_maven else "--forecast-no-backtest",
        )
    if not args.skip_radar and args.only in (None, "radar"):
        rows += radar.run_all(args.radar_texts, args.radar_passages, args.radar_queries)
    if not args.skip_hives and args.only in (None, "hives"):
        rows += hives_board.run_all(args.hives_board_tasks, args.hives_board_runs)
        rows += hives_capacity.run_all(args.hives_resources, args.hives_reservations)
        rows += hives_health.run_all(args.hives_health_hives, args.hives_health_sample)
    if not args.skip_portal and args.only in (None, "portal"):
        rows += portal_export.run_all(args.portal_activities, args.portal_documents)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"## {stamp} — {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}\n\n| engine | measure | result |\n|---|---|---|\n"
    )
    table = header + "".join(f"| {e} | {m} | {r} |\n" for e, m, r in rows)
    table += "".join("\n" + detail for detail in details)
    sys.stdout.write(table)
    if not args.no_record:
        if not RESULTS.exists():
            RESULTS.write_text("# Benchmark results\n\nAppended by `make bench` (bench/run.py).\n\n")
        with RESULTS.open("a") as results:
            results.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
