"""Activities on a record page: log a call, meeting, note or e-mail, create a task, and
complete a task with one click.

Every write goes through ``crm.service`` (``create_record`` / ``update_record`` on the
``activity`` spec), so each one is an Event. A record page embeds the panel; the forms
post to ``/records/<entity>/<id>/…`` and htmx swaps the panel (and, out of band, the
timeline). Without htmx a success redirects back to the record and a refusal shows the
panel with its messages on a page of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, EntitySpec, create_record, get_readable, get_writable, update_record
from pathcast.crm.service import list_records as list_service_records
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import events_savepoint
from pathcast.web.forms import FormField, FormResult, PostedForm, is_htmx, messages, parse_form
from pathcast.web.lookups import account_names, contact_names, opportunity_names, user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage
from pathcast.web.timeline import TimelineEntry, record_timeline

router = APIRouter(include_in_schema=False)
ACTIVITY = SPECS["activity"]
LOGGED_KINDS = ("call", "meeting", "note", "email")
TIMED_KINDS = frozenset({"call", "meeting"})
PANEL_LIMIT = 100
LOG_FIELDS = (
    FormField("kind", "select", required=True),
    FormField("subject", required=True),
    FormField("occurred_at", "datetime", hint_key="records.hints.datetime"),
    FormField("duration_minutes", "integer", hint_key="records.hints.duration"),
    FormField("body", "textarea"),
)
TASK_FIELDS = (
    FormField("subject", required=True),
    FormField(
        "due_at",
        "due_date",
        required=True,
        label_key="records.activity.due_date",
        hint_key="records.hints.date",
    ),
)


@dataclass(frozen=True)
class AnchorKind:
    """A kind of record that activities hang off: its pages and its column on activities."""

    entity: str
    path: str
    column: str

    @property
    def spec(self) -> EntitySpec:
        return SPECS[self.entity]


ANCHOR_KINDS = {
    kind.entity: kind
    for kind in (
        AnchorKind("opportunity", "/opportunities", "opportunity_id"),
        AnchorKind("account", "/accounts", "account_id"),
        AnchorKind("contact", "/contacts", "contact_id"),
    )
}


@dataclass
class Anchor:
    """The record a page is about, as the activity forms see it."""

    kind: AnchorKind
    record: Any

    @property
    def url(self) -> str:
        return f"{self.kind.path}/{self.record.id}"

    @property
    def base(self) -> str:
        """Where the record's forms post to."""
        return f"/records/{self.kind.entity}/{self.record.id}"

    def links(self, session: Session, page: PageContext) -> dict[str, int]:
        """The columns a new activity on this record gets: the record itself and, where
        the viewer may see them, its account and contact."""
        record = self.record
        links = {self.kind.column: int(record.id)}
        account_id = getattr(record, "account_id", None) if self.kind.entity != "account" else None
        contact_id = getattr(record, "contact_id", None) if self.kind.entity == "opportunity" else None
        if account_id is not None and account_id in account_names(session, page.actor, [account_id]):
            links["account_id"] = int(account_id)
        if contact_id is not None and contact_id in contact_names(session, page.actor, [contact_id]):
            links["contact_id"] = int(contact_id)
        return links


def load_anchor(session: Session, page: PageContext, entity: str, record_id: int) -> Anchor:
    """The record ``entity``/``record_id`` if the viewer may read it (404 otherwise)."""
    kind = ANCHOR_KINDS.get(entity)
    if kind is None:
        raise NotFound("route_not_found")
    return Anchor(kind, get_readable(session, page.actor, kind.spec, record_id))


@dataclass
class ActivityForm:
    """One of the panel's forms: where it posts, what it holds, what is wrong with it."""

    action: str
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ActivityPanel:
    anchor: Anchor
    can_read: bool
    can_create: bool
    log_form: ActivityForm
    task_form: ActivityForm
    open_tasks: list[m.Activity] = field(default_factory=list)
    history: list[m.Activity] = field(default_factory=list)
    completable: set[int] = field(default_factory=set)
    people: dict[int, str] = field(default_factory=dict)
    deals: dict[int, str] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)
    kind_choices: list[tuple[str, str]] = field(default_factory=list)


def blank_log_form(anchor: Anchor) -> ActivityForm:
    now = utcnow()
    return ActivityForm(
        f"{anchor.base}/activities", {"kind": "call", "occurred_at": now.strftime("%Y-%m-%d %H:%M")}
    )


def blank_task_form(anchor: Anchor) -> ActivityForm:
    return ActivityForm(f"{anchor.base}/tasks", {})


def _completable(session: Session, page: PageContext, tasks: list[m.Activity]) -> set[int]:
    found = set()
    for task in tasks:
        try:
            get_writable(session, page.actor, ACTIVITY, task.id)
        except (PermissionDenied, NotFound):
            continue
        found.add(task.id)
    return found


def _when(activity: m.Activity) -> datetime:
    return activity.occurred_at or activity.done_at or activity.created_at


