"""Competitor matrix service on SQLite and PostgreSQL: upsert, edit, remove and their
events, refusals, the rows a signal shows (narrowed by the products it names), and the CSV
import (zh/en headers, bad rows reported with row number and field, the rest kept)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.demo.radar_matrix import ROWS, seed_matrix
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.radar import models as m
from pathcast.radar.service import matrix as service
from pathcast.radar.service import settings as radar_settings
from pathcast.radar.service import signals, sources
from pathcast.radar.sources import content_hash
from pathcast.radar.toolbox.matrix import to_csv
from tests import factories as f

ADMIN = f.SYSTEM
DEAD_URL = "http://127.0.0.1:9/feed.xml"


@dataclass
class World:
    manager: Actor
    rep: Actor
    west_rep: Actor
    member: Actor
    customer: Actor
    siemens: int
    inovance: int
    narrow_id: int
    broad_id: int
    none_id: int
    west_id: int


def _item(session: Session, source_id: int, key: str, text: str) -> int:
    item = m.Item(
        source_id=source_id,
        external_id=key,
        title=None,
        text=text,
        lang="zh",
        content_hash=content_hash(key, text),
        published_at=utcnow(),
        fetched_at=utcnow(),
        extra={},
    )
    session.add(item)
    session.flush()
    return item.id


@pytest.fixture
def world(session: Session) -> World:
    east, west = f.team(session, "East"), f.team(session, "West")
    rep = f.user(session, "rep@example.com", team_obj=east, password=None)
    manager = f.user(session, "manager@example.com", role=Role.manager, team_obj=east, password=None)
    west_rep = f.user(session, "west@example.com", team_obj=west, password=None)
    member = f.user(session, "member@example.com", role=Role.member, password=None)
    maker = f.account(session, name="恒泰精密制造有限公司", industry="制造业", owner_id=rep.id)
    customer = f.user(
        session, "buyer@example.com", role=Role.customer_contact, account_id=maker.id, password=None
    )
    f.account(session, name="西岭电子有限公司", industry="制造业", owner_id=west_rep.id)
    siemens = radar_settings.save_competitor(
        session, actor=ADMIN, name="西门子", aliases=["Siemens"], products=["S7-1500", "SINAMICS V90"]
    )
    inovance = radar_settings.save_competitor(session, actor=ADMIN, name="汇川技术", aliases=["Inovance"])
    forum = sources.create_source(session, actor=ADMIN, name="工控论坛", kind="rss", config={"url": DEAD_URL})
    narrow = _item(session, forum.id, "1", "恒泰精密：S7-1500 交付延迟了两周，比西门子差多了")
    broad = _item(session, forum.id, "2", "恒泰精密：西门子的售后太慢了，我们很不满意")
    none = _item(session, forum.id, "3", "恒泰精密：交付延迟了两周，我们非常不满意")
    west_item = _item(session, forum.id, "4", "西岭电子：西门子交付延迟了两周")
    signals.analyse_items(session, actor=ADMIN, item_ids=[narrow, broad, none, west_item])
    session.flush()
    return World(
        manager=f.actor(manager),
        rep=f.actor(rep),
        west_rep=f.actor(west_rep),
        member=f.actor(member),
        customer=f.actor(customer),
        siemens=siemens.id,
        inovance=inovance.id,
        narrow_id=narrow,
        broad_id=broad,
        none_id=none,
        west_id=west_item,
    )


def _events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


def _row(
    session: Session, actor: Actor, competitor_id: int, product: str, criterion: str, **values: str
) -> m.MatrixEntry:
    data = {"ours": "2 周", "theirs": "8 周", "advantage": "ours", "note": ""} | values
    return service.set_row(
        session, actor, competitor_id=competitor_id, product=product, criterion=criterion, **data
    )


# --- writing ----------------------------------------------------------------------------------


def test_set_row_upserts_on_the_normalised_key_with_events(session: Session, world: World) -> None:
    first = _row(session, world.manager, world.siemens, "PLC Gateway", "交付周期")
    again = _row(session, world.manager, world.siemens, "ＰＬＣ  gateway", "交付周期", theirs="10 周")
    assert again.id == first.id and again.theirs == "10 周" and again.product == "ＰＬＣ  gateway".strip()
    assert len(service.list_rows(session, world.rep)) == 1
    events = _events(session, "radar.matrix_row_set")
    assert len(events) == 2
    assert events[0].payload["before"] is None and events[0].payload["after"]["theirs"] == "8 周"
    assert events[1].payload["before"]["theirs"] == "8 周" and events[1].payload["after"]["theirs"] == "10 周"
    assert events[1].entity_id == str(first.id) and events[1].actor == world.manager.label
    # the same values again change nothing and log nothing
    _row(session, world.manager, world.siemens, "ＰＬＣ  gateway", "交付周期", theirs="10 周")
    assert len(_events(session, "radar.matrix_row_set")) == 2


def test_edit_by_row_id_renames_but_refuses_a_taken_key(session: Session, world: World) -> None:
    lead = _row(session, world.manager, world.siemens, "PLC", "交付周期")
    price = _row(session, world.manager, world.siemens, "PLC", "价格")
    service.set_row(
        session,
        world.manager,
        competitor_id=world.siemens,
        row_id=lead.id,
        product="PLC",
        criterion="交期",
        ours="2 周",
        theirs="8 周",
    )
    assert lead.criterion == "交期"
    with pytest.raises(InvalidInput) as raised:
        service.set_row(
            session,
            world.manager,
            competitor_id=world.siemens,
            row_id=price.id,
            product="plc",
            criterion="交期",
            ours="",
            theirs="",
        )
    assert [e.field for e in raised.value.errors] == ["criterion"]
    with pytest.raises(NotFound):
        service.set_row(
            session,
            world.manager,
            competitor_id=world.inovance,
            row_id=price.id,
            product="PLC",
            criterion="x",
            ours="",
            theirs="",
        )


def test_bad_values_name_their_fields(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput) as raised:
        service.set_row(
            session,
            world.manager,
            competitor_id=world.siemens,
            product=" ",
            criterion="",
            ours="x" * 2001,
            theirs="",
            advantage="better",
        )
    assert {e.field for e in raised.value.errors} == {"product", "criterion", "ours", "advantage"}
    with pytest.raises(InvalidInput) as unknown:
        _row(session, world.manager, 999_999, "PLC", "价格")
    assert unknown.value.errors[0].field == "competitor_id"
    # invisible control characters are dropped (PostgreSQL refuses NUL in text)
    assert _row(session, world.manager, world.siemens, "PLC\x00", "价格", ours="a\x00b\x07").ours == "ab"
    # the Chinese label of an advantage is accepted
    assert (
        _row(session, world.manager, world.siemens, "PLC", "质保", advantage="对方占优").advantage == "theirs"
    )


def test_remove_row_logs_what_it_said(session: Session, world: World) -> None:
    row = _row(session, world.manager, world.siemens, "PLC", "价格")
    service.remove_row(session, world.manager, row_id=row.id)
    assert service.list_rows(session, world.manager) == []
    removed = _events(session, "radar.matrix_row_removed")
    assert len(removed) == 1 and removed[0].payload["before"]["criterion"] == "价格"
    with pytest.raises(NotFound):
        service.remove_row(session, world.manager, row_id=row.id)


def test_refusals(session: Session, world: World) -> None:
    row = _row(session, world.manager, world.siemens, "PLC", "价格")
    with pytest.raises(PermissionDenied):
        _row(session, world.rep, world.siemens, "PLC", "交付周期")
    with pytest.raises(PermissionDenied):
        service.remove_row(session, world.rep, row_id=row.id)
    with pytest.raises(PermissionDenied):
        service.import_rows(session, world.rep, "竞品,产品,维度\n西门子,PLC,价格\n")
    for outsider in (world.member, world.customer):
        with pytest.raises(PermissionDenied):
            service.list_rows(session, outsider)
        with pytest.raises(PermissionDenied):
            _row(session, outsider, world.siemens, "PLC", "交付周期")
        with pytest.raises(PermissionDenied):
            service.rows_for_signal(session, outsider, world.broad_id)
    assert [r.id for r in service.list_rows(session, world.rep)] == [row.id]


# --- reading ----------------------------------------------------------------------------------


def test_matrix_knows_aliases(session: Session, world: World) -> None:
    _row(session, world.manager, world.siemens, "PLC", "价格")
    _row(session, world.manager, world.inovance, "伺服", "价格")
    built = service.matrix(session, world.rep)
    assert [r.product for r in built.rows_for(["Siemens"])] == ["PLC"]
    assert [r.competitor for r in built.rows_for(["inovance", "西门子"])] == ["汇川技术", "西门子"]
    only = service.list_rows(session, world.rep, competitor_id=world.inovance)
    assert [r.product for r in only] == ["伺服"]


def test_rows_for_signal_narrow_to_named_products(session: Session, world: World) -> None:
    _row(session, world.manager, world.siemens, "S7-1500", "交付周期")
    _row(session, world.manager, world.siemens, "PLC 控制器", "价格")
    _row(session, world.manager, world.inovance, "伺服", "价格")
    narrow = service.signal_matrix(session, world.rep, world.narrow_id)
    assert narrow.competitors == ["西门子"] and narrow.products == ["S7-1500"] and narrow.narrowed
    assert [(r.competitor, r.product) for r in narrow.rows] == [("西门子", "S7-1500")]
    broad = service.rows_for_signal(session, world.rep, world.broad_id)
    assert [r.product for r in broad] == ["S7-1500", "PLC 控制器"]
    assert service.rows_for_signal(session, world.rep, world.none_id) == []
    assert service.signal_matrix(session, world.rep, world.none_id).competitors == []


def test_rows_for_signal_falls_back_and_hides_other_teams(session: Session, world: World) -> None:
    _row(session, world.manager, world.siemens, "PLC 控制器", "价格")
    found = service.signal_matrix(session, world.rep, world.narrow_id)
    # the text names S7-1500, but no row is about it: every Siemens row is shown
    assert not found.narrowed and [r.product for r in found.rows] == ["PLC 控制器"]
    with pytest.raises(NotFound):
        service.rows_for_signal(session, world.rep, world.west_id)
    with pytest.raises(NotFound):
        service.rows_for_signal(session, world.rep, 999_999)
    assert len(service.rows_for_signal(session, world.west_rep, world.west_id)) == 1


# --- import -----------------------------------------------------------------------------------


def test_import_keeps_valid_rows_and_reports_bad_ones(session: Session, world: World) -> None:
    text = (
        "竞品,产品,维度,我方,对方,优势,备注\n"
        "西门子,PLC,交付周期,2 周,8 周,我方,\n"  # row 2: ok
        "Siemens,PLC,价格,低 20%,高,ours,via alias\n"  # row 3: ok through the alias
        "博世,PLC,价格,,,,\n"  # row 4: unknown competitor
        "西门子,,价格,,,,\n"  # row 5: no product
        "汇川技术,伺服,价格,持平,持平,maybe,\n"  # row 6: bad advantage
        "汇川技术,伺服,质保,3 年,2 年,even,\n"  # row 7: ok
        "西门子,PLC,交付周期,2 周,10 周,ours,,extra\n"  # row 8: too many cells
    )
    report = service.import_rows(session, world.manager, text)
    assert (report.created, report.updated) == (3, 0)
    assert [(e.row, e.field) for e in report.errors] == [
        (4, "competitor"),
        (5, "product"),
        (6, "advantage"),
        (8, "csv"),
    ]
    keys = {(r.competitor_id, r.product, r.criterion) for r in service.list_rows(session, world.manager)}
    assert keys == {
        (world.siemens, "PLC", "交付周期"),
        (world.siemens, "PLC", "价格"),
        (world.inovance, "伺服", "质保"),
    }
    again = service.import_rows(session, world.manager, text)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_import_reads_english_headers_and_round_trips_the_export(session: Session, world: World) -> None:
    report = service.import_rows(
        session,
        world.manager,
        "\ufeffCompetitor,Product,Criterion,Ours,Theirs,Advantage,Note\n西门子,PLC,Formula,=1+1,-x,theirs,@note\n",
    )
    assert report.created == 1 and not report.errors
    exported = to_csv(service.export_rows(session, world.manager))
    assert "'=1+1" in exported
    # importing our own export gives back the same values (the guard apostrophe comes off)
    back = service.import_rows(session, world.manager, exported)
    assert back.unchanged == 1 and not back.errors
    row = service.list_rows(session, world.manager)[0]
    assert (row.ours, row.theirs, row.note, row.advantage) == ("=1+1", "-x", "@note", "theirs")


def test_import_refuses_a_file_without_the_key_columns(session: Session, world: World) -> None:
    report = service.import_rows(session, world.manager, "竞品,我方\n西门子,x\n")
    assert [(e.row, e.field, e.code) for e in report.errors] == [
        (1, "product", "radar_matrix_header"),
        (1, "criterion", "radar_matrix_header"),
    ]
    assert service.import_rows(session, world.manager, "").errors[0].code == "missing"


def test_demo_seed(session: Session, world: World) -> None:
    assert seed_matrix(session, ADMIN) == len(ROWS)
    names = {c.name for c in radar_settings.list_competitors(session)}
    assert {"西门子", "汇川技术", "迈瑞医疗"} <= names
    assert len(service.list_rows(session, world.rep)) == len(ROWS)
    assert seed_matrix(session, ADMIN) == len(ROWS)  # idempotent
    assert len(service.list_rows(session, world.rep)) == len(ROWS)


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_parse_csv_never_raises(text: str) -> None:
    rows, errors = service.parse_csv(text)
    assert all(number >= 2 for number, _ in rows)
    assert all(error.row is not None for error in errors)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), max_size=9), max_size=12))
def test_parse_csv_of_any_cells_never_raises(records: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([["竞品", "产品", "维度", "我方"], *records])
    service.parse_csv(out.getvalue())


_name = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(str.strip)
_valid = st.tuples(st.sampled_from(["西门子", "Siemens", "汇川技术"]), _name, _name, st.text(max_size=20))
_bad = st.tuples(st.sampled_from(["", "博世"]), _name, _name, st.text(max_size=20))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_valid, _bad), max_size=8))
def test_import_never_loses_a_valid_row(
    session: Session, world: World, rows: list[tuple[str, str, str, str]]
) -> None:
    out = io.StringIO()
    csv.writer(out).writerows([["competitor", "product", "criterion", "ours"], *rows])
    report = service.import_rows(session, world.manager, out.getvalue())
    ids = {"西门子": world.siemens, "siemens": world.siemens, "汇川技术": world.inovance}
    stored = {
        (r.competitor_id, service._key(r.product), service._key(r.criterion))
        for r in service.list_rows(session, world.manager)
    }
    for competitor, product, criterion, _ours in rows:
        if competitor.lower() in ids:
            # a cell our CSV export guarded ("'=…") is read back without the apostrophe
            key = (service._key(service._cell(product)), service._key(service._cell(criterion)))
            assert (ids[competitor.lower()], *key) in stored
    bad_rows = {number for number, row in enumerate(rows, start=2) if row[0].lower() not in ids}
    assert {e.row for e in report.errors if e.field == "competitor"} == bad_rows
