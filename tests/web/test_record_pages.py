"""Record pages (account, contact, opportunity) and editing fields in place, through the
real application on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.db import unit_of_work
from pathcast.events import Event
from tests import factories as f
from tests.web.test_pages import csrf_of, log_in

DEAL = "协和医院 DSA 介入项目"
HTMX = {"HX-Request": "true"}


@dataclass
class World:
    rep_id: int
    account_id: int
    contact_id: int
    own_contact_id: int
    deal_id: int
    teammate_deal_id: int
    west_deal_id: int
    task_id: int
    proposal_stage_id: int


def build_world(session: Session) -> World:
    """East: a rep (Chinese UI) with a deal on a hospital account (contact, product line,
    quote, an open task), a teammate with a deal of their own and a manager; West: a rep
    with a deal."""
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east)
    mate = f.user(session, "mate@example.com", team_obj=east)
    f.user(session, "boss@example.com", role=Role.manager, team_obj=east)
    west_rep = f.user(session, "west@example.com", team_obj=west)
    account = f.account(session, name="北京协和医院", city="北京")
    contact = crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["contact"],
        data={"account_id": account.id, "name": "王主任", "title": "介入科主任"},
    )
    own_contact = crm.create_record(
        session,
        actor=f.actor(rep),
        spec=crm.SPECS["contact"],
        data={"account_id": account.id, "name": "李工程师", "email": "li@example.com"},
    )
    deal = f.opportunity(
        session,
        f.actor(rep),
        name=DEAL,
        account_id=account.id,
        contact_id=contact.id,
        expected_close_date=date.today() + timedelta(days=30),
    )
    crm.update_opportunity(session, actor=f.actor(rep), opportunity=deal, changes={"amount": Decimal(150000)})
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    crm.change_stage(session, actor=f.actor(rep), opportunity=deal, to_stage_id=stages["qualified"].id)
    product = crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["product"],
        data={"code": "DSA-7", "name": "DSA 血管造影系统", "list_price": Decimal(90000)},
    )
    crm.create_record(
        session,
        actor=f.actor(rep),
        spec=crm.SPECS["opportunity_line"],
        data={
            "opportunity_id": deal.id,
            "product_id": product.id,
            "quantity": 2,
            "unit_price": Decimal(75000),
        },
    )
    crm.create_quote(session, actor=f.actor(rep), data={"opportunity_id": deal.id, "number": "Q-2026-001"})
    crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["ticket"],
        data={
            "account_id": account.id,
            "subject": "造影机报警",
            "severity": "high",
            "opened_at": datetime(2026, 1, 5, tzinfo=UTC),
        },
    )
    task = crm.create_record(
        session,
        actor=f.actor(rep),
        spec=crm.SPECS["activity"],
        data={
            "kind": "task",
            "subject": "回访王主任",
            "opportunity_id": deal.id,
            "account_id": account.id,
            "due_at": datetime.now(UTC) - timedelta(days=2),
        },
    )
    mate_deal = f.opportunity(session, f.actor(mate), name="同事的商机", account_id=account.id)
    west_deal = f.opportunity(session, f.actor(west_rep), name="West only deal")
    session.commit()
    return World(
        rep_id=rep.id,
        account_id=account.id,
        contact_id=contact.id,
        own_contact_id=own_contact.id,
        deal_id=deal.id,
        teammate_deal_id=mate_deal.id,
        west_deal_id=west_deal.id,
        task_id=task.id,
        proposal_stage_id=stages["proposal"].id,
    )


def set_locale(email: str, locale: str) -> None:
    with unit_of_work() as db:
        user = db.scalars(select(User).where(User.email == email)).one()
        auth_service.update_user(db, actor=f.SYSTEM, user=user, changes={"locale": locale})


def event_count(entity: str, entity_id: int) -> int:
    with unit_of_work(write=False) as db:
        return int(
            db.scalar(select(func.count()).where(Event.entity == entity, Event.entity_id == str(entity_id)))
            or 0
        )


def oob_section(html: str, section_id: str) -> str:
    """The out-of-band section ``section_id`` of an htmx answer."""
    found = re.search(rf'<section[^>]*id="{section_id}"[^>]*hx-swap-oob="true".*?</section>', html, re.S)
    assert found, f"no out-of-band #{section_id} in the answer"
    return found.group(0)


@pytest.fixture
def world(configured: str, session: Session) -> World:
    return build_world(session)


@pytest.fixture
def client(configured: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def save_field(
    client: TestClient,
    token: str | None,
    entity: str,
    record_id: int,
    name: str,
    value: str,
    *,
    htmx: bool = True,
) -> httpx.Response:
    data = {name: value} | ({"csrf_token": token} if token is not None else {})
    return client.post(
        f"/records/{entity}/{record_id}/fields/{name}",
        data=data,
        headers=HTMX if htmx else {},
        follow_redirects=False,
    )


# --- opportunity page ------------------------------------------------------------------------


def test_opportunity_page_shows_fields_related_records_and_a_stage_chart(
    client: TestClient, world: World
) -> None:
    log_in(client)
    page = client.get(f"/opportunities/{world.deal_id}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/accounts/{world.account_id}"' in text and f'href="/contacts/{world.contact_id}"' in text
    assert 'data-testid="edit-amount"' in text and 'data-testid="edit-stage_id"' in text
    assert 'data-testid="edit-owner_id"' not in text  # shown, not editable here
    assert "DSA 血管造影系统" in text and "150,000.00 CNY" in text  # the product line: 2 × 75,000
    assert "Q-2026-001" in text and "回访王主任" in text
    found = re.search(r'<script type="application/json" id="stage-chart-data">(.*?)</script>', text)
    assert found, "no stage chart data"
    chart = json.loads(found.group(1))
    assert chart["stages"][:2] == ["线索", "已验证"] and chart["locale"] == "ZH"
    assert [point["value"][1] for point in chart["points"]] == [0, 1, 1]
    assert "/static/vendor/echarts/echarts.min.js" in text and "/static/records.js" in text


def test_inline_edit_of_the_amount_saves_it_with_its_event(client: TestClient, world: World) -> None:
    token = log_in(client)
    form = client.get(f"/records/opportunity/{world.deal_id}/fields/amount/edit", headers=HTMX)
    assert form.status_code == 200
    assert (
        'name="amount"' in form.text and 'value="150000.00"' in form.text and 'name="csrf_token"' in form.text
    )
    before = event_count("opportunity", world.deal_id)
    saved = save_field(client, token, "opportunity", world.deal_id, "amount", "180,000")
    assert saved.status_code == 200, saved.text
    html = saved.text
    assert 'id="field-amount"' in html and "180,000.00 CNY" in html and 'data-testid="edit-amount"' in html
    timeline = oob_section(html, "timeline")
    assert timeline.index("金额变更") < timeline.index("创建商机")
    assert "150,000.00" in timeline and "180,000.00" in timeline
    assert event_count("opportunity", world.deal_id) == before + 1
    with unit_of_work(write=False) as db:
        deal = db.get(m.Opportunity, world.deal_id)
        assert deal is not None and deal.amount == Decimal("180000.00")
        event = db.scalars(
            select(Event)
            .where(Event.entity == "opportunity", Event.entity_id == str(world.deal_id))
            .order_by(Event.id.desc())
        ).first()
        assert event is not None and event.type == "opportunity.amount_changed"
        assert event.actor == f"user:{world.rep_id}"
        assert event.payload["before"] == {"amount": "150000.00"} and event.payload["after"] == {
            "amount": "180000.00"
        }
    # the same value again is no change and no event
    assert save_field(client, token, "opportunity", world.deal_id, "amount", "180000").status_code == 200
    assert event_count("opportunity", world.deal_id) == before + 1


def test_a_bad_value_is_refused_with_a_message_in_the_users_language(
    client: TestClient, world: World
) -> None:
    token = log_in(client)
    before = event_count("opportunity", world.deal_id)
    refused = save_field(client, token, "opportunity", world.deal_id, "amount", "一百万")
    assert refused.status_code == 422
    assert 'data-testid="error-amount"' in refused.text
    assert "请输入数字" in refused.text and 'aria-invalid="true"' in refused.text
    assert 'value="一百万"' in refused.text  # the input keeps what was typed
    date_refused = save_field(
        client, token, "opportunity", world.deal_id, "expected_close_date", "2026-13-45"
    )
    assert date_refused.status_code == 422 and "请输入有效的日期" in date_refused.text
    set_locale("rep@example.com", "en")
    english = save_field(client, token, "opportunity", world.deal_id, "amount", "-5")
    assert english.status_code == 422
    assert "Enter a value of at least 0." in english.text
    too_precise = save_field(client, token, "opportunity", world.deal_id, "amount", "1.005")
    assert "Use at most 2 decimal places." in too_precise.text
    empty_name = save_field(client, token, "opportunity", world.deal_id, "name", "  ")
    assert empty_name.status_code == 422 and "This field is required." in empty_name.text
    bad_date = save_field(client, token, "opportunity", world.deal_id, "expected_close_date", "2026-13-45")
    assert "Enter a real date as YYYY-MM-DD" in bad_date.text
    assert event_count("opportunity", world.deal_id) == before
    with unit_of_work(write=False) as db:
        deal = db.get(m.Opportunity, world.deal_id)
        assert deal is not None and deal.amount == Decimal("150000.00") and deal.name == DEAL


def test_moving_the_stage_in_place_records_history_and_updates_the_chart(
    client: TestClient, world: World
) -> None:
    token = log_in(client)
    saved = save_field(client, token, "opportunity", world.deal_id, "stage_id", str(world.proposal_stage_id))
    assert saved.status_code == 200, saved.text
    html = saved.text
    assert "报价" in html
    panel = oob_section(html, "stage-history-panel")
    chart = json.loads(re.search(r'id="stage-chart-data">(.*?)</script>', panel, re.S).group(1))  # type: ignore[union-attr]
    assert [point["value"][1] for point in chart["points"]] == [0, 1, 4, 4]
    assert "阶段变更" in oob_section(html, "timeline")
    with unit_of_work(write=False) as db:
        history = crm.stage_history(db, world.deal_id)
        assert [row.to_stage_id for row in history][-1] == world.proposal_stage_id
    unknown = save_field(client, token, "opportunity", world.deal_id, "stage_id", "999999")
    assert unknown.status_code == 422 and "请从列出的选项中选择" in unknown.text


def test_a_rep_sees_a_teammates_deal_without_edit_controls_and_cannot_post(
    client: TestClient, world: World
) -> None:
    token = log_in(client)
    page = client.get(f"/opportunities/{world.teammate_deal_id}")
    assert page.status_code == 200 and "同事的商机" in page.text
    assert 'data-testid="edit-' not in page.text and 'data-testid="read-only"' in page.text
    assert (
        client.get(
            f"/records/opportunity/{world.teammate_deal_id}/fields/amount/edit", headers=HTMX
        ).status_code
        == 403
    )
    refused = save_field(client, token, "opportunity", world.teammate_deal_id, "amount", "1")
    assert refused.status_code == 403
    with unit_of_work(write=False) as db:
        deal = db.get(m.Opportunity, world.teammate_deal_id)
        assert deal is not None and deal.amount == Decimal("120000.00")


def test_another_teams_records_are_404(client: TestClient, world: World) -> None:
    token = log_in(client, "west@example.com")
    assert client.get(f"/opportunities/{world.deal_id}").status_code == 404
    assert (
        client.get(f"/records/opportunity/{world.deal_id}/fields/amount/edit", headers=HTMX).status_code
        == 404
    )
    assert save_field(client, token, "opportunity", world.deal_id, "amount", "1").status_code == 404
    assert client.get(f"/contacts/{world.own_contact_id}").status_code == 200  # the account is shared
    assert client.get(f"/opportunities/{world.west_deal_id}").status_code == 200
    assert client.get("/records/pipeline/1/fields/name/edit").status_code == 404
    assert client.get(f"/records/opportunity/{world.west_deal_id}/fields/owner_id/edit").status_code == 404


def test_the_manager_may_edit_the_teams_deals(client: TestClient, world: World) -> None:
    token = log_in(client, "boss@example.com")
    page = client.get(f"/opportunities/{world.teammate_deal_id}")
    assert 'data-testid="edit-amount"' in page.text
    saved = save_field(client, token, "opportunity", world.teammate_deal_id, "lead_source", "展会")
    assert saved.status_code == 200 and "展会" in saved.text


def test_posts_without_the_csrf_token_are_refused(client: TestClient, world: World) -> None:
    log_in(client)
    assert save_field(client, None, "opportunity", world.deal_id, "amount", "1").status_code == 403
    assert save_field(client, "forged", "opportunity", world.deal_id, "amount", "1").status_code == 403
    with unit_of_work(write=False) as db:
        deal = db.get(m.Opportunity, world.deal_id)
        assert deal is not None and deal.amount == Decimal("150000.00")


def test_without_htmx_a_save_redirects_and_a_refusal_shows_a_page(client: TestClient, world: World) -> None:
    token = log_in(client)
    form = client.get(f"/records/opportunity/{world.deal_id}/fields/lead_source/edit")
    assert form.status_code == 200 and "<html" in form.text and 'name="lead_source"' in form.text
    saved = save_field(client, token, "opportunity", world.deal_id, "lead_source", "官网", htmx=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/opportunities/{world.deal_id}#field-lead_source"
    refused = save_field(client, token, "opportunity", world.deal_id, "amount", "x", htmx=False)
    assert refused.status_code == 422 and "<html" in refused.text and "请输入数字" in refused.text
    cancel = client.get(f"/records/opportunity/{world.deal_id}/fields/amount", headers=HTMX)
    assert cancel.status_code == 200 and "150,000.00 CNY" in cancel.text


# --- account and contact pages ---------------------------------------------------------------


def test_account_page_lists_contacts_deals_tickets_and_activities(client: TestClient, world: World) -> None:
    token = log_in(client)
    page = client.get(f"/accounts/{world.account_id}")
    assert page.status_code == 200
    text = page.text
    assert f'href="/contacts/{world.contact_id}"' in text and "王主任" in text
    assert DEAL in text and "同事的商机" in text
    assert "造影机报警" in text and "高" in text
    assert "回访王主任" in text  # the deal's task is linked to the account too
    assert 'data-testid="edit-city"' in text  # a shared account is editable by a rep
    saved = save_field(client, token, "account", world.account_id, "employees", "1.5")
    assert saved.status_code == 422 and "请输入整数" in saved.text
    saved = save_field(client, token, "account", world.account_id, "tier", "key")
    assert saved.status_code == 200 and "重点客户" in saved.text
    assert "更新客户" in oob_section(saved.text, "timeline")


def test_contact_page_shows_account_deals_and_edits_in_place(client: TestClient, world: World) -> None:
    token = log_in(client)
    shared = client.get(f"/contacts/{world.contact_id}")
    assert shared.status_code == 200
    assert "王主任" in shared.text and f'href="/accounts/{world.account_id}"' in shared.text
    assert DEAL in shared.text  # the deal names this contact
    assert 'data-testid="edit-' not in shared.text  # not the rep's own contact
    own = client.get(f"/contacts/{world.own_contact_id}")
    assert 'data-testid="edit-email"' in own.text
    refused = save_field(client, token, "contact", world.own_contact_id, "email", "not-an-address")
    assert refused.status_code == 422 and "请输入邮箱地址" in refused.text
    saved = save_field(client, token, "contact", world.own_contact_id, "phone", "+86 10 6915 6114")
    assert saved.status_code == 200 and "+86 10 6915 6114" in saved.text
    timeline = oob_section(saved.text, "timeline")
    assert "更新联系人" in timeline and "电话" in timeline
    assert client.get("/contacts/999999").status_code == 404


def test_the_timeline_names_people_and_stages(client: TestClient, world: World) -> None:
    set_locale("rep@example.com", "en")
    log_in(client)
    page = client.get(f"/opportunities/{world.deal_id}")
    timeline = page.text[page.text.index('id="timeline"') :]
    assert "Stage changed" in timeline and "Lead" in timeline and "Qualified" in timeline
    assert "by rep" in timeline and "Task created" in timeline and "回访王主任" in timeline
    assert timeline.index("Task created") < timeline.index("Stage changed") < timeline.index("Deal created")
    assert csrf_of(page.text)


def test_a_customers_contact_sees_the_account_without_internal_fields_or_history(
    client: TestClient, world: World, session: Session
) -> None:
    account = session.get(m.Account, world.account_id)
    assert account is not None
    crm.update_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["account"],
        record=account,
        changes={"notes": "内部备注：价格敏感"},
    )
    f.user(session, "customer@hospital.example", role=Role.customer_contact, account_id=world.account_id)
    session.commit()
    token = log_in(client, "customer@hospital.example")
    page = client.get(f"/accounts/{world.account_id}")
    assert page.status_code == 200 and "北京协和医院" in page.text
    assert "内部备注" not in page.text and 'id="field-tier"' not in page.text
    assert 'id="timeline"' not in page.text and 'id="activities"' not in page.text
    assert 'data-testid="edit-' not in page.text and 'data-testid="read-only"' in page.text
    assert save_field(client, token, "account", world.account_id, "city", "上海").status_code == 403
    assert client.get(f"/opportunities/{world.deal_id}").status_code == 403
