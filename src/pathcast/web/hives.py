"""Hive pages: the list (with a create form for sellers), a hive's detail shell with its lazy
panels, the members panel, and the account page's "hives of this account" panel.

Everything reads and writes through ``hives.service`` with the viewer's Actor: a hive the
viewer may not read is a 404 like a missing one; customer contacts (no ``hive`` right) get
the 403 page; members see only the hives they belong to and may not create hives or
change who is in them. Forms are plain POST forms with the session's CSRF token; a refused
form comes back 422 with the values kept and the message beside its field. The template
editor lives in ``web.hives_templates`` (included here, before ``/hives/{id}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.auth.permissions import may
from pathcast.crm.service import readable_query, spec_for
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, PermissionDenied
from pathcast.hives import models as m
from pathcast.hives.service import directory, templates
from pathcast.hives.service.access import get_hive
from pathcast.hives.service.hives import create_hive, members_of
from pathcast.web.forms import PostedForm, is_htmx, parse_day
from pathcast.web.hives_templates import error_text, template_label
from pathcast.web.hives_templates import router as templates_router
from pathcast.web.lookups import account_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)
router.include_router(templates_router)

CREATE_FIELDS = ("account_id", "template", "name", "start_date", "promised_date")
MEMBER_FIELDS = ("user_id", "function")
ACCOUNT_CHOICES = 500


# --- who may see hive pages ------------------------------------------------------------------


def hive_page(page: Page) -> PageContext:
    """A hive page: refused (403) to roles without the ``hive`` right (customer contacts)."""
    if not may(page.actor, "hive", "read"):
        raise PermissionDenied("forbidden_model", entity="hive")
    return page


def hive_form_page(page: FormPage) -> PageContext:
    """A posted hive form: CSRF checked by ``FormPage``, then the ``hive`` right."""
    if not may(page.actor, "hive", "read"):
        raise PermissionDenied("forbidden_model", entity="hive")
    return page


HivePage = Annotated[PageContext, Depends(hive_page)]
HiveFormPage = Annotated[PageContext, Depends(hive_form_page)]


def field_errors(page: PageContext, errors: list[FieldError], names: tuple[str, ...]) -> dict[str, str]:
    """``{field: message}``; problems on fields the form lacks go under ``""``."""
    found: dict[str, str] = {}
    for error in errors:
        name = error.field.split(".")[0]
        found.setdefault(name if name in names else "", error_text(page, error))
    return found


def _int(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


# --- the list --------------------------------------------------------------------------------


def _account_choices(session: Session, page: PageContext) -> list[tuple[int, str]]:
    if not may(page.actor, "account", "read"):
        return []
    spec = spec_for("account")
    query = readable_query(page.actor, spec).order_by(spec.model.name).limit(ACCOUNT_CHOICES)
    return [(int(account.id), str(account.name)) for account in session.scalars(query)]


def _template_choices(session: Session, page: PageContext) -> list[tuple[str, str]]:
    """Templates to create from; on a fresh install the shipped ones (created on first use)."""
    listed = [
        (template.key, template_label(page, template))
        for template in templates.list_templates(session, page.actor)
    ]
    if listed:
        return listed
    zh = page.locale == "zh-CN"
    return [(key, plan[0] if zh else plan[1]) for key, plan in templates.DEFAULT_TEMPLATES.items()]


def _list_page(
    page: PageContext,
    session: Session,
    filters: dict[str, Any],
    *,
    values: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    actor = page.actor
    hives = directory.list_hives(
        session, actor, status=filters["status"], account_id=filters["account_id"], mine=filters["mine"]
    )
    counts = directory.hive_counts(session, [hive.id for hive in hives])
    names = account_names(session, actor, [hive.account_id for hive in hives])
    may_create = directory.may_manage_members(actor) and may(actor, "hive", "create")
    context = {
        "hives": hives,
        "counts": counts,
        "account_names": names,
        "filters": filters,
        "statuses": m.HIVE_STATUSES,
        "may_create": may_create,
        "may_read_accounts": may(actor, "account", "read"),
        "accounts": _account_choices(session, page) if may_create else [],
        "templates": _template_choices(session, page) if may_create else [],
        "values": dict(values or {}),
        "errors": errors or {},
    }
    return render(page, "hives/list.html", context, status_code=status_code)


@router.get("/hives")
def hives_list(
    page: HivePage,
    session: DbSession,
    status: str | None = None,
    account_id: str | None = None,
    mine: str | None = None,
) -> Response:
    """The hives the viewer may read, newest first, filtered by status, account and "mine"."""
    filters = {
        "status": status if status in m.HIVE_STATUSES else None,
        "account_id": _int(account_id),
        "mine": mine in ("1", "true", "on"),
    }
    return _list_page(page, session, filters)


def parse_create_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """The service's arguments from the create form, and the fields that did not parse."""
    errors: list[FieldError] = []
    data: dict[str, Any] = {
        "template": form.get("template", "").strip() or None,
        "name": form.get("name", "").strip() or None,
    }
    account = _int(form.get("account_id"))
    if account is None:
        errors.append(FieldError("account_id", "required"))
    data["account_id"] = account
    for name in ("start_date", "promised_date"):
        raw = form.get(name, "").strip()
        data[name] = parse_day(raw) if raw else None
        if raw and data[name] is None:
            errors.append(FieldError(name, "date_invalid"))
    return data, errors


