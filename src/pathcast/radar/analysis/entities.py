"""Entity linking: which accounts, contacts, products and competitors a text names.

The catalogue is plain data (:class:`EntityCatalogue`); a later service builds it from
``crm`` (accounts, contacts, products) and the competitor matrix, so this module never
touches a database. Matching, on NFKC + lower-cased text with spans mapped back to the
original characters:

1. **exact** name (score 100) and **alias** (score 95) occurrences; a Latin name must
   stand as a whole word ("ABB" does not match inside "ABBOTT");
2. **fuzzy**: for names and aliases of at least :data:`FUZZY_MIN_LENGTH` characters,
   the best-aligned window of the text (rapidfuzz ``partial_ratio_alignment``) when it
   scores at least ``min_score`` (default 85) — typos, "有限公司" left off, a missing
   space;
3. overlapping candidates: the higher score wins, then the longer match.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rapidfuzz import fuzz

EntityKind = Literal["account", "contact", "product", "competitor"]
MatchMethod = Literal["exact", "alias", "fuzzy"]

EXACT_SCORE = 100.0
ALIAS_SCORE = 95.0
DEFAULT_MIN_SCORE = 85.0
FUZZY_MIN_LENGTH = 4
# Chinese names carry more per character: three characters ("西门子") are enough to fuzz.
FUZZY_MIN_LENGTH_HAN = 3

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD_CHAR = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class Entity:
    """One thing a text may name. ``industry`` and ``tier`` (accounts) let the analysis
    weigh a text by the account it names when the caller does not say."""

    id: int | str
    kind: EntityKind
    name: str
    aliases: tuple[str, ...] = ()
    industry: str | None = None
    tier: str | None = None


@dataclass
class EntityCatalogue:
    """The accounts, contacts, products and competitors to link against."""

    accounts: list[Entity] = field(default_factory=list)
    contacts: list[Entity] = field(default_factory=list)
    products: list[Entity] = field(default_factory=list)
    competitors: list[Entity] = field(default_factory=list)

    def add(
        self,
        kind: EntityKind,
        id: int | str,
        name: str,
        aliases: Sequence[str] = (),
        *,
        industry: str | None = None,
        tier: str | None = None,
    ) -> Entity:
        """Add an entity to the list of its kind and return it."""
        entity = Entity(id=id, kind=kind, name=name, aliases=tuple(aliases), industry=industry, tier=tier)
        {
            "account": self.accounts,
            "contact": self.contacts,
            "product": self.products,
            "competitor": self.competitors,
        }[kind].append(entity)
        return entity

    def entities(self) -> Iterator[Entity]:
        """Every entity, accounts first."""
        yield from self.accounts
        yield from self.contacts
        yield from self.products
        yield from self.competitors

    def words(self) -> set[str]:
        """Every name and alias (for jieba registration, so names stay whole tokens)."""
        return {form for entity in self.entities() for form in (entity.name, *entity.aliases) if form}


@dataclass(frozen=True)
class EntityMention:
    """Where a text names an entity: ``text[start:end]`` is what it wrote."""

    entity_id: int | str
    kind: EntityKind
    name: str
    matched: str
    start: int
    end: int
    score: float
    method: MatchMethod

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "entity_id": self.entity_id,
            "kind": self.kind,
            "name": self.name,
            "matched": self.matched,
            "span": [self.start, self.end],
            "score": round(self.score, 1),
            "method": self.method,
        }


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC + lower case, and for each output character the index of its source character
    (so a span found in the normalised text maps back onto the original)."""
    out: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        for produced in unicodedata.normalize("NFKC", char).lower():
            out.append(produced)
            index.append(position)
    return "".join(out), index


def _form(value: str) -> str:
    return unicodedata.normalize("NFKC", value).lower().strip()


