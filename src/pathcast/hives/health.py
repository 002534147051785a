"""Hive health and member contribution, computed from plain facts (pure, no database).

**Health** is 0–100, the weighted sum of four components, each 0–1 (higher is better):

============  ======  ================================================================
component     weight  what it measures
============  ======  ================================================================
response      0.25    1 − the share of cross-functional requests (asker and addressee
                      serve different functions) answered later than 24 h or still
                      open past 24 h, over the last 30 days and every open request
sync          0.25    information-sync completeness: 0.8 × the share of milestones
                      with an owner *and* a current status (an overdue milestone still
                      "todo" is not current) + 0.2 if a decision was recorded in the
                      last 14 days
risk          0.20    risk-sharing coverage: the share of open risks owned by a member
                      serving the risk's function (no open risk: 1)
schedule      0.30    0.7 × (1 − days the critical path finishes past the promised date
                      ÷ 30, floored at 0) + 0.3 × (1 − the share of open tasks late on
                      their own due date)
============  ======  ================================================================

A component with nothing to judge (no request, no open risk, no milestone) counts as 1:
nothing is late or unowned. **Anti-theatre**: a hive whose activity in the last
``WINDOW_DAYS`` (messages filed, requests asked, edits by people in the event log) reaches
``BUSY_THRESHOLD`` while no task of its critical path started or finished in those days is
flagged *busy, not moving*; its health loses ``BUSY_PENALTY`` points and is capped at
``BUSY_CAP``. A task "of the critical path" is one critical now, or a finished one that
fed it (a finished predecessor of a critical task, or a finished task nothing follows).

Member contribution is computed beside this, in ``hives.contribution``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

WEIGHTS: dict[str, float] = {"response": 0.25, "sync": 0.25, "risk": 0.20, "schedule": 0.30}
RESPONSE_HOURS = 24.0
REQUEST_WINDOW_DAYS = 30
DECISION_WINDOW_DAYS = 14
LATE_DAYS_TO_ZERO = 30
WINDOW_DAYS = 7
BUSY_THRESHOLD = 20
BUSY_PENALTY = 15
BUSY_CAP = 40
OPEN_STATUSES = ("forming", "active", "at_risk")


# --- facts ------------------------------------------------------------------------------------


@dataclass(slots=True)
class TaskFact:
    """What health reads of a milestone or task (checklist items are left out)."""

    id: int
    kind: str
    status: str
    owner_id: int | None
    due_date: date
    started_at: datetime | None = None
    done_at: datetime | None = None
    critical: bool = False
    forecast_finish: date | None = None


@dataclass(slots=True)
class RequestFact:
    """A request addressed to ``to_user_id``."""

    from_user_id: int | None
    to_user_id: int
    asked_at: datetime
    answered_at: datetime | None = None


@dataclass(slots=True)
class RiskFact:
    """A risk of the hive, owned (or not) by someone."""

    function: str
    owner_id: int | None
    status: str = "open"
    closed_by: int | None = None
    closed_at: datetime | None = None


@dataclass
class HiveFacts:
    """Everything the health of one hive is computed from."""

    hive_id: int
    status: str
    start_date: date
    promised_date: date | None = None
    forecast_finish: date | None = None
    members: dict[int, str] = field(default_factory=dict)  # user_id -> function
    tasks: list[TaskFact] = field(default_factory=list)
    dependencies: list[tuple[int, int]] = field(default_factory=list)  # (task, depends_on)
    requests: list[RequestFact] = field(default_factory=list)
    risks: list[RiskFact] = field(default_factory=list)
    last_decision_at: datetime | None = None
    messages: int = 0  # filed in the activity window
    edits: int = 0  # events by people in the activity window


@dataclass(frozen=True)
class Component:
    """One component of health: its value, its weight, the numbers and the words."""

    key: str
    value: float
    numbers: dict[str, Any]
    zh: str
    en: str

    def as_json(self) -> dict[str, Any]:
        """The stored shape (``hives.health_components[key]``)."""
        return {
            "value": round(self.value, 4),
            "weight": WEIGHTS[self.key],
            "numbers": self.numbers,
            "zh": self.zh,
            "en": self.en,
        }


@dataclass(frozen=True)
class HealthResult:
    """A hive's health, its components and the anti-theatre verdict."""

    health: int
    raw: int
    components: dict[str, Component]
    busy_not_moving: bool
    activity: dict[str, int]
    critical_progress: bool

    def components_json(self) -> dict[str, Any]:
        """What is stored in ``hives.health_components`` (and sent in the event)."""
        stored: dict[str, Any] = {key: part.as_json() for key, part in self.components.items()}
        stored["activity"] = {**self.activity, "window_days": WINDOW_DAYS, "threshold": BUSY_THRESHOLD}
        stored["critical_progress"] = self.critical_progress
        stored["raw"] = self.raw
        return stored


