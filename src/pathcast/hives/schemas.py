"""Hive I/O shapes. The template definition is validated here, for the service and the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pathcast.hives.models import FUNCTIONS

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


# --- core: hives, members and templates through the API -------------------------------------
# (imported here so each part's section stays self-contained; see the shared brief)
from datetime import date as _Date  # noqa: E402
from datetime import datetime as _DateTime  # noqa: E402
from typing import Annotated as _Annotated  # noqa: E402

from pathcast.schemas import CUSTOMER as _CUSTOMER  # noqa: E402
from pathcast.schemas import INTERNAL as _INTERNAL  # noqa: E402
from pathcast.schemas import RETAINED as _RETAINED  # noqa: E402
from pathcast.schemas import ProjectBase as _ProjectBase  # noqa: E402


class HiveMemberIn(_ProjectBase):
    """A person to put in a hive and the function they serve."""

    user_id: int = Field(gt=0)
    function: str = Field(min_length=1, max_length=24)


class HiveCreate(_ProjectBase):
    """``POST /hives``: a hive for an account, from a template (id, key or name) or empty."""

    account_id: int = Field(gt=0)
    template: int | str | None = None
    name: str | None = Field(default=None, max_length=300)
    opportunity_id: int | None = Field(default=None, gt=0)
    contract_id: int | None = Field(default=None, gt=0)
    product_line: str | None = Field(default=None, max_length=120)
    start_date: _Date | None = None
    promised_date: _Date | None = None
    members: list[HiveMemberIn] = Field(default_factory=list, max_length=200)


class HiveUpdate(_ProjectBase):
    """``PATCH /hives/{id}``: only the fields sent change (``promised_date: null`` clears it)."""

    name: str | None = Field(default=None, max_length=300)
    promised_date: _Date | None = None
    status: str | None = None


class HiveMemberRead(_ProjectBase):
    """A member of a hive."""

    id: _Annotated[int, _RETAINED]
    hive_id: _Annotated[int, _RETAINED]
    user_id: _Annotated[int, _INTERNAL]
    function: _Annotated[str, _INTERNAL]
    joined_at: _Annotated[_DateTime, _RETAINED]
    name: _Annotated[str | None, _INTERNAL] = None


class HiveCountsRead(_ProjectBase):
    """What a hive holds, counted."""

    members: _Annotated[int, _INTERNAL] = 0
    tasks: _Annotated[int, _INTERNAL] = 0
    tasks_done: _Annotated[int, _INTERNAL] = 0
    milestones: _Annotated[int, _INTERNAL] = 0
    milestones_done: _Annotated[int, _INTERNAL] = 0
    open_risks: _Annotated[int, _INTERNAL] = 0


class HiveRead(_ProjectBase):
    """A hive as the list shows it."""

    id: _Annotated[int, _CUSTOMER]
    name: _Annotated[str, _CUSTOMER]
    account_id: _Annotated[int, _CUSTOMER]
    opportunity_id: _Annotated[int | None, _INTERNAL]
    contract_id: _Annotated[int | None, _CUSTOMER]
    product_line: _Annotated[str | None, _CUSTOMER]
    template_id: _Annotated[int | None, _INTERNAL]
    status: _Annotated[str, _CUSTOMER]
    start_date: _Annotated[_Date, _CUSTOMER]
    promised_date: _Annotated[_Date | None, _CUSTOMER]
    forecast_finish: _Annotated[_Date | None, _INTERNAL]
    health: _Annotated[int | None, _INTERNAL]
    busy_not_moving: _Annotated[bool, _INTERNAL]
    created_by: _Annotated[int | None, _RETAINED]
    created_at: _Annotated[_DateTime, _RETAINED]
    updated_at: _Annotated[_DateTime, _RETAINED]
    counts: _Annotated[HiveCountsRead, _INTERNAL] = Field(default_factory=HiveCountsRead)


class HiveDetailRead(HiveRead):
    """One hive with its members and health components."""

    members: _Annotated[list[HiveMemberRead], _INTERNAL] = Field(default_factory=list)
    health_components: _Annotated[dict[str, Any], _INTERNAL] = Field(default_factory=dict)


class TemplateIn(_ProjectBase):
    """``POST``/``PUT /hives/templates``: the definition is validated by the service, each
    error naming its JSON path (``definition.milestones.2.depends_on``)."""

    key: str = Field(min_length=1, max_length=60)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    definition: dict[str, Any]


class TemplateRead(_ProjectBase):
    """A hive template."""

    id: _Annotated[int, _RETAINED]
    key: _Annotated[str, _INTERNAL]
    name_zh: _Annotated[str, _INTERNAL]
    name_en: _Annotated[str, _INTERNAL]
    description: _Annotated[str, _INTERNAL]
    definition: _Annotated[dict[str, Any], _INTERNAL]
    archived: _Annotated[bool, _INTERNAL]
    created_at: _Annotated[_DateTime, _RETAINED]
    updated_at: _Annotated[_DateTime, _RETAINED]


# --- archive: the message archive (filing, moving, search) -----------------------------------
from datetime import datetime as _ArMoment  # noqa: E402
from typing import Annotated as _ArA  # noqa: E402

from pathcast.schemas import INTERNAL as _AR_INTERNAL  # noqa: E402
from pathcast.schemas import RETAINED as _AR_RETAINED  # noqa: E402
from pathcast.schemas import ProjectBase as _ArBase  # noqa: E402


class FilingReasonRead(_ArBase):
    """Why a message was filed where it is: one kind of evidence and its weight."""

    kind: _ArA[str, _AR_INTERNAL]
    weight: _ArA[float, _AR_INTERNAL]
    en: _ArA[str, _AR_INTERNAL]
    zh: _ArA[str, _AR_INTERNAL]


class HiveMessageRead(_ArBase):
    """A message filed into a hive, with why it was filed there."""

    id: _ArA[int, _AR_RETAINED]
    hive_id: _ArA[int, _AR_RETAINED]
    activity_id: _ArA[int | None, _AR_RETAINED]
    channel: _ArA[str, _AR_INTERNAL]
    thread: _ArA[str | None, _AR_INTERNAL]
    subject: _ArA[str, _AR_INTERNAL]
    sender: _ArA[str, _AR_INTERNAL]
    participants: _ArA[list[str], _AR_INTERNAL]
    body: _ArA[str, _AR_INTERNAL]
    attachments: _ArA[list[dict[str, Any]], _AR_INTERNAL]
    sent_at: _ArA[_ArMoment, _AR_INTERNAL]
    reasons: _ArA[list[FilingReasonRead], _AR_INTERNAL]
    score: _ArA[float, _AR_INTERNAL]
    filed_by: _ArA[str, _AR_INTERNAL]
    filed_at: _ArA[_ArMoment, _AR_RETAINED]


class MessageHitRead(_ArBase):
    """A search hit: the message and a snippet around the first matched word."""

    message: _ArA[HiveMessageRead, _AR_INTERNAL]
    hive_name: _ArA[str, _AR_INTERNAL]
    snippet: _ArA[str, _AR_INTERNAL]


class FilingCandidateRead(_ArBase):
    """A hive the filer weighed, and its score."""

    hive_id: _ArA[int, _AR_INTERNAL]
    score: _ArA[float, _AR_INTERNAL]


class FilingResultRead(_ArBase):
    """What the filer did with a message: filed (where, with which score and reasons) or not
    (``outcome`` says why: below the threshold, no open hive, nothing to file)."""

    filed: _ArA[bool, _AR_INTERNAL]
    outcome: _ArA[str, _AR_INTERNAL]
    message_id: _ArA[int | None, _AR_RETAINED] = None
    hive_id: _ArA[int | None, _AR_INTERNAL] = None
    score: _ArA[float, _AR_INTERNAL] = 0.0
    threshold: _ArA[float, _AR_INTERNAL] = 0.0
    reasons: _ArA[list[FilingReasonRead], _AR_INTERNAL] = Field(default_factory=list)
    candidates: _ArA[list[FilingCandidateRead], _AR_INTERNAL] = Field(default_factory=list)


class MessageMove(_ArBase):
    """``POST /hives/messages/{id}/move``: the hive the message belongs in."""

    to_hive_id: int = Field(gt=0)


class MessageFile(_ArBase):
    """``POST /hives/messages/file`` (admins): file an existing crm message activity."""

    activity_id: int = Field(gt=0)


# --- board: tasks, dependencies, schedule views, risks, decisions, requests ---------------------
from datetime import date as _BdDay  # noqa: E402
from datetime import datetime as _BdMoment  # noqa: E402
from typing import Annotated as _BdA  # noqa: E402
from typing import Literal as _BdLiteral  # noqa: E402

from pathcast.schemas import CUSTOMER as _BD_CUSTOMER  # noqa: E402
from pathcast.schemas import INTERNAL as _BD_INTERNAL  # noqa: E402
from pathcast.schemas import RETAINED as _BD_RETAINED  # noqa: E402
from pathcast.schemas import ProjectBase as _BdBase  # noqa: E402

_BdTaskKind = _BdLiteral["milestone", "task", "check"]
_BdTaskStatus = _BdLiteral["todo", "doing", "blocked", "done"]


class TaskCreate(_BdBase):
    """``POST /hives/{hive_id}/tasks``: a task, milestone or checklist item on the board."""

    name: str = Field(min_length=1, max_length=300)
    planned_start: _BdDay
    duration_days: int = Field(ge=0, le=3650)
    due_date: _BdDay | None = None
    kind: _BdTaskKind = "task"
    owner_id: int | None = None
    function: str | None = None
    parent_id: int | None = None
    depends_on: list[int] = Field(default_factory=list, max_length=200)


class TaskUpdate(_BdBase):
    """``PATCH /hives/tasks/{task_id}``: only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=300)
    owner_id: int | None = None
    function: str | None = None
    planned_start: _BdDay | None = None
    duration_days: int | None = Field(default=None, ge=0, le=3650)
    due_date: _BdDay | None = None
    status: _BdTaskStatus | None = None


