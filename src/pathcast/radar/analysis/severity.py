"""Severity: how urgently a person must act on a signal, graded P1 (now) … P4 (whenever).

The formula (documented with examples in docs/radar_analysis.md)::

    urgency  = intent_factor × (0.5 + 0.5 × negativity)      negativity = max(0, -polarity)
    business = (1 + weight) / 4                               weight 0–3 → 0.25–1.0
    tier     = strategic 1.0 · key 0.85 · standard / unknown 0.7
    reach    = clamp(0.9 + 0.1 × log2(1 + reach), 0.8, 1.2)   reach 1.0 = an ordinary source
    score    = 100 × urgency × business × tier × reach        clamped to 0–100

    P1 ≥ 55 · P2 ≥ 35 · P3 ≥ 18 · P4 below

Intent factors: complaint/defect and delivery/service issue 1.0, purchase intent and
competitor comparison 0.8, question/need 0.5, other 0.3, tip/praise 0.15. So a
negative 交付延迟 sentence from a key manufacturing account (weight 3) lands at P1, the
same sentence from a consulting account (weight 1) at P2, and a tip stays at P4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pathcast.radar.analysis.intent import INTENT_NAMES, Intent
from pathcast.radar.analysis.lexicon import Reason, reason
from pathcast.radar.analysis.polarity import Polarity

Level = Literal["P1", "P2", "P3", "P4"]
LEVELS: tuple[Level, ...] = ("P1", "P2", "P3", "P4")
THRESHOLDS: tuple[tuple[float, Level], ...] = ((55.0, "P1"), (35.0, "P2"), (18.0, "P3"))

INTENT_FACTORS: dict[str, float] = {
    "complaint_defect": 1.0,
    "delivery_service_issue": 1.0,
    "purchase_intent": 0.8,
    "competitor_comparison": 0.8,
    "question_need": 0.5,
    "other": 0.3,
    "tip_praise": 0.15,
}
TIER_FACTORS: dict[str, float] = {"strategic": 1.0, "key": 0.85, "standard": 0.7}
UNKNOWN_TIER_FACTOR = 0.7
TIER_NAMES: dict[str, Reason] = {
    "strategic": reason("strategic", "战略"),
    "key": reason("key", "重点"),
    "standard": reason("standard", "标准"),
}


@dataclass(frozen=True)
class Grade:
    """A severity level with its score (0–100) and the reasons, in zh and en."""

    level: Level
    score: float
    reasons: list[Reason] = field(default_factory=list)
    factors: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "level": self.level,
            "score": round(self.score, 1),
            "reasons": list(self.reasons),
            "factors": {name: round(value, 3) for name, value in self.factors.items()},
        }


def level_of(score: float) -> Level:
    """The level of a 0–100 score."""
    for threshold, level in THRESHOLDS:
        if score >= threshold:
            return level
    return "P4"


def _finite(value: float, fallback: float) -> float:
    return value if isinstance(value, int | float) and math.isfinite(value) else fallback


def grade(
    polarity: Polarity,
    intent: Intent,
    weight: float,
    account_tier: str | None,
    reach: float,
    *,
    topic: Reason | None = None,
    industry: Reason | None = None,
) -> Grade:
    """Grade a signal. ``weight`` is the industry × topic weight (0–3); ``reach`` how
    far the source carries (1.0 ordinary, 0 a private message, larger for a big forum).
    ``topic`` and ``industry``, when given, name the weight's cell in the reasons."""
    negativity = max(0.0, -_finite(polarity.score, 0.0))
    intent_factor = INTENT_FACTORS.get(intent.label, INTENT_FACTORS["other"])
    urgency = intent_factor * (0.5 + 0.5 * negativity)
    weight = min(3.0, max(0.0, _finite(weight, 1.0)))
    business = (1.0 + weight) / 4.0
    tier_key = (account_tier or "").strip().lower()
    tier = TIER_FACTORS.get(tier_key, UNKNOWN_TIER_FACTOR)
    reach = max(0.0, _finite(reach, 1.0))
    reach_factor = min(1.2, max(0.8, 0.9 + 0.1 * math.log2(1.0 + reach)))
    score = min(100.0, max(0.0, 100.0 * urgency * business * tier * reach_factor))
    level = level_of(score)

    name = INTENT_NAMES.get(intent.label, INTENT_NAMES["other"])
    reasons: list[Reason] = [
        reason(f"intent: {name['en']} (×{intent_factor:.2f})", f"意图：{name['zh']}（×{intent_factor:.2f}）"),
        reason(
            f"polarity {polarity.label} ({polarity.score:+.2f}), urgency ×{0.5 + 0.5 * negativity:.2f}",
            f"情绪{_POLARITY_ZH.get(polarity.label, polarity.label)}（{polarity.score:+.2f}），紧迫度 ×{0.5 + 0.5 * negativity:.2f}",
        ),
    ]
    cell_en = cell_zh = ""
    if topic is not None:
        cell_en = f" for {topic['en']}"
        cell_zh = f"「{topic['zh']}」"
        if industry is not None:
            cell_en += f" in {industry['en']}"
            cell_zh = f"{industry['zh']}的{cell_zh}"
    reasons.append(
        reason(
            f"business weight {weight:g} of 3{cell_en} (×{business:.2f})",
            f"{cell_zh}业务权重 {weight:g}/3（×{business:.2f}）",
        )
    )
    tier_name = TIER_NAMES.get(tier_key)
    reasons.append(
        reason(f"account tier {tier_name['en']} (×{tier:.2f})", f"客户等级：{tier_name['zh']}（×{tier:.2f}）")
        if tier_name
        else reason(f"account tier unknown (×{tier:.2f})", f"客户等级未知（×{tier:.2f}）")
    )
    reasons.append(
        reason(
            f"source reach {reach:g} (×{reach_factor:.2f})", f"来源覆盖面 {reach:g}（×{reach_factor:.2f}）"
        )
    )
    reasons.append(reason(f"score {score:.0f} → {level}", f"得分 {score:.0f} → {level}"))
    return Grade(
        level=level,
        score=score,
        reasons=reasons,
        factors={
            "intent": intent_factor,
            "urgency": urgency,
            "business": business,
            "tier": tier,
            "reach": reach_factor,
        },
    )


_POLARITY_ZH = {"positive": "正面", "neutral": "中性", "negative": "负面"}
