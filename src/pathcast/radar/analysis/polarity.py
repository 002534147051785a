"""Polarity of a text: positive, neutral or negative, with a score in -1..1 and the cues.

Lexicon-based, in Chinese and English (``data/sentiment.json``), clause by clause:

- each cue word adds its strength (positive) or subtracts it (negative);
- a negation (不/没/未/无/not/no/never/n't…) within the three words before a cue flips
  it; a negated negative counts half ("没有问题" is mildly positive, not negative), a
  negated positive counts 0.8 ("不满意" is clearly negative); two negations cancel;
- intensifiers (很/非常/太/very/extremely) multiply the next cue, diminishers
  (有点/slightly) damp it;
- after a contrast (但是/不过/but/however) cues weigh 1.25× — the clause after "but"
  is usually what the writer means.

The sum ``s`` becomes ``score = tanh(s / 2)``; ``score ≥ 0.25`` is positive, ``≤ -0.25``
negative, anything between neutral.

A text with no Chinese at all is scored by VADER (``vaderSentiment``, MIT, its lexicon of
7,500 rated English words and emoticons ships inside the package): its compound score in
−1..1 is the score, ±0.05 its neutral band (VADER's own). Our lexicon's cue words are
still listed as the reasons. ``snownlp`` is not used: it is not installed in
this environment (see docs/radar_analysis.md); the trained domain model of
``pathcast radar train`` is the way past the lexicon's limits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from pathcast.radar.analysis.lexicon import SentimentLexicon, sentiment_lexicon
from pathcast.radar.analysis.tokens import clauses, tokenize

PolarityLabel = Literal["positive", "neutral", "negative"]

THRESHOLD = 0.25
NEGATION_SCOPE = 3
NEGATED_NEGATIVE = 0.5
NEGATED_POSITIVE = 0.8
AFTER_CONTRAST = 1.25

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Cue:
    """One cue word as it counted: its signed contribution and whether it was negated."""

    word: str
    value: float
    negated: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"word": self.word, "value": round(self.value, 3), "negated": self.negated}


@dataclass(frozen=True)
class Polarity:
    """The polarity of a text."""

    label: PolarityLabel
    score: float
    cues: list[Cue] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"label": self.label, "score": round(self.score, 4), "cues": [c.as_dict() for c in self.cues]}


def label_of(score_value: float) -> PolarityLabel:
    """The label of a score in -1..1."""
    if score_value >= THRESHOLD:
        return "positive"
    if score_value <= -THRESHOLD:
        return "negative"
    return "neutral"


def _lexicon_of(token: str) -> SentimentLexicon:
    return sentiment_lexicon("zh" if _HAN.search(token) else "en")


def _is_known(token: str, lex: SentimentLexicon) -> bool:
    return (
        token in lex.positive
        or token in lex.negative
        or token in lex.negations
        or token in lex.intensifiers
        or token in lex.diminishers
        or token in lex.contrasts
    )


def _expand(token: str) -> list[str]:
    """Split a Chinese token jieba kept whole around the cue words inside it.

    "不好用" → 不 + 好用, "质量差" → 质量 + 差, "交付延迟" → 交付 + 延迟. Single-character
    cues count only at the start or end of a token, so "好像" does not read as "好".
    """
    lex = sentiment_lexicon("zh")
    if not _HAN.search(token) or _is_known(token, lex) or len(token) < 2:
        return [token]
    # a leading negation or intensifier (1–2 characters) before a known word
    for size in (2, 1):
        head, rest = token[:size], token[size:]
        if rest and (head in lex.negations or head in lex.intensifiers or head in lex.diminishers):
            if _is_known(rest, lex):
                return [head, rest]
            inner = _expand(rest)
            if len(inner) > 1:
                return [head, *inner]
    # multi-character cue words anywhere, longest first, left to right
    pieces: list[str] = []
    rest_buffer = ""
    index = 0
    found = False
    while index < len(token):
        match = next(
            (
                token[index : index + size]
                for size in range(min(4, len(token) - index), 1, -1)
                if _is_known(token[index : index + size], lex)
            ),
            None,
        )
        if match:
            if rest_buffer:
                pieces.append(rest_buffer)
                rest_buffer = ""
            pieces.append(match)
            index += len(match)
            found = True
        else:
            rest_buffer += token[index]
            index += 1
    if found:
        if rest_buffer:
            pieces.append(rest_buffer)
        return pieces
    # a single-character cue at the end of a longer word ("质量差")
    if len(token) >= 3 and _is_known(token[-1], lex):
        return [token[:-1], token[-1]]
    return [token]


VADER_NEUTRAL = 0.05
# Words VADER rates positive that, in a customer's message, are plain nouns or requests:
# "support does not respond" is not praise, "please help" is a question.
BUSINESS_NEUTRAL = ("support", "supports", "supported", "supporting", "help", "helps", "free", "please")
# Our lexicon's strengths (0–2.2) onto VADER's scale (−4..4) for words VADER lacks ("late").
VADER_SCALE = 1.5


@lru_cache(maxsize=1)
def _vader() -> Any:
    """VADER with the business vocabulary: neutral nouns removed, our domain words added."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    english = sentiment_lexicon("en")
    for word, strength in english.positive.items():
        analyzer.lexicon.setdefault(word, strength * VADER_SCALE)
    for word, strength in english.negative.items():
        analyzer.lexicon.setdefault(word, -strength * VADER_SCALE)
    for word in BUSINESS_NEUTRAL:
        analyzer.lexicon.pop(word, None)
    return analyzer


