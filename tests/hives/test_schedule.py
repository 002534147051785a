"""The pure schedule: forecasts from plan, dependencies, today and progress; slips propagate;
slack and the critical path; late tasks; cycles refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pathcast.hives.schedule import CycleError, PlannedTask, compute, order, would_cycle

TODAY = date(2026, 11, 26)


def task(
    i: int, start: int, duration: int, *, status: str = "todo", due: int | None = None, **kw: date
) -> PlannedTask:
    planned = TODAY + timedelta(days=start)
    return PlannedTask(
        id=i,
        planned_start=planned,
        duration_days=duration,
        due_date=planned + timedelta(days=duration if due is None else due),
        status=status,
        started_on=kw.get("started_on"),
        done_on=kw.get("done_on"),
    )


def test_a_chain_is_critical_and_a_parallel_branch_has_slack() -> None:
    tasks = [task(1, 0, 2), task(2, 2, 5), task(3, 2, 1), task(4, 7, 0)]
    edges = [(2, 1), (3, 1), (4, 2), (4, 3)]
    result = compute(tasks, edges, today=TODAY)
    assert result.finish == TODAY + timedelta(days=7)
    assert result.critical_path == [1, 2, 4]
    assert result.tasks[3].slack_days == 4 and not result.tasks[3].critical
    assert all(result.tasks[i].late_days == 0 for i in (1, 2, 3, 4))


def test_a_late_dependency_pushes_its_dependents_and_the_finish() -> None:
    # task 1 started 10 days ago for 3 days and is not done: it finishes today at the
    # earliest, so task 2 (planned for day 0) starts today and the job slips.
    tasks = [
        task(1, -10, 3, status="doing", started_on=TODAY - timedelta(days=10)),
        task(2, -7, 4),
    ]
    result = compute(tasks, [(2, 1)], today=TODAY)
    assert result.tasks[1].finish == TODAY and result.tasks[1].late_days == 7
    assert result.tasks[2].start == TODAY and result.tasks[2].finish == TODAY + timedelta(days=4)
    assert result.late_dependencies([(2, 1)]) == [1]
    assert result.late_by(TODAY) == 4 and result.late_by(None) == 0


def test_done_work_finishes_when_it_was_done() -> None:
    done = TODAY - timedelta(days=3)
    tasks = [task(1, -5, 2, status="done", done_on=done), task(2, -3, 2)]
    result = compute(tasks, [(2, 1)], today=TODAY)
    assert result.tasks[1].finish == done and not result.tasks[1].critical
    assert result.tasks[2].start == TODAY  # not started yet: it cannot start in the past


def test_cycles_are_refused_with_their_tasks() -> None:
    with pytest.raises(CycleError) as error:
        order([1, 2, 3], [(2, 1), (3, 2), (1, 3)])
    assert error.value.task_ids == [1, 2, 3]
    assert would_cycle([1, 2], [(2, 1)], (1, 2)) and not would_cycle([1, 2, 3], [(2, 1)], (3, 2))
    assert compute([], [], today=TODAY).finish is None


@st.composite
def plans(draw: st.DrawFn) -> tuple[list[PlannedTask], list[tuple[int, int]]]:
    count = draw(st.integers(1, 12))
    tasks = [task(i, draw(st.integers(-20, 20)), draw(st.integers(0, 15))) for i in range(count)]
    edges = [
        (i, j) for i in range(count) for j in range(i) if draw(st.booleans()) and draw(st.booleans())
    ]  # edges only to earlier tasks: never a cycle
    return tasks, edges


@given(plans())
@settings(max_examples=150, deadline=None)
def test_any_plan_respects_dependencies_today_and_slack(
    plan: tuple[list[PlannedTask], list[tuple[int, int]]],
) -> None:
    tasks, edges = plan
    result = compute(tasks, edges, today=TODAY)
    by_id = {t.id: t for t in tasks}
    for task_id, depends_on in edges:
        assert result.tasks[task_id].start >= result.tasks[depends_on].finish
    for forecast in result.tasks.values():
        assert forecast.start >= max(TODAY, by_id[forecast.id].planned_start)
        assert forecast.slack_days >= 0 and forecast.finish <= (result.finish or forecast.finish)
    assert result.critical_path and result.tasks[result.critical_path[-1]].finish == result.finish
