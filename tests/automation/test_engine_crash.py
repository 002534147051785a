"""Kill a real worker process between a rule's trigger and its action, restart it, and check the
action happened once: a local effect (a task) exactly once; a remote one (a webhook) delivered
again after the crash with the same Idempotency-Key, so a deduplicating receiver acts once, and
its step completes once. On SQLite (a file) and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation.engine.runner import FAULT_ENV
from pathcast.automation.models import ActionReceipt, Run
from pathcast.crm import models as crm_models
from pathcast.crm import service as crm
from pathcast.db import utcnow
from pathcast.events import events_for_entity
from tests import factories as f
from tests.automation.engine_support import make_rule, receiver, runs_of, steps_of

LEASE_SECONDS = 1.0
TASK = {"type": "create_task", "assignee": {"kind": "relation", "value": "owner"}, "title": "安排交付启动会"}


def worker(db_url: str, tmp_path: Path, *, fault: str | None = None) -> subprocess.Popen[bytes]:
    """A real worker process on the test database, logging to a file."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PATHCAST_")}
    env["PATHCAST_DATA_DIR"] = str(tmp_path / "data")
    if fault:
        env[FAULT_ENV] = fault
    log = (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pathcast.automation.engine.worker",
            "--once-until-idle",
            "--database-url",
            db_url,
            "--lease-seconds",
            str(LEASE_SECONDS),
            "--poll-seconds",
            "0.05",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def finish(process: subprocess.Popen[bytes], tmp_path: Path) -> int:
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        logs = "\n".join(path.read_text(errors="replace") for path in tmp_path.glob("worker-*.log"))
        raise AssertionError(f"the worker did not finish:\n{logs}") from None


def wait_for_lease_to_expire(session: Session, run_id: int) -> None:
    """The killed worker's lease runs out (it cannot release it): poll until it has."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        session.expire_all()
        run = session.get(Run, run_id)
        assert run is not None
        locked_until = run.locked_until
        session.commit()
        if locked_until is None or locked_until < utcnow():
            return
        time.sleep(0.1)
    raise AssertionError("the lease never expired")


def won_deal(session: Session) -> crm_models.Opportunity:
    f.pipeline(session)
    owner = f.user(session, "owner@example.com", password=None)
    deal = f.opportunity(session, f.SYSTEM, account_id=f.account(session).id, owner_id=owner.id)
    stages = {stage.key: stage for stage in crm.stages_of(session, deal.pipeline_id)}
    crm.change_stage(session, actor=f.SYSTEM, opportunity=deal, to_stage_id=stages["won"].id)
    return deal


def tasks(session: Session) -> list[Any]:
    return list(session.scalars(select(crm_models.Activity).where(crm_models.Activity.kind == "task")))


def test_killed_during_the_webhook_the_restart_resends_with_the_same_key(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    with receiver(block_first=True) as hook:
        rule = make_rule(
            session,
            {
                "trigger": {"type": "record_event", "event": "opportunity.won"},
                "actions": [TASK, {"type": "webhook", "url": hook.url}],
            },
        )
        won_deal(session)
        session.commit()
        first = worker(db_url, tmp_path)
        assert hook.arrived.wait(60), "the worker never called the webhook"
        first.kill()  # SIGKILL while the receiver holds the request: no cleanup, no commit
        first.wait(timeout=30)
        session.expire_all()
        [run] = runs_of(session, rule)
        task_step, hook_step = steps_of(session, run)
        assert (run.status, run.current_step) == ("running", 1)
        assert (task_step.status, hook_step.status) == ("done", "pending")
        assert len(tasks(session)) == 1 and len(hook.requests) == 1
        session.commit()
        hook.release.set()
        wait_for_lease_to_expire(session, run.id)

        assert finish(worker(db_url, tmp_path), tmp_path) == 0
        session.expire_all()
        [run] = runs_of(session, rule)
        task_step, hook_step = steps_of(session, run)
        assert run.status == "done"
        assert (task_step.status, hook_step.status) == ("done", "done")
        # Delivered twice, with one key: a receiver that deduplicates acts once.
        assert hook.keys == [hook_step.idempotency_key] * 2 == [f"run:{run.id}:step:1"] * 2
        assert len(hook.processed) == 1
        assert len(tasks(session)) == 1
        assert session.get(ActionReceipt, hook_step.idempotency_key) is not None
        assert hook_step.attempts == 1  # the killed attempt's bookkeeping rolled back with it
        done = [
            e.payload["position"]
            for e in events_for_entity(session, "automation_run", run.id)
            if e.type == "automation.step_done"
        ]
        assert done == [0, 1]


def test_crashed_after_creating_the_task_the_restart_creates_it_once(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    rule = make_rule(
        session, {"trigger": {"type": "record_event", "event": "opportunity.won"}, "actions": [TASK]}
    )
    won_deal(session)
    session.commit()
    # Exits (os._exit) after the task is written, before the step's commit.
    assert finish(worker(db_url, tmp_path, fault="after_action"), tmp_path) == 1
    session.expire_all()
    [run] = runs_of(session, rule)
    assert tasks(session) == [] and steps_of(session, run)[0].status == "pending"
    session.commit()
    wait_for_lease_to_expire(session, run.id)
    assert finish(worker(db_url, tmp_path), tmp_path) == 0
    session.expire_all()
    [run] = runs_of(session, rule)
    assert run.status == "done" and len(tasks(session)) == 1


def test_crashed_between_the_match_and_the_action_the_restart_acts_once(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    rule = make_rule(
        session, {"trigger": {"type": "record_event", "event": "opportunity.won"}, "actions": [TASK]}
    )
    won_deal(session)
    session.commit()
    assert finish(worker(db_url, tmp_path, fault="after_match"), tmp_path) == 1
    session.expire_all()
    [run] = runs_of(session, rule)
    assert run.status == "pending" and tasks(session) == []
    session.commit()
    assert finish(worker(db_url, tmp_path), tmp_path) == 0
    assert finish(worker(db_url, tmp_path), tmp_path) == 0
    session.expire_all()
    assert [r.status for r in runs_of(session, rule)] == ["done"]
    assert len(tasks(session)) == 1