def score(text: str) -> Polarity:
    """The polarity of ``text`` (Chinese, English or both mixed)."""
    lexicon = _lexicon_score(text)
    if _HAN.search(text) or not text.strip():
        return lexicon
    compound = float(_vader().polarity_scores(text)["compound"])
    label: PolarityLabel = (
        "positive" if compound >= VADER_NEUTRAL else "negative" if compound <= -VADER_NEUTRAL else "neutral"
    )
    return Polarity(label=label, score=compound, cues=lexicon.cues)


def _lexicon_score(text: str) -> Polarity:
    total = 0.0
    cues: list[Cue] = []
    contrast_seen = False
    for clause in clauses(text):
        words = [piece for token in tokenize(clause) for piece in _expand(token)]
        negations = 0
        negation_left = 0
        multiplier = 1.0
        multiplier_left = 0
        for word in words:
            lex = _lexicon_of(word)
            if word in lex.contrasts:
                contrast_seen = True
                negations, negation_left, multiplier, multiplier_left = 0, 0, 1.0, 0
                continue
            if word in lex.negations:
                negations += 1
                negation_left = NEGATION_SCOPE
                continue
            if word in lex.intensifiers or word in lex.diminishers:
                multiplier *= lex.intensifiers.get(word, lex.diminishers.get(word, 1.0))
                multiplier_left = 2
                continue
            strength = lex.positive.get(word, 0.0) - lex.negative.get(word, 0.0)
            if strength == 0.0:
                negation_left = max(0, negation_left - 1)
                multiplier_left = max(0, multiplier_left - 1)
                if negation_left == 0:
                    negations = 0
                if multiplier_left == 0:
                    multiplier = 1.0
                continue
            value = strength * multiplier
            negated = negation_left > 0 and negations % 2 == 1
            if negated:
                value = -value * (NEGATED_NEGATIVE if strength < 0 else NEGATED_POSITIVE)
            if contrast_seen:
                value *= AFTER_CONTRAST
            cues.append(Cue(word=word, value=value, negated=negated))
            total += value
            negations, negation_left, multiplier, multiplier_left = 0, 0, 1.0, 0
    value = math.tanh(total / 2.0)
    return Polarity(label=label_of(value), score=value, cues=cues)
