"""Annotation features: the tokeniser and cue lexicon, the columns at a cutoff, and that
nothing written or withdrawn after the cutoff changes them (with a leaky variant that the
same check catches)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.events import Clock
from pathcast.forecast.annotation_features import (
    ANNOTATION_COLUMNS,
    annotation_columns,
    cue_counts,
    text_score,
    tokenize,
)
from pathcast.forecast.models import Annotation
from pathcast.forecast.service.annotations import annotate, withdraw
from tests import factories as f

Features = Callable[[Session, Sequence[int], datetime], npt.NDArray[np.float64]]


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def column(values: npt.NDArray[np.float64], row: int, name: str) -> float:
    return float(values[row, ANNOTATION_COLUMNS.index(name)])


# --- tokens and cues -------------------------------------------------------------------------


def test_tokens_keep_cue_words_whole_and_drop_stop_words_and_punctuation() -> None:
    tokens = tokenize("该客户已通过卫健委集采评审，我方产品集采入围！")
    assert "集采入围" in tokens and "卫健委" in tokens
    assert not {"，", "！", "我方", "该"} & set(tokens)
    assert tokenize("Budget was APPROVED; we are shortlisted.") == ["budget", "approved", "shortlisted"]


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("院方已立项，决策人支持我方方案", 1.0),
        ("客户预算冻结，采购推迟到明年", -1.0),
        ("预算尚未批复", -1.0),  # a negated cue counts the other way
        ("Budget not approved; competitor is pushing", -1.0),
        ("预算批复已下达，但竞品在比价", -1 / 3),
        ("约了下周二拜访王主任", 0.0),
    ],
)
def test_text_score_is_the_polarity_of_the_cues(note: str, expected: float) -> None:
    assert text_score(tokenize(note)) == pytest.approx(expected)


def test_the_longest_cue_wins() -> None:
    assert cue_counts(["budget", "approved"]) == (1, 0)  # one cue, not "approved" again


# --- columns ---------------------------------------------------------------------------------


def world(session: Session) -> dict[str, int]:
    """Three deals of one rep: one with notes, one with a withdrawn note, one without."""
    rep = f.actor(f.user(session, "rep@example.com", team_obj=f.team(session), password=None))
    noted = f.opportunity(session, rep, name="noted")
    withdrawn = f.opportunity(session, rep, name="withdrawn")
    silent = f.opportunity(session, rep, name="silent")
    annotate(session, actor=rep, opportunity_id=noted.id, note="院方已立项", at=at("2025-01-01"))
    annotate(
        session,
        actor=rep,
        opportunity_id=noted.id,
        note="竞品低价，院方在比价",
        override_probability=0.2,
        override_category="pipeline",
        at=at("2025-01-11"),
    )
    gone = annotate(
        session,
        actor=rep,
        opportunity_id=withdrawn.id,
        note="预算批复",
        override_probability=0.9,
        at=at("2025-01-05"),
    )
    withdraw(session, actor=rep, annotation_id=gone.id, at=at("2025-01-08"))
    session.flush()
    return {"rep": rep.user_id or 0, "noted": noted.id, "withdrawn": withdrawn.id, "silent": silent.id}


def test_columns_count_live_notes_their_age_the_override_and_the_cues(session: Session) -> None:
    ids = world(session)
    order = [ids["noted"], ids["withdrawn"], ids["silent"]]
    values = annotation_columns(session, order, at("2025-01-21"))
    assert values.shape == (3, len(ANNOTATION_COLUMNS))
    assert column(values, 0, "annotation_count") == 2
    assert column(values, 0, "days_since_annotation") == pytest.approx(10.0)
    assert column(values, 0, "override_probability") == pytest.approx(0.2)
    assert column(values, 0, "override_category_rank") == 1  # pipeline
    # 已立项 (+1) against 竞品, 低价 and 比价 (−3)
    assert column(values, 0, "annotation_text_score") == pytest.approx(-0.5)
    # the withdrawn note no longer counts; the silent deal has nothing to say
    for row in (1, 2):
        assert column(values, row, "annotation_count") == 0
        assert all(math.isnan(column(values, row, name)) for name in ANNOTATION_COLUMNS[1:])
    # before the withdrawal, the withdrawn note was live with its override
    earlier = annotation_columns(session, order, at("2025-01-06"))
    assert column(earlier, 1, "annotation_count") == 1 and column(earlier, 1, "override_probability") == 0.9
    assert column(earlier, 0, "annotation_count") == 1 and math.isnan(
        column(earlier, 0, "override_probability")
    )
    assert annotation_columns(session, [], at("2025-01-06")).shape == (0, len(ANNOTATION_COLUMNS))


def test_the_recorded_clock_ignores_backdated_notes_typed_in_later(session: Session) -> None:
    ids = world(session)
    occurred = annotation_columns(session, [ids["noted"]], at("2025-01-21"), clock="occurred")
    recorded = annotation_columns(session, [ids["noted"]], at("2025-01-21"), clock="recorded")
    assert column(occurred, 0, "annotation_count") == 2
    assert column(recorded, 0, "annotation_count") == 0  # written today, dated January


# --- leakage ---------------------------------------------------------------------------------


def leaky_columns(
    session: Session, opportunity_ids: Sequence[int], at: datetime, *, clock: Clock = "occurred"
) -> npt.NDArray[np.float64]:
    """A deliberately wrong variant: reads today's annotation rows, ignoring the cutoff."""
    values = annotation_columns(session, opportunity_ids, at, clock=clock)
    for row, deal_id in enumerate(opportunity_ids):
        count = len(list(session.scalars(select(Annotation.id).where(Annotation.opportunity_id == deal_id))))
        values[row, ANNOTATION_COLUMNS.index("annotation_count")] = count
    return values


def after_the_cutoff(session: Session, ids: dict[str, int]) -> None:
    """Facts dated after 2025-01-21: new notes with overrides, and a withdrawal."""
    rep = f.actor(f.user(session, "late@example.com", role=f.Role.admin, password=None))
    annotate(
        session,
        actor=rep,
        opportunity_id=ids["silent"],
        note="Budget approved, shortlisted",
        override_probability=0.95,
        override_category="commit",
        at=at("2025-02-01"),
    )
    live = session.scalars(
        select(Annotation).where(Annotation.opportunity_id == ids["noted"]).order_by(Annotation.id)
    ).first()
    assert live is not None
    withdraw(session, actor=rep, annotation_id=live.id, at=at("2025-02-02"))
    annotate(session, actor=rep, opportunity_id=ids["noted"], note="预算冻结，项目暂停", at=at("2025-02-03"))
    session.flush()


def leaks(session: Session, features: Features) -> bool:
    ids = world(session)
    order = [ids["noted"], ids["withdrawn"], ids["silent"]]
    cutoff = at("2025-01-21")
    before = features(session, order, cutoff)
    after_the_cutoff(session, ids)
    again = features(session, order, cutoff)
    return not np.array_equal(before, again, equal_nan=True)


def test_nothing_written_or_withdrawn_after_the_cutoff_changes_the_row(session: Session) -> None:
    assert not leaks(session, annotation_columns)


def test_the_leakage_check_catches_a_leaky_feature(session: Session) -> None:
    assert leaks(session, leaky_columns)