class DependencyCreate(_BdBase):
    """``POST /hives/tasks/{task_id}/dependencies``: the task waits for ``depends_on``."""

    depends_on: int


class DependencyRead(_BdBase):
    """``task_id`` cannot start before ``depends_on`` finishes."""

    task_id: _BdA[int, _BD_INTERNAL]
    depends_on: _BdA[int, _BD_INTERNAL]


class TaskRead(_BdBase):
    """A task with its plan and its forecast (slack, critical, days late)."""

    id: _BdA[int, _BD_CUSTOMER]
    hive_id: _BdA[int, _BD_INTERNAL]
    parent_id: _BdA[int | None, _BD_INTERNAL]
    kind: _BdA[str, _BD_CUSTOMER]
    key: _BdA[str | None, _BD_INTERNAL]
    name: _BdA[str, _BD_CUSTOMER]
    function: _BdA[str | None, _BD_INTERNAL]
    owner_id: _BdA[int | None, _BD_INTERNAL]
    owner_name: _BdA[str | None, _BD_INTERNAL] = None
    status: _BdA[str, _BD_CUSTOMER]
    planned_start: _BdA[_BdDay, _BD_CUSTOMER]
    duration_days: _BdA[int, _BD_CUSTOMER]
    due_date: _BdA[_BdDay, _BD_CUSTOMER]
    started_at: _BdA[_BdMoment | None, _BD_INTERNAL]
    done_at: _BdA[_BdMoment | None, _BD_INTERNAL]
    forecast_start: _BdA[_BdDay | None, _BD_INTERNAL]
    forecast_finish: _BdA[_BdDay | None, _BD_INTERNAL]
    slack_days: _BdA[int | None, _BD_INTERNAL]
    critical: _BdA[bool, _BD_INTERNAL]
    late_days: _BdA[int, _BD_INTERNAL] = 0
    depends_on: _BdA[list[int], _BD_INTERNAL] = Field(default_factory=list)


