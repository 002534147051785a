"""Reps' annotations on demo deals: synthetic context notes with a known, real signal.

About a third of the deals (``SHARE``) get one or two notes from their owner, written while
the deal was open (backdated between its creation and its close, through
``forecast.service.annotations.annotate``, so each is a ``forecast.annotation_added`` event).
On a deal that closed, each note's cue agrees with the eventual outcome ``AGREEMENT`` (75 %)
of the time — 「预算批复」「集采入围」 on a deal later won, 「预算冻结」「竞品」 on one later lost —
and points the wrong way otherwise, as a rep's hunch sometimes does. Some notes also override
the probability (and a few the category) in the note's direction. On a deal still open the
outcome is unknown, so its notes lean either way at random: they carry no signal.

The notes draw from their own ``random.Random``, seeded from the demo's random state and the
deal's id *without advancing it*, so the rest of the demo is the same with or without them.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pathcast.crm import models as m
from pathcast.demo.context import DealResult, Demo
from pathcast.demo.vocabulary import AUTOMATION, MEDICAL, SAAS
from pathcast.forecast.service.annotations import annotate

SHARE = 0.35  # share of deals with notes
AGREEMENT = 0.75  # chance that a note's cue matches the closed deal's outcome
OVERRIDE_SHARE = 0.4  # share of notes that also override the probability
CATEGORY_SHARE = 0.2  # share of notes that also override the category

# polarity -> industry -> notes (each names at least one cue of the annotation lexicon)
NOTES_ZH: dict[str, dict[str, tuple[str, ...]]] = {
    "positive": {
        MEDICAL: (
            "该客户已通过卫健委集采评审，我方产品集采入围",
            "设备科反馈预算批复已下达，预计本季度招标",
            "院方已立项，分管副院长明确表示决策人支持我方方案",
            "试用科室反馈良好，主任愿意推动采购",
            "招标参数基本按我方产品设定，入围把握大",
        ),
        AUTOMATION: (
            "技改项目已立项，预算批复已下达",
            "生产总监是我们的决策人支持者，样机测试反馈良好",
            "客户采购意向明确，已进入供应商短名单并入围",
        ),
        SAAS: (
            "客户 CIO 决策人支持，年度预算已批",
            "试用满意，业务部门愿意推动全员上线",
            "采购流程已立项，合同条款基本谈妥",
        ),
    },
    "negative": {
        MEDICAL: (
            "客户预算冻结，采购推迟到明年",
            "竞品报价低约15%，院方在比价",
            "项目负责人换人，新主任倾向竞品",
            "医院基建延期，设备采购暂停",
            "集采结果未出，院方暂缓采购",
        ),
        AUTOMATION: (
            "工厂产能下调，技改预算削减，项目搁置",
            "竞品给出低价并承诺免费调试",
            "对接人换人，新负责人要求重新比价",
        ),
        SAAS: (
            "客户预算冻结，续约决定推迟",
            "竞品提供免费试用，客户在比价",
            "试用不满意，上线计划暂停",
        ),
    },
}
NOTES_EN: dict[str, tuple[str, ...]] = {
    "positive": (
        "Budget approved by the board; we are shortlisted.",
        "Decision maker supports our proposal; PO issued for the pilot.",
        "Trial went well and the department head is our champion.",
    ),
    "negative": (
        "Budget frozen until next year; purchase postponed.",
        "Competitor offered a lower price; strong price objection.",
        "Our sponsor left; the project is on hold.",
    ),
}


def _rng(demo: Demo, result: DealResult) -> random.Random:
    """A generator for this deal's notes, derived from the demo's seed (through the current
    state of its generator, read without drawing from it) and the deal's id."""
    state = repr(demo.rng.getstate()).encode()
    digest = hashlib.sha256(state + f":annotations:{result.opportunity.id}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _moment(rng: random.Random, first: datetime, last: datetime) -> datetime:
    """A moment in ``[first, last]``, in Beijing office hours when the span allows."""
    if last <= first:
        return first
    moment = first + (last - first) * rng.uniform(0.0, 1.0)
    office = moment.replace(hour=rng.randrange(1, 10), minute=rng.randrange(0, 60), second=0, microsecond=0)
    return office if first <= office <= last else moment


@dataclass(frozen=True)
class PlannedNote:
    """One note to write: its text (naming a cue), its direction and its overrides."""

    note: str
    positive: bool
    override_probability: float | None
    override_category: str | None


def plan_note(rng: random.Random, *, status: str, english: bool, industry: str) -> PlannedNote:
    """A note for a deal whose final status is ``status``: on a closed deal its cue agrees
    with the outcome with probability ``AGREEMENT``; on an open deal it leans either way."""
    if status == m.StageClass.won.value:
        positive = rng.random() < AGREEMENT
    elif status == m.StageClass.lost.value:
        positive = rng.random() >= AGREEMENT
    else:
        positive = rng.random() < 0.5
    polarity = "positive" if positive else "negative"
    pool = NOTES_EN[polarity] if english else NOTES_ZH[polarity].get(industry, NOTES_ZH[polarity][MEDICAL])
    probability = None
    category = None
    if rng.random() < OVERRIDE_SHARE:
        low, high = (0.6, 0.9) if positive else (0.05, 0.3)
        probability = round(rng.uniform(low, high), 2)
    if rng.random() < CATEGORY_SHARE:
        category = rng.choice(("commit", "best_case") if positive else ("omitted", "pipeline"))
    return PlannedNote(rng.choice(pool), positive, probability, category)


def deal_annotations(demo: Demo, result: DealResult) -> None:
    """Write the context notes a rep would have left on this deal while it was open."""
    rng = _rng(demo, result)
    if rng.random() >= SHARE:
        return
    opportunity = result.opportunity
    created = result.stages[0][1]
    closed = result.closed_at
    # While it was open, and early enough to matter: a rep writes the context once they know
    # it (after the first meetings, 10–40 % into the deal's life), sometimes again later.
    end = (closed - timedelta(hours=2)) if closed is not None else demo.horizon
    if end <= created:
        return
    span = end - created
    moments = [_moment(rng, created + span * 0.1, created + span * 0.4)]
    if rng.random() < 0.3:
        moments.append(_moment(rng, created + span * 0.4, created + span * 0.9))
    owner = result.spec.owner
    english = owner.user.locale == "en"
    industry = result.spec.info.industry
    for at in moments:
        planned = plan_note(rng, status=opportunity.status, english=english, industry=industry)
        annotate(
            demo.session,
            actor=owner.actor,
            opportunity_id=opportunity.id,
            note=planned.note,
            override_probability=planned.override_probability,
            override_category=planned.override_category,
            at=at,
        )


__all__ = ["AGREEMENT", "SHARE", "PlannedNote", "deal_annotations", "plan_note"]
