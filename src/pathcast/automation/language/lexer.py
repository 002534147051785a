"""From a sentence to typed tokens (lexemes), the grammar's terminals.

Steps:

1. Normalise (NFKC, lower case) keeping a map back to the offsets of the text as typed.
2. Claim numbers, durations, times, schedules, quotes, e-mails (``numbers.py``).
3. Segment the rest into words: Chinese runs with jieba (vocabulary names loaded as user
   words so "DSA介入耗材对比表" or "实施总监" stay whole), other text by a small regex.
4. Longest match of multi-word names against a character trie of every surface the
   vocabulary and the language's function words know. Inside a name, filler words are
   skipped ("预算已经批复" = "预算批复") and a negation is recorded ("budget not approved").
   A Chinese word jieba glued to its neighbour ("输单后") is split when known words cover
   it completely. Unknown words become ``TEXT``; the grammar decides whether free text
   may stand there (a meeting title) or whether it is an unknown word (an error).
5. Small rewrites: "in a week" → WITHIN, "3 times a week" → count + window, "复盘会" →
   one meeting noun; fillers are dropped and runs of separators collapse into one JOIN.

Lexer tables are built once per vocabulary fingerprint and language and cached.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pathcast.automation.language import catalog as c
from pathcast.automation.language import words as w
from pathcast.automation.language.errors import CompileError
from pathcast.automation.language.numbers import Special, find_specials
from pathcast.automation.language.vocabulary import Vocabulary

TERMINAL = "\x00"
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z0-9]+n['’]t\b|[a-z0-9]+(?:[-_][a-z0-9]+)*|['’]s\b|\S")
_ASCII_ALNUM = re.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class Sense:
    """One meaning of a surface: a terminal kind and its value; ``literal`` is False for a
    condensed variant (fillers removed), which ranks below a literal surface."""

    kind: str
    value: Any
    literal: bool = True


@dataclass
class Lexeme:
    """A token of the sentence with its span in the text as typed."""

    kind: str
    value: Any
    start: int
    end: int
    text: str
    senses: tuple[Sense, ...] = ()
    negated: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def values(self, kind: str) -> list[Any]:
        """Every value this token has as ``kind`` (its primary sense or an alternative)."""
        found = [sense.value for sense in self.senses if sense.kind == kind]
        if self.kind == kind and self.value not in found:
            found.insert(0, self.value)
        return list(dict.fromkeys(found))


@dataclass
class _Word:
    text: str
    start: int
    end: int
    special: Special | None = None


# --- jieba ---------------------------------------------------------------------------------------


class _Segmenter:
    """One jieba tokenizer per process, initialised on first use (it takes ~0.5 s) and
    private to Pathcast so other packages' jieba dictionaries are not disturbed."""

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
        return self._tokenizer

    def add_words(self, words: Iterable[str]) -> None:
        with self._lock:
            tokenizer = self._ready()
            for word in words:
                if word not in self._added:
                    tokenizer.add_word(word)
                    self._added.add(word)

    def cut(self, text: str) -> list[str]:
        with self._lock:
            return list(self._ready().cut(text, HMM=False))


SEGMENTER = _Segmenter()


# --- normalisation ---------------------------------------------------------------------------------


def normalise(text: str) -> tuple[str, list[int]]:
    """NFKC + lower case, and for each output character the index of its source character."""
    out: list[str] = []
    index: list[int] = []
    for position, char in enumerate(text):
        for produced in unicodedata.normalize("NFKC", char).lower():
            # a control character is a space (NUL is also the trie's end-of-name mark)
            out.append(" " if unicodedata.category(produced) == "Cc" and not produced.isspace() else produced)
            index.append(position)
    return "".join(out), index


def _needs_space(before: str, after: str) -> bool:
    return bool(before and after and _ASCII_ALNUM.match(before[-1]) and _ASCII_ALNUM.match(after[0]))


def _plain_words(text: str) -> list[str]:
    return [match.group(0) for match in _WORD.finditer(text)]


def surface_key(surface: str) -> str:
    """The trie key of a surface: normalised, with a space only between two ASCII words."""
    norm, _ = normalise(surface)
    key = ""
    for word in _plain_words(norm):
        key += (" " if _needs_space(key, word) else "") + word
    return key


