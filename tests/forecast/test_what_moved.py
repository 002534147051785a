""" "What moved it": the change of a period's expected revenue between two moments, split into
new deals, stage moves, slips, wins, losses, probability and amount changes, which add up
to the total. Built from back-dated crm events at fixed moments (no wall clock).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.forecast.models import DealScore
from pathcast.forecast.service import revenue, revenue_moved
from tests import factories as f
from tests.forecast.test_revenue import Q1, close_deal, open_deal, stage_id

SYSTEM = f.SYSTEM
SINCE = datetime(2027, 2, 3, tzinfo=UTC)
UNTIL = datetime(2027, 2, 10, 9, 0, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def change(session: Session, deal: m.Opportunity, day: str, **changes: Any) -> None:
    crm.update_opportunity(session, actor=SYSTEM, opportunity=deal, changes=changes, occurred_at=at(day))


def score(session: Session, deal: m.Opportunity, probability: float, day: str, *, latest: bool) -> None:
    # What the scoring service stores: one row per scoring, the newest marked latest.
    session.add(
        DealScore(
            opportunity_id=deal.id,
            model_version=1,
            scored_at=at(day),
            probability=probability,
            drivers=[],
            is_latest=latest,
        )
    )


def history(session: Session) -> dict[str, Any]:
    """One East deal per cause of change in the week from SINCE to UNTIL, and one West deal."""
    people = f.two_teams(session)
    rep, west = people["east_rep"].id, people["west_rep"].id

    def make(
        name: str, amount: int = 100_000, close: date | None = date(2027, 3, 10), **kw: Any
    ) -> m.Opportunity:
        return open_deal(session, rep, name=name, amount=amount, close=close, **kw)

    deals = {
        "staged": make("moves to negotiation"),
        "slipped": make("slips to May"),
        "won": make("is won"),
        "lost": make("is lost"),
        "repriced": make("is repriced"),
        "rescored": make("is rescored"),
        "reassigned": make("goes to West"),
        "quiet": make("stays as it was", amount=70_000),
    }
    score(session, deals["rescored"], 0.3, "2027-02-01", latest=False)
    session.flush()
    crm.change_stage(
        session,
        actor=SYSTEM,
        opportunity=deals["staged"],
        to_stage_id=stage_id(session, "negotiation"),
        occurred_at=at("2027-02-05"),
    )
    change(session, deals["slipped"], "2027-02-06", expected_close_date=date(2027, 5, 10))
    close_deal(session, deals["won"], "won", "2027-02-07")
    close_deal(session, deals["lost"], "lost", "2027-02-07")
    change(session, deals["repriced"], "2027-02-08", amount=Decimal(150_000))
    score(session, deals["rescored"], 0.6, "2027-02-08", latest=True)
    change(session, deals["reassigned"], "2027-02-08", owner_id=west)
    deals["new"] = make("created this week", amount=80_000, opened="2027-02-05")
    session.commit()
    return {**people, **deals}


def by_key(result: revenue_moved.WhatMoved) -> dict[str, dict[int, revenue_moved.MovedDeal]]:
    return {bucket.key: {deal.id: deal for deal in bucket.deals} for bucket in result.buckets}


def test_each_change_lands_in_its_bucket_and_the_buckets_add_up(session: Session) -> None:
    w = history(session)
    team = f"team:{w['east'].id}"
    result = revenue_moved.what_moved(
        session, actor=None, period_kind="quarter", period_start=Q1, scope=team, since=SINCE, until=UNTIL
    )
    buckets = by_key(result)
    assert [bucket.key for bucket in result.buckets] == list(revenue_moved.BUCKETS)
    assert sum(bucket.total for bucket in result.buckets) == pytest.approx(result.delta)

    def single(key: str) -> revenue_moved.MovedDeal:
        assert len(buckets[key]) == 1, (key, buckets[key])
        return next(iter(buckets[key].values()))

    assert single("stage").id == w["staged"].id and single("stage").delta == pytest.approx(
        30_000
    )  # 50 % → 80 %
    assert single("slip").id == w["slipped"].id and single("slip").after == 0
    assert single("win").id == w["won"].id and single("win").delta == pytest.approx(50_000)
    assert single("loss").id == w["lost"].id and single("loss").delta == pytest.approx(-50_000)
    assert single("amount").id == w["repriced"].id and single("amount").delta == pytest.approx(25_000)
    assert single("probability").id == w["rescored"].id
    assert single("probability").delta == pytest.approx(30_000)  # model 0.3 → 0.6
    assert single("new").id == w["new"].id and single("new").delta == pytest.approx(40_000)
    assert single("other").id == w["reassigned"].id and single("other").after == 0
    assert w["quiet"].id not in {deal_id for deals in buckets.values() for deal_id in deals}

    # the two ends are the expected values of the distributions at those moments
    for moment, value in ((SINCE, result.before), (UNTIL, result.after)):
        dist = revenue.period_distribution(
            session, actor=None, period_kind="quarter", period_start=Q1, scope=team, at=moment, draws=200
        )
        assert dist.expected == pytest.approx(value)

    # the West team sees the reassigned deal arrive
    west = revenue_moved.what_moved(
        session,
        actor=None,
        period_kind="quarter",
        period_start=Q1,
        scope=f"team:{w['west'].id}",
        since=SINCE,
        until=UNTIL,
    )
    assert w["reassigned"].id in by_key(west)["other"]
    assert result.as_dict()["buckets"][0]["key"] == "new"


def test_what_moved_is_scoped_and_checks_its_moments(session: Session) -> None:
    w = history(session)
    rep = f.actor(w["east_rep"])
    mine = revenue_moved.what_moved(
        session,
        actor=rep,
        period_kind="quarter",
        period_start=Q1,
        scope=f"rep:{w['east_rep'].id}",
        since=SINCE,
        until=UNTIL,
    )
    assert mine.delta != 0
    with pytest.raises(PermissionDenied):
        revenue_moved.what_moved(
            session,
            actor=rep,
            period_kind="quarter",
            period_start=Q1,
            scope=f"team:{w['east'].id}",
            until=UNTIL,
        )
    with pytest.raises(PermissionDenied):
        revenue_moved.what_moved(
            session,
            actor=f.actor(w["west_manager"]),
            period_kind="quarter",
            period_start=Q1,
            scope=f"rep:{w['east_rep'].id}",
            until=UNTIL,
        )
    with pytest.raises(InvalidInput) as bad:
        revenue_moved.what_moved(
            session, actor=None, period_kind="quarter", period_start=Q1, since=UNTIL, until=SINCE
        )
    assert bad.value.errors[0].field == "since"


@pytest.fixture
def api(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def bearer(session: Session, user: Any) -> dict[str, str]:
    _token, secret = auth_service.create_token(session, actor=SYSTEM, user=user)
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_answers_with_distributions_and_problems(api: TestClient, session: Session) -> None:
    w = history(session)
    # tokens need a password-less user only; the world's users have none
    headers = {key: bearer(session, w[key]) for key in ("admin", "east_manager", "east_rep", "member")}
    team = f"team:{w['east'].id}"
    session.commit()
    base = "/api/v1/forecast/periods"
    query = {"period": "quarter", "start": "2027-01-01", "at": UNTIL.isoformat(), "draws": 300}

    ok = api.get(base, params=query | {"scope": team}, headers=headers["east_manager"])
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (
        body["scope"] == team
        and body["period_start"] == "2027-01-01"
        and body["p10"] <= body["p50"] <= body["p90"]
    )
    assert {deal["id"] for deal in body["deals"]} >= {w["staged"].id, w["new"].id}
    # a rep's default scope is themself
    mine = api.get(base, params=query, headers=headers["east_rep"]).json()
    assert mine["scope"] == f"rep:{w['east_rep'].id}"

    moved = api.get(
        f"{base}/what-moved",
        params={"period": "quarter", "start": "2027-01-01", "scope": team}
        | {"since": SINCE.isoformat(), "until": UNTIL.isoformat()},
        headers=headers["admin"],
    )
    assert moved.status_code == 200, moved.text
    assert {bucket["key"] for bucket in moved.json()["buckets"]} == set(revenue_moved.BUCKETS)

    for params, field in (
        (query | {"period": "week"}, "period"),
        (query | {"start": "2027-13-01"}, "start"),
        (query | {"scope": "planet:1"}, "scope"),
        (query | {"at": "yesterday"}, "at"),
    ):
        problem = api.get(base, params=params, headers=headers["admin"])
        assert problem.status_code == 422, params
        assert problem.headers["content-type"].startswith("application/problem+json")
        assert problem.json()["errors"][0]["field"] == field
    refused = api.get(base, params=query | {"scope": "company"}, headers=headers["east_rep"])
    assert refused.status_code == 403 and refused.json()["code"] == "forecast_scope_forbidden"
    assert api.get(base, params=query, headers=headers["member"]).status_code == 403
    assert api.post(f"{base}/record", headers=headers["east_rep"]).status_code == 403
    recorded = api.post(f"{base}/record", headers=headers["admin"])
    assert recorded.status_code == 200 and recorded.json()["recorded"] > 0