class BoardRead(_BdBase):
    """``GET /hives/{hive_id}/board``: every task with its forecast, and the dependencies."""

    hive_id: _BdA[int, _BD_INTERNAL]
    name: _BdA[str, _BD_INTERNAL]
    today: _BdA[_BdDay, _BD_INTERNAL]
    promised_date: _BdA[_BdDay | None, _BD_INTERNAL]
    forecast_finish: _BdA[_BdDay | None, _BD_INTERNAL]
    late_days: _BdA[int, _BD_INTERNAL]
    critical_path: _BdA[list[int], _BD_INTERNAL]
    tasks: _BdA[list[TaskRead], _BD_INTERNAL]
    dependencies: _BdA[list[DependencyRead], _BD_INTERNAL]


class TimelineRow(_BdBase):
    """One Gantt row: planned and forecast bars."""

    id: _BdA[int, _BD_INTERNAL]
    name: _BdA[str, _BD_INTERNAL]
    kind: _BdA[str, _BD_INTERNAL]
    status: _BdA[str, _BD_INTERNAL]
    parent_id: _BdA[int | None, _BD_INTERNAL]
    owner_name: _BdA[str | None, _BD_INTERNAL] = None
    planned_start: _BdA[_BdDay, _BD_INTERNAL]
    planned_finish: _BdA[_BdDay, _BD_INTERNAL]
    forecast_start: _BdA[_BdDay, _BD_INTERNAL]
    forecast_finish: _BdA[_BdDay, _BD_INTERNAL]
    due_date: _BdA[_BdDay, _BD_INTERNAL]
    slack_days: _BdA[int, _BD_INTERNAL]
    critical: _BdA[bool, _BD_INTERNAL]
    late_days: _BdA[int, _BD_INTERNAL]


