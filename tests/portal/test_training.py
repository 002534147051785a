"""Courses and certificates: expiry arithmetic, who may edit, and what a customer sees of
the people serving their account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import events_by_type
from pathcast.portal.models import Enrollment
from pathcast.portal.schemas_admin import CertificateRead, CourseRead, EnrollmentRead
from pathcast.portal.service import team, training
from pathcast.portal.service.training import add_months, certificate_status
from pathcast.schemas import ExportClass, fields_of_class
from tests import factories as f

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 11, 15), 3, date(2026, 2, 15)),
        (date(2025, 3, 10), 12, date(2026, 3, 10)),
        (date(2025, 8, 31), 24, date(2027, 8, 31)),
        (date(2025, 12, 31), 2, date(2026, 2, 28)),
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("expires_in", "status"),
    [(200, "valid"), (61, "valid"), (60, "expiring"), (1, "expiring"), (0, "expired"), (-30, "expired")],
)
def test_a_certificate_is_valid_expiring_or_expired(expires_in: int, status: str) -> None:
    enrollment = Enrollment(
        certified_on=TODAY - timedelta(days=300), expires_on=TODAY + timedelta(days=expires_in)
    )
    assert certificate_status(enrollment, TODAY) == (status, expires_in)


def test_no_expiry_is_always_valid_and_no_certificate_is_training() -> None:
    assert certificate_status(Enrollment(certified_on=TODAY, expires_on=None), TODAY) == ("valid", None)
    assert certificate_status(Enrollment(certified_on=None, progress=40), TODAY) == ("in_progress", None)


def test_the_customer_view_holds_exactly_the_customer_visible_fields() -> None:
    shown = set(fields_of_class(CourseRead, ExportClass.customer_visible))
    shown |= set(fields_of_class(EnrollmentRead, ExportClass.customer_visible))
    assert set(CertificateRead.model_fields) == shown | {"status", "days_left"}
    assert "customer_visible" not in shown and "user_id" not in shown


@dataclass
class World:
    admin: Actor
    rep: Actor
    customer: Actor
    other_customer: Actor
    account_id: int
    other_account_id: int
    rep_id: int
    csm_id: int
    other_rep_id: int


@pytest.fixture
def world(session: Session) -> World:
    """Account A (owner: a rep; CSM: a member) and account B (owner: another rep)."""
    admin = f.user(session, "admin@example.com", role=Role.admin)
    rep = f.user(session, "rep@example.com")
    other_rep = f.user(session, "other@example.com")
    csm = f.user(session, "csm@example.com", role=Role.member)
    account = f.account(session, name="协和医院", owner_id=rep.id)
    other = f.account(session, name="瑞金医院", owner_id=other_rep.id)
    held = positions.ensure_default_positions(session, actor=f.SYSTEM)
    positions.add_account_team_member(
        session, account_id=account.id, user=csm, position=held["csm"], actor=f.SYSTEM
    )
    customer = f.user(session, "buyer@a.example", role=Role.customer_contact, account_id=account.id)
    other_customer = f.user(session, "buyer@b.example", role=Role.customer_contact, account_id=other.id)
    session.flush()
    return World(
        admin=f.actor(admin),
        rep=f.actor(rep),
        customer=f.actor(customer),
        other_customer=f.actor(other_customer),
        account_id=account.id,
        other_account_id=other.id,
        rep_id=rep.id,
        csm_id=csm.id,
        other_rep_id=other_rep.id,
    )


def test_only_admins_keep_courses_and_certificates(session: Session, world: World) -> None:
    for who in (world.rep, world.customer):
        with pytest.raises(PermissionDenied):
            training.create_course(
                session, who, code="DSA-1", name_zh="DSA 认证", name_en="DSA certification"
            )
    course = training.create_course(
        session, world.admin, code="DSA-1", name_zh="DSA 认证", name_en="DSA certification", valid_months=24
    )
    for who in (world.rep, world.customer):
        with pytest.raises(PermissionDenied):
            training.update_course(session, who, course.id, {"valid_months": 12})
        with pytest.raises(PermissionDenied):
            training.save_enrollment(session, who, user_id=world.rep_id, course_id=course.id, progress=10)
        with pytest.raises(PermissionDenied):
            training.list_courses(session, who)
    with pytest.raises(InvalidInput) as taken:
        training.create_course(session, world.admin, code="DSA-1", name_zh="重复", name_en="Again")
    assert taken.value.errors[0].field == "code" and taken.value.errors[0].code == "course_code_taken"
    with pytest.raises(InvalidInput) as empty:
        training.create_course(session, world.admin, code="X", name_zh=" ", name_en="ok", valid_months=0)
    assert {error.field for error in empty.value.errors} == {"name_zh", "valid_months"}
    saved = events_by_type(session, ["portal.course_saved"])
    assert len(saved) == 1 and saved[0].payload["after"]["code"] == "DSA-1"


def test_certificates_expire_after_the_course_validity(session: Session, world: World) -> None:
    course = training.create_course(
        session, world.admin, code="DSA-1", name_zh="DSA 认证", name_en="DSA", valid_months=24
    )
    now = datetime(2026, 6, 15, 3, 0, tzinfo=UTC)
    enrollment = training.save_enrollment(
        session,
        world.admin,
        user_id=world.rep_id,
        course_id=course.id,
        progress=40,
        certified_on=date(2025, 1, 31),
        certificate_no="PC-DSA-0001",
        occurred_at=now,
    )
    assert enrollment.progress == 100  # a certificate means the course is complete
    assert enrollment.expires_on == date(2027, 1, 31)
    # a shorter validity re-dates issued certificates, each with its own event
    training.update_course(session, world.admin, course.id, {"valid_months": 13})
    assert enrollment.expires_on == date(2026, 2, 28)
    events = events_by_type(session, ["portal.enrollment_saved"])
    assert [event.payload["after"].get("expires_on") for event in events] == ["2027-01-31", "2026-02-28"]
    # saving again updates the one row; nothing changed means no event
    again = training.save_enrollment(
        session,
        world.admin,
        user_id=world.rep_id,
        course_id=course.id,
        certified_on=date(2025, 1, 31),
        certificate_no="PC-DSA-0001",
        occurred_at=now,
    )
    assert again.id == enrollment.id
    assert len(events_by_type(session, ["portal.enrollment_saved"])) == 2


def test_enrollment_refusals(session: Session, world: World) -> None:
    course = training.create_course(session, world.admin, code="C1", name_zh="课", name_en="Course")
    with pytest.raises(InvalidInput) as bad:
        training.save_enrollment(
            session,
            world.admin,
            user_id=world.customer.user_id or 0,
            course_id=course.id + 99,
            progress=101,
            certified_on=date.today() + timedelta(days=3),
        )
    assert {error.field for error in bad.value.errors} == {"user_id", "course_id", "progress", "certified_on"}
    with pytest.raises(InvalidInput) as number_only:
        training.save_enrollment(
            session, world.admin, user_id=world.rep_id, course_id=course.id, certificate_no="N1"
        )
    assert number_only.value.errors[0].code == "certificate_needs_date"
    training.archive_course(session, world.admin, course.id)
    with pytest.raises(Conflict):
        training.save_enrollment(session, world.admin, user_id=world.rep_id, course_id=course.id, progress=10)


def _courses(session: Session, world: World) -> None:
    admin = world.admin
    dsa = training.create_course(
        session, admin, code="DSA", name_zh="DSA 认证", name_en="DSA", valid_months=24
    )
    gmp = training.create_course(session, admin, code="GMP", name_zh="GMP", name_en="GMP", valid_months=12)
    internal = training.create_course(
        session, admin, code="PRICING", name_zh="内部定价", name_en="Internal pricing", customer_visible=False
    )
    sla = training.create_course(
        session, admin, code="SLA", name_zh="服务", name_en="Service", valid_months=None
    )
    day = TODAY - timedelta(days=1)
    moment = datetime.combine(day, datetime.min.time(), UTC)
    save = training.save_enrollment
    # the owner: a valid DSA (expires in > 60 days), an expiring GMP, an internal course, SLA in training
    save(
        session,
        admin,
        user_id=world.rep_id,
        course_id=dsa.id,
        certified_on=date(2025, 6, 1),
        certificate_no="DSA-7",
        occurred_at=moment,
    )
    save(
        session,
        admin,
        user_id=world.rep_id,
        course_id=gmp.id,
        certified_on=date(2025, 7, 20),
        occurred_at=moment,
    )
    save(
        session,
        admin,
        user_id=world.rep_id,
        course_id=internal.id,
        certified_on=date(2026, 1, 1),
        certificate_no="SECRET-1",
        occurred_at=moment,
    )
    save(session, admin, user_id=world.rep_id, course_id=sla.id, progress=40, occurred_at=moment)
    # the CSM: an expired GMP
    save(
        session,
        admin,
        user_id=world.csm_id,
        course_id=gmp.id,
        certified_on=date(2025, 3, 1),
        occurred_at=moment,
    )
    # another account's rep
    save(
        session,
        admin,
        user_id=world.other_rep_id,
        course_id=dsa.id,
        certified_on=date(2025, 6, 1),
        certificate_no="OTHER-9",
        occurred_at=moment,
    )


def test_the_customer_sees_their_reps_customer_visible_certificates(session: Session, world: World) -> None:
    _courses(session, world)
    view = team.account_team_view(session, world.customer, today=TODAY)
    assert view.account_id == world.account_id
    by_name = {member.name: member for member in view.members}
    assert set(by_name) == {"rep", "csm"}
    assert by_name["rep"].roles == ["owner"] and by_name["csm"].roles == ["csm"]
    owner = by_name["rep"]
    assert [(c.code, c.status) for c in owner.certificates] == [("DSA", "valid"), ("GMP", "expiring")]
    assert owner.certificates[1].expires_on == date(2026, 7, 20) and owner.certificates[1].days_left == 35
    assert [(c.code, c.progress) for c in owner.training] == [("SLA", 40)]
    assert [(c.code, c.status) for c in by_name["csm"].certificates] == [("GMP", "expired")]
    text = view.members.__repr__()
    assert "PRICING" not in text and "SECRET-1" not in text and "OTHER-9" not in text


def test_another_account_is_missing_for_a_customer(session: Session, world: World) -> None:
    _courses(session, world)
    with pytest.raises(NotFound):
        team.account_team_view(session, world.customer, world.other_account_id, today=TODAY)
    other = team.account_team_view(session, world.other_customer, today=TODAY)
    assert [member.name for member in other.members] == ["other"]
    # an admin may look at any account's team (a preview of what the customer sees)
    assert team.account_team_view(session, world.admin, world.account_id, today=TODAY).account_id == (
        world.account_id
    )
