"""Hives core through the services on SQLite and PostgreSQL: creating a hive from the shipped
template (tasks, dependencies, members invited by role, the critical path), the list and its
filters, changing a hive (promise moved earlier → risk alert, at risk), members, templates,
and every refusal (a member sees only their hive, cannot create one or manage members; a
rep of another team gets 404; non-admins cannot write templates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import Event
from pathcast.hives import models as m
from pathcast.hives.service import directory, templates
from pathcast.hives.service.access import get_hive
from pathcast.hives.service.hives import create_hive, members_of
from tests import factories as f

ADMIN = f.SYSTEM
START = date(2025, 7, 1)
NOW = datetime(2025, 7, 1, 2, 0, tzinfo=UTC)


@dataclass
class World:
    """Sellers of two teams, delivery members holding positions, an outsider member, an admin,
    and one account per team."""

    rep: Actor
    manager: Actor
    west_rep: Actor
    delivery: Actor
    logistics: Actor
    outsider: Actor
    admin: Actor
    account_id: int
    west_account_id: int
    users: dict[str, User]


def build_world(session: Session, people: dict[str, User] | None = None) -> World:
    """The world; ``people`` may bring users who can sign in (the web tests)."""
    if people is None:
        east, west = f.team(session, "East"), f.team(session, "West")
        people = {
            "rep": f.user(session, "rep@example.com", team_obj=east),
            "manager": f.user(session, "manager@example.com", role=Role.manager, team_obj=east),
            "west_rep": f.user(session, "west@example.com", team_obj=west),
            "delivery": f.user(session, "delivery@example.com", role=Role.member),
            "logistics": f.user(session, "logistics@example.com", role=Role.member),
            "outsider": f.user(session, "outsider@example.com", role=Role.member),
            "admin": f.user(session, "admin@example.com", role=Role.admin),
        }
    held = positions.ensure_default_positions(session, actor=ADMIN)
    for key, position_keys in (
        ("delivery", ("delivery_manager", "production_planner")),
        ("logistics", ("logistics",)),
    ):
        for position_key in position_keys:
            positions.assign_position(session, user=people[key], position=held[position_key], actor=ADMIN)
    account = f.account(session, name="恒泰精密 Hengtai", industry="automation", owner_id=people["rep"].id)
    west_account = f.account(session, name="西部机床 West Tools", owner_id=people["west_rep"].id)
    session.flush()
    return World(
        rep=f.actor(people["rep"]),
        manager=f.actor(people["manager"]),
        west_rep=f.actor(people["west_rep"]),
        delivery=f.actor(people["delivery"]),
        logistics=f.actor(people["logistics"]),
        outsider=f.actor(people["outsider"]),
        admin=f.actor(people["admin"]),
        account_id=account.id,
        west_account_id=west_account.id,
        users=people,
    )


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def line_upgrade(session: Session, world: World, **options: object) -> m.Hive:
    """A hive from the shipped template, created by the account's rep."""
    values: dict[str, object] = {"start_date": START, "promised_date": START + timedelta(days=60), "now": NOW}
    values.update(options)
    return create_hive(session, world.rep, account_id=world.account_id, template="产线升级", **values)  # type: ignore[arg-type]