# --- components -------------------------------------------------------------------------------


def hours_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def response_component(facts: HiveFacts, now: datetime) -> Component:
    """The share of cross-functional requests that were not delayed (see module docs)."""
    since = now - timedelta(days=REQUEST_WINDOW_DAYS)
    judged = delayed = open_late = 0
    for request in facts.requests:
        asker = facts.members.get(request.from_user_id) if request.from_user_id is not None else None
        addressee = facts.members.get(request.to_user_id)
        if asker is None or addressee is None or asker == addressee:
            continue
        if request.answered_at is None:
            if hours_between(request.asked_at, now) <= RESPONSE_HOURS:
                continue  # not late yet: no verdict
            judged += 1
            open_late += 1
            continue
        if request.asked_at < since and request.answered_at < since:
            continue
        judged += 1
        if hours_between(request.asked_at, request.answered_at) > RESPONSE_HOURS:
            delayed += 1
    late = delayed + open_late
    value = 1.0 if judged == 0 else 1 - late / judged
    numbers = {"requests": judged, "answered_late": delayed, "open_late": open_late}
    if judged == 0:
        zh, en = "近 30 天没有待评判的跨职能请求", "no cross-functional request to judge in the last 30 days"
    else:
        zh = f"{judged} 个跨职能请求中 {delayed} 个超过 24 小时才回复，{open_late} 个超过 24 小时仍未回复"
        en = f"of {judged} cross-functional requests, {delayed} answered after 24 h and {open_late} still open past 24 h"
    return Component("response", value, numbers, zh, en)


def sync_component(facts: HiveFacts, today: date, now: datetime) -> Component:
    """Milestones with an owner and a current status, and a recent decision."""
    milestones = [task for task in facts.tasks if task.kind == "milestone"]
    current = sum(
        1
        for task in milestones
        if task.owner_id is not None and not (task.status == "todo" and task.due_date < today)
    )
    share = 1.0 if not milestones else current / len(milestones)
    recent = facts.last_decision_at is not None and facts.last_decision_at >= now - timedelta(
        days=DECISION_WINDOW_DAYS
    )
    value = 0.8 * share + (0.2 if recent else 0.0)
    numbers = {"milestones": len(milestones), "current": current, "decision_recent": recent}
    zh = f"{len(milestones)} 个里程碑中 {current} 个有负责人且状态最新；" + (
        "近 14 天记录了决策" if recent else "近 14 天没有记录决策"
    )
    en = f"{current} of {len(milestones)} milestones have an owner and a current status; " + (
        "a decision was recorded in the last 14 days"
        if recent
        else "no decision recorded in the last 14 days"
    )
    return Component("sync", value, numbers, zh, en)


def risk_component(facts: HiveFacts) -> Component:
    """Open risks owned by a member who serves the risk's function."""
    open_risks = [risk for risk in facts.risks if risk.status == "open"]
    covered = sum(
        1
        for risk in open_risks
        if risk.owner_id is not None and facts.members.get(risk.owner_id) == risk.function
    )
    value = 1.0 if not open_risks else covered / len(open_risks)
    numbers = {"open_risks": len(open_risks), "covered": covered}
    if not open_risks:
        zh, en = "没有未关闭的风险", "no open risk"
    else:
        zh = f"{len(open_risks)} 个未关闭风险中 {covered} 个由对应职能的成员负责"
        en = f"{covered} of {len(open_risks)} open risks are owned by a member of the function that can act"
    return Component("risk", value, numbers, zh, en)


