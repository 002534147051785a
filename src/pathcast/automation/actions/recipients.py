"""Who a rule addresses: a role, a relation to the record, or one user, resolved to staff.

``resolve`` never raises for "nobody": it returns ``[]`` and the caller records that no
recipient matched, so a missing CSM shows up in the run history instead of failing it.
Only active staff are returned (never customer contacts), each once, ordered by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role, Team, User
from pathcast.auth.service import get_user_by_email
from pathcast.automation import ir
from pathcast.automation.actions.base import Subject
from pathcast.crm import service as crm
from pathcast.errors import NotFound

# Access roles a rule may name, with the words people use for them.
ACCESS_ROLES: dict[str, tuple[str, ...]] = {
    Role.admin.value: ("admin", "admins", "administrator", "管理员"),
    Role.manager.value: ("manager", "managers", "sales manager", "销售经理", "经理"),
    Role.rep.value: ("rep", "reps", "sales rep", "销售代表", "销售"),
    Role.member.value: ("member", "members"),
}

# Relations to the record, with their accepted spellings.
RELATIONS: dict[str, tuple[str, ...]] = {
    "owner": ("owner", "record_owner", "负责人", "所有人"),
    "account_owner": ("account_owner", "客户负责人"),
    "account_csm": ("account_csm", "csm", "客户成功经理"),
    "owner_manager": ("owner_manager", "manager_of_owner", "负责人的经理", "负责人的上级"),
}

# Pages of records, for links in messages.
RECORD_PAGES = {
    "account": "/accounts/{id}",
    "contact": "/contacts/{id}",
    "opportunity": "/opportunities/{id}",
    "document": "/documents/{id}",
}


def _norm(word: str) -> str:
    return "".join(word.split()).lower()


def _canonical(word: str, table: dict[str, tuple[str, ...]]) -> str | None:
    wanted = _norm(word)
    for key, spellings in table.items():
        if wanted == _norm(key) or any(wanted == _norm(spelling) for spelling in spellings):
            return key
    return None


def is_staff(user: User | None) -> bool:
    """An active user who works here (not a customer's contact)."""
    return user is not None and user.is_active and user.role != Role.customer_contact.value


# --- the subject, resolved ------------------------------------------------------------------


@dataclass
class SubjectScope:
    """The subject record and what hangs off it: its account, deal, contact, owner, region, team."""

    record: Any | None
    account: Any | None
    opportunity: Any | None
    contact_id: int | None
    owner: User | None
    region: str | None
    team_id: int | None

    @property
    def account_id(self) -> int | None:
        return self.account.id if self.account is not None else None

    @property
    def opportunity_id(self) -> int | None:
        return self.opportunity.id if self.opportunity is not None else None


def _load(session: Session, entity: str | None, record_id: int | None) -> Any | None:
    if entity is None or record_id is None:
        return None
    try:
        spec = crm.spec_for(entity)
    except NotFound:
        return None
    return session.get(spec.model, record_id)


def load_scope(session: Session, subject: Subject) -> SubjectScope:
    """Load the subject record and fill in whatever the subject did not say: the account
    via the deal (a quote, a contract), the owner via the deal and then the account."""
    record = _load(session, subject.entity, subject.id)
    opportunity_id = subject.opportunity_id or getattr(record, "opportunity_id", None)
    if subject.entity == "opportunity":
        opportunity_id = opportunity_id or subject.id
    opportunity = _load(session, "opportunity", opportunity_id)
    account_id = subject.account_id or getattr(record, "account_id", None)
    if subject.entity == "account":
        account_id = account_id or subject.id
    if account_id is None and opportunity is not None:
        account_id = opportunity.account_id
    account = _load(session, "account", account_id)
    contact_id = subject.contact_id or getattr(record, "contact_id", None)
    if subject.entity == "contact":
        contact_id = contact_id or subject.id
    if contact_id is None and opportunity is not None:
        contact_id = opportunity.contact_id
    owner_id = getattr(record, "owner_id", None)
    for fallback in (opportunity, account):
        if owner_id is None and fallback is not None:
            owner_id = fallback.owner_id
    owner = session.get(User, owner_id) if owner_id is not None else None
    team_id = owner.team_id if owner is not None else None
    region = account.region if account is not None and account.region else None
    if region is None and team_id is not None:
        team = session.get(Team, team_id)
        region = team.region if team is not None else None
    return SubjectScope(record, account, opportunity, contact_id, owner, region, team_id)


def subject_label(session: Session, subject: Subject, scope: SubjectScope | None = None) -> str:
    """How a message names the subject: the record's name (or subject, number), else entity #id."""
    scope = scope or load_scope(session, subject)
    record = scope.record
    for attribute in ("name", "subject", "number"):
        value = getattr(record, attribute, None) if record is not None else None
        if value:
            return str(value)
    if subject.entity and subject.id is not None:
        return f"{subject.entity} #{subject.id}"
    return subject.entity or "-"


def subject_link(subject: Subject, scope: SubjectScope | None = None) -> str | None:
    """The page of the subject record (or, failing that, of its deal or account)."""
    if subject.entity in RECORD_PAGES and subject.id is not None:
        return RECORD_PAGES[subject.entity].format(id=subject.id)
    if scope is not None and scope.opportunity is not None:
        return RECORD_PAGES["opportunity"].format(id=scope.opportunity.id)
    if scope is not None and scope.account is not None:
        return RECORD_PAGES["account"].format(id=scope.account.id)
    return None


# --- resolution ----------------------------------------------------------------------------


def resolve(session: Session, recipient: ir.Recipient, subject: Subject) -> list[User]:
    """The active staff a recipient stands for on this subject; ``[]`` when nobody matches."""
    if recipient.kind == "user":
        user = get_user_by_email(session, recipient.value)
        return [user] if user is not None and is_staff(user) else []
    scope = load_scope(session, subject)
    if recipient.kind == "relation":
        users = _by_relation(session, recipient.value, scope)
    else:
        users = _by_role(session, recipient.value, scope)
    unique = {user.id: user for user in users if is_staff(user)}
    return [unique[user_id] for user_id in sorted(unique)]


def resolve_all(session: Session, recipients: list[ir.Recipient], subject: Subject) -> list[User]:
    """Several recipients, merged: each person once, in the order first named."""
    seen: dict[int, User] = {}
    for recipient in recipients:
        for user in resolve(session, recipient, subject):
            seen.setdefault(user.id, user)
    return list(seen.values())


def describe(recipient: ir.Recipient) -> str:
    """``role:实施总监``, ``relation:owner``, ``user:a@b.c``: how a recipient is written in outcomes."""
    return f"{recipient.kind}:{recipient.value}"


def _by_relation(session: Session, value: str, scope: SubjectScope) -> list[User]:
    relation = _canonical(value, RELATIONS)
    if relation == "owner":
        return [scope.owner] if scope.owner is not None else []
    if relation == "account_owner":
        account = scope.account
        owner = session.get(User, account.owner_id) if account is not None and account.owner_id else None
        return [owner] if owner is not None else []
    if relation == "account_csm":
        if scope.account is None:
            return []
        return positions.account_team(session, scope.account.id, "csm")
    if relation == "owner_manager":
        return _team_managers(session, scope.team_id, exclude=scope.owner)[:1]
    return []


def _team_managers(session: Session, team_id: int | None, exclude: User | None = None) -> list[User]:
    """The team's named manager first, then any other manager-role member of the team."""
    if team_id is None:
        return []
    team = session.get(Team, team_id)
    found: list[User] = []
    if team is not None and team.manager_id is not None:
        lead = session.get(User, team.manager_id)
        if lead is not None:
            found.append(lead)
    found.extend(
        session.scalars(
            select(User)
            .where(User.team_id == team_id, User.role == Role.manager.value, User.is_active.is_(True))
            .order_by(User.id)
        )
    )
    unique = {user.id: user for user in found if exclude is None or user.id != exclude.id}
    # dict keeps insertion order: the named manager stays first
    return list(unique.values())


def _by_role(session: Session, value: str, scope: SubjectScope) -> list[User]:
    position = positions.find_position(session, value)
    if position is not None:
        return _position_holders(session, position, scope)
    access_role = _canonical(value, ACCESS_ROLES)
    if access_role is None:
        return []
    if access_role == Role.manager.value and scope.team_id is not None:
        # "notify the manager" about a record means the manager of its owner's team.
        managers = _team_managers(session, scope.team_id)
        if managers:
            return managers
    return list(
        session.scalars(
            select(User).where(User.role == access_role, User.is_active.is_(True)).order_by(User.id)
        )
    )


def _position_holders(session: Session, position: Any, scope: SubjectScope) -> list[User]:
    """Holders of a position, limited to the subject's region or team when it is held regionally.

    A holder for the subject's region wins, then one for its owner's team; otherwise the holders
    with no region or team; when the subject's region and team are unknown, everyone
    holding it. A regional-only position with no holder for this region gives ``[]``.
    """
    held = positions.holdings(session, position)
    overall = [user for user, where in held if where.region is None and where.team_id is None]
    regional = [
        (user, where) for user, where in held if where.region is not None or where.team_id is not None
    ]
    if not regional:
        return overall
    if scope.region is None and scope.team_id is None:
        return overall or [user for user, _ in regional]
    region = _norm(scope.region) if scope.region else None
    # The account's region decides first; the owner's team only when no one holds the region.
    in_region = [
        user for user, where in regional if region and where.region and _norm(where.region) == region
    ]
    in_team = [
        user for user, where in regional if scope.team_id is not None and where.team_id == scope.team_id
    ]
    return in_region or in_team or overall
