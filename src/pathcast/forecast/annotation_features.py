"""Point-in-time features from reps' annotations, and the note tokeniser they share.

An annotation counts at a cutoff ``at`` only when its ``forecast.annotation_added`` event is
known then on the chosen clock (:func:`pathcast.forecast.snapshot.known_by`), and stops
counting once its ``forecast.annotation_withdrawn`` event is. The note's tokens are read
from the annotation row: they are fixed when the note is written and never change, so
reading them today tells nothing that was not known at the note's time.

Columns (``ANNOTATION_COLUMNS``):

* ``annotation_count``: live annotations known at ``at`` (0 when none);
* ``days_since_annotation``: days from the newest live annotation to ``at``;
* ``override_probability``: the newest live override of the probability (the rep's own
  number: a label hint the model may learn to trust, or not);
* ``override_category_rank``: the newest live category override, omitted 0, pipeline 1,
  best case 2, commit 3;
* ``annotation_text_score``: the polarity of the live notes' cues, in [-1, 1]:
  ``(positive − negative) / (positive + negative)`` over every cue found, 0 when the notes
  name none. A cue right after a negation (「未」, "not") counts the other way.

Every column but the count is NaN when the deal has nothing to say.

The cue lexicon
---------------
A small hand-written zh/en list of phrases that, in medical-equipment and B2B selling,
usually move a deal one way: a hospital shortlisted in a provincial bulk purchase
(「集采入围」), a budget approved (「预算批复」), a project formally filed (「已立项」), the
decision maker on our side (「决策人支持」) — or a budget frozen (「预算冻结」), a competitor
undercutting (「竞品」), a purchase postponed or paused (「延期」「暂停」), the sponsor
replaced (「换人」). It is deliberately small and readable: a person can see why a note
scored as it did, and the model (not the lexicon) decides how much the score is worth,
learning it from outcomes. Chinese cues are registered with jieba so they stay whole
tokens; English cues are matched as consecutive words after stop-words are dropped
("budget was approved" → "budget approved").
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.events import Clock, Event
from pathcast.forecast.models import Annotation
from pathcast.forecast.snapshot import known_by

ADDED = "forecast.annotation_added"
WITHDRAWN = "forecast.annotation_withdrawn"
DAY = 86400.0

ANNOTATION_COLUMNS: tuple[str, ...] = (
    "annotation_count",
    "days_since_annotation",
    "override_probability",
    "override_category_rank",
    "annotation_text_score",
)

# Open forecast categories from least to most confident (``closed`` is not a rep's call).
CATEGORY_RANK: dict[str, int] = {"omitted": 0, "pipeline": 1, "best_case": 2, "commit": 3}

POSITIVE_CUES: tuple[str, ...] = (
    # zh
    "集采入围",
    "入围",
    "中标",
    "预算批复",
    "批复",
    "预算已批",
    "预算到位",
    "已立项",
    "立项",
    "决策人支持",
    "院长支持",
    "主任支持",
    "采购意向",
    "反馈良好",
    "试用满意",
    "愿意推动",
    "参数倾向",
    "招标在即",
    "签字",
    # en
    "budget approved",
    "approved",
    "shortlisted",
    "project approved",
    "decision maker supports",
    "champion",
    "verbal commitment",
    "po issued",
    "trial went well",
)
NEGATIVE_CUES: tuple[str, ...] = (
    # zh
    "预算冻结",
    "预算削减",
    "预算不足",
    "竞品",
    "低价",
    "比价",
    "延期",
    "推迟",
    "暂停",
    "暂缓",
    "搁置",
    "换人",
    "流标",
    "废标",
    "不满意",
    # en
    "budget frozen",
    "budget cut",
    "competitor",
    "postponed",
    "delayed",
    "on hold",
    "paused",
    "price objection",
    "sponsor left",
    "cancelled",
)
# Domain words jieba should keep whole, so notes tokenise into words a person recognises.
DOMAIN_WORDS: tuple[str, ...] = ("卫健委", "集采", "集采评审", "设备科", "副院长", "招标", "采购办", "信息科")
NEGATORS = frozenset({"不", "未", "没", "没有", "尚未", "并未", "无", "not", "no", "never", "without"})
STOP_WORDS = frozenset(
    {
        # zh function words
        "的",
        "了",
        "在",
        "是",
        "和",
        "与",
        "及",
        "也",
        "都",
        "就",
        "还",
        "又",
        "这",
        "那",
        "我们",
        "我方",
        "他们",
        "对",
        "把",
        "被",
        "给",
        "等",
        "正",
        "将",
        "该",
        "其",
        "之",
        "而",
        "或",
        "已经",
        # en
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "has",
        "have",
        "had",
        "to",
        "of",
        "in",
        "on",
        "for",
        "and",
        "or",
        "with",
        "at",
        "by",
        "this",
        "that",
        "it",
        "its",
        "we",
        "our",
        "they",
        "their",
        "will",
        "from",
        "as",
        "so",
    }
)
# Keep only tokens holding a letter, a digit or a Han character: punctuation goes.
_WORDLIKE = re.compile(r"[0-9a-z\u3400-\u9fff]", re.IGNORECASE)


class _Segmenter:
    """A private jieba tokenizer with the cue words registered, built on first use (jieba
    loads its dictionary in about half a second) and shared by every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokenizer: Any = None

    def cut(self, text: str) -> list[str]:
        with self._lock:
            if self._tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                for word in DOMAIN_WORDS:
                    tokenizer.add_word(word)
                for cue in POSITIVE_CUES + NEGATIVE_CUES:
                    if not cue.isascii():
                        tokenizer.add_word(cue, freq=100000)
                self._tokenizer = tokenizer
            return list(self._tokenizer.cut(text, HMM=True))