# --- the lexicon ---------------------------------------------------------------------------------


class Lexicon:
    """The trie and word lists for one vocabulary and one language."""

    def __init__(self, vocabulary: Vocabulary, lang: str) -> None:
        self.lang = lang
        self.trie: dict[str, Any] = {}
        self.surfaces: dict[str, set[str]] = {}
        table = w.ZH if lang == "zh" else w.EN
        self.fillers = {surface_key(s) for s in table["FILLER"][""]} | set(w.ZH_PARTICLES)
        self.negations = {surface_key(s) for s in table["NOT"][""]}
        en_fillers = {surface_key(s) for s in w.EN["FILLER"][""]}
        han_words: set[str] = set()
        entries: list[tuple[str, Any, str]] = [(t.kind, t.value, t.surface) for t in vocabulary.terms()]
        entries += [
            (kind, value, s) for kind, senses in table.items() for value, ss in senses.items() for s in ss
        ]
        for kind, value, surface in entries:
            key = surface_key(surface)
            if not key:
                continue
            self._add(key, Sense(kind, value, True))
            self.surfaces.setdefault(kind, set()).add(surface)
            for variant in _condensed(key, en_fillers):
                self._add(variant, Sense(kind, value, False))
            han_words.update(run for run in _HAN_RUN.findall(key) if len(run) >= 2)
        SEGMENTER.add_words(sorted(han_words))

    def _add(self, key: str, sense: Sense) -> None:
        node = self.trie
        for char in key:
            node = node.setdefault(char, {})
        senses: list[Sense] = node.setdefault(TERMINAL, [])
        if not any(s.kind == sense.kind and s.value == sense.value for s in senses):
            senses.append(sense)
        elif sense.literal:
            senses[:] = [s if (s.kind, s.value) != (sense.kind, sense.value) else sense for s in senses]

    def lookup(self, key: str) -> list[Sense] | None:
        node: dict[str, Any] | None = self.trie
        for char in key:
            node = node.get(char) if node is not None else None
            if node is None:
                return None
        return node.get(TERMINAL) if node is not None else None


def _condensed(key: str, en_fillers: set[str]) -> list[str]:
    """Variants of a surface without its fillers: "the owner's manager" → "owner manager",
    "预算已批复" → "预算批复" (a Chinese particle is dropped unless it starts the name)."""
    variants: list[str] = []
    parts = key.split(" ")
    if len(parts) > 1:
        kept = [part for part in parts if part not in en_fillers] or parts
        joined = " ".join(kept).replace(" 's", "'s")
        pieces = _plain_words(joined)
        condensed = ""
        for piece in pieces:
            if piece in ("'s", "’s"):
                continue
            condensed += (" " if _needs_space(condensed, piece) else "") + piece
        if condensed and condensed != key:
            variants.append(condensed)
    if _HAN_RUN.search(key) and len(key) > 2:
        stripped = key[0] + re.sub("|".join(w.ZH_PARTICLES), "", key[1:])
        if stripped != key and len(stripped) >= 2:
            variants.append(stripped)
    return variants


_LEXICONS: OrderedDict[tuple[str, str], Lexicon] = OrderedDict()
_LEXICON_LOCK = threading.Lock()
_LEXICON_CACHE_SIZE = 16


def lexicon_for(vocabulary: Vocabulary, lang: str) -> Lexicon:
    """The cached lexicon of a vocabulary (by fingerprint) and language."""
    key = (vocabulary.fingerprint, lang)
    with _LEXICON_LOCK:
        found = _LEXICONS.get(key)
        if found is not None:
            _LEXICONS.move_to_end(key)
            return found
    built = Lexicon(vocabulary, lang)
    with _LEXICON_LOCK:
        _LEXICONS[key] = built
        while len(_LEXICONS) > _LEXICON_CACHE_SIZE:
            _LEXICONS.popitem(last=False)
    return built


# --- lexing --------------------------------------------------------------------------------------


def _segment(norm: str, start: int, end: int) -> list[_Word]:
    found: list[_Word] = []
    for match in _WORD.finditer(norm, start, end):
        text = match.group(0)
        if _HAN_RUN.fullmatch(text):
            offset = match.start()
            for piece in SEGMENTER.cut(text):
                found.append(_Word(piece, offset, offset + len(piece)))
                offset += len(piece)
        else:
            found.append(_Word(text, match.start(), match.end()))
    return found


