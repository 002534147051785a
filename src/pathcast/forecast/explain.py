"""Per-deal explanations: the model's own contributions, as probability points in plain
zh and en.

LightGBM splits each deal's raw (log-odds) score into one contribution per feature plus
the expected score (``pred_contrib``). The calibrated probability moves from the model's
base probability (that of the expected score) to the deal's; that difference, in
percentage points, is shared among the features in proportion to their log-odds
contributions, so the points of all features add up to "deal − average deal".

Each feature has a phrase in both languages ("14 days in stage 'Proposal'" /
"在阶段「方案」停留14天"), with missing values said as "no … yet". Columns this module
does not know (e.g. annotation features added later) get a generic phrase unless their
owner registers one with :func:`register_phrase`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from pathcast.forecast.training import CalibratedModel

FloatArray = npt.NDArray[np.float64]
MINUS = "\u2212"  # a true minus sign reads better than a hyphen beside a number


@dataclass(frozen=True)
class DealContext:
    """What a phrase may name besides the number: the deal's stage in both languages."""

    stage_name: str | None = None
    stage_name_zh: str | None = None

    def stage(self, lang: str) -> str:
        if lang == "zh":
            return self.stage_name_zh or self.stage_name or "当前阶段"
        return self.stage_name or "the current stage"


Phrase = Callable[[float, DealContext], tuple[str, str]]
"""(value, context) -> (en, zh); value is NaN when the feature is unknown for the deal."""


def _number(value: float, digits: int = 0) -> str:
    if digits == 0 or float(value).is_integer():
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def _percent(value: float) -> str:
    return f"{round(value * 100)}%"


def _days(value: float) -> int:
    return round(value)


