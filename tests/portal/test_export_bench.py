"""A tiny run of bench/portal_export.py: it sets up, exports, and reports every row."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def portal_export(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("PATHCAST_DATA_DIR", str(tmp_path / "data"))
    import portal_export as module

    yield module
    sys.modules.pop("portal_export", None)


def test_smoke_run_reports_time_and_memory(portal_export) -> None:  # type: ignore[no-untyped-def]
    rows = portal_export.run_all(activities=600, documents=10)
    assert len(rows) == 7
    assert all(engine == "SQLite" for engine, _, _ in rows)
    measures = [measure for _, measure, _ in rows]
    assert any("600 activities, 10 documents: time" in m for m in measures)
    assert any("300 activities, 5 documents: peak Python memory" in m for m in measures)
    assert rows[-1][2].endswith("(constant ≈ 1)")


def test_size_arguments_take_a_prefix(portal_export) -> None:  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    portal_export.add_size_arguments(parser, prefix="portal-")
    args = parser.parse_args(["--portal-activities", "10"])
    assert (args.portal_activities, args.portal_documents) == (10, 1_000)
