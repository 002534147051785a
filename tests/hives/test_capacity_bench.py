"""bench/hives_capacity.py runs end to end at tiny sizes (no timing checks), and its seeded
world never overbooks a resource."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    name = "pathcast_bench_hives_capacity"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "hives_capacity.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_bench_world_never_overbooks() -> None:
    resources, bookings = _bench().world(30, 400)
    capacity = {r.id: r.capacity_per_week for r in resources}
    load: dict[tuple[int, object], float] = defaultdict(float)
    for booking in bookings:
        load[(booking.resource_id, booking.week)] += booking.units
    assert len(bookings) == 400
    assert all(units <= capacity[resource] for (resource, _week), units in load.items())


def test_run_all_gives_both_rows() -> None:
    rows = _bench().run_all(resources=12, reservations=60, runs=5, db_runs=2)
    assert [row[0] for row in rows] == ["in memory", "SQLite"]
    assert all("p50" in row[2] and "p99" in row[2] for row in rows)