def _cover(text: str, lexicon: Lexicon) -> list[str] | None:
    """Split a Chinese word into known pieces if they cover it completely, else None."""

    def usable(piece: str) -> bool:
        senses = lexicon.lookup(piece)
        return bool(senses) and (len(piece) > 1 or any(s.kind != "FILLER" for s in senses or ()))

    def solve(position: int) -> list[str] | None:
        if position == len(text):
            return []
        for stop in range(len(text), position, -1):
            piece = text[position:stop]
            if usable(piece):
                rest = solve(stop)
                if rest is not None:
                    return [piece, *rest]
        return None

    pieces = solve(0)
    return pieces if pieces and len(pieces) > 1 else None


def _split_glued(words: list[_Word], lexicon: Lexicon) -> list[_Word]:
    result: list[_Word] = []
    words = list(words)
    position = -1
    while position + 1 < len(words):
        position += 1
        word = words[position]
        glued = word.special is None and _HAN_RUN.fullmatch(word.text) and len(word.text) > 1
        pieces = _cover(word.text, lexicon) if glued and not lexicon.lookup(word.text) else None
        after = words[position + 1] if position + 1 < len(words) else None
        if (
            glued
            and pieces is None
            and not lexicon.lookup(word.text)
            and after is not None
            and after.special is None
            and after.start == word.end
            and _HAN_RUN.fullmatch(after.text)
        ):
            # jieba cut across a known word ("新建工单" → 新/建工/单): re-cut the two together
            joined = _cover(word.text + after.text, lexicon)
            if joined:
                word = _Word(word.text + after.text, word.start, after.end)
                pieces = joined
                position += 1
        if pieces:
            offset = word.start
            for piece in pieces:
                result.append(_Word(piece, offset, offset + len(piece)))
                offset += len(piece)
            continue
        result.append(word)
    return result


def _walk(words: list[_Word], first: int, lexicon: Lexicon) -> tuple[int, list[Sense], bool] | None:
    """The longest known name starting at ``words[first]``: (end index, senses, negated)."""
    best: tuple[int, list[Sense], bool] | None = None
    stack: list[tuple[dict[str, Any], int, bool, str]] = [(lexicon.trie, first, False, "")]
    while stack:
        node, index, negated, consumed = stack.pop()
        if index >= len(words) or words[index].special is not None:
            continue
        word = words[index]
        if index > first and consumed:
            # Inside a name, fillers are skipped and a negation is remembered.
            if word.text in lexicon.fillers:
                stack.append((node, index + 1, negated, consumed))
            elif word.text in lexicon.negations:
                stack.append((node, index + 1, True, consumed))
        current: dict[str, Any] | None = node
        if _needs_space(consumed, word.text):
            current = current.get(" ") if current is not None else None
        for char in word.text:
            if current is None:
                break
            current = current.get(char)
        if current is None:
            continue
        senses = current.get(TERMINAL)
        if senses and (
            best is None or index + 1 > best[0] or (index + 1 == best[0] and best[2] and not negated)
        ):
            best = (index + 1, senses, negated)
        stack.append((current, index + 1, negated, consumed + word.text))
    return best


def _primary(senses: list[Sense]) -> Sense:
    return max(senses, key=lambda sense: (sense.literal, w.kind_priority(sense.kind)))


