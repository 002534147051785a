"""What a customer sees of the people serving their account: their certificates and training.

For one account only (a customer contact's own; another id is a 404 like a missing
account, through crm's read scoping): the account's owner and its account team
(``auth.positions.account_team``, with their position keys), each with the
``customer_visible`` fields (``fields_of_class``) of their enrollments in
customer-visible courses. Certificates carry their status on the day asked (valid,
expiring within ``training.EXPIRING_DAYS`` days, expired); training in archived courses
is left out (it cannot be finished). Nothing about other customers, no internal course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.errors import NotFound
from pathcast.portal.models import Course, Enrollment
from pathcast.portal.schemas_admin import CertificateRead, CourseRead, EnrollmentRead, TeamMemberRead
from pathcast.portal.service.training import certificate_status
from pathcast.schemas import ExportClass, fields_of_class

_COURSE_SHOWN = fields_of_class(CourseRead, ExportClass.customer_visible)
_ENROLLMENT_SHOWN = fields_of_class(EnrollmentRead, ExportClass.customer_visible)


@dataclass(frozen=True)
class TeamView:
    """The account a customer looks at and the people serving it."""

    account_id: int
    members: list[TeamMemberRead]


def _certificate(course: Course, enrollment: Enrollment, today: date) -> CertificateRead:
    status, left = certificate_status(enrollment, today)
    shown = CourseRead.model_validate(course).model_dump(include=set(_COURSE_SHOWN))
    shown |= EnrollmentRead.model_validate(enrollment).model_dump(include=set(_ENROLLMENT_SHOWN))
    return CertificateRead(**shown, status=status, days_left=left)


def _serving(session: Session, account_id: int, owner_id: int | None) -> dict[int, tuple[User, list[str]]]:
    """The people serving an account with their roles: ``owner``, then position keys."""
    found: dict[int, tuple[User, list[str]]] = {}
    owner = session.get(User, owner_id) if owner_id is not None else None
    if owner is not None and owner.is_active and owner.role != Role.customer_contact.value:
        found[owner.id] = (owner, ["owner"])
    for user in positions.account_team(session, account_id):
        found.setdefault(user.id, (user, []))
    for plan in positions.DEFAULT_POSITIONS:
        for user in positions.account_team(session, account_id, plan.key):
            found[user.id][1].append(plan.key)
    for _user, roles in found.values():
        if not roles:
            roles.append("team")
    return found


def account_team_view(
    session: Session, actor: Actor, account_id: int | None = None, *, today: date | None = None
) -> TeamView:
    """The people serving an account and their customer-visible certificates and training.

    A customer contact sees their own account (``account_id`` defaults to it; another id
    is a 404 like a missing account); staff see the accounts crm lets them read.
    """
    wanted = account_id if account_id is not None else actor.account_id
    if wanted is None:
        raise NotFound(entity="account", id=0)
    account = crm.get_readable(session, actor, crm.SPECS["account"], wanted)
    day = today or utcnow().date()
    serving = _serving(session, account.id, account.owner_id)
    rows = (
        session.execute(
            select(Enrollment, Course)
            .join(Course, Course.id == Enrollment.course_id)
            .where(Enrollment.user_id.in_(list(serving)), Course.customer_visible.is_(True))
            .order_by(Course.code)
        ).all()
        if serving
        else []
    )
    members: list[TeamMemberRead] = []
    for user_id, (user, roles) in serving.items():
        certificates, training = [], []
        for enrollment, course in rows:
            if enrollment.user_id != user_id:
                continue
            if enrollment.certified_on is not None:
                certificates.append(_certificate(course, enrollment, day))
            elif not course.archived:
                training.append(_certificate(course, enrollment, day))
        members.append(
            TeamMemberRead(name=user.name, roles=roles, certificates=certificates, training=training)
        )
    return TeamView(account_id=account.id, members=members)
