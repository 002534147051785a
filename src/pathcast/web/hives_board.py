"""Hive pages, the delivery board: the board and timeline panels of ``/hives/{id}`` and the
``/hives/my-tasks`` page (the risks panel lives in ``hives_board_risks``).

- ``/hives/{id}/board-panel``: columns todo / doing / blocked / done; each card shows its
  owner, due date, forecast, late and critical badges, its checklist items and a status
  form; an add-task form and an add-dependency form (a cycle is refused naming the tasks).
- ``/hives/{id}/timeline-panel``: an ECharts Gantt (planned and forecast bars, the critical
  path in a strong colour, dependency arrows, marks for today and the promised date), a
  plain table under it and the critical path in words.
- ``/hives/my-tasks``: my open tasks across my hives and the requests waiting for my answer.

Panels are htmx fragments (``outerHTML``); their forms post to their own routes and return
the panel again (or 303 back to ``/hives/{id}#panel`` without htmx); a refused form comes
back 422 with every typed value kept and the message beside its field. Everything goes
through the hives services with the viewer's Actor: a hive they may not read is a 404.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, NotFound
from pathcast.events import events_savepoint
from pathcast.hives.service import board as board_service
from pathcast.hives.service import board_read, collab
from pathcast.hives.service.access import get_hive
from pathcast.web.forms import PostedForm, parse_day
from pathcast.web.hives_board_forms import PanelForm, field_messages, member_choices, panel_done, whole
from pathcast.web.hives_board_risks import router as risks_router
from pathcast.web.lookups import user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)
router.include_router(risks_router)

TASK_FORM = ("name", "kind", "planned_start", "duration_days", "due_date", "owner_id", "depends_on")
COLUMNS = ("todo", "doing", "blocked", "done")


# --- the board panel --------------------------------------------------------------------------


def _next_statuses(task: Any) -> list[str]:
    allowed = set(board_service.TRANSITIONS[task.status])
    if task.status == "todo" and (task.kind == "check" or task.duration_days == 0):
        allowed.add("done")
    return [status for status in COLUMNS if status in allowed]


def _board_panel(session: Session, page: PageContext, hive_id: int, form: PanelForm | None = None,
                 status: int = 200) -> Response:  # fmt: skip
    view = board_read.board(session, page.actor, hive_id)
    by_id = {task.id: task for task in view.tasks}
    checks: dict[int, list[Any]] = {}
    for task in view.tasks:
        if task.kind == "check" and task.parent_id in by_id:
            checks.setdefault(task.parent_id, []).append(task)
    cards = [task for task in view.tasks if task.kind != "check" or task.parent_id not in by_id]
    columns = [(name, [task for task in cards if task.status == name]) for name in COLUMNS]
    context = {
        "hive_id": view.hive_id,
        "view": view,
        "columns": columns,
        "checks": checks,
        "next_statuses": {task.id: _next_statuses(task) for task in view.tasks},
        "members": member_choices(session, view.hive_id),
        "schedulable": [task for task in view.tasks if task.kind != "check"],
        "names": {task.id: task.name for task in view.tasks},
        "can_edit": may(page.actor, "hive", "update"),
        "form": form or PanelForm(),
    }
    return render(page, "hives/_board_panel.html", context, status_code=status)


@router.get("/hives/{hive_id}/board-panel")
def board_panel(page: Page, session: DbSession, hive_id: int) -> Response:
    """The board panel of a hive, as an HTML fragment."""
    return _board_panel(session, page, hive_id)


def _refused(session: Session, page: PageContext, hive_id: int, name: str, typed: Mapping[str, str],
             errors: list[FieldError], fields: tuple[str, ...]) -> Response:  # fmt: skip
    form = PanelForm(name=name, values=dict(typed), errors=field_messages(page, errors, fields))
    return _board_panel(session, page, hive_id, form, status=422)


@router.post("/hives/{hive_id}/board-panel/tasks")
def board_add_task(page: FormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Add a task (or milestone) to the board."""
    hive = get_hive(session, page.actor, hive_id)
    typed = {name: (form.get(name) or "").strip() for name in TASK_FORM}
    errors: list[FieldError] = []
    start = parse_day(typed["planned_start"]) if typed["planned_start"] else None
    if typed["planned_start"] and start is None:
        errors.append(FieldError("planned_start", "date_invalid", {"value": typed["planned_start"]}))
    due = parse_day(typed["due_date"]) if typed["due_date"] else None
    if typed["due_date"] and due is None:
        errors.append(FieldError("due_date", "date_invalid", {"value": typed["due_date"]}))
    duration = whole(typed["duration_days"], "duration_days", errors)
    owner = whole(typed["owner_id"], "owner_id", errors)
    depends = whole(typed["depends_on"], "depends_on", errors)
    kind = typed["kind"] if typed["kind"] in ("task", "milestone") else "task"
    if not errors:
        try:
            with events_savepoint(session):
                board_service.add_task(
                    session, page.actor, hive_id=hive.id, name=typed["name"],
                    planned_start=start or hive.start_date, duration_days=duration if duration is not None else 1,
                    due_date=due, kind=kind, owner_id=owner, depends_on=[depends] if depends else [],
                )  # fmt: skip
        except InvalidInput as refused:
            errors = refused.errors
    if errors:
        return _refused(session, page, hive.id, "add", typed, errors, TASK_FORM)
    return panel_done(page, hive.id, "board-panel", lambda: _board_panel(session, page, hive.id))


