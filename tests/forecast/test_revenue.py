"""The revenue distribution per period and scope: Monte Carlo over win probabilities and a
slip learned from history, scoped by the caller, stored with ``forecast.period_changed``.

Deals are built through the crm services with back-dated events and every forecast is taken
at a fixed moment (``NOW``), so no number depends on the wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.auth.permissions import Actor
from pathcast.cli import app
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import Event
from pathcast.forecast.models import DealScore, PeriodForecast
from pathcast.forecast.service import revenue, revenue_moved
from tests import factories as f

SYSTEM = f.SYSTEM
NOW = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)
Q1 = date(2027, 1, 1)
runner = CliRunner()


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def stage_id(session: Session, key: str) -> int:
    pipeline = f.pipeline(session)
    return next(s.id for s in crm.stages_of(session, pipeline.id) if s.key == key)


def open_deal(
    session: Session,
    owner_id: int,
    *,
    name: str,
    amount: int,
    close: date | None,
    stage: str = "solution",
    opened: str = "2027-01-05",
) -> m.Opportunity:
    f.pipeline(session)
    return crm.create_opportunity(
        session,
        actor=SYSTEM,
        data={
            "name": name,
            "owner_id": owner_id,
            "amount": amount,
            "expected_close_date": close,
            "stage_id": stage_id(session, stage),
        },
        occurred_at=at(opened),
    )


def close_deal(session: Session, deal: m.Opportunity, key: str, day: str) -> None:
    crm.change_stage(
        session, actor=SYSTEM, opportunity=deal, to_stage_id=stage_id(session, key), occurred_at=at(day)
    )


def world(session: Session) -> dict[str, Any]:
    """East (manager, two reps) and West (manager, rep); open deals closing in Q1 2027 and
    one East deal already won in it."""
    people = f.two_teams(session)
    east, east2, west = people["east_rep"].id, people["east_rep2"].id, people["west_rep"].id
    deals = {
        "east_big": open_deal(session, east, name="协和 DSA", amount=400_000, close=date(2027, 3, 10)),
        "east_small": open_deal(
            session, east2, name="Ruijin CT", amount=100_000, close=date(2027, 2, 20), stage="proposal"
        ),
        "west_deal": open_deal(session, west, name="West MR", amount=200_000, close=date(2027, 3, 1)),
        "east_later": open_deal(session, east, name="Next quarter", amount=300_000, close=date(2027, 5, 1)),
    }
    won = open_deal(session, east, name="Won in January", amount=50_000, close=date(2027, 1, 25))
    close_deal(session, won, "won", "2027-01-20")
    session.commit()
    return {**people, **deals, "won": won}


def test_stage_probabilities_without_history_and_the_same_seed_gives_the_same_numbers(
    session: Session,
) -> None:
    w = world(session)
    result = revenue.period_distribution(
        session, actor=None, period_kind="quarter", period_start=Q1, at=NOW, draws=2000
    )
    assert (result.period_start, result.period_end, result.scope) == (Q1, date(2027, 4, 1), "company")
    assert result.won_so_far == 50_000 and result.won_deals == 1
    by_id = {deal.id: deal for deal in result.deals}
    assert set(by_id) == {w[k].id for k in ("east_big", "east_small", "west_deal")}
    # no history: no slip, so the in-quarter deals land in it and the May deal does not
    assert by_id[w["east_big"].id].p_in_period == 1.0
    assert any("1 open deals in scope are not expected" in note for note in result.notes)  # the May deal
    assert all(deal.source == "stage" for deal in result.deals)
    assert by_id[w["east_small"].id].p_win == pytest.approx(0.65)
    expected = 50_000 + 0.5 * 400_000 + 0.65 * 100_000 + 0.5 * 200_000
    assert result.expected == pytest.approx(expected)
    assert result.expected_with_overrides == pytest.approx(expected)
    assert result.p10 <= result.p50 <= result.p90
    assert result.p10 >= 50_000 and result.p90 <= 750_000
    assert [deal.id for deal in result.deals][:1] == [w["east_big"].id]  # ranked by expected value
    assert any("stage" in note for note in result.notes) and any("slip" in note for note in result.notes)
    again = revenue.period_distribution(
        session, actor=None, period_kind="quarter", period_start=date(2027, 2, 14), at=NOW, draws=2000
    )
    assert again.as_dict() == result.as_dict()  # any day of the quarter names the quarter


def test_simulation_is_vectorised_and_unbiased() -> None:
    rng = np.random.default_rng(1)
    # several blocks of draws (BLOCK_CELLS / 3000 deals = 666 draws per block)
    amounts = rng.uniform(1_000, 100_000, size=3000)
    chances = rng.uniform(0, 1, size=3000)
    totals = revenue.simulate(amounts, chances, draws=2000, seed=7)
    assert totals.shape == (2000,)
    assert totals.mean() == pytest.approx(float(amounts @ chances), rel=0.005)
    variance = float(np.sum(amounts**2 * chances * (1 - chances)))
    assert totals.std() == pytest.approx(variance**0.5, rel=0.1)
    assert np.array_equal(totals, revenue.simulate(amounts, chances, draws=2000, seed=7))
    assert not np.array_equal(totals, revenue.simulate(amounts, chances, draws=2000, seed=8))
    assert np.all(revenue.simulate(amounts, np.zeros(3000), draws=10, seed=7) == 0)


def _slipping_history(session: Session, owner_id: int, deals: int = 14) -> None:
    """Deals of 2026 that each won 30 days after the close date they were expected at."""
    for i in range(deals):
        opened = date(2026, 1, 3) + timedelta(days=14 * i)
        expected = opened + timedelta(days=45)
        deal = open_deal(
            session, owner_id, name=f"history {i}", amount=10_000, close=expected, opened=opened.isoformat()
        )
        close_deal(session, deal, "won", (expected + timedelta(days=30)).isoformat())


def test_slip_is_learned_from_won_deals_and_moves_deals_out_of_the_period(session: Session) -> None:
    people = f.two_teams(session)
    _slipping_history(session, people["east_rep"].id)
    late_march = open_deal(
        session, people["east_rep"].id, name="closes late March", amount=100_000, close=date(2027, 3, 25)
    )
    session.commit()
    slip = revenue.slip_model(session, NOW)
    assert slip.learned and slip.summary()["slip_days"]["p50"] == 30
    assert slip.no_expected_share == 0.0 and slip.notes == ()
    result = revenue.period_distribution(
        session, actor=None, period_kind="quarter", period_start=Q1, at=NOW, draws=500
    )
    assert late_march.id not in {d.id for d in result.deals}  # every learned slip pushes it into April
    april = revenue.period_distribution(
        session, actor=None, period_kind="month", period_start=date(2027, 4, 1), at=NOW, draws=500
    )
    assert next(d for d in april.deals if d.id == late_march.id).p_in_period == 1.0
    # as of early 2026 nothing had won yet: nothing learned, and the notes say so
    early = revenue.slip_model(session, at("2026-01-10"))
    assert not early.learned and early.notes


def test_in_period_probability_conditions_on_closing_no_earlier_than_today() -> None:
    slip = revenue.SlipModel(
        as_of=NOW,
        slips=np.array([-10, 0, 10, 20, 30, 40, 50, 60, 70, 80]),
        remaining=np.array([5, 15, 25, 35, 45, 55, 65, 75, 85, 95]),
        observations=20,
        no_expected_share=0.5,
    )
    today = date(2027, 2, 10)
    shares = revenue.in_period_probabilities(
        slip, [date(2027, 2, 10), date(2027, 1, 1), None], today, date(2027, 2, 1), date(2027, 3, 1)
    )
    # on time: slips 0, 10 land in February (−10 would be the past: excluded) → 2 of 9
    assert shares[0] == pytest.approx(2 / 9)
    # 40 days overdue: only slips ≥ 40 are still possible, of which 40, 50 land in February
    assert shares[1] == pytest.approx(2 / 5)
    # no expected close: today + time to close, 5 and 15 days are in February
    assert shares[2] == pytest.approx(2 / 10)


def test_model_scores_drivers_and_a_reps_override_are_both_shown(session: Session) -> None:
    from pathcast.forecast.service import annotations

    w = world(session)
    # Scores come from the scoring service in production; a stored score row is what it writes.
    drivers = [
        {
            "feature": "qualifying_views_30d",
            "value": 3,
            "points": 12.0,
            "en": "3 views: +12 pts",
            "zh": "3 次浏览：+12 分",
        }
    ]
    session.add(
        DealScore(
            opportunity_id=w["east_big"].id,
            model_version=4,
            scored_at=at("2027-02-09"),
            probability=0.8,
            drivers=drivers,
            is_latest=True,
        )
    )
    session.flush()
    annotations.annotate(
        session,
        actor=f.actor(w["west_rep"]),
        opportunity_id=w["west_deal"].id,
        note="该客户正参与卫健委集采评审",
        override_probability=0.2,
        at=at("2027-02-08"),
    )
    session.commit()
    result = revenue.period_distribution(
        session, actor=f.actor(w["admin"]), period_kind="quarter", period_start=Q1, at=NOW, draws=500
    )
    by_id = {deal.id: deal for deal in result.deals}
    big, west = by_id[w["east_big"].id], by_id[w["west_deal"].id]
    assert (big.source, big.p_win, big.model_version, big.drivers) == ("model", 0.8, 4, drivers)
    assert west.source == "stage" and west.p_win == 0.5 and west.override_probability == 0.2
    assert west.override_by
    assert result.sources == {"model": 1, "stage": 2}
    assert result.expected == pytest.approx(50_000 + 0.8 * 400_000 + 0.65 * 100_000 + 0.5 * 200_000)
    assert result.expected_with_overrides == pytest.approx(result.expected - 0.3 * 200_000)
    document = result.as_dict()
    assert document["deals"][0]["source"] == "model" and document["model_version"] == 4


def test_scopes_follow_the_caller(session: Session) -> None:
    w = world(session)
    east, west = w["east"].id, w["west"].id

    def deal_ids(actor: Actor | None, scope: str) -> set[int]:
        result = revenue.period_distribution(
            session, actor=actor, period_kind="quarter", period_start=Q1, scope=scope, at=NOW, draws=200
        )
        return {deal.id for deal in result.deals}

    manager, rep = f.actor(w["east_manager"]), f.actor(w["east_rep"])
    assert deal_ids(manager, f"team:{east}") == {w[k].id for k in ("east_big", "east_small")}
    assert deal_ids(manager, f"rep:{w['east_rep2'].id}") == {w["east_small"].id}
    assert deal_ids(rep, f"rep:{w['east_rep'].id}") == {w["east_big"].id}
    assert deal_ids(f.actor(w["admin"]), f"team:{west}") == {w["west_deal"].id}
    for actor, scope in (
        (rep, "company"),
        (rep, f"team:{east}"),
        (rep, f"rep:{w['east_rep2'].id}"),
        (manager, "company"),
        (manager, f"team:{west}"),
        (manager, f"rep:{w['west_rep'].id}"),
    ):
        with pytest.raises(PermissionDenied) as refused:
            deal_ids(actor, scope)
        assert refused.value.code == "forecast_scope_forbidden", scope
    with pytest.raises(PermissionDenied) as member:
        deal_ids(f.actor(w["member"]), f"rep:{w['member'].id}")
    assert member.value.code == "forbidden_model"
    assert [s for s, _ in revenue.visible_scopes(session, rep)] == [f"rep:{w['east_rep'].id}"]
    assert revenue.visible_scopes(session, manager)[0][0] == f"team:{east}"


def test_bad_parameters_name_the_parameter(session: Session) -> None:
    for kwargs, field in (
        ({"period_kind": "week"}, "period"),
        ({"scope": "region:3"}, "scope"),
        ({"scope": "team:x"}, "scope"),
        ({"draws": 5}, "draws"),
    ):
        arguments: dict[str, Any] = {"period_kind": "quarter", "period_start": Q1, "at": NOW} | kwargs
        with pytest.raises(InvalidInput) as bad:
            revenue.period_distribution(session, actor=None, **arguments)
        assert bad.value.errors[0].field == field


def test_record_periods_stores_rows_and_emits_period_changed_when_p50_moves(session: Session) -> None:
    w = world(session)
    admin = f.actor(w["admin"])
    rows = revenue_moved.record_periods(session, actor=admin, at=NOW, draws=500)
    scopes = {row.scope for row in rows}
    assert {"company", f"team:{w['east'].id}", f"team:{w['west'].id}", f"rep:{w['east_rep'].id}"} <= scopes
    assert {(row.period_kind, row.period_start) for row in rows} == {
        ("month", date(2027, 2, 1)),
        ("month", date(2027, 3, 1)),
        ("quarter", Q1),
        ("quarter", date(2027, 4, 1)),
    }
    session.commit()
    changed = select(Event).where(Event.type == "forecast.period_changed")
    assert session.scalars(changed).all() == []  # nothing to compare with yet
    assert session.scalars(select(Event).where(Event.type == "forecast.periods_recorded")).one()

    # a day later the big East deal is won: the East team's quarter moves up
    close_deal(session, w["east_big"], "won", "2027-02-10T12:00:00")
    session.commit()
    revenue_moved.record_periods(session, actor=admin, at=NOW + timedelta(days=1), draws=500)
    session.commit()
    events = {event.entity_id: event for event in session.scalars(changed)}
    key = f"quarter:2027-01-01:team:{w['east'].id}"
    assert key in events, sorted(events)
    payload = events[key].payload
    assert (
        payload["metric"] == "p50" and payload["entity"] == "period" and payload["period_kind"] == "quarter"
    )
    assert payload["scope"] == f"team:{w['east'].id}" and payload["period_start"] == "2027-01-01"
    assert payload["value"] > payload["previous"] and payload["p10"] <= payload["value"] <= payload["p90"]
    assert payload["moved"]["win"] == pytest.approx(400_000 - 0.5 * 400_000)
    assert f"quarter:2027-01-01:team:{w['west'].id}" not in events  # West did not move
    assert session.scalars(select(PeriodForecast)).all()


def test_only_admins_and_managers_record(session: Session) -> None:
    w = world(session)
    with pytest.raises(PermissionDenied):
        revenue_moved.record_periods(session, actor=f.actor(w["east_rep"]), at=NOW)
    rows = revenue_moved.record_periods(session, actor=f.actor(w["east_manager"]), at=NOW, draws=200)
    assert rows and all(row.scope != "company" and row.scope != f"team:{w['west'].id}" for row in rows)


def test_revenue_command_prints_the_distribution(session: Session, configured: str) -> None:
    world(session)
    result = runner.invoke(
        app,
        [
            *("forecast", "revenue", "--period", "quarter", "--start", "2027-01-01"),
            *("--at", NOW.isoformat(), "--draws", "300", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) >= {"distribution", "what_moved"}
    assert document["distribution"]["period_start"] == "2027-01-01"
    assert {"p10", "p50", "p90", "expected", "won_so_far", "deals"} <= set(document["distribution"])
    human = runner.invoke(app, ["forecast", "revenue", "--at", NOW.isoformat(), "--draws", "300"])
    assert human.exit_code == 0, human.output
    assert "P50" in human.stdout
    bad = runner.invoke(app, ["forecast", "revenue", "--scope", "galaxy"])
    assert bad.exit_code == 2 and "scope" in bad.output
