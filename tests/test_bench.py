"""The benchmark scripts run end to end (tiny sizes, nothing recorded); the collect
benchmark stores what it sends, views, dwell and day figures included (no timing checks)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from pathcast.db import unit_of_work
from pathcast.signals import models as m

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
            "--skip-collect",
            "--skip-forecast",
            "--skip-radar",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| PostgreSQL | chain verification" in result.stdout
    assert "| SQLite | event appends, 1 per transaction" in result.stdout


# --- the collect ingest benchmark (bench/collect.py) ---------------------------------------


def _bench_collect() -> ModuleType:
    """bench/collect.py as a module (bench/ is not a package)."""
    name = "pathcast_bench_collect"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "collect.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _sent(bodies: list[bytes]) -> dict[str, Any]:
    """What the bodies ask to store, read back from the JSON itself (not the generator)."""
    events = [event for body in bodies for event in json.loads(body)["events"]]
    highest: dict[str, int] = {}
    for event in events:
        if event["type"] == "view":
            highest.setdefault(event["view"], 0)
        elif event["type"] == "dwell":
            assert event["view"] in highest, "a heartbeat must follow its view"
            highest[event["view"]] = max(highest[event["view"]], event["dwell_ms"])
    kinds = {kind: sum(1 for e in events if e["type"] == kind) for kind in ("view", "dwell", "click")}
    return {"events": len(events), "views": len(highest), "dwell_ms": sum(highest.values()), "kinds": kinds}


def _stored(url: str) -> dict[str, int]:
    with unit_of_work(url, write=False) as session:
        hits = dict(session.execute(select(m.Hit.kind, func.count()).group_by(m.Hit.kind)).all())
        return {
            "hits": sum(hits.values()),
            "clicks": hits.get("click", 0),
            "views": session.scalar(select(func.count()).select_from(m.View)) or 0,
            "view_dwell_ms": session.scalar(select(func.sum(m.View.dwell_ms))) or 0,
            "day_views": session.scalar(select(func.sum(m.VisitorAssetDay.views))) or 0,
            "day_dwell_ms": session.scalar(select(func.sum(m.VisitorAssetDay.dwell_ms))) or 0,
            "assets_named_in_chinese": session.scalar(
                select(func.count()).select_from(m.Asset).where(m.Asset.name.like("%科%"))
            )
            or 0,
        }


def _check_features(url: str, bodies: list[bytes]) -> None:
    sent = _sent(bodies)
    assert sent["kinds"]["view"] and sent["kinds"]["dwell"] and sent["kinds"]["click"]
    # Heartbeats of views started in an earlier batch, so stored views get updated.
    first_batch_views = {e["view"] for e in json.loads(bodies[0])["events"] if e["type"] == "view"}
    later = [e for body in bodies[1:] for e in json.loads(body)["events"] if e["type"] == "dwell"]
    assert any(e["view"] in first_batch_views for e in later)
    stored = _stored(url)
    assert stored["hits"] == sent["events"]
    assert stored["clicks"] == sent["kinds"]["click"]
    assert stored["views"] == stored["day_views"] == sent["views"]
    assert stored["view_dwell_ms"] == stored["day_dwell_ms"] == sent["dwell_ms"] > 0
    assert stored["assets_named_in_chinese"] > 0


def test_collect_bench_in_process_stores_views_dwell_and_day_figures(db_url: str) -> None:
    bench = _bench_collect()
    workload = bench.make_workload(
        bench.create_bench_site(db_url), batches=3, batch_size=50, streams=1, visitors=20, assets=5
    )
    result = bench.run_inprocess(db_url, workload, engine="test")
    assert result.events == 150 and result.batches == 3
    assert {label for label, *_ in result.phases} >= {"commit (all of it counted as in the driver)"}
    _check_features(db_url, workload.bodies)
    assert "| **total** |" in bench.phase_table(result)


def test_collect_bench_over_http_stores_views_dwell_and_day_figures(db_url: str) -> None:
    bench = _bench_collect()
    workload = bench.make_workload(
        bench.create_bench_site(db_url), batches=4, batch_size=50, streams=1, visitors=20, assets=5
    )
    result = bench.run_http(db_url, workload, engine="test", warmup=1)
    assert result.batches == 3 and result.events == 150 and len(result.latencies) == 3
    assert result.stored.hits == 200  # the warm-up batch is stored too
    _check_features(db_url, workload.bodies)
    rows = bench.http_rows(result)
    assert "p50" in rows[0][2] and "p99" in rows[0][2]


def test_bench_collect_section_runs_alone_and_prints_both_engines() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--only",
            "collect",
            "--collect-batches",
            "2",
            "--collect-batch-size",
            "20",
            "--collect-clients",
            "2",
            "--no-record",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for engine in ("SQLite", "PostgreSQL"):
        assert f"| {engine} | collect over HTTP: 40 events in 2 batches of 20, 2 clients" in result.stdout
        assert f"| {engine} | collect in-process (no HTTP, 1 thread)" in result.stdout
    assert "chain verification" not in result.stdout


# --- the automation engine benchmark (bench/automation.py) -------------------------------------


def _bench_automation() -> ModuleType:
    """bench/automation.py as a module (bench/ is not a package)."""
    name = "pathcast_bench_automation"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "automation.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_automation_bench_index_matches_what_each_rule_alone_matches() -> None:
    import random

    from pathcast.automation.engine.matcher import RuleIndex, StageCatalog

    bench = _bench_automation()
    rng = random.Random(3)
    rules = bench.make_rules(60, rng)
    events = bench.make_events(1500, rng, records=200)
    catalog = StageCatalog(bench.STAGES)
    index = RuleIndex(rules, catalog)
    alone = [RuleIndex([rule], catalog) for rule in rules]
    for event in events:
        expected = sorted(c.rule.rule_id for single in alone for c in single.match(event))
        assert sorted(c.rule.rule_id for c in index.match(event)) == expected
    fires, candidates = bench.replay(index, events)
    assert 0 < fires <= candidates


def test_bench_automation_section_runs_alone_and_prints_both_engines() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--only",
            "automation",
            "--automation-rules",
            "60",
            "--automation-events",
            "3000",
            "--automation-samples",
            "5",
            "--no-record",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| in memory | automation matching: 60 enabled rules (" in result.stdout
    for engine in ("SQLite", "PostgreSQL"):
        assert (
            f"| {engine} | automation latency, commit → action start, in-process worker (5 events"
            in result.stdout
        )
    assert "chain verification" not in result.stdout and "collect over HTTP" not in result.stdout


# --- the forecast benchmark (bench/forecast.py) ----------------------------------------


def _bench_forecast() -> ModuleType:
    """bench/forecast.py as a module (bench/ is not a package)."""
    name = "pathcast_bench_forecast"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "forecast.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_forecast_bench_matrix_has_the_served_columns_and_a_learnable_signal() -> None:
    from sklearn.metrics import roc_auc_score

    from pathcast.forecast.training import feature_columns, fit_calibrated

    bench = _bench_forecast()
    x, y = bench.synthetic(4000)
    assert x.shape == (4000, len(feature_columns()))
    assert 0.2 < y.mean() < 0.8 and np.isnan(x).any()
    again, _ = bench.synthetic(4000)
    np.testing.assert_array_equal(np.nan_to_num(again, nan=-1.0), np.nan_to_num(x, nan=-1.0))
    model = fit_calibrated(x, y, seed=7, n_estimators=30)
    fresh, labels = bench.synthetic(2000, seed=8)
    assert roc_auc_score(labels, model.predict(fresh)) > 0.7


def test_bench_forecast_section_runs_alone_and_skips_what_it_cannot_run() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--only",
            "forecast",
            "--forecast-rows",
            "2000,4000",
            "--forecast-trees",
            "10",
            "--forecast-no-backtest",
            "--no-record",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| in memory | win model fit_calibrated, 2,000 synthetic deals" in result.stdout
    assert "| in memory | win model fit_calibrated, 4,000 synthetic deals" in result.stdout
    assert "| in memory | win model scoring (" in result.stdout and "deals/s" in result.stdout
    assert "| SQLite | forecast backtest on Maven | skipped (--forecast-no-backtest) |" in result.stdout
    assert "automation" not in result.stdout and "chain verification" not in result.stdout


def test_forecast_bench_skips_the_maven_backtest_without_the_dataset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bench = _bench_forecast()
    monkeypatch.setattr(bench, "MAVEN", tmp_path / "absent")

    def no_database() -> Any:
        raise AssertionError("no database is needed to skip")

    engine, measure, result = bench.bench_backtest(no_database)
    assert engine == "SQLite" and measure == "forecast backtest on Maven"
    assert result.startswith("skipped: ") and "absent" in result


# --- the radar benchmark (bench/radar.py) ------------------------------------------------------


def _bench_radar() -> ModuleType:
    """bench/radar.py as a module (bench/ is not a package)."""
    name = "pathcast_bench_radar"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "radar.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_radar_bench_workload_is_bilingual_and_searchable() -> None:
    from pathcast.radar.analysis.tokens import detect_lang
    from pathcast.radar.toolbox import BM25Index

    bench = _bench_radar()
    assert {detect_lang(t) for t in bench.synthetic_texts("zh", 30)} == {"zh"}
    assert {detect_lang(t) for t in bench.synthetic_texts("en", 30)} == {"en"}
    passages = bench.synthetic_passages(400)
    assert {p.kind for p in passages} == {"qa", "document", "reply"}
    assert all(p.answer for p in passages if p.kind == "qa")
    assert bench.synthetic_passages(400) == passages  # seeded: the same corpus every run
    index = BM25Index.build(passages)
    queries = bench.synthetic_queries(40)
    assert sum(bool(index.search(q)) for q in queries) == len(queries)


def test_bench_radar_section_runs_alone() -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--only",
            "radar",
            "--radar-texts",
            "20",
            "--radar-passages",
            "500",
            "--radar-queries",
            "30",
            "--no-record",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "| in memory | radar analyse, Chinese (20 synthetic posts" in result.stdout
    assert "| in memory | radar analyse, English (20 synthetic posts" in result.stdout
    assert "| in memory | radar BM25 index build, 500 synthetic passages" in result.stdout
    assert "| in memory | radar BM25 search top 10 over 500 passages (30 queries" in result.stdout
    assert "p50" in result.stdout and "p99" in result.stdout
    assert "automation" not in result.stdout and "chain verification" not in result.stdout
