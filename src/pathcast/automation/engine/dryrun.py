"""Dry-run on history: what a rule would have done between two dates, without doing it.

The events that occurred in ``[since, until)`` are replayed in log order through the
same :class:`RuleIndex` and condition code the engine uses, with each record's fields
rebuilt as they stood when the event occurred. Behaviour rules replay the views (with
identity links and consent as they stood then); schedules list their occurrences.

For each fire: its reason, how the conditions were checked, the external checks it
would ask (never called: a dry-run calls nothing), whether a wait's ``unless`` would
have stopped it (the history after the fire says), and each action described, with
whom it would reach (adapters run with ``dry_run=True`` inside a savepoint that is
rolled back). Nothing is written: no run, no event, no receipt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from pathcast.automation import actions
from pathcast.automation import ir as rule_ir
from pathcast.automation.actions import recipients
from pathcast.automation.actions.base import ActionContext, Subject
from pathcast.automation.engine import behaviour, schedule
from pathcast.automation.engine.catalog import load_stages
from pathcast.automation.engine.matcher import (
    Candidate,
    CompiledRule,
    Missing,
    RuleIndex,
    evaluate_conditions,
    show,
)
from pathcast.automation.engine.outbox import ENGINE_PREFIX, matched_fires
from pathcast.automation.engine.records import Records
from pathcast.automation.engine.runner import find_unless, route, rule_actor
from pathcast.events import Event, events_between, format_timestamp

BATCH = 1000


@dataclass
class DryRunAction:
    """One action the fire would take, in words, and what its adapter says it would do."""

    type: str
    description: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DryRunFire:
    """One fire the rule would have had."""

    at: datetime
    reason: str
    fire_key: str
    event_id: int | None
    subject_entity: str | None
    subject_id: str | None
    conditions: list[str]
    checks: list[str]
    wait: str | None
    stopped_by: str | None
    actions: list[DryRunAction]

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": format_timestamp(self.at),
            "reason": self.reason,
            "fire_key": self.fire_key,
            "event_id": self.event_id,
            "subject": {"entity": self.subject_entity, "id": self.subject_id},
            "conditions": self.conditions,
            "checks": self.checks,
            "wait": self.wait,
            "stopped_by": self.stopped_by,
            "actions": [
                {"type": a.type, "description": a.description, "detail": a.detail} for a in self.actions
            ],
        }


def describe_action(action: Any) -> str:
    """An action in plain words, from the IR alone."""

    def who(recipient: rule_ir.Recipient) -> str:
        return recipients.describe(recipient)

    if isinstance(action, rule_ir.NotifyAction):
        people = ", ".join(who(r) for r in action.recipients)
        return f"notify {people} via {', '.join(action.channels)}" + (
            f": “{action.message}”" if action.message else ""
        )
    if isinstance(action, rule_ir.CreateTaskAction):
        due = f", due in {action.due_in}" if action.due_in else ""
        return f"create the task “{action.title}” for {who(action.assignee)}{due}"
    if isinstance(action, rule_ir.CreateMeetingAction):
        attendees = ", ".join(who(r) for r in action.attendees)
        within = f" within {action.within}" if action.within else ""
        return f"book “{action.title}” ({action.duration_minutes} min) with {attendees}{within}"
    if isinstance(action, rule_ir.TagAction):
        return f"tag the {action.target} “{action.tag}”"
    if isinstance(action, rule_ir.SetFieldAction):
        return f"set {action.entity}.{action.field} to {show(action.value)}"
    if isinstance(action, rule_ir.PushContentAction):
        return f"send “{action.content}” to {who(action.to)}"
    if isinstance(action, rule_ir.WebhookAction):
        return f"call the webhook {action.connector or action.url}"
    if isinstance(action, rule_ir.RequireApprovalAction):
        routes = ", ".join(f"{key} → {r.value}" for key, r in action.routes.items())
        default = f", otherwise {action.default.value}" if action.default else ""
        return f"ask for approval routed by {action.route_by} ({routes}{default})"
    if isinstance(action, rule_ir.RequireConfirmationAction):
        note = " with a written note" if action.note_required else ""
        return f"ask {who(action.by)} to confirm{note}"
    return (
        f"{action.type} (not available yet)" if action.type in rule_ir.NOT_YET_AVAILABLE else str(action.type)
    )


def _preview(
    session: Session,
    action: Any,
    rule: CompiledRule,
    subject: Subject,
    event: dict[str, Any] | None,
    at: datetime,
    records: Records,
) -> dict[str, Any]:
    """What the adapter says it would do, with every write it might attempt rolled back."""
    if isinstance(action, rule_ir.RequireApprovalAction):
        try:
            value = records.resolver(subject.entity, subject.id)(action.route_by)
        except Missing:
            value = None
        recipient, routed_by = route(action, value)
        people = recipients.resolve(session, recipient, subject) if recipient else []
        return {"routed_by": routed_by, "assignees": [p.email for p in people]}
    if isinstance(action, rule_ir.RequireConfirmationAction):
        people = recipients.resolve(session, action.by, subject)
        return {"assignees": [p.email for p in people], "note_required": action.note_required}
    context = ActionContext(
        session=session,
        rule_id=rule.rule_id,
        rule_version=rule.version,
        rule_name=rule.name,
        run_id=0,
        step_id=0,
        idempotency_key="dry-run",
        subject=subject,
        event=event,
        now=at,
        actor=rule_actor(rule.rule_id),
        dry_run=True,
    )
    savepoint = session.begin_nested()
    try:
        outcome = actions.execute(action, context)
        return {"status": outcome.status, **outcome.detail}
    except Exception as error:  # a preview must not break the listing
        return {"status": "unknown", "error": f"{type(error).__name__}: {error}"}
    finally:
        savepoint.rollback()


def _fire(
    session: Session,
    rule: CompiledRule,
    candidate: Candidate,
    notes: list[str],
    *,
    at: datetime,
    event: Event | None,
) -> DryRunFire:
    records = Records(session, as_of=at)
    subject = records.subject(candidate.subject_entity, candidate.subject_id)
    wait_text = stopped_by = None
    if rule.ir.wait is not None:
        wait = rule.ir.wait
        wait_text = f"wait {wait.duration}" + (
            f" unless {', '.join(m.event for m in wait.unless)}" if wait.unless else ""
        )
        deadline = at + rule_ir.parse_duration(wait.duration)
        cancelled = find_unless(
            session,
            wait.unless,
            since_event_id=0,
            subject_entity=candidate.subject_entity,
            subject_id=candidate.subject_id,
            until=deadline,
            after=at,
        )
        if cancelled is not None:
            stopped_by = (
                f"{cancelled.type} on {cancelled.entity} #{cancelled.entity_id} (event {cancelled.id})"
            )
    event_json = (
        {
            "id": event.id,
            "type": event.type,
            "entity": event.entity,
            "entity_id": event.entity_id,
            "payload": event.payload,
            "occurred_at": format_timestamp(event.occurred_at),
        }
        if event is not None
        else None
    )
    return DryRunFire(
        at=at,
        reason=candidate.reason,
        fire_key=candidate.fire_key,
        event_id=event.id if event is not None else None,
        subject_entity=candidate.subject_entity,
        subject_id=candidate.subject_id,
        conditions=notes,
        checks=[
            f"would ask {c.connector}: {c.field} {c.op} {show(c.value)} (not called in a dry-run)"
            for c in rule.checks
        ],
        wait=wait_text,
        stopped_by=stopped_by,
        actions=[
            DryRunAction(
                action.type,
                describe_action(action),
                _preview(session, action, rule, subject, event_json, at, records),
            )
            for action in rule.ir.actions
        ],
    )


def dry_run(
    session: Session, *, ir: rule_ir.RuleIR, since: datetime, until: datetime, limit: int = 200
) -> list[DryRunFire]:
    """The fires ``ir`` would have had in ``[since, until)``, at most ``limit``, oldest first."""
    rule = CompiledRule(rule_id=0, version=0, name="dry-run", ir=ir)
    index = RuleIndex([rule], load_stages(session))
    fires: list[DryRunFire] = []
    if index.behaviour:
        for candidate, at in behaviour.replay(session, rule, since=since, until=until, limit=limit):
            records = Records(session, as_of=at)
            passed, notes = evaluate_conditions(
                rule.local_conditions, records.resolver(candidate.subject_entity, candidate.subject_id)
            )
            if passed:
                fires.append(_fire(session, rule, candidate, notes, at=at, event=None))
        return fires
    if index.schedules:
        trigger = ir.trigger
        assert isinstance(trigger, rule_ir.ScheduleTrigger)
        for moment in schedule.occurrences(trigger, since, until, limit):
            candidate = Candidate(
                rule, f"schedule:{moment:%Y%m%dT%H%MZ}", schedule.describe(trigger, moment), None, None
            )
            passed, notes = evaluate_conditions(
                rule.local_conditions, Records(session, as_of=moment).resolver(None, None)
            )
            if passed:
                fires.append(_fire(session, rule, candidate, notes, at=moment, event=None))
        return fires
    after_id = 0
    while len(fires) < limit:
        batch = events_between(session, since, until, limit=BATCH, after_id=after_id)
        if not batch:
            break
        for event in batch:
            if event.type.startswith(ENGINE_PREFIX):
                continue
            records = Records(session, as_of=event.occurred_at)
            for candidate, notes in matched_fires(index, event, records):
                fires.append(_fire(session, rule, candidate, notes, at=event.occurred_at, event=event))
            if len(fires) >= limit:
                break
        after_id = batch[-1].id
    fires.sort(key=lambda fire: (fire.at, fire.event_id or 0))
    return fires[:limit]
