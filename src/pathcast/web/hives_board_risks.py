"""Hive pages, the risks panel of ``/hives/{id}``: open risks (function, owner, and a warning
when no owner from the function that can act holds it), close and open forms; decisions
with a form to record one; requests — the ones addressed to me with an answer form, the
ones still waiting, and a form to ask a member.

An htmx fragment like the other panels (``outerHTML``); forms post to their own routes and
return the panel (303 back to ``/hives/{id}#risks-panel`` without htmx); a refused form
comes back 422 with the values kept and the message beside its field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, NotFound
from pathcast.events import events_savepoint
from pathcast.hives import models as m
from pathcast.hives.service import collab
from pathcast.hives.service.access import get_hive
from pathcast.web.forms import PostedForm
from pathcast.web.hives_board_forms import PanelForm, field_messages, member_choices, panel_done, whole
from pathcast.web.lookups import user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

RISK_FORM = ("title", "function", "owner_id", "detail")
ANCHOR = "risks-panel"


def _risks_panel(session: Session, page: PageContext, hive_id: int, form: PanelForm | None = None,
                 status: int = 200) -> Response:  # fmt: skip
    hive = get_hive(session, page.actor, hive_id)
    members = member_choices(session, hive.id)
    functions_of = {user_id: function for user_id, _name, function in members}
    risks = collab.risks_of(session, page.actor, hive.id)
    decisions = collab.decisions_of(session, page.actor, hive.id)
    requests = collab.requests_of(session, page.actor, hive.id)
    people = user_names(
        session,
        [r.owner_id for r in risks]
        + [d.decided_by for d in decisions]
        + [q.from_user_id for q in requests]
        + [q.to_user_id for q in requests],
    )
    context = {
        "hive_id": hive.id,
        "risks": risks,
        # health's risk-sharing coverage: an owner who serves the function that can act
        "uncovered": {
            r.id for r in risks if r.owner_id is None or functions_of.get(r.owner_id) != r.function
        },
        "decisions": decisions,
        "mine": [q for q in requests if q.answered_at is None and q.to_user_id == page.actor.user_id],
        "waiting": [q for q in requests if q.answered_at is None and q.to_user_id != page.actor.user_id],
        "answered": [q for q in requests if q.answered_at is not None][:10],
        "people": people,
        "members": members,
        "functions": m.FUNCTIONS,
        "can_edit": may(page.actor, "hive", "update"),
        "form": form or PanelForm(),
    }
    return render(page, "hives/_risks_panel.html", context, status_code=status)


@router.get("/hives/{hive_id}/risks-panel")
def risks_panel(page: Page, session: DbSession, hive_id: int) -> Response:
    """The risks, decisions and requests of a hive, as an HTML fragment."""
    return _risks_panel(session, page, hive_id)


def _write(
    session: Session,
    page: PageContext,
    hive_id: int,
    name: str,
    typed: dict[str, str],
    fields: tuple[str, ...],
    action: Callable[[], Any],
    errors: list[FieldError] | None = None,
) -> Response:
    """Run one write (in a savepoint, so a refusal leaves nothing behind) and answer."""
    problems = list(errors or [])
    if not problems:
        try:
            with events_savepoint(session):
                action()
        except InvalidInput as refused:
            problems = refused.errors
    if problems:
        form = PanelForm(name=name, values=typed, errors=field_messages(page, problems, fields))
        return _risks_panel(session, page, hive_id, form, status=422)
    return panel_done(page, hive_id, ANCHOR, lambda: _risks_panel(session, page, hive_id))


@router.post("/hives/{hive_id}/risks-panel/risks")
def open_risk(page: FormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Open a risk owned by a function (and a member of it)."""
    hive = get_hive(session, page.actor, hive_id)
    typed = {name: (form.get(name) or "").strip() for name in RISK_FORM}
    errors: list[FieldError] = []
    owner = whole(typed["owner_id"], "owner_id", errors)
    return _write(
        session, page, hive.id, "risk", typed, RISK_FORM,
        lambda: collab.open_risk(session, page.actor, hive_id=hive.id, title=typed["title"],
                                 function=typed["function"], detail=typed["detail"], owner_id=owner),
        errors,
    )  # fmt: skip


@router.post("/hives/{hive_id}/risks-panel/risks/{risk_id}/owner")
def assign_risk(page: FormPage, session: DbSession, form: PostedForm, hive_id: int, risk_id: int) -> Response:
    """Give a risk an owner (a member of the hive)."""
    risk, hive = collab.get_risk(session, page.actor, risk_id)
    if hive.id != hive_id:
        raise NotFound("not_found", entity="hive_risk", id=risk_id)
    typed = {"owner_id": (form.get("owner_id") or "").strip()}
    errors: list[FieldError] = []
    owner = whole(typed["owner_id"], "owner_id", errors)
    return _write(
        session, page, hive.id, f"owner-{risk.id}", typed, ("owner_id",),
        lambda: collab.update_risk(session, page.actor, risk_id=risk.id, changes={"owner_id": owner}),
        errors,
    )  # fmt: skip


@router.post("/hives/{hive_id}/risks-panel/risks/{risk_id}/close")
def close_risk(page: FormPage, session: DbSession, form: PostedForm, hive_id: int, risk_id: int) -> Response:
    """Close a risk: a problem resolved, credited to whoever closes it."""
    risk, hive = collab.get_risk(session, page.actor, risk_id)
    if hive.id != hive_id or risk.status != "open":
        raise NotFound("not_found", entity="hive_risk", id=risk_id)
    typed = {"note": (form.get("note") or "").strip()}
    return _write(
        session, page, hive.id, f"close-{risk.id}", typed, ("note",),
        lambda: collab.close_risk(session, page.actor, risk_id=risk.id, note=typed["note"]),
    )  # fmt: skip


@router.post("/hives/{hive_id}/risks-panel/decisions")
def record_decision(page: FormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Record a decision."""
    hive = get_hive(session, page.actor, hive_id)
    typed = {"text": (form.get("text") or "").strip()}
    return _write(
        session, page, hive.id, "decision", typed, ("text",),
        lambda: collab.record_decision(session, page.actor, hive_id=hive.id, text=typed["text"]),
    )  # fmt: skip


@router.post("/hives/{hive_id}/risks-panel/requests")
def ask(page: FormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Ask one member of the hive."""
    hive = get_hive(session, page.actor, hive_id)
    typed = {name: (form.get(name) or "").strip() for name in ("to_user_id", "text")}
    errors: list[FieldError] = []
    to_user = whole(typed["to_user_id"], "to_user_id", errors, required=True)
    return _write(
        session, page, hive.id, "ask", typed, ("to_user_id", "text"),
        lambda: collab.ask(session, page.actor, hive_id=hive.id, to_user_id=to_user or 0, text=typed["text"]),
        errors,
    )  # fmt: skip


@router.post("/hives/{hive_id}/risks-panel/requests/{request_id}/answer")
def answer(page: FormPage, session: DbSession, form: PostedForm, hive_id: int, request_id: int) -> Response:
    """Answer a request addressed to me (anyone else: 403)."""
    request, hive = collab.get_request(session, page.actor, request_id)
    if hive.id != hive_id:
        raise NotFound("not_found", entity="hive_request", id=request_id)
    typed = {"text": (form.get("text") or "").strip()}
    return _write(
        session, page, hive.id, f"answer-{request.id}", typed, ("text",),
        lambda: collab.answer(session, page.actor, request_id=request.id, text=typed["text"]),
    )  # fmt: skip
