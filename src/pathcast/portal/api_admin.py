"""Portal API, courses and data requests (``/api/v1/portal/...``, ``/api/v1/admin/...``).

The customer's side (``/portal/team``, ``/portal/requests``) answers customer contacts
only, for their own account; staff get 403 (they have the staff app). The admin side
(``/admin/courses``, ``/admin/enrollments``, ``/admin/requests``) answers admins only;
the services refuse everyone else. Refusals are RFC 9457 problems from the services.

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import PermissionDenied
from pathcast.portal import schemas_admin as s
from pathcast.portal.service import requests, team, training

router = APIRouter(tags=["portal"])

# ids are 32-bit columns: a larger one is a 422, never a database error
RecordId = Annotated[int, Path(ge=1, le=s.MAX_ID)]
StatusFilter = Annotated[s.RequestStatus | None, Query(description="open, in_progress, done or refused")]


def _customer(actor: Actor) -> None:
    """The portal API is the customer's: staff use the staff app and its API."""
    if actor.role is not Role.customer_contact:
        raise PermissionDenied("portal_customers_only")


# --- the customer's side --------------------------------------------------------------------


@router.get(
    "/portal/team",
    response_model=list[s.TeamMemberRead],
    summary="The people serving your account, their certificates and training (customer contacts)",
)
def portal_team(session: DbSession, actor: CurrentActor) -> Any:
    _customer(actor)
    return team.account_team_view(session, actor).members


@router.get(
    "/portal/requests",
    response_model=list[s.PortalRequestRead],
    summary="Your account's data requests and their status (customer contacts)",
)
def portal_requests(session: DbSession, actor: CurrentActor) -> Any:
    _customer(actor)
    today = utcnow().date()
    return [
        requests.customer_read_of(item, today) for item in requests.list_requests(session, actor, today=today)
    ]


@router.post(
    "/portal/requests",
    response_model=s.PortalRequestRead,
    status_code=201,
    summary="File a data-access, portability, correction or deletion request (due in 30 days)",
)
def portal_file_request(body: s.RequestCreate, session: DbSession, actor: CurrentActor) -> Any:
    _customer(actor)
    item = requests.file_request(session, actor, kind=body.kind, detail=body.detail)
    return requests.customer_read_of(item, utcnow().date())


@router.get(
    "/portal/requests/{request_id}",
    response_model=s.PortalRequestRead,
    summary="One of your account's data requests (customer contacts)",
)
def portal_request(request_id: RecordId, session: DbSession, actor: CurrentActor) -> Any:
    _customer(actor)
    return requests.customer_read_of(requests.get_request(session, actor, request_id), utcnow().date())


# --- the admin side -------------------------------------------------------------------------


@router.get("/admin/courses", response_model=list[s.CourseRead], summary="Courses (admin)")
def admin_courses(session: DbSession, actor: CurrentActor, include_archived: bool = True) -> Any:
    return training.list_courses(session, actor, include_archived=include_archived)


@router.post("/admin/courses", response_model=s.CourseRead, status_code=201, summary="Add a course (admin)")
def admin_create_course(body: s.CourseCreate, session: DbSession, actor: CurrentActor) -> Any:
    return training.create_course(session, actor, **body.model_dump())


@router.patch(
    "/admin/courses/{course_id}",
    response_model=s.CourseRead,
    summary="Change or archive a course (admin); a new validity re-dates its certificates",
)
def admin_update_course(
    course_id: RecordId, body: s.CourseUpdate, session: DbSession, actor: CurrentActor
) -> Any:
    return training.update_course(session, actor, course_id, body.model_dump(exclude_unset=True))


@router.get(
    "/admin/enrollments", response_model=list[s.EnrollmentRead], summary="Progress and certificates (admin)"
)
def admin_enrollments(
    session: DbSession,
    actor: CurrentActor,
    user_id: Annotated[int | None, Query(ge=1, le=s.MAX_ID)] = None,
    course_id: Annotated[int | None, Query(ge=1, le=s.MAX_ID)] = None,
) -> Any:
    return training.list_enrollments(session, actor, user_id=user_id, course_id=course_id)


@router.put(
    "/admin/enrollments",
    response_model=s.EnrollmentRead,
    summary="Record a person's progress in a course and their certificate (admin)",
)
def admin_save_enrollment(body: s.EnrollmentSave, session: DbSession, actor: CurrentActor) -> Any:
    return training.save_enrollment(session, actor, **body.model_dump())


@router.get(
    "/admin/requests",
    response_model=list[s.DataRequestRead],
    summary="Every data request, optionally only the overdue (admin)",
)
def admin_requests(
    session: DbSession, actor: CurrentActor, status: StatusFilter = None, overdue: bool = False
) -> Any:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    today = utcnow().date()
    found = requests.list_requests(session, actor, status=status, overdue=overdue, today=today)
    return [requests.read_of(item, today) for item in found]


@router.patch(
    "/admin/requests/{request_id}",
    response_model=s.DataRequestRead,
    summary="Move a data request on: in_progress, done or refused with a resolution (admin)",
)
def admin_change_request(
    request_id: RecordId, body: s.RequestChange, session: DbSession, actor: CurrentActor
) -> Any:
    item = requests.change_request(session, actor, request_id, status=body.status, resolution=body.resolution)
    return requests.read_of(item, utcnow().date())
