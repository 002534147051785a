"""Member contribution in a hive, from plain facts (pure, no database).

Contribution counts real work only: answers to requests addressed to the member (median
response hours, open requests and their age), problems resolved (tasks they own finished,
risks they closed) and knowledge they added that someone else used. Messages sent,
check-ins and logins are not inputs here at all. The member × week matrix feeds the
heatmap: per cell, answers + tasks finished + risks closed + uses of their knowledge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from pathcast.hives.health import RequestFact, RiskFact, TaskFact, hours_between

__all__ = ["Contribution", "KnowledgeFact", "MemberContribution", "contribution", "week_of"]


@dataclass(slots=True)
class KnowledgeFact:
    """Knowledge a member added, and who used it (``[{user_id, at}]``)."""

    added_by: int | None
    added_at: datetime
    used_by: tuple[tuple[int, datetime], ...] = ()


@dataclass
class MemberContribution:
    """What one member did in the window (real work only)."""

    user_id: int
    function: str
    requests: int = 0
    answered: int = 0
    median_response_hours: float | None = None
    open_requests: int = 0
    oldest_open_hours: float | None = None
    tasks_done: int = 0
    risks_closed: int = 0
    knowledge_added: int = 0
    knowledge_used: int = 0  # uses of their knowledge by someone else, in the window

    @property
    def problems_resolved(self) -> int:
        """Tasks they own that were finished, plus risks they closed."""
        return self.tasks_done + self.risks_closed


@dataclass
class Contribution:
    """Per member totals and the member × week matrix (for the heatmap)."""

    weeks: list[date]  # Mondays, oldest first
    members: list[MemberContribution]
    # (member index, week index, score, {answers, tasks, risks, knowledge})
    matrix: list[tuple[int, int, int, dict[str, int]]]


def week_of(moment: datetime | date) -> date:
    """The Monday of the week of ``moment``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return day - timedelta(days=day.weekday())


def contribution(
    *,
    members: Sequence[tuple[int, str]],
    tasks: Iterable[TaskFact],
    risks: Iterable[RiskFact],
    requests: Iterable[RequestFact],
    knowledge: Iterable[KnowledgeFact],
    now: datetime,
    weeks: int,
) -> Contribution:
    """Each member's contribution over the last ``weeks`` weeks (this week included)."""
    first_week = week_of(now) - timedelta(weeks=weeks - 1)
    mondays = [first_week + timedelta(weeks=i) for i in range(weeks)]
    since = datetime.combine(first_week, datetime.min.time(), tzinfo=now.tzinfo)
    index = {user_id: number for number, (user_id, _function) in enumerate(members)}
    rows = [MemberContribution(user_id, function) for user_id, function in members]
    cells: dict[tuple[int, int], dict[str, int]] = {}

    def credit(user_id: int | None, at: datetime, kind: str) -> None:
        if user_id not in index or at < since or at > now:
            return
        week = (week_of(at) - first_week).days // 7
        cell = cells.setdefault(
            (index[user_id], week), {"answers": 0, "tasks": 0, "risks": 0, "knowledge": 0}
        )
        cell[kind] += 1

    response_hours: dict[int, list[float]] = {}
    open_ages: dict[int, list[float]] = {}
    for request in requests:
        row_at = index.get(request.to_user_id)
        if row_at is None:
            continue
        row = rows[row_at]
        if request.answered_at is None:
            row.open_requests += 1
            open_ages.setdefault(row_at, []).append(hours_between(request.asked_at, now))
            continue
        if request.asked_at < since and request.answered_at < since:
            continue
        row.requests += 1
        row.answered += 1
        response_hours.setdefault(row_at, []).append(hours_between(request.asked_at, request.answered_at))
        credit(request.to_user_id, request.answered_at, "answers")
    for row_at, hours in response_hours.items():
        rows[row_at].median_response_hours = round(median(hours), 1)
    for row_at, ages in open_ages.items():
        rows[row_at].requests += len(ages)
        rows[row_at].oldest_open_hours = round(max(ages), 1)
    for task in tasks:
        owner = task.owner_id
        if task.status == "done" and owner in index and task.done_at and since <= task.done_at <= now:
            rows[index[owner]].tasks_done += 1
            credit(task.owner_id, task.done_at, "tasks")
    for risk in risks:
        closer = risk.closed_by
        if risk.status == "closed" and closer in index and risk.closed_at and since <= risk.closed_at <= now:
            rows[index[closer]].risks_closed += 1
            credit(risk.closed_by, risk.closed_at, "risks")
    for item in knowledge:
        if item.added_by not in index:
            continue
        author = rows[index[item.added_by]]
        if since <= item.added_at <= now:
            author.knowledge_added += 1
        for user_id, at in item.used_by:
            if user_id != item.added_by and since <= at <= now:
                author.knowledge_used += 1
                credit(item.added_by, at, "knowledge")
    matrix = [(member, week, sum(parts.values()), parts) for (member, week), parts in sorted(cells.items())]
    return Contribution(weeks=mondays, members=rows, matrix=matrix)
