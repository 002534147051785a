"""Who is acting, and the one table of role × model × create/read/update/delete rights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pathcast.auth.models import Role, User

Operation = Literal["create", "read", "update", "delete"]
_OPS: dict[str, Operation] = {"c": "create", "r": "read", "u": "update", "d": "delete"}


@dataclass(frozen=True)
class Actor:
    """The caller of a service: a user with a role and team, or the system itself."""

    user_id: int | None
    role: Role
    team_id: int | None = None
    account_id: int | None = None
    email: str | None = None
    locale: str = "zh-CN"

    @property
    def label(self) -> str:
        """How the actor is written in the event log."""
        if self.user_id is None:
            return self.email or "system"
        return f"user:{self.user_id}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """An actor for imports, demo data and scheduled work; it may do everything."""
        return cls(user_id=None, role=Role.admin, email=label)

    @classmethod
    def for_user(cls, user: User) -> Actor:
        return cls(
            user_id=user.id,
            role=Role(user.role),
            team_id=user.team_id,
            account_id=user.account_id,
            email=user.email,
            locale=user.locale,
        )


# Rights per model: letters c, r, u, d for each role. Row scoping (which rows) lives in
# each package's auth.py; this table says only whether the role may act on the model.
RIGHTS: dict[str, dict[Role, str]] = {
    "account": {
        Role.admin: "crud",
        Role.manager: "cru",
        Role.rep: "cru",
        Role.member: "r",
        Role.customer_contact: "r",
    },
    "contact": {
        Role.admin: "crud",
        Role.manager: "crud",
        Role.rep: "cru",
        Role.member: "r",
        Role.customer_contact: "r",
    },
    "product": {Role.admin: "crud", Role.manager: "r", Role.rep: "r", Role.member: "r"},
    "price_list": {Role.admin: "crud", Role.manager: "r", Role.rep: "r"},
    "pipeline": {Role.admin: "crud", Role.manager: "r", Role.rep: "r"},
    "stage": {Role.admin: "crud", Role.manager: "r", Role.rep: "r"},
    "opportunity": {Role.admin: "crud", Role.manager: "crud", Role.rep: "cru"},
    "quote": {Role.admin: "crud", Role.manager: "crud", Role.rep: "crud"},
    "quote_line": {Role.admin: "crud", Role.manager: "crud", Role.rep: "crud"},
    "opportunity_line": {Role.admin: "crud", Role.manager: "crud", Role.rep: "crud"},
    "price_list_item": {Role.admin: "crud", Role.manager: "r", Role.rep: "r"},
    "activity": {Role.admin: "crud", Role.manager: "crud", Role.rep: "crud"},
    "contract": {Role.admin: "crud", Role.manager: "cru", Role.rep: "r"},
    "subscription": {Role.admin: "crud", Role.manager: "cru", Role.rep: "r"},
    "ticket": {
        Role.admin: "crud",
        Role.manager: "cru",
        Role.rep: "cru",
        Role.member: "cru",
        Role.customer_contact: "r",
    },
    "document": {
        Role.admin: "crud",
        Role.manager: "crud",
        Role.rep: "cru",
        Role.member: "r",
        Role.customer_contact: "r",
    },
    # Behaviour signals (identified visits, identity links, consent): sellers only. Delivery
    # members and customer contacts never read another person's tracked behaviour.
    "behaviour": {Role.admin: "crud", Role.manager: "cru", Role.rep: "cru"},
    # Automation rules: managers write them, reps read them (and what they would do).
    "rule": {Role.admin: "crud", Role.manager: "cru", Role.rep: "r"},
    # The forecast (scores, drivers, distributions, annotations, submissions): sellers only.
    # Reps annotate and submit ("cu"); managers also see their teams; admins tune settings.
    "forecast": {Role.admin: "crud", Role.manager: "cru", Role.rep: "cru"},
    # Radar signals (outside and conversational text, graded): sellers only. Reps read and
    # correct (polarity, intent, severity); admins configure sources, weights and topics.
    "radar": {Role.admin: "crud", Role.manager: "cru", Role.rep: "cru"},
    # The radar's response toolbox content (knowledge Q&A, competitor matrix, case studies):
    # product marketing (managers) and admins edit it; reps read it and draft from it.
    "radar_toolbox": {Role.admin: "crud", Role.manager: "crud", Role.rep: "r"},
    # Task hives: sellers open them; delivery members work in the hives they belong to
    # (row scoping in hives.service.access), never in the pipeline.
    "hive": {Role.admin: "crud", Role.manager: "crud", Role.rep: "cru", Role.member: "ru"},
    # Hive templates: admins edit them, everyone who works in hives reads them.
    "hive_template": {Role.admin: "crud", Role.manager: "r", Role.rep: "r", Role.member: "r"},
    # Capacity (resources and reservations): production planners (members) and managers keep it.
    "hive_resource": {Role.admin: "crud", Role.manager: "cru", Role.rep: "r", Role.member: "cru"},
    "user": {Role.admin: "crud", Role.manager: "r", Role.rep: "r", Role.member: "r"},
    "team": {Role.admin: "crud", Role.manager: "r", Role.rep: "r", Role.member: "r"},
}


def allowed_operations(model: str, role: Role) -> set[Operation]:
    """The operations ``role`` may perform on ``model`` at all."""
    letters = RIGHTS.get(model, {}).get(role, "")
    return {_OPS[letter] for letter in letters}


def may(actor: Actor, model: str, operation: Operation) -> bool:
    """Whether the actor's role grants ``operation`` on ``model``."""
    return operation in allowed_operations(model, actor.role)