def _whole_word(text: str, start: int, end: int, form: str) -> bool:
    """A Latin name must not start or end inside a word; a Chinese name may sit anywhere."""
    if _WORD_CHAR.match(form[0]) and start > 0 and _WORD_CHAR.match(text[start - 1]):
        return False
    return not (_WORD_CHAR.match(form[-1]) and end < len(text) and _WORD_CHAR.match(text[end]))


def _widen_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and _WORD_CHAR.match(text[start - 1]) and _WORD_CHAR.match(text[start]):
        start -= 1
    while end < len(text) and end > 0 and _WORD_CHAR.match(text[end]) and _WORD_CHAR.match(text[end - 1]):
        end += 1
    return start, end


@dataclass(frozen=True)
class _Candidate:
    entity: Entity
    start: int
    end: int
    score: float
    method: MatchMethod


def _exact(text: str, entity: Entity) -> list[_Candidate]:
    found: list[_Candidate] = []
    forms = [(entity.name, EXACT_SCORE, "exact")] + [
        (alias, ALIAS_SCORE, "alias") for alias in entity.aliases
    ]
    for raw, value, method in forms:
        form = _form(raw)
        if not form:
            continue
        start = text.find(form)
        while start != -1:
            end = start + len(form)
            if _whole_word(text, start, end, form):
                found.append(_Candidate(entity, start, end, value, method))  # type: ignore[arg-type]
            start = text.find(form, start + 1)
    return found


def _fuzzy(text: str, entity: Entity, min_score: float) -> list[_Candidate]:
    found: list[_Candidate] = []
    for raw in (entity.name, *entity.aliases):
        form = _form(raw)
        least = FUZZY_MIN_LENGTH_HAN if _HAN.search(form) else FUZZY_MIN_LENGTH
        if len(form) < least or len(text) < least:
            continue
        alignment = fuzz.partial_ratio_alignment(form, text, score_cutoff=min_score)
        if alignment is None:
            continue
        start, end = alignment.dest_start, alignment.dest_end
        if not _HAN.search(form):
            # a Latin name is judged on whole words, not on a window cut mid-word
            start, end = _widen_to_words(text, start, end)
        # the alignment may start or end on a space or punctuation: trim to the name
        while start < end and not text[start].isalnum():
            start += 1
        while end > start and not text[end - 1].isalnum():
            end -= 1
        window = text[start:end]
        if not window:
            continue
        value = float(fuzz.ratio(form, window))
        if value >= min_score:
            # a fuzzy match never outranks an exact one
            found.append(_Candidate(entity, start, end, min(value, ALIAS_SCORE - 1), "fuzzy"))
    return found


def link(
    text: str, catalogue: EntityCatalogue, *, min_score: float = DEFAULT_MIN_SCORE, fuzzy: bool = True
) -> list[EntityMention]:
    """The entities ``text`` names, in text order, at most one per stretch of text."""
    if not text:
        return []
    normalised, origin = _normalise(text)
    candidates: list[_Candidate] = []
    for entity in catalogue.entities():
        exact = _exact(normalised, entity)
        candidates.extend(exact)
        if fuzzy and not exact:
            candidates.extend(_fuzzy(normalised, entity, min_score))
    kept: list[_Candidate] = []
    taken: list[tuple[int, int]] = []
    for candidate in sorted(candidates, key=lambda c: (-c.score, -(c.end - c.start), c.start)):
        if any(candidate.start < end and start < candidate.end for start, end in taken):
            continue
        kept.append(candidate)
        taken.append((candidate.start, candidate.end))
    mentions: list[EntityMention] = []
    for candidate in sorted(kept, key=lambda c: c.start):
        start = origin[candidate.start]
        end = origin[candidate.end - 1] + 1
        mentions.append(
            EntityMention(
                entity_id=candidate.entity.id,
                kind=candidate.entity.kind,
                name=candidate.entity.name,
                matched=text[start:end],
                start=start,
                end=end,
                score=candidate.score,
                method=candidate.method,
            )
        )
    return mentions
