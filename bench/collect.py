"""Ingest benchmark of ``POST /api/v1/collect``: real server, real batches, features checked.

The HTTP run starts uvicorn as a subprocess on a fresh database, sends pre-encoded batches
of tracking events from concurrent clients (one keep-alive connection each) and reports
accepted events per second and the latency of each batch. Afterwards it checks that the
derived features were kept: one ``signal_views`` row per view id sent, each view's dwell
the highest heartbeat sent for it, and the day aggregates summing to the same.

``--profile`` runs the same batches in-process instead (no HTTP, one thread), through the
same code as the route (parse, ``unit_of_work()``, site lookup, ``ingest_batch``) and splits
the time by phase, with the part spent inside the database driver; that is what bounds the
HTTP figure, measured.

    .venv/bin/python bench/collect.py                      # HTTP, SQLite and PostgreSQL
    .venv/bin/python bench/collect.py --profile --engine sqlite
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from pathcast.auth.permissions import Actor
from pathcast.db import get_engine, unit_of_work
from pathcast.signals import api as signals_api
from pathcast.signals import models as m
from pathcast.signals.ratelimit import get_rate_limiter
from pathcast.signals.service import collect as collect_service
from pathcast.signals.service.sites import create_site

ORIGIN = "https://www.example.com"
DEPARTMENTS = (
    "心内科",
    "神经外科",
    "放射科",
    "导管室",
    "骨科",
    "检验科",
    "急诊科",
    "麻醉科",
    "重症医学科",
    "采购部",
)
DOCUMENTS = ("介入耗材对比表", "设备报价单", "年度采购方案", "临床案例集", "产品白皮书")


class BenchError(RuntimeError):
    """The server refused a batch, or the database does not hold what was sent."""


# --- the workload ----------------------------------------------------------------------------


@dataclass
class Workload:
    """Pre-encoded request bodies and what the database must hold once all are stored.

    Batches are dealt to ``streams`` in turn (batch ``i`` to stream ``i % streams``); each
    stream has its own visitors, so a dwell heartbeat always refers to a view its own stream
    started earlier, and the HTTP run gives each stream to one client, in order.
    """

    site_key: str
    bodies: list[bytes]
    sizes: list[int]
    streams: int
    visitors: int = 0
    assets: int = 0
    views: int = 0
    dwell_ms: int = 0
    visitor_asset_pairs: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(self.sizes)

    def stream(self, number: int) -> list[int]:
        """Indexes of the bodies of one stream, in the order they must be sent."""
        return list(range(number, len(self.bodies), self.streams))


def asset_catalogue(count: int) -> list[dict[str, str]]:
    """``count`` assets with Chinese names, documents and pages alternating."""
    catalogue = []
    for i in range(count):
        name = f"{DEPARTMENTS[i % len(DEPARTMENTS)]}{DOCUMENTS[(i // len(DEPARTMENTS)) % len(DOCUMENTS)]}"
        if i >= len(DEPARTMENTS) * len(DOCUMENTS):
            name += f"（第{i // (len(DEPARTMENTS) * len(DOCUMENTS)) + 1}版）"
        key = f"doc-{i:03d}"
        catalogue.append(
            {
                "asset": key,
                "asset_name": name,
                "asset_kind": "document" if i % 2 == 0 else "page",
                "url": f"{ORIGIN}/docs/{key}",
            }
        )
    return catalogue


@dataclass
class _OpenView:
    key: str
    visitor: str
    dwell_ms: int = 0
    beats: int = 0


def make_workload(
    site_key: str,
    *,
    batches: int,
    batch_size: int = 500,
    streams: int = 4,
    visitors: int = 2000,
    assets: int = 50,
    seed: int = 20261126,
) -> Workload:
    """``batches`` bodies of ``batch_size`` events: new views, dwell heartbeats and clicks.

    About 30 % of events open a view, 55 % are heartbeats of open views (most started in
    earlier batches; a few late, lower heartbeats that must not lower the dwell) and 15 %
    clicks. Timestamps are a few seconds before ``sent_at``, so the server puts them just
    before it received the batch, whenever that is.
    """
    rng = random.Random(seed)
    catalogue = asset_catalogue(assets)
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(assets)]  # a few popular documents
    pool = [f"{rng.getrandbits(88):022x}" for _ in range(visitors)]
    stream_visitors = [pool[s::streams] or pool[:1] for s in range(streams)]
    open_views: list[list[_OpenView]] = [[] for _ in range(streams)]
    max_dwell: dict[str, int] = {}
    view_asset: dict[str, tuple[str, str]] = {}
    used_visitors: set[str] = set()
    used_assets: set[str] = set()
    kinds: Counter[str] = Counter()
    bodies: list[bytes] = []
    sizes: list[int] = []
    now = int(time.time() * 1000)

    def close(views: list[_OpenView], slot: int) -> None:
        """The reader left: forget the view (swap with the last, O(1))."""
        views[slot] = views[-1]
        views.pop()

    for number in range(batches):
        s = number % streams
        views_open = open_views[s]
        sent_at = now + number  # distinct, increasing; the server corrects the skew anyway
        events: list[dict[str, Any]] = []
        for _ in range(batch_size):
            ts = sent_at - rng.randint(200, 30_000)
            roll = rng.random()
            if views_open and roll < 0.55:
                slot = rng.randrange(len(views_open))
                view = views_open[slot]
                view.beats += 1
                if view.beats > 2 and rng.random() < 0.05:
                    dwell = max(0, view.dwell_ms - 15_000)  # a late heartbeat, out of order
                else:
                    view.dwell_ms += rng.randint(3_000, 15_000)
                    dwell = view.dwell_ms
                max_dwell[view.key] = max(max_dwell[view.key], dwell)
                events.append(
                    {"type": "dwell", "ts": ts, "visitor": view.visitor, "view": view.key, "dwell_ms": dwell}
                )
                if view.beats >= 12 or rng.random() < 0.08:
                    close(views_open, slot)
                kinds["dwell"] += 1
            elif roll < 0.85 or not views_open:
                visitor = rng.choice(stream_visitors[s])
                asset = rng.choices(catalogue, weights)[0]
                key = f"s{s}b{number}e{len(events)}-{rng.getrandbits(32):08x}"
                if len(views_open) >= 4 * len(stream_visitors[s]):
                    close(views_open, rng.randrange(len(views_open)))
                views_open.append(_OpenView(key, visitor))
                max_dwell[key] = 0
                view_asset[key] = (visitor, asset["asset"])
                used_visitors.add(visitor)
                used_assets.add(asset["asset"])
                events.append({"type": "view", "ts": ts, "visitor": visitor, "view": key, **asset})
                kinds["view"] += 1
            else:
                visitor = rng.choice(stream_visitors[s])
                asset = rng.choices(catalogue, weights)[0]
                used_visitors.add(visitor)
                events.append(
                    {
                        "type": "click",
                        "ts": ts,
                        "visitor": visitor,
                        "target": "a.download-pdf",
                        "url": asset["url"],
                    }
                )
                kinds["click"] += 1
        body = {"site": site_key, "sent_at": sent_at, "events": events}
        bodies.append(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        sizes.append(len(events))
    return Workload(
        site_key=site_key,
        bodies=bodies,
        sizes=sizes,
        streams=streams,
        visitors=len(used_visitors),
        assets=len(used_assets),
        views=len(max_dwell),
        dwell_ms=sum(max_dwell.values()),
        visitor_asset_pairs=len(set(view_asset.values())),
        kinds=kinds,
    )


def create_bench_site(url: str) -> str:
    """A site that accepts any origin and (practically) any rate; its public key."""
    with unit_of_work(url) as session:
        site = create_site(
            session,
            name=f"bench-{os.getpid()}-{time.monotonic_ns()}",
            allowed_origins=["*"],
            rate_limit_per_minute=10**9,
            actor=Actor.system(),
        )
        return site.key


# --- what the database holds afterwards ----------------------------------------------------


@dataclass(frozen=True)
class Stored:
    hits: int
    views: int
    day_rows: int
    view_dwell_ms: int
    day_views: int
    day_dwell_ms: int
    visitors: int
    assets: int


def stored(url: str) -> Stored:
    with unit_of_work(url, write=False) as session:

        def scalar(statement: Any) -> int:
            return int(session.execute(statement).scalar() or 0)

        return Stored(
            hits=scalar(select(func.count()).select_from(m.Hit)),
            views=scalar(select(func.count()).select_from(m.View)),
            day_rows=scalar(select(func.count()).select_from(m.VisitorAssetDay)),
            view_dwell_ms=scalar(select(func.sum(m.View.dwell_ms))),
            day_views=scalar(select(func.sum(m.VisitorAssetDay.views))),
            day_dwell_ms=scalar(select(func.sum(m.VisitorAssetDay.dwell_ms))),
            visitors=scalar(select(func.count()).select_from(m.Visitor)),
            assets=scalar(select(func.count()).select_from(m.Asset)),
        )


def verify(url: str, workload: Workload, *, crossed_midnight: bool = False) -> Stored:
    """What the database holds, or BenchError naming each figure that differs."""
    found = stored(url)
    expected = {
        "hits": workload.events,
        "views": workload.views,
        "view_dwell_ms": workload.dwell_ms,
        "day_views": workload.views,
        "day_dwell_ms": workload.dwell_ms,
        "visitors": workload.visitors,
        "assets": workload.assets,
    }
    if not crossed_midnight:  # otherwise a pair's views may fall on two days
        expected["day_rows"] = workload.visitor_asset_pairs
    wrong = [
        f"{name}: {getattr(found, name):,} stored, {value:,} expected"
        for name, value in expected.items()
        if getattr(found, name) != value
    ]
    if wrong:
        raise BenchError("the database does not hold what was sent: " + "; ".join(wrong))
    return found


# --- the HTTP run ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


@contextmanager
def serve(
    database_url: str, directory: Path, *, workers: int = 1, timeout: float = 120.0
) -> Iterator[Server]:
    """uvicorn serving Pathcast on a free port against ``database_url``, stopped after."""
    port = free_port()
    env = {
        **os.environ,
        "PATHCAST_DATABASE_URL": database_url,
        "PATHCAST_DATA_DIR": str(directory / "data"),
        "PATHCAST_SECRET_KEY": "bench-secret-key-not-for-production",
    }
    command = [sys.executable, "-m", "uvicorn", "pathcast.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning"]
    log = directory / f"uvicorn-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=directory, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"uvicorn exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{server.url}/healthz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"uvicorn did not answer within {timeout:.0f} s")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_TICK = os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its descendants so far."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK)
    tree, total = {pid}, 0.0
    grew = True
    while grew:
        grew = False
        for child, (parent, _) in stats.items():
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core summed."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    total = sum(values) / _TICK
    idle = (values[3] + values[4]) / _TICK
    return total - idle, total


def background_load(seconds: float = 1.0) -> float:
    """Cores busy on the whole machine over ``seconds`` before a run (other programs)."""
    busy_before, total_before = machine_busy()
    time.sleep(seconds)
    busy_after, total_after = machine_busy()
    share = (busy_after - busy_before) / max(total_after - total_before, 1e-9)
    return max(0.0, share * (os.cpu_count() or 1))


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p50 of 200 batches is the 100th fastest)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


@dataclass
class HttpResult:
    engine: str
    events: int
    batches: int
    clients: int
    workers: int
    seconds: float
    latencies: list[float]
    stored: Stored
    server_cpu: float
    client_cpu: float
    machine_cpu: float
    background: float
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 0.99)

    @property
    def worst(self) -> float:
        return max(self.latencies)


def _post(client: httpx.Client, body: bytes, size: int) -> float:
    start = time.perf_counter()
    answer = client.post(
        "/api/v1/collect", content=body, headers={"Content-Type": "application/json", "Origin": ORIGIN}
    )
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise BenchError(f"collect answered {answer.status_code}: {answer.text[:500]}")
    report = answer.json()
    if report.get("rejected") or report.get("accepted") != size:
        raise BenchError(f"collect refused events: {json.dumps(report, ensure_ascii=False)[:500]}")
    return elapsed


def run_http(
    url: str, workload: Workload, *, engine: str = "", warmup: int = 1, workers: int = 1
) -> HttpResult:
    """Serve ``url`` with uvicorn and send ``workload`` from one client per stream.

    Each client first sends ``warmup`` of its batches untimed (connections, statement
    caches); then all start together and the clock runs until the last answer.
    """
    clients = workload.streams
    day = datetime.now(UTC).date()
    background = background_load()
    with (
        tempfile.TemporaryDirectory(prefix="pathcast-collect-") as folder,
        serve(url, Path(folder), workers=workers) as server,
    ):
        plans = [workload.stream(c) for c in range(clients)]
        latencies: list[list[float]] = [[] for _ in range(clients)]
        errors: list[BaseException] = []
        ready = threading.Barrier(clients + 1)
        done = threading.Barrier(clients + 1)

        def client_thread(number: int) -> None:
            plan = plans[number]
            try:
                with httpx.Client(base_url=server.url, timeout=120.0) as client:
                    for index in plan[:warmup]:
                        _post(client, workload.bodies[index], workload.sizes[index])
                    ready.wait()
                    for index in plan[warmup:]:
                        if errors:
                            break
                        latencies[number].append(_post(client, workload.bodies[index], workload.sizes[index]))
            except BaseException as error:
                errors.append(error)
                ready.abort()
            finally:
                with suppress(threading.BrokenBarrierError):
                    done.wait()

        threads = [threading.Thread(target=client_thread, args=(c,), daemon=True) for c in range(clients)]
        for thread in threads:
            thread.start()
        try:
            ready.wait()
        except threading.BrokenBarrierError:
            done.abort()
            for thread in threads:
                thread.join()
            raise errors[0] from None
        server_before = process_tree_cpu(server.process.pid)
        client_before = time.process_time()
        busy_before, total_before = machine_busy()
        start = time.perf_counter()
        done.wait()
        seconds = time.perf_counter() - start
        busy_after, total_after = machine_busy()
        client_cpu = time.process_time() - client_before
        server_cpu = process_tree_cpu(server.process.pid) - server_before
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
    timed = sum(workload.sizes[i] for plan in plans for i in plan[warmup:])
    found = verify(url, workload, crossed_midnight=datetime.now(UTC).date() != day)
    cores = os.cpu_count() or 1
    machine = (busy_after - busy_before) / max(total_after - total_before, 1e-9) * cores
    return HttpResult(
        engine=engine,
        events=timed,
        batches=sum(len(plan[warmup:]) for plan in plans),
        clients=clients,
        workers=workers,
        seconds=seconds,
        latencies=[value for values in latencies for value in values],
        stored=found,
        server_cpu=server_cpu / seconds,
        client_cpu=client_cpu / seconds,
        machine_cpu=machine,
        background=background,
    )


# --- the in-process profile ---------------------------------------------------------------------

PHASES = (
    ("parse", "parse body (json.loads + CollectBatch)"),
    ("begin", "begin (session, BEGIN [IMMEDIATE])"),
    ("site", "site lookup, origin, rate limit"),
    ("validate", "validate events (CollectEvent per event, clock)"),
    ("visitors", "visitors (select, insert new, update last_seen)"),
    ("identify", "identify"),
    ("assets", "assets (select, insert new)"),
    ("known_views", "view lookup (select by key)"),
    ("hit_rows", "hit rows (Python)"),
    ("hits", "hits insert (+ report)"),
    ("views", "views insert / dwell update"),
    ("days", "day-bucket upsert"),
    ("commit", "commit (all of it counted as in the driver)"),
    ("answer", "answer JSON"),
)


class PhaseClock:
    """Exclusive wall time per phase, and the part of it spent in the database driver.

    Wraps module functions for the duration of a ``with`` block (the product code is not
    changed); a wrapped call inside another is subtracted from its caller's phase.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.sql: dict[str, float] = defaultdict(float)
        self.statements: dict[str, int] = defaultdict(int)
        self._stack: list[list[Any]] = []  # [phase, child seconds]
        self._restore: list[tuple[Any, str, Any]] = []
        self._sql_started: float = 0.0

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        frame: list[Any] = [name, 0.0]
        self._stack.append(frame)
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self._stack.pop()
            self.seconds[name] += elapsed - frame[1]
            if self._stack:
                self._stack[-1][1] += elapsed

    def wrap(self, module: Any, attribute: str, name: str) -> None:
        original = getattr(module, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return original(*args, **kwargs)

        self._restore.append((module, attribute, original))
        setattr(module, attribute, timed)

    def restore(self) -> None:
        while self._restore:
            module, attribute, original = self._restore.pop()
            setattr(module, attribute, original)

    def before_sql(self, *_: Any) -> None:
        self._sql_started = time.perf_counter()

    def after_sql(self, *_: Any) -> None:
        name = self._stack[-1][0] if self._stack else "other"
        self.sql[name] += time.perf_counter() - self._sql_started
        self.statements[name] += 1


@dataclass
class ProfileResult:
    engine: str
    events: int
    batches: int
    seconds: float
    phases: list[tuple[str, float, float, int]]  # label, seconds, of which SQL, statements
    stored: Stored
    background: float
    cprofile: str = ""

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def share(self, *names: str) -> float:
        labels = {label for key, label in PHASES if key in names}
        return sum(seconds for label, seconds, _, _ in self.phases if label in labels) / self.seconds


def run_inprocess(url: str, workload: Workload, *, engine: str = "", cprofile: int = 0) -> ProfileResult:
    """Ingest ``workload`` in this process, one batch after another, as the route does."""
    clock = PhaseClock()
    for attribute, name in (
        ("site_for_key", "site"),
        ("_validate", "validate"),
        ("_visitor_ids", "visitors"),
        ("_identify", "identify"),
        ("_asset_ids", "assets"),
        ("_known_views", "known_views"),
        ("_hit_rows", "hit_rows"),
        ("_apply_views", "views"),
        ("_upsert_days", "days"),
    ):
        clock.wrap(collect_service, attribute, name)
    engine_ = get_engine(url)
    sa_event.listen(engine_, "before_cursor_execute", clock.before_sql)
    sa_event.listen(engine_, "after_cursor_execute", clock.after_sql)
    profiler = cProfile.Profile() if cprofile else None
    limiter = get_rate_limiter()
    day = datetime.now(UTC).date()
    background = background_load()
    try:
        if profiler:
            profiler.enable()
        start = time.perf_counter()
        for body in workload.bodies:
            with clock.phase("parse"):
                batch = signals_api._parse_batch(body)
            with clock.phase("begin"):
                unit = unit_of_work(url)
                session = unit.__enter__()
            try:
                site = collect_service.site_for_key(session, batch.site)
                with clock.phase("site"):
                    if not collect_service.origin_allowed(site, ORIGIN):
                        raise BenchError("origin refused")
                    if limiter.hit(f"site:{site.key}", site.rate_limit_per_minute) is not None:
                        raise BenchError("rate limited")
                with clock.phase("hits"):
                    report = collect_service.ingest_batch(session, site=site, batch=batch)
            except BaseException as error:
                unit.__exit__(type(error), error, error.__traceback__)
                raise
            with clock.phase("commit"):
                unit.__exit__(None, None, None)
            with clock.phase("answer"):
                report.model_dump_json()
            if report.rejected or report.accepted != len(batch.events):
                raise BenchError(f"ingest refused events: {report.rejected[:3]}")
        seconds = time.perf_counter() - start
        if profiler:
            profiler.disable()
    finally:
        clock.restore()
        sa_event.remove(engine_, "before_cursor_execute", clock.before_sql)
        sa_event.remove(engine_, "after_cursor_execute", clock.after_sql)
    clock.sql["commit"] = clock.seconds["commit"]  # the driver's commit, and a session close
    found = verify(url, workload, crossed_midnight=datetime.now(UTC).date() != day)
    text = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(cprofile)
        text = out.getvalue()
    return ProfileResult(
        engine=engine,
        events=workload.events,
        batches=len(workload.bodies),
        seconds=seconds,
        phases=[
            (label, clock.seconds.get(key, 0.0), clock.sql.get(key, 0.0), clock.statements.get(key, 0))
            for key, label in PHASES
        ],
        stored=found,
        background=background,
        cprofile=text,
    )


# --- tables ------------------------------------------------------------------------------------


def http_rows(result: HttpResult) -> list[tuple[str, str, str]]:
    """(engine, measure, result) rows for bench/run.py's table."""
    s = result.stored
    return [
        (
            result.engine,
            f"collect over HTTP: {result.events:,} events in {result.batches:,} batches of "
            f"{result.events // max(result.batches, 1):,}, {result.clients} clients, "
            f"{result.workers} uvicorn worker{'s' if result.workers > 1 else ''}",
            f"{result.rate:,.0f} events/s; per batch p50 {result.p50 * 1000:,.0f} ms, "
            f"p99 {result.p99 * 1000:,.0f} ms, max {result.worst * 1000:,.0f} ms",
        ),
        (
            result.engine,
            "collect: CPU while sending (cores busy of " + str(result.cores) + ")",
            f"server {result.server_cpu:.2f}, client {result.client_cpu:.2f}, "
            f"whole machine {result.machine_cpu:.2f} (before the run, other programs: "
            f"{result.background:.2f})",
        ),
        (
            result.engine,
            "collect: rows afterwards (checked against what was sent)",
            f"{s.hits:,} hits ({s.hits - result.events:,} of them warm-up), {s.views:,} views, {s.day_rows:,} day rows; "
            f"dwell {s.day_dwell_ms / 3_600_000:,.1f} h in views and days alike",
        ),
    ]


def profile_rows(result: ProfileResult) -> list[tuple[str, str, str]]:
    sql = sum(sql for _, _, sql, _ in result.phases)
    python_share = 1 - sql / result.seconds
    return [
        (
            result.engine,
            f"collect in-process (no HTTP, 1 thread), same {result.events:,} events",
            f"{result.rate:,.0f} events/s; parse + validate "
            f"{result.share('parse', 'validate'):.0%}, in the DB driver {sql / result.seconds:.0%}, "
            f"other Python {python_share - result.share('parse', 'validate'):.0%}",
        )
    ]


def phase_table(result: ProfileResult) -> str:
    lines = [
        f"### {result.engine}: in-process ingest, {result.events:,} events, {result.batches:,} batches, "
        f"{result.seconds:.2f} s = {result.rate:,.0f} events/s (machine busy just before: "
        f"{result.background:.2f} cores)\n",
        "| phase | s | share | of which in DB driver | statements | per batch |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, sql, statements in result.phases:
        lines.append(
            f"| {label} | {seconds:.2f} | {seconds / result.seconds:.1%} | {sql:.2f} | {statements:,} | "
            f"{seconds / result.batches * 1000:.2f} ms |"
        )
    accounted = sum(seconds for _, seconds, _, _ in result.phases)
    sql = sum(sql for _, _, sql, _ in result.phases)
    lines.append(
        f"| (loop, unaccounted) | {result.seconds - accounted:.2f} | "
        f"{(result.seconds - accounted) / result.seconds:.1%} | | | |"
    )
    lines.append(
        f"| **total** | {result.seconds:.2f} | 100% | {sql:.2f} ({sql / result.seconds:.0%}) | | "
        f"{result.seconds / result.batches * 1000:.2f} ms |"
    )
    return "\n".join(lines) + "\n"


def table(rows: list[tuple[str, str, str]]) -> str:
    return "| engine | measure | result |\n|---|---|---|\n" + "".join(
        f"| {e} | {m} | {r} |\n" for e, m, r in rows
    )


# --- command line ------------------------------------------------------------------------------


def bench_engine(
    engine: str,
    database: Callable[[], Any],
    *,
    batches: int,
    batch_size: int,
    clients: int,
    visitors: int,
    assets: int,
    warmup: int = 1,
    workers: int = 1,
    http: bool = True,
    profile: bool = True,
    cprofile: int = 0,
) -> tuple[HttpResult | None, ProfileResult | None]:
    """The HTTP run and the in-process run of one engine, each on a fresh database."""
    size = {"batch_size": batch_size, "streams": clients, "visitors": visitors, "assets": assets}
    http_result = profile_result = None
    if http:
        with database() as url:
            key = create_bench_site(url)
            workload = make_workload(key, batches=batches + warmup * clients, **size)
            http_result = run_http(url, workload, engine=engine, warmup=warmup, workers=workers)
    if profile:
        with database() as url:
            key = create_bench_site(url)
            workload = make_workload(key, batches=batches, **size)
            profile_result = run_inprocess(url, workload, engine=engine, cprofile=cprofile)
    return http_result, profile_result


def add_size_arguments(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    parser.add_argument(f"--{prefix}batches", type=int, default=200, help="timed batches (default 200)")
    parser.add_argument(f"--{prefix}batch-size", type=int, default=500, help="events per batch (max 500)")
    parser.add_argument(f"--{prefix}clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(f"--{prefix}visitors", type=int, default=2000, help="visitor pool")
    parser.add_argument(f"--{prefix}assets", type=int, default=50, help="assets (Chinese names)")
    parser.add_argument(f"--{prefix}workers", type=int, default=1, help="uvicorn worker processes")


def main() -> int:
    from run import postgres_database, sqlite_database  # bench/ is on sys.path when run as a script

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_arguments(parser)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--profile", action="store_true", help="in-process only, with the phase split")
    parser.add_argument(
        "--cprofile", type=int, default=0, metavar="N", help="with --profile: top N functions"
    )
    args = parser.parse_args()
    engines = [
        (name, database)
        for name, key, database in (
            ("SQLite", "sqlite", sqlite_database),
            ("PostgreSQL", "postgresql", postgres_database),
        )
        if args.engine in (key, "both")
    ]
    rows: list[tuple[str, str, str]] = []
    details: list[str] = []
    for name, database in engines:
        http_result, profile_result = bench_engine(
            name,
            database,
            batches=args.batches,
            batch_size=args.batch_size,
            clients=args.clients,
            visitors=args.visitors,
            assets=args.assets,
            workers=args.workers,
            http=not args.profile,
            profile=args.profile,
            cprofile=args.cprofile,
        )
        if http_result:
            rows += http_rows(http_result)
        if profile_result:
            rows += profile_rows(profile_result)
            details.append(phase_table(profile_result))
            if profile_result.cprofile:
                details.append(f"```\n{profile_result.cprofile}```\n")
    sys.stdout.write(f"{os.cpu_count()} cores\n\n" + table(rows) + "".join("\n" + d for d in details))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
