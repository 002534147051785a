"""The message filer's scoring: which open hive a received message belongs to, and why.

Pure: the archive service gathers the evidence from the database (the hive holding the
message's thread, the hives of its account, the members among its participants, each
hive's keywords, what corrections taught) and this module weighs it. Every weight is a
named constant so the reasons a page shows can be traced back to one number.

- **thread** (strongest): the thread already has a message filed in the hive;
- **account**: the message was matched to the hive's account;
- **participants**: the sender or recipients are members of the hive;
- **keywords**: words of the hive's name and product line (and, weaker, its template's
  name and milestone names) appear in the message;
- **learned**: a person moved a similar message; its salient words pull towards the hive
  it was moved to and push away from the one it was moved out of.

A message is filed into the best hive only when its score reaches ``THRESHOLD``: an
account with one open hive is enough, a single shared word is not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pathcast.radar.analysis.tokens import tokenize

THREAD_WEIGHT = 10.0
ACCOUNT_WEIGHT = 3.0
PARTICIPANT_WEIGHT = 1.5
PARTICIPANT_CAP = 3.0
NAME_WORD_WEIGHT = 1.0  # a word of the hive's name or product line
PLAN_WORD_WEIGHT = 0.5  # a word of its template's name or of a milestone name
KEYWORD_CAP = 4.0
LEARNED_WORD_WEIGHT = 1.5
LEARNED_CAP = 4.5
THRESHOLD = 3.0
SALIENT_MAX = 8
SHOWN_WORDS = 5

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Words that say nothing about which job a message is about: reply markers, greetings,
# function words. Kept short on purpose; length and frequency do the rest.
_STOP_TEXT = """
    re fw fwd the and for with this that from have has are was were will would can could
    you your our ours we they them their his her its not but all any about into over
    please thanks thank hello dear regards best just also been being which what when
    where who how here there then than some more most very much many only other
    回复 答复 转发 你好 您好 谢谢 感谢 我们 你们 他们 这个 那个 一下 以及 还是 或者
    已经 可以 需要 没有 如果 因为 所以 但是 然后 就是 这样 那样 什么 怎么 一个 请问
"""
STOPWORDS = frozenset(_STOP_TEXT.split())


def words(text: str) -> list[str]:
    """The meaningful words of ``text``: jieba words of two characters or more for Chinese,
    lower-cased Latin words of three letters or more, no stopwords, no bare numbers."""
    kept: list[str] = []
    for token in tokenize(text or ""):
        if token in STOPWORDS or token.isdigit():
            continue
        if _HAN.search(token):
            if len(token) >= 2:
                kept.append(token)
        elif len(token) >= 3:
            kept.append(token)
    return kept


@lru_cache(maxsize=20_000)
def cached_words(text: str) -> frozenset[str]:
    """``words`` of a short, often repeated text (hive names, milestone names) as a set."""
    return frozenset(words(text))


def search_text(*parts: str | None) -> str:
    """What the search box reads: every token (not only the meaningful ones), lower-cased,
    space-separated, so a search for any word of the message finds it."""
    return " ".join(tokenize(" ".join(part for part in parts if part)))


def salient_words(text: str, limit: int = SALIENT_MAX) -> list[str]:
    """The words a correction teaches: the most frequent meaningful words, first seen first."""
    found = words(text)
    counts = Counter(found)
    first = {word: position for position, word in reversed(list(enumerate(found)))}
    ranked = sorted(counts, key=lambda word: (-counts[word], first[word]))
    return ranked[:limit]


@dataclass(frozen=True)
class Incoming:
    """A received message as the filer sees it."""

    words: frozenset[str]
    account_id: int | None = None
    thread: str | None = None
    # sender and recipients, lower-cased
    addresses: frozenset[str] = frozenset()


@dataclass
class Candidate:
    """An open hive and the evidence gathered for it."""

    hive_id: int
    name: str
    account_id: int
    # words of the name and product line; words of the template's name and milestones
    name_words: frozenset[str] = frozenset()
    plan_words: frozenset[str] = frozenset()
    holds_thread: bool = False
    # participants of the message who are members of the hive
    members: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Lesson:
    """What one correction taught: these words belong to ``to_hive_id``, not ``from_hive_id``."""

    to_hive_id: int
    from_hive_id: int | None
    words: frozenset[str]


@dataclass
class Scored:
    """One hive's score for a message and the reasons that add up to it."""

    hive_id: int
    score: float = 0.0
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, weight: float, en: str, zh: str) -> None:
        """Count one piece of evidence (a zero weight is not a reason)."""
        if weight == 0:
            return
        self.score = round(self.score + weight, 3)
        self.reasons.append({"kind": kind, "weight": round(weight, 3), "en": en, "zh": zh})


