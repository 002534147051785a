"""Keyword and topic detection from a configurable dictionary.

A :class:`TopicDictionary` lists topics (key, zh/en labels, keywords and synonyms). The
packaged default (``data/topics.json``) covers 交付延迟 / delivery delay, 价格 / price,
兼容性 / compatibility, 质量 / quality and 服务 / service; admins extend or replace it
with :meth:`TopicDictionary.from_dict`. Chinese keywords match as substrings, English
keywords as whole words, so detection does not depend on where jieba cuts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pathcast.errors import InvalidInput
from pathcast.radar.analysis.lexicon import count_cue, load_json, normalise


@dataclass(frozen=True)
class Topic:
    """One topic: a stable key (used by the weight table), labels and keywords."""

    key: str
    label_zh: str
    label_en: str
    keywords: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The topic in the dictionary file's shape."""
        return {
            "key": self.key,
            "label": {"zh": self.label_zh, "en": self.label_en},
            "keywords": list(self.keywords),
        }


@dataclass(frozen=True)
class TopicDictionary:
    """An ordered set of topics; order breaks ties between equally strong hits."""

    topics: tuple[Topic, ...]

    @classmethod
    def default(cls) -> TopicDictionary:
        """The packaged default dictionary."""
        return _default_dictionary()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TopicDictionary:
        """A dictionary from ``{"topics": [{"key", "label": {"zh", "en"}, "keywords"}]}``.

        Raises :class:`~pathcast.errors.InvalidInput` naming the offending field
        (``topics[2].keywords``) when the shape is wrong or a key repeats.
        """
        raw_topics = data.get("topics")
        if not isinstance(raw_topics, list):
            raise _invalid("topics", "expected a list of topics", "应为主题列表")
        topics: list[Topic] = []
        seen: set[str] = set()
        for index, raw in enumerate(raw_topics):
            where = f"topics[{index}]"
            if not isinstance(raw, Mapping):
                raise _invalid(where, "expected an object", "应为对象")
            key = raw.get("key")
            if not isinstance(key, str) or not key.strip():
                raise _invalid(f"{where}.key", "expected a non-empty text", "应为非空文本")
            if key in seen:
                raise _invalid(f"{where}.key", f"topic {key!r} appears twice", f"主题 {key!r} 重复")
            seen.add(key)
            label = raw.get("label") or {}
            if not isinstance(label, Mapping):
                raise _invalid(f"{where}.label", "expected {zh, en}", "应为 {zh, en}")
            keywords = raw.get("keywords")
            if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
                raise _invalid(f"{where}.keywords", "expected a list of non-empty texts", "应为非空文本列表")
            topics.append(
                Topic(
                    key=key.strip(),
                    label_zh=str(label.get("zh") or key),
                    label_en=str(label.get("en") or key),
                    keywords=tuple(dict.fromkeys(normalise(k).strip() for k in keywords)),
                )
            )
        return cls(topics=tuple(topics))

    def as_dict(self) -> dict[str, Any]:
        """The dictionary in its file shape (for editing and saving)."""
        return {"topics": [topic.as_dict() for topic in self.topics]}

    def keywords(self) -> set[str]:
        """Every keyword of every topic (for jieba registration)."""
        return {keyword for topic in self.topics for keyword in topic.keywords}

    def get(self, key: str) -> Topic | None:
        """The topic with this key, if any."""
        return next((topic for topic in self.topics if topic.key == key), None)


@lru_cache
def _default_dictionary() -> TopicDictionary:
    return TopicDictionary.from_dict(load_json("topics.json"))


def _invalid(field_name: str, en: str, zh: str) -> InvalidInput:
    return InvalidInput.single(field_name, "invalid", message=f"{field_name}: {en} / {zh}")


@dataclass(frozen=True)
class TopicHit:
    """A topic found in a text, with the keywords that found it."""

    key: str
    label_zh: str
    label_en: str
    keywords: list[str] = field(default_factory=list)
    count: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "label": {"zh": self.label_zh, "en": self.label_en},
            "keywords": list(self.keywords),
            "count": self.count,
        }


def detect(
    text: str, dictionary: TopicDictionary | None = None, *, tokens: Sequence[str] | None = None
) -> list[TopicHit]:
    """The topics of ``text``, strongest first (then in dictionary order).

    A topic's strength is how many times its keywords occur; a keyword inside a longer
    matched keyword of the same topic ("交期" in "交期延误") is not counted twice.
    ``tokens``, when given, add single-token matches a substring search cannot see
    (none today for the packaged lists; kept so callers can pass their tokens).
    """
    dictionary = dictionary or TopicDictionary.default()
    lowered = normalise(text)
    token_set = {normalise(token) for token in tokens} if tokens else set()
    hits: list[tuple[int, int, TopicHit]] = []
    for order, topic in enumerate(dictionary.topics):
        counts = {kw: count_cue(lowered, kw) for kw in topic.keywords}
        for keyword in topic.keywords:
            if not counts[keyword] and keyword in token_set:
                counts[keyword] = 1
        found = {kw: n for kw, n in counts.items() if n}
        # a keyword that only ever occurs inside a longer found keyword adds nothing
        kept = {
            kw: n
            for kw, n in found.items()
            if not any(kw != longer and kw in longer and n <= found[longer] for longer in found)
        }
        if kept:
            hit = TopicHit(
                key=topic.key,
                label_zh=topic.label_zh,
                label_en=topic.label_en,
                keywords=sorted(kept, key=lambda kw: (-len(kw), kw)),
                count=sum(kept.values()),
            )
            hits.append((-hit.count, order, hit))
    return [hit for _, _, hit in sorted(hits, key=lambda item: (item[0], item[1]))]