def activity_panel(
    session: Session,
    page: PageContext,
    anchor: Anchor,
    *,
    log_form: ActivityForm | None = None,
    task_form: ActivityForm | None = None,
) -> ActivityPanel:
    """The activities of a record the viewer may see: open tasks (soonest due first),
    then everything done or logged (newest first), and the forms to add more."""
    actor = page.actor
    panel = ActivityPanel(
        anchor=anchor,
        can_read=may(actor, "activity", "read"),
        can_create=may(actor, "activity", "create"),
        log_form=log_form or blank_log_form(anchor),
        task_form=task_form or blank_task_form(anchor),
        kind_choices=[(kind, page.t(f"records.kinds.{kind}")) for kind in LOGGED_KINDS],
    )
    if not panel.can_read:
        return panel
    items, _cursor, _total = list_service_records(
        session,
        actor,
        ACTIVITY,
        filters={anchor.kind.column: str(anchor.record.id)},
        sort="-created_at",
        limit=PANEL_LIMIT,
    )
    panel.open_tasks = sorted(
        (item for item in items if item.kind == "task" and item.done_at is None),
        key=lambda task: (task.due_at is None, task.due_at or task.created_at),
    )
    panel.history = sorted(
        (item for item in items if item.kind != "task" or item.done_at is not None), key=_when, reverse=True
    )
    panel.completable = _completable(session, page, panel.open_tasks)
    panel.people = user_names(session, [item.owner_id for item in items])
    if anchor.kind.entity != "opportunity":
        panel.deals = opportunity_names(session, actor, [item.opportunity_id for item in items])
    return panel


def anchor_timeline(session: Session, page: PageContext, anchor: Anchor) -> list[TimelineEntry]:
    """The record's timeline, with the events of its activities."""
    return record_timeline(
        session, page.actor, page.fmt, anchor.kind.spec, anchor.record.id, activity_column=anchor.kind.column
    )


# --- answers ----------------------------------------------------------------------------


def _answer(
    session: Session,
    page: PageContext,
    anchor: Anchor,
    panel: ActivityPanel,
    *,
    saved: bool,
) -> Response:
    if not is_htmx(page.request):
        if saved:
            return RedirectResponse(f"{anchor.url}#activities", status_code=303)
        return render(page, "partials/activity_page.html", {"panel": panel}, status_code=422)
    context: dict[str, Any] = {
        "panel": panel,
        "oob_timeline": anchor_timeline(session, page, anchor) if saved else None,
    }
    return render(page, "partials/activity_panel.html", context, status_code=200 if saved else 422)


def _save(
    session: Session, page: PageContext, result: FormResult, names: list[str], data: dict[str, Any]
) -> None:
    """Create the activity; problems the service finds are added to ``result``."""
    try:
        with events_savepoint(session):
            create_record(session, actor=page.actor, spec=ACTIVITY, data=data)
    except InvalidInput as error:
        result.add(error.errors, names)


def _form(action: str, result: FormResult, page: PageContext) -> ActivityForm:
    return ActivityForm(action, result.raw, messages(result, page.locale))


@router.post("/records/{entity}/{record_id}/activities")
def log_activity(
    page: FormPage, session: DbSession, form: PostedForm, entity: str, record_id: int
) -> Response:
    """Log a call, meeting, note or e-mail on a record (when it happened, how long calls took)."""
    anchor = load_anchor(session, page, entity, record_id)
    if not may(page.actor, "activity", "create"):
        raise PermissionDenied("forbidden_operation", entity="activity", operation="create")
    links = anchor.links(session, page)
    result = parse_form(
        LOG_FIELDS,
        form,
        schema=ACTIVITY.create_schema,
        choices={"kind": LOGGED_KINDS},
        fixed=links,
    )
    names = [spec.name for spec in LOG_FIELDS]
    if result.ok:
        data = {**links, **result.values}
        if data.get("occurred_at") is None:
            data["occurred_at"] = utcnow()
        if data.get("kind") not in TIMED_KINDS:
            data["duration_minutes"] = None
        _save(session, page, result, names, data)
    saved = result.ok
    panel = activity_panel(
        session, page, anchor, log_form=None if saved else _form(f"{anchor.base}/activities", result, page)
    )
    return _answer(session, page, anchor, panel, saved=saved)


@router.post("/records/{entity}/{record_id}/tasks")
def create_task(
    page: FormPage, session: DbSession, form: PostedForm, entity: str, record_id: int
) -> Response:
    """Create a task on a record, due at the end of the given day (UTC)."""
    anchor = load_anchor(session, page, entity, record_id)
    if not may(page.actor, "activity", "create"):
        raise PermissionDenied("forbidden_operation", entity="activity", operation="create")
    links = anchor.links(session, page)
    result = parse_form(TASK_FIELDS, form, schema=ACTIVITY.create_schema, fixed={**links, "kind": "task"})
    if result.ok:
        _save(
            session,
            page,
            result,
            [spec.name for spec in TASK_FIELDS],
            {**links, **result.values, "kind": "task"},
        )
    saved = result.ok
    panel = activity_panel(
        session, page, anchor, task_form=None if saved else _form(f"{anchor.base}/tasks", result, page)
    )
    return _answer(session, page, anchor, panel, saved=saved)


@router.post("/records/{entity}/{record_id}/activities/{activity_id}/complete")
def complete_task(
    page: FormPage, session: DbSession, entity: str, record_id: int, activity_id: int
) -> Response:
    """Mark a task of this record done now (one event, ``activity.updated`` with ``done_at``)."""
    anchor = load_anchor(session, page, entity, record_id)
    task: m.Activity = get_writable(session, page.actor, ACTIVITY, activity_id)
    if getattr(task, anchor.kind.column) != anchor.record.id or task.kind != "task":
        raise NotFound(entity="activity", id=activity_id)
    if task.done_at is None:
        update_record(session, actor=page.actor, spec=ACTIVITY, record=task, changes={"done_at": utcnow()})
    return _answer(session, page, anchor, activity_panel(session, page, anchor), saved=True)
