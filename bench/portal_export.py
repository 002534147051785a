"""Portal export benchmark: the ZIP export of one large account, time and peak memory.

Setup (not timed): a fresh migrated SQLite file; one account (through crm's service) with
20 contacts; then Core bulk inserts of ``--activities`` activities (tied to the contacts,
a minute apart) and ``--documents`` documents with one version each (metadata rows: an
export lists versions, it does not carry their files).

Timed: ``portal.service.exports.export_account(..., fmt="zip")`` as the system actor into a
temporary file, twice per size:

* once plain: wall time, rows per second, the ``resource.getrusage`` max-RSS delta (how
  far the export pushed the process's high-water mark) and the RSS peak sampled from
  ``/proc/self/statm`` at every progress callback (every 500 rows), absolute and above the
  RSS before (set-up ran in the same process; memory it freed is reused, so growth near
  zero means the export needed no more than was already resident);
* once under ``tracemalloc``: the peak of Python allocations during the export.

The same is repeated at half the size (``--activities`` / 2): the export reads keyset pages
and drops them, so the peaks should be about equal, not double.

    .venv/bin/python bench/portal_export.py                     # 100,000 activities
    .venv/bin/python bench/portal_export.py --activities 20000 --documents 200
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.db import dispose_engines, unit_of_work
from pathcast.migrate import upgrade

Row = tuple[str, str, str]
SYSTEM = Actor.system("bench")
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
CHUNK = 5000
CONTACTS = 20
KINDS = ("call", "meeting", "email", "note")


def _chunked(rows: Iterator[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """Rows in lists of ``size``, generated lazily (set-up must not inflate the RSS peak)."""
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def populate(url: str, activities: int, documents: int) -> int:
    """One account with contacts (services), activities and documents (Core bulk inserts)."""
    from pathcast.crm import service as crm

    with unit_of_work(url) as session:
        account = crm.create_record(
            session,
            actor=SYSTEM,
            spec=crm.SPECS["account"],
            data={"name": "Bench 恒泰精密", "industry": "medical"},
        )
        contacts = [
            crm.create_record(
                session,
                actor=SYSTEM,
                spec=crm.SPECS["contact"],
                data={"name": f"联系人 {n}", "account_id": account.id, "email": f"c{n}@bench.example"},
            ).id
            for n in range(CONTACTS)
        ]
        account_id = int(account.id)
    activity_rows = (
        {"kind": KINDS[n % 4], "subject": f"现场沟通 visit {n}", "body": "internal notes " * 8,
         "account_id": account_id, "contact_id": contacts[n % CONTACTS],
         "occurred_at": START + timedelta(minutes=n), "duration_minutes": 30,
         "created_at": START, "updated_at": START}
        for n in range(activities)
    )  # fmt: skip
    document_rows = (
        {"id": n + 1, "name": f"方案 Proposal {n}", "kind": "proposal", "audience": "customer",
         "account_id": account_id, "current_version": 1, "created_at": START, "updated_at": START}
        for n in range(documents)
    )  # fmt: skip
    version_rows = (
        {"document_id": n + 1, "version": 1, "filename": f"proposal-{n}.pdf", "content_type": "application/pdf",
         "size_bytes": 180_000 + n, "sha256": f"{n:064x}", "note": "first issue", "created_at": START}
        for n in range(documents)
    )  # fmt: skip
    with unit_of_work(url) as session:
        for table, rows in ((m.Activity, activity_rows), (m.Document, document_rows),
                            (m.DocumentVersion, version_rows)):  # fmt: skip
            for chunk in _chunked(rows):
                session.execute(insert(table), chunk)
    return account_id


def _rss() -> int:
    """The current resident set size in bytes (0 where /proc is missing)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _max_rss() -> int:
    """The process's max RSS so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def measure(url: str, account_id: int, folder: str) -> dict[str, float]:
    """Export once plain (time, RSS) and once under tracemalloc (Python peak)."""
    from pathcast.portal.service.exports import export_account

    out = Path(folder) / "export.zip"
    before_rss, before_max = _rss(), _max_rss()
    sampled = [before_rss]

    def progress(_dataset: str, _rows: int) -> None:
        sampled.append(_rss())

    with unit_of_work(url) as session, out.open("wb") as handle:
        started = time.perf_counter()
        summary = export_account(session, SYSTEM, account_id, fmt="zip", out=handle, progress=progress)
        elapsed = time.perf_counter() - started
    rows = sum(summary.counts.values())
    result = {
        "seconds": elapsed,
        "rows": float(rows),
        "bytes": float(out.stat().st_size),
        "maxrss_delta": float(max(0, _max_rss() - before_max)),
        "rss_peak_delta": float(max(0, max(sampled) - before_rss)),
        "rss_peak": float(max(sampled)),
    }
    with unit_of_work(url) as session, out.open("wb") as handle:
        tracemalloc.start()
        try:
            export_account(session, SYSTEM, account_id, fmt="zip", out=handle)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    result["tracemalloc_peak"] = float(peak)
    return result


def bench_size(activities: int, documents: int) -> dict[str, float]:
    """Populate a fresh SQLite file and measure its export."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench_portal_export.db"
        upgrade(url)
        try:
            account_id = populate(url, activities, documents)
            return measure(url, account_id, folder)
        finally:
            dispose_engines()


def _mb(value: float) -> str:
    if value < 1_048_576:
        return f"{value / 1024:.0f} KB"
    return f"{value / 1_048_576:.1f} MB"


def run_all(activities: int = 100_000, documents: int = 1_000) -> list[Row]:
    """Every export row: the full size, then half of it (smaller first, so the process's
    max-RSS high-water mark of the first run cannot hide the second's)."""
    half = bench_size(max(1, activities // 2), max(1, documents // 2))
    full = bench_size(activities, documents)
    rows: list[Row] = []
    for label, result in ((f"{activities:,} activities, {documents:,} documents", full),
                          (f"{activities // 2:,} activities, {documents // 2:,} documents", half)):  # fmt: skip
        rows += [
            ("SQLite", f"portal ZIP export, {label}: time",
             f"{result['seconds']:.2f} s ({result['rows'] / result['seconds']:,.0f} rows/s, {_mb(result['bytes'])} ZIP)"),
            ("SQLite", f"portal ZIP export, {label}: peak Python memory (tracemalloc)",
             _mb(result["tracemalloc_peak"])),
            ("SQLite", f"portal ZIP export, {label}: process RSS (sampled peak; growth during export; "
                       "getrusage max-RSS delta)",
             f"{_mb(result['rss_peak'])}; +{_mb(result['rss_peak_delta'])}; +{_mb(result['maxrss_delta'])}"),
        ]  # fmt: skip
    ratio = full["tracemalloc_peak"] / max(1.0, half["tracemalloc_peak"])
    rows.append(("SQLite", "portal ZIP export: peak memory full / half size", f"{ratio:.2f}× (constant ≈ 1)"))
    return rows


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The size options (``--activities``, ``--documents``), optionally prefixed for bench/run.py."""
    parser.add_argument(f"--{prefix}activities", type=int, default=100_000, help="activities in the account")
    parser.add_argument(f"--{prefix}documents", type=int, default=1_000, help="documents (one version each)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    args = parser.parse_args()
    rows = run_all(args.activities, args.documents)
    sys.stdout.write(
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n\n| engine | measure | result |\n"
        "|---|---|---|\n" + "".join(f"| {e} | {m_} | {r} |\n" for e, m_, r in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
