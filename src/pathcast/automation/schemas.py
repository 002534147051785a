"""Automation API I/O: compile, rules and their versions, dry-runs, runs, the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from pathcast.schemas import ProjectBase

Lang = Literal["zh", "en"]


class CompileRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    lang: Lang = "zh"


class Readback(BaseModel):
    zh: str
    en: str


class CompileResponse(BaseModel):
    """What the system understood: the IR and a plain restatement in both languages."""

    ir: dict[str, Any]
    readback: Readback
    warnings: list[str] = []


class RuleCreate(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1, max_length=2000)
    lang: Lang = "zh"
    scope: Literal["all", "team", "region"] = "all"
    scope_value: str | None = Field(default=None, max_length=120)
    enable: bool = False


class RuleUpdate(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    lang: Lang = "zh"


class RuleVersionRead(ProjectBase):
    version: int
    text: str
    lang: str
    ir: dict[str, Any]
    readback_zh: str
    readback_en: str
    created_at: datetime
    created_by: str


class RuleRead(ProjectBase):
    id: int
    name: str
    owner_id: int | None
    scope: str
    scope_value: str | None
    is_enabled: bool
    current_version: int
    created_at: datetime
    updated_at: datetime


class RuleDetail(BaseModel):
    rule: RuleRead
    version: RuleVersionRead
    run_counts: dict[str, int] = {}


class DryRunRequest(BaseModel):
    since: datetime
    until: datetime
    limit: int = Field(default=200, ge=1, le=2000)


class StepRead(ProjectBase):
    id: int
    position: int
    kind: str
    status: str
    attempts: int
    outcome: dict[str, Any]
    last_error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunRead(ProjectBase):
    id: int
    rule_id: int
    rule_version: int
    status: str
    reason: str
    subject_entity: str | None
    subject_id: str | None
    trigger_event_id: int | None
    fired_at: datetime
    finished_at: datetime | None
    next_attempt_at: datetime | None


class RunDetail(BaseModel):
    run: RunRead
    steps: list[StepRead]


class InboxItemRead(ProjectBase):
    id: int
    kind: str
    status: str
    run_id: int
    assignee_id: int | None
    routed_by: str | None
    title: str
    detail: dict[str, Any]
    note_required: bool
    decided_by_id: int | None
    decided_at: datetime | None
    note: str | None
    created_at: datetime


class DecisionRequest(BaseModel):
    decision: Literal["approve", "reject", "confirm", "decline"]
    note: str | None = Field(default=None, max_length=2000)


class NotificationRead(ProjectBase):
    id: int
    title: str
    body: str | None
    link: str | None
    run_id: int | None
    created_at: datetime
    read_at: datetime | None
