"""Case matching through the services on SQLite and PostgreSQL: crm's won-deal read and its
scoping, matching for a signal and for a deal (ranking, reasons, the deal never its own
match), case-study CRUD with its events, the demo seed, and every refusal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.crm.service.won_deals import deal_facts, latest_open_amount, won_deals
from pathcast.db import utcnow
from pathcast.demo.radar_cases import CASE_STUDIES, seed_case_studies
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.radar import models as rm
from pathcast.radar.service import cases, signals, sources
from pathcast.radar.sources import content_hash
from tests import factories as f

ADMIN = f.SYSTEM
DEAD_URL = "http://127.0.0.1:9/feed.xml"
PROBLEM = "MES Pro 与 PLC 通讯协议不兼容，产线调试反复，交付延迟两周"
SIGNAL_TEXT = "恒泰精密：MES Pro 的 PLC 通讯协议兼容性问题导致交付延迟，产线停了"


@dataclass
class World:
    east_rep: Actor
    east_manager: Actor
    west_rep: Actor
    member: Actor
    admin: Actor
    won_same: int
    won_hospital: int
    won_west: int
    open_east: int
    maker_id: int
    signal_id: int


def _product(session: Session, code: str, name: str) -> int:
    product = crm.create_record(
        session, actor=ADMIN, spec=crm.SPECS["product"], data={"code": code, "name": name, "list_price": 1000}
    )
    return int(product.id)


def _deal(
    session: Session,
    who: Actor,
    *,
    name: str,
    account_id: int,
    product_ids: list[int],
    amount: int,
    description: str,
    won: bool,
    note: str | None = None,
) -> int:
    deal = f.opportunity(
        session, who, name=name, account_id=account_id, amount=amount, description=description
    )
    for product_id in product_ids:
        crm.create_record(
            session,
            actor=ADMIN,
            spec=crm.SPECS["opportunity_line"],
            data={"opportunity_id": deal.id, "product_id": product_id, "quantity": 1, "unit_price": 1000},
        )
    if note:
        f.activity(
            session, kind="note", subject="复盘", body=note, opportunity_id=deal.id, account_id=account_id
        )
    if won:
        stage = next(s for s in crm.stages_of(session, deal.pipeline_id) if s.status_class == "won")
        crm.change_stage(session, actor=ADMIN, opportunity=deal, to_stage_id=stage.id)
    return int(deal.id)


def build_world(session: Session, people: dict[str, Any] | None = None) -> World:
    """East (a rep and a manager) and West (a rep) each with a manufacturer; East also a
    hospital. Won deals in both teams, an open East deal, and a signal about the maker.
    ``people`` (east_rep, east_manager, west_rep, member, admin) default to ``two_teams``."""
    people = people or f.two_teams(session)
    f.pipeline(session)
    east_rep, west_rep = f.actor(people["east_rep"]), f.actor(people["west_rep"])
    mes = _product(session, "MES-PRO", "MES Pro")
    gateway = _product(session, "PLC-GW", "PLC Gateway")
    catheter = _product(session, "CATH-01", "导管套装")
    maker = f.account(session, name="恒泰精密制造有限公司", industry="制造业", owner_id=east_rep.user_id)
    hospital = f.account(session, name="华东医院", industry="医疗", owner_id=east_rep.user_id)
    west_maker = f.account(session, name="西岭电子有限公司", industry="制造业", owner_id=west_rep.user_id)
    won_hospital = _deal(
        session, east_rep, name="导管年度采购", account_id=hospital.id, product_ids=[catheter],
        amount=50000, description="导丝通过性和供货稳定性", won=True,
    )  # fmt: skip
    won_same = _deal(
        session, east_rep, name="恒泰产线 MES 一期", account_id=maker.id, product_ids=[mes, gateway],
        amount=1000000, description=PROBLEM, won=True, note="客户最关心通讯协议和交付周期",
    )  # fmt: skip
    won_west = _deal(
        session, west_rep, name="西岭 MES", account_id=west_maker.id, product_ids=[mes],
        amount=1000000, description=PROBLEM, won=True,
    )  # fmt: skip
    open_east = _deal(
        session, east_rep, name="恒泰产线 MES 二期", account_id=maker.id, product_ids=[mes],
        amount=1200000, description="二期：PLC 通讯协议兼容，避免交付延迟", won=False,
    )  # fmt: skip
    source = sources.create_source(
        session, actor=ADMIN, name="工控论坛", kind="rss", config={"url": DEAD_URL}
    )
    item = rm.Item(
        source_id=source.id,
        external_id="1",
        url="https://forum.example.com/t/1",
        title="MES 兼容性投诉",
        text=SIGNAL_TEXT,
        lang="zh",
        content_hash=content_hash("MES 兼容性投诉", SIGNAL_TEXT),
        published_at=utcnow(),
        fetched_at=utcnow(),
        extra={},
    )
    session.add(item)
    session.flush()
    signals.analyse_items(session, actor=ADMIN, item_ids=[item.id])
    session.flush()
    return World(
        east_rep=east_rep,
        east_manager=f.actor(people["east_manager"]),
        west_rep=west_rep,
        member=f.actor(people["member"]),
        admin=f.actor(people["admin"]),
        won_same=won_same,
        won_hospital=won_hospital,
        won_west=won_west,
        open_east=open_east,
        maker_id=maker.id,
        signal_id=item.id,
    )


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def events_of(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


# --- crm's read -------------------------------------------------------------------------------


def test_won_deals_respect_scoping(session: Session, world: World) -> None:
    east = won_deals(session, world.east_rep)
    ids = [deal.opportunity_id for deal in east]
    # East's two won deals, newest close first; West's won deal and the open deal never
    assert ids == [world.won_same, world.won_hospital]
    west_ids = [deal.opportunity_id for deal in won_deals(session, world.west_rep)]
    assert west_ids == [world.won_west]
    admin_ids = {deal.opportunity_id for deal in won_deals(session, world.admin)}
    assert admin_ids == {world.won_same, world.won_hospital, world.won_west}
    assert won_deals(session, world.member) == []


def test_won_deal_carries_products_amount_and_notes(session: Session, world: World) -> None:
    deal = next(d for d in won_deals(session, world.east_rep) if d.opportunity_id == world.won_same)
    assert deal.products == ("MES Pro", "PLC Gateway")
    assert deal.amount == 1000000.0 and isinstance(deal.amount, float)
    assert deal.industry == "制造业" and deal.account_name == "恒泰精密制造有限公司"
    assert deal.closed_at is not None
    assert "通讯协议" in deal.description
    assert "交付周期" in deal.notes and len(deal.notes) <= 2000
    assert won_deals(session, world.admin, limit=1)[0].opportunity_id == world.won_west


def test_deal_facts_and_open_amount_are_scoped(session: Session, world: World) -> None:
    assert deal_facts(session, world.east_rep, world.open_east).amount == 1200000.0
    with pytest.raises(NotFound):
        deal_facts(session, world.west_rep, world.open_east)
    assert latest_open_amount(session, world.east_rep, world.maker_id) == 1200000.0
    # West cannot read East's open deal: its amount is never used (nor shown in a reason)
    assert latest_open_amount(session, world.west_rep, world.maker_id) is None


# --- matching ---------------------------------------------------------------------------------


def test_deal_matches_same_industry_and_product_first(session: Session, world: World) -> None:
    matches = cases.cases_for_deal(session, world.east_rep, world.open_east)
    assert [(m.kind, m.id) for m in matches][:1] == [("won_deal", world.won_same)]
    best = matches[0]
    assert best.link == f"/opportunities/{world.won_same}"
    assert best.parts["industry"] == 1.0 and best.parts["products"] == 1.0
    zh = " ".join(r["zh"] for r in best.reasons)
    en = " ".join(r["en"] for r in best.reasons)
    assert "同行业" in zh and "相同产品：MES Pro" in zh and "规模相近" in zh
    assert "same industry" in en and "shares products: MES Pro" in en
    assert all(0 < m.score <= 1 for m in matches)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    # West's identical won deal is another team's: never a case for East
    assert world.won_west not in {m.id for m in matches if m.kind == "won_deal"}


def test_deal_is_never_its_own_match(session: Session, world: World) -> None:
    matches = cases.cases_for_deal(session, world.east_rep, world.won_same, top=10)
    assert world.won_same not in {m.id for m in matches if m.kind == "won_deal"}


def test_deal_matching_refusals(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        cases.cases_for_deal(session, world.west_rep, world.open_east)
    with pytest.raises(NotFound):
        cases.cases_for_deal(session, world.east_rep, 999999)
    with pytest.raises(PermissionDenied):
        cases.cases_for_deal(session, world.member, world.open_east)
    with pytest.raises(InvalidInput) as refused:
        cases.cases_for_deal(session, world.east_rep, world.open_east, top=0)
    assert refused.value.errors[0].field == "top"


def test_signal_matches_won_deal_and_case_study(session: Session, world: World) -> None:
    study = cases.add_case_study(
        session,
        actor=world.east_manager,
        data={
            "title": "PLC 协议统一案例",
            "industry": "manufacturing",
            "products": ["MES Pro"],
            "text": PROBLEM,
        },
    )
    archived = cases.add_case_study(
        session,
        actor=world.east_manager,
        data={"title": "旧案例", "industry": "manufacturing", "products": ["MES Pro"], "text": PROBLEM},
    )
    cases.archive_case_study(session, actor=world.east_manager, case_id=archived.id)
    query = cases.signal_query(session, world.east_rep, world.signal_id)
    assert "MES Pro" in query.products and query.amount == 1200000.0
    matches = cases.cases_for_signal(session, world.east_rep, world.signal_id)
    found = {(m.kind, m.id) for m in matches}
    assert ("won_deal", world.won_same) in found and ("case_study", study.id) in found
    assert ("case_study", archived.id) not in found
    assert world.won_west not in {m.id for m in matches if m.kind == "won_deal"}
    # the same-industry, same-product deal outranks the hospital deal
    order = [(m.kind, m.id) for m in matches]
    if ("won_deal", world.won_hospital) in found:
        assert order.index(("won_deal", world.won_same)) < order.index(("won_deal", world.won_hospital))
    shown = next(m for m in matches if m.kind == "case_study")
    assert shown.link == f"/radar/cases#case-{study.id}" and shown.reasons


def test_signal_matching_is_scoped(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        cases.cases_for_signal(session, world.west_rep, world.signal_id)
    with pytest.raises(PermissionDenied):
        cases.cases_for_signal(session, world.member, world.signal_id)


def test_nothing_to_match_is_empty(session: Session) -> None:
    people = f.two_teams(session)
    f.pipeline(session)
    rep = f.actor(people["east_rep"])
    deal = f.opportunity(session, rep, name="孤立商机", amount=1000)
    assert cases.cases_for_deal(session, rep, deal.id) == []


# --- case studies -----------------------------------------------------------------------------


def test_case_study_crud_appends_events(session: Session, world: World) -> None:
    manager = world.east_manager
    study = cases.add_case_study(
        session,
        actor=manager,
        data={
            "title": "  Line upgrade  ",
            "industry": "制造业",
            "products": ["MES Pro", " MES  Pro ", "", "PLC Gateway"],
            "amount": 800000,
            "text": "problem and solution",
            "url": "https://example.com/cases/1",
            "account_id": world.maker_id,
        },
    )
    assert study.title == "Line upgrade" and study.products == ["MES Pro", "PLC Gateway"]
    assert study.created_by == manager.user_id
    added = events_of(session, "radar.case_study_added")
    assert len(added) == 1 and added[0].entity == "radar_case_study" and added[0].entity_id == str(study.id)
    assert added[0].payload["after"]["title"] == "Line upgrade"

    cases.update_case_study(session, actor=manager, case_id=study.id, changes={"amount": 900000, "url": None})
    changed = events_of(session, "radar.case_study_changed")
    assert len(changed) == 1
    assert changed[0].payload["fields"] == ["amount", "url"]
    assert (
        changed[0].payload["before"]["amount"] == 800000 and changed[0].payload["after"]["amount"] == 900000
    )
    # nothing changed: nothing logged
    cases.update_case_study(session, actor=manager, case_id=study.id, changes={"title": "Line upgrade"})
    assert len(events_of(session, "radar.case_study_changed")) == 1

    reps_view = cases.list_case_studies(session, actor=world.east_rep)
    assert [s.id for s in reps_view] == [study.id]
    assert cases.get_case_study(session, actor=world.west_rep, case_id=study.id).title == "Line upgrade"

    cases.archive_case_study(session, actor=world.admin, case_id=study.id)
    cases.archive_case_study(session, actor=world.admin, case_id=study.id)
    assert len(events_of(session, "radar.case_study_archived")) == 1
    assert cases.list_case_studies(session, actor=world.east_rep) == []
    assert [s.id for s in cases.list_case_studies(session, actor=manager, include_archived=True)] == [
        study.id
    ]


def test_case_study_refusals(session: Session, world: World) -> None:
    study = cases.add_case_study(session, actor=world.admin, data={"title": "A case"})
    with pytest.raises(PermissionDenied):
        cases.add_case_study(session, actor=world.east_rep, data={"title": "mine"})
    with pytest.raises(PermissionDenied):
        cases.update_case_study(session, actor=world.east_rep, case_id=study.id, changes={"title": "x"})
    with pytest.raises(PermissionDenied):
        cases.archive_case_study(session, actor=world.east_rep, case_id=study.id)
    with pytest.raises(PermissionDenied):
        cases.list_case_studies(session, actor=world.member)
    customer = Actor(user_id=None, role=Role.customer_contact, account_id=world.maker_id)
    with pytest.raises(PermissionDenied):
        cases.get_case_study(session, actor=customer, case_id=study.id)
    with pytest.raises(NotFound):
        cases.update_case_study(session, actor=world.admin, case_id=999999, changes={"title": "x"})
    assert events_of(session, "radar.case_study_changed") == []


def test_bad_input_names_each_field(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as refused:
        cases.add_case_study(
            session,
            actor=world.east_manager,
            data={
                "title": "   ",
                "industry": "x" * 61,
                "products": "MES Pro",
                "amount": -1,
                "url": "javascript:alert(1)",
                "colour": "red",
            },
        )
    fields = {error.field for error in refused.value.errors}
    assert fields == {"title", "industry", "products", "amount", "url", "colour"}
    # West's manager cannot tie a case study to an East account they cannot see
    with pytest.raises(InvalidInput) as hidden:
        people_west = Actor(user_id=None, role=Role.manager, team_id=-5)
        cases.add_case_study(session, actor=people_west, data={"title": "t", "account_id": world.maker_id})
    assert hidden.value.errors[0].field == "account_id"
    assert hidden.value.errors[0].code == "unknown_reference"
    assert events_of(session, "radar.case_study_added") == []


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*cases.CASE_FIELDS, "other"]),
        st.none()
        | st.text()
        | st.integers()
        | st.floats()
        | st.booleans()
        | st.lists(st.text() | st.integers(), max_size=60),
    )
)
def test_checking_any_input_only_raises_invalid_input(data: dict[str, Any]) -> None:
    data.pop("account_id", None)  # the only field that reads the database
    try:
        clean = cases._clean(cast(Session, None), ADMIN, data, partial=True)
    except InvalidInput as refused:
        assert refused.errors and all(error.field for error in refused.errors)
    else:
        assert set(clean) <= set(cases.CASE_FIELDS)


def test_demo_seed_adds_case_studies_once(session: Session) -> None:
    assert seed_case_studies(session, ADMIN) == len(CASE_STUDIES) >= 6
    assert seed_case_studies(session, ADMIN) == 0
    studies = cases.list_case_studies(session, actor=ADMIN)
    assert {s.industry for s in studies} <= {"manufacturing", "medical_devices", "software"}
    assert len(events_of(session, "radar.case_study_added")) == len(CASE_STUDIES)
