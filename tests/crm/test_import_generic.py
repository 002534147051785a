"""Generic CSV import with a mapping file: links, rejects, encodings, dry runs, refusals."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.crm.importers import ImportInputError, ImportReport, run_import
from pathcast.crm.importers.base import detect_encoding
from pathcast.crm.importers.convert import ValueProblem, parse_date, parse_datetime, parse_decimal
from pathcast.db import session_factory
from pathcast.events import Event, state_as_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import" / "generic"
MAPPING = FIXTURES / "legacy_mapping.toml"


def _count(db_url: str, model: type) -> int:
    with session_factory(db_url)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _rejects(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _legacy(db_url: str, tmp_path: Path, *, dry_run: bool = False) -> ImportReport:
    return run_import(
        db_url,
        format="generic",
        mapping_path=MAPPING,
        rejects_path=tmp_path / "rejects.csv",
        paths=[FIXTURES / "deals_broken.csv", FIXTURES / "accounts.csv"],
        dry_run=dry_run,
    )


def test_broken_rows_are_rejected_and_the_good_rows_imported(db_url: str, tmp_path: Path) -> None:
    report = _legacy(db_url, tmp_path)
    summary = report.as_dict()
    assert summary["entities"]["account"] == {"imported": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert summary["entities"]["opportunity"] == {"imported": 3, "updated": 0, "unchanged": 0, "rejected": 9}
    assert summary["total"]["rejected"] == 9

    problems = {(int(r["row_number"]), r["column"]): r for r in _rejects(tmp_path / "rejects.csv")}
    assert problems[(3, "Expected close")]["reason"] == "expected a date like 2024-03-31"
    assert problems[(3, "Expected close")]["value"] == "31/02/2024"
    assert problems[(4, "Stage")]["reason"].startswith("unknown stage 'Foo' (known: lead, qualified")
    assert problems[(5, "Deal")]["reason"] == "required value is empty"
    assert problems[(6, "Deal")]["value"] == "Caf\\xe9teria deal"
    assert "not valid in UTF-8" in problems[(6, "Deal")]["reason"]
    assert problems[(7, "(row)")]["reason"] == "expected 7 columns, found 3"
    assert problems[(8, "Value")]["reason"] == "expected a number like 1234.50"
    assert "unknown account id 'K-999'" in problems[(9, "Company ID")]["reason"]
    assert "greater than or equal to 0" in problems[(11, "Value")]["reason"]  # from the Create schema
    # one line per problem: row 14 has two
    assert {key for key in problems if key[0] == 14} == {(14, "Stage"), (14, "Value")}
    assert len(problems) == 10
    assert all(r["file"] == "deals_broken.csv" for r in problems.values())

    with session_factory(db_url)() as session:
        deals = {d.external_id: d for d in session.scalars(select(m.Opportunity))}
        assert set(deals) == {"D-1", "D-9", "D-11"}
        accounts = {a.external_id: a for a in session.scalars(select(m.Account))}
        assert deals["D-1"].account_id == accounts["K-100"].id
        assert deals["D-1"].amount == Decimal("12500.00") and deals["D-1"].currency == "EUR"
        assert deals["D-11"].name == "Two-line\nname"
        stage = session.get(m.Stage, deals["D-1"].stage_id)
        assert stage is not None and stage.key == "solution"  # value map "Demo booked"
        # parents first although the child comes first in the file; decimal commas
        assert accounts["K-101"].parent_id == accounts["K-100"].id
        assert accounts["K-101"].annual_revenue == Decimal("1250000.50")
        assert accounts["K-100"].employees == 1200


def test_closed_deal_history_does_not_leak_its_outcome(db_url: str, tmp_path: Path) -> None:
    _legacy(db_url, tmp_path)
    with session_factory(db_url)() as session:
        won = session.scalars(select(m.Opportunity).where(m.Opportunity.external_id == "D-9")).one()
        assert won.status == "won"
        assert won.opened_at == datetime(2024, 2, 1, 12, tzinfo=UTC)
        assert won.closed_at == datetime(2024, 4, 15, 12, tzinfo=UTC)
        before = state_as_of(session, "opportunity", won.id, datetime(2024, 3, 1, tzinfo=UTC))
        assert before is not None
        assert before["status"] == "open" and before["expected_close_date"] is None
        after = state_as_of(session, "opportunity", won.id, datetime(2024, 4, 16, tzinfo=UTC))
        assert after is not None and after["status"] == "won" and after["expected_close_date"] == "2024-04-15"


def test_reimport_is_unchanged_and_appends_no_event(db_url: str, tmp_path: Path) -> None:
    _legacy(db_url, tmp_path)
    events = _count(db_url, Event)
    report = _legacy(db_url, tmp_path).as_dict()
    assert report["entities"]["account"]["unchanged"] == 3
    assert report["entities"]["opportunity"]["unchanged"] == 3
    assert report["total"]["imported"] == report["total"]["updated"] == 0
    assert _count(db_url, Event) == events
    assert _count(db_url, m.Opportunity) == 3


def test_changed_rows_are_updated(db_url: str, tmp_path: Path) -> None:
    _legacy(db_url, tmp_path)
    changed = tmp_path / "deals_changed.csv"
    changed.write_text(
        "Deal ID,Deal,Company ID,Stage,Value,Expected close,Created\n"
        "D-1,Good deal – one,K-100,Closed Won,13000,2024-06-10,2024-01-10\n"
        "D-9,Won deal,K-101,Closed Won,9000,2024-04-15,2024-02-01\n",
        encoding="utf-8",
    )
    report = run_import(db_url, format="generic", mapping_path=MAPPING, paths=[changed])
    assert report.entities["opportunity"].updated == 1
    assert report.entities["opportunity"].unchanged == 1
    with session_factory(db_url)() as session:
        deal = session.scalars(select(m.Opportunity).where(m.Opportunity.external_id == "D-1")).one()
        assert deal.status == "won" and deal.amount == Decimal("13000.00")
        assert deal.closed_at == datetime(2024, 6, 10, 12, tzinfo=UTC)
        assert deal.expected_close_date == date(2024, 6, 10)
        moves = session.scalars(
            select(m.OpportunityStageChange).where(m.OpportunityStageChange.opportunity_id == deal.id)
        ).all()
        assert [move.changed_at for move in moves][-1] == datetime(2024, 6, 10, 12, tzinfo=UTC)


def test_dry_run_reports_the_same_and_writes_nothing(db_url: str, tmp_path: Path) -> None:
    events = _count(db_url, Event)
    dry = _legacy(db_url, tmp_path, dry_run=True).as_dict()
    assert dry["dry_run"] is True
    assert _count(db_url, Event) == events
    assert _count(db_url, m.Account) == 0 and _count(db_url, m.Opportunity) == 0
    real = _legacy(db_url, tmp_path).as_dict()
    assert dry["entities"] == real["entities"]


def test_gb18030_file_is_detected_and_imported(db_url: str) -> None:
    report = run_import(
        db_url,
        format="generic",
        mapping_path=FIXTURES / "accounts_zh.json",
        paths=[FIXTURES / "accounts_gb18030.csv"],
    )
    assert report.encodings == {"accounts_gb18030.csv": "gb18030"}
    assert any("GB18030" in note for note in report.notes)
    assert report.entities["account"].imported == 3 and report.total.rejected == 0
    with session_factory(db_url)() as session:
        names = set(session.scalars(select(m.Account.name)))
    assert names == {"北京协和医院", "上海瑞金医院", "广州医疗器械有限公司"}


def test_import_into_an_open_session(session: Session, tmp_path: Path) -> None:
    report = run_import(
        session,
        format="generic",
        mapping_path=FIXTURES / "accounts_zh.json",
        paths=[FIXTURES / "accounts_gb18030.csv"],
    )
    assert report.entities["account"].imported == 3
    assert session.scalar(select(func.count()).select_from(m.Account)) == 3


# --- refusals: unusable input stops before anything is written -------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"entity": "lead", "external_id": "Id", "columns": {"name": "N"}}, "'entity' must be one of"),
        ({"entity": "account", "columns": {"name": "N"}}, "'external_id' must be a column name"),
        (
            {"entity": "account", "external_id": "Id", "columns": {"nmae": "N"}},
            "unknown account fields ['nmae']",
        ),
        (
            {"entity": "account", "external_id": "Id", "columns": {"city": "C"}},
            "map the required field 'name'",
        ),
        ({"entity": "account", "external_id": "Id", "columns": {"name": "N"}, "colour": 1}, "unknown keys"),
    ],
)
def test_invalid_mapping_files_are_refused(tmp_path: Path, document: dict[str, object], message: str) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ImportInputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        run_import("sqlite://", format="generic", mapping_path=mapping, paths=[FIXTURES / "accounts.csv"])


def test_unparseable_mapping_and_missing_columns_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "mapping.toml"
    broken.write_text("entity = [", encoding="utf-8")
    with pytest.raises(ImportInputError, match="not valid JSON or TOML"):
        run_import("sqlite://", format="generic", mapping_path=broken, paths=[FIXTURES / "accounts.csv"])
    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        json.dumps(
            {"entity": "account", "external_id": "Kunden-Nr", "columns": {"name": "Firma", "city": "Stadt"}}
        ),
        encoding="utf-8",
    )
    with pytest.raises(ImportInputError, match="no column for city <- 'Stadt'"):
        run_import("sqlite://", format="generic", mapping_path=wrong, paths=[FIXTURES / "accounts.csv"])


def test_missing_file_unknown_format_and_missing_mapping_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ImportInputError, match="file not found"):
        run_import("sqlite://", format="generic", mapping_path=MAPPING, paths=[tmp_path / "nope.csv"])
    with pytest.raises(ImportInputError, match="unknown format 'pipedrive'"):
        run_import("sqlite://", format="pipedrive", paths=[FIXTURES / "accounts.csv"])
    with pytest.raises(ImportInputError, match="needs --mapping"):
        run_import("sqlite://", format="generic", paths=[FIXTURES / "accounts.csv"])
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ImportInputError, match="no header"):
        run_import("sqlite://", format="generic", mapping_path=MAPPING, paths=[empty])


# --- value parsing and encoding detection ----------------------------------------------------


def test_value_parsers() -> None:
    assert parse_decimal("$1,234.50") == Decimal("1234.50")
    assert parse_decimal("1.234,50", decimal_comma=True) == Decimal("1234.50")
    with pytest.raises(ValueProblem):
        parse_decimal("1,5")  # ambiguous without decimal_comma
    assert parse_date("2024-03-31T10:00:00Z") == date(2024, 3, 31)
    assert parse_date("31.03.2024", ["%d.%m.%Y"]) == date(2024, 3, 31)
    with pytest.raises(ValueProblem, match="expected a date"):
        parse_date("2024-02-30")
    assert parse_datetime("2024-03-31") == datetime(2024, 3, 31, 12, tzinfo=UTC)
    assert parse_datetime("2024-03-31T10:00:00.000Z") == datetime(2024, 3, 31, 10, tzinfo=UTC)


def test_encoding_detection() -> None:
    assert detect_encoding("名称\n北京".encode()) == ("utf-8", None)
    assert detect_encoding("名称\n北京".encode("utf-8-sig"))[0] == "utf-8-sig"
    assert detect_encoding("名称,城市\n北京协和医院,北京\n".encode("gb18030"))[0] == "gb18030"
    # mostly UTF-8 with one Latin-1 row: stays UTF-8 (the row is rejected on its own)
    mixed = "name\nMüller\nJosé\n".encode() + "Café\n".encode("latin-1")
    assert detect_encoding(mixed) == ("utf-8", None)
    assert detect_encoding(b"name\nCaf\xe9teria\n") == ("utf-8", None)
