"""Run history (``/runs``, ``/runs/{id}``) and the inbox (``/inbox``): approvals and
confirmations waiting for the viewer, and their in-app notifications.

Runs are read through ``automation.service.rules`` (only runs of rules the viewer may
read). The inbox is every staff member's: decisions go through
``automation.service.inbox.decide``, which checks that the viewer is the assignee and
that a note is given when the rule asks for one; a refused decision shows the inbox again
with the message beside that item. The nav's count badge is loaded by htmx from
``/inbox/badge`` so that pages need not each count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.automation.models import InboxItem, InboxKind, Notification, Rule
from pathcast.automation.service import inbox, notifications, rules
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import events_savepoint
from pathcast.web.automation import RUN_STATUSES, SubjectKey, pretty_json, subject_links
from pathcast.web.automation_rules import RulesPage
from pathcast.web.forms import PostedForm, message
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page, safe_next

router = APIRouter(include_in_schema=False)

RUNS_LIMIT = 100
NOTIFICATIONS_LIMIT = 50
MAX_NOTE = 2000
# kind -> its two decisions, the one that goes on first
DECISIONS = {
    InboxKind.approval.value: ("approve", "reject"),
    InboxKind.confirmation.value: ("confirm", "decline"),
}


# --- who may see the inbox ---------------------------------------------------------------------


def may_use_inbox(actor: Actor) -> bool:
    """Every staff member has an inbox; a customer's own contact has none."""
    return actor.role is not Role.customer_contact


def inbox_page(page: Page) -> PageContext:
    if not may_use_inbox(page.actor):
        raise PermissionDenied("forbidden_model", entity="inbox_item")
    return page


def inbox_form_page(page: FormPage) -> PageContext:
    if not may_use_inbox(page.actor):
        raise PermissionDenied("forbidden_model", entity="inbox_item")
    return page


InboxPage = Annotated[PageContext, Depends(inbox_page)]
InboxFormPage = Annotated[PageContext, Depends(inbox_form_page)]


# --- runs ----------------------------------------------------------------------------------------


