"""Lead scoring: reading any leads CSV, cross-validation, the CLI and its refusals."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pathcast.cli import app
from pathcast.forecast.evaluate import evaluate_leads, expected_calibration_error
from pathcast.forecast.leads import MAX_CATEGORIES, OTHER, LeadDataError, load_leads

runner = CliRunner()
ROWS = 600


def _write(path: Path, header: list[str], rows: list[list[Any]], *, encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _leads(seed: int, outcome: Callable[[bool], str], rows: int = ROWS) -> tuple[list[str], list[list[Any]]]:
    """Mixed columns; conversion follows ``score`` and the ``source`` value (a planted signal)."""
    rng = random.Random(seed)
    header = ["Lead ID", "score", "source", "company", "notes", "constant", "empty", "won"]
    data = []
    for i in range(rows):
        score = rng.gauss(0, 1)
        source = rng.choice(["web", "referral", "event", "Select", ""])
        signal = score + (1.5 if source == "referral" else 0.0) + rng.gauss(0, 0.7)
        data.append(
            [
                f"L-{i:05d}",
                f"{score:.3f}" if rng.random() > 0.3 else "",
                source,
                f"Company {rng.randrange(500)}",
                rng.choice(["", "", "call back", "asked for price", "not now", "Select"]),
                "same",
                "",
                outcome(signal > 0.3),
            ]
        )
    return header, data


def _yes_no(converted: bool) -> str:
    return "Yes" if converted else "no"


# -- the shared Leads.csv ----------------------------------------------------------------


@pytest.mark.dataset
def test_leads_csv_model_beats_baseline(datasets: Path) -> None:
    path = datasets / "lead_scoring" / "Leads.csv"
    result = runner.invoke(app, ["leads", "evaluate", str(path), "--target", "Converted", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    model, baseline = report["model"], report["baseline"]
    assert model["auc"]["mean"] > 0.85
    assert model["auc"]["mean"] > baseline["auc"]["mean"]
    assert model["brier"]["mean"] < baseline["brier"]["mean"]
    for side in (model, baseline):
        for metric in ("auc", "brier", "log_loss", "ece"):
            assert math.isfinite(side[metric]["mean"]) and math.isfinite(side[metric]["std"])
            assert len(side[metric]["folds"]) == 5
    assert sum(model["calibration"].values()) == 5
    dropped = {d["column"]: d["reason"] for d in report["dataset"]["columns"]["dropped"]}
    assert dropped["Prospect ID"].startswith("id-like")
    assert dropped["Lead Number"].startswith("id-like")
    assert dropped["Magazine"] == "constant"
    assert "Total Time Spent on Website" in report["dataset"]["columns"]["numeric"]
    assert "Specialization" in report["dataset"]["columns"]["categorical"]
    assert report["dataset"]["rows"] == 9240
    assert report["top_features"] and report["top_features"][0]["gain"] > 0


@pytest.mark.dataset
def test_leads_csv_sample_is_reproducible(datasets: Path, tmp_path: Path) -> None:
    text = (datasets / "lead_scoring" / "Leads.csv").read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    sample = tmp_path / "sample.csv"
    sample.write_text("\n".join(lines[:2001]) + "\n", encoding="utf-8")
    args = ["leads", "evaluate", str(sample), "--target", "Converted", "--drop", "Tags", "--json"]
    first, second = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == json.loads(second.stdout)
    dropped = json.loads(first.stdout)["dataset"]["columns"]["dropped"]
    assert {"column": "Tags", "reason": "dropped on request"} in dropped
    other_seed = runner.invoke(app, [*args, "--seed", "8"])
    assert json.loads(other_seed.stdout)["model"]["auc"] != json.loads(first.stdout)["model"]["auc"]


# -- other shapes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "encoding"),
    [
        (_yes_no, "utf-8"),
        (lambda c: "TRUE" if c else "false", "utf-8"),
        (lambda c: "1" if c else "0", "utf-8-sig"),
        (lambda c: "是" if c else "否", "gbk"),
        (lambda c: "Converted" if c else "Not Converted", "utf-8"),
        (lambda c: "y" if c else "N", "utf-8-sig"),
    ],
    ids=["yes-no", "true-false", "1-0-bom", "shi-fou-gbk", "converted", "y-n-bom"],
)
def test_mixed_csv_evaluates_with_signal(
    tmp_path: Path, outcome: Callable[[bool], str], encoding: str
) -> None:
    header, rows = _leads(1, outcome)
    path = _write(tmp_path / "leads.csv", header, rows, encoding=encoding)
    table = load_leads(path, target="won")
    assert table.rows == ROWS
    assert table.names_of("numeric") == ["score"]
    assert table.names_of("categorical") == ["source", "company", "notes"]
    reasons = {d.column: d.reason for d in table.dropped}
    assert reasons["Lead ID"].startswith("id-like")
    assert reasons["constant"] == "constant"
    assert reasons["empty"] == "empty"
    company = table.columns[table.feature_names.index("company")]
    assert len(company.categories) <= MAX_CATEGORIES and company.categories[-1] == OTHER
    result = evaluate_leads(table, n_estimators=40)
    assert result.model.metrics["auc"].mean > 0.75
    assert result.baseline.metrics["auc"].mean > 0.7
    assert result.top_features[0][0] in {"score", "source"}


def test_numeric_only_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=400)) > 0
    rows = [[f"{a:.4f}", f"{b:.4f}", f"{c:.4f}", int(t)] for (a, b, c), t in zip(x, y, strict=True)]
    table = load_leads(_write(tmp_path / "n.csv", ["a", "b", "c", "y"], rows), target="y")
    assert table.names_of("numeric") == ["a", "b", "c"] and not table.dropped
    assert evaluate_leads(table, n_estimators=40).model.metrics["auc"].mean > 0.8


def test_text_only_columns_and_many_missing(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = []
    for _ in range(500):
        stage = rng.choice(["demo", "trial", "cold", "", "Select", "N/A"])
        city = rng.choice(["上海", "北京", "深圳", "", "", ""])
        rows.append([stage, city, "yes" if stage in {"demo", "trial"} or rng.random() < 0.1 else "no"])
    table = load_leads(_write(tmp_path / "t.csv", ["stage", "city", "ok"], rows), target="ok")
    assert table.names_of("categorical") == ["stage", "city"]
    assert not table.names_of("numeric")
    assert evaluate_leads(table, n_estimators=40).model.metrics["auc"].mean > 0.8


def test_mostly_numeric_column_keeps_numbers_and_notes_the_rest(tmp_path: Path) -> None:
    rows = [[str(i % 40) if i % 50 else "unknown", "yes" if i % 3 else "no"] for i in range(300)]
    table = load_leads(_write(tmp_path / "m.csv", ["visits", "won"], rows), target="won")
    (column,) = table.columns
    assert column.kind == "numeric" and column.note == "6 non-numeric value(s) treated as missing"


def test_rows_with_empty_target_are_left_out_with_a_note(tmp_path: Path) -> None:
    header, rows = _leads(2, _yes_no, rows=200)
    rows[0][-1] = ""
    table = load_leads(_write(tmp_path / "e.csv", header, rows), target="won")
    assert table.rows == 199
    assert table.notes == ("1 row(s) with an empty 'won' were left out",)


def test_semicolon_separated_file(tmp_path: Path) -> None:
    header, rows = _leads(4, _yes_no, rows=200)
    path = tmp_path / "s.csv"
    path.write_text("\n".join(";".join(map(str, r)) for r in [header, *rows]) + "\n", encoding="utf-8")
    assert load_leads(path, target="won").names_of("numeric") == ["score"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["yes", "No", "TRUE", "false", "1", "0", "是", "否", " Y ", "n"]), min_size=4)
)
def test_target_tokens_parse_case_insensitively(tokens: list[str]) -> None:
    from pathcast.forecast.leads import NEGATIVE_TOKENS, POSITIVE_TOKENS, _parse_target

    expected = [1 if t.strip().lower() in POSITIVE_TOKENS else 0 for t in tokens]
    assert all(t.strip().lower() in POSITIVE_TOKENS | NEGATIVE_TOKENS for t in tokens)
    if len(set(expected)) < 2:
        with pytest.raises(LeadDataError, match="two classes"):
            _parse_target("won", tokens)
    else:
        y, kept, _ = _parse_target("won", tokens)
        assert y.tolist() == expected and kept == list(range(len(tokens)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0, 1)), min_size=1, max_size=50))
def test_expected_calibration_error_is_between_0_and_1(pairs: list[tuple[bool, float]]) -> None:
    y = np.array([int(b) for b, _ in pairs])
    p = np.array([v for _, v in pairs])
    assert 0.0 <= expected_calibration_error(y, p) <= 1.0
    assert expected_calibration_error(np.array([0, 1]), np.array([0.0, 1.0])) == 0.0


# -- refusals ----------------------------------------------------------------------------


def _evaluate(path: Path, *args: str) -> Any:
    return runner.invoke(app, ["leads", "evaluate", str(path), *args, "--json"])


def test_unknown_target_names_it_and_suggests(tmp_path: Path) -> None:
    header, rows = _leads(1, _yes_no, rows=50)
    result = _evaluate(_write(tmp_path / "a.csv", header, rows), "--target", "Won ")
    assert result.exit_code == 2
    assert "'Won '" in result.output and "Did you mean 'won'" in result.output
    assert "Columns available: Lead ID, score" in result.output


def test_unknown_drop_column_is_refused(tmp_path: Path) -> None:
    header, rows = _leads(1, _yes_no, rows=50)
    result = _evaluate(_write(tmp_path / "a.csv", header, rows), "--target", "won", "--drop", "scores")
    assert result.exit_code == 2 and "'scores'" in result.output and "Did you mean 'score'" in result.output


def test_target_with_other_values_shows_them_with_row_numbers(tmp_path: Path) -> None:
    header, rows = _leads(1, _yes_no, rows=50)
    rows[3][-1] = "maybe"
    rows[10][-1] = "later"
    with pytest.raises(LeadDataError) as raised:
        load_leads(_write(tmp_path / "a.csv", header, rows), target="won")
    message = str(raised.value)
    assert "'won'" in message and "row 5: 'maybe'" in message and "row 12: 'later'" in message
    result = _evaluate(tmp_path / "a.csv", "--target", "won")
    assert result.exit_code == 2 and "maybe" in result.output


def test_single_class_target_is_refused(tmp_path: Path) -> None:
    header, rows = _leads(1, lambda _: "no", rows=50)
    result = _evaluate(_write(tmp_path / "a.csv", header, rows), "--target", "won")
    assert result.exit_code == 2
    assert "'won' has only negative outcomes" in result.output


def test_too_few_of_a_class_for_the_folds_is_refused(tmp_path: Path) -> None:
    header, rows = _leads(1, lambda _: "no", rows=50)
    rows[0][-1] = rows[1][-1] = "yes"
    result = _evaluate(_write(tmp_path / "a.csv", header, rows), "--target", "won")
    assert result.exit_code == 2 and "'won' has only 2 row(s) of its rarer class" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "the file is empty"), (b"\n \n", "the file is empty"), (b"a,b,won\n", "no data rows")],
    ids=["empty", "blank-lines", "header-only"],
)
def test_empty_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    result = _evaluate(path, "--target", "won")
    assert result.exit_code == 2 and message in result.output


def test_missing_file_exits_1(tmp_path: Path) -> None:
    result = _evaluate(tmp_path / "absent.csv", "--target", "won")
    assert result.exit_code == 1 and "cannot read" in result.output


def test_no_feature_left_is_refused(tmp_path: Path) -> None:
    rows = [[f"id{i}", "", "yes" if i % 2 else "no"] for i in range(30)]
    result = _evaluate(_write(tmp_path / "a.csv", ["id", "blank", "won"], rows), "--target", "won")
    assert result.exit_code == 2 and "no usable feature column" in result.output


def test_human_output_and_help(tmp_path: Path) -> None:
    assert runner.invoke(app, ["leads", "evaluate", "--help"]).exit_code == 0
    header, rows = _leads(1, _yes_no, rows=200)
    result = runner.invoke(
        app, ["leads", "evaluate", str(_write(tmp_path / "h.csv", header, rows)), "--target", "won"]
    )
    assert result.exit_code == 0, result.output
    assert "naive bayes" in result.output and "calibration chosen per fold" in result.output
    assert "dropped 'Lead ID'" in result.output
