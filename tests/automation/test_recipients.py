"""Recipients: roles (positions, regionally scoped; access roles), relations to the record, users."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.automation.actions.base import Subject
from pathcast.automation.actions.recipients import resolve, resolve_all
from pathcast.automation.ir import Recipient
from pathcast.crm import service as crm
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import Event
from tests import factories as f

SYSTEM = f.SYSTEM


def emails(users: list[User]) -> list[str]:
    return [user.email for user in users]


@pytest.fixture
def org(session: Session) -> dict[str, Any]:
    """East (华东) and West (华北) teams with managers and reps; positions and their holders."""
    east = auth_service.create_team(session, actor=SYSTEM, name="East", region="华东")
    west = auth_service.create_team(session, actor=SYSTEM, name="West", region="华北")
    people: dict[str, Any] = {
        "admin": f.user(session, "admin@example.com", role=Role.admin, password=None),
        "east_manager": f.user(session, "em@example.com", role=Role.manager, team_obj=east, password=None),
        "east_rep": f.user(session, "er@example.com", role=Role.rep, team_obj=east, password=None),
        "west_manager": f.user(session, "wm@example.com", role=Role.manager, team_obj=west, password=None),
        "west_rep": f.user(session, "wr@example.com", role=Role.rep, team_obj=west, password=None),
        "it": f.user(session, "it@example.com", role=Role.member, password=None),
        "success": f.user(session, "csm@example.com", role=Role.member, password=None),
        "east": east,
        "west": west,
    }
    auth_service.set_team_manager(session, actor=SYSTEM, team=east, manager_id=people["east_manager"].id)
    auth_service.set_team_manager(session, actor=SYSTEM, team=west, manager_id=people["west_manager"].id)
    held = positions.ensure_default_positions(session, actor=SYSTEM)
    positions.assign_position(
        session, user=people["it"], position=held["implementation_director"], actor=SYSTEM
    )
    positions.assign_position(session, user=people["admin"], position=held["sales_vp"], actor=SYSTEM)
    for team, manager in ((east, "east_manager"), (west, "west_manager")):
        positions.assign_position(
            session,
            user=people[manager],
            position=held["regional_manager"],
            region=team.region,
            team_id=team.id,
            actor=SYSTEM,
        )
    people["held"] = held
    return people


def account_subject(session: Session, owner: User | None, **values: Any) -> Subject:
    account = f.account(session, owner_id=owner.id if owner else None, **values)
    return Subject("account", account.id, account_id=account.id)


def role(value: str) -> Recipient:
    return Recipient(kind="role", value=value)


def relation(value: str) -> Recipient:
    return Recipient(kind="relation", value=value)


# --- roles ---------------------------------------------------------------------------------------


def test_a_position_is_found_by_key_chinese_name_or_alias(session: Session, org: dict[str, Any]) -> None:
    subject = account_subject(session, org["east_rep"], region="华东")
    for word in ("implementation_director", "实施总监", "交付总监", "Head of Implementation"):
        assert emails(resolve(session, role(word), subject)) == ["it@example.com"], word
    for word in ("sales_vp", "销售副总裁", "销售VP", "VP of sales"):
        assert emails(resolve(session, role(word), subject)) == ["admin@example.com"], word


def test_a_regional_position_goes_to_the_holder_for_the_accounts_region(
    session: Session, org: dict[str, Any]
) -> None:
    east_account = account_subject(session, org["east_rep"], region="华东")
    north_account = account_subject(session, org["east_rep"], region="华北")
    assert emails(resolve(session, role("区域经理"), east_account)) == ["em@example.com"]
    # the account's region decides, not the owner's team
    assert emails(resolve(session, role("regional_manager"), north_account)) == ["wm@example.com"]


def test_without_an_account_region_the_owners_team_decides(session: Session, org: dict[str, Any]) -> None:
    subject = account_subject(session, org["west_rep"], name="无区域客户")
    assert emails(resolve(session, role("regional_manager"), subject)) == ["wm@example.com"]


def test_a_region_nobody_covers_gives_nobody_or_the_overall_holder(
    session: Session, org: dict[str, Any]
) -> None:
    south = account_subject(session, None, name="华南客户", region="华南")
    assert resolve(session, role("regional_manager"), south) == []
    # someone holding the position everywhere covers the gap
    positions.assign_position(
        session, user=org["admin"], position=org["held"]["regional_manager"], actor=SYSTEM
    )
    assert emails(resolve(session, role("regional_manager"), south)) == ["admin@example.com"]


def test_access_roles_manager_means_the_owners_team_manager(session: Session, org: dict[str, Any]) -> None:
    subject = account_subject(session, org["west_rep"], region="华北")
    assert emails(resolve(session, role("manager"), subject)) == ["wm@example.com"]
    assert emails(resolve(session, role("销售经理"), subject)) == ["wm@example.com"]
    unowned = account_subject(session, None, name="无主客户")
    assert emails(resolve(session, role("manager"), unowned)) == ["em@example.com", "wm@example.com"]
    assert emails(resolve(session, role("admin"), subject)) == ["admin@example.com"]


def test_an_unknown_role_or_an_unheld_position_gives_nobody(session: Session, org: dict[str, Any]) -> None:
    subject = account_subject(session, org["east_rep"], region="华东")
    assert resolve(session, role("宇航员"), subject) == []
    assert resolve(session, role("logistics"), subject) == []


def test_inactive_holders_and_customer_contacts_are_never_recipients(
    session: Session, org: dict[str, Any]
) -> None:
    subject = account_subject(session, org["east_rep"], region="华东")
    auth_service.update_user(session, actor=SYSTEM, user=org["it"], changes={"is_active": False})
    assert resolve(session, role("实施总监"), subject) == []
    customer = f.user(session, "buyer@hospital.example", role=Role.customer_contact, account_id=subject.id)
    assert resolve(session, Recipient(kind="user", value=customer.email), subject) == []
    with pytest.raises(InvalidInput) as refused:
        positions.assign_position(session, user=customer, position=org["held"]["csm"], actor=SYSTEM)
    assert refused.value.errors[0].code == "position_needs_staff"


# --- relations -------------------------------------------------------------------------------------


def test_owner_of_an_opportunity_a_quote_and_an_unowned_contact(
    session: Session, org: dict[str, Any]
) -> None:
    rep = org["east_rep"]
    account = f.account(session, owner_id=org["west_rep"].id, region="华北")
    deal = f.opportunity(session, SYSTEM, account_id=account.id, owner_id=rep.id)
    quote = crm.create_quote(session, actor=SYSTEM, data={"opportunity_id": deal.id})
    quote.owner_id = None  # an imported quote without owner: its deal's owner answers for it
    session.flush()
    contact = f.contact(session, account_id=account.id, owner_id=None)
    assert emails(resolve(session, relation("owner"), Subject("opportunity", deal.id))) == [rep.email]
    assert emails(resolve(session, relation("owner"), Subject("quote", quote.id))) == [rep.email]
    assert emails(resolve(session, relation("负责人"), Subject("contact", contact.id))) == [
        org["west_rep"].email
    ]
    quote_subject = Subject("quote", quote.id)
    assert emails(resolve(session, relation("account_owner"), quote_subject)) == [org["west_rep"].email]
    assert emails(resolve(session, relation("owner_manager"), quote_subject)) == ["em@example.com"]


def test_the_accounts_csm_is_its_account_team_member(session: Session, org: dict[str, Any]) -> None:
    subject = account_subject(session, org["east_rep"], region="华东")
    assert resolve(session, relation("account_csm"), subject) == []
    positions.add_account_team_member(
        session, account_id=subject.id or 0, user=org["success"], position=org["held"]["csm"], actor=SYSTEM
    )
    again = positions.add_account_team_member(
        session, account_id=subject.id or 0, user=org["success"], position=org["held"]["csm"], actor=SYSTEM
    )
    assert again.id is not None
    assert emails(resolve(session, relation("account_csm"), subject)) == ["csm@example.com"]
    deal = f.opportunity(session, f.actor(org["east_rep"]), account_id=subject.id)
    assert emails(resolve(session, relation("account_csm"), Subject("opportunity", deal.id))) == [
        "csm@example.com"
    ]
    added = session.query(Event).filter(Event.type == "account.team_member_added").all()
    assert len(added) == 1 and added[0].payload == {"user_id": org["success"].id, "position": "csm"}


def test_nobody_related_gives_an_empty_list(session: Session, org: dict[str, Any]) -> None:
    unowned = account_subject(session, None, name="无主客户")
    for value in ("owner", "account_owner", "owner_manager", "account_csm", "the cousin"):
        assert resolve(session, relation(value), unowned) == [], value
    assert resolve(session, relation("owner"), Subject("opportunity", 123456)) == []
    assert resolve(session, relation("owner"), Subject(None, None)) == []


# --- users -----------------------------------------------------------------------------------------


def test_a_user_by_email_case_insensitively(session: Session, org: dict[str, Any]) -> None:
    subject = Subject(None, None)
    assert emails(resolve(session, Recipient(kind="user", value="EM@Example.com"), subject)) == [
        "em@example.com"
    ]
    assert resolve(session, Recipient(kind="user", value="nobody@example.com"), subject) == []


def test_several_recipients_merge_each_person_once(session: Session, org: dict[str, Any]) -> None:
    subject = account_subject(session, org["east_rep"], region="华东")
    merged = resolve_all(
        session,
        [relation("owner_manager"), role("区域经理"), Recipient(kind="user", value="it@example.com")],
        subject,
    )
    assert emails(merged) == ["em@example.com", "it@example.com"]


# --- the positions service -----------------------------------------------------------------------


def test_positions_service_writes_events_and_only_admins_may(session: Session, org: dict[str, Any]) -> None:
    types = [event.type for event in session.query(Event).filter(Event.entity == "position")]
    assert types.count("position.created") == len(positions.DEFAULT_POSITIONS)
    assert types.count("position.assigned") == 4
    assert emails(positions.holders(session, "regional_manager")) == ["em@example.com", "wm@example.com"]
    renamed = positions.ensure_position(
        session, key="csm", name="CSM", name_zh="客户成功经理", aliases=["客户成功"], actor=SYSTEM
    )
    assert renamed.name == "CSM"
    assert session.query(Event).filter(Event.type == "position.updated").count() == 1
    with pytest.raises(PermissionDenied):
        positions.ensure_position(
            session, key="x", name="X", name_zh="某", aliases=[], actor=f.actor(org["east_rep"])
        )
    assert positions.unassign_position(
        session, user=org["it"], position=org["held"]["implementation_director"], actor=SYSTEM
    )
    assert positions.holders(session, "implementation_director") == []