def test_a_hive_from_the_template_has_its_board_people_and_critical_path(
    session: Session, world: World
) -> None:
    hive = line_upgrade(session, world)
    tasks = list(session.scalars(select(m.Task).where(m.Task.hive_id == hive.id)))
    milestones = {task.key: task for task in tasks if task.kind == "milestone"}
    assert set(milestones) >= {"kickoff", "production_plan", "manufacturing", "shipping", "handover"}
    assert len([task for task in tasks if task.kind == "check"]) == 3
    assert session.scalar(select(m.Dependency.id).where(m.Dependency.hive_id == hive.id)) is not None
    critical = {key for key, task in milestones.items() if task.critical}
    assert {"production_plan", "manufacturing", "shipping", "installation", "handover"} <= critical
    assert "site_survey" not in critical
    assert hive.forecast_finish == START + timedelta(days=43)
    functions: dict[int | None, str] = {
        member.user_id: member.function for member in members_of(session, hive.id)
    }
    assert functions[world.rep.user_id] == "sales"
    assert functions[world.delivery.user_id] == "delivery"
    assert functions[world.logistics.user_id] == "logistics"
    assert world.outsider.user_id not in functions
    types = [
        e.type
        for e in session.scalars(select(Event).where(Event.entity == "hive", Event.entity_id == str(hive.id)))
    ]
    assert types[0] == "hive.created" and types.count("hive.member_added") == len(functions)
    assert hive.status == "active"


def test_members_read_only_their_hives_and_refusals(session: Session, world: World) -> None:
    hive = line_upgrade(session, world)
    other = create_hive(session, world.west_rep, account_id=world.west_account_id, now=NOW)
    assert [h.id for h in directory.list_hives(session, world.delivery)] == [hive.id]
    assert directory.list_hives(session, world.outsider) == []
    with pytest.raises(NotFound):
        get_hive(session, world.delivery, other.id)
    with pytest.raises(NotFound):
        get_hive(session, world.outsider, hive.id)
    with pytest.raises(NotFound):
        get_hive(session, world.west_rep, hive.id)
    with pytest.raises(PermissionDenied):
        create_hive(session, world.delivery, account_id=world.account_id)
    with pytest.raises(PermissionDenied):
        directory.invite_member(
            session, world.delivery, hive_id=hive.id, user_id=world.outsider.user_id or 0, function="quality"
        )
    with pytest.raises(PermissionDenied):
        directory.uninvite_member(
            session, world.delivery, hive_id=hive.id, user_id=world.logistics.user_id or 0
        )
    customer = Actor(user_id=None, role=Role.customer_contact, account_id=world.account_id)
    with pytest.raises(PermissionDenied):
        directory.list_hives(session, customer)
    # the manager of the account's team and the admin read it; "mine" narrows to membership
    assert [h.id for h in directory.list_hives(session, world.manager)] == [hive.id]
    assert {h.id for h in directory.list_hives(session, world.admin)} == {hive.id, other.id}
    assert directory.list_hives(session, world.manager, mine=True) == []
    assert [h.id for h in directory.list_hives(session, world.rep, mine=True)] == [hive.id]
    assert directory.list_hives(session, world.admin, status="closed") == []
    with pytest.raises(InvalidInput) as refused:
        directory.list_hives(session, world.admin, status="sleeping")
    assert refused.value.errors[0].field == "status"


def test_members_are_added_and_removed_by_sellers(session: Session, world: World) -> None:
    hive = line_upgrade(session, world)
    member, new = directory.invite_member(
        session, world.rep, hive_id=hive.id, user_id=world.outsider.user_id or 0, function="quality"
    )
    assert new and member.function == "quality"
    assert [h.id for h in directory.list_hives(session, world.outsider)] == [hive.id]
    _, again = directory.invite_member(
        session, world.rep, hive_id=hive.id, user_id=world.outsider.user_id or 0, function="quality"
    )
    assert not again
    with pytest.raises(InvalidInput) as refused:
        directory.invite_member(
            session, world.rep, hive_id=hive.id, user_id=world.outsider.user_id or 0, function="cook"
        )
    assert refused.value.errors[0].field == "function"
    with pytest.raises(InvalidInput):
        directory.invite_member(session, world.rep, hive_id=hive.id, user_id=999_999, function="quality")
    directory.uninvite_member(session, world.rep, hive_id=hive.id, user_id=world.outsider.user_id or 0)
    assert directory.list_hives(session, world.outsider) == []
    with pytest.raises(NotFound):
        directory.uninvite_member(session, world.rep, hive_id=hive.id, user_id=world.outsider.user_id or 0)
    counts = directory.hive_counts(session, [hive.id])[hive.id]
    assert counts.members == 3 and counts.milestones == 8 and counts.open_risks == 2


