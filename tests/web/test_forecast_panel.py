"""The deal page's forecast panel: the model's number as a suggestion with its drivers, the
notes and the override beside the model's number, the add-a-note form, and refusals."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role
from pathcast.db import unit_of_work
from pathcast.events import Event
from pathcast.forecast.models import Annotation, DealScore
from tests import factories as f
from tests.web.test_pages import log_in
from tests.web.test_record_pages import set_locale

HTMX = {"HX-Request": "true"}
DRIVERS = [
    {
        "feature": "days_in_stage",
        "value": 80,
        "points": -9.0,
        "en": "80 days in this stage",
        "zh": "在本阶段已 80 天",
    },
    {
        "feature": "signal_qualifying_views_30d",
        "value": 3,
        "points": 12.0,
        "en": "3 qualifying views of the DSA sheet this week",
        "zh": "本周 3 次有效浏览 DSA 对比表",
    },
]


@dataclass
class World:
    deal_id: int
    unscored_id: int
    west_deal_id: int


@pytest.fixture
def world(configured: str, session: Session) -> World:
    """East: rep (Wang Li, owner of two deals, one scored), teammate, manager; West: a rep;
    a delivery member."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    auth_service.update_user(session, actor=f.SYSTEM, user=rep, changes={"name": "Wang Li"})
    f.user(session, "mate@example.com", team_obj=east)
    f.user(session, "boss@example.com", role=Role.manager, team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    f.user(session, "member@example.com", role=Role.member)
    deal = f.opportunity(session, f.actor(rep), name="协和医院 DSA 介入项目")
    unscored = f.opportunity(session, f.actor(rep), name="未评分的商机")
    west_deal = f.opportunity(session, f.actor(west_rep), name="West only deal")
    session.add(
        DealScore(
            opportunity_id=deal.id,
            model_version=3,
            scored_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
            probability=0.42,
            drivers=DRIVERS,
        )
    )
    session.commit()
    return World(deal.id, unscored.id, west_deal.id)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def panel(client: TestClient, deal_id: int) -> httpx.Response:
    return client.get(f"/opportunities/{deal_id}/forecast-panel", headers=HTMX)


def post_note(client: TestClient, token: str | None, deal_id: int, **values: str) -> httpx.Response:
    data = values | ({"csrf_token": token} if token is not None else {})
    return client.post(
        f"/opportunities/{deal_id}/forecast-panel/annotations",
        data=data,
        headers=HTMX,
        follow_redirects=False,
    )


def notes_of(deal_id: int) -> int:
    with unit_of_work(write=False) as db:
        return int(
            db.scalar(
                select(func.count()).select_from(Annotation).where(Annotation.opportunity_id == deal_id)
            )
            or 0
        )


def test_the_deal_page_loads_the_panel_which_shows_the_model_as_a_suggestion(
    client: TestClient, world: World
) -> None:
    log_in(client)
    page = client.get(f"/opportunities/{world.deal_id}")
    assert f'hx-get="/opportunities/{world.deal_id}/forecast-panel"' in page.text
    answer = panel(client, world.deal_id)
    assert answer.status_code == 200
    html = answer.text
    assert html.lstrip().startswith('<section id="forecast-panel" class="panel')
    assert "模型建议" in html and "42%" in html and "v3" in html
    # drivers in the viewer's language, largest first
    assert html.index("本周 3 次有效浏览 DSA 对比表") < html.index("在本阶段已 80 天")
    assert "+12" in html and "-9" in html
    assert 'data-testid="no-annotations"' in html and 'data-testid="annotation-form"' in html
    assert 'name="csrf_token"' in html


def test_a_deal_without_a_score_says_so(client: TestClient, world: World) -> None:
    log_in(client)
    answer = panel(client, world.unscored_id)
    assert answer.status_code == 200
    assert 'data-testid="no-score"' in answer.text and "尚无模型评分" in answer.text


def test_a_note_with_an_override_shows_beside_the_models_number(client: TestClient, world: World) -> None:
    token = log_in(client)
    saved = post_note(
        client,
        token,
        world.deal_id,
        note="该客户正参与卫健委集采评审",
        override_probability="70",
        override_category="commit",
    )
    assert saved.status_code == 200, saved.text
    html = saved.text
    assert html.lstrip().startswith('<section id="forecast-panel"')
    assert "该客户正参与卫健委集采评审" in html and "Wang Li" in html
    assert "Wang Li的调整：70% · 承诺（模型：42%）" in html
    assert notes_of(world.deal_id) == 1
    with unit_of_work(write=False) as db:
        event = db.scalars(select(Event).where(Event.type == "forecast.annotation_added")).one()
        assert event.entity_id == str(world.deal_id) and event.payload["override_probability"] == 0.7
    set_locale("rep@example.com", "en")
    english = panel(client, world.deal_id).text
    assert "Model suggestion" in english and "Override by Wang Li: 70% · Commit (model: 42%)" in english
    assert "3 qualifying views of the DSA sheet this week" in english


def test_the_author_withdraws_a_note_from_the_panel(client: TestClient, world: World) -> None:
    token = log_in(client)
    post_note(client, token, world.deal_id, note="预算冻结", override_probability="10")
    with unit_of_work(write=False) as db:
        note_id = db.scalars(select(Annotation.id)).one()
    shown = panel(client, world.deal_id).text
    assert f'data-testid="withdraw-{note_id}"' in shown and "的调整" in shown
    answer = client.post(
        f"/opportunities/{world.deal_id}/forecast-panel/annotations/{note_id}/withdraw",
        data={"csrf_token": token},
        headers=HTMX,
    )
    assert answer.status_code == 200
    assert "已于" in answer.text and "的调整" not in answer.text


@pytest.mark.parametrize(
    ("values", "testid", "text"),
    [
        ({"note": "  "}, "annotation-note-error", "此字段为必填项"),
        ({"note": "ok", "override_probability": "150"}, "annotation-probability-error", "0 到 100"),
        ({"note": "ok", "override_probability": "很高"}, "annotation-probability-error", "0 到 100"),
        ({"note": "ok", "override_category": "closed"}, "annotation-category-error", "不是预测类别"),
    ],
)
def test_a_bad_note_is_refused_beside_its_field(
    client: TestClient, world: World, values: dict[str, str], testid: str, text: str
) -> None:
    token = log_in(client)
    refused = post_note(client, token, world.deal_id, **values)
    assert refused.status_code == 422
    assert f'data-testid="{testid}"' in refused.text and text in refused.text
    assert 'aria-invalid="true"' in refused.text
    if values.get("override_probability"):
        assert f'value="{values["override_probability"]}"' in refused.text  # what was typed stays
    assert notes_of(world.deal_id) == 0


def test_every_problem_of_a_note_is_shown_at_once(client: TestClient, world: World) -> None:
    token = log_in(client)
    refused = post_note(
        client, token, world.deal_id, note="", override_probability="abc", override_category="x"
    )
    assert refused.status_code == 422
    for testid in ("annotation-note-error", "annotation-probability-error", "annotation-category-error"):
        assert f'data-testid="{testid}"' in refused.text
    set_locale("rep@example.com", "en")
    english = post_note(client, token, world.deal_id, note="ok", override_probability="101")
    assert english.status_code == 422 and "Enter a percentage between 0 and 100." in english.text


def test_a_post_without_the_csrf_token_is_refused(client: TestClient, world: World) -> None:
    log_in(client)
    assert post_note(client, None, world.deal_id, note="偷偷写").status_code == 403
    assert notes_of(world.deal_id) == 0


def test_a_teammate_sees_the_panel_without_the_form_and_may_not_post(
    client: TestClient, world: World
) -> None:
    token = log_in(client, "mate@example.com")
    shown = panel(client, world.deal_id)
    assert shown.status_code == 200 and 'data-testid="annotation-form"' not in shown.text
    assert post_note(client, token, world.deal_id, note="不是我的商机").status_code == 403
    assert notes_of(world.deal_id) == 0


def test_a_teammate_may_not_withdraw_the_reps_note_but_the_manager_may(
    client: TestClient, world: World
) -> None:
    post_note(client, log_in(client), world.deal_id, note="竞品低价")
    with unit_of_work(write=False) as db:
        note_id = db.scalars(select(Annotation.id)).one()
    url = f"/opportunities/{world.deal_id}/forecast-panel/annotations/{note_id}/withdraw"
    with TestClient(create_app()) as other:
        mate = log_in(other, "mate@example.com")
        assert f'data-testid="withdraw-{note_id}"' not in panel(other, world.deal_id).text
        assert other.post(url, data={"csrf_token": mate}, headers=HTMX).status_code == 403
    with TestClient(create_app()) as other:
        boss = log_in(other, "boss@example.com")
        assert other.post(url, data={"csrf_token": boss}, headers=HTMX).status_code == 200
    with unit_of_work(write=False) as db:
        withdrawn = db.get(Annotation, note_id)
        assert withdrawn is not None and withdrawn.withdrawn_at is not None


def test_the_manager_annotates_a_team_deal(client: TestClient, world: World) -> None:
    token = log_in(client, "boss@example.com")
    assert post_note(client, token, world.deal_id, note="经理：决策人支持").status_code == 200
    assert notes_of(world.deal_id) == 1


def test_another_teams_deal_is_not_found(client: TestClient, world: World) -> None:
    token = log_in(client, "west@example.com")
    assert panel(client, world.deal_id).status_code == 404
    assert post_note(client, token, world.deal_id, note="看不到").status_code == 404
    assert panel(client, world.west_deal_id).status_code == 200


def test_a_member_gets_no_panel(client: TestClient, world: World) -> None:
    token = log_in(client, "member@example.com")
    assert panel(client, world.deal_id).status_code == 403
    assert post_note(client, token, world.deal_id, note="no").status_code == 403
    assert notes_of(world.deal_id) == 0
