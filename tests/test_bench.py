"""The benchmark script runs end to end (tiny sizes, nothing recorded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_runs_and_prints_its_table() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--events",
            "20",
            "--batch-events",
            "200",
            "--no-record",
            "--skip-maven",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| PostgreSQL | chain verification" in result.stdout
    assert "| SQLite | event appends, 1 per transaction" in result.stdout
