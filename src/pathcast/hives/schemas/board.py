"""Hive I/O shapes, board: tasks, dependencies, schedule views, risks, decisions, requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field

from pathcast.schemas import CUSTOMER, INTERNAL, RETAINED, ProjectBase

_BdTaskKind = Literal["milestone", "task", "check"]
_BdTaskStatus = Literal["todo", "doing", "blocked", "done"]


class TaskCreate(ProjectBase):
    """``POST /hives/{hive_id}/tasks``: a task, milestone or checklist item on the board."""

    name: str = Field(min_length=1, max_length=300)
    planned_start: date
    duration_days: int = Field(ge=0, le=3650)
    due_date: date | None = None
    kind: _BdTaskKind = "task"
    owner_id: int | None = None
    function: str | None = None
    parent_id: int | None = None
    depends_on: list[int] = Field(default_factory=list, max_length=200)


class TaskUpdate(ProjectBase):
    """``PATCH /hives/tasks/{task_id}``: only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=300)
    owner_id: int | None = None
    function: str | None = None
    planned_start: date | None = None
    duration_days: int | None = Field(default=None, ge=0, le=3650)
    due_date: date | None = None
    status: _BdTaskStatus | None = None


class DependencyCreate(ProjectBase):
    """``POST /hives/tasks/{task_id}/dependencies``: the task waits for ``depends_on``."""

    depends_on: int


class DependencyRead(ProjectBase):
    """``task_id`` cannot start before ``depends_on`` finishes."""

    task_id: Annotated[int, INTERNAL]
    depends_on: Annotated[int, INTERNAL]


class TaskRead(ProjectBase):
    """A task with its plan and its forecast (slack, critical, days late)."""

    id: Annotated[int, CUSTOMER]
    hive_id: Annotated[int, INTERNAL]
    parent_id: Annotated[int | None, INTERNAL]
    kind: Annotated[str, CUSTOMER]
    key: Annotated[str | None, INTERNAL]
    name: Annotated[str, CUSTOMER]
    function: Annotated[str | None, INTERNAL]
    owner_id: Annotated[int | None, INTERNAL]
    owner_name: Annotated[str | None, INTERNAL] = None
    status: Annotated[str, CUSTOMER]
    planned_start: Annotated[date, CUSTOMER]
    duration_days: Annotated[int, CUSTOMER]
    due_date: Annotated[date, CUSTOMER]
    started_at: Annotated[datetime | None, INTERNAL]
    done_at: Annotated[datetime | None, INTERNAL]
    forecast_start: Annotated[date | None, INTERNAL]
    forecast_finish: Annotated[date | None, INTERNAL]
    slack_days: Annotated[int | None, INTERNAL]
    critical: Annotated[bool, INTERNAL]
    late_days: Annotated[int, INTERNAL] = 0
    depends_on: Annotated[list[int], INTERNAL] = Field(default_factory=list)


class BoardRead(ProjectBase):
    """``GET /hives/{hive_id}/board``: every task with its forecast, and the dependencies."""

    hive_id: Annotated[int, INTERNAL]
    name: Annotated[str, INTERNAL]
    today: Annotated[date, INTERNAL]
    promised_date: Annotated[date | None, INTERNAL]
    forecast_finish: Annotated[date | None, INTERNAL]
    late_days: Annotated[int, INTERNAL]
    critical_path: Annotated[list[int], INTERNAL]
    tasks: Annotated[list[TaskRead], INTERNAL]
    dependencies: Annotated[list[DependencyRead], INTERNAL]


