"""Text analysis for the radar, in Chinese and English, pure Python (no database).

Pipeline (each step its own module, usable alone)::

    detect_lang, tokenize   tokens.py     jieba for Chinese, words for English
    link                    entities.py   accounts, contacts, products, competitors
    detect                  topics.py     configurable topic dictionary
    score                   polarity.py   lexicon + negation + intensifiers
    classify                intent.py     complaint vs tip vs question vs …
    WeightTable             weights.py    industry × topic → 0–3
    grade                   severity.py   P1–P4 with reasons in zh and en

:func:`analyse` runs them all on one text and returns an :class:`Analysis` that
``as_dict()`` turns into JSON. See docs/radar_analysis.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pathcast.radar.analysis.entities import EntityCatalogue, EntityMention, link
from pathcast.radar.analysis.intent import Intent, classify
from pathcast.radar.analysis.lexicon import Lang, Reason, reason
from pathcast.radar.analysis.polarity import Polarity, label_of, score
from pathcast.radar.analysis.severity import Grade, grade
from pathcast.radar.analysis.tokens import detect_lang, register_words, tokenize
from pathcast.radar.analysis.topics import TopicDictionary, TopicHit, detect
from pathcast.radar.analysis.weights import WeightTable

__all__ = [
    "Analysis",
    "EntityCatalogue",
    "Grade",
    "Intent",
    "Polarity",
    "TopicDictionary",
    "TopicHit",
    "WeightTable",
    "analyse",
]

# Texts longer than this are analysed on their beginning: a signal is a post or a
# message, and a 1 MB page pasted by mistake must not stall a worker.
MAX_CHARS = 20_000


@dataclass(frozen=True)
class Analysis:
    """Everything the analysis found in one text."""

    lang: Lang
    tokens: list[str]
    entities: list[EntityMention]
    topics: list[TopicHit]
    polarity: Polarity
    intent: Intent
    industry: str | None
    weight: float
    weight_topic: str | None
    grade: Grade
    notes: list[Reason] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (lists, dicts, strings, numbers only)."""
        return {
            "lang": self.lang,
            "tokens": list(self.tokens),
            "entities": [mention.as_dict() for mention in self.entities],
            "topics": [hit.as_dict() for hit in self.topics],
            "polarity": self.polarity.as_dict(),
            "intent": self.intent.as_dict(),
            "industry": self.industry,
            "weight": self.weight,
            "weight_topic": self.weight_topic,
            "grade": self.grade.as_dict(),
            "notes": list(self.notes),
        }


def analyse(
    text: str,
    *,
    catalogue: EntityCatalogue | None = None,
    dictionary: TopicDictionary | None = None,
    weights: WeightTable | None = None,
    industry: str | None = None,
    account_tier: str | None = None,
    reach: float = 1.0,
    polarity_model: Callable[[str], float] | None = None,
    polarity_model_name: str = "trained model",
) -> Analysis:
    """Analyse one text and grade it.

    ``industry`` (free text or a weight-table key) and ``account_tier`` describe the
    account the text concerns; when not given, the first account the text names (in
    ``catalogue``) supplies them. The business weight is the largest weight among the
    topics found (the table's default when there is none). Never raises on any text.
    """
    catalogue = catalogue or EntityCatalogue()
    dictionary = dictionary or TopicDictionary.default()
    weights = weights or WeightTable.default()
    notes: list[Reason] = []
    if len(text) > MAX_CHARS:
        notes.append(
            reason(f"only the first {MAX_CHARS} characters were analysed", f"只分析了前 {MAX_CHARS} 个字符")
        )
        text = text[:MAX_CHARS]

    register_words(dictionary.keywords() | catalogue.words())
    lang = detect_lang(text)
    words = tokenize(text)
    mentions = link(text, catalogue)
    hits = detect(text, dictionary, tokens=words)
    competitors = [m.name for m in mentions if m.kind == "competitor"]
    if competitors:
        hits.append(
            TopicHit(
                key="competitor",
                label_zh="竞品",
                label_en="Competitor",
                keywords=list(dict.fromkeys(m.matched for m in mentions if m.kind == "competitor")),
                count=len(competitors),
            )
        )
    polarity = score(text)
    if polarity_model is not None:
        modelled = max(-1.0, min(1.0, float(polarity_model(text))))
        polarity = Polarity(label=label_of(modelled), score=round(modelled, 3), cues=polarity.cues)
        notes.append(
            reason(
                f"polarity from the trained model {polarity_model_name}",
                f"情感极性来自训练模型 {polarity_model_name}",
            )
        )
    intent = classify(text, words, hits, polarity, competitors=competitors)

    if industry is None or account_tier is None:
        account = next(
            (e for m in mentions if m.kind == "account" for e in catalogue.accounts if e.id == m.entity_id),
            None,
        )
        if account is not None:
            if industry is None and account.industry:
                industry = account.industry
                notes.append(
                    reason(f"industry from the account {account.name}", f"行业取自客户 {account.name}")
                )
            if account_tier is None and account.tier:
                account_tier = account.tier

    industry_key = weights.resolve_industry(industry)
    weight = weights.default_weight
    weight_topic: str | None = None
    for hit in hits:
        value = weights.weight(industry, hit.key)
        if weight_topic is None or value > weight:
            weight, weight_topic = value, hit.key
    topic_hit = next((hit for hit in hits if hit.key == weight_topic), None)
    result_grade = grade(
        polarity,
        intent,
        weight,
        account_tier,
        reach if isinstance(reach, int | float) and math.isfinite(reach) else 1.0,
        topic=reason(topic_hit.label_en, topic_hit.label_zh) if topic_hit else None,
        industry=_industry_label(weights, industry_key),
    )
    return Analysis(
        lang=lang,
        tokens=words,
        entities=mentions,
        topics=hits,
        polarity=polarity,
        intent=intent,
        industry=industry_key,
        weight=weight,
        weight_topic=weight_topic,
        grade=result_grade,
        notes=notes,
    )


def _industry_label(weights: WeightTable, key: str | None) -> Reason | None:
    if key is None:
        return None
    label = weights.label(key)
    return reason(label["en"], label["zh"])
