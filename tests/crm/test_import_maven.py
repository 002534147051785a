"""The Maven CRM dataset: everything arrives, history is honest, re-imports change nothing.

The full 8,800 deals run on SQLite; PostgreSQL takes a deterministic 1,000-row slice
(the full import there takes minutes on a small machine; run it by hand with
``PATHCAST_TEST_FULL_MAVEN=1 pytest tests/crm/test_import_maven.py -k postgresql``).
"""

from __future__ import annotations

import csv
import os
import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, Team, User
from pathcast.crm import models as m
from pathcast.crm.importers import run_import
from pathcast.crm.importers.maven_people import email_for
from pathcast.db import session_factory
from pathcast.events import Event, state_as_of

pytestmark = pytest.mark.dataset

NOON = timedelta(hours=12)
MAVEN_FILES = ("accounts.csv", "products.csv", "sales_teams.csv")


def _midnight(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)


def _pipeline_rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "sales_pipeline.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _slice(datasets: Path, tmp_path: Path, size: int = 1000) -> Path:
    """``size`` deals evenly spread over the file (all four stages occur), written beside
    copies of the other files."""
    source = datasets / "maven_crm"
    folder = tmp_path / "maven_slice"
    folder.mkdir()
    for name in MAVEN_FILES:
        shutil.copy(source / name, folder / name)
    lines = (source / "sales_pipeline.csv").read_bytes().split(b"\r\n")
    deals = [line for line in lines[1:] if line]
    kept = [lines[0], *(deals[i * len(deals) // size] for i in range(size))]
    (folder / "sales_pipeline.csv").write_bytes(b"\r\n".join(kept) + b"\r\n")
    return folder


def _event_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def _check_import(db_url: str, folder: Path, tmp_path: Path) -> None:
    rows = _pipeline_rows(folder)
    stages = Counter(row["deal_stage"] for row in rows)
    report = run_import(db_url, format="maven", paths=[folder], rejects_path=tmp_path / "rejects.csv")
    assert report.total.rejected == 0, report.rejects[:5]
    assert report.entities["opportunity"].imported == len(rows)
    assert report.entities["account"].imported == 85
    assert report.entities["product"].imported == 7
    assert report.entities["team"].imported == 6
    assert report.entities["user"].imported == 41  # 35 agents and 6 managers

    with session_factory(db_url)() as session:
        status = dict(
            session.execute(select(m.Opportunity.status, func.count()).group_by(m.Opportunity.status)).all()
        )
        assert status == {
            "won": stages["Won"],
            "lost": stages["Lost"],
            "open": stages["Engaging"] + stages["Prospecting"],
        }
        # accounts, products, people
        accounts = {a.name: a for a in session.scalars(select(m.Account))}
        assert len(accounts) == 85
        assert accounts["Bluth Company"].parent_id == accounts["Acme Corporation"].id
        assert accounts["Acme Corporation"].industry == "technolgy"  # kept as the source writes it
        assert accounts["Acme Corporation"].annual_revenue == Decimal("1100040000.00")
        assert accounts["Acme Corporation"].year_established == 1996
        assert accounts["Betatech"].country == "Kenya"
        products = {p.name: p for p in session.scalars(select(m.Product))}
        assert len(products) == 7 and products["GTX Pro"].list_price == Decimal("4821.00")
        agents = session.scalars(select(User).where(User.role == Role.rep.value)).all()
        assert len(agents) == 35
        assert all(a.password_hash is None and a.external_source == "maven" and a.team_id for a in agents)
        managers = {u.id: u for u in session.scalars(select(User).where(User.role == Role.manager.value))}
        teams = session.scalars(select(Team)).all()
        assert len(managers) == 6 and {t.manager_id for t in teams} == set(managers)
        assert {t.region for t in teams} == {"Central", "East", "West"}
        moses = session.scalars(select(User).where(User.email == email_for("Moses Frase"))).one()
        assert moses.external_id == "Moses Frase"
        moses_team = session.get(Team, moses.team_id)
        assert moses_team is not None and managers[moses_team.manager_id or 0].name == "Dustin Brinkmann"
        # the pipeline
        pipeline = session.scalars(select(m.Pipeline).where(m.Pipeline.name == "Maven")).one()
        keys = {
            s.key: s.probability
            for s in session.scalars(select(m.Stage).where(m.Stage.pipeline_id == pipeline.id))
        }
        assert keys == {"prospecting": 10, "engaging": 40, "won": 100, "lost": 0}
        # one line per deal; GTXPro found GTX Pro
        assert session.scalar(select(func.count()).select_from(m.OpportunityLine)) == len(rows)
        gtx_pro = sum(1 for row in rows if row["product"] == "GTXPro")
        assert (
            session.scalar(
                select(func.count())
                .select_from(m.OpportunityLine)
                .where(m.OpportunityLine.product_id == products["GTX Pro"].id)
            )
            == gtx_pro
        )
        unassigned = sum(1 for row in rows if not row["account"])
        assert (
            session.scalar(
                select(func.count())
                .select_from(m.Opportunity)
                .where(m.Opportunity.name.like("Unassigned – %"))
            )
            == unassigned
        )
        # history: one opening move per deal, one closing move per closed deal, at their dates
        closed = stages["Won"] + stages["Lost"]
        assert (
            session.scalar(select(func.count()).select_from(m.OpportunityStageChange)) == len(rows) + closed
        )
        won_row = next(row for row in rows if row["deal_stage"] == "Won")
        deal = session.scalars(
            select(m.Opportunity).where(m.Opportunity.external_id == won_row["opportunity_id"])
        ).one()
        engaged, closed_at = _midnight(won_row["engage_date"]) + NOON, _midnight(won_row["close_date"]) + NOON
        assert (deal.opened_at, deal.closed_at) == (engaged, closed_at)
        assert deal.amount == Decimal(won_row["close_value"])
        moves = session.scalars(
            select(m.OpportunityStageChange.changed_at)
            .where(m.OpportunityStageChange.opportunity_id == deal.id)
            .order_by(m.OpportunityStageChange.changed_at)
        ).all()
        assert list(moves) == [engaged, closed_at]
        # as of a day between engage and close the deal was open, at the list price
        between = engaged + (closed_at - engaged) / 2
        state = state_as_of(session, "opportunity", deal.id, between)
        line_price = products[_product_name(won_row["product"])].list_price
        assert state is not None and state["status"] == "open" and state["closed_at"] is None
        assert Decimal(state["amount"]) == line_price
        assert state_as_of(session, "opportunity", deal.id, _midnight(won_row["engage_date"])) is None
        after = state_as_of(session, "opportunity", deal.id, closed_at)
        assert after is not None and after["status"] == "won" and Decimal(after["amount"]) == deal.amount
        prospecting = session.scalars(
            select(m.Opportunity)
            .join(m.Stage, m.Stage.id == m.Opportunity.stage_id)
            .where(m.Stage.key == "prospecting")
        ).first()
        latest = max(max(r["engage_date"], r["close_date"]) for r in rows)
        assert prospecting is not None and prospecting.opened_at == _midnight(latest) + NOON
        events = _event_count(session)

    again = run_import(db_url, format="maven", paths=[folder], rejects_path=tmp_path / "rejects.csv")
    assert again.total.imported == again.total.updated == again.total.rejected == 0
    assert again.entities["opportunity"].unchanged == len(rows)
    with session_factory(db_url)() as session:
        assert _event_count(session) == events


def _product_name(product: str) -> str:
    return "GTX Pro" if product == "GTXPro" else product


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_full_maven_dataset_on_sqlite(db_url: str, datasets: Path, tmp_path: Path) -> None:
    folder = datasets / "maven_crm"
    rows = _pipeline_rows(folder)
    assert len(rows) == 8800
    assert Counter(r["deal_stage"] for r in rows) == {
        "Won": 4238,
        "Lost": 2473,
        "Engaging": 1589,
        "Prospecting": 500,
    }
    _check_import(db_url, folder, tmp_path)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_maven_slice_on_postgresql(db_url: str, datasets: Path, tmp_path: Path) -> None:
    full = os.environ.get("PATHCAST_TEST_FULL_MAVEN") == "1"  # the whole dataset, by hand
    _check_import(db_url, datasets / "maven_crm" if full else _slice(datasets, tmp_path), tmp_path)


# --- bad rows and changed rows, on a small copy (both engines) ---------------------------


def _small(datasets: Path, tmp_path: Path, extra: str) -> Path:
    folder = _slice(datasets, tmp_path, size=4)
    with (folder / "sales_pipeline.csv").open("a", encoding="utf-8", newline="") as handle:
        handle.write(extra)
    return folder


BAD_ROWS = (
    "BAD00001,Nobody Known,GTX Basic,Cancity,Won,2017-01-02,2017-02-03,500\r\n"
    "BAD00002,Moses Frase,GTX Basic,Cancity,Won,2017-13-02,2017-02-03,500\r\n"
    "BAD00003,Moses Frase,GTX Basic,Cancity,Won,2017-03-02,2017-02-03,500\r\n"
    "BAD00004,Moses Frase,GTX Basic,Cancity,Stalled,2017-03-02,,\r\n"
    "BAD00005,Moses Frase,GTX Ultra,No Such Co,Won,2017-01-02,2017-02-03,\r\n"
)


def test_bad_maven_rows_are_rejected_with_their_columns(db_url: str, datasets: Path, tmp_path: Path) -> None:
    folder = _small(datasets, tmp_path, BAD_ROWS)
    report = run_import(db_url, format="maven", paths=[folder], rejects_path=tmp_path / "r.csv")
    assert report.entities["opportunity"].imported == 4
    assert report.entities["opportunity"].rejected == 5
    rejects = [
        (r["row_number"], r["column"], r["reason"]) for r in csv.DictReader((tmp_path / "r.csv").open())
    ]
    assert ("6", "sales_agent", "unknown sales agent (not in sales_teams.csv)") in rejects
    assert ("7", "engage_date", "expected a date like 2024-03-31") in rejects
    assert ("8", "close_date", "close_date is before engage_date") in rejects
    assert any(r[:2] == ("9", "deal_stage") and "unknown stage 'Stalled'" in r[2] for r in rejects)
    assert {r[1] for r in rejects if r[0] == "10"} == {"product", "account", "close_value"}


def test_changed_maven_deal_is_updated_with_history_at_its_close(
    db_url: str, datasets: Path, tmp_path: Path
) -> None:
    folder = _small(datasets, tmp_path, "NEW00001,Moses Frase,GTX Basic,Cancity,Engaging,2017-05-02,,\r\n")
    run_import(db_url, format="maven", paths=[folder])
    text = (folder / "sales_pipeline.csv").read_text(encoding="utf-8")
    (folder / "sales_pipeline.csv").write_text(
        text.replace(
            "NEW00001,Moses Frase,GTX Basic,Cancity,Engaging,2017-05-02,,",
            "NEW00001,Moses Frase,GTX Basic,Cancity,Won,2017-05-02,2017-06-20,530",
        ),
        encoding="utf-8",
        newline="",
    )
    report = run_import(db_url, format="maven", paths=[folder])
    assert report.entities["opportunity"].updated == 1
    assert report.entities["opportunity"].unchanged == 4
    with session_factory(db_url)() as session:
        deal = session.scalars(select(m.Opportunity).where(m.Opportunity.external_id == "NEW00001")).one()
        assert deal.status == "won" and deal.amount == Decimal("530.00")
        assert deal.closed_at == _midnight("2017-06-20") + NOON
        state = state_as_of(session, "opportunity", deal.id, _midnight("2017-06-01"))
        assert state is not None and state["status"] == "open" and state["amount"] == "550.00"
