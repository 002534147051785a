"""Hive I/O shapes, core: hives, members and templates through the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field

from pathcast.schemas import CUSTOMER, INTERNAL, RETAINED, ProjectBase


class HiveMemberIn(ProjectBase):
    """A person to put in a hive and the function they serve."""

    user_id: int = Field(gt=0)
    function: str = Field(min_length=1, max_length=24)


class HiveCreate(ProjectBase):
    """``POST /hives``: a hive for an account, from a template (id, key or name) or empty."""

    account_id: int = Field(gt=0)
    template: int | str | None = None
    name: str | None = Field(default=None, max_length=300)
    opportunity_id: int | None = Field(default=None, gt=0)
    contract_id: int | None = Field(default=None, gt=0)
    product_line: str | None = Field(default=None, max_length=120)
    start_date: date | None = None
    promised_date: date | None = None
    members: list[HiveMemberIn] = Field(default_factory=list, max_length=200)


class HiveUpdate(ProjectBase):
    """``PATCH /hives/{id}``: only the fields sent change (``promised_date: null`` clears it)."""

    name: str | None = Field(default=None, max_length=300)
    promised_date: date | None = None
    status: str | None = None


class HiveMemberRead(ProjectBase):
    """A member of a hive."""

    id: Annotated[int, RETAINED]
    hive_id: Annotated[int, RETAINED]
    user_id: Annotated[int, INTERNAL]
    function: Annotated[str, INTERNAL]
    joined_at: Annotated[datetime, RETAINED]
    name: Annotated[str | None, INTERNAL] = None


class HiveCountsRead(ProjectBase):
    """What a hive holds, counted."""

    members: Annotated[int, INTERNAL] = 0
    tasks: Annotated[int, INTERNAL] = 0
    tasks_done: Annotated[int, INTERNAL] = 0
    milestones: Annotated[int, INTERNAL] = 0
    milestones_done: Annotated[int, INTERNAL] = 0
    open_risks: Annotated[int, INTERNAL] = 0


class HiveRead(ProjectBase):
    """A hive as the list shows it."""

    id: Annotated[int, CUSTOMER]
    name: Annotated[str, CUSTOMER]
    account_id: Annotated[int, CUSTOMER]
    opportunity_id: Annotated[int | None, INTERNAL]
    contract_id: Annotated[int | None, CUSTOMER]
    product_line: Annotated[str | None, CUSTOMER]
    template_id: Annotated[int | None, INTERNAL]
    status: Annotated[str, CUSTOMER]
    start_date: Annotated[date, CUSTOMER]
    promised_date: Annotated[date | None, CUSTOMER]
    forecast_finish: Annotated[date | None, INTERNAL]
    health: Annotated[int | None, INTERNAL]
    busy_not_moving: Annotated[bool, INTERNAL]
    created_by: Annotated[int | None, RETAINED]
    created_at: Annotated[datetime, RETAINED]
    updated_at: Annotated[datetime, RETAINED]
    counts: Annotated[HiveCountsRead, INTERNAL] = Field(default_factory=HiveCountsRead)


class HiveDetailRead(HiveRead):
    """One hive with its members and health components."""

    members: Annotated[list[HiveMemberRead], INTERNAL] = Field(default_factory=list)
    health_components: Annotated[dict[str, Any], INTERNAL] = Field(default_factory=dict)


class TemplateIn(ProjectBase):
    """``POST``/``PUT /hives/templates``: the definition is validated by the service, each
    error naming its JSON path (``definition.milestones.2.depends_on``)."""

    key: str = Field(min_length=1, max_length=60)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    definition: dict[str, Any]


class TemplateRead(ProjectBase):
    """A hive template."""

    id: Annotated[int, RETAINED]
    key: Annotated[str, INTERNAL]
    name_zh: Annotated[str, INTERNAL]
    name_en: Annotated[str, INTERNAL]
    description: Annotated[str, INTERNAL]
    definition: Annotated[dict[str, Any], INTERNAL]
    archived: Annotated[bool, INTERNAL]
    created_at: Annotated[datetime, RETAINED]
    updated_at: Annotated[datetime, RETAINED]
