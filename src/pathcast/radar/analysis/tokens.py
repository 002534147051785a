"""Tokenisation and language detection for Chinese and English text.

Chinese runs go through a private jieba tokenizer (so other packages' jieba words do
not leak in), with the topic keywords, polarity cues and competitor names registered
so they stay whole: "交付延迟" is one token, not "交付" + "延迟". Latin runs become
lower-cased words; a word keeps an inner apostrophe ("don't") because negation needs it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from pathcast.radar.analysis.lexicon import Lang, intent_cues, normalise, sentiment_lexicon

_HAN_CHAR = r"\u3400-\u9fff\uf900-\ufaff"
_PIECES = re.compile(rf"[{_HAN_CHAR}]+|[a-z0-9]+(?:['’\-][a-z0-9]+)*")
_HAN = re.compile(rf"[{_HAN_CHAR}]")
_LATIN_WORD = re.compile(r"[a-z]+")
# A clause ends at punctuation; negation and intensifiers never reach across it.
REGISTERED_FREQ = 1000
_CLAUSE_END = re.compile(r"[,.;:!?\n\r，。；：！？、…~～()（）\[\]【】「」『』\"“”]+")


class _Segmenter:
    """One private jieba tokenizer per process, built on first use (jieba loads its
    dictionary in about half a second) and shared by every thread under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: Any = None
        self._added: set[str] = set()

    def _ready(self) -> Any:
        if self._tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            self._tokenizer = tokenizer
            self._add(_default_words())
        return self._tokenizer

    def _add(self, words: Iterable[str]) -> None:
        for word in words:
            word = normalise(word).strip()
            # Only Chinese words of two or more characters need registering: jieba leaves
            # Latin runs alone and never splits a single character.
            if len(word) < 2 or word in self._added or not _HAN.search(word) or " " in word:
                continue
            # A fixed frequency instead of jieba's suggest_freq (which segments each word
            # and made start-up seconds slower): any frequency over a few dozen keeps a
            # word whole, and a known word keeps its own if higher.
            self._tokenizer.add_word(word, freq=max(self._tokenizer.FREQ.get(word) or 0, REGISTERED_FREQ))
            self._added.add(word)

    def add_words(self, words: Iterable[str]) -> None:
        with self._lock:
            self._ready()
            self._add(words)

    def cut(self, text: str) -> list[str]:
        with self._lock:
            return list(self._ready().cut(text, HMM=True))


def _default_words() -> set[str]:
    # imported here: topics imports tokens, and the default dictionary is data, not code
    from pathcast.radar.analysis.topics import TopicDictionary

    words = sentiment_lexicon("zh").words()
    for cues in intent_cues().values():
        words |= set(cues)
    for topic in TopicDictionary.default().topics:
        words |= set(topic.keywords)
    return words


SEGMENTER = _Segmenter()


def register_words(words: Iterable[str]) -> None:
    """Keep these Chinese words whole from now on (topic keywords, competitor and product
    names). Idempotent; Latin words need no registration."""
    SEGMENTER.add_words(words)


def detect_lang(text: str) -> Lang:
    """``"zh"`` when Chinese characters weigh at least as much as English words, else ``"en"``.

    A Chinese character counts as one, an English word as two (a word carries about as
    much as two characters). Text with neither (digits, emoji, nothing) is ``"zh"``, the
    product's default language.
    """
    lowered = normalise(text)
    han = len(_HAN.findall(lowered))
    latin_words = len(_LATIN_WORD.findall(lowered))
    if han == 0 and latin_words > 0:
        return "en"
    return "zh" if han >= 2 * latin_words else "en"


def tokenize(text: str) -> list[str]:
    """The words of ``text``: jieba words for Chinese runs, lower-cased words for Latin
    runs (full-width forms folded), punctuation and spaces dropped."""
    tokens: list[str] = []
    for match in _PIECES.finditer(normalise(text)):
        piece = match.group()
        if _HAN.match(piece):
            tokens.extend(word for word in SEGMENTER.cut(piece) if word.strip())
        else:
            tokens.append(piece.replace("’", "'"))
    return tokens


def clauses(text: str) -> list[str]:
    """``text`` split at punctuation into clauses (negation scope ends at a clause)."""
    return [part for part in _CLAUSE_END.split(text) if part.strip()]