@router.post("/hives")
def hives_create(page: HiveFormPage, session: DbSession, form: PostedForm) -> Response:
    """Create a hive from the list page's form; to the new hive (303) or the form again (422)."""
    if not directory.may_manage_members(page.actor):
        raise PermissionDenied("forbidden_operation", entity="hive", operation="create")
    data, errors = parse_create_form(form)
    if not errors:
        try:
            hive = create_hive(session, page.actor, **data)
        except InvalidInput as refused:
            errors = refused.errors
        else:
            return RedirectResponse(f"/hives/{hive.id}", status_code=303)
    typed = {name: form.get(name, "") for name in CREATE_FIELDS}
    filters = {"status": None, "account_id": None, "mine": False}
    return _list_page(
        page,
        session,
        filters,
        values=typed,
        errors=field_errors(page, errors, CREATE_FIELDS),
        status_code=422,
    )


# --- the detail shell ------------------------------------------------------------------------

PANELS = (
    "board-panel",
    "timeline-panel",
    "risks-panel",
    "members-panel",
    "capacity-panel",
    "archive-panel",
    "health-panel",
)


@router.get("/hives/{hive_id}")
def hive_detail(page: HivePage, session: DbSession, hive_id: int) -> Response:
    """A hive's header (account, status, promised vs forecast finish, template) and its
    panels, each loaded after the page."""
    actor = page.actor
    hive = get_hive(session, actor, hive_id)
    template = session.get(m.Template, hive.template_id) if hive.template_id is not None else None
    late_days = (
        (hive.forecast_finish - hive.promised_date).days
        if hive.forecast_finish is not None and hive.promised_date is not None
        else None
    )
    context = {
        "hive": hive,
        "account_name": account_names(session, actor, [hive.account_id]).get(hive.account_id),
        "may_read_accounts": may(actor, "account", "read"),
        "template_name": template_label(page, template) if template is not None else None,
        "late_days": late_days,
        "counts": directory.hive_counts(session, [hive.id])[hive.id],
        "panels": PANELS,
    }
    return render(page, "hives/detail.html", context)


# --- the members panel -----------------------------------------------------------------------


def _members_panel(
    page: PageContext,
    session: Session,
    hive: m.Hive,
    *,
    values: Mapping[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    members = members_of(session, hive.id)
    manage = directory.may_manage_members(page.actor)
    in_hive = {member.user_id for member in members}
    context = {
        "hive": hive,
        "members": members,
        "names": auth_service.user_names(session, [member.user_id for member in members]),
        "may_manage": manage,
        "functions": m.FUNCTIONS,
        "people": [(uid, name) for uid, name in directory.staff_choices(session) if uid not in in_hive]
        if manage
        else [],
        "values": dict(values or {}),
        "errors": errors or {},
    }
    return render(page, "hives/_members_panel.html", context, status_code=status_code)


def _members_done(page: PageContext, session: Session, hive: m.Hive) -> Response:
    if not is_htmx(page.request):
        return RedirectResponse(f"/hives/{hive.id}#members-panel", status_code=303)
    return _members_panel(page, session, hive)


@router.get("/hives/{hive_id}/members-panel")
def members_panel(page: HivePage, session: DbSession, hive_id: int) -> Response:
    """The members with their function; sellers and admins add and remove people."""
    return _members_panel(page, session, get_hive(session, page.actor, hive_id))


@router.post("/hives/{hive_id}/members")
def members_add(page: HiveFormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Add a person (sellers, admins); the panel again, or 422 with the message beside the field."""
    hive = get_hive(session, page.actor, hive_id)
    user_id = _int(form.get("user_id"))
    function = form.get("function", "").strip()
    errors: list[FieldError] = []
    if user_id is None:
        errors.append(FieldError("user_id", "required"))
    if function not in m.FUNCTIONS:
        errors.append(FieldError("function", "required"))
    if not errors and user_id is not None:
        try:
            directory.invite_member(session, page.actor, hive_id=hive.id, user_id=user_id, function=function)
        except InvalidInput as refused:
            errors = refused.errors
        else:
            return _members_done(page, session, hive)
    typed = {name: form.get(name, "") for name in MEMBER_FIELDS}
    return _members_panel(
        page, session, hive, values=typed, errors=field_errors(page, errors, MEMBER_FIELDS), status_code=422
    )


@router.post("/hives/{hive_id}/members/{user_id}/remove")
def members_remove(page: HiveFormPage, session: DbSession, hive_id: int, user_id: int) -> Response:
    """Take a person out of the hive (sellers, admins)."""
    hive = get_hive(session, page.actor, hive_id)
    directory.uninvite_member(session, page.actor, hive_id=hive.id, user_id=user_id)
    return _members_done(page, session, hive)


# --- the account page's panel ----------------------------------------------------------------


@router.get("/accounts/{account_id}/hives-panel")
def account_hives_panel(page: HivePage, session: DbSession, account_id: int) -> Response:
    """The hives of an account the viewer may read (an empty state when there are none)."""
    hives = directory.list_hives(session, page.actor, account_id=account_id)
    context = {"hives": hives, "account_id": account_id}
    return render(page, "hives/_account_panel.html", context)