def _rule_names(session: Session, actor: Actor, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    query = rules.readable_rules(actor).where(Rule.id.in_(ids))
    return {rule.id: rule.name for rule in session.scalars(query)}


@router.get("/runs")
def run_list(
    page: RulesPage, session: DbSession, status: str | None = None, rule_id: str | None = None
) -> Response:
    """Runs of the rules the viewer may read, newest first; filter by status or rule."""
    wanted_status = status if status in RUN_STATUSES else None
    wanted_rule = int(rule_id) if rule_id and rule_id.isdigit() else None
    runs = rules.list_runs(
        session, actor=page.actor, rule_id=wanted_rule, status=wanted_status, limit=RUNS_LIMIT
    )
    context = {
        "runs": runs,
        "rule_names": _rule_names(session, page.actor, {run.rule_id for run in runs}),
        "subjects": subject_links(session, page, [(run.subject_entity, run.subject_id) for run in runs]),
        "statuses": RUN_STATUSES,
        "status": wanted_status or "",
        "rule_id": wanted_rule,
        "limit": RUNS_LIMIT,
    }
    return render(page, "automation/runs_list.html", context)


@router.get("/runs/{run_id}")
def run_detail(page: RulesPage, session: DbSession, run_id: int) -> Response:
    """One run and each of its steps: kind, status, attempts, outcome, last error, times."""
    run, steps = rules.get_run(session, run_id=run_id, actor=page.actor)
    items = list(session.scalars(select(InboxItem).where(InboxItem.run_id == run.id).order_by(InboxItem.id)))
    context = {
        "run": run,
        "steps": steps,
        "outcomes": {step.id: pretty_json(step.outcome) if step.outcome else "" for step in steps},
        "rule_name": _rule_names(session, page.actor, {run.rule_id}).get(run.rule_id, f"#{run.rule_id}"),
        "subject": subject_links(session, page, [(run.subject_entity, run.subject_id)]).get(
            (run.subject_entity, run.subject_id)
        ),
        "items": items,
        "context_json": pretty_json(run.context) if run.context else "",
    }
    return render(page, "automation/run_detail.html", context)


# --- the inbox -----------------------------------------------------------------------------------


@dataclass
class ItemView:
    """An open item as the inbox shows it, with its form's state after a refused decision."""

    item: InboxItem
    rule_name: str
    reason: str
    prompt: str | None
    decisions: tuple[str, str]
    subject: SubjectKey
    note: str = ""
    error: str | None = None


def _item_view(item: InboxItem) -> ItemView:
    detail: dict[str, Any] = item.detail or {}
    subject = subject_key(item)
    prompt = str(detail.get("prompt") or "").strip()
    return ItemView(
        item=item,
        rule_name=str(detail.get("rule_name") or item.title),
        reason=str(detail.get("reason") or ""),
        # An approval's "prompt" may be just what is approved ("quote"): the subject says that.
        prompt=prompt if prompt and prompt != subject[0] else None,
        decisions=DECISIONS.get(item.kind, ("approve", "reject")),
        subject=subject,
    )


def _inbox(
    session: Session,
    page: PageContext,
    *,
    refused: tuple[int, str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The inbox page; ``refused`` is (item id, note as typed, message) after a refusal."""
    views = [_item_view(item) for item in inbox.open_items(session, actor=page.actor)]
    if refused is not None:
        for view in views:
            if view.item.id == refused[0]:
                view.note, view.error = refused[1], refused[2]
    notes = notifications.of_user(session, actor=page.actor, limit=NOTIFICATIONS_LIMIT)
    context = {
        "items": views,
        "subjects": subject_links(session, page, [view.subject for view in views]),
        "rule_links": page.actor.role in rules.READERS,
        "notifications": notes,
        "links": {note.id: notification_link(note) for note in notes},
        "unread": notifications.unread_count(session, actor=page.actor),
    }
    return render(page, "automation/inbox.html", context, status_code=status_code)


def subject_key(item: InboxItem) -> SubjectKey:
    """The (entity, id) an item's run is about, as the links are keyed."""
    subject = (item.detail or {}).get("subject")
    if not isinstance(subject, dict):
        return None, None
    record_id = subject.get("id")
    return subject.get("entity"), None if record_id is None else str(record_id)


@router.get("/inbox")
def inbox_view(page: InboxPage, session: DbSession) -> Response:
    """What waits for the viewer: approvals and confirmations, then notifications."""
    return _inbox(session, page)


@router.post("/inbox/{item_id}/decision")
def decide(page: InboxFormPage, session: DbSession, form: PostedForm, item_id: int) -> Response:
    """Approve or reject, confirm or decline, with a note (required when the rule says so)."""
    decision = form.get("decision", "")
    note = form.get("note", "").strip()
    if len(note) > MAX_NOTE:
        problem = InvalidInput.single("note", "too_long", max=MAX_NOTE).errors[0]
        return _inbox(session, page, refused=(item_id, note, message(problem, page.locale)), status_code=422)
    try:
        with events_savepoint(session):
            inbox.decide(
                session,
                item_id=item_id,
                actor=page.actor,
                decision=decision,  # type: ignore[arg-type]  # the service refuses unknown ones
                note=note or None,
            )
    except InvalidInput as error:
        text = message(error.errors[0], page.locale)
        return _inbox(session, page, refused=(item_id, note, text), status_code=422)
    return RedirectResponse("/inbox", status_code=303)


@router.post("/notifications/{notification_id}/read")
def read_notification(
    page: InboxFormPage, session: DbSession, form: PostedForm, notification_id: int
) -> Response:
    """Mark one of the viewer's notifications read."""
    notifications.mark_read(session, notification_id=notification_id, actor=page.actor)
    return RedirectResponse(safe_next(form.get("next"), "/inbox#notifications"), status_code=303)


@router.get("/inbox/badge")
def inbox_badge(page: Page, session: DbSession) -> Response:
    """The nav's count: open items plus unread notifications (nothing for customers)."""
    count = 0
    if may_use_inbox(page.actor):
        count = len(inbox.open_items(session, actor=page.actor))
        count += notifications.unread_count(session, actor=page.actor)
    return render(page, "automation/inbox_badge.html", {"count": count})


def notification_link(notification: Notification) -> str | None:
    """A notification's link if it points inside Pathcast."""
    link = notification.link or ""
    return link if link and safe_next(link, "") == link else None