def _en_days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _stage_position(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no stage yet", "尚无阶段"
    step = round(value)
    return (
        f"at stage '{ctx.stage('en')}' (step {step} of the pipeline)",
        f"处于阶段「{ctx.stage('zh')}」（流程第{step}步）",
    )


def _stage_probability(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no stage probability yet", "尚无阶段概率"
    return (
        f"stage '{ctx.stage('en')}' is set at {_percent(value)}",
        f"阶段「{ctx.stage('zh')}」的设定概率为{_percent(value)}",
    )


def _days_in_stage(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no time in stage yet", "尚未进入阶段"
    n = _days(value)
    return f"{_en_days(n)} in stage '{ctx.stage('en')}'", f"在阶段「{ctx.stage('zh')}」停留{n}天"


def _stage_changes(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value) or round(value) == 0:
        return "no stage change yet", "尚未变更过阶段"
    n = round(value)
    return f"{n} stage change{'s' if n != 1 else ''} so far", f"已变更阶段{n}次"


def _days_since_created(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no creation date yet", "尚无创建日期"
    n = _days(value)
    return f"opened {_en_days(n)} ago", f"创建于{n}天前"


def _velocity(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value) or value == 0:
        return "no stage movement yet", "尚无阶段推进"
    return (
        f"{_number(value, 1)} stage changes per 30 days",
        f"每30天变更阶段{_number(value, 1)}次",
    )


def _log_amount(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no amount yet", "尚未填写金额"
    amount = _number(math.expm1(value))
    return f"amount {amount}", f"金额{amount}"


def _amount_vs_account(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return (
            "no won deal at this account yet to compare the amount with",
            "该客户尚无赢单可比较金额",
        )
    ratio = _number(value, 1)
    return f"amount {ratio}× the account's average won deal", f"金额为该客户赢单平均金额的{ratio}倍"


def _account_closed(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no account on the deal yet", "尚未关联客户"
    n = round(value)
    if n == 0:
        return "no closed deal with this account yet", "该客户尚无已关闭商机"
    return f"{n} closed deal{'s' if n != 1 else ''} with this account", f"该客户已关闭商机{n}个"


def _rate(en: str, zh: str, missing_en: str, missing_zh: str) -> Phrase:
    def phrase(value: float, ctx: DealContext) -> tuple[str, str]:
        if math.isnan(value):
            return missing_en, missing_zh
        return f"{en} {_percent(value)}", f"{zh}{_percent(value)}"

    return phrase


def _last_activity(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no activity yet", "尚无活动记录"
    n = _days(value)
    if n == 0:
        return "last activity today", "今天有活动"
    return f"last activity {_en_days(n)} ago", f"最近一次活动在{n}天前"


def _activities(days: int) -> Phrase:
    def phrase(value: float, ctx: DealContext) -> tuple[str, str]:
        n = 0 if math.isnan(value) else round(value)
        if n == 0:
            return f"no activity in {days} days", f"{days}天内无活动"
        return f"{n} activit{'ies' if n != 1 else 'y'} in {days} days", f"{days}天内{n}次活动"

    return phrase


def _to_close(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no expected close date yet", "尚未设定预计成交日期"
    n = round(value)
    if n > 0:
        return f"expected to close in {_en_days(n)}", f"预计{n}天后成交"
    if n == 0:
        return "expected to close today", "预计今天成交"
    return f"expected close date passed {_en_days(-n)} ago", f"预计成交日期已过{-n}天"


def _views(qualifying: bool) -> Phrase:
    kind_en = "qualifying views" if qualifying else "views"
    kind_zh = "有效浏览" if qualifying else "浏览"

    def phrase(value: float, ctx: DealContext) -> tuple[str, str]:
        n = 0 if math.isnan(value) else round(value)
        if n == 0:
            return (
                f"no {kind_en} of tracked content in 30 days yet",
                f"30天内尚无{kind_zh}跟踪内容",
            )
        single = kind_en[:-1] if n == 1 else kind_en
        return f"{n} {single} of tracked content in 30 days", f"30天内{n}次{kind_zh}跟踪内容"

    return phrase


def _annotation_count(value: float, ctx: DealContext) -> tuple[str, str]:
    n = 0 if math.isnan(value) else round(value)
    if n == 0:
        return "no rep's note on the deal yet", "尚无销售备注"
    return f"{n} rep's note{'s' if n != 1 else ''} on the deal", f"销售备注{n}条"


def _since_annotation(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no rep's note yet", "尚无销售备注"
    n = _days(value)
    return f"latest rep's note {_en_days(n)} ago", f"最近一条销售备注在{n}天前"


def _override_probability(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no rep's override of the probability yet", "销售尚未调整赢率"
    return f"the rep's own call of {_percent(value)}", f"销售自评赢率{_percent(value)}"


CATEGORY_NAMES = {
    0: ("omitted", "不计入"),
    1: ("pipeline", "管道"),
    2: ("best case", "最佳情况"),
    3: ("commit", "承诺"),
}


def _override_category(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no rep's forecast category yet", "销售尚未设定预测类别"
    en, zh = CATEGORY_NAMES.get(round(value), (_number(value), _number(value)))
    return f"the rep calls it '{en}'", f"销售将其归为「{zh}」"


def _note_tone(value: float, ctx: DealContext) -> tuple[str, str]:
    if math.isnan(value):
        return "no rep's note to read yet", "尚无可读的销售备注"
    if value > 0.2:
        return "the rep's notes sound positive", "销售备注的语气积极"
    if value < -0.2:
        return "the rep's notes sound negative", "销售备注的语气消极"
    return "the rep's notes sound neutral", "销售备注的语气中性"


PHRASES: dict[str, Phrase] = {
    "stage_position": _stage_position,
    "stage_probability": _stage_probability,
    "days_in_stage": _days_in_stage,
    "stage_changes": _stage_changes,
    "days_since_created": _days_since_created,
    "stage_changes_per_30d": _velocity,
    "log_amount": _log_amount,
    "amount_vs_account_won_mean": _amount_vs_account,
    "account_closed_deals": _account_closed,
    "account_win_rate": _rate(
        "account's win rate", "该客户历史赢率", "no account on the deal yet", "尚未关联客户"
    ),
    "owner_win_rate": _rate("owner's win rate", "负责人历史赢率", "no owner yet", "尚无负责人"),
    "team_win_rate": _rate("team's win rate", "团队历史赢率", "no team yet", "尚无所属团队"),
    "product_win_rate": _rate(
        "products' win rate", "产品历史赢率", "no product on the deal yet", "尚未添加产品"
    ),
    "days_since_last_activity": _last_activity,
    "activities_30d": _activities(30),
    "activities_90d": _activities(90),
    "days_to_expected_close": _to_close,
    "signal_views_30d": _views(qualifying=False),
    "signal_qualifying_views_30d": _views(qualifying=True),
    # pathcast.forecast.annotation_features (a column it drops simply goes unused)
    "annotation_count": _annotation_count,
    "days_since_annotation": _since_annotation,
    "override_probability": _override_probability,
    "override_category_rank": _override_category,
    "annotation_text_score": _note_tone,
}


def register_phrase(column: str, phrase: Phrase) -> None:
    """Teach the explanations a column's phrase (e.g. an annotation feature)."""
    PHRASES[column] = phrase


def _generic(column: str, value: float) -> tuple[str, str]:
    label = column.replace("_", " ")
    if math.isnan(value):
        return f"no {label} yet", f"尚无“{label}”"
    shown = _number(value, 2)
    return f"{label}: {shown}", f"“{label}”为{shown}"


def phrase(column: str, value: float, context: DealContext | None = None) -> tuple[str, str]:
    """The (en, zh) phrase for one feature value."""
    ctx = context or DealContext()
    known = PHRASES.get(column)
    return known(value, ctx) if known is not None else _generic(column, value)


def format_points(points: float, lang: str) -> str:
    """``+12 pts`` / ``−8 pts`` (en), ``+12个百分点`` (zh); one decimal under one point,
    ``0 pts`` under a twentieth of one."""
    size = abs(points)
    if size < 0.05:
        return "0 pts" if lang == "en" else "0个百分点"
    shown = f"{size:.1f}" if size < 0.95 else f"{round(size)}"
    sign = "+" if points >= 0 else MINUS
    return f"{sign}{shown} pts" if lang == "en" else f"{sign}{shown}个百分点"


def _share(model: CalibratedModel, contributions: FloatArray) -> tuple[FloatArray, float]:
    """Probability points per feature and the deal's probability."""
    expected = float(contributions[-1])
    features = np.asarray(contributions[:-1], dtype=np.float64)
    total = float(features.sum())
    base, deal = model.calibrate(np.array([expected, expected + total]))
    if abs(total) > 1e-9:
        slope = (float(deal) - float(base)) / total
    else:
        # no net movement: use the calibration's local slope to size the pushes both ways
        low, high = model.calibrate(np.array([expected - 0.5, expected + 0.5]))
        slope = float(high - low)
    return features * slope * 100.0, float(deal)


def drivers(
    model: CalibratedModel,
    matrix_row_contributions: FloatArray,
    values: FloatArray | Sequence[float],
    columns: Sequence[str],
    *,
    top: int = 5,
    context: DealContext | None = None,
) -> list[dict[str, Any]]:
    """The deal's ``top`` drivers, largest |points| first:
    ``{"feature", "value", "points", "en", "zh"}`` where ``points`` is the feature's share
    (percentage points of calibrated probability) of the gap between the deal's and the
    model's base probability, and ``value`` is None when unknown."""
    contributions = np.asarray(matrix_row_contributions, dtype=np.float64)
    row = np.asarray(values, dtype=np.float64)
    if len(contributions) != len(columns) + 1 or len(row) != len(columns):
        raise ValueError("contributions must have one entry per column plus the expected value")
    points, _ = _share(model, contributions)
    order = sorted(range(len(columns)), key=lambda i: (-abs(points[i]), -abs(contributions[i]), columns[i]))
    found: list[dict[str, Any]] = []
    for i in order[: max(top, 0)]:
        value = float(row[i])
        en, zh = phrase(columns[i], value, context)
        found.append(
            {
                "feature": columns[i],
                "value": None if math.isnan(value) else round(value, 6),
                "points": round(float(points[i]), 2),
                "en": f"{en[:1].upper()}{en[1:]}: {format_points(float(points[i]), 'en')}",
                "zh": f"{zh}：{format_points(float(points[i]), 'zh')}",
            }
        )
    return found
