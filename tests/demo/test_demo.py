"""The demo company: coherent, deterministic, honest in time, and loadable from the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, Team, User
from pathcast.crm import models as m
from pathcast.db import Base, unit_of_work
from pathcast.demo import DEMO_PASSWORD, load_demo_if_empty
from pathcast.demo.loader import load_demo
from pathcast.demo.vocabulary import INDUSTRIES, SAAS
from pathcast.errors import Conflict
from pathcast.events import Event, state_as_of, verify_chain
from tests.conftest import _reset_postgres
from tests.demo.conftest import LoadedDemo, loaded_demo, rolled_back_session

TODAY = date(2025, 6, 30)
TODAY_START = datetime.combine(TODAY, time(0), UTC)
SMALL = 8
# Columns that differ between two loads for reasons other than the data itself.
VOLATILE = {"created_at", "updated_at", "password_hash", "recorded_at", "hash", "prev_hash"}
# Set-up the auth, pipeline, rules and radar services stamp with the time of the load, not
# of history: configuration, not something that happened in the demo's past.
NOW_STAMPED = (
    "user",
    "team",
    "pipeline",
    "stage",
    "automation_rule",
    "radar_source",
    "radar_competitor",
    "radar_knowledge",
    "radar_matrix_row",
    "radar_case_study",
    "hive_template",
    "hive_resource",
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedDemo]:
    """One small demo per engine, shared by the read-only tests of this module."""
    with loaded_demo(request, tmp_path_factory, "demo") as demo:
        yield demo


@pytest.fixture
def demo_session(loaded: LoadedDemo) -> Iterator[Session]:
    """A session on the shared demo; whatever a test writes is rolled back."""
    with rolled_back_session(loaded.url) as session:
        yield session


def dump(session: Session) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """Every demo table as plain rows, ignoring columns that record when the load ran."""
    tables = []
    for table in Base.metadata.sorted_tables:
        if table.name in ("alembic_version", "event_chain_head"):
            continue
        columns = [column for column in table.columns if column.key not in VOLATILE]
        rows = []
        for row in session.execute(select(*columns).order_by(*table.primary_key.columns)):
            values = dict(zip([column.key for column in columns], row, strict=True))
            if table.name == "events" and values["entity"] in NOW_STAMPED:
                values.pop("occurred_at")
            rows.append(
                tuple(
                    sorted(
                        (key, json.dumps(value, default=str, sort_keys=True)) for key, value in values.items()
                    )
                )
            )
        tables.append((table.name, rows))
    return tables


def _fresh_database(db_url: str, request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    if db_url.startswith("sqlite"):
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / f"{name}.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    _reset_postgres(db_url)
    return db_url


def _load_and_dump(url: str, seed: int) -> list[tuple[str, list[tuple[Any, ...]]]]:
    with unit_of_work(url) as session:
        load_demo(session, accounts=5, seed=seed, today=TODAY)
    with unit_of_work(url, write=False) as session:
        return dump(session)


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_and_today_give_identical_data_and_another_seed_differs(
    configured: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    first = _load_and_dump(configured, seed=7)
    again = _load_and_dump(_fresh_database(configured, request, tmp_path, "again"), seed=7)
    assert again == first
    other = _load_and_dump(_fresh_database(configured, request, tmp_path, "other"), seed=8)
    assert other != first
    names = {table: rows for table, rows in first}
    other_names = {table: rows for table, rows in other}
    assert names["accounts"] != other_names["accounts"]


# --- coherence -----------------------------------------------------------------------------


def test_every_entity_kind_is_present(loaded: LoadedDemo, demo_session: Session) -> None:
    assert all(value > 0 for value in loaded.counts.values()), loaded.counts
    assert loaded.counts["accounts"] == SMALL
    industries = set(demo_session.scalars(select(m.Account.industry)))
    assert industries == set(INDUSTRIES)
    assert demo_session.scalars(select(m.Account).where(m.Account.parent_id.is_not(None))).first() is not None
    contacts = list(demo_session.scalars(select(m.Contact.name)))
    assert any(name.isascii() for name in contacts) and any(not name.isascii() for name in contacts)


def test_staff_has_teams_managers_reps_members_and_a_customer(
    loaded: LoadedDemo, demo_session: Session
) -> None:
    users = list(demo_session.scalars(select(User)))
    teams = list(demo_session.scalars(select(Team)))
    assert 2 <= len(teams) <= 4
    for team in teams:
        members = [user for user in users if user.team_id == team.id]
        assert team.manager_id in {user.id for user in members if user.role == Role.manager.value}
        assert 3 <= sum(user.role == Role.rep.value for user in members) <= 5
    roles = [user.role for user in users]
    assert roles.count(Role.admin.value) == 1
    assert roles.count(Role.member.value) >= 3
    customer = [user for user in users if user.role == Role.customer_contact.value]
    assert len(customer) == 1 and customer[0].account_id is not None
    assert {user.locale for user in users} == {"zh-CN", "en"}
    assert all(user.email.endswith("@demo.pathcast.dev") for user in users)
    assert "admin@demo.pathcast.dev" in {user.email for user in users}


def test_all_logins_authenticate(loaded: LoadedDemo, demo_session: Session) -> None:
    assert len(loaded.result.logins) == loaded.counts["users"]
    for login in loaded.result.logins:
        assert login["password"] == DEMO_PASSWORD
        user = auth_service.authenticate(demo_session, email=login["email"], password=login["password"])
        assert user.role == login["role"]


def test_won_deals_have_contracts_and_recurring_ones_subscriptions(
    loaded: LoadedDemo, demo_session: Session
) -> None:
    won = list(demo_session.scalars(select(m.Opportunity).where(m.Opportunity.status == "won")))
    assert won
    for deal in won:
        contract = demo_session.scalars(select(m.Contract).where(m.Contract.opportunity_id == deal.id)).one()
        assert contract.value == deal.amount
        assert contract.account_id == deal.account_id
        assert contract.start_date is not None and deal.closed_at is not None
        assert contract.start_date >= deal.closed_at.date()
    saas_contracts = demo_session.scalars(
        select(m.Contract)
        .join(m.Account, m.Account.id == m.Contract.account_id)
        .where(m.Account.industry == SAAS)
    ).all()
    for contract in saas_contracts:
        assert demo_session.scalars(
            select(m.Subscription).where(m.Subscription.contract_id == contract.id)
        ).first()
        assert contract.renewal_date is not None


def test_history_spans_two_years_and_ends_before_today(loaded: LoadedDemo, demo_session: Session) -> None:
    changes = list(demo_session.scalars(select(m.OpportunityStageChange.changed_at)))
    assert min(changes) <= TODAY_START - timedelta(days=730)
    assert max(changes) < TODAY_START
    history = demo_session.scalars(select(Event.occurred_at).where(Event.entity.not_in(NOW_STAMPED))).all()
    assert max(history) < TODAY_START
    assert min(history) <= TODAY_START - timedelta(days=730)
    for activity in demo_session.scalars(select(m.Activity)):
        for stamp in (activity.occurred_at, activity.done_at):
            assert stamp is None or stamp < TODAY_START
    overdue = demo_session.scalars(
        select(m.Activity).where(
            m.Activity.kind == "task", m.Activity.done_at.is_(None), m.Activity.due_at < TODAY_START
        )
    ).all()
    assert overdue, "reps should have some overdue open tasks"
    assert all(task.owner_id is not None for task in overdue)
    for ticket in demo_session.scalars(select(m.Ticket)):
        assert ticket.opened_at < TODAY_START
        if ticket.first_response_at is not None:
            assert ticket.opened_at <= ticket.first_response_at < TODAY_START


REFERENCES = {
    "account_id": "account",
    "parent_id": "account",
    "contact_id": "contact",
    "opportunity_id": "opportunity",
    "product_id": "product",
    "quote_id": "quote",
    "contract_id": "contract",
    "price_list_id": "price_list",
}


def test_nothing_refers_to_a_record_before_it_existed(loaded: LoadedDemo, demo_session: Session) -> None:
    events = demo_session.scalars(
        select(Event).where(Event.entity.not_in(NOW_STAMPED)).order_by(Event.id)
    ).all()
    created = {(e.entity, e.entity_id): e.occurred_at for e in events if e.type.endswith(".created")}
    checked = 0
    for event in events:
        if not event.type.endswith(".created"):
            continue
        for field, target in REFERENCES.items():
            ref = event.payload["after"].get(field)
            if ref is not None:
                assert created[(target, str(ref))] <= event.occurred_at, (event.type, field, ref)
                checked += 1
    assert checked > 100


def test_stage_history_has_slips_amount_changes_and_forecast_categories(
    loaded: LoadedDemo,
    demo_session: Session,
) -> None:
    fields = set(demo_session.scalars(select(m.OpportunityFieldChange.field)))
    assert fields == {"amount", "expected_close_date"}
    categories = set(demo_session.scalars(select(m.Opportunity.forecast_category)))
    assert "closed" in categories and len(categories) >= 2
    for deal in demo_session.scalars(select(m.Opportunity)):
        moves = list(
            demo_session.scalars(
                select(m.OpportunityStageChange.changed_at)
                .where(m.OpportunityStageChange.opportunity_id == deal.id)
                .order_by(m.OpportunityStageChange.id)
            )
        )
        assert moves == sorted(moves)
        assert deal.opened_at == moves[0]
    open_deals = demo_session.scalars(select(m.Opportunity).where(m.Opportunity.status == "open")).all()
    assert open_deals


def test_audit_chain_verifies_after_the_demo(loaded: LoadedDemo, demo_session: Session) -> None:
    report = verify_chain(demo_session)
    assert report.ok, report
    assert report.checked == loaded.counts["events"]


def test_as_of_a_date_before_the_win_the_deal_was_open(loaded: LoadedDemo, demo_session: Session) -> None:
    won_stage = demo_session.scalars(select(m.Stage).where(m.Stage.key == "won")).one()
    deals = demo_session.scalars(select(m.Opportunity).where(m.Opportunity.status == "won")).all()
    for deal in deals:
        assert deal.closed_at is not None and deal.opened_at is not None
        before = state_as_of(demo_session, "opportunity", deal.id, deal.closed_at - timedelta(seconds=1))
        assert before is not None
        assert before["status"] == "open" and before["stage_id"] != won_stage.id
        assert before["closed_at"] is None
        after = state_as_of(demo_session, "opportunity", deal.id, deal.closed_at)
        assert after is not None and after["status"] == "won" and after["stage_id"] == won_stage.id
        assert (
            state_as_of(demo_session, "opportunity", deal.id, deal.opened_at - timedelta(seconds=1)) is None
        )


def test_document_versions_are_stored_by_sha256(loaded: LoadedDemo, demo_session: Session) -> None:
    store = loaded.data_dir / "documents"
    versions = demo_session.scalars(select(m.DocumentVersion)).all()
    assert versions
    names = set(demo_session.scalars(select(m.Document.name)))
    assert "DSA介入耗材对比表" in names and "PLC通讯协议兼容性白皮书" in names
    for version in versions:
        content = (store / version.sha256).read_bytes()
        assert hashlib.sha256(content).hexdigest() == version.sha256
        assert len(content) == version.size_bytes
        if version.content_type == "application/pdf":
            assert content.startswith(b"%PDF-1.4") and content.rstrip().endswith(b"%%EOF")
    for document in demo_session.scalars(select(m.Document)):
        count = sum(1 for version in versions if version.document_id == document.id)
        assert document.current_version == count


def test_loading_twice_is_refused(loaded: LoadedDemo, demo_session: Session) -> None:
    with pytest.raises(Conflict):
        load_demo(demo_session, accounts=SMALL, seed=7, today=TODAY)


# --- entry points --------------------------------------------------------------------------


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    yield CliRunner()


def test_cli_demo_prints_counts_and_logins_and_refuses_a_second_time(
    configured: str, runner: CliRunner
) -> None:
    from pathcast.cli import app

    result = runner.invoke(app, ["demo", "--accounts", "5", "--seed", "3", "--today", "2025-06-30", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["counts"]["accounts"] == 5
    assert all(value > 0 for value in document["counts"].values()), document["counts"]
    assert {login["email"] for login in document["logins"]} >= {"admin@demo.pathcast.dev"}
    assert {login["password"] for login in document["logins"]} == {DEMO_PASSWORD}

    again = runner.invoke(app, ["demo", "--accounts", "5", "--seed", "3", "--json"])
    assert again.exit_code == 1
    assert "already holds the demo" in again.output


def test_cli_demo_refuses_a_bad_or_future_today(configured: str, runner: CliRunner) -> None:
    from pathcast.cli import app

    bad = runner.invoke(app, ["demo", "--today", "30/06/2025"])
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output
    future = runner.invoke(app, ["demo", "--today", (date.today() + timedelta(days=30)).isoformat()])
    assert future.exit_code == 1 and "future" in future.output


def test_load_demo_if_empty_loads_once(configured: str) -> None:
    logins = load_demo_if_empty(accounts=4, seed=5, today=TODAY)
    assert logins and {"role", "email", "password"} <= set(logins[0])
    assert load_demo_if_empty(accounts=4, seed=5, today=TODAY) == []


def test_load_demo_if_empty_leaves_a_used_database_alone(configured: str) -> None:
    from pathcast.auth.permissions import Actor

    with unit_of_work() as session:
        auth_service.create_user(
            session,
            actor=Actor.system("test"),
            email="someone@example.com",
            name="someone",
            role=Role.admin,
        )
    assert load_demo_if_empty(accounts=4, seed=5, today=TODAY) == []
    with unit_of_work(write=False) as session:
        assert session.scalars(select(m.Account)).first() is None
