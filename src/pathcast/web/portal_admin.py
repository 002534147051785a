"""Portal pages: the customer's team and data requests, and the admins' courses and requests.

Customer contacts (only) see ``/portal/team`` (the people serving their account with
their customer-visible certificates and training) and ``/portal/requests`` (their
account's requests, and a form to file one). Admins (only) keep ``/admin/courses``
(courses, progress, certificates) and ``/admin/requests`` (status changes, the overdue
filter and badge). Everything goes through ``portal.service.training`` and
``portal.service.requests`` with the viewer's Actor. Forms carry the session's CSRF
token; a refused form comes back (422) with the messages beside its fields and the
typed values kept; a saved one redirects (303).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.positions import DEFAULT_POSITIONS
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, PathcastError, PermissionDenied
from pathcast.events import events_savepoint
from pathcast.portal.models import REQUEST_KINDS, REQUEST_STATUSES
from pathcast.portal.service import requests, team, training
from pathcast.web.forms import PostedForm, message, parse_day
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

COURSE_FIELDS = ("code", "name_zh", "name_en", "valid_months", "customer_visible")
ENROLLMENT_FIELDS = ("user_id", "course_id", "progress", "certified_on", "certificate_no")
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]
POSITION_NAMES = {plan.key: (plan.name_zh, plan.name) for plan in DEFAULT_POSITIONS}


# --- who may see which page -----------------------------------------------------------------


def _customer(page: PageContext) -> PageContext:
    if page.actor.role is not Role.customer_contact:
        raise PermissionDenied("portal_customers_only")
    return page


def _admin(page: PageContext) -> PageContext:
    if not page.actor.is_admin:
        raise PermissionDenied("admin_only")
    return page


def customer_page(page: Page) -> PageContext:
    """A portal page: customer contacts only (staff have the staff app)."""
    return _customer(page)


def customer_form_page(page: FormPage) -> PageContext:
    return _customer(page)


def admin_page(page: Page) -> PageContext:
    """An admin page: refused (403) to everyone else."""
    return _admin(page)


def admin_form_page(page: FormPage) -> PageContext:
    return _admin(page)


CustomerPage = Annotated[PageContext, Depends(customer_page)]
CustomerFormPage = Annotated[PageContext, Depends(customer_form_page)]
AdminPage = Annotated[PageContext, Depends(admin_page)]
AdminFormPage = Annotated[PageContext, Depends(admin_form_page)]


def _errors(page: PageContext, error: PathcastError, names: tuple[str, ...]) -> dict[str, str]:
    """``{field: sentence}``; a problem with no field of the form goes under ``""``."""
    if not isinstance(error, InvalidInput):
        return {"": page.t(f"errors.{error.code}", **error.params)}
    found: dict[str, str] = {}
    for problem in error.errors:
        found.setdefault(problem.field if problem.field in names else "", message(problem, page.locale))
    return found


def _integer(text: str, name: str) -> int | InvalidInput:
    try:
        return int(text.strip())
    except ValueError:
        return InvalidInput.single(name, "integer_invalid", value=text)


def role_label(page: PageContext, key: str) -> str:
    """``owner``, ``team`` or a position key in the page's language."""
    if key in POSITION_NAMES:
        zh, en = POSITION_NAMES[key]
        return zh if page.locale == "zh-CN" else en
    return page.t(f"portal_admin.team.role.{key}")


def course_name(page: PageContext, item: Any) -> str:
    return str(item.name_zh if page.locale == "zh-CN" else item.name_en)


# --- the customer's team --------------------------------------------------------------------


@router.get("/portal/team")
def portal_team(page: CustomerPage, session: DbSession) -> Response:
    """The people serving the viewer's account, with certificates (valid, expiring within
    60 days, expired) and training progress in customer-visible courses."""
    view = team.account_team_view(session, page.actor)
    context = {
        "portal_tab": "team",
        "members": view.members,
        "role_label": lambda key: role_label(page, key),
        "course_name": lambda item: course_name(page, item),
        "expiring_days": training.EXPIRING_DAYS,
    }
    return render(page, "portal/team.html", context)


# --- the customer's requests ----------------------------------------------------------------


