"""Turning a match into a durable run: the ``Run`` row, one ``Step`` per thing to do, and
the ``automation.rule_fired`` event, all in the caller's transaction.

A run's plan follows the IR's order, trigger → conditions → wait → actions: first one
``check`` step per connector condition (conditions without I/O were checked at match
time), then the ``wait`` step, then one step per action. ``run.context["plan"]`` maps
each step position back to the IR of the version the run references.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.automation.engine.matcher import Candidate, CompiledRule, EventLike
from pathcast.automation.ir import RuleIR
from pathcast.automation.models import Run, RunStatus, Step, StepStatus
from pathcast.events import append_event, format_timestamp

ENGINE_ACTOR = "automation"


def plan_for(ir: RuleIR) -> list[dict[str, Any]]:
    """The steps of a run of ``ir``: checks, the wait, the actions, with their IR index."""
    plan: list[dict[str, Any]] = [
        {"kind": "check", "index": index}
        for index, condition in enumerate(ir.conditions)
        if condition.connector
    ]
    if ir.wait is not None:
        plan.append({"kind": "wait"})
    plan.extend({"kind": action.type, "index": index} for index, action in enumerate(ir.actions))
    return plan


def event_json(event: EventLike) -> dict[str, Any]:
    """The triggering event as plain JSON, as actions receive it."""
    return {
        "id": event.id,
        "type": event.type,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "payload": event.payload,
        "occurred_at": format_timestamp(event.occurred_at),
    }


def idempotency_key(run_id: int, position: int) -> str:
    """The key an action's side effect is recorded under: stable across retries and restarts."""
    return f"run:{run_id}:step:{position}"


def create_run(
    session: Session,
    *,
    rule: CompiledRule,
    candidate: Candidate,
    now: datetime,
    since_event_id: int,
    event: EventLike | None = None,
    notes: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Run | None:
    """Persist one fire of ``rule``; ``None`` if this fire key already has a run.

    ``since_event_id`` is the log position at the fire: a wait's ``unless`` looks for
    events after it. The run is due at once (``next_attempt_at = now``).
    """
    exists = session.scalar(
        select(Run.id).where(Run.rule_id == rule.rule_id, Run.fire_key == candidate.fire_key)
    )
    if exists is not None:
        return None
    plan = plan_for(rule.ir)
    context: dict[str, Any] = {
        "plan": plan,
        "since_event_id": since_event_id,
        "event": event_json(event) if event is not None else None,
        "conditions": notes or [],
        **(extra or {}),
    }
    run = Run(
        rule_id=rule.rule_id,
        rule_version=rule.version,
        fire_key=candidate.fire_key[:200],
        status=RunStatus.pending.value,
        trigger_event_id=event.id if event is not None else None,
        subject_entity=candidate.subject_entity,
        subject_id=None if candidate.subject_id is None else str(candidate.subject_id),
        reason=candidate.reason,
        context=context,
        current_step=0,
        next_attempt_at=now,
        fired_at=now,
    )
    session.add(run)
    session.flush()
    for position, entry in enumerate(plan):
        session.add(
            Step(
                run_id=run.id,
                position=position,
                kind=entry["kind"],
                status=StepStatus.pending.value,
                idempotency_key=idempotency_key(run.id, position),
                attempts=0,
                outcome={},
            )
        )
    session.flush()
    append_event(
        session,
        type="automation.rule_fired",
        entity="automation_run",
        entity_id=run.id,
        actor=ENGINE_ACTOR,
        payload={
            "rule_id": rule.rule_id,
            "rule_version": rule.version,
            "rule_name": rule.name,
            "fire_key": run.fire_key,
            "reason": run.reason,
            "trigger_event_id": run.trigger_event_id,
            "subject": {"entity": run.subject_entity, "id": run.subject_id},
            "steps": [entry["kind"] for entry in plan],
        },
    )
    return run