def schedule_component(facts: HiveFacts) -> Component:
    """The cached critical path against the promise, and tasks late on their own dates."""
    late_days = 0
    if facts.promised_date is not None and facts.forecast_finish is not None:
        late_days = max(0, (facts.forecast_finish - facts.promised_date).days)
    open_tasks = [task for task in facts.tasks if task.status != "done"]
    late_tasks = sum(
        1 for task in open_tasks if task.forecast_finish is not None and task.forecast_finish > task.due_date
    )
    promise_part = max(0.0, 1 - late_days / LATE_DAYS_TO_ZERO)
    task_part = 1.0 if not open_tasks else 1 - late_tasks / len(open_tasks)
    value = 0.7 * promise_part + 0.3 * task_part
    numbers = {
        "late_days": late_days,
        "promised_date": facts.promised_date.isoformat() if facts.promised_date else None,
        "forecast_finish": facts.forecast_finish.isoformat() if facts.forecast_finish else None,
        "open_tasks": len(open_tasks),
        "late_tasks": late_tasks,
    }
    if facts.promised_date is None:
        zh, en = "未设承诺日期", "no promised date"
    elif late_days:
        zh, en = f"关键路径晚于承诺日期 {late_days} 天", f"critical path {late_days} days past the promise"
    else:
        zh, en = "关键路径在承诺日期之内", "critical path within the promise"
    zh += f"；{len(open_tasks)} 个未完成任务中 {late_tasks} 个晚于自身截止日"
    en += f"; {late_tasks} of {len(open_tasks)} open tasks late on their own due date"
    return Component("schedule", value, numbers, zh, en)


# --- anti-theatre -----------------------------------------------------------------------------


def critical_progress(facts: HiveFacts, since: datetime) -> bool:
    """Whether a task of the critical path started or finished since ``since``."""
    critical = {task.id for task in facts.tasks if task.critical}
    followers: dict[int, list[int]] = {}
    for task_id, depends_on in facts.dependencies:
        followers.setdefault(depends_on, []).append(task_id)
    for task in facts.tasks:
        if task.id in critical and task.started_at is not None and task.started_at >= since:
            return True
        if task.status == "done" and task.done_at is not None and task.done_at >= since:
            after = followers.get(task.id, [])
            if not after or any(following in critical for following in after):
                return True
    return False


def activity_of(facts: HiveFacts, now: datetime) -> dict[str, int]:
    """What happened in the hive in the activity window (messages, requests, edits)."""
    since = now - timedelta(days=WINDOW_DAYS)
    requests = sum(1 for request in facts.requests if request.asked_at >= since)
    return {
        "messages": facts.messages,
        "requests": requests,
        "edits": facts.edits,
        "total": facts.messages + requests + facts.edits,
    }


def score(facts: HiveFacts, now: datetime) -> HealthResult:
    """A hive's health from its facts at ``now``."""
    today = now.date()
    parts = [
        response_component(facts, now),
        sync_component(facts, today, now),
        risk_component(facts),
        schedule_component(facts),
    ]
    components = {part.key: part for part in parts}
    raw = round(100 * sum(WEIGHTS[part.key] * part.value for part in parts))
    activity = activity_of(facts, now)
    since = now - timedelta(days=WINDOW_DAYS)
    moving = critical_progress(facts, since)
    has_open_path = any(task.status != "done" for task in facts.tasks)
    busy = (
        facts.status in OPEN_STATUSES and has_open_path and activity["total"] >= BUSY_THRESHOLD and not moving
    )
    health = max(0, min(raw - BUSY_PENALTY, BUSY_CAP)) if busy else raw
    return HealthResult(
        health=max(0, min(100, health)),
        raw=raw,
        components=components,
        busy_not_moving=busy,
        activity=activity,
        critical_progress=moving,
    )