def _requests_page(
    page: PageContext,
    session: Session,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().date()
    items = [requests.customer_read_of(item, today) for item in requests.list_requests(session, page.actor)]
    context = {
        "portal_tab": "requests",
        "items": items,
        "kinds": REQUEST_KINDS,
        "form": form or {"kind": "access", "detail": ""},
        "errors": errors or {},
        "notice": notice,
        "due_days": requests.REQUEST_DUE_DAYS,
    }
    return render(page, "portal/requests.html", context, status_code=status_code)


@router.get("/portal/requests")
def portal_requests(page: CustomerPage, session: DbSession, done: str | None = None) -> Response:
    notice = page.t("portal_admin.requests.filed") if done == "filed" else None
    return _requests_page(page, session, notice=notice)


@router.post("/portal/requests")
def portal_file_request(page: CustomerFormPage, session: DbSession, form: PostedForm) -> Response:
    """File a request for the viewer's own account; refused input comes back (422)."""
    typed = {"kind": form.get("kind", ""), "detail": form.get("detail", "")}
    try:
        with events_savepoint(session):
            requests.file_request(session, page.actor, kind=typed["kind"], detail=typed["detail"])
    except InvalidInput as error:
        errors = _errors(page, error, ("kind", "detail"))
        return _requests_page(page, session, form=typed, errors=errors, status_code=422)
    return RedirectResponse("/portal/requests?done=filed", status_code=303)


# --- admin: courses and certificates --------------------------------------------------------


def _courses_page(
    page: PageContext,
    session: Session,
    *,
    edit_id: int | None = None,
    course_form: dict[str, str] | None = None,
    enrollment_form: dict[str, str] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    actor = page.actor
    courses = training.list_courses(session, actor)
    edit = next((course for course in courses if course.id == edit_id), None)
    if edit is not None and course_form is None:
        course_form = {
            name: "" if getattr(edit, name) is None else str(getattr(edit, name)) for name in COURSE_FIELDS
        }
        course_form["customer_visible"] = "1" if edit.customer_visible else ""
    people = training.staff_choices(session, actor)
    today = utcnow().date()
    rows = [
        (enrollment, training.certificate_status(enrollment, today))
        for enrollment in training.list_enrollments(session, actor)
    ]
    context: dict[str, Any] = {
        "courses": courses,
        "edit": edit,
        "course_form": course_form
        or {"code": "", "name_zh": "", "name_en": "", "valid_months": "", "customer_visible": "1"},
        "enrollment_form": enrollment_form or {name: "" for name in ENROLLMENT_FIELDS},
        "errors": errors or {"course": {}, "enrollment": {}},
        "people": people,
        "names": {user.id: user.name for user in people},
        "course_by_id": {course.id: course for course in courses},
        "rows": rows,
        "notice": notice,
        "course_name": lambda item: course_name(page, item),
    }
    return render(page, "portal/admin_courses.html", context, status_code=status_code)


@router.get("/admin/courses")
def courses_page(
    page: AdminPage,
    session: DbSession,
    edit: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    done: str | None = None,
) -> Response:
    notice = (
        page.t(f"portal_admin.courses.notice.{done}") if done in ("saved", "enrolled", "archived") else None
    )
    return _courses_page(page, session, edit_id=edit, notice=notice)


def _course_values(form: dict[str, str]) -> tuple[dict[str, str], dict[str, Any], InvalidInput | None]:
    typed = {name: form.get(name, "").strip() for name in COURSE_FIELDS}
    typed["customer_visible"] = "1" if form.get("customer_visible") in ("1", "on", "true") else ""
    values: dict[str, Any] = {name: typed[name] for name in ("code", "name_zh", "name_en")}
    values["customer_visible"] = bool(typed["customer_visible"])
    values["valid_months"] = None
    if typed["valid_months"]:
        months = _integer(typed["valid_months"], "valid_months")
        if isinstance(months, InvalidInput):
            return typed, values, months
        values["valid_months"] = months
    return typed, values, None


@router.post("/admin/courses")
def course_add(page: AdminFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a course; refused input comes back with the values kept (422)."""
    typed, values, problem = _course_values(form)
    try:
        if problem is not None:
            raise problem
        with events_savepoint(session):
            training.create_course(session, page.actor, **values)
    except InvalidInput as error:
        errors = {"course": _errors(page, error, COURSE_FIELDS), "enrollment": {}}
        return _courses_page(page, session, course_form=typed, errors=errors, status_code=422)
    return RedirectResponse("/admin/courses?done=saved", status_code=303)


@router.post("/admin/courses/{course_id}")
def course_edit(page: AdminFormPage, session: DbSession, form: PostedForm, course_id: RecordId) -> Response:
    """Save a course's code, names, validity and visibility."""
    training.get_course(session, page.actor, course_id)
    typed, values, problem = _course_values(form)
    try:
        if problem is not None:
            raise problem
        with events_savepoint(session):
            training.update_course(session, page.actor, course_id, values)
    except InvalidInput as error:
        errors = {"course": _errors(page, error, COURSE_FIELDS), "enrollment": {}}
        return _courses_page(
            page, session, edit_id=course_id, course_form=typed, errors=errors, status_code=422
        )
    return RedirectResponse("/admin/courses?done=saved", status_code=303)


@router.post("/admin/courses/{course_id}/archive")
def course_archive(
    page: AdminFormPage, session: DbSession, form: PostedForm, course_id: RecordId
) -> Response:
    """Archive a course (``archived=0`` restores it)."""
    training.archive_course(session, page.actor, course_id, archived=form.get("archived", "1") != "0")
    return RedirectResponse("/admin/courses?done=archived", status_code=303)


@router.post("/admin/enrollments")
def enrollment_save(page: AdminFormPage, session: DbSession, form: PostedForm) -> Response:
    """Record a person's progress and certificate in a course."""
    typed = {name: form.get(name, "").strip() for name in ENROLLMENT_FIELDS}
    try:
        numbers: dict[str, int] = {}
        for name, default in (("user_id", None), ("course_id", None), ("progress", 0)):
            if not typed[name] and default is not None:
                numbers[name] = default
                continue
            value = _integer(typed[name], name) if typed[name] else InvalidInput.single(name, "missing")
            if isinstance(value, InvalidInput):
                raise value
            numbers[name] = value
        certified_on = parse_day(typed["certified_on"]) if typed["certified_on"] else None
        if typed["certified_on"] and certified_on is None:
            raise InvalidInput.single("certified_on", "date_invalid", value=typed["certified_on"])
        with events_savepoint(session):
            training.save_enrollment(
                session,
                page.actor,
                user_id=numbers["user_id"],
                course_id=numbers["course_id"],
                progress=numbers["progress"],
                certified_on=certified_on,
                certificate_no=typed["certificate_no"],
            )
    except (InvalidInput, PathcastError) as error:
        if not isinstance(error, InvalidInput) and error.status != 409:
            raise
        errors = {"course": {}, "enrollment": _errors(page, error, ENROLLMENT_FIELDS)}
        return _courses_page(page, session, enrollment_form=typed, errors=errors, status_code=422)
    return RedirectResponse("/admin/courses?done=enrolled", status_code=303)


# --- admin: data requests -------------------------------------------------------------------


def _admin_requests_page(
    page: PageContext,
    session: Session,
    *,
    status: str | None,
    overdue: bool,
    notice: str | None = None,
    failed: dict[int, dict[str, str]] | None = None,
    typed: dict[int, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    today = utcnow().date()
    context = {
        "rows": requests.admin_rows(session, page.actor, status=status, overdue=overdue, today=today),
        "overdue_count": requests.overdue_count(session, page.actor, today=today),
        "status": status or "",
        "overdue": overdue,
        "statuses": REQUEST_STATUSES,
        "next": requests.NEXT,
        "notice": notice,
        "failed": failed or {},
        "typed": typed or {},
    }
    return render(page, "portal/admin_requests.html", context, status_code=status_code)


@router.get("/admin/requests")
def requests_page(
    page: AdminPage, session: DbSession, status: str = "", overdue: str = "", done: str | None = None
) -> Response:
    """Every data request, filtered by status or to the overdue ones."""
    wanted = status if status in REQUEST_STATUSES else None
    notice = page.t("portal_admin.admin_requests.changed") if done == "changed" else None
    return _admin_requests_page(page, session, status=wanted, overdue=overdue == "1", notice=notice)


@router.post("/admin/requests/{request_id}")
def request_change(
    page: AdminFormPage, session: DbSession, form: PostedForm, request_id: RecordId
) -> Response:
    """Move a request on; a refused change comes back beside its row (422)."""
    requests.get_request(session, page.actor, request_id)
    typed = {"status": form.get("status", ""), "resolution": form.get("resolution", "")}
    try:
        with events_savepoint(session):
            requests.change_request(
                session, page.actor, request_id, status=typed["status"], resolution=typed["resolution"]
            )
    except (InvalidInput, PathcastError) as error:
        if not isinstance(error, InvalidInput) and error.status != 409:
            raise
        failed = {request_id: _errors(page, error, ("status", "resolution"))}
        return _admin_requests_page(
            page,
            session,
            status=None,
            overdue=False,
            failed=failed,
            typed={request_id: typed},
            status_code=422,
        )
    return RedirectResponse("/admin/requests?done=changed", status_code=303)
