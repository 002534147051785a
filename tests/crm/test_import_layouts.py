"""Salesforce and HubSpot export layouts: detection, links, stages, history, re-imports."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.crm import models as m
from pathcast.crm.importers import ImportInputError, run_import
from pathcast.db import session_factory, write_intent
from pathcast.events import Event, state_as_of
from tests import factories

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "import"
SALESFORCE = [FIXTURES / "salesforce" / name for name in ("Opportunity.csv", "Contact.csv", "Account.csv")]
HUBSPOT = [
    FIXTURES / "hubspot" / f"hubspot-crm-exports-all-{kind}-2024-07-15.csv"
    for kind in ("deals", "contacts", "companies")
]


def _events(db_url: str) -> int:
    with session_factory(db_url)() as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def _by_external_id(session: Session, model: type, source: str) -> dict[str, Any]:
    return {r.external_id: r for r in session.scalars(select(model).where(model.external_source == source))}


def _stage_key(session: Session, deal: m.Opportunity) -> str:
    stage = session.get(m.Stage, deal.stage_id)
    assert stage is not None
    return stage.key


def test_salesforce_export_imports_with_links_in_entity_order(db_url: str, tmp_path: Path) -> None:
    report = run_import(db_url, format="salesforce", paths=SALESFORCE, rejects_path=tmp_path / "r.csv")
    summary = report.as_dict()
    assert summary["entities"]["account"]["imported"] == 4
    assert summary["entities"]["contact"]["imported"] == 4
    assert summary["entities"]["opportunity"]["imported"] == 5
    assert summary["total"]["rejected"] == 0
    # Salesforce user ids match no Pathcast user: imported without owner, with a warning
    assert any("owner matched no user" in warning for warning in summary["warnings"])

    with session_factory(db_url)() as session:
        accounts = _by_external_id(session, m.Account, "salesforce")
        contacts = _by_external_id(session, m.Contact, "salesforce")
        deals = _by_external_id(session, m.Opportunity, "salesforce")
        acme = accounts["001A000001AcmeMIAR"]
        diagnostics = accounts["001A000001AcmeDIAR"]
        assert diagnostics.parent_id == acme.id  # child listed before its parent
        assert acme.city == "Boston" and acme.region == "MA" and acme.employees == 1200
        jane = contacts["003A000001JaneDIAR"]
        assert jane.account_id == acme.id and jane.name == "Jane Doe" and jane.department == "Finance"
        smith = contacts["003A000001JSmitIAD"]
        # a 15-character AccountId links to the account exported with its 18-character id
        assert smith.account_id == accounts["001A000001GlobxIAB"].id
        wang = contacts["003A000001WangFIAR"]
        assert wang.name == "王芳"  # family name first for Chinese names

        keys = {ext: _stage_key(session, deal) for ext, deal in deals.items()}
        assert keys == {
            "006A000001MriUpIAJ": "won",
            "006A000001FleetIAB": "negotiation",
            "006A000001DsaCoIAJ": "proposal",
            "006A000001LabKtIAJ": "lost",
            "006A000001ServcIAB": "lead",
        }
        fleet = deals["006A000001FleetIAB"]
        assert fleet.currency == "EUR" and fleet.forecast_category == "commit"
        assert fleet.lead_source == "Partner Referral" and fleet.expected_close_date == date(2024, 9, 30)
        assert fleet.opened_at == datetime(2024, 5, 10, 14, tzinfo=UTC)

        mri = deals["006A000001MriUpIAJ"]
        assert mri.account_id == acme.id and mri.amount == Decimal("120000.00")
        assert mri.opened_at == datetime(2023, 11, 2, 9, 30, tzinfo=UTC)
        assert mri.closed_at == datetime(2024, 3, 15, 12, tzinfo=UTC)
        history = session.scalars(
            select(m.OpportunityStageChange)
            .where(m.OpportunityStageChange.opportunity_id == mri.id)
            .order_by(m.OpportunityStageChange.changed_at)
        ).all()
        assert [h.changed_at for h in history] == [mri.opened_at, mri.closed_at]
        midway = state_as_of(session, "opportunity", mri.id, datetime(2024, 1, 15, tzinfo=UTC))
        assert midway is not None and midway["status"] == "open"


def test_salesforce_reimport_is_unchanged_without_new_events(db_url: str) -> None:
    run_import(db_url, format="salesforce", paths=SALESFORCE)
    events = _events(db_url)
    again = run_import(db_url, format="salesforce", paths=list(reversed(SALESFORCE)))
    assert again.total.unchanged == 13
    assert again.total.imported == again.total.updated == again.total.rejected == 0
    assert _events(db_url) == events


def test_hubspot_export_imports_with_links_and_owners(db_url: str, tmp_path: Path) -> None:
    with session_factory(db_url)() as session, write_intent():
        owner_id = factories.user(session, "jane.rep@example.com", role=Role.rep).id
        session.execute(update(User).where(User.id == owner_id).values(name="Jane Rep"))
        session.commit()
    report = run_import(db_url, format="hubspot", paths=HUBSPOT, rejects_path=tmp_path / "rejects.csv")
    assert report.entities["account"].imported == 3
    assert report.entities["contact"].imported == 3
    assert report.entities["contact"].rejected == 1
    assert report.entities["opportunity"].imported == 5
    rejects = list(csv.DictReader((tmp_path / "rejects.csv").open(encoding="utf-8")))
    assert [(r["row_number"], r["column"], r["value"]) for r in rejects] == [
        ("5", "Associated Company IDs", "9999")
    ]
    assert "unknown account id '9999'" in rejects[0]["reason"]

    with session_factory(db_url)() as session:
        companies = _by_external_id(session, m.Account, "hubspot")
        contacts = _by_external_id(session, m.Contact, "hubspot")
        deals = _by_external_id(session, m.Opportunity, "hubspot")
        umbrella = companies["5002"]
        assert umbrella.owner_id == owner_id  # "Jane Rep" matched by name
        assert umbrella.annual_revenue == Decimal("1200000000.00") and umbrella.employees == 5000
        alice = contacts["7002"]
        assert alice.account_id == umbrella.id  # first of "5002;5001"
        assert alice.title == "VP Procurement"
        assert contacts["7003"].name == "李雷"
        keys = {ext: _stage_key(session, deal) for ext, deal in deals.items()}
        assert keys == {
            "9001": "won",
            "9002": "qualified",
            "9003": "negotiation",
            "9004": "lost",
            "9005": "proposal",
        }
        cold_chain = deals["9002"]
        assert cold_chain.owner_id == owner_id and cold_chain.account_id == umbrella.id
        assert cold_chain.opened_at == datetime(2024, 6, 1, 8, tzinfo=UTC)
        ct = deals["9003"]
        assert ct.amount == Decimal("560000.50")
        assert ct.account_id == companies["5003"].id


def test_hubspot_reimport_is_unchanged_without_new_events(db_url: str, tmp_path: Path) -> None:
    run_import(db_url, format="hubspot", paths=HUBSPOT, rejects_path=tmp_path / "r.csv")
    events = _events(db_url)
    again = run_import(db_url, format="hubspot", paths=HUBSPOT, rejects_path=tmp_path / "r.csv")
    assert again.total.unchanged == 11 and again.total.rejected == 1
    assert again.total.imported == again.total.updated == 0
    assert _events(db_url) == events


def test_unknown_stage_is_rejected_naming_the_column(db_url: str, tmp_path: Path) -> None:
    deals = tmp_path / "Opportunity.csv"
    deals.write_text(
        "Id,AccountId,Name,StageName,Amount,CloseDate\n"
        "006000000000001,,Good,Closed Won,10,2024-01-31\n"
        "006000000000002,,Odd,Verbal Yes,10,2024-01-31\n"
        "006000000000003,,Late,Closed Won,10,01/31/2024\n"
        "006000000000004,,Bad date,Closed Won,10,31/01/2024\n",
        encoding="utf-8",
    )
    report = run_import(db_url, format="salesforce", paths=[deals], rejects_path=tmp_path / "r.csv")
    assert report.entities["opportunity"].imported == 2  # US dates are accepted too
    rejects = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert [(r["row_number"], r["column"], r["value"]) for r in rejects] == [
        ("3", "StageName", "Verbal Yes"),
        ("5", "CloseDate", "31/01/2024"),
    ]
    assert rejects[0]["reason"].startswith("unknown stage 'Verbal Yes' (known: lead,")


def test_contact_with_bad_email_is_rejected_by_the_schema(db_url: str, tmp_path: Path) -> None:
    contacts = tmp_path / "Contact.csv"
    contacts.write_text(
        "Id,FirstName,LastName,Email\n003000000000001,Ann,Lee,ann@example.com\n"
        "003000000000002,Bo,Chen,not-an-email\n003000000000003,Cy,,\n",
        encoding="utf-8",
    )
    report = run_import(db_url, format="salesforce", paths=[contacts], rejects_path=tmp_path / "r.csv")
    assert report.entities["contact"].imported == 2  # "Cy" alone is a name
    rejects = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert [(r["row_number"], r["column"]) for r in rejects] == [("3", "Email")]


def test_unrecognised_header_is_refused() -> None:
    with pytest.raises(ImportInputError, match="not a recognisable salesforce export"):
        run_import("sqlite://", format="salesforce", paths=[FIXTURES / "generic" / "accounts.csv"])
    with pytest.raises(ImportInputError, match="not a recognisable hubspot export"):
        run_import("sqlite://", format="hubspot", paths=[FIXTURES / "salesforce" / "Account.csv"])