def test_moving_the_promise_before_the_forecast_raises_an_alert(session: Session, world: World) -> None:
    hive = line_upgrade(session, world)
    with pytest.raises(InvalidInput) as refused:
        directory.update_hive(
            session, world.rep, hive_id=hive.id, promised_date=START - timedelta(days=1), name=""
        )
    assert {error.field for error in refused.value.errors} == {"promised_date", "name"}
    directory.update_hive(
        session, world.rep, hive_id=hive.id, promised_date=START + timedelta(days=30), name="新名字", now=NOW
    )
    assert hive.name == "新名字" and hive.status == "at_risk"
    alert = session.scalars(
        select(Event).where(Event.type == "hive.risk_alert", Event.entity_id == str(hive.id))
    ).one()
    assert alert.payload["kind"] == "critical_path_past_promise" and alert.payload["late_days"] == 13
    updated = session.scalars(select(Event).where(Event.type == "hive.updated")).one()
    assert updated.payload["before"]["name"] != "新名字" and updated.payload["after"]["name"] == "新名字"
    with pytest.raises(PermissionDenied):
        directory.update_hive(session, world.delivery, hive_id=hive.id, status="sleeping")
    directory.update_hive(session, world.rep, hive_id=hive.id, status="closed")
    assert hive.status == "closed"
    assert directory.active_hive_for_account(session, world.account_id) is None


def test_templates_are_admin_written_and_errors_name_their_path(session: Session, world: World) -> None:
    templates.ensure_default_templates(session, ADMIN)
    listed = templates.list_templates(session, world.delivery)
    assert [t.key for t in listed] == ["line_upgrade"]
    definition = {
        "milestones": [{"key": "a", "name_zh": "甲", "name_en": "A", "offset_days": 0, "duration_days": 2}]
    }
    with pytest.raises(PermissionDenied):
        templates.save_template(
            session, world.manager, key="x", name_zh="x", name_en="x", definition=definition
        )
    bad = {"milestones": [{**definition["milestones"][0], "depends_on": ["nope"]}, {"key": "b"}]}
    with pytest.raises(InvalidInput) as refused:
        templates.save_template(session, world.admin, key="x", name_zh="x", name_en="x", definition=bad)
    fields = [error.field for error in refused.value.errors]
    assert "definition.milestones.1.name_zh" in fields
    saved = templates.save_template(
        session, world.admin, key="small", name_zh="小", name_en="Small", definition=definition
    )
    hive = create_hive(session, world.rep, account_id=world.account_id, template="Small", now=NOW)
    assert hive.template_id == saved.id
    with pytest.raises(InvalidInput) as unknown:
        create_hive(session, world.rep, account_id=world.account_id, template="no such template")
    assert unknown.value.errors[0].field == "template"


def test_a_hive_opens_only_on_an_account_and_deal_the_seller_may_read(session: Session, world: World) -> None:
    # Before, the account was read without scoping: a rep could open a hive on another
    # team's account (and a hive could point at any deal).
    with pytest.raises(InvalidInput) as hidden:
        create_hive(session, world.rep, account_id=world.west_account_id, template="line_upgrade")
    assert [error.field for error in hidden.value.errors] == ["account_id"]
    west_deal = f.opportunity(session, world.west_rep, name="West deal", account_id=world.west_account_id)
    with pytest.raises(InvalidInput) as foreign:
        create_hive(session, world.admin, account_id=world.account_id, opportunity_id=west_deal.id)
    assert [error.field for error in foreign.value.errors] == ["opportunity_id"]
    made = create_hive(session, world.admin, account_id=world.west_account_id, opportunity_id=west_deal.id)
    assert made.opportunity_id == west_deal.id
