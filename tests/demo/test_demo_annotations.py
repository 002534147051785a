"""The demo's annotations: written by the deals' owners while the deals were open, on about a
third of them, with cues that agree with the eventual outcome most (not all) of the time —
and without disturbing the rest of the demo's random stream."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.db import unit_of_work
from pathcast.demo import loader
from pathcast.demo.annotations import AGREEMENT, plan_note
from pathcast.demo.loader import load_demo
from pathcast.demo.vocabulary import INDUSTRIES
from pathcast.events import Event
from pathcast.forecast.annotation_features import text_score, tokenize
from pathcast.forecast.models import Annotation
from tests.demo.conftest import loaded_demo, rolled_back_session
from tests.demo.test_demo import _fresh_database, dump

TODAY = date(2025, 6, 30)
# The CRM tables whose rows the annotations must leave exactly as they would be without them.
CRM_TABLES = ("accounts", "contacts", "opportunities", "activities", "quotes", "contracts", "tickets")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One 8-account demo per engine, shared by the read-only tests of this module."""
    with loaded_demo(request, tmp_path_factory, "demo_notes") as demo:
        yield demo.url


@pytest.fixture
def demo_session(demo_url: str) -> Iterator[Session]:
    with rolled_back_session(demo_url) as session:
        yield session


def test_about_a_third_of_deals_carry_notes_by_their_owner_while_open(demo_session: Session) -> None:
    deals = {deal.id: deal for deal in demo_session.scalars(select(m.Opportunity))}
    notes = list(demo_session.scalars(select(Annotation)))
    annotated = {note.opportunity_id for note in notes}
    assert 0.2 <= len(annotated) / len(deals) <= 0.5, (len(annotated), len(deals))
    assert any(note.override_probability is not None for note in notes)
    assert any(note.override_category is not None for note in notes)
    assert any(not note.note.isascii() for note in notes)
    for note in notes:
        deal = deals[note.opportunity_id]
        assert note.author_id == deal.owner_id and note.tokens
        assert deal.opened_at is not None and deal.opened_at <= note.created_at
        if deal.closed_at is not None:
            assert note.created_at < deal.closed_at
        assert note.created_at.date() < TODAY
    events = {
        event.payload["annotation_id"]: event
        for event in demo_session.scalars(select(Event).where(Event.type == "forecast.annotation_added"))
    }
    assert set(events) == {note.id for note in notes}
    for note in notes:
        assert events[note.id].occurred_at == note.created_at
        assert events[note.id].entity_id == str(note.opportunity_id)


def test_notes_on_closed_deals_lean_towards_the_outcome(demo_session: Session) -> None:
    outcome = {
        deal.id: deal.status
        for deal in demo_session.scalars(
            select(m.Opportunity).where(m.Opportunity.status.in_(("won", "lost")))
        )
    }
    agree = total = 0
    for note in demo_session.scalars(select(Annotation).where(Annotation.opportunity_id.in_(list(outcome)))):
        score = text_score(note.tokens)
        assert score != 0, f"every demo note names a cue: {note.note}"
        total += 1
        agree += (score > 0) == (outcome[note.opportunity_id] == "won")
    assert total >= 5 and agree / total > 0.5, (agree, total)


@pytest.mark.parametrize("english", [False, True])
def test_the_planned_notes_agree_with_the_outcome_three_times_in_four(english: bool) -> None:
    """The designed signal, measured on many draws: the cue (as the text feature reads it)
    and any override agree with a closed deal's outcome about 75 % of the time, and notes
    on open deals lean either way."""
    rng = random.Random(1)
    for status, expected in (("won", AGREEMENT), ("lost", AGREEMENT), ("open", 0.5)):
        agree = 0
        draws = 4000
        for _ in range(draws):
            industry = rng.choice(INDUSTRIES)
            planned = plan_note(rng, status=status, english=english, industry=industry)
            score = text_score(tokenize(planned.note))
            assert (score > 0) == planned.positive, planned.note
            if planned.override_probability is not None:
                assert (planned.override_probability > 0.5) == planned.positive
            if planned.override_category is not None:
                assert (planned.override_category in ("commit", "best_case")) == planned.positive
            agree += planned.positive == (status != "lost")
        assert abs(agree / draws - expected) < 0.03, (status, agree / draws)


def test_the_notes_leave_the_rest_of_the_demo_unchanged(
    db_url: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(db_url) as session:
        load_demo(session, accounts=3, seed=11, today=TODAY)
    with unit_of_work(db_url, write=False) as session:
        assert session.scalars(select(Annotation)).first() is not None
        with_notes = {table: rows for table, rows in dump(session) if table in CRM_TABLES}
    monkeypatch.setattr(loader, "deal_annotations", lambda demo, result: None)
    bare = _fresh_database(db_url, request, tmp_path, "bare")
    with unit_of_work(bare) as session:
        load_demo(session, accounts=3, seed=11, today=TODAY)
    with unit_of_work(bare, write=False) as session:
        assert session.scalars(select(Annotation)).first() is None
        without = {table: rows for table, rows in dump(session) if table in CRM_TABLES}
    assert without == with_notes