class TimelineRead(_BdBase):
    """``GET /hives/{hive_id}/timeline``: Gantt rows, dependency links, today and the promise."""

    hive_id: _BdA[int, _BD_INTERNAL]
    today: _BdA[_BdDay, _BD_INTERNAL]
    start_date: _BdA[_BdDay, _BD_INTERNAL]
    promised_date: _BdA[_BdDay | None, _BD_INTERNAL]
    forecast_finish: _BdA[_BdDay | None, _BD_INTERNAL]
    late_days: _BdA[int, _BD_INTERNAL]
    critical_path: _BdA[list[int], _BD_INTERNAL]
    rows: _BdA[list[TimelineRow], _BD_INTERNAL]
    links: _BdA[list[DependencyRead], _BD_INTERNAL]


class MyTaskRead(TaskRead):
    """``GET /hives/my-tasks``: one of my tasks, with its hive."""

    hive_name: _BdA[str, _BD_INTERNAL]


class RiskCreate(_BdBase):
    """``POST /hives/{hive_id}/risks``."""

    title: str = Field(min_length=1, max_length=300)
    function: str
    detail: str = Field(default="", max_length=5000)
    owner_id: int | None = None


class RiskUpdate(_BdBase):
    """``PATCH /hives/risks/{risk_id}``: only the fields given change."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    function: str | None = None
    detail: str | None = Field(default=None, max_length=5000)
    owner_id: int | None = None


class RiskClose(_BdBase):
    """``POST /hives/risks/{risk_id}/close``."""

    note: str = Field(default="", max_length=5000)


class RiskRead(_BdBase):
    """A risk of the job and who owns it."""

    id: _BdA[int, _BD_INTERNAL]
    hive_id: _BdA[int, _BD_INTERNAL]
    title: _BdA[str, _BD_INTERNAL]
    detail: _BdA[str, _BD_INTERNAL]
    function: _BdA[str, _BD_INTERNAL]
    owner_id: _BdA[int | None, _BD_INTERNAL]
    status: _BdA[str, _BD_INTERNAL]
    source: _BdA[str, _BD_INTERNAL]
    opened_at: _BdA[_BdMoment, _BD_RETAINED]
    closed_at: _BdA[_BdMoment | None, _BD_RETAINED]
    closed_by: _BdA[int | None, _BD_RETAINED]


class DecisionCreate(_BdBase):
    """``POST /hives/{hive_id}/decisions``."""

    text: str = Field(min_length=1, max_length=5000)


class DecisionRead(_BdBase):
    """A decision recorded in the hive."""

    id: _BdA[int, _BD_INTERNAL]
    hive_id: _BdA[int, _BD_INTERNAL]
    text: _BdA[str, _BD_INTERNAL]
    decided_by: _BdA[int | None, _BD_RETAINED]
    decided_at: _BdA[_BdMoment, _BD_RETAINED]


class RequestCreate(_BdBase):
    """``POST /hives/{hive_id}/requests``: ask one member."""

    to_user_id: int
    text: str = Field(min_length=1, max_length=5000)


class RequestAnswer(_BdBase):
    """``POST /hives/requests/{request_id}/answer`` (only the addressee)."""

    text: str = Field(min_length=1, max_length=5000)


class RequestRead(_BdBase):
    """A request addressed to one member, and its answer."""

    id: _BdA[int, _BD_INTERNAL]
    hive_id: _BdA[int, _BD_INTERNAL]
    from_user_id: _BdA[int | None, _BD_INTERNAL]
    to_user_id: _BdA[int, _BD_INTERNAL]
    text: _BdA[str, _BD_INTERNAL]
    answer: _BdA[str | None, _BD_INTERNAL]
    asked_at: _BdA[_BdMoment, _BD_RETAINED]
    answered_at: _BdA[_BdMoment | None, _BD_RETAINED]


# --- capacity: resources, reservations, the calendar and the promise check ---------------------
from datetime import date as _CpDay  # noqa: E402
from datetime import datetime as _CpMoment  # noqa: E402
from typing import Annotated as _CpA  # noqa: E402
from typing import Literal as _CpLiteral  # noqa: E402

from pathcast.schemas import INTERNAL as _CP_INTERNAL  # noqa: E402
from pathcast.schemas import RETAINED as _CP_RETAINED  # noqa: E402
from pathcast.schemas import ProjectBase as _CpBase  # noqa: E402

_CpUnits = _CpA[float, Field(ge=0, le=100_000, allow_inf_nan=False)]
_CpHolder = _CpLiteral["hive", "deal", "other"]


class ResourceCreate(_CpBase):
    """``POST /hives/resources``: a line, a team or a person with a skill."""

    name: str = Field(min_length=1, max_length=200)
    kind: _CpLiteral["line", "team", "person"]
    skill: str = Field(min_length=1, max_length=80)
    capacity_per_week: _CpUnits
    user_id: int | None = None
    active: bool = True


class ResourceUpdate(_CpBase):
    """``PATCH /hives/resources/{id}``: only the fields given change."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: _CpLiteral["line", "team", "person"] | None = None
    skill: str | None = Field(default=None, min_length=1, max_length=80)
    capacity_per_week: _CpUnits | None = None
    user_id: int | None = None
    active: bool | None = None


