"""The rule IR: what a sentence compiles to, what the engine runs, and what is stored.

Typed with Pydantic so that a rule is validated once, at compile time, and the JSON a
manager's sentence becomes is documented (``rule_json_schema``). Version ``"1"``.
Durations are ISO 8601 (``PT48H``, ``P7D``). Field paths are ``entity.field``
(``opportunity.amount``, ``account.tier``); the compiler checks them against the live
schema, the engine resolves them against the record the triggering event concerns.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IR_VERSION: Literal["1"] = "1"

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes and seconds (no months: they vary)."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as PT48H or P7D")
    parts = {key: int(value) for key, value in match.groupdict().items() if value}
    return timedelta(**parts)


def format_duration(value: timedelta) -> str:
    """The canonical ISO 8601 form of a duration (``P7D``, ``PT48H``, ``PT90M``)."""
    seconds = int(value.total_seconds())
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    days, rest = divmod(seconds, 86400)
    if days and not rest:
        return f"P{days}D"
    hours, rest = divmod(seconds, 3600)
    if not rest:
        return f"PT{hours}H"
    minutes, rest = divmod(seconds, 60)
    if not rest:
        return f"PT{minutes}M"
    return f"PT{seconds}S"


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, Field(description="ISO 8601 duration, e.g. PT48H or P7D", examples=["P7D"])]


class IR(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- who: recipients ------------------------------------------------------------------------


class Recipient(IR):
    """A person the rule addresses.

    ``role``: holders of a business position (``implementation_director`` = 实施总监,
    ``sales_vp``, ``regional_manager``, ``csm``…) or of an access role (``manager``).
    ``relation``: someone related to the record: ``owner``, ``account_owner``,
    ``account_csm``, ``owner_manager``. ``user``: one user, by e-mail.
    """

    kind: Literal["role", "relation", "user"]
    value: str = Field(min_length=1, max_length=120)


# --- when: triggers ----------------------------------------------------------------------------


class RecordChangedTrigger(IR):
    type: Literal["record_changed"] = "record_changed"
    entity: str
    field: str
    from_: Any | None = Field(default=None, alias="from")
    to: Any | None = None


class RecordEventTrigger(IR):
    """A business event such as ``opportunity.won``, ``contract.signed``, ``quote.created``."""

    type: Literal["record_event"] = "record_event"
    event: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")


class AssetRef(IR):
    """An asset by key or name ("DSA介入耗材对比表"); the compiler fills both when it knows them."""

    key: str | None = None
    name: str | None = None


class BehaviourTrigger(IR):
    """N qualifying views (or downloads, clicks) of an asset by a contact or an account within a window."""

    type: Literal["behaviour"] = "behaviour"
    subject: Literal["contact", "account"] = "contact"
    event: Literal["view", "download", "click"] = "view"
    asset: AssetRef | None = None
    count_at_least: int = Field(ge=1, le=1000)
    within: Duration
    min_dwell_seconds: int | None = Field(default=None, ge=0, le=86400)

    _within = field_validator("within")(_check_duration)


class MetricTrigger(IR):
    """A computed figure crossing a value: a forecast risk, an inventory turnover."""

    type: Literal["metric"] = "metric"
    entity: str
    metric: str
    op: Literal["gt", "gte", "lt", "lte", "eq", "ne"]
    value: float


class SignalTrigger(IR):
    """A graded external or conversational signal from the radar."""

    type: Literal["signal"] = "signal"
    keyword: str | None = None
    industry: str | None = None
    polarity: Literal["positive", "neutral", "negative"] | None = None
    severity: Literal["P1", "P2", "P3", "P4"] | None = None


class ScheduleTrigger(IR):
    type: Literal["schedule"] = "schedule"
    cron: str = Field(description="Five-field cron: minute hour day-of-month month day-of-week")
    timezone: str = "Asia/Shanghai"


Trigger = Annotated[
    RecordChangedTrigger
    | RecordEventTrigger
    | BehaviourTrigger
    | MetricTrigger
    | SignalTrigger
    | ScheduleTrigger,
    Field(discriminator="type"),
]


# --- if: conditions ------------------------------------------------------------------------------

ConditionOp = Literal[
    "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "is_set", "is_not_set"
]


class Condition(IR):
    """``field op value``; or, with ``connector``, the named external check's mapped result.

    ``预算已批复`` (budget approved) is ``{"connector": "budget_approval", "field":
    "approved", "op": "eq", "value": true}``: the engine calls the admin-configured HTTP
    API with the record's context and reads ``approved`` from its mapped response.
    """

    field: str
    op: ConditionOp
    value: Any | None = None
    connector: str | None = None


# --- wait ---------------------------------------------------------------------------------------


class EventMatch(IR):
    """An event that cancels a wait: its type, and optionally that it concerns the same record."""

    event: str
    same_record: bool = True


class Wait(IR):
    """Pause before the actions; with ``unless``, the run stops if such an event happens meanwhile
    ("no follow-up within 48 h": wait PT48H unless activity.created)."""

    duration: Duration
    unless: list[EventMatch] = []

    _duration = field_validator("duration")(_check_duration)


# --- then: actions ------------------------------------------------------------------------------


class NotifyAction(IR):
    type: Literal["notify"] = "notify"
    recipients: list[Recipient] = Field(min_length=1)
    message: str | None = None
    channels: list[Literal["in_app", "email", "wecom", "dingtalk"]] = ["in_app"]


class CreateTaskAction(IR):
    type: Literal["create_task"] = "create_task"
    assignee: Recipient
    title: str
    due_in: Duration | None = None


class CreateMeetingAction(IR):
    type: Literal["create_meeting"] = "create_meeting"
    title: str
    attendees: list[Recipient] = Field(min_length=1)
    within: Duration | None = Field(default=None, description="Book it within this time from the fire")
    duration_minutes: int = Field(default=60, ge=5, le=1440)


class TagAction(IR):
    type: Literal["tag"] = "tag"
    target: Literal["contact", "account", "opportunity"] = "contact"
    tag: str = Field(min_length=1, max_length=80)


class SetFieldAction(IR):
    type: Literal["set_field"] = "set_field"
    entity: str
    field: str
    value: Any


class PushContentAction(IR):
    """Send content (an asset or document, e.g. "the case pack") to a recipient."""

    type: Literal["push_content"] = "push_content"
    content: str
    to: Recipient


class WebhookAction(IR):
    type: Literal["webhook"] = "webhook"
    url: str | None = None
    connector: str | None = Field(default=None, description="A configured outbound webhook, by name")


class RequireApprovalAction(IR):
    """Route to an approver by a field's value (e.g. account.tier: strategic → sales VP);
    the run waits for the decision and stops on a rejection."""

    type: Literal["require_approval"] = "require_approval"
    subject: str | None = None
    route_by: str = Field(description="Field path whose value picks the approver, e.g. account.tier")
    routes: dict[str, Recipient]
    default: Recipient | None = None


class RequireConfirmationAction(IR):
    type: Literal["require_confirmation"] = "require_confirmation"
    by: Recipient
    note_required: bool = False
    prompt: str | None = None


class AddMemberAction(IR):
    type: Literal["add_member"] = "add_member"
    member: Recipient
    role: str | None = None


class CreateHiveAction(IR):
    type: Literal["create_hive"] = "create_hive"
    template: str
    members: list[Recipient] = []


class GeneratePlanAction(IR):
    type: Literal["generate_plan"] = "generate_plan"
    kind: str


Action = Annotated[
    NotifyAction
    | CreateTaskAction
    | CreateMeetingAction
    | TagAction
    | SetFieldAction
    | PushContentAction
    | WebhookAction
    | RequireApprovalAction
    | RequireConfirmationAction
    | AddMemberAction
    | CreateHiveAction
    | GeneratePlanAction,
    Field(discriminator="type"),
]

# Actions whose package does not exist yet: they compile and validate, and at run time
# record a clear "not available" outcome instead of failing silently. (``create_hive`` and
# ``add_member`` work: the collaboration of an account is its account team and its active hive.)
NOT_YET_AVAILABLE = frozenset({"generate_plan"})


# --- the rule -----------------------------------------------------------------------------------


class Source(IR):
    text: str
    lang: Literal["zh", "en"]


class RuleIR(IR):
    """trigger → conditions → (wait) → actions."""

    version: Literal["1"] = IR_VERSION
    trigger: Trigger
    conditions: list[Condition] = []
    wait: Wait | None = None
    actions: list[Action] = Field(min_length=1)
    source: Source | None = None


def rule_json_schema() -> dict[str, Any]:
    """The JSON Schema of the rule IR (served at ``GET /api/v1/rules/schema``)."""
    return RuleIR.model_json_schema(by_alias=True)