SEGMENTER = _Segmenter()


def tokenize(text: str) -> list[str]:
    """The note's tokens: jieba words for Chinese, words for English, lower-cased, with
    stop-words, spaces and punctuation dropped. Negations are kept (they flip a cue)."""
    tokens = []
    for piece in SEGMENTER.cut(text):
        token = piece.strip().lower()
        if token and token not in STOP_WORDS and _WORDLIKE.search(token):
            tokens.append(token)
    return tokens


def _cue_table() -> dict[tuple[str, ...], int]:
    table: dict[tuple[str, ...], int] = {}
    for polarity, cues in ((1, POSITIVE_CUES), (-1, NEGATIVE_CUES)):
        for cue in cues:
            table[tuple(cue.lower().split()) if cue.isascii() else (cue,)] = polarity
    return table


CUES = _cue_table()
LONGEST_CUE = max(len(key) for key in CUES)


def cue_counts(tokens: Sequence[str]) -> tuple[int, int]:
    """``(positive, negative)`` cues among ``tokens``; a cue after a negation counts the
    other way, and the longest cue at a position wins ("budget approved", not "budget")."""
    positive = negative = 0
    index = 0
    while index < len(tokens):
        for size in range(min(LONGEST_CUE, len(tokens) - index), 0, -1):
            polarity = CUES.get(tuple(tokens[index : index + size]))
            if polarity is None:
                continue
            if index > 0 and tokens[index - 1] in NEGATORS:
                polarity = -polarity
            if polarity > 0:
                positive += 1
            else:
                negative += 1
            index += size - 1
            break
        index += 1
    return positive, negative


def text_score(tokens: Sequence[str]) -> float:
    """The polarity of a note's tokens in [-1, 1]; 0 when it names no cue."""
    positive, negative = cue_counts(tokens)
    return 0.0 if positive + negative == 0 else (positive - negative) / (positive + negative)


@dataclass
class _Live:
    """An annotation as known at the cutoff."""

    annotation_id: int
    occurred_at: datetime
    override_probability: float | None
    override_category: str | None