class ResourceRead(_CpBase):
    """A resource and its weekly capacity."""

    id: _CpA[int, _CP_INTERNAL]
    name: _CpA[str, _CP_INTERNAL]
    kind: _CpA[str, _CP_INTERNAL]
    skill: _CpA[str, _CP_INTERNAL]
    capacity_per_week: _CpA[float, _CP_INTERNAL]
    user_id: _CpA[int | None, _CP_INTERNAL]
    active: _CpA[bool, _CP_INTERNAL]
    created_at: _CpA[_CpMoment, _CP_RETAINED]
    updated_at: _CpA[_CpMoment, _CP_RETAINED]


class ReservationCreate(_CpBase):
    """``POST /hives/reservations``: units of a resource for one week (its Monday is kept),
    for a hive, an open deal, or other work (neither)."""

    resource_id: int
    week_start: _CpDay
    units: float = Field(gt=0, le=100_000, allow_inf_nan=False)
    hive_id: int | None = None
    opportunity_id: int | None = None
    note: str = Field(default="", max_length=300)


class ReservationRead(_CpBase):
    """A booking, and who holds it (a deal the viewer may not read shows no id or name)."""

    id: _CpA[int, _CP_INTERNAL]
    resource_id: _CpA[int, _CP_INTERNAL]
    resource_name: _CpA[str, _CP_INTERNAL]
    week_start: _CpA[_CpDay, _CP_INTERNAL]
    units: _CpA[float, _CP_INTERNAL]
    note: _CpA[str, _CP_INTERNAL]
    hive_id: _CpA[int | None, _CP_INTERNAL]
    opportunity_id: _CpA[int | None, _CP_INTERNAL]
    holder: _CpA[_CpHolder, _CP_INTERNAL]
    holder_label: _CpA[str, _CP_INTERNAL]
    created_at: _CpA[_CpMoment, _CP_RETAINED]
    created_by: _CpA[int | None, _CP_RETAINED]


