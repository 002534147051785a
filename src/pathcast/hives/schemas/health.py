"""Hive I/O shapes, health: contribution, hive health, OKRs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from pathcast.schemas import INTERNAL, RETAINED, ProjectBase


class HealthComponentRead(ProjectBase):
    """One component of a hive's health: 0–1, its weight, the numbers and the words."""

    value: Annotated[float, INTERNAL]
    weight: Annotated[float, INTERNAL]
    numbers: Annotated[dict[str, Any], INTERNAL]
    zh: Annotated[str, INTERNAL]
    en: Annotated[str, INTERNAL]


class HealthRead(ProjectBase):
    """A hive's health 0–100 with its components and the busy-not-moving flag."""

    hive_id: Annotated[int, INTERNAL]
    name: Annotated[str, INTERNAL]
    status: Annotated[str, INTERNAL]
    health: Annotated[int | None, INTERNAL]
    health_at: Annotated[datetime | None, RETAINED]
    busy_not_moving: Annotated[bool, INTERNAL]
    components: Annotated[dict[str, HealthComponentRead], INTERNAL]
    activity: Annotated[dict[str, int], INTERNAL]
    weights: Annotated[dict[str, float], INTERNAL]


class MemberContributionRead(ProjectBase):
    """What one member did in the window (no messages, check-ins or logins)."""

    user_id: Annotated[int, INTERNAL]
    function: Annotated[str, INTERNAL]
    requests: Annotated[int, INTERNAL]
    answered: Annotated[int, INTERNAL]
    median_response_hours: Annotated[float | None, INTERNAL]
    open_requests: Annotated[int, INTERNAL]
    oldest_open_hours: Annotated[float | None, INTERNAL]
    tasks_done: Annotated[int, INTERNAL]
    risks_closed: Annotated[int, INTERNAL]
    problems_resolved: Annotated[int, INTERNAL]
    knowledge_added: Annotated[int, INTERNAL]
    knowledge_used: Annotated[int, INTERNAL]


class ContributionCell(ProjectBase):
    """One cell of the member × week heatmap."""

    member: Annotated[int, INTERNAL]  # index into ``members``
    week: Annotated[int, INTERNAL]  # index into ``weeks``
    value: Annotated[int, INTERNAL]
    parts: Annotated[dict[str, int], INTERNAL]


class ContributionRead(ProjectBase):
    """Per member contribution over ``weeks`` weeks and the member × week matrix."""

    hive_id: Annotated[int, INTERNAL]
    weeks: Annotated[list[date], INTERNAL]
    members: Annotated[list[MemberContributionRead], INTERNAL]
    matrix: Annotated[list[ContributionCell], INTERNAL]


class OverviewRowRead(ProjectBase):
    """A hive in the manager view."""

    hive_id: Annotated[int, INTERNAL]
    name: Annotated[str, INTERNAL]
    account_id: Annotated[int, INTERNAL]
    status: Annotated[str, INTERNAL]
    health: Annotated[int | None, INTERNAL]
    busy_not_moving: Annotated[bool, INTERNAL]
    promised_date: Annotated[date | None, INTERNAL]
    forecast_finish: Annotated[date | None, INTERNAL]
    trend: Annotated[list[int], INTERNAL]
    delta: Annotated[int | None, INTERNAL]


class RecomputeAllRead(ProjectBase):
    """What a recomputation of every open hive did."""

    hives: Annotated[int, INTERNAL]
    changed: Annotated[int, INTERNAL]
    flagged: Annotated[int, INTERNAL]


class KnowledgeCreate(ProjectBase):
    """A document or an answer added to a hive."""

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=20_000)
    document_id: int | None = None


class KnowledgeRead(ProjectBase):
    """Knowledge in a hive and who (other than the author) used it."""

    id: Annotated[int, INTERNAL]
    hive_id: Annotated[int, INTERNAL]
    title: Annotated[str, INTERNAL]
    body: Annotated[str, INTERNAL]
    document_id: Annotated[int | None, INTERNAL]
    added_by: Annotated[int | None, INTERNAL]
    added_at: Annotated[datetime, RETAINED]
    used_by: Annotated[list[dict[str, Any]], INTERNAL]


_HlMetric = Literal["hive_health", "on_time_delivery"]


class KeyResultCreate(ProjectBase):
    """A key result measured on hives (health target 0–100, on-time target 0–1)."""

    title: str = Field(min_length=1, max_length=300)
    metric: _HlMetric
    target: float = Field(ge=0, le=100, allow_inf_nan=False)
    team_id: int | None = None


class KeyResultRead(ProjectBase):
    """A key result with its live value."""

    id: Annotated[int, INTERNAL]
    objective_id: Annotated[int, INTERNAL]
    title: Annotated[str, INTERNAL]
    metric: Annotated[str, INTERNAL]
    team_id: Annotated[int | None, INTERNAL]
    target: Annotated[float, INTERNAL]
    current: Annotated[float | None, INTERNAL]
    computed_at: Annotated[datetime | None, RETAINED]


class ObjectiveCreate(ProjectBase):
    """A manager's objective for a period (admins may name its owner)."""

    title: str = Field(min_length=1, max_length=300)
    period_start: date
    period_end: date
    owner_id: int | None = None


class ObjectiveRead(ProjectBase):
    """An objective and its key results."""

    id: Annotated[int, INTERNAL]
    owner_id: Annotated[int, INTERNAL]
    title: Annotated[str, INTERNAL]
    period_start: Annotated[date, INTERNAL]
    period_end: Annotated[date, INTERNAL]
    key_results: Annotated[list[KeyResultRead], INTERNAL]