def live_annotations(session: Session, at: datetime, *, clock: Clock = "occurred") -> dict[int, list[_Live]]:
    """Deal id → its annotations added and not withdrawn as known at ``at`` on ``clock``,
    oldest first, read from the event log alone."""
    stamp = Event.occurred_at if clock == "occurred" else Event.recorded_at
    rows = session.execute(
        select(Event.type, Event.entity_id, Event.occurred_at, Event.payload)
        .where(Event.type.in_((ADDED, WITHDRAWN)), Event.entity == "opportunity", known_by(at, clock))
        .order_by(stamp, Event.id)
    )
    by_deal: dict[int, dict[int, _Live]] = {}
    for kind, entity_id, occurred_at, payload in rows:
        payload = payload or {}
        annotation_id = payload.get("annotation_id")
        if annotation_id is None:
            continue
        notes = by_deal.setdefault(int(entity_id), {})
        if kind == WITHDRAWN:
            notes.pop(int(annotation_id), None)
            continue
        probability = payload.get("override_probability")
        notes[int(annotation_id)] = _Live(
            annotation_id=int(annotation_id),
            occurred_at=occurred_at,
            override_probability=None if probability is None else float(probability),
            override_category=payload.get("override_category"),
        )
    return {deal_id: list(notes.values()) for deal_id, notes in by_deal.items() if notes}


def annotation_columns(
    session: Session, opportunity_ids: Sequence[int], at: datetime, *, clock: Clock = "occurred"
) -> npt.NDArray[np.float64]:
    """One row per deal (in ``opportunity_ids`` order), one column per ``ANNOTATION_COLUMNS``,
    counting only annotations known at ``at`` on ``clock``; NaN where a deal has none
    (``annotation_count`` is then 0)."""
    if at.tzinfo is None:
        raise ValueError("the cutoff must be timezone-aware")
    values = np.full((len(opportunity_ids), len(ANNOTATION_COLUMNS)), np.nan)
    if not len(opportunity_ids):
        return values
    values[:, 0] = 0.0
    live = live_annotations(session, at, clock=clock)
    wanted = {int(deal_id) for deal_id in opportunity_ids} & set(live)
    ids = [note.annotation_id for deal_id in wanted for note in live[deal_id]]
    tokens: dict[int, list[str]] = {}
    if ids:
        for annotation_id, found in session.execute(
            select(Annotation.id, Annotation.tokens).where(Annotation.id.in_(ids))
        ):
            tokens[int(annotation_id)] = list(found or [])
    for row, deal_id in enumerate(opportunity_ids):
        notes = live.get(int(deal_id))
        if not notes:
            continue
        newest = max(notes, key=lambda note: (note.occurred_at, note.annotation_id))
        values[row, 0] = float(len(notes))
        values[row, 1] = max(0.0, (at - newest.occurred_at).total_seconds() / DAY)
        overrides = [
            note
            for note in notes
            if note.override_probability is not None or note.override_category is not None
        ]
        if overrides:
            override = max(overrides, key=lambda note: (note.occurred_at, note.annotation_id))
            if override.override_probability is not None:
                values[row, 2] = override.override_probability
            rank = CATEGORY_RANK.get(override.override_category or "")
            if rank is not None:
                values[row, 3] = float(rank)
        positive = negative = 0
        for note in notes:
            found_positive, found_negative = cue_counts(tokens.get(note.annotation_id, []))
            positive, negative = positive + found_positive, negative + found_negative
        values[row, 4] = 0.0 if positive + negative == 0 else (positive - negative) / (positive + negative)
    return values


__all__ = [
    "ANNOTATION_COLUMNS",
    "CATEGORY_RANK",
    "NEGATIVE_CUES",
    "POSITIVE_CUES",
    "annotation_columns",
    "cue_counts",
    "live_annotations",
    "text_score",
    "tokenize",
]
