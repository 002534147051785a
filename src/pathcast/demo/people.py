"""The demo's staff: an admin, sales teams with managers and reps, and delivery members."""

from __future__ import annotations

from datetime import timedelta

from pathcast.auth import positions
from pathcast.auth import service as auth_service
from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm.models import Tier
from pathcast.crm.service import lookups as crm_lookups
from pathcast.demo.context import Demo, Seller
from pathcast.demo.vocabulary import (
    ADMIN,
    CUSTOMER_KEY,
    DEMO_DOMAIN,
    DEMO_PASSWORD,
    MEMBERS,
    TEAMS,
)


def demo_email(key: str) -> str:
    """The login e-mail of a demo user, e.g. ``rep.east1@demo.pathcast.dev``."""
    return f"{key}@{DEMO_DOMAIN}"


ADMIN_EMAIL = demo_email(ADMIN[0])


def _user(
    demo: Demo,
    key: str,
    name: str,
    role: Role,
    locale: str,
    *,
    team_id: int | None = None,
    account_id: int | None = None,
    what: str | None = None,
) -> User:
    user = auth_service.create_user(
        demo.session,
        actor=demo.system,
        email=demo_email(key),
        name=name,
        role=role,
        password=DEMO_PASSWORD,
        team_id=team_id,
        account_id=account_id,
        locale=locale,
        external_source="demo",
        external_id=key,
    )
    login = {"role": role.value, "email": user.email, "password": DEMO_PASSWORD, "name": name}
    if what:
        login["what"] = what
    demo.logins.append(login)
    return user


def create_staff(demo: Demo) -> None:
    """Admin, teams (each with a manager and reps) and cross-functional members."""
    key, _, name, locale = ADMIN
    admin = _user(demo, key, name, Role.admin, locale, what="管理员 Admin / IT")
    demo.admin = Actor.for_user(admin)
    for plan in TEAMS:
        team = auth_service.create_team(demo.session, actor=demo.system, name=plan.name, region=plan.region)
        manager_name, manager_locale = plan.manager
        manager = _user(
            demo,
            f"manager.{plan.key}",
            manager_name,
            Role.manager,
            manager_locale,
            team_id=team.id,
            what=f"销售经理 Sales manager, {plan.name}",
        )
        auth_service.set_team_manager(demo.session, actor=demo.system, team=team, manager_id=manager.id)
        manager_actor = Actor.for_user(manager)
        sellers = []
        for number, (rep_name, rep_locale) in enumerate(plan.reps, start=1):
            rep = _user(
                demo,
                f"rep.{plan.key}{number}",
                rep_name,
                Role.rep,
                rep_locale,
                team_id=team.id,
                what=f"销售代表 Sales rep, {plan.name}",
            )
            sellers.append(Seller(rep, Actor.for_user(rep), plan, manager_actor))
        demo.sellers[plan.key] = sellers
    for member_key, member_name, member_locale, what in MEMBERS:
        member = _user(demo, member_key, member_name, Role.member, member_locale, what=what)
        demo.members[member_key] = Actor.for_user(member)
    create_positions(demo)


def create_customer_login(demo: Demo) -> None:
    """A portal login for a contact of the customer with the most won business."""
    candidates = [info for info in demo.accounts if info.won and info.contacts]
    if not candidates:
        candidates = [info for info in demo.accounts if info.contacts] or demo.accounts
    best = max(
        candidates,
        key=lambda info: (sum(opp.amount or 0 for opp in info.won), -info.account.id),
    )
    name = best.contacts[0].name if best.contacts else "Customer contact"
    _user(
        demo,
        CUSTOMER_KEY,
        name,
        Role.customer_contact,
        "zh-CN",
        account_id=best.account.id,
        what=f"客户联系人 Customer contact, {best.account.name}",
    )


# Members by the positions they hold (keys of MEMBERS).
MEMBER_POSITIONS = {
    "it": ("implementation_director",),
    "delivery": ("delivery_manager", "production_planner"),
    "logistics": ("logistics",),
    "success": ("csm",),
}
# The global team's manager is the sales VP, so strategic approvals in 华东 and 华北 go to another
# person than those regions' own managers.
SALES_VP_TEAM = "saas"
CSM_ACCOUNTS = 5


def _staff(demo: Demo, actor: Actor) -> User:
    user = demo.session.get(User, actor.user_id)
    if user is None:  # pragma: no cover - the demo just created them
        raise LookupError(actor.user_id)
    return user


def create_positions(demo: Demo) -> None:
    """Business positions and their holders, dated at the start of the history: the IT lead is
    实施总监, each manager the regional manager of their team, the global team's also the sales VP."""
    session, at = demo.session, demo.start
    held = positions.ensure_default_positions(session, actor=demo.system, occurred_at=at)
    for member_key, keys in MEMBER_POSITIONS.items():
        if member_key not in demo.members:
            continue
        for key in keys:
            positions.assign_position(
                session,
                user=_staff(demo, demo.members[member_key]),
                position=held[key],
                actor=demo.system,
                occurred_at=at,
            )
    for plan in TEAMS:
        sellers = demo.sellers.get(plan.key)
        if not sellers:
            continue
        manager = _staff(demo, sellers[0].manager)
        positions.assign_position(
            session,
            user=manager,
            position=held["regional_manager"],
            region=plan.region,
            team_id=manager.team_id,
            actor=demo.system,
            occurred_at=at,
        )
        if plan.key == SALES_VP_TEAM:
            positions.assign_position(
                session, user=manager, position=held["sales_vp"], actor=demo.system, occurred_at=at
            )


def _is_standard(demo: Demo, account_id: int) -> bool:
    account = crm_lookups.get_account(demo.session, account_id)
    return account is None or account.tier == Tier.standard.value


def create_account_teams(demo: Demo) -> None:
    """The customer-success manager on a few accounts ("the account's CSM"), the strategic and
    key ones first. Call after the accounts exist; draws nothing from the random stream."""
    success = demo.members.get("success")
    csm = positions.get_position(demo.session, "csm")
    if success is None or csm is None:
        return
    user = _staff(demo, success)
    ranked = sorted(demo.accounts, key=lambda info: (_is_standard(demo, info.account.id), info.account.id))
    for info in ranked[:CSM_ACCOUNTS]:
        positions.add_account_team_member(
            demo.session,
            account_id=info.account.id,
            user=user,
            position=csm,
            actor=demo.system,
            occurred_at=min(info.created_at + timedelta(days=1), demo.horizon),
        )