def lex(text: str, lang: str, vocabulary: Vocabulary) -> list[Lexeme]:
    """The sentence as lexemes (fillers dropped), or a CompileError for a unit the IR lacks."""
    lexicon = lexicon_for(vocabulary, lang)
    norm, index = normalise(text)

    def span(start: int, end: int) -> tuple[int, int]:
        return index[start], index[end - 1] + 1

    items: list[_Word] = []
    cursor = 0
    for special in find_specials(norm, lang):
        items += _segment(norm, cursor, special.start)
        items.append(_Word(norm[special.start : special.end], special.start, special.end, special))
        cursor = special.end
    items += _segment(norm, cursor, len(norm))
    items = _split_glued(items, lexicon)

    lexemes: list[Lexeme] = []
    position = 0
    while position < len(items):
        item = items[position]
        if item.special is not None:
            lexemes.append(_special_lexeme(item.special, text, span, lang))
            position += 1
            continue
        found = _walk(items, position, lexicon)
        if found is None:
            start, end = span(item.start, item.end)
            lexemes.append(Lexeme("TEXT", text[start:end], start, end, text[start:end]))
            position += 1
            continue
        stop, senses, negated = found
        primary = _primary(senses)
        start, end = span(item.start, items[stop - 1].end)
        ordered = tuple(sorted(senses, key=lambda s: (s != primary, -w.kind_priority(s.kind))))
        lexemes.append(Lexeme(primary.kind, primary.value, start, end, text[start:end], ordered, negated))
        position = stop
    lexemes = _quantified(_merge_text(lexemes, text), text)
    return _tidy(_rewrite(_capture_mentions(lexemes, text), lang), text)


def _special_lexeme(special: Special, text: str, span: Any, lang: str) -> Lexeme:
    start, end = span(special.start, special.end)
    if special.kind == "UNSUPPORTED_UNIT":
        number = special.value.get("number") or 1
        days = round(float(number) * (365 if special.value["unit"].startswith(("年", "y")) else 30))
        raise CompileError(
            "unsupported_unit",
            span=(start, end),
            expected=["秒/分钟/小时/天/周", "seconds, minutes, hours, days, weeks"],
            suggestions=[f"{days}天" if lang == "zh" else f"{days} days"],
            message_zh=f"“{text[start:end]}”的长短不固定（月、年），规则只接受秒、分钟、小时、天和周，例如“{days}天”。",
            message_en=(
                f'"{text[start:end]}" has no fixed length (months and years vary): rules take seconds, '
                f'minutes, hours, days and weeks, for example "{days} days".'
            ),
        )
    value: Any = dict(special.value)
    if special.kind == "QUOTED":
        inner_start, inner_end = special.value["inner"]
        if inner_end > inner_start:
            raw_start, raw_end = span(inner_start, inner_end)
            value = text[raw_start:raw_end].strip()
        else:
            value = ""
    elif special.kind in ("EMAIL", "URL"):
        value = text[start:end]
    return Lexeme(special.kind, value, start, end, text[start:end], data=dict(special.value))


def _merge_text(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """Adjacent unknown words become one TEXT ("high intent", "交付延迟")."""
    merged: list[Lexeme] = []
    for lexeme in lexemes:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and lexeme.kind == previous.kind == "TEXT"
            and not text[previous.end : lexeme.start].strip()
        ):
            previous.end = lexeme.end
            previous.text = previous.value = text[previous.start : lexeme.end]
            continue
        merged.append(lexeme)
    return merged


def _rep_word(surface: str) -> bool:
    key = re.sub(r"[\s_-]+", "", surface.lower())
    return key in c.REP_WORDS or (key.endswith("s") and key[:-1] in c.REP_WORDS)


