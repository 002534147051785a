"""Scoring the open pipeline: score history with one latest row per deal, drivers naming the
stage in zh and en, ``forecast.deal_risk_changed`` only on a material change, who may
score and read, and the API and CLI around it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, Team, User
from pathcast.cli import app
from pathcast.crm import service as crm
from pathcast.errors import Conflict, PermissionDenied
from pathcast.events import Event, events_by_type
from pathcast.forecast.models import DealScore
from pathcast.forecast.service import scoring
from pathcast.forecast.snapshot import pipeline_as_of
from tests import factories as f
from tests.api.conftest import application, client
from tests.forecast.test_backtest import build_history

__all__ = ["application", "client"]

SYSTEM = f.SYSTEM
CUTOFF = datetime(2024, 1, 1, tzinfo=UTC)
runner = CliRunner()


def rep0(session: Session) -> User:
    return session.scalars(select(User).where(User.email == "rep0@example.com")).one()


def trained(session: Session) -> None:
    build_history(session)
    scoring.train_model(session, actor=SYSTEM, n_estimators=20, at=CUTOFF)


def risk_events(session: Session, after_id: int = 0) -> list[Event]:
    return events_by_type(session, ["forecast.deal_risk_changed"], after_id=after_id)


def last_event_id(session: Session) -> int:
    return int(session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0)


# --- material change ------------------------------------------------------------------


def test_risk_bands_and_material_change() -> None:
    assert [scoring.risk_band(p) for p in (0.05, 0.29, 0.3, 0.59, 0.6, 0.95)] == [
        "high",
        "high",
        "medium",
        "medium",
        "low",
        "low",
    ]
    assert scoring.material_change(0.2, None) and not scoring.material_change(0.4, None)
    assert scoring.material_change(0.45, 0.35)  # ten points
    assert not scoring.material_change(0.44, 0.36)
    assert scoring.material_change(0.31, 0.29)  # high → medium risk
    assert not scoring.material_change(0.7, 0.65)


# --- scoring --------------------------------------------------------------------------


def test_scoring_keeps_history_and_flags_only_material_changes(session: Session) -> None:
    trained(session)
    open_ids = sorted(d.opportunity_id for d in pipeline_as_of(session, CUTOFF) if d.is_open)
    first = scoring.score_open_deals(session, actor=SYSTEM, at=CUTOFF)
    assert sorted(s.opportunity_id for s in first) == open_ids and len(open_ids) > 5
    assert all(s.is_latest and s.model_version == 1 and s.scored_at == CUTOFF for s in first)
    for score in first:
        assert 0.0 <= score.probability <= 1.0 and len(score.drivers) == scoring.DRIVERS_KEPT
        assert all(set(d) == {"feature", "value", "points", "en", "zh"} for d in score.drivers)
        points = [abs(d["points"]) for d in score.drivers]
        assert points == sorted(points, reverse=True)
    high = {s.opportunity_id for s in first if s.probability < scoring.HIGH_RISK_BELOW}
    flagged = risk_events(session)
    assert {int(e.entity_id) for e in flagged} == high and len(flagged) == len(high)
    for event in flagged:
        assert event.entity == "opportunity"
        payload = event.payload
        assert set(payload) == {
            "metric",
            "entity",
            "value",
            "previous",
            "risk",
            "previous_risk",
            "model_version",
            "drivers",
        }
        assert (payload["metric"], payload["entity"], payload["risk"]) == (
            "win_probability",
            "opportunity",
            "high",
        )
        assert payload["previous"] is None and payload["previous_risk"] is None
        assert payload["model_version"] == 1 and len(payload["drivers"]) == scoring.DRIVERS_IN_EVENT

    # the same moment again: same numbers, a second history row, no new risk event
    mark = last_event_id(session)
    again = scoring.score_open_deals(session, actor=SYSTEM, at=CUTOFF)
    assert {s.opportunity_id: s.probability for s in again} == {
        s.opportunity_id: s.probability for s in first
    }
    assert risk_events(session, mark) == []
    assert not any(s.is_latest for s in first) and all(s.is_latest for s in again)
    deal_id = open_ids[0]
    assert [s.id for s in scoring.score_history(session, deal_id)] == [
        next(s.id for s in first if s.opportunity_id == deal_id),
        next(s.id for s in again if s.opportunity_id == deal_id),
    ]
    assert scoring.latest_scores(session, open_ids) == {s.opportunity_id: s for s in again}
    latest_rows = session.scalars(select(DealScore).where(DealScore.is_latest.is_(True))).all()
    assert len(latest_rows) == len(open_ids)

    # months later: an event exactly where the change is material
    later = CUTOFF + timedelta(days=200)
    mark = last_event_id(session)
    third = scoring.score_open_deals(session, actor=SYSTEM, at=later)
    assert third and {s.opportunity_id for s in third} < set(open_ids)
    before = {s.opportunity_id: s.probability for s in again}
    expected = {
        s.opportunity_id for s in third if scoring.material_change(s.probability, before[s.opportunity_id])
    }
    changed = risk_events(session, mark)
    assert {int(e.entity_id) for e in changed} == expected
    for event in changed:
        assert event.payload["previous"] == round(before[int(event.entity_id)], 4)
        assert event.occurred_at == later

    # the probabilities as they stood at any moment
    assert scoring.probabilities_as_of(session, CUTOFF - timedelta(days=1)) == {}
    assert scoring.probabilities_as_of(session, CUTOFF + timedelta(days=10)) == before
    now_known = scoring.probabilities_as_of(session, later, open_ids)
    assert now_known == before | {s.opportunity_id: s.probability for s in third}
    runs = events_by_type(session, ["forecast.deals_scored"])
    assert [e.payload["scored"] for e in runs] == [len(first), len(again), len(third)]
    assert runs[0].payload["risk_changes"] == len(high) and runs[1].payload["risk_changes"] == 0


def test_drivers_name_the_stage_in_both_languages(session: Session) -> None:
    trained(session)
    scores = scoring.score_open_deals(session, actor=SYSTEM, at=CUTOFF)
    snapshot = {d.opportunity_id: d for d in pipeline_as_of(session, CUTOFF)}
    stages = {s.id: s for s in crm.stages_of(session, f.pipeline(session).id)}
    for score in scores:
        stage = stages[snapshot[score.opportunity_id].stage_id]
        in_stage = [d for d in score.drivers if d["feature"] in ("days_in_stage", "stage_position")]
        for driver in in_stage:
            assert f"'{stage.name}'" in driver["en"] and f"「{stage.name_zh or stage.name}」" in driver["zh"]
        assert all(d["en"] and d["zh"] and d["en"] != d["zh"] for d in score.drivers)


def test_who_may_score(session: Session) -> None:
    build_history(session)
    with pytest.raises(Conflict):
        scoring.score_open_deals(session, actor=SYSTEM, at=CUTOFF)
    scoring.train_model(session, actor=SYSTEM, n_estimators=20, at=CUTOFF)
    east = session.get(Team, rep0(session).team_id)
    west = f.team(session, "West")
    east_manager = f.actor(f.user(session, "em@example.com", role=Role.manager, team_obj=east, password=None))
    west_manager = f.actor(f.user(session, "wm@example.com", role=Role.manager, team_obj=west, password=None))
    member = f.actor(f.user(session, "m@example.com", role=Role.member, password=None))
    with pytest.raises(PermissionDenied):
        scoring.score_open_deals(session, actor=f.actor(rep0(session)), at=CUTOFF)
    with pytest.raises(PermissionDenied):
        scoring.score_open_deals(session, actor=member, at=CUTOFF)
    assert scoring.score_open_deals(session, actor=west_manager, at=CUTOFF) == []
    open_ids = {d.opportunity_id for d in pipeline_as_of(session, CUTOFF) if d.is_open}
    assert {
        s.opportunity_id for s in scoring.score_open_deals(session, actor=east_manager, at=CUTOFF)
    } == open_ids
    some = sorted(open_ids)[:2]
    assert {
        s.opportunity_id
        for s in scoring.score_open_deals(session, actor=SYSTEM, at=CUTOFF, opportunity_ids=some)
    } == set(some)


# --- API ------------------------------------------------------------------------------


@pytest.fixture
def people(session: Session, configured: str) -> dict[str, Any]:
    """The synthetic history (team East: rep0, rep1) plus an admin, East's manager, West's
    rep and manager, a delivery member; a bearer header each."""
    build_history(session)
    east = session.get(Team, rep0(session).team_id)
    west = f.team(session, "West")
    users = {
        "admin": f.user(session, "admin@example.com", role=Role.admin, password=None),
        "east_manager": f.user(session, "em@example.com", role=Role.manager, team_obj=east, password=None),
        "east_rep": rep0(session),
        "west_manager": f.user(session, "wm@example.com", role=Role.manager, team_obj=west, password=None),
        "west_rep": f.user(session, "wr@example.com", role=Role.rep, team_obj=west, password=None),
        "member": f.user(session, "m@example.com", role=Role.member, password=None),
    }
    headers = {}
    for key, user in users.items():
        _, secret = auth_service.create_token(session, actor=SYSTEM, user=user)
        headers[key] = {"Authorization": f"Bearer {secret}"}
    open_ids = sorted(d.opportunity_id for d in pipeline_as_of(session, datetime.now(UTC)) if d.is_open)
    session.commit()
    return {"headers": headers, "open_ids": open_ids}


def test_api_trains_scores_and_explains(client: TestClient, people: dict[str, Any]) -> None:
    h = people["headers"]
    deal_id = people["open_ids"][0]
    base = "/api/v1/forecast"
    # nothing to read yet; the rights are checked first
    assert client.get(f"{base}/models", headers=h["member"]).status_code == 403
    assert client.get(f"{base}/models", headers=h["east_rep"]).json() == []
    assert client.post(f"{base}/score", headers=h["admin"]).status_code == 409

    assert (
        client.post(f"{base}/models/train", json={"n_estimators": 20}, headers=h["east_rep"]).status_code
        == 403
    )
    assert (
        client.post(f"{base}/models/train", json={"n_estimators": 2}, headers=h["admin"]).status_code == 422
    )
    made = client.post(f"{base}/models/train", json={"n_estimators": 20}, headers=h["east_manager"])
    assert made.status_code == 201, made.text
    model = made.json()
    assert model["version"] == 1 and model["is_active"] and "booster" not in model
    assert set(model["metrics"]) == {"auc", "brier", "log_loss", "ece", "n"}
    second = client.post(
        f"{base}/models/train", json={"n_estimators": 20, "activate": False}, headers=h["admin"]
    )
    assert second.status_code == 201 and not second.json()["is_active"]
    assert client.post(f"{base}/models/2/activate", headers=h["east_manager"]).status_code == 403
    assert client.post(f"{base}/models/7/activate", headers=h["admin"]).status_code == 404
    activated = client.post(f"{base}/models/2/activate", headers=h["admin"])
    assert activated.status_code == 200 and activated.json()["is_active"]
    listed = client.get(f"{base}/models", headers=h["east_manager"]).json()
    assert [(m["version"], m["is_active"]) for m in listed] == [(2, True), (1, False)]

    assert client.get(f"{base}/deals/{deal_id}/score", headers=h["east_rep"]).status_code == 404  # not scored
    assert client.post(f"{base}/score", headers=h["east_rep"]).status_code == 403
    rescored = client.post(f"{base}/score", headers=h["east_manager"])
    assert rescored.status_code == 200, rescored.text
    assert rescored.json()["scored"] == len(people["open_ids"]) and rescored.json()["model_version"] == 2
    client.post(f"{base}/score", headers=h["admin"])

    answer = client.get(f"{base}/deals/{deal_id}/score", headers=h["east_rep"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"opportunity_id", "probability", "model_version", "scored_at", "drivers", "history"}
    assert body["opportunity_id"] == deal_id and body["model_version"] == 2
    assert len(body["history"]) == 2 and body["history"][-1]["probability"] == body["probability"]
    assert body["drivers"] and all(d["en"] and d["zh"] for d in body["drivers"])
    # the refusals: members have no forecast; another team's rep and manager cannot see the deal
    refused = client.get(f"{base}/deals/{deal_id}/score", headers=h["member"])
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    assert client.get(f"{base}/deals/{deal_id}/score", headers=h["west_rep"]).status_code == 404
    assert client.get(f"{base}/deals/{deal_id}/score", headers=h["west_manager"]).status_code == 404
    assert client.get(f"{base}/deals/{deal_id}/score", headers=h["east_manager"]).status_code == 200
    assert client.get(f"{base}/deals/999999/score", headers=h["admin"]).status_code == 404


def test_api_refuses_a_too_small_history(client: TestClient, session: Session, configured: str) -> None:
    build_history(session, deals=10)
    admin = f.user(session, "admin@example.com", role=Role.admin, password=None)
    _, secret = auth_service.create_token(session, actor=SYSTEM, user=admin)
    session.commit()
    answer = client.post(
        "/api/v1/forecast/models/train",
        json={"n_estimators": 20},
        headers={"Authorization": f"Bearer {secret}", "Accept-Language": "en"},
    )
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (error["field"], error["code"]) == ("history", "too_few_closed_deals")
    assert "at least 20" in error["detail"] or "至少需要 20" in error["detail"]


# --- CLI ------------------------------------------------------------------------------


def test_cli_trains_lists_scores_and_activates(session: Session, configured: str) -> None:
    build_history(session, deals=10)
    refused = runner.invoke(app, ["forecast", "train", "--json"])
    assert refused.exit_code == 2 and "too_few" not in refused.output and "closed deals" in refused.output
    assert runner.invoke(app, ["forecast", "score"]).exit_code == 2  # no model yet
    session.rollback()
    build_history_more(session)
    trained_once = runner.invoke(app, ["forecast", "train", "--seed", "3", "--n-estimators", "20", "--json"])
    assert trained_once.exit_code == 0, trained_once.output
    document = json.loads(trained_once.stdout)
    assert document["version"] == 1 and document["is_active"] and document["trigger"] == "on_demand"
    assert runner.invoke(app, ["forecast", "train", "--n-estimators", "20", "--no-activate"]).exit_code == 0
    models = json.loads(runner.invoke(app, ["forecast", "models", "--json"]).stdout)
    assert [(m["version"], m["is_active"]) for m in models] == [(2, False), (1, True)]
    assert runner.invoke(app, ["forecast", "activate", "2"]).exit_code == 0
    assert runner.invoke(app, ["forecast", "activate", "5"]).exit_code == 1
    scored = runner.invoke(app, ["forecast", "score", "--json"])
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.stdout)
    assert result["model_version"] == 2 and result["scored"] == len(result["deals"]) > 0
    assert all(d["drivers"] and d["drivers"][0]["zh"] for d in result["deals"])
    human = runner.invoke(app, ["forecast", "models"])
    assert human.exit_code == 0 and "win models" in human.output


def build_history_more(session: Session) -> None:
    """Enough closed deals (on top of the ten already there) to train on."""
    from tests.forecast.test_snapshot import deal, move, product, stage_keys

    keys = stage_keys(session)
    owner = session.scalars(select(User).where(User.email == "rep0@example.com")).one()
    account = f.account(session, name="More history")
    item = product(session, "US-9")
    start = datetime(2023, 1, 5, tzinfo=UTC)
    for i in range(40):
        opened = start + timedelta(days=6 * i)
        record = deal(
            session, opened=opened.date().isoformat(), account=account, owner_id=owner.id, product_obj=item
        )
        outcome = "won" if i % 3 == 0 else "lost"
        move(session, record, keys[outcome], (opened + timedelta(days=30 + i % 7)).date().isoformat())
    session.commit()
