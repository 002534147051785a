"""Courses, the reps' progress in them, and certificates with expiry.

Admins maintain courses (code, zh/en names, how many months a certificate stays valid,
whether customers may see it; archived courses take no new enrollments) and record each
person's progress and certificate. ``expires_on`` is never typed: it is ``certified_on``
plus the course's ``valid_months`` calendar months (``add_months``; the 31st becomes the
last day of a shorter month). A certificate is valid *before* ``expires_on`` and expired
from that day on; it is "expiring" when it expires within ``EXPIRING_DAYS`` (60) days.

What the customer sees of it is ``portal.service.team``.

Every write appends its event in the caller's transaction: ``portal.course_saved``,
``portal.enrollment_saved``.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.portal.models import Course, Enrollment
from pathcast.portal.schemas_admin import MAX_ID
from pathcast.portal.service.requests import clean_text

EXPIRING_DAYS = 60
COURSE_FIELDS = ("code", "name_zh", "name_en", "valid_months", "customer_visible", "archived")


def require_admin(actor: Actor) -> None:
    """Only admins maintain courses and certificates."""
    if not actor.is_admin:
        raise PermissionDenied("admin_only")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the end of a shorter month."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expiry(certified_on: date | None, valid_months: int | None) -> date | None:
    """When a certificate from ``certified_on`` expires (None: not certified, or never)."""
    if certified_on is None or valid_months is None:
        return None
    return add_months(certified_on, valid_months)


def certificate_status(enrollment: Enrollment, today: date) -> tuple[str, int | None]:
    """``(status, days left)`` on ``today``: in_progress, valid, expiring or expired."""
    if enrollment.certified_on is None:
        return "in_progress", None
    if enrollment.expires_on is None:
        return "valid", None
    left = (enrollment.expires_on - today).days
    if left <= 0:
        return "expired", left
    return ("expiring" if left <= EXPIRING_DAYS else "valid"), left


# --- courses --------------------------------------------------------------------------------


def _course_state(course: Course) -> dict[str, Any]:
    return {name: getattr(course, name) for name in COURSE_FIELDS}


def list_courses(session: Session, actor: Actor, *, include_archived: bool = True) -> list[Course]:
    """Every course by code (admins)."""
    require_admin(actor)
    query = select(Course).order_by(Course.code)
    if not include_archived:
        query = query.where(Course.archived.is_(False))
    return list(session.scalars(query))


def get_course(session: Session, actor: Actor, course_id: int) -> Course:
    """One course (admins); a missing one is a 404."""
    require_admin(actor)
    course = session.get(Course, course_id) if 0 < course_id <= MAX_ID else None
    if course is None:
        raise NotFound(entity="course", id=course_id)
    return course


def _check_course(session: Session, values: Mapping[str, Any], course_id: int | None) -> dict[str, Any]:
    errors: list[FieldError] = []
    clean: dict[str, Any] = {}
    for name in ("code", "name_zh", "name_en"):
        if name in values:
            text = clean_text(str(values[name] or ""))
            if not text:
                errors.append(FieldError(name, "missing"))
            elif len(text) > (40 if name == "code" else 200):
                errors.append(FieldError(name, "too_long", {"max": 40 if name == "code" else 200}))
            clean[name] = text
    if "valid_months" in values:
        months = values["valid_months"]
        if months is not None and not (isinstance(months, int) and 1 <= months <= 240):
            errors.append(
                FieldError(
                    "valid_months",
                    "too_small" if isinstance(months, int) and months < 1 else "too_large",
                    {"min": 1, "max": 240},
                )
            )
        clean["valid_months"] = months
    for name in ("customer_visible", "archived"):
        if name in values and values[name] is not None:
            clean[name] = bool(values[name])
    code = clean.get("code")
    if code:
        taken = session.scalars(select(Course.id).where(Course.code == code)).first()
        if taken is not None and taken != course_id:
            errors.append(FieldError("code", "course_code_taken", {"value": code}))
    if errors:
        raise InvalidInput(errors)
    return clean


def _saved(
    session: Session,
    actor: Actor,
    course: Course,
    before: dict[str, Any] | None,
    occurred_at: datetime | None,
) -> None:
    after = _course_state(course)
    changed = [name for name in after if before is None or before[name] != after[name]]
    if not changed:
        return
    append_event(
        session,
        type="portal.course_saved",
        entity="course",
        entity_id=course.id,
        actor=actor.label,
        payload={
            "before": None if before is None else {name: before[name] for name in changed},
            "after": {name: after[name] for name in changed},
        },
        occurred_at=occurred_at,
    )


def create_course(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    valid_months: int | None = None,
    customer_visible: bool = True,
    occurred_at: datetime | None = None,
) -> Course:
    """A new course (admins); InvalidInput names each bad field, a taken code included."""
    require_admin(actor)
    values = _check_course(
        session,
        {
            "code": code,
            "name_zh": name_zh,
            "name_en": name_en,
            "valid_months": valid_months,
            "customer_visible": customer_visible,
        },
        None,
    )
    course = Course(**values, archived=False)
    session.add(course)
    session.flush()
    _saved(session, actor, course, None, occurred_at)
    return course


def update_course(
    session: Session,
    actor: Actor,
    course_id: int,
    changes: Mapping[str, Any],
    *,
    occurred_at: datetime | None = None,
) -> Course:
    """Change a course (admins). A new ``valid_months`` re-dates its certificates' expiry,
    each with its own ``portal.enrollment_saved``; ``archived`` retires or restores it."""
    course = get_course(session, actor, course_id)
    unknown = sorted(set(changes) - set(COURSE_FIELDS))
    if unknown:
        raise InvalidInput([FieldError(name, "unknown_field") for name in unknown])
    values = _check_course(session, changes, course.id)
    before = _course_state(course)
    for name, value in values.items():
        setattr(course, name, value)
    session.flush()
    _saved(session, actor, course, before, occurred_at)
    if before["valid_months"] != course.valid_months:
        for enrollment in session.scalars(select(Enrollment).where(Enrollment.course_id == course.id)):
            _redate(session, actor, enrollment, course, occurred_at)
    return course


def archive_course(session: Session, actor: Actor, course_id: int, *, archived: bool = True) -> Course:
    """Retire a course (no new enrollments; issued certificates stay until they expire)."""
    return update_course(session, actor, course_id, {"archived": archived})


# --- enrollments ----------------------------------------------------------------------------


def _enrollment_state(enrollment: Enrollment) -> dict[str, Any]:
    return {
        "user_id": enrollment.user_id,
        "course_id": enrollment.course_id,
        "progress": enrollment.progress,
        "certified_on": enrollment.certified_on,
        "expires_on": enrollment.expires_on,
        "certificate_no": enrollment.certificate_no,
    }


def _enrollment_event(
    session: Session,
    actor: Actor,
    enrollment: Enrollment,
    before: dict[str, Any] | None,
    occurred_at: datetime | None,
) -> None:
    after = _enrollment_state(enrollment)
    changed = [name for name in after if before is None or before[name] != after[name]]
    if not changed:
        return
    append_event(
        session,
        type="portal.enrollment_saved",
        entity="enrollment",
        entity_id=enrollment.id,
        actor=actor.label,
        payload={
            "user_id": enrollment.user_id,
            "course_id": enrollment.course_id,
            "before": None if before is None else {name: before[name] for name in changed},
            "after": {name: after[name] for name in changed},
        },
        occurred_at=occurred_at,
    )


def _redate(
    session: Session, actor: Actor, enrollment: Enrollment, course: Course, occurred_at: datetime | None
) -> None:
    before = _enrollment_state(enrollment)
    enrollment.expires_on = expiry(enrollment.certified_on, course.valid_months)
    if enrollment.expires_on != before["expires_on"]:
        enrollment.updated_at = occurred_at or utcnow()
        session.flush()
        _enrollment_event(session, actor, enrollment, before, occurred_at)


def save_enrollment(
    session: Session,
    actor: Actor,
    *,
    user_id: int,
    course_id: int,
    progress: int = 0,
    certified_on: date | None = None,
    certificate_no: str | None = None,
    occurred_at: datetime | None = None,
) -> Enrollment:
    """Record a person's progress in a course, and the certificate once passed (admins).

    One row per person and course: saving again updates it. A certificate (a
    ``certified_on`` date) means the course is complete, so progress becomes 100;
    ``expires_on`` follows from the course. Only staff take courses; an archived course
    takes no new enrollments.
    """
    require_admin(actor)
    errors: list[FieldError] = []
    # ids beyond the 32-bit columns are simply unknown (never a database error)
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None or user.role == Role.customer_contact.value:
        errors.append(FieldError("user_id", "unknown_reference", {"entity": "user", "id": user_id}))
    course = session.get(Course, course_id) if 0 < course_id <= MAX_ID else None
    if course is None:
        errors.append(FieldError("course_id", "unknown_reference", {"entity": "course", "id": course_id}))
    if not isinstance(progress, int) or not 0 <= progress <= 100:
        errors.append(FieldError("progress", "too_large", {"max": 100}))
    today = (occurred_at or utcnow()).date()
    if certified_on is not None and certified_on > today:
        errors.append(FieldError("certified_on", "date_in_future"))
    number = clean_text(certificate_no) or None
    if number is not None and len(number) > 80:
        errors.append(FieldError("certificate_no", "too_long", {"max": 80}))
    if number is not None and certified_on is None:
        errors.append(FieldError("certified_on", "certificate_needs_date"))
    if errors:
        raise InvalidInput(errors)
    assert course is not None
    enrollment = session.scalars(
        select(Enrollment).where(Enrollment.user_id == user_id, Enrollment.course_id == course_id)
    ).first()
    if enrollment is None and course.archived:
        raise Conflict("course_archived", course=course.code)
    before = None if enrollment is None else _enrollment_state(enrollment)
    if enrollment is None:
        enrollment = Enrollment(user_id=user_id, course_id=course_id, updated_at=occurred_at or utcnow())
        session.add(enrollment)
    enrollment.progress = 100 if certified_on is not None else progress
    enrollment.certified_on = certified_on
    enrollment.certificate_no = number
    enrollment.expires_on = expiry(certified_on, course.valid_months)
    if before is None or before != _enrollment_state(enrollment):
        enrollment.updated_at = occurred_at or utcnow()
    session.flush()
    _enrollment_event(session, actor, enrollment, before, occurred_at)
    return enrollment


def list_enrollments(
    session: Session, actor: Actor, *, user_id: int | None = None, course_id: int | None = None
) -> list[Enrollment]:
    """Enrollments (admins), optionally of one person or one course."""
    require_admin(actor)
    query = select(Enrollment).order_by(Enrollment.course_id, Enrollment.user_id)
    if user_id is not None:
        query = query.where(Enrollment.user_id == user_id)
    if course_id is not None:
        query = query.where(Enrollment.course_id == course_id)
    return list(session.scalars(query))


def staff_choices(session: Session, actor: Actor) -> list[User]:
    """Active staff who can be enrolled (admins' form)."""
    require_admin(actor)
    query = select(User).where(User.is_active.is_(True), User.role != Role.customer_contact.value)
    return list(session.scalars(query.order_by(User.name)))
