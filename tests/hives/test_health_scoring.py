"""The pure health arithmetic (hives.health): each component, the weights, anti-theatre,
and contribution — no database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pathcast.hives import contribution as c
from pathcast.hives import health as h

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def facts(**values: object) -> h.HiveFacts:
    base: dict[str, object] = {"hive_id": 1, "status": "active", "start_date": TODAY - 30 * DAY}
    return h.HiveFacts(**(base | values))  # type: ignore[arg-type]


def test_weights_sum_to_one() -> None:
    assert abs(sum(h.WEIGHTS.values()) - 1) < 1e-9


def test_response_counts_only_cross_functional_requests_past_24_hours() -> None:
    members = {1: "sales", 2: "logistics", 3: "logistics"}
    requests = [
        h.RequestFact(1, 2, NOW - 3 * DAY, NOW - 3 * DAY + 2 * HOUR),  # fast
        h.RequestFact(1, 2, NOW - 5 * DAY, NOW - 3 * DAY),  # 48 h: late
        h.RequestFact(2, 1, NOW - 2 * DAY, None),  # open 48 h: late
        h.RequestFact(2, 1, NOW - 2 * HOUR, None),  # open 2 h: no verdict yet
        h.RequestFact(2, 3, NOW - 5 * DAY, None),  # same function: not cross-functional
        h.RequestFact(1, 2, NOW - 60 * DAY, NOW - 58 * DAY),  # outside the window
    ]
    part = h.response_component(facts(members=members, requests=requests), NOW)
    assert part.numbers == {"requests": 3, "answered_late": 1, "open_late": 1}
    assert abs(part.value - 1 / 3) < 1e-9
    assert "24" in part.zh and "24 h" in part.en


def test_response_without_requests_is_whole() -> None:
    part = h.response_component(facts(), NOW)
    assert part.value == 1.0 and part.numbers["requests"] == 0


def test_sync_needs_owner_current_status_and_a_recent_decision() -> None:
    tasks = [
        h.TaskFact(1, "milestone", "done", 7, TODAY - 10 * DAY),
        h.TaskFact(2, "milestone", "todo", 7, TODAY - 1 * DAY),  # overdue and still todo
        h.TaskFact(3, "milestone", "doing", None, TODAY + 5 * DAY),  # no owner
        h.TaskFact(4, "milestone", "todo", 7, TODAY + 5 * DAY),  # current
        h.TaskFact(5, "task", "todo", None, TODAY - 5 * DAY),  # tasks do not count here
    ]
    without = h.sync_component(facts(tasks=tasks), TODAY, NOW)
    assert without.numbers == {"milestones": 4, "current": 2, "decision_recent": False}
    assert abs(without.value - 0.8 * 0.5) < 1e-9
    recent = h.sync_component(facts(tasks=tasks, last_decision_at=NOW - 3 * DAY), TODAY, NOW)
    assert abs(recent.value - (0.4 + 0.2)) < 1e-9
    stale = h.sync_component(facts(tasks=tasks, last_decision_at=NOW - 20 * DAY), TODAY, NOW)
    assert stale.value == without.value


def test_risk_coverage_needs_an_owner_of_the_right_function() -> None:
    members = {1: "logistics", 2: "production_planning"}
    risks = [
        h.RiskFact("logistics", 1),  # covered
        h.RiskFact("logistics", 2),  # owner serves another function
        h.RiskFact("quality", None),  # nobody
        h.RiskFact("production_planning", 2),  # covered
        h.RiskFact("logistics", None, status="closed"),  # closed: not counted
    ]
    part = h.risk_component(facts(members=members, risks=risks))
    assert part.numbers == {"open_risks": 4, "covered": 2}
    assert part.value == 0.5
    assert h.risk_component(facts()).value == 1.0


def test_schedule_reads_the_cached_critical_path_against_the_promise() -> None:
    tasks = [
        h.TaskFact(1, "milestone", "todo", 1, TODAY + 5 * DAY, forecast_finish=TODAY + 8 * DAY),  # late 3
        h.TaskFact(2, "task", "todo", 1, TODAY + 9 * DAY, forecast_finish=TODAY + 9 * DAY),
        h.TaskFact(3, "task", "done", 1, TODAY - 9 * DAY, forecast_finish=TODAY - 1 * DAY),
    ]
    late = h.schedule_component(
        facts(tasks=tasks, promised_date=TODAY + 10 * DAY, forecast_finish=TODAY + 25 * DAY)
    )
    assert late.numbers["late_days"] == 15 and late.numbers["late_tasks"] == 1
    assert abs(late.value - (0.7 * 0.5 + 0.3 * 0.5)) < 1e-9
    on_time = h.schedule_component(facts(promised_date=TODAY + 30 * DAY, forecast_finish=TODAY + 20 * DAY))
    assert on_time.value == 1.0
    very_late = h.schedule_component(facts(promised_date=TODAY, forecast_finish=TODAY + 90 * DAY))
    assert abs(very_late.value - 0.3) < 1e-9


def test_health_is_the_weighted_sum() -> None:
    result = h.score(facts(risks=[h.RiskFact("quality", None)], last_decision_at=NOW - DAY), NOW)
    # risk 0, everything else whole
    assert result.raw == 80 and result.health == 80 and not result.busy_not_moving
    assert h.score(facts(risks=[h.RiskFact("quality", None)]), NOW).raw == 75  # and no decision: sync 0.8
    stored = result.components_json()
    assert stored["risk"]["value"] == 0 and stored["risk"]["weight"] == 0.2
    assert stored["activity"]["threshold"] == h.BUSY_THRESHOLD


def _path(done_at: datetime | None, started_at: datetime | None = None) -> list[h.TaskFact]:
    return [
        h.TaskFact(
            1, "milestone", "done" if done_at else "todo", 1, TODAY, done_at=done_at, started_at=started_at
        ),
        h.TaskFact(
            2, "milestone", "todo", 1, TODAY + 10 * DAY, critical=True, forecast_finish=TODAY + 10 * DAY
        ),
    ]


def test_busy_not_moving_needs_activity_and_no_critical_progress() -> None:
    busy = facts(tasks=_path(None), dependencies=[(2, 1)], messages=15, edits=10)
    result = h.score(busy, NOW)
    assert result.busy_not_moving and not result.critical_progress
    assert result.health <= h.BUSY_CAP and result.health == min(result.raw - h.BUSY_PENALTY, h.BUSY_CAP)
    # the same noise with a critical predecessor finished yesterday: moving
    moving = facts(tasks=_path(NOW - DAY), dependencies=[(2, 1)], messages=15, edits=10)
    assert not h.score(moving, NOW).busy_not_moving
    # finished long ago: not progress in the window
    stale = facts(tasks=_path(NOW - 20 * DAY), dependencies=[(2, 1)], messages=15, edits=10)
    assert h.score(stale, NOW).busy_not_moving
    # a critical task started in the window is progress
    started = [
        *_path(None)[:1],
        h.TaskFact(2, "milestone", "doing", 1, TODAY, started_at=NOW - DAY, critical=True),
    ]
    assert not h.score(facts(tasks=started, messages=30), NOW).busy_not_moving
    # quiet: not flagged whatever the progress
    assert not h.score(facts(tasks=_path(None), messages=3), NOW).busy_not_moving
    # delivered hives are never flagged
    assert not h.score(facts(tasks=_path(None), messages=30, status="delivered"), NOW).busy_not_moving


def test_activity_counts_requests_asked_in_the_window() -> None:
    requests = [h.RequestFact(1, 2, NOW - DAY), h.RequestFact(1, 2, NOW - 9 * DAY)]
    assert h.activity_of(facts(requests=requests, messages=4, edits=2), NOW) == {
        "messages": 4,
        "requests": 1,
        "edits": 2,
        "total": 7,
    }


@given(
    st.integers(0, 200),
    st.integers(0, 200),
    st.lists(st.booleans(), max_size=8),
    st.integers(-30, 90),
)
def test_health_stays_between_0_and_100(messages: int, edits: int, owned: list[bool], late: int) -> None:
    risks = [h.RiskFact("logistics", 1 if mine else None) for mine in owned]
    result = h.score(
        facts(
            members={1: "logistics"},
            risks=risks,
            messages=messages,
            edits=edits,
            tasks=_path(None),
            promised_date=TODAY,
            forecast_finish=TODAY + timedelta(days=late),
        ),
        NOW,
    )
    assert 0 <= result.health <= 100
    assert all(0 <= part.value <= 1 for part in result.components.values())


def test_contribution_counts_work_not_noise() -> None:
    members = [(1, "logistics"), (2, "sales"), (3, "production_planning")]
    tasks = [
        h.TaskFact(10, "task", "done", 1, TODAY, done_at=NOW - 2 * DAY),
        h.TaskFact(11, "task", "done", 1, TODAY, done_at=NOW - 100 * DAY),  # outside the window
        h.TaskFact(12, "task", "todo", 1, TODAY),
    ]
    risks = [h.RiskFact("logistics", 1, status="closed", closed_by=3, closed_at=NOW - 8 * DAY)]
    requests = [
        h.RequestFact(2, 1, NOW - 3 * DAY, NOW - 3 * DAY + 2 * HOUR),
        h.RequestFact(2, 1, NOW - 2 * DAY, NOW - 2 * DAY + 6 * HOUR),
        h.RequestFact(2, 3, NOW - 30 * HOUR, None),
    ]
    knowledge = [
        c.KnowledgeFact(3, NOW - 10 * DAY, ((1, NOW - 9 * DAY), (3, NOW - 8 * DAY))),  # own use ignored
        c.KnowledgeFact(2, NOW - 10 * DAY, ()),  # never used by anyone
    ]
    result = c.contribution(
        members=members, tasks=tasks, risks=risks, requests=requests, knowledge=knowledge, now=NOW, weeks=4
    )
    logistics, sales, planner = result.members
    assert (logistics.answered, logistics.median_response_hours, logistics.tasks_done) == (2, 4.0, 1)
    assert (planner.open_requests, planner.oldest_open_hours, planner.risks_closed) == (1, 30.0, 1)
    assert (planner.knowledge_added, planner.knowledge_used, planner.problems_resolved) == (1, 1, 1)
    assert (sales.knowledge_added, sales.knowledge_used, sales.problems_resolved) == (1, 0, 0)
    assert len(result.weeks) == 4 and result.weeks[-1] == date(2026, 3, 16)
    total = {(member, week): value for member, week, value, _parts in result.matrix}
    assert sum(total.values()) == 2 + 1 + 1 + 1  # two answers, a task, a risk, a use
    assert all(
        member != 1 or parts["answers"] + parts["tasks"] >= 1 for member, _w, _v, parts in result.matrix
    )


def test_the_matcher_takes_hive_health_changed_as_a_metric_event() -> None:
    from pathcast.automation.engine.matcher import CompiledRule, Fact, RuleIndex
    from pathcast.automation.language import Vocabulary, compile_rule

    ir = compile_rule("蜂巢健康度低于60时通知负责人", "zh", Vocabulary.sample()).ir
    index = RuleIndex([CompiledRule(rule_id=7, version=1, name="low", ir=ir, enabled_from_event_id=0)])

    def fired(type_: str, payload: dict[str, object]) -> list[int]:
        return [c.rule.rule_id for c in index.match(Fact(1, type_, "hive", "3", payload, NOW))]

    crossing = {"metric": "hive_health", "entity": "hive", "value": 52, "previous": 71}
    assert fired("hive.health_changed", crossing) == [7]
    assert fired("hive.health_changed", {**crossing, "previous": 55}) == []  # already below
    assert fired("hive.health_changed", {**crossing, "value": 65}) == []  # not below
    assert fired("hive.health_changed", {"value": 52, "previous": 71}) == []  # no metric
    assert fired("hive.key_result_updated", crossing) == []  # other hive events are not metrics
