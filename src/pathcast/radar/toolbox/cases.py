"""Case matching: the won deals and case studies most like a situation, and why.

Similarity is a weighted mean of four parts, each 0–1:

- **industry** (weight 0.30): 1 when both name the same industry. Free text resolves
  through the radar weight table's industries and aliases, so "制造业" and
  "Manufacturing" match; otherwise the normalised texts must be equal.
- **products** (0.30): the share of the query's products the case also has.
- **size** (0.15): ``max(0, 1 - |log10(a) - log10(b)| / 2)``: the same amount is 1, ten
  times more or less is 0.5, a hundred times is 0.
- **problem text** (0.25): TF-IDF cosine over radar tokens (jieba for Chinese).

A part the query leaves empty (no industry, no amount…) or the case cannot answer is
left out and the others are re-weighted, so a missing amount neither helps nor hurts.
Each match lists, in zh and en, the parts that made it similar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from pathcast.radar.analysis.lexicon import Reason, normalise, reason
from pathcast.radar.analysis.tokens import tokenize
from pathcast.radar.analysis.weights import WeightTable

PART_WEIGHTS: dict[str, float] = {"industry": 0.30, "products": 0.30, "size": 0.15, "text": 0.25}
# A part must reach this to be named as a reason: "size 0.1" is not why a case matched.
REASON_THRESHOLD = 0.3
SHARED_WORDS_SHOWN = 5


@dataclass(frozen=True)
class CaseRecord:
    """A won deal or a published case study, as the service layer reads it from crm."""

    id: str
    title: str
    industry: str | None = None
    products: tuple[str, ...] = ()
    amount: float | None = None
    text: str = ""
    kind: Literal["won_deal", "case_study"] = "won_deal"


@dataclass(frozen=True)
class CaseQuery:
    """The situation to match: the account's industry, the products in play, the deal
    size and the problem in words (a signal's text, a deal's notes)."""

    industry: str | None = None
    products: Sequence[str] = ()
    amount: float | None = None
    text: str = ""


@dataclass(frozen=True)
class CaseMatch:
    """A case, its similarity (0–1), the parts' scores, and why it matched."""

    case: CaseRecord
    score: float
    reasons: list[Reason]
    parts: dict[str, float] = field(default_factory=dict)


def match_cases(
    query: CaseQuery,
    cases: Sequence[CaseRecord],
    *,
    top: int = 5,
    weights: WeightTable | None = None,
) -> list[CaseMatch]:
    """The ``top`` cases most similar to ``query``, best first, each with its reasons.

    Cases with similarity 0 are left out. ``weights`` supplies the industry aliases
    (default: the packaged weight table). Ties keep the order of ``cases``.
    """
    if top <= 0 or not cases:
        return []
    table = weights or WeightTable.default()
    query_industry = _industry_key(table, query.industry)
    query_products = {_name(p): p for p in query.products if _name(p)}
    text_scores, shared = _text_similarity(query.text, [c.text for c in cases])

    matches: list[CaseMatch] = []
    for position, case in enumerate(cases):
        parts: dict[str, float] = {}
        reasons: list[Reason] = []
        if query_industry is not None:
            same = _industry_key(table, case.industry) == query_industry
            parts["industry"] = 1.0 if same else 0.0
            if same:
                label = case.industry or query.industry or ""
                reasons.append(reason(f"same industry: {label}", f"同行业：{label}"))
        if query_products:
            case_products = {_name(p) for p in case.products}
            common = [shown for key, shown in query_products.items() if key in case_products]
            parts["products"] = len(common) / len(query_products)
            if common:
                names = ", ".join(common)
                reasons.append(reason(f"shares products: {names}", f"相同产品：{'、'.join(common)}"))
        if _positive(query.amount) and _positive(case.amount):
            assert query.amount is not None and case.amount is not None
            gap = abs(math.log10(case.amount) - math.log10(query.amount))
            parts["size"] = max(0.0, 1.0 - gap / 2.0)
            if parts["size"] >= REASON_THRESHOLD:
                reasons.append(
                    reason(
                        f"similar size: {case.amount:,.0f} vs {query.amount:,.0f}",
                        f"规模相近：{case.amount:,.0f} 对 {query.amount:,.0f}",
                    )
                )
        if text_scores is not None:
            parts["text"] = float(text_scores[position])
            words = shared[position]
            if parts["text"] > 0 and words:
                reasons.append(
                    reason(
                        f"similar problem ({parts['text']:.0%}): {', '.join(words)}",
                        f"问题相似（{parts['text']:.0%}）：{'、'.join(words)}",
                    )
                )
        total = sum(PART_WEIGHTS[k] for k in parts)
        score = sum(PART_WEIGHTS[k] * v for k, v in parts.items()) / total if total else 0.0
        if score > 0:
            matches.append(
                CaseMatch(case, round(score, 4), reasons, {k: round(v, 4) for k, v in parts.items()})
            )
    matches.sort(key=lambda m: -m.score)  # stable: ties keep input order
    return matches[:top]


def _industry_key(table: WeightTable, industry: str | None) -> str | None:
    if not industry or not industry.strip():
        return None
    return table.resolve_industry(industry) or normalise(industry).strip()


def _name(product: str) -> str:
    return " ".join(normalise(product).split())


def _positive(amount: float | None) -> bool:
    return amount is not None and math.isfinite(amount) and amount > 0


def _text_similarity(query: str, texts: list[str]) -> tuple[np.ndarray | None, list[list[str]]]:
    """Cosine of the query to each text over TF-IDF of radar tokens, and the words each
    shares with the query (highest weight first); ``None`` when there is no query text
    or no case text has words."""
    empty: list[list[str]] = [[] for _ in texts]
    if not query.strip() or not any(t.strip() for t in texts):
        return None, empty
    vectorizer = TfidfVectorizer(analyzer=tokenize, sublinear_tf=True)
    try:
        matrix = vectorizer.fit_transform([query, *texts])
    except ValueError:  # no token at all in any text (only punctuation): nothing to compare
        return None, empty
    # rows are L2-normalised by TfidfVectorizer, so the dot product is the cosine
    q = matrix[0]
    others = matrix[1:]
    scores = np.asarray((others @ q.T).todense()).ravel()
    vocabulary = vectorizer.get_feature_names_out()
    q_weights = dict(zip(q.indices.tolist(), q.data.tolist(), strict=True))
    shared: list[list[str]] = []
    for row in range(others.shape[0]):
        start, end = others.indptr[row], others.indptr[row + 1]
        common = [
            (q_weights[col] * value, col)
            for col, value in zip(
                others.indices[start:end].tolist(), others.data[start:end].tolist(), strict=True
            )
            # one-character words (的, 了, a) say nothing about why two problems are alike
            if col in q_weights and len(vocabulary[col]) > 1
        ]
        common.sort(reverse=True)
        shared.append([str(vocabulary[col]) for _, col in common[:SHARED_WORDS_SHOWN]])
    return scores, shared
