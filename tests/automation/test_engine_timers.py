"""Timers with a fake clock: waits and their ``unless``, retries with backoff, external checks,
and schedules, all persisted in rows so that a new worker carries on where another stopped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation import service
from pathcast.automation.engine import runner
from pathcast.automation.engine.schedule import next_fire
from pathcast.automation.ir import ScheduleTrigger
from pathcast.automation.models import Connector, EngineCursor
from pathcast.crm import models as crm_models
from pathcast.crm import service as crm
from pathcast.events import events_for_entity
from tests import factories as f
from tests.automation.engine_support import (
    ADMIN,
    FakeClock,
    make_rule,
    receiver,
    run_engine,
    runs_of,
    steps_of,
)

TASK = {
    "type": "create_task",
    "assignee": {"kind": "relation", "value": "owner"},
    "title": "48小时内未跟进，请跟进",
}
NO_FOLLOW_UP = {
    "trigger": {"type": "record_changed", "entity": "opportunity", "field": "stage", "to": "proposal"},
    "wait": {"duration": "PT48H", "unless": [{"event": "activity.created", "same_record": True}]},
    "actions": [TASK],
}


def deal_in_proposal(session: Session, name: str = "DSA 耗材") -> crm_models.Opportunity:
    """A deal (with its own owner) moved to the proposal stage."""
    f.pipeline(session)
    owner = f.user(session, f"owner-{len(name.encode())}-{name.encode().hex()}@example.com", password=None)
    deal = f.opportunity(session, f.SYSTEM, name=name, owner_id=owner.id)
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["proposal"].id)
    return deal


def task_titles(session: Session) -> list[str]:
    return list(
        session.scalars(select(crm_models.Activity.subject).where(crm_models.Activity.kind == "task"))
    )


def test_a_wait_is_a_timer_that_survives_a_new_worker(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(session, NO_FOLLOW_UP)
    deal_in_proposal(session)
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    wait, task = steps_of(session, run)
    assert (run.status, wait.status, task.status) == ("waiting", "waiting", "pending")
    assert run.next_attempt_at == run.fired_at + timedelta(hours=48)
    clock.advance(hours=47)
    run_engine(session, db_url, clock)
    assert runs_of(session, rule)[0].status == "waiting" and task_titles(session) == []
    clock.advance(hours=2)
    # A different worker (a restart) picks the timer up from the row.
    run_engine(session, db_url, clock)
    [run] = runs_of(session, rule)
    assert run.status == "done"
    assert task_titles(session) == ["48小时内未跟进，请跟进"]


def test_unless_stops_the_run_when_the_record_gets_its_follow_up(session: Session, db_url: str) -> None:
    clock = FakeClock()
    rule = make_rule(session, NO_FOLLOW_UP)
    followed = deal_in_proposal(session, "已跟进")
    neglected = deal_in_proposal(session, "未跟进")
    run_engine(session, db_url, clock)
    f.activity(session, kind="call", subject="电话跟进", opportunity_id=followed.id)
    clock.advance(hours=49)
    run_engine(session, db_url, clock)
    by_subject = {run.subject_id: run for run in runs_of(session, rule)}
    stopped, done = by_subject[str(followed.id)], by_subject[str(neglected.id)]
    assert stopped.status == "stopped"
    assert stopped.context["outcome"].startswith("activity.created on activity #")
    assert stopped.context["outcome"].endswith("happened within PT48H")
    assert steps_of(session, stopped)[0].outcome["cancelled_by"]["type"] == "activity.created"
    assert steps_of(session, stopped)[1].status == "pending"
    assert done.status == "done"
    assert len(task_titles(session)) == 1


def test_retries_back_off_and_the_receiver_sees_one_key(session: Session, db_url: str) -> None:
    clock = FakeClock()
    with receiver(failures=[503, 503]) as hook:
        rule = make_rule(
            session,
            {
                "trigger": {"type": "record_event", "event": "activity.created"},
                "actions": [{"type": "webhook", "url": hook.url}],
            },
        )
        f.activity(session)
        run_engine(session, db_url, clock)
        [run] = runs_of(session, rule)
        [step] = steps_of(session, run)
        assert (run.status, step.status, step.attempts) == ("running", "pending", 1)
        first_delay = run.next_attempt_at - clock.now
        assert timedelta(seconds=5) <= first_delay <= timedelta(seconds=10)
        assert "503" in (step.last_error or "") or step.outcome
        run_engine(session, db_url, clock)  # not due yet: nothing happens
        assert len(hook.requests) == 1
        clock.advance(seconds=10)
        run_engine(session, db_url, clock)
        [run] = runs_of(session, rule)
        assert timedelta(seconds=10) <= run.next_attempt_at - clock.now <= timedelta(seconds=20)
        clock.advance(seconds=20)
        run_engine(session, db_url, clock)
        [run] = runs_of(session, rule)
        [step] = steps_of(session, run)
        assert (run.status, step.status, step.attempts) == ("done", "done", 3)
        assert hook.keys == [step.idempotency_key] * 3
        assert len(hook.processed) == 1


def test_retries_are_bounded_and_then_the_run_fails(session: Session, db_url: str) -> None:
    clock = FakeClock()
    with receiver(failures=[503] * 10) as hook:
        rule = make_rule(
            session,
            {
                "trigger": {"type": "record_event", "event": "activity.created"},
                "actions": [{"type": "webhook", "url": hook.url}],
            },
        )
        f.activity(session)
        for _ in range(runner.MAX_ATTEMPTS):
            run_engine(session, db_url, clock)
            clock.advance(hours=2)
        [run] = runs_of(session, rule)
        [step] = steps_of(session, run)
        assert (run.status, step.status, step.attempts) == ("failed", "failed", runner.MAX_ATTEMPTS)
        assert len(hook.requests) == runner.MAX_ATTEMPTS
        types = [e.type for e in events_for_entity(session, "automation_run", run.id)]
        assert types == ["automation.rule_fired", "automation.step_failed", "automation.run_finished"]


def test_a_refusal_is_not_retried(session: Session, db_url: str) -> None:
    clock = FakeClock()
    with receiver(failures=[400]) as hook:
        rule = make_rule(
            session,
            {
                "trigger": {"type": "record_event", "event": "activity.created"},
                "actions": [{"type": "webhook", "url": hook.url}],
            },
        )
        f.activity(session)
        run_engine(session, db_url, clock)
        [run] = runs_of(session, rule)
        assert run.status == "failed" and len(hook.requests) == 1


def test_backoff_grows_exponentially_within_its_jitter() -> None:
    for attempts, low, high in ((1, 5, 10), (2, 10, 20), (3, 20, 40), (10, 1800, 3600)):
        delay = runner.backoff(attempts).total_seconds()
        assert low <= delay <= high


def budget_check(session: Session, url: str) -> None:
    session.add(
        Connector(
            kind="http_check",
            name="budget_approval",
            config={
                "url": url.replace("/hook", "/budgets/{opportunity_id}"),
                "response_map": {"approved": "$.status == 'approved'"},
            },
            aliases=["预算已批复"],
        )
    )
    session.flush()


POC_PASSED = {
    "trigger": {"type": "record_changed", "entity": "opportunity", "field": "stage", "to": "proposal"},
    "conditions": [{"field": "approved", "op": "eq", "value": True, "connector": "budget_approval"}],
    "actions": [TASK],
}


def test_an_external_check_gates_the_actions(session: Session, db_url: str) -> None:
    clock = FakeClock()
    with receiver(document={"status": "pending"}) as api:
        budget_check(session, api.url)
        rule = make_rule(session, POC_PASSED)
        deal = deal_in_proposal(session)
        run_engine(session, db_url, clock)
        [run] = runs_of(session, rule)
        check, _ = steps_of(session, run)
        assert run.status == "stopped" and check.outcome["held"] is False
        assert run.context["outcome"] == "budget_approval: approved = False (eq True: no)"
        assert api.requests[0]["path"] == f"/budgets/{deal.id}"
        api.document = {"status": "approved"}
        deal_in_proposal(session, "第二个")
        run_engine(session, db_url, clock)
        assert runs_of(session, rule)[1].status == "done"
        assert len(task_titles(session)) == 1


def test_an_unavailable_check_is_retried(session: Session, db_url: str) -> None:
    clock = FakeClock()
    with receiver(document={"status": "approved"}, failures=[502]) as api:
        budget_check(session, api.url)
        rule = make_rule(session, POC_PASSED)
        deal_in_proposal(session)
        run_engine(session, db_url, clock)
        [run] = runs_of(session, rule)
        check, _ = steps_of(session, run)
        assert (run.status, check.status, check.attempts) == ("running", "pending", 1)
        assert check.last_error
        clock.advance(minutes=1)
        run_engine(session, db_url, clock)
        assert runs_of(session, rule)[0].status == "done"


def test_schedules_fire_from_a_persisted_timer_and_collapse_missed_fires(
    session: Session, db_url: str
) -> None:
    clock = FakeClock()
    cron: dict[str, Any] = {"type": "schedule", "cron": "0 9 * * *", "timezone": "Asia/Shanghai"}
    rule = make_rule(
        session,
        {
            "trigger": cron,
            "actions": [{"type": "notify", "recipients": [{"kind": "role", "value": "manager"}]}],
        },
    )
    run_engine(session, db_url, clock)
    cursor = session.scalars(select(EngineCursor).where(EngineCursor.name.like("schedule:%"))).one()
    expected = next_fire(ScheduleTrigger.model_validate(cron), clock.now)
    assert cursor.position_at == expected and runs_of(session, rule) == []
    clock.now = expected + timedelta(minutes=1)
    run_engine(session, db_url, clock)
    [first] = runs_of(session, rule)
    assert first.fire_key == f"schedule:{expected:%Y%m%dT%H%MZ}"
    assert first.reason.startswith("schedule “0 9 * * *” (Asia/Shanghai) at ") and first.reason.endswith(
        "09:00"
    )
    # Three days without a worker: one fire for the latest occurrence, not three.
    clock.advance(days=3)
    run_engine(session, db_url, clock)
    assert len(runs_of(session, rule)) == 2
    # Off for a while and on again: no fire for the time it was off.
    service.disable_rule(session, rule_id=rule.id, actor=ADMIN)
    clock.advance(days=2)
    run_engine(session, db_url, clock)
    service.enable_rule(session, rule_id=rule.id, actor=ADMIN)
    run_engine(session, db_url, clock)
    assert len(runs_of(session, rule)) == 2