class CapacityHolder(_CpBase):
    """Who booked units of a week (a hidden deal is "a deal", without id)."""

    holder: _CpA[_CpHolder, _CP_INTERNAL]
    holder_id: _CpA[int | None, _CP_INTERNAL]
    label: _CpA[str, _CP_INTERNAL]
    units: _CpA[float, _CP_INTERNAL]
    resource_id: _CpA[int, _CP_INTERNAL]
    reservation_id: _CpA[int, _CP_INTERNAL]


class CapacityCell(_CpBase):
    """One resource in one week: capacity, booked, free and by whom."""

    week_start: _CpA[_CpDay, _CP_INTERNAL]
    capacity: _CpA[float, _CP_INTERNAL]
    booked: _CpA[float, _CP_INTERNAL]
    free: _CpA[float, _CP_INTERNAL]
    holders: _CpA[list[CapacityHolder], _CP_INTERNAL]


class CapacityRow(_CpBase):
    """A resource and its weeks."""

    resource: _CpA[ResourceRead, _CP_INTERNAL]
    cells: _CpA[list[CapacityCell], _CP_INTERNAL]


class CapacityCalendar(_CpBase):
    """``GET /hives/capacity``: resources × weeks."""

    weeks: _CpA[list[_CpDay], _CP_INTERNAL]
    rows: _CpA[list[CapacityRow], _CP_INTERNAL]


class PromiseRequest(_CpBase):
    """``POST /hives/promise``: what can we promise on this open deal?"""

    opportunity_id: int
    template: str | int = "line_upgrade"
    requested_date: _CpDay | None = None
    start_date: _CpDay | None = None


class PromiseAllocation(_CpBase):
    """Units of a resource a milestone would take in a week."""

    resource_id: _CpA[int, _CP_INTERNAL]
    resource_name: _CpA[str, _CP_INTERNAL]
    week_start: _CpA[_CpDay, _CP_INTERNAL]
    units: _CpA[float, _CP_INTERNAL]


class PromiseMilestone(_CpBase):
    """Where a milestone lands and how far capacity pushed it."""

    key: _CpA[str, _CP_INTERNAL]
    name: _CpA[str, _CP_INTERNAL]
    start: _CpA[_CpDay, _CP_INTERNAL]
    finish: _CpA[_CpDay, _CP_INTERNAL]
    earliest_start: _CpA[_CpDay, _CP_INTERNAL]
    pushed_days: _CpA[int, _CP_INTERNAL]
    allocations: _CpA[list[PromiseAllocation], _CP_INTERNAL]


class PromiseBottleneck(_CpBase):
    """The milestone and skill whose capacity pushed the date most, the full weeks, by whom."""

    milestone: _CpA[str, _CP_INTERNAL]
    name: _CpA[str, _CP_INTERNAL]
    skill: _CpA[str, _CP_INTERNAL]
    pushed_days: _CpA[int, _CP_INTERNAL]
    weeks: _CpA[list[_CpDay], _CP_INTERNAL]
    holders: _CpA[list[CapacityHolder], _CP_INTERNAL]


class PromiseMove(_CpBase):
    """A booking that would have to be released or moved for the requested date."""

    reservation_id: _CpA[int, _CP_INTERNAL]
    resource_id: _CpA[int, _CP_INTERNAL]
    resource_name: _CpA[str, _CP_INTERNAL]
    week_start: _CpA[_CpDay, _CP_INTERNAL]
    units: _CpA[float, _CP_INTERNAL]
    booked: _CpA[float, _CP_INTERNAL]
    holder: _CpA[_CpHolder, _CP_INTERNAL]
    holder_id: _CpA[int | None, _CP_INTERNAL]
    label: _CpA[str, _CP_INTERNAL]