def _listed(found: Iterable[str]) -> str:
    chosen = sorted(found)[:SHOWN_WORDS]
    return ", ".join(chosen)


def learned_weights(incoming: Incoming, lessons: Sequence[Lesson]) -> dict[int, tuple[float, set[str]]]:
    """Per hive: the learned weight (capped both ways) and the words that earned it."""
    totals: dict[int, float] = {}
    taught: dict[int, set[str]] = {}
    for lesson in lessons:
        matched = lesson.words & incoming.words
        if not matched:
            continue
        gain = LEARNED_WORD_WEIGHT * len(matched)
        totals[lesson.to_hive_id] = totals.get(lesson.to_hive_id, 0.0) + gain
        taught.setdefault(lesson.to_hive_id, set()).update(matched)
        if lesson.from_hive_id is not None and lesson.from_hive_id != lesson.to_hive_id:
            totals[lesson.from_hive_id] = totals.get(lesson.from_hive_id, 0.0) - gain
            taught.setdefault(lesson.from_hive_id, set()).update(matched)
    return {
        hive_id: (max(-LEARNED_CAP, min(LEARNED_CAP, total)), taught[hive_id])
        for hive_id, total in totals.items()
    }


def score(incoming: Incoming, candidate: Candidate, learned: Mapping[int, tuple[float, set[str]]]) -> Scored:
    """The score of one hive for a message, with a bilingual reason per kind of evidence."""
    result = Scored(candidate.hive_id)
    if candidate.holds_thread:
        result.add(
            "thread",
            THREAD_WEIGHT,
            "Same conversation as messages already filed here",
            "与已归档在此的消息属于同一会话",
        )
    if incoming.account_id is not None and incoming.account_id == candidate.account_id:
        result.add("account", ACCOUNT_WEIGHT, "From this hive's customer account", "来自本蜂巢的客户")
    if candidate.members:
        weight = min(PARTICIPANT_CAP, PARTICIPANT_WEIGHT * len(candidate.members))
        people = _listed(candidate.members)
        result.add(
            "participants", weight, f"Hive members take part: {people}", f"蜂巢成员参与了此消息：{people}"
        )
    by_name = candidate.name_words & incoming.words
    by_plan = (candidate.plan_words & incoming.words) - by_name
    keyword_weight = min(KEYWORD_CAP, NAME_WORD_WEIGHT * len(by_name) + PLAN_WORD_WEIGHT * len(by_plan))
    if keyword_weight:
        shown = _listed(by_name | by_plan)
        result.add(
            "keywords",
            keyword_weight,
            f"Mentions the hive's words: {shown}",
            f"提到了本蜂巢的关键词：{shown}",
        )
    weight, taught = learned.get(candidate.hive_id, (0.0, set()))
    if weight > 0:
        shown = _listed(taught)
        result.add(
            "learned",
            weight,
            f"Similar messages were moved here: {shown}",
            f"类似消息曾被人工移到这里：{shown}",
        )
    elif weight < 0:
        shown = _listed(taught)
        result.add(
            "learned",
            weight,
            f"Similar messages were moved out of here: {shown}",
            f"类似消息曾被人工移出这里：{shown}",
        )
    return result


def rank(incoming: Incoming, candidates: Sequence[Candidate], lessons: Sequence[Lesson] = ()) -> list[Scored]:
    """Every candidate scored, best first; a tie goes to the newer hive (the higher id)."""
    learned = learned_weights(incoming, lessons)
    scored = [score(incoming, candidate, learned) for candidate in candidates]
    return sorted(scored, key=lambda item: (-item.score, -item.hive_id))


def best(scored: Sequence[Scored], threshold: float = THRESHOLD) -> Scored | None:
    """The best-ranked hive when it reaches the threshold, else None."""
    if scored and scored[0].score >= threshold:
        return scored[0]
    return None
