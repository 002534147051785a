"""The pipeline board's queries: permission-scoped totals, filters and column pages,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.crm.service import board
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import buffered_events
from tests import factories as f


@dataclass
class World:
    people: dict[str, Any]
    stages: dict[str, m.Stage]
    pipeline_id: int
    deals: dict[str, m.Opportunity]
    products: dict[str, m.Product]

    def actor(self, key: str) -> Actor:
        person: User = self.people[key]
        return f.actor(person)


def _deal(session: Session, world_stages: dict[str, m.Stage], owner: User, **values: Any) -> m.Opportunity:
    stage = values.pop("stage", "lead")
    data = {"owner_id": owner.id, "stage_id": world_stages[stage].id} | values
    return crm.create_opportunity(session, actor=f.SYSTEM, data=data)


def _line(session: Session, deal: m.Opportunity, product: m.Product) -> None:
    crm.create_record(
        session,
        actor=f.SYSTEM,
        spec=crm.SPECS["opportunity_line"],
        data={"opportunity_id": deal.id, "product_id": product.id, "quantity": 1, "unit_price": 1000},
    )


@pytest.fixture
def world(session: Session) -> World:
    """East (manager, two reps) and West (manager, rep) teams, with deals in several
    stages, two currencies, two products and close dates in two quarters."""
    people = f.two_teams(session)
    pipeline = f.pipeline(session)
    stages = {stage.key: stage for stage in crm.stages_of(session, pipeline.id)}
    products = {
        code: crm.create_record(
            session, actor=f.SYSTEM, spec=crm.SPECS["product"], data={"code": code, "name": name}
        )
        for code, name in (("DSA", "DSA 血管造影系统"), ("PLC", "PLC controller"))
    }
    er, er2, wr = people["east_rep"], people["east_rep2"], people["west_rep"]
    q3, q4 = date(2026, 8, 10), date(2026, 11, 20)
    deals = {
        "east_lead": _deal(session, stages, er, name="East lead", amount=100, expected_close_date=q3),
        "east_lead_usd": _deal(
            session, stages, er, name="East lead USD", amount=50, currency="USD", expected_close_date=q4
        ),
        "east_lead_none": _deal(session, stages, er2, name="East lead no amount", amount=None),
        "east_proposal": _deal(
            session, stages, er2, name="East proposal", amount=300, stage="proposal", expected_close_date=q4
        ),
        "east_won": _deal(
            session, stages, er, name="East won", amount=700, stage="won", expected_close_date=q3
        ),
        "west_lead": _deal(session, stages, wr, name="West lead", amount=5000, expected_close_date=q3),
        "west_proposal": _deal(
            session, stages, wr, name="West proposal", amount=9000, stage="proposal", expected_close_date=q4
        ),
    }
    _line(session, deals["east_lead"], products["DSA"])
    _line(session, deals["east_proposal"], products["PLC"])
    _line(session, deals["east_proposal"], products["DSA"])
    _line(session, deals["west_lead"], products["DSA"])
    _line(session, deals["west_lead"], products["DSA"])  # the same product twice: still one deal
    session.commit()
    return World(people, stages, pipeline.id, deals, products)


def totals(session: Session, world: World, who: str, **filters: Any) -> dict[str, board.StageTotal]:
    found = board.stage_totals(
        session, world.actor(who), pipeline_id=world.pipeline_id, filters=board.BoardFilters(**filters)
    )
    by_key = {stage.id: key for key, stage in world.stages.items()}
    return {by_key[stage_id]: total for stage_id, total in found.items()}


def card_names(session: Session, world: World, who: str, stage: str, **filters: Any) -> list[str]:
    page = board.column_page(
        session,
        world.actor(who),
        stage=world.stages[stage],
        filters=board.BoardFilters(**filters),
    )
    return [deal.name for deal in page.items]


def test_totals_count_only_the_deals_the_viewer_may_read(session: Session, world: World) -> None:
    east = totals(session, world, "east_rep")
    assert set(east) == {"lead", "proposal", "won"}
    assert east["lead"].count == 3
    assert east["lead"].amounts == {"CNY": Decimal("100.00"), "USD": Decimal("50.00")}
    assert east["proposal"].count == 1 and east["proposal"].amounts == {"CNY": Decimal("300.00")}
    assert east["won"].amounts == {"CNY": Decimal("700.00")}
    # the manager sees the same team; West's deals are never counted for East
    assert totals(session, world, "east_manager") == east
    west = totals(session, world, "west_rep")
    assert {key: total.count for key, total in west.items()} == {"lead": 1, "proposal": 1}
    assert west["proposal"].amounts == {"CNY": Decimal("9000.00")}
    everyone = totals(session, world, "admin")
    assert everyone["lead"].count == 4
    assert everyone["lead"].amounts == {"CNY": Decimal("5100.00"), "USD": Decimal("50.00")}
    assert card_names(session, world, "east_rep", "proposal") == ["East proposal"]
    assert card_names(session, world, "admin", "proposal") == ["East proposal", "West proposal"]


def test_members_and_customers_get_no_board(session: Session, world: World) -> None:
    with pytest.raises(PermissionDenied):
        board.board_query(world.actor("member"), pipeline_id=world.pipeline_id, filters=board.BoardFilters())
    with pytest.raises(PermissionDenied):
        board.stage_totals(
            session, world.actor("member"), pipeline_id=world.pipeline_id, filters=board.BoardFilters()
        )


def test_filters_by_owner_team_product_and_quarter(session: Session, world: World) -> None:
    er2 = world.people["east_rep2"].id
    assert {k: t.count for k, t in totals(session, world, "east_rep", owner_id=er2).items()} == {
        "lead": 1,
        "proposal": 1,
    }
    west_team = world.people["west"].id
    assert {k: t.count for k, t in totals(session, world, "admin", team_id=west_team).items()} == {
        "lead": 1,
        "proposal": 1,
    }
    # another team's filter shows a rep nothing rather than that team's deals
    assert totals(session, world, "east_rep", team_id=west_team) == {}
    dsa = world.products["DSA"].id
    assert card_names(session, world, "east_rep", "lead", product_id=dsa) == ["East lead"]
    assert card_names(session, world, "east_rep", "proposal", product_id=dsa) == ["East proposal"]
    assert totals(session, world, "admin", product_id=dsa)["lead"].count == 2  # each deal once
    plc = world.products["PLC"].id
    assert set(totals(session, world, "admin", product_id=plc)) == {"proposal"}
    q4 = totals(session, world, "east_rep", quarter=(2026, 4))
    assert {k: t.count for k, t in q4.items()} == {"lead": 1, "proposal": 1}
    assert q4["lead"].amounts == {"USD": Decimal("50.00")}
    combined = totals(session, world, "admin", quarter=(2026, 3), product_id=dsa, team_id=west_team)
    assert {k: t.count for k, t in combined.items()} == {"lead": 1}
    assert totals(session, world, "admin", quarter=(2025, 1)) == {}


def test_parse_filters_reads_the_query_string_and_names_bad_values() -> None:
    parsed = board.parse_filters(owner="12", team="", product=" 3 ", quarter="2026-q4")
    assert parsed == board.BoardFilters(owner_id=12, product_id=3, quarter=(2026, 4))
    assert parsed.quarter_text == "2026-Q4"
    assert board.parse_filters(quarter="2027Q1").quarter == (2027, 1)
    assert board.quarter_dates(2026, 4) == (date(2026, 10, 1), date(2027, 1, 1))
    assert board.quarter_dates(2026, 1) == (date(2026, 1, 1), date(2026, 4, 1))
    with pytest.raises(InvalidInput) as caught:
        board.parse_filters(owner="abc", team="²", quarter="2026-Q5")
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("owner", "board_choice"),
        ("team", "board_choice"),
        ("quarter", "bad_quarter"),
    ]


def test_filter_choices_follow_the_viewer(session: Session, world: World) -> None:
    east_names = {user.name for user in board.owner_choices(session, world.actor("east_rep"))}
    assert east_names == {"em", "er", "er2"}
    admin_names = {user.name for user in board.owner_choices(session, world.actor("admin"))}
    assert {"er", "wr", "wm", "admin"} <= admin_names and "member" not in admin_names
    assert [team.name for team in board.team_choices(session, world.actor("east_rep"))] == ["East"]
    assert [team.name for team in board.team_choices(session, world.actor("admin"))] == ["East", "West"]
    assert len(board.product_choices(session)) == 2
    assert board.board_pipeline(session, None).id == world.pipeline_id
    assert board.board_pipeline(session, 99999).id == world.pipeline_id
    assert [p.id for p in board.board_pipelines(session)] == [world.pipeline_id]


def _all_pages(session: Session, actor: Actor, stage: m.Stage, limit: int) -> tuple[list[int], int]:
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = board.column_page(
            session, actor, stage=stage, filters=board.BoardFilters(), cursor=cursor, limit=limit
        )
        pages += 1
        assert len(page.items) <= limit
        seen.extend(deal.id for deal in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen, pages


def test_column_pages_cover_every_card_once_in_close_date_order(session: Session, world: World) -> None:
    rep = world.people["east_rep"]
    start = date(2026, 1, 1)
    with buffered_events(session):
        for number in range(47):
            close = None if number % 9 == 0 else start + timedelta(days=number % 5)  # many ties, some undated
            for key in ("discovery", "lost"):
                _deal(
                    session,
                    world.stages,
                    rep,
                    name=f"{key} {number}",
                    stage=key,
                    expected_close_date=close,
                )
    session.commit()
    actor = world.actor("east_rep")
    for stage_key, descending in (("discovery", False), ("lost", True)):
        stage = world.stages[stage_key]
        ids, pages = _all_pages(session, actor, stage, limit=10)
        assert pages == 5
        assert len(ids) == len(set(ids)) == 47
        deals = {deal.id: deal for deal in session.query(m.Opportunity).filter(m.Opportunity.id.in_(ids))}
        dated = [deal for deal in (deals[i] for i in ids) if deal.expected_close_date is not None]
        undated = [deal.id for deal in (deals[i] for i in ids) if deal.expected_close_date is None]
        assert ids[len(dated) :] == undated, "undated deals come last"
        keys = [(deal.expected_close_date, deal.id) for deal in dated]
        assert keys == sorted(keys, reverse=descending)
        assert undated == sorted(undated, reverse=descending)


def test_cursors_belong_to_their_column(session: Session, world: World) -> None:
    rep = world.people["east_rep"]
    for number in range(3):
        _deal(session, world.stages, rep, name=f"qualified {number}", stage="qualified")
    session.commit()
    actor = world.actor("east_rep")
    first = board.column_page(
        session, actor, stage=world.stages["qualified"], filters=board.BoardFilters(), limit=2
    )
    assert first.next_cursor is not None
    with pytest.raises(InvalidInput):
        board.column_page(
            session, actor, stage=world.stages["lead"], filters=board.BoardFilters(), cursor=first.next_cursor
        )
    with pytest.raises(InvalidInput):
        board.column_page(
            session,
            actor,
            stage=world.stages["qualified"],
            filters=board.BoardFilters(),
            cursor="not-a-cursor",
        )


def test_five_thousand_deals_give_one_page_per_column_and_exact_totals(
    session: Session, world: World
) -> None:
    """Not a timing test: the board loads one page per column, and the totals come
    from aggregates over every matching deal."""
    owners = [world.people["east_rep"], world.people["east_rep2"], world.people["west_rep"]]
    open_stages = [key for key, stage in world.stages.items() if stage.status_class == "open"]
    expected_count: Counter[str] = Counter()
    expected_amount: Counter[str] = Counter()
    account = f.account(session, name="Bulk hospital")
    with buffered_events(session):
        for number in range(5000):
            owner = owners[number % 3]
            stage = open_stages[number % len(open_stages)]
            amount = 1000 + number
            _deal(
                session,
                world.stages,
                owner,
                name=f"Bulk {number}",
                stage=stage,
                amount=amount,
                account_id=account.id,
                expected_close_date=date(2026, 1, 1) + timedelta(days=number % 365),
            )
            if owner.team_id == world.people["east"].id:
                expected_count[stage] += 1
                expected_amount[stage] += amount
    session.commit()
    # the world's own East deals (CNY) come on top
    for key in ("east_lead", "east_lead_none", "east_proposal", "east_won"):
        deal = world.deals[key]
        stage_key = next(k for k, s in world.stages.items() if s.id == deal.stage_id)
        expected_count[stage_key] += 1
        expected_amount[stage_key] += int(deal.amount or 0)
    expected_count["lead"] += 1  # East lead USD, counted; its amount is in USD

    actor = world.actor("east_rep")
    found = board.stage_totals(session, actor, pipeline_id=world.pipeline_id, filters=board.BoardFilters())
    by_key = {key: found[stage.id] for key, stage in world.stages.items() if stage.id in found}
    assert {key: total.count for key, total in by_key.items()} == dict(expected_count)
    assert {key: total.amounts["CNY"] for key, total in by_key.items()} == {
        key: Decimal(value) for key, value in expected_amount.items()
    }
    stages = crm.stages_of(session, world.pipeline_id)
    columns = board.board_columns(session, actor, stages=stages, filters=board.BoardFilters())
    for column in columns:
        total = found.get(column.stage.id)
        count = total.count if total else 0
        assert len(column.items) == min(count, board.BOARD_PAGE)
        assert (column.next_cursor is not None) == (count > board.BOARD_PAGE)
        assert all(deal.owner_id != world.people["west_rep"].id for deal in column.items)
