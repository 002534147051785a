"""A hive's schedule from its plan, dependencies, today and what is done (pure, no database).

Finish-to-start dependencies, durations in calendar days (a milestone lasts 0 days):

- a **done** task finished when it was done;
- a task **in progress** finishes ``duration`` days after it started, or today if that is
  already past (work not done is not finished, whatever the plan said);
- a task **not started** starts at the latest of its planned start, the forecast finish of
  every task it depends on, and today; it finishes ``duration`` days later.

So a slip propagates: a dependency that finishes late pushes every task after it. The
backward pass gives each task its latest finish (the job's forecast finish for the last
tasks), its slack (latest − forecast finish) and whether it is **critical** (no slack).
A task is **late** when its forecast finish is after its due date; the job is late when its
forecast finish is after the promised date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta


class CycleError(ValueError):
    """The dependencies form a cycle (names the tasks on it)."""

    def __init__(self, task_ids: list[int]) -> None:
        super().__init__(f"dependencies form a cycle through tasks {task_ids}")
        self.task_ids = task_ids


@dataclass(frozen=True)
class PlannedTask:
    """What the schedule needs of a task."""

    id: int
    planned_start: date
    duration_days: int
    due_date: date
    status: str = "todo"  # todo | doing | blocked | done
    started_on: date | None = None
    done_on: date | None = None


@dataclass(frozen=True)
class TaskForecast:
    """Where a task stands in the schedule."""

    id: int
    start: date
    finish: date
    latest_finish: date
    slack_days: int
    critical: bool
    late_days: int  # forecast finish after the due date (0 when on time)


@dataclass
class Schedule:
    """The forecast of every task, the job's finish and the chain that decides it."""

    tasks: dict[int, TaskForecast] = field(default_factory=dict)
    finish: date | None = None
    critical_path: list[int] = field(default_factory=list)

    def late_by(self, promised: date | None) -> int:
        """Days the job's forecast finish is after ``promised`` (0 when on time or no promise)."""
        if promised is None or self.finish is None:
            return 0
        return max(0, (self.finish - promised).days)

    def late_dependencies(self, dependencies: Iterable[tuple[int, int]]) -> list[int]:
        """Tasks that are late *and* hold up another task (the "dependency is late" alert)."""
        blocking = {depends_on for _task, depends_on in dependencies}
        return sorted(i for i, forecast in self.tasks.items() if forecast.late_days > 0 and i in blocking)


def order(task_ids: Sequence[int], dependencies: Iterable[tuple[int, int]]) -> list[int]:
    """The tasks in dependency order (Kahn); raises :class:`CycleError` on a cycle."""
    known = set(task_ids)
    successors: dict[int, list[int]] = {i: [] for i in task_ids}
    waiting: dict[int, int] = {i: 0 for i in task_ids}
    for task, depends_on in dependencies:
        if task in known and depends_on in known:
            successors[depends_on].append(task)
            waiting[task] += 1
    ready = [i for i in task_ids if waiting[i] == 0]
    done: list[int] = []
    while ready:
        current = ready.pop(0)
        done.append(current)
        for following in successors[current]:
            waiting[following] -= 1
            if waiting[following] == 0:
                ready.append(following)
    if len(done) != len(task_ids):
        raise CycleError(sorted(i for i in task_ids if waiting[i] > 0))
    return done


def would_cycle(
    task_ids: Sequence[int], dependencies: Iterable[tuple[int, int]], new: tuple[int, int]
) -> bool:
    """Whether adding the dependency ``new`` (task, depends_on) would make a cycle."""
    try:
        order(task_ids, [*dependencies, new])
    except CycleError:
        return True
    return False


def compute(
    tasks: Sequence[PlannedTask], dependencies: Iterable[tuple[int, int]], *, today: date
) -> Schedule:
    """Forward pass (forecast start and finish), backward pass (slack, critical path)."""
    if not tasks:
        return Schedule()
    edges = [(t, d) for t, d in dependencies]
    by_id = {task.id: task for task in tasks}
    edges = [(t, d) for t, d in edges if t in by_id and d in by_id]
    sequence = order([task.id for task in tasks], edges)
    predecessors: dict[int, list[int]] = {i: [] for i in by_id}
    successors: dict[int, list[int]] = {i: [] for i in by_id}
    for task_id, depends_on in edges:
        predecessors[task_id].append(depends_on)
        successors[depends_on].append(task_id)

    start: dict[int, date] = {}
    finish: dict[int, date] = {}
    for task_id in sequence:
        task = by_id[task_id]
        length = timedelta(days=max(0, task.duration_days))
        if task.status == "done":
            end = task.done_on or today
            start[task_id] = min(task.started_on or end - length, end)
            finish[task_id] = end
            continue
        if task.started_on is not None and task.status in ("doing", "blocked"):
            start[task_id] = task.started_on
            finish[task_id] = max(task.started_on + length, today)
            continue
        earliest = max([task.planned_start, today, *(finish[p] for p in predecessors[task_id])])
        start[task_id] = earliest
        finish[task_id] = earliest + length

    job_finish = max(finish.values())
    latest: dict[int, date] = {}
    for task_id in reversed(sequence):
        following = successors[task_id]
        if not following:
            latest[task_id] = job_finish
        else:
            latest[task_id] = min(
                latest[s] - timedelta(days=max(0, by_id[s].duration_days)) for s in following
            )
    forecasts: dict[int, TaskForecast] = {}
    for task_id in sequence:
        task = by_id[task_id]
        slack = (latest[task_id] - finish[task_id]).days
        forecasts[task_id] = TaskForecast(
            id=task_id,
            start=start[task_id],
            finish=finish[task_id],
            latest_finish=latest[task_id],
            slack_days=slack,
            critical=slack <= 0 and task.status != "done",
            late_days=max(0, (finish[task_id] - task.due_date).days) if task.status != "done" else 0,
        )
    return Schedule(
        tasks=forecasts, finish=job_finish, critical_path=_chain(sequence, forecasts, predecessors)
    )


def _chain(
    sequence: list[int], forecasts: dict[int, TaskForecast], predecessors: dict[int, list[int]]
) -> list[int]:
    """The chain of critical tasks that ends at the job's finish, first to last."""
    critical = [i for i in sequence if forecasts[i].critical]
    if not critical:
        return []
    current = max(critical, key=lambda i: (forecasts[i].finish, sequence.index(i)))
    chain = [current]
    while True:
        before = [p for p in predecessors[current] if forecasts[p].critical]
        if not before:
            break
        current = max(before, key=lambda p: forecasts[p].finish)
        chain.append(current)
    return list(reversed(chain))