class TimelineRow(ProjectBase):
    """One Gantt row: planned and forecast bars."""

    id: Annotated[int, INTERNAL]
    name: Annotated[str, INTERNAL]
    kind: Annotated[str, INTERNAL]
    status: Annotated[str, INTERNAL]
    parent_id: Annotated[int | None, INTERNAL]
    owner_name: Annotated[str | None, INTERNAL] = None
    planned_start: Annotated[date, INTERNAL]
    planned_finish: Annotated[date, INTERNAL]
    forecast_start: Annotated[date, INTERNAL]
    forecast_finish: Annotated[date, INTERNAL]
    due_date: Annotated[date, INTERNAL]
    slack_days: Annotated[int, INTERNAL]
    critical: Annotated[bool, INTERNAL]
    late_days: Annotated[int, INTERNAL]


class TimelineRead(ProjectBase):
    """``GET /hives/{hive_id}/timeline``: Gantt rows, dependency links, today and the promise."""

    hive_id: Annotated[int, INTERNAL]
    today: Annotated[date, INTERNAL]
    start_date: Annotated[date, INTERNAL]
    promised_date: Annotated[date | None, INTERNAL]
    forecast_finish: Annotated[date | None, INTERNAL]
    late_days: Annotated[int, INTERNAL]
    critical_path: Annotated[list[int], INTERNAL]
    rows: Annotated[list[TimelineRow], INTERNAL]
    links: Annotated[list[DependencyRead], INTERNAL]


class MyTaskRead(TaskRead):
    """``GET /hives/my-tasks``: one of my tasks, with its hive."""

    hive_name: Annotated[str, INTERNAL]


class RiskCreate(ProjectBase):
    """``POST /hives/{hive_id}/risks``."""

    title: str = Field(min_length=1, max_length=300)
    function: str
    detail: str = Field(default="", max_length=5000)
    owner_id: int | None = None


class RiskUpdate(ProjectBase):
    """``PATCH /hives/risks/{risk_id}``: only the fields given change."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    function: str | None = None
    detail: str | None = Field(default=None, max_length=5000)
    owner_id: int | None = None


class RiskClose(ProjectBase):
    """``POST /hives/risks/{risk_id}/close``."""

    note: str = Field(default="", max_length=5000)


class RiskRead(ProjectBase):
    """A risk of the job and who owns it."""

    id: Annotated[int, INTERNAL]
    hive_id: Annotated[int, INTERNAL]
    title: Annotated[str, INTERNAL]
    detail: Annotated[str, INTERNAL]
    function: Annotated[str, INTERNAL]
    owner_id: Annotated[int | None, INTERNAL]
    status: Annotated[str, INTERNAL]
    source: Annotated[str, INTERNAL]
    opened_at: Annotated[datetime, RETAINED]
    closed_at: Annotated[datetime | None, RETAINED]
    closed_by: Annotated[int | None, RETAINED]


class DecisionCreate(ProjectBase):
    """``POST /hives/{hive_id}/decisions``."""

    text: str = Field(min_length=1, max_length=5000)


class DecisionRead(ProjectBase):
    """A decision recorded in the hive."""

    id: Annotated[int, INTERNAL]
    hive_id: Annotated[int, INTERNAL]
    text: Annotated[str, INTERNAL]
    decided_by: Annotated[int | None, RETAINED]
    decided_at: Annotated[datetime, RETAINED]


class RequestCreate(ProjectBase):
    """``POST /hives/{hive_id}/requests``: ask one member."""

    to_user_id: int
    text: str = Field(min_length=1, max_length=5000)


class RequestAnswer(ProjectBase):
    """``POST /hives/requests/{request_id}/answer`` (only the addressee)."""

    text: str = Field(min_length=1, max_length=5000)


class RequestRead(ProjectBase):
    """A request addressed to one member, and its answer."""

    id: Annotated[int, INTERNAL]
    hive_id: Annotated[int, INTERNAL]
    from_user_id: Annotated[int | None, INTERNAL]
    to_user_id: Annotated[int, INTERNAL]
    text: Annotated[str, INTERNAL]
    answer: Annotated[str | None, INTERNAL]
    asked_at: Annotated[datetime, RETAINED]
    answered_at: Annotated[datetime | None, RETAINED]
