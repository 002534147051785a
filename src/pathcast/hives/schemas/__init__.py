"""Hive I/O shapes. The template definition is validated here, for the service and the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pathcast.hives.models import FUNCTIONS
from pathcast.hives.schemas.archive import (
    FilingCandidateRead,
    FilingReasonRead,
    FilingResultRead,
    HiveMessageRead,
    MessageFile,
    MessageHitRead,
    MessageMove,
)
from pathcast.hives.schemas.board import (
    BoardRead,
    DecisionCreate,
    DecisionRead,
    DependencyCreate,
    DependencyRead,
    MyTaskRead,
    RequestAnswer,
    RequestCreate,
    RequestRead,
    RiskClose,
    RiskCreate,
    RiskRead,
    RiskUpdate,
    TaskCreate,
    TaskRead,
    TaskUpdate,
    TimelineRead,
    TimelineRow,
)
from pathcast.hives.schemas.capacity import (
    CapacityCalendar,
    CapacityCell,
    CapacityHolder,
    CapacityRow,
    PromiseAllocation,
    PromiseAnswer,
    PromiseBottleneck,
    PromiseExtra,
    PromiseMilestone,
    PromiseMove,
    PromiseRequest,
    ReservationCreate,
    ReservationRead,
    ResourceCreate,
    ResourceRead,
    ResourceUpdate,
)
from pathcast.hives.schemas.core import (
    HiveCountsRead,
    HiveCreate,
    HiveDetailRead,
    HiveMemberIn,
    HiveMemberRead,
    HiveRead,
    HiveUpdate,
    TemplateIn,
    TemplateRead,
)
from pathcast.hives.schemas.health import (
    ContributionCell,
    ContributionRead,
    HealthComponentRead,
    HealthRead,
    KeyResultCreate,
    KeyResultRead,
    KnowledgeCreate,
    KnowledgeRead,
    MemberContributionRead,
    ObjectiveCreate,
    ObjectiveRead,
    OverviewRowRead,
    RecomputeAllRead,
)

__all__ = [
    "KEY_PATTERN",
    "BoardRead",
    "CapacityCalendar",
    "CapacityCell",
    "CapacityHolder",
    "CapacityRow",
    "ChecklistPlan",
    "ContributionCell",
    "ContributionRead",
    "DecisionCreate",
    "DecisionRead",
    "DependencyCreate",
    "DependencyRead",
    "FilingCandidateRead",
    "FilingReasonRead",
    "FilingResultRead",
    "HealthComponentRead",
    "HealthRead",
    "HiveCountsRead",
    "HiveCreate",
    "HiveDetailRead",
    "HiveMemberIn",
    "HiveMemberRead",
    "HiveMessageRead",
    "HiveRead",
    "HiveUpdate",
    "KeyResultCreate",
    "KeyResultRead",
    "KnowledgeCreate",
    "KnowledgeRead",
    "MemberContributionRead",
    "MessageFile",
    "MessageHitRead",
    "MessageMove",
    "MilestonePlan",
    "MyTaskRead",
    "Need",
    "ObjectiveCreate",
    "ObjectiveRead",
    "OverviewRowRead",
    "PromiseAllocation",
    "PromiseAnswer",
    "PromiseBottleneck",
    "PromiseExtra",
    "PromiseMilestone",
    "PromiseMove",
    "PromiseRequest",
    "RecomputeAllRead",
    "RequestAnswer",
    "RequestCreate",
    "RequestRead",
    "ReservationCreate",
    "ReservationRead",
    "ResourceCreate",
    "ResourceRead",
    "ResourceUpdate",
    "RiskClose",
    "RiskCreate",
    "RiskPlan",
    "RiskRead",
    "RiskUpdate",
    "TaskCreate",
    "TaskRead",
    "TaskUpdate",
    "TemplateDefinition",
    "TemplateIn",
    "TemplateRead",
    "TimelineRead",
    "TimelineRow",
    "definition_of",
]

KEY_PATTERN = r"^[a-z0-9_\-]{1,60}$"


class Need(BaseModel):
    """Capacity a milestone needs each week it runs: ``units_per_week`` of a ``skill``."""

    model_config = ConfigDict(extra="forbid")

    skill: str = Field(min_length=1, max_length=80)
    units_per_week: float = Field(gt=0, le=10_000)


class MilestonePlan(BaseModel):
    """A milestone of a template, relative to the hive's start."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=KEY_PATTERN)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    offset_days: int = Field(ge=0, le=3650)
    duration_days: int = Field(ge=0, le=3650)
    depends_on: list[str] = []
    function: str = "delivery"
    needs: list[Need] = []

    @field_validator("function")
    @classmethod
    def _known_function(cls, value: str) -> str:
        if value not in FUNCTIONS:
            raise ValueError(f"one of {', '.join(FUNCTIONS)}")
        return value


class RiskPlan(BaseModel):
    """A risk every hive of the template starts with."""

    model_config = ConfigDict(extra="forbid")

    title_zh: str = Field(min_length=1, max_length=300)
    title_en: str = Field(min_length=1, max_length=300)
    function: str = "delivery"

    @field_validator("function")
    @classmethod
    def _known_function(cls, value: str) -> str:
        if value not in FUNCTIONS:
            raise ValueError(f"one of {', '.join(FUNCTIONS)}")
        return value


class ChecklistPlan(BaseModel):
    """Checklist items under one milestone."""

    model_config = ConfigDict(extra="forbid")

    milestone: str = Field(pattern=KEY_PATTERN)
    items: list[str] = Field(min_length=1)


class TemplateDefinition(BaseModel):
    """What a template defines: milestones (with dependencies), roles, risks, checklists."""

    model_config = ConfigDict(extra="forbid")

    milestones: list[MilestonePlan] = Field(min_length=1, max_length=200)
    roles: list[str] = []
    risks: list[RiskPlan] = []
    checklists: list[ChecklistPlan] = []

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, value: list[str]) -> list[str]:
        unknown = [role for role in value if role not in FUNCTIONS]
        if unknown:
            raise ValueError(f"unknown roles {', '.join(unknown)}; one of {', '.join(FUNCTIONS)}")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _references(self) -> TemplateDefinition:
        keys = [milestone.key for milestone in self.milestones]
        duplicated = sorted({key for key in keys if keys.count(key) > 1})
        if duplicated:
            raise ValueError(f"milestone keys repeat: {', '.join(duplicated)}")
        known = set(keys)
        for milestone in self.milestones:
            missing = [key for key in milestone.depends_on if key not in known or key == milestone.key]
            if missing:
                raise ValueError(
                    f"milestone {milestone.key} depends on unknown milestones {', '.join(missing)}"
                )
        for checklist in self.checklists:
            if checklist.milestone not in known:
                raise ValueError(f"checklist names unknown milestone {checklist.milestone}")
        from pathcast.hives.schedule import CycleError, order

        index = {key: number for number, key in enumerate(keys)}
        try:
            order(
                list(range(len(keys))),
                [(index[m.key], index[d]) for m in self.milestones for d in m.depends_on],
            )
        except CycleError as error:
            raise ValueError(
                f"milestone dependencies form a cycle through {', '.join(keys[i] for i in error.task_ids)}"
            ) from None
        return self


def definition_of(raw: dict[str, Any]) -> TemplateDefinition:
    """A stored definition as the validated model (stored ones were validated on write)."""
    return TemplateDefinition.model_validate(raw)
