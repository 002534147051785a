"""The board benchmark runs end to end at a tiny size (no timing checks): a hive with
dependencies is built, both panels answer 200 through the signed-in app, recompute runs."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_board_benchmark_runs() -> None:
    spec = importlib.util.spec_from_file_location("bench_hives_board", ROOT / "bench" / "hives_board.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    before = os.environ.get("PATHCAST_DATABASE_URL")
    rows = module.run_all(tasks=40, runs=2)
    assert [measure.split(" (")[0] for _engine, measure, _result in rows] == [
        "hive board-panel",
        "hive timeline-panel",
        "hive recompute",
    ]
    assert all(engine == "SQLite" and "p50" in result and "p99" in result for engine, _m, result in rows)
    assert os.environ.get("PATHCAST_DATABASE_URL") == before