def _quantified(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """A quantified group of people is a role, never the record's one person: "所有销售代表",
    "all reps", "every rep" are the access role ``rep``; "所有经理" stays the role manager. A
    quantified relation that is not a group ("所有客户负责人") is refused, not read as one."""
    out: list[Lexeme] = []
    for position, lexeme in enumerate(lexemes):
        quantifier = lexeme.kind in ("FILLER", "EACH", "TEXT") and lexeme.text.lower() in w.QUANTIFIERS
        following = next((x for x in lexemes[position + 1 :] if x.kind != "FILLER"), None)
        if not quantifier or following is None or following.kind not in ("RELATION", "ROLE"):
            out.append(lexeme)
            continue
        if following.kind == "ROLE":
            continue  # "所有经理", "every implementation director": the role itself
        if _rep_word(following.text):
            following.kind, following.value = "ROLE", "rep"
            following.senses = (Sense("ROLE", "rep"),)
            following.start = lexeme.start
            following.text = text[following.start : following.end]
            continue
        phrase = text[lexeme.start : following.end]
        raise CompileError(
            "ambiguous",
            span=(lexeme.start, following.end),
            expected=[
                "角色或岗位，如“所有经理”“所有销售代表”",
                'a role or position, such as "all managers" or "all reps"',
            ],
            suggestions=["所有销售代表", "所有经理", following.text]
            if _HAN_RUN.search(phrase)
            else ["all sales reps", "all managers", following.text],
            message_zh=(
                f"“{phrase}”指谁不明确：规则针对一条记录，它只有一位“{following.text}”。"
                "要通知一组人，请写角色或岗位，如“所有销售代表”“所有经理”；要通知这条记录的人，去掉“所有”。"
            ),
            message_en=(
                f'"{phrase}" is unclear: a rule acts on one record, which has only one such person. '
                'For a group, name a role or position ("all sales reps", "all managers"); for the '
                f'record\'s person, drop "{lexeme.text}".'
            ),
        )
    return out


_MENTION_STOP = frozenset(
    {"JOIN", "POST", "WHEN", "WITH", "SENTIMENT", "POLARITY", "SEVERITY", "OR", "NOTIFY"}
)


def _capture_mentions(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """What a customer mentions is free text up to the next separator ("提到交付延迟",
    "mentions late deliveries"), whatever words it contains; a quoted keyword stays quoted."""
    out: list[Lexeme] = []
    position = 0
    while position < len(lexemes):
        lexeme = lexemes[position]
        out.append(lexeme)
        position += 1
        if lexeme.kind != "MENTION":
            continue
        stop = position
        while stop < len(lexemes) and lexemes[stop].kind not in _MENTION_STOP:
            stop += 1
        taken = [x for x in lexemes[position:stop] if x.kind != "FILLER"]
        if taken and not (len(taken) == 1 and taken[0].kind == "QUOTED"):
            start, end = taken[0].start, taken[-1].end
            out.append(Lexeme("TEXT", text[start:end], start, end, text[start:end]))
            position = stop
    return out


def _rewrite(lexemes: list[Lexeme], lang: str) -> list[Lexeme]:
    out: list[Lexeme] = []
    has_view = any(lexeme.kind == "VIEW" for lexeme in lexemes)
    has_time = any(lexeme.kind == "TIME" for lexeme in lexemes)
    for position, lexeme in enumerate(lexemes):
        following = next((x for x in lexemes[position + 1 :] if x.kind != "FILLER"), None)
        previous = next((x for x in reversed(out) if x.kind != "FILLER"), None)
        # "in a week", "per week", "every 7 days" → a window
        if (
            lexeme.text.lower() in ("in", "per", "every")
            and following is not None
            and following.kind == "DURATION"
        ):
            out.append(Lexeme("WITHIN", None, lexeme.start, lexeme.end, lexeme.text))
            continue
        # "3 times a week": a duration right after a count is its window
        if (
            lexeme.kind == "DURATION"
            and previous is not None
            and previous.kind == "COUNT"
            and out[-1].kind not in ("WITHIN", "CMP")
        ):
            out.append(Lexeme("WITHIN", None, lexeme.start, lexeme.start, ""))
        # "每周查看3次" / "views it daily": a bare period in a behaviour rule is a window
        if (
            lexeme.kind == "SCHED"
            and has_view
            and not has_time
            and (lexeme.value.get("period") == "daily" or lexeme.value.get("defaulted"))
        ):
            seconds = 86400 if lexeme.value.get("period") == "daily" else 604800
            out.append(Lexeme("WITHIN", None, lexeme.start, lexeme.start, ""))
            out.append(Lexeme("DURATION", {"seconds": seconds}, lexeme.start, lexeme.end, lexeme.text))
            continue
        # "复盘会": an unknown word glued to 会 is a meeting's name
        if (
            lang == "zh"
            and lexeme.text == "会"
            and out
            and out[-1].kind == "TEXT"
            and out[-1].end == lexeme.start
        ):
            title = out.pop()
            out.append(Lexeme("MEETING_NOUN", None, title.start, lexeme.end, title.text + lexeme.text))
            continue
        out.append(lexeme)
    return out


def _tidy(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """Drop fillers; collapse runs of separators into one JOIN."""
    out: list[Lexeme] = []
    for lexeme in lexemes:
        if lexeme.kind == "FILLER":
            continue
        if lexeme.kind == "JOIN" and out and out[-1].kind == "JOIN":
            out[-1].end = lexeme.end
            out[-1].text = text[out[-1].start : lexeme.end]
            continue
        out.append(lexeme)
    return out