class PromiseExtra(_CpBase):
    """Capacity of a skill missing in a week even if every booking there moved."""

    skill: _CpA[str, _CP_INTERNAL]
    week_start: _CpA[_CpDay, _CP_INTERNAL]
    units: _CpA[float, _CP_INTERNAL]


class PromiseAnswer(_CpBase):
    """The promise check's answer (also the payload of ``hive.promise_checked``)."""

    opportunity_id: _CpA[int, _CP_INTERNAL]
    template: _CpA[str, _CP_INTERNAL]
    start_date: _CpA[_CpDay, _CP_INTERNAL]
    earliest_date: _CpA[_CpDay | None, _CP_INTERNAL]
    unconstrained_date: _CpA[_CpDay, _CP_INTERNAL]
    requested_date: _CpA[_CpDay | None, _CP_INTERNAL]
    meets_request: _CpA[bool | None, _CP_INTERNAL]
    requested_too_early: _CpA[bool, _CP_INTERNAL]
    horizon_weeks: _CpA[int, _CP_INTERNAL]
    infeasible_milestone: _CpA[str | None, _CP_INTERNAL]
    infeasible_skill: _CpA[str | None, _CP_INTERNAL]
    milestones: _CpA[list[PromiseMilestone], _CP_INTERNAL]
    bottleneck: _CpA[PromiseBottleneck | None, _CP_INTERNAL]
    moves: _CpA[list[PromiseMove], _CP_INTERNAL]
    extra_capacity: _CpA[list[PromiseExtra], _CP_INTERNAL]
    checked_at: _CpA[_CpMoment, _CP_RETAINED]


# --- health: contribution, hive health, OKRs --------------------------------------------------
from datetime import date as _HlDay  # noqa: E402
from datetime import datetime as _HlMoment  # noqa: E402
from typing import Annotated as _HlA  # noqa: E402
from typing import Literal as _HlLiteral  # noqa: E402

from pathcast.schemas import INTERNAL as _HL_INTERNAL  # noqa: E402
from pathcast.schemas import RETAINED as _HL_RETAINED  # noqa: E402
from pathcast.schemas import ProjectBase as _HlBase  # noqa: E402


class HealthComponentRead(_HlBase):
    """One component of a hive's health: 0–1, its weight, the numbers and the words."""

    value: _HlA[float, _HL_INTERNAL]
    weight: _HlA[float, _HL_INTERNAL]
    numbers: _HlA[dict[str, Any], _HL_INTERNAL]
    zh: _HlA[str, _HL_INTERNAL]
    en: _HlA[str, _HL_INTERNAL]


class HealthRead(_HlBase):
    """A hive's health 0–100 with its components and the busy-not-moving flag."""

    hive_id: _HlA[int, _HL_INTERNAL]
    name: _HlA[str, _HL_INTERNAL]
    status: _HlA[str, _HL_INTERNAL]
    health: _HlA[int | None, _HL_INTERNAL]
    health_at: _HlA[_HlMoment | None, _HL_RETAINED]
    busy_not_moving: _HlA[bool, _HL_INTERNAL]
    components: _HlA[dict[str, HealthComponentRead], _HL_INTERNAL]
    activity: _HlA[dict[str, int], _HL_INTERNAL]
    weights: _HlA[dict[str, float], _HL_INTERNAL]


class MemberContributionRead(_HlBase):
    """What one member did in the window (no messages, check-ins or logins)."""

    user_id: _HlA[int, _HL_INTERNAL]
    function: _HlA[str, _HL_INTERNAL]
    requests: _HlA[int, _HL_INTERNAL]
    answered: _HlA[int, _HL_INTERNAL]
    median_response_hours: _HlA[float | None, _HL_INTERNAL]
    open_requests: _HlA[int, _HL_INTERNAL]
    oldest_open_hours: _HlA[float | None, _HL_INTERNAL]
    tasks_done: _HlA[int, _HL_INTERNAL]
    risks_closed: _HlA[int, _HL_INTERNAL]
    problems_resolved: _HlA[int, _HL_INTERNAL]
    knowledge_added: _HlA[int, _HL_INTERNAL]
    knowledge_used: _HlA[int, _HL_INTERNAL]


