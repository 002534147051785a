"""Per-deal explanations: points that add up to the gap from the average deal, phrases in
plain zh and en for every feature, the stage named, missing values said as "no … yet"."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pathcast.forecast import explain
from pathcast.forecast.features import COLUMNS
from pathcast.forecast.training import CalibratedModel, fit_calibrated

STAGE = explain.DealContext(stage_name="Proposal", stage_name_zh="方案")


@pytest.fixture(scope="module")
def platt() -> CalibratedModel:
    """A real booster with a plain logistic calibration, so the arithmetic is checkable."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(np.int64)
    fitted = fit_calibrated(x, y, n_estimators=10)
    return CalibratedModel(fitted.booster, "sigmoid", {"kind": "sigmoid", "coef": 1.0, "intercept": 0.0})


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def test_points_share_the_gap_from_the_base_probability(platt: CalibratedModel) -> None:
    columns = ("days_in_stage", "signal_qualifying_views_30d", "activities_30d")
    contributions = np.array([-0.4, 0.8, 0.1, -0.2])  # last: the expected raw score
    values = np.array([14.0, 3.0, 0.0])
    found = explain.drivers(platt, contributions, values, columns, top=5, context=STAGE)
    assert [d["feature"] for d in found] == [
        "signal_qualifying_views_30d",
        "days_in_stage",
        "activities_30d",
    ]
    gap = (sigmoid(-0.2 + 0.5) - sigmoid(-0.2)) * 100
    assert sum(d["points"] for d in found) == pytest.approx(gap, abs=0.02)
    assert found[0]["points"] > 0 > found[1]["points"]
    assert found[0]["points"] == pytest.approx(gap * 0.8 / 0.5, abs=0.01)
    views, stage = found[0], found[1]
    assert views["en"].startswith("3 qualifying views of tracked content in 30 days: +")
    assert views["en"].endswith(" pts") and views["zh"].startswith("30天内3次有效浏览跟踪内容：+")
    assert views["zh"].endswith("个百分点")
    assert stage["en"].startswith("14 days in stage 'Proposal': \u2212")
    assert stage["zh"].startswith("在阶段「方案」停留14天：\u2212")
    assert (views["value"], stage["value"]) == (3.0, 14.0)
    assert len(explain.drivers(platt, contributions, values, columns, top=2)) == 2


def test_no_net_movement_still_sizes_the_pushes(platt: CalibratedModel) -> None:
    found = explain.drivers(
        platt, np.array([0.3, -0.3, 0.0]), np.array([2.0, 40.0]), ("activities_30d", "days_in_stage")
    )
    assert found[0]["points"] == pytest.approx(-found[1]["points"]) and abs(found[0]["points"]) > 1
    # the stage is unnamed without context: the phrase still reads
    assert "the current stage" in next(d["en"] for d in found if d["feature"] == "days_in_stage")


def test_the_format_of_points() -> None:
    assert explain.format_points(12.4, "en") == "+12 pts"
    assert explain.format_points(-8.0, "en") == "\u22128 pts"
    assert explain.format_points(0.3, "zh") == "+0.3个百分点"
    assert explain.format_points(-0.04, "en") == "0 pts"


ANNOTATION_NAMES = (
    "annotation_count",
    "days_since_annotation",
    "override_probability",
    "override_category_rank",
    "annotation_text_score",
)


@pytest.mark.parametrize("column", COLUMNS + ANNOTATION_NAMES)
def test_every_feature_has_its_own_phrase_in_both_languages(column: str) -> None:
    assert column in explain.PHRASES
    en, zh = explain.phrase(column, 3.0, STAGE)
    assert en and zh and en != zh
    assert column not in en, "a person reads the phrase, not the column name"
    missing_en, missing_zh = explain.phrase(column, math.nan, STAGE)
    assert missing_en.startswith("no ") and missing_zh and "nan" not in missing_en.lower()
    assert (missing_en, missing_zh) != (en, zh)


def test_stage_phrases_name_the_stage() -> None:
    for column in ("stage_position", "stage_probability", "days_in_stage"):
        en, zh = explain.phrase(column, 0.4 if column == "stage_probability" else 2.0, STAGE)
        assert "'Proposal'" in en and "「方案」" in zh
    assert explain.phrase("stage_probability", 0.4, STAGE)[0] == "stage 'Proposal' is set at 40%"
    zh_only_in_en = explain.DealContext(stage_name="Proposal")
    assert "「Proposal」" in explain.phrase("days_in_stage", 5.0, zh_only_in_en)[1]


def test_readable_values() -> None:
    assert explain.phrase("log_amount", math.log1p(120000), STAGE) == ("amount 120,000", "金额120,000")
    assert explain.phrase("days_to_expected_close", -12.0, STAGE) == (
        "expected close date passed 12 days ago",
        "预计成交日期已过12天",
    )
    assert explain.phrase("account_win_rate", 0.625, STAGE)[0] == "account's win rate 62%"
    assert explain.phrase("activities_30d", 1.0, STAGE)[0] == "1 activity in 30 days"
    assert explain.phrase("signal_qualifying_views_30d", 0.0, STAGE)[0].startswith("no qualifying views")


def test_unknown_columns_get_a_generic_phrase_or_a_registered_one(
    platt: CalibratedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert explain.phrase("annotation_override_hint", 0.7) == (
        "annotation override hint: 0.70",
        "“annotation override hint”为0.70",
    )
    assert explain.phrase("annotation_override_hint", math.nan)[0] == "no annotation override hint yet"
    monkeypatch.setitem(explain.PHRASES, "x", lambda value, ctx: ("placeholder", "占位"))
    explain.register_phrase(
        "note_flag", lambda value, ctx: ("the rep flagged a bulk-purchase review", "集采评审")
    )
    try:
        [found] = explain.drivers(platt, np.array([0.5, 0.0]), np.array([1.0]), ("note_flag",))
        assert found["en"].startswith("The rep flagged a bulk-purchase review: +")
        assert found["zh"].startswith("集采评审：+")
    finally:
        explain.PHRASES.pop("note_flag", None)
    with pytest.raises(ValueError):
        explain.drivers(platt, np.array([0.5]), np.array([1.0]), ("note_flag",))