@router.post("/hives/{hive_id}/board-panel/tasks/{task_id}/status")
def board_task_status(
    page: FormPage, session: DbSession, form: PostedForm, hive_id: int, task_id: int
) -> Response:
    """Move a card to another column (todo, doing, blocked, done)."""
    task, hive = board_service.get_task(session, page.actor, task_id)
    if hive.id != hive_id:
        raise NotFound("not_found", entity="hive_task", id=task_id)
    status = (form.get("status") or "").strip()
    try:
        with events_savepoint(session):
            board_service.update_task(session, page.actor, task_id=task.id, changes={"status": status})
    except InvalidInput as refused:
        return _refused(session, page, hive.id, f"status-{task.id}", {"status": status}, refused.errors, ())
    return panel_done(page, hive.id, "board-panel", lambda: _board_panel(session, page, hive.id))


@router.post("/hives/{hive_id}/board-panel/dependencies")
def board_add_dependency(page: FormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Make one task wait for another; a cycle comes back 422 naming the tasks on it."""
    hive = get_hive(session, page.actor, hive_id)
    typed = {name: (form.get(name) or "").strip() for name in ("task_id", "depends_on")}
    errors: list[FieldError] = []
    task_id = whole(typed["task_id"], "task_id", errors, required=True)
    depends_on = whole(typed["depends_on"], "depends_on", errors, required=True)
    if not errors and task_id is not None and depends_on is not None:
        task, task_hive = board_service.get_task(session, page.actor, task_id)
        if task_hive.id != hive.id:
            errors.append(FieldError("task_id", "invalid", {"message": "a task of this hive"}))
        else:
            try:
                with events_savepoint(session):
                    board_service.add_dependency(
                        session, page.actor, task_id=task.id, depends_on_id=depends_on
                    )
            except InvalidInput as refused:
                errors = refused.errors
    if errors:
        return _refused(session, page, hive.id, "dependency", typed, errors, ("task_id", "depends_on"))
    return panel_done(page, hive.id, "board-panel", lambda: _board_panel(session, page, hive.id))


# --- the timeline panel -----------------------------------------------------------------------


@router.get("/hives/{hive_id}/timeline-panel")
def timeline_panel(page: Page, session: DbSession, hive_id: int) -> Response:
    """The Gantt of a hive (ECharts, with a table fallback and the critical path in words)."""
    view = board_read.timeline(session, page.actor, hive_id)
    names = {row.id: row.name for row in view.rows}
    chart = {
        "locale": "ZH" if page.locale == "zh-CN" else "EN",
        "today": view.today.isoformat(),
        "promised": view.promised_date.isoformat() if view.promised_date else None,
        "labels": {key: page.t(f"hives_board.timeline.{key}") for key in
                   ("planned", "forecast", "critical", "today", "promised", "done", "late")},
        "rows": [
            {"id": row.id, "name": row.name, "kind": row.kind, "status": row.status, "critical": row.critical,
             "late": row.late_days, "owner": row.owner_name or "",
             "planned": [row.planned_start.isoformat(), row.planned_finish.isoformat()],
             "forecast": [row.forecast_start.isoformat(), row.forecast_finish.isoformat()]}
            for row in view.rows
        ],
        "links": [[link.depends_on, link.task_id] for link in view.links],
    }  # fmt: skip
    context = {
        "hive_id": view.hive_id,
        "view": view,
        "chart": chart,
        "path_names": [names[i] for i in view.critical_path if i in names],
    }
    return render(page, "hives/_timeline_panel.html", context)


# --- my tasks ---------------------------------------------------------------------------------


@router.get("/hives/my-tasks")
def my_tasks_page(page: Page, session: DbSession, done: str | None = None) -> Response:
    """My tasks across the hives I may read (open first, by forecast finish), and the
    requests waiting for my answer."""
    include_done = done == "1"
    tasks = board_read.my_tasks(session, page.actor, include_done=include_done)
    requests = collab.requests_to(session, page.actor)
    hive_names = {task.hive_id: task.hive_name for task in tasks}
    for request in requests:
        if request.hive_id not in hive_names:
            hive_names[request.hive_id] = get_hive(session, page.actor, request.hive_id).name
    context = {
        "tasks": tasks,
        "requests": requests,
        "hive_names": hive_names,
        "askers": user_names(session, [request.from_user_id for request in requests]),
        "include_done": include_done,
    }
    return render(page, "hives/my_tasks.html", context)