class ContributionCell(_HlBase):
    """One cell of the member × week heatmap."""

    member: _HlA[int, _HL_INTERNAL]  # index into ``members``
    week: _HlA[int, _HL_INTERNAL]  # index into ``weeks``
    value: _HlA[int, _HL_INTERNAL]
    parts: _HlA[dict[str, int], _HL_INTERNAL]


class ContributionRead(_HlBase):
    """Per member contribution over ``weeks`` weeks and the member × week matrix."""

    hive_id: _HlA[int, _HL_INTERNAL]
    weeks: _HlA[list[_HlDay], _HL_INTERNAL]
    members: _HlA[list[MemberContributionRead], _HL_INTERNAL]
    matrix: _HlA[list[ContributionCell], _HL_INTERNAL]


class OverviewRowRead(_HlBase):
    """A hive in the manager view."""

    hive_id: _HlA[int, _HL_INTERNAL]
    name: _HlA[str, _HL_INTERNAL]
    account_id: _HlA[int, _HL_INTERNAL]
    status: _HlA[str, _HL_INTERNAL]
    health: _HlA[int | None, _HL_INTERNAL]
    busy_not_moving: _HlA[bool, _HL_INTERNAL]
    promised_date: _HlA[_HlDay | None, _HL_INTERNAL]
    forecast_finish: _HlA[_HlDay | None, _HL_INTERNAL]
    trend: _HlA[list[int], _HL_INTERNAL]
    delta: _HlA[int | None, _HL_INTERNAL]


class RecomputeAllRead(_HlBase):
    """What a recomputation of every open hive did."""

    hives: _HlA[int, _HL_INTERNAL]
    changed: _HlA[int, _HL_INTERNAL]
    flagged: _HlA[int, _HL_INTERNAL]


class KnowledgeCreate(_HlBase):
    """A document or an answer added to a hive."""

    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=20_000)
    document_id: int | None = None


class KnowledgeRead(_HlBase):
    """Knowledge in a hive and who (other than the author) used it."""

    id: _HlA[int, _HL_INTERNAL]
    hive_id: _HlA[int, _HL_INTERNAL]
    title: _HlA[str, _HL_INTERNAL]
    body: _HlA[str, _HL_INTERNAL]
    document_id: _HlA[int | None, _HL_INTERNAL]
    added_by: _HlA[int | None, _HL_INTERNAL]
    added_at: _HlA[_HlMoment, _HL_RETAINED]
    used_by: _HlA[list[dict[str, Any]], _HL_INTERNAL]


_HlMetric = _HlLiteral["hive_health", "on_time_delivery"]


class KeyResultCreate(_HlBase):
    """A key result measured on hives (health target 0–100, on-time target 0–1)."""

    title: str = Field(min_length=1, max_length=300)
    metric: _HlMetric
    target: float = Field(ge=0, le=100, allow_inf_nan=False)
    team_id: int | None = None


class KeyResultRead(_HlBase):
    """A key result with its live value."""

    id: _HlA[int, _HL_INTERNAL]
    objective_id: _HlA[int, _HL_INTERNAL]
    title: _HlA[str, _HL_INTERNAL]
    metric: _HlA[str, _HL_INTERNAL]
    team_id: _HlA[int | None, _HL_INTERNAL]
    target: _HlA[float, _HL_INTERNAL]
    current: _HlA[float | None, _HL_INTERNAL]
    computed_at: _HlA[_HlMoment | None, _HL_RETAINED]


class ObjectiveCreate(_HlBase):
    """A manager's objective for a period (admins may name its owner)."""

    title: str = Field(min_length=1, max_length=300)
    period_start: _HlDay
    period_end: _HlDay
    owner_id: int | None = None


class ObjectiveRead(_HlBase):
    """An objective and its key results."""

    id: _HlA[int, _HL_INTERNAL]
    owner_id: _HlA[int, _HL_INTERNAL]
    title: _HlA[str, _HL_INTERNAL]
    period_start: _HlA[_HlDay, _HL_INTERNAL]
    period_end: _HlA[_HlDay, _HL_INTERNAL]
    key_results: _HlA[list[KeyResultRead], _HL_INTERNAL]
