"""Compile errors for people: where in the sentence, what could stand there, what was meant.

A ``CompileError`` carries a stable ``code``, the ``span`` (character offsets in the text
as typed), ``expected`` (human words for what may come there), ranked ``suggestions``
("did you mean") and a message in Chinese and in English. ``as_problem_errors`` shapes it
for the ``errors`` member of an RFC 9457 problem (the API answers 422 with it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rapidfuzz import fuzz, process, utils

# Codes a caller may rely on.
CODES = frozenset(
    {
        "empty",
        "unknown_word",
        "unexpected_word",
        "ambiguous",
        "missing_recipient",
        "unresolved_pronoun",
        "unsupported_unit",
        "unsupported",
        "incomplete",
        "missing_trigger",
        "too_many_triggers",
        "unknown_event",
        "invalid_value",
    }
)


class CompileError(Exception):
    """A sentence that does not compile, and why, in both languages."""

    def __init__(
        self,
        code: str,
        *,
        span: tuple[int, int],
        message_zh: str,
        message_en: str,
        expected: Iterable[str] = (),
        suggestions: Iterable[str] = (),
    ) -> None:
        assert code in CODES, code
        self.code = code
        self.span = (int(span[0]), int(span[1]))
        self.message_zh = message_zh
        self.message_en = message_en
        self.expected = list(dict.fromkeys(expected))
        self.suggestions = list(dict.fromkeys(suggestions))
        super().__init__(f"{code} at {self.span[0]}-{self.span[1]}: {message_en}")

    def message(self, lang: str) -> str:
        return self.message_zh if lang.startswith("zh") else self.message_en

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "span": list(self.span),
            "expected": self.expected,
            "suggestions": self.suggestions,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }

    def as_problem_errors(self, locale: str = "zh-CN") -> list[dict[str, Any]]:
        """The ``errors`` entries of a problem-details answer, in the caller's language."""
        return [
            {
                "field": "text",
                "code": self.code,
                "detail": self.message(locale),
                "span": list(self.span),
                "expected": self.expected,
                "suggestions": self.suggestions,
                "message_zh": self.message_zh,
                "message_en": self.message_en,
            }
        ]


def rank_suggestions(
    query: str,
    candidates: Iterable[str],
    *,
    preferred: Iterable[str] = (),
    limit: int = 5,
    cutoff: float = 60.0,
) -> list[str]:
    """Candidates closest to ``query`` (rapidfuzz), best first; ``preferred`` ones (the
    kinds the grammar expected at that point) get a bonus so they rank first on a tie."""
    query = query.strip()
    if not query:
        return []
    bonus = set(preferred)
    pool = list(dict.fromkeys(candidate for candidate in candidates if candidate.strip()))
    scored: list[tuple[float, str]] = []
    for candidate, score, _index in process.extract(
        query, pool, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit * 6
    ):
        # WRatio favours substrings; temper it with the plain ratio so "deel" → "deal"
        # beats long names that merely contain the letters.
        plain = fuzz.ratio(utils.default_process(query), utils.default_process(candidate))
        value = 0.5 * score + 0.5 * plain + (8 if candidate in bonus else 0)
        if value >= cutoff:
            scored.append((value, candidate))
    scored.sort(key=lambda item: (-item[0], len(item[1])))
    return [candidate for _score, candidate in scored[:limit]]
