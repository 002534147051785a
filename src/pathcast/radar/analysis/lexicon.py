"""The word lists the analysis reads, loaded from the JSON files in ``data/``, and two
small pieces every step shares: bilingual reasons and cue matching.

Files (each editable, each documented in ``docs/radar_analysis.md``):

- ``sentiment.json``: zh/en polarity cues with strengths, negations, intensifiers,
  diminishers and contrast words;
- ``intents.json``: cue words per intent;
- ``topics.json``: the default topic dictionary (read by ``topics``);
- ``weights.json``: the default industry × topic weight table (read by ``weights``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypedDict

DATA_DIR = Path(__file__).parent / "data"

Lang = Literal["zh", "en"]


class Reason(TypedDict):
    """One reason, said in both languages so a page can show either."""

    en: str
    zh: str


def reason(en: str, zh: str) -> Reason:
    """A bilingual reason."""
    return {"en": en, "zh": zh}


def load_json(name: str) -> Any:
    """A data file of this package, parsed (a fresh object each call: callers may edit it)."""
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def normalise(text: str) -> str:
    """NFKC and lower case: full-width letters and digits become ASCII, so ``ＰＬＣ`` is ``plc``."""
    return unicodedata.normalize("NFKC", text).lower()


# --- polarity cues ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SentimentLexicon:
    """Polarity cues of one language. Strengths are positive numbers; the sign is the list."""

    positive: dict[str, float]
    negative: dict[str, float]
    negations: frozenset[str]
    intensifiers: dict[str, float]
    diminishers: dict[str, float]
    contrasts: frozenset[str]

    def words(self) -> set[str]:
        """Every word the lexicon knows (for jieba registration and sub-word splitting)."""
        return (
            set(self.positive)
            | set(self.negative)
            | set(self.negations)
            | set(self.intensifiers)
            | set(self.diminishers)
            | set(self.contrasts)
        )


@lru_cache
def sentiment_lexicon(lang: Lang) -> SentimentLexicon:
    """The packaged polarity lexicon of ``lang``."""
    raw = load_json("sentiment.json")[lang]
    return SentimentLexicon(
        positive={normalise(k): float(v) for k, v in raw["positive"].items()},
        negative={normalise(k): float(v) for k, v in raw["negative"].items()},
        negations=frozenset(normalise(word) for word in raw["negations"]),
        intensifiers={normalise(k): float(v) for k, v in raw["intensifiers"].items()},
        diminishers={normalise(k): float(v) for k, v in raw["diminishers"].items()},
        contrasts=frozenset(normalise(word) for word in raw["contrasts"]),
    )


# --- intent cues ------------------------------------------------------------------------------


@lru_cache
def intent_cues() -> dict[str, dict[str, float]]:
    """Intent label → cue → weight, zh and en cues merged (each matched by its own rule)."""
    raw: dict[str, dict[str, dict[str, float]]] = load_json("intents.json")
    table: dict[str, dict[str, float]] = {}
    for label, by_lang in raw.items():
        if label.startswith("_"):
            continue
        merged: dict[str, float] = {}
        for cues in by_lang.values():
            merged.update({normalise(cue): float(weight) for cue, weight in cues.items()})
        table[label] = merged
    return table


# --- matching ---------------------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@lru_cache(maxsize=4096)
def _word_pattern(cue: str) -> re.Pattern[str]:
    # English cues match whole words; a trailing s/es/ed/ing is allowed so "delays" and
    # "crashed" count, but "tip" must not fire inside "multiple".
    return re.compile(r"(?<![a-z0-9])" + re.escape(cue) + r"(?:s|es|ed|ing)?(?![a-z0-9])")


def count_cue(normalised_text: str, cue: str) -> int:
    """How often ``cue`` occurs in text already passed through :func:`normalise`.

    A cue holding a Chinese character matches as a substring (Chinese has no spaces);
    any other cue matches as a whole word or phrase.
    """
    if not cue:
        return 0
    if _HAN.search(cue):
        return normalised_text.count(cue)
    return len(_word_pattern(cue).findall(normalised_text))


# Negations that cancel an intent cue right after them: "没出过故障" is no defect report,
# "I would not recommend" no praise. Chinese: within the 3 characters before the cue;
# English: within the 3 words before it. Neither reaches across punctuation.
_ZH_NEGATION = re.compile(r"[不没未无别]")
_EN_NEGATION = re.compile(
    r"(?<![a-z0-9'])(?:not|no|never|without|hardly|nothing|nobody|\w+n't|cannot|cant|dont|doesnt|didnt|wont|isnt)(?![a-z0-9'])"
)
_STOP = re.compile(r"[,.;:!?\n，。；：！？、]")


def _starts(normalised_text: str, cue: str) -> list[int]:
    if _HAN.search(cue):
        starts: list[int] = []
        index = normalised_text.find(cue)
        while index != -1:
            starts.append(index)
            index = normalised_text.find(cue, index + len(cue))
        return starts
    return [match.start() for match in _word_pattern(cue).finditer(normalised_text)]


def _negated(normalised_text: str, start: int, cue: str) -> bool:
    if _NEGATION_IN_CUE.search(cue):
        return False  # the cue carries its own negation ("不能用", "doesn't work")
    if _HAN.search(cue):
        before = normalised_text[max(0, start - 3) : start]
        before = _STOP.split(before)[-1]
        return bool(_ZH_NEGATION.search(before))
    before = _STOP.split(normalised_text[max(0, start - 40) : start])[-1]
    words = before.split()[-3:]
    return any(_EN_NEGATION.fullmatch(word) for word in words)


_NEGATION_IN_CUE = re.compile(r"[不没未无别]|(?<![a-z])(?:not|no|never)(?![a-z])|n't")


def find_cues(
    normalised_text: str, cues: dict[str, float], *, skip_negated: bool = False
) -> dict[str, float]:
    """The cues found in the text, each with its weight × occurrences (capped at 2, so a
    repeated word does not swamp the rest). With ``skip_negated``, an occurrence right
    after a negation does not count."""
    found: dict[str, float] = {}
    counts: dict[str, int] = {}
    for cue, weight in cues.items():
        if not cue:
            continue
        starts = _starts(normalised_text, cue)
        if skip_negated:
            starts = [start for start in starts if not _negated(normalised_text, start, cue)]
        if starts:
            counts[cue] = len(starts)
            found[cue] = weight * min(len(starts), 2)
    # "小技巧" also contains "技巧": count the longer cue only, unless the shorter one
    # also occurs on its own elsewhere.
    for cue in list(found):
        if any(cue != longer and cue in longer and counts[cue] <= counts[longer] for longer in found):
            del found[cue]
    return found
