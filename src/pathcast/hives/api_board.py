"""Hives API, the delivery board (``/api/v1/hives/...``): tasks, dependencies, the board and
timeline views, risks, decisions, requests and my tasks.

Fixed paths (``/hives/tasks/...``, ``/hives/risks/...``, ``/hives/requests/...``,
``/hives/my-tasks``) are registered before the ``/hives/{hive_id}`` routes of ``api.py``.
Scoping is the services': a hive the caller may not read is a 404, a role without the
right a 403, bad input a 422 naming each field (a cycle names the tasks on it).

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Any

from fastapi import APIRouter, Response

from pathcast.deps import CurrentActor, DbSession
from pathcast.hives import schemas as s
from pathcast.hives.service import board as board_service
from pathcast.hives.service import board_read, collab

router = APIRouter(prefix="/hives", tags=["hives"])


# --- my tasks, tasks and dependencies -----------------------------------------------------------


@router.get("/my-tasks", response_model=list[s.MyTaskRead], summary="My tasks across my hives, open first")
def my_tasks(session: DbSession, actor: CurrentActor, include_done: bool = False) -> Any:
    return board_read.my_tasks(session, actor, include_done=include_done)


@router.post("/{hive_id}/tasks", response_model=s.TaskRead, status_code=201, summary="Add a task")
def add_task(hive_id: int, body: s.TaskCreate, session: DbSession, actor: CurrentActor) -> Any:
    task = board_service.add_task(session, actor, hive_id=hive_id, **body.model_dump())
    return _task(session, actor, task.hive_id, task.id)


@router.patch("/tasks/{task_id}", response_model=s.TaskRead, summary="Change a task (owner, plan, status…)")
def update_task(task_id: int, body: s.TaskUpdate, session: DbSession, actor: CurrentActor) -> Any:
    task = board_service.update_task(
        session, actor, task_id=task_id, changes=body.model_dump(exclude_unset=True)
    )
    return _task(session, actor, task.hive_id, task.id)


@router.delete("/tasks/{task_id}", status_code=204, summary="Remove a task and its checklist items")
def delete_task(task_id: int, session: DbSession, actor: CurrentActor) -> Response:
    board_service.delete_task(session, actor, task_id=task_id)
    return Response(status_code=204)


@router.post(
    "/tasks/{task_id}/dependencies",
    response_model=s.TaskRead,
    status_code=201,
    summary="Make a task wait for another (refuses cycles, naming the tasks)",
)
def add_dependency(task_id: int, body: s.DependencyCreate, session: DbSession, actor: CurrentActor) -> Any:
    board_service.add_dependency(session, actor, task_id=task_id, depends_on_id=body.depends_on)
    task, hive = board_service.get_task(session, actor, task_id)
    return _task(session, actor, hive.id, task.id)


@router.delete("/tasks/{task_id}/dependencies/{depends_on}", status_code=204, summary="Remove a dependency")
def remove_dependency(task_id: int, depends_on: int, session: DbSession, actor: CurrentActor) -> Response:
    board_service.remove_dependency(session, actor, task_id=task_id, depends_on_id=depends_on)
    return Response(status_code=204)


def _task(session: Any, actor: Any, hive_id: int, task_id: int) -> s.TaskRead:
    """A task as the board shows it today (forecast, slack, critical, dependencies)."""
    view = board_read.board(session, actor, hive_id)
    return next(task for task in view.tasks if task.id == task_id)


@router.get("/{hive_id}/board", response_model=s.BoardRead, summary="The board: tasks with their forecast")
def get_board(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return board_read.board(session, actor, hive_id)


@router.get("/{hive_id}/timeline", response_model=s.TimelineRead, summary="Gantt data: bars, links, promise")
def get_timeline(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return board_read.timeline(session, actor, hive_id)


# --- risks --------------------------------------------------------------------------------------


@router.get("/{hive_id}/risks", response_model=list[s.RiskRead], summary="A hive's risks, open first")
def list_risks(hive_id: int, session: DbSession, actor: CurrentActor, include_closed: bool = False) -> Any:
    return collab.risks_of(session, actor, hive_id, include_closed=include_closed)


@router.post("/{hive_id}/risks", response_model=s.RiskRead, status_code=201, summary="Open a risk")
def open_risk(hive_id: int, body: s.RiskCreate, session: DbSession, actor: CurrentActor) -> Any:
    return collab.open_risk(session, actor, hive_id=hive_id, **body.model_dump())


@router.patch("/risks/{risk_id}", response_model=s.RiskRead, summary="Change a risk's owner, function, text")
def update_risk(risk_id: int, body: s.RiskUpdate, session: DbSession, actor: CurrentActor) -> Any:
    return collab.update_risk(session, actor, risk_id=risk_id, changes=body.model_dump(exclude_unset=True))


@router.post("/risks/{risk_id}/close", response_model=s.RiskRead, summary="Close a risk (a problem resolved)")
def close_risk(risk_id: int, body: s.RiskClose, session: DbSession, actor: CurrentActor) -> Any:
    return collab.close_risk(session, actor, risk_id=risk_id, note=body.note)


# --- decisions and requests ---------------------------------------------------------------------


@router.get("/{hive_id}/decisions", response_model=list[s.DecisionRead], summary="Decisions, newest first")
def list_decisions(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return collab.decisions_of(session, actor, hive_id)


@router.post(
    "/{hive_id}/decisions", response_model=s.DecisionRead, status_code=201, summary="Record a decision"
)
def record_decision(hive_id: int, body: s.DecisionCreate, session: DbSession, actor: CurrentActor) -> Any:
    return collab.record_decision(session, actor, hive_id=hive_id, text=body.text)


@router.get(
    "/requests/mine", response_model=list[s.RequestRead], summary="Unanswered requests addressed to me"
)
def my_requests(session: DbSession, actor: CurrentActor) -> Any:
    return collab.requests_to(session, actor)


@router.get("/{hive_id}/requests", response_model=list[s.RequestRead], summary="Requests, unanswered first")
def list_requests(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return collab.requests_of(session, actor, hive_id)


@router.post("/{hive_id}/requests", response_model=s.RequestRead, status_code=201, summary="Ask a member")
def ask(hive_id: int, body: s.RequestCreate, session: DbSession, actor: CurrentActor) -> Any:
    return collab.ask(session, actor, hive_id=hive_id, to_user_id=body.to_user_id, text=body.text)


@router.post(
    "/requests/{request_id}/answer",
    response_model=s.RequestRead,
    summary="Answer a request (its addressee only)",
)
def answer(request_id: int, body: s.RequestAnswer, session: DbSession, actor: CurrentActor) -> Any:
    return collab.answer(session, actor, request_id=request_id, text=body.text)
