"""Intent of a text: what the writer is doing, beyond how they feel.

Labels: ``complaint_defect`` (吐槽产品缺陷), ``tip_praise`` (使用技巧/称赞),
``question_need`` (提问/需求), ``purchase_intent`` (采购意向),
``competitor_comparison`` (竞品比较), ``delivery_service_issue`` (交付/服务问题) and
``other``.

Each label collects evidence: its cue words (``data/intents.json``), the polarity, the
topics and competitor mentions. The one rule that matters most: a post that *shares a
tip* about a fault ("分享一个小技巧：报错时重启网关就好了", "pro tip: if it crashes,
clear the cache") is not a defect complaint. When tip-framing words
(:data:`TIP_FRAMING`) are present and the writer reports a fix, or is not negative
overall, the defect and delivery evidence is cut to :data:`TIP_DISCOUNT` of its value.
Sentiment alone cannot make that call: both posts name the fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pathcast.radar.analysis.lexicon import Reason, find_cues, intent_cues, normalise, reason
from pathcast.radar.analysis.polarity import Polarity
from pathcast.radar.analysis.topics import TopicHit

IntentLabel = Literal[
    "complaint_defect",
    "tip_praise",
    "question_need",
    "purchase_intent",
    "competitor_comparison",
    "delivery_service_issue",
    "other",
]
INTENT_LABELS: tuple[IntentLabel, ...] = (
    "complaint_defect",
    "tip_praise",
    "question_need",
    "purchase_intent",
    "competitor_comparison",
    "delivery_service_issue",
    "other",
)
INTENT_NAMES: dict[str, Reason] = {
    "complaint_defect": reason("complaint / defect", "吐槽/产品缺陷"),
    "tip_praise": reason("usage tip / praise", "使用技巧/称赞"),
    "question_need": reason("question / need", "提问/需求"),
    "purchase_intent": reason("purchase intent", "采购意向"),
    "competitor_comparison": reason("competitor comparison", "竞品比较"),
    "delivery_service_issue": reason("delivery / service issue", "交付/服务问题"),
    "other": reason("other", "其他"),
}

# Below this much evidence the text is "other".
MIN_EVIDENCE = 1.0
TIP_DISCOUNT = 0.3
# Words that say a problem was solved: a tip about a fault, not a complaint about it.
SOLVED_CUES: dict[str, float] = {
    normalise(cue): 1.0
    for cue in (
        "解决", "搞定", "就好了", "就行", "就可以", "即可", "恢复正常", "修好", "办法", "再也没", "不再",
        "fixed", "solved", "fix", "workaround", "works", "worked", "resolved", "solution", "no longer", "never again",
    )
}  # fmt: skip
# The words that frame a post as a tip. Plain 分享/share is not among them: people also
# "share" their bad experience.
TIP_FRAMING: dict[str, float] = {
    normalise(cue): weight
    for cue, weight in (
        ("技巧", 2.0), ("小技巧", 2.5), ("窍门", 2.0), ("小窍门", 2.5), ("教程", 2.0), ("攻略", 2.0),
        ("干货", 1.8), ("妙招", 2.0), ("秘诀", 2.0), ("教大家", 2.0), ("手把手", 2.0), ("心得", 1.8),
        ("玩法", 1.5), ("tip", 2.0), ("tips", 2.0), ("trick", 2.0), ("tricks", 2.0), ("hack", 1.5),
        ("tutorial", 2.0), ("guide", 1.5), ("how i", 1.8), ("here's how", 1.8), ("here is how", 1.8),
        ("pro tip", 2.5), ("protip", 2.5), ("walkthrough", 1.8), ("step by step", 1.5),
    )
}  # fmt: skip
QUESTION_MARKS = ("?", "？")
QUESTION_OPENERS = frozenset(
    {
        "how",
        "what",
        "which",
        "where",
        "when",
        "why",
        "who",
        "does",
        "do",
        "is",
        "are",
        "can",
        "could",
        "will",
        "should",
    }
)


@dataclass(frozen=True)
class Intent:
    """The intent of a text, how sure the classifier is (0–1), and why."""

    label: IntentLabel
    confidence: float
    reasons: list[Reason] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "label": self.label,
            "name": INTENT_NAMES[self.label],
            "confidence": round(self.confidence, 3),
            "reasons": list(self.reasons),
            "scores": {label: round(value, 3) for label, value in self.scores.items()},
        }


def classify(
    text: str,
    tokens: Sequence[str],
    topics: Sequence[TopicHit],
    polarity: Polarity,
    *,
    competitors: Sequence[str] = (),
) -> Intent:
    """The intent of ``text``.

    ``tokens`` are its words (:func:`~pathcast.radar.analysis.tokens.tokenize`); a text
    opening with a question word counts as a question even without "?".
    Cue words right after a negation do not count ("没出过故障", "would not recommend").
    ``competitors`` are the competitor names entity linking found in it.
    """
    lowered = normalise(text)
    scores: dict[IntentLabel, float] = {label: 0.0 for label in INTENT_LABELS if label != "other"}
    evidence: dict[IntentLabel, list[Reason]] = {label: [] for label in scores}

    for label in scores:
        cues = intent_cues().get(label, {})
        found = find_cues(lowered, cues, skip_negated=True)
        if found:
            scores[label] += sum(found.values())
            words = "、".join(sorted(found, key=lambda cue: -found[cue])[:5])
            evidence[label].append(reason(f"cue words: {words.replace('、', ', ')}", f"线索词：{words}"))

    negativity = max(0.0, -polarity.score)
    positivity = max(0.0, polarity.score)
    topic_keys = {hit.key for hit in topics}

    if any(mark in text for mark in QUESTION_MARKS):
        scores["question_need"] += 1.2
        evidence["question_need"].append(reason("asks a question", "提出了问题"))
    elif tokens and tokens[0] in QUESTION_OPENERS:
        # an English question often comes without its question mark in chat
        scores["question_need"] += 0.8
        evidence["question_need"].append(reason("opens like a question", "以疑问句开头"))
    if "delivery_delay" in topic_keys and polarity.label != "positive":
        scores["delivery_service_issue"] += 1.5
        evidence["delivery_service_issue"].append(reason("topic: delivery delay", "话题：交付延迟"))
    if "service" in topic_keys and polarity.label == "negative":
        scores["delivery_service_issue"] += 1.0
        evidence["delivery_service_issue"].append(reason("negative about service", "对服务不满"))
    if "quality" in topic_keys and polarity.label == "negative":
        scores["complaint_defect"] += 1.0
        evidence["complaint_defect"].append(reason("negative about quality", "对质量不满"))
    if "price" in topic_keys and polarity.label != "negative":
        scores["purchase_intent"] += 0.3
    if competitors:
        scores["competitor_comparison"] += 1.0
        names = "、".join(dict.fromkeys(competitors))
        evidence["competitor_comparison"].append(
            reason(f"names a competitor: {names.replace('、', ', ')}", f"提到竞品：{names}")
        )
    if negativity:
        # a negative text is some kind of complaint; where its topic says delivery or
        # service, that is where the negativity goes
        target: IntentLabel = (
            "delivery_service_issue" if topic_keys & {"delivery_delay", "service"} else "complaint_defect"
        )
        scores[target] += 1.5 * negativity
        evidence[target].append(
            reason(f"negative tone ({polarity.score:+.2f})", f"情绪负面（{polarity.score:+.2f}）")
        )
    if positivity:
        scores["tip_praise"] += 1.5 * positivity
        evidence["tip_praise"].append(
            reason(f"positive tone ({polarity.score:+.2f})", f"情绪正面（{polarity.score:+.2f}）")
        )

    # 炫耀使用技巧 vs 吐槽产品缺陷: a tip that names a fault is still a tip
    tip_cues = sum(find_cues(lowered, TIP_FRAMING, skip_negated=True).values())
    solved = bool(find_cues(lowered, SOLVED_CUES))
    if tip_cues >= 1.5 and (solved or polarity.label != "negative"):
        evidence["tip_praise"].append(
            reason(
                "shares a tip" + (" with a fix" if solved else "") + ": not a defect complaint",
                "分享使用技巧" + ("并给出解决办法" if solved else "") + "：不是吐槽缺陷",
            )
        )
        for damped in ("complaint_defect", "delivery_service_issue"):
            if scores[damped]:
                scores[damped] *= TIP_DISCOUNT
                evidence[damped].append(
                    reason(
                        "framed as a tip" + (" with a fix" if solved else "") + ", not a complaint",
                        "以分享技巧的口吻" + ("给出了解决办法" if solved else "") + "，并非投诉",
                    )
                )

    best = max(scores, key=lambda label: (scores[label], -INTENT_LABELS.index(label)))
    total = sum(scores.values())
    if scores[best] < MIN_EVIDENCE:
        return Intent(
            label="other",
            confidence=round(max(0.3, 1.0 - scores[best] / MIN_EVIDENCE * 0.7), 3),
            reasons=[reason("no intent has enough evidence", "没有足够线索判断意图")],
            scores={str(label): value for label, value in scores.items()},
        )
    confidence = min(1.0, scores[best] / (total + 0.5))
    return Intent(
        label=best,
        confidence=round(confidence, 3),
        reasons=evidence[best],
        scores={str(label): value for label, value in scores.items()},
    )
