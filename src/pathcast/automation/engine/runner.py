"""Durable runs: claim due runs under a lease, execute one step per transaction, persist, go on.

**Leases.** ``claim_due`` picks runs that are due (``next_attempt_at <= now``) and not
leased (``locked_until`` empty or past), with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL
(SQLite's single writer lock serialises claims), and stamps ``locked_by`` and
``locked_until``. Each step then runs in its own unit of work that re-reads the run
under a row lock and checks that the lease is still this worker's, so a worker that
stalled past its lease cannot act on a run another has taken over. A crashed
worker's runs become due again when its lease expires.

**Timers.** Retries (exponential backoff with jitter, at most ``MAX_ATTEMPTS``), waits
(``fired_at + duration``) and schedules are times in rows, never sleeping threads: they
survive any restart. A run waiting for a person has no ``next_attempt_at`` at all; the
inbox decision makes it due again.

**Exactly once.** A step's side effect and the step's completion commit together:

- local effects (a task, a tag, a field, an inbox item) are written in the step's
  transaction, with the action's receipt: a crash before the commit undoes them all, the
  retry does them once. Exactly once.
- remote effects (a webhook, an e-mail, a robot message) cannot join the transaction. The
  adapter writes the receipt right after the remote call, in the same transaction as
  the step's completion; a crash between the call and the commit makes the next attempt
  call again *with the same idempotency key* (``run:<id>:step:<n>``, sent as the
  webhook's ``Idempotency-Key``, the e-mail's Message-ID). That is at-least-once
  delivery with a stable key: effectively once for every receiver that deduplicates by
  it, and the step itself completes exactly once.
"""

from __future__ import annotations

import logging
import os
import random
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation import actions, ir
from pathcast.automation.actions import checks, recipients
from pathcast.automation.actions.base import ActionContext, Subject
from pathcast.automation.engine.fire import ENGINE_ACTOR
from pathcast.automation.engine.leases import ACTIVE, claim_due, release, take_over
from pathcast.automation.engine.matcher import (
    Missing,
    condition_holds,
    norm,
    show,
)
from pathcast.automation.engine.records import Records
from pathcast.automation.engine.waits import concerns, find_unless
from pathcast.automation.models import (
    InboxItem,
    InboxKind,
    InboxStatus,
    Notification,
    Rule,
    RuleVersion,
    Run,
    RunStatus,
    Step,
    StepStatus,
)
from pathcast.events import append_event, to_jsonable

logger = logging.getLogger("pathcast.automation")

MAX_ATTEMPTS = 6
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
TERMINAL = frozenset({RunStatus.done.value, RunStatus.stopped.value, RunStatus.failed.value})
HUMAN_STEPS = frozenset({"require_approval", "require_confirmation"})
# Fault injection for the crash tests: the named point calls os._exit(1) when this is set.
FAULT_ENV = "PATHCAST_ENGINE_FAULT"

StepResult = Literal["continue", "yield", "lost"]


def backoff(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Delay before attempt ``attempts + 1``: 10 s, 20 s, 40 s … capped at an hour, each
    scaled by a random factor in [0.5, 1] so that retries of many runs spread out."""
    exponential = BACKOFF_BASE * (2 ** max(0, attempts - 1))
    capped = min(exponential, BACKOFF_CAP)
    return capped * (rng or random).uniform(0.5, 1.0)


def rule_actor(rule_id: int) -> Actor:
    """Who a rule's changes are recorded as: ``rule:<id>``, with the system's rights."""
    return Actor.system(f"rule:{rule_id}")


def fault(point: str) -> None:
    """Crash here (``os._exit(1)``, no cleanup) when ``PATHCAST_ENGINE_FAULT`` names this point:
    how the crash tests stop a real worker between a trigger and its action's commit."""
    if os.environ.get(FAULT_ENV) == point:
        logger.error("fault injection: exiting at %s", point)
        os._exit(1)


# --- one step ---------------------------------------------------------------------------------


class _Turn:
    """Everything one step needs: the run, its rule and version, the step row, the clock."""

    def __init__(self, session: Session, run: Run, rule: Rule, version: RuleVersion, now: datetime) -> None:
        self.session = session
        self.run = run
        self.rule = rule
        self.ir = ir.RuleIR.model_validate(version.ir)
        self.now = now
        self.plan: list[dict[str, Any]] = list(run.context.get("plan") or [])
        self.records = Records(session)
        self._subject: Subject | None = None

    @property
    def subject(self) -> Subject:
        if self._subject is None:
            self._subject = self.records.subject(self.run.subject_entity, self.run.subject_id)
        return self._subject

    def step(self) -> Step:
        return self.session.scalars(
            select(Step).where(Step.run_id == self.run.id, Step.position == self.run.current_step)
        ).one()

    def event(
        self,
        type_: str,
        payload: dict[str, Any],
        *,
        entity: str = "automation_run",
        entity_id: int | None = None,
    ) -> None:
        append_event(
            self.session,
            type=type_,
            entity=entity,
            entity_id=self.run.id if entity_id is None else entity_id,
            actor=ENGINE_ACTOR,
            payload={"rule_id": self.run.rule_id, "rule_version": self.run.rule_version, **payload},
        )

    def set_context(self, **values: Any) -> None:
        # JSON columns do not track in-place changes: assign a new dict.
        self.run.context = {**self.run.context, **to_jsonable(values)}

    # transitions

    def advance(self, step: Step, status: str = StepStatus.done.value) -> StepResult:
        step.status = status
        step.finished_at = self.now
        step.last_error = None
        self.event(
            "automation.step_done",
            {"position": step.position, "kind": step.kind, "status": status, "attempts": step.attempts},
        )
        self.run.current_step += 1
        self.run.next_attempt_at = self.now
        if self.run.current_step >= len(self.plan):
            self.finish(RunStatus.done.value, "all steps done")
            return "yield"
        return "continue"

    def stop_after(self, step: Step, outcome: str) -> StepResult:
        """The step is done and says the run goes no further (a check failed, an unless happened)."""
        step.status = StepStatus.done.value
        step.finished_at = self.now
        self.event(
            "automation.step_done",
            {"position": step.position, "kind": step.kind, "status": step.status, "stops_run": True},
        )
        self.finish(RunStatus.stopped.value, outcome)
        return "yield"

    def finish(self, status: str, outcome: str) -> None:
        run = self.run
        run.status = status
        run.finished_at = self.now
        run.next_attempt_at = None
        release(run)
        self.set_context(outcome=outcome)
        self.event("automation.run_finished", {"status": status, "outcome": outcome})

    def fail(
        self, step: Step, error: str, *, retryable: bool, detail: dict[str, Any] | None = None
    ) -> StepResult:
        """A failed attempt: back off and try again, or, past the budget, fail the run."""
        step.last_error = error[:2000]
        if detail is not None:
            step.outcome = to_jsonable(detail)
        if retryable and step.attempts < MAX_ATTEMPTS:
            step.status = StepStatus.pending.value
            self.run.status = RunStatus.running.value
            self.run.next_attempt_at = self.now + backoff(step.attempts)
            release(self.run)
            return "yield"
        step.status = StepStatus.failed.value
        step.finished_at = self.now
        self.event(
            "automation.step_failed",
            {
                "position": step.position,
                "kind": step.kind,
                "attempts": step.attempts,
                "error": step.last_error,
            },
        )
        self.finish(RunStatus.failed.value, f"step {step.position + 1} ({step.kind}) failed: {error}")
        return "yield"

    def wait_until(self, when: datetime | None) -> StepResult:
        self.run.status = RunStatus.waiting.value
        self.run.next_attempt_at = when
        release(self.run)
        return "yield"


def step_run(
    session: Session, *, run_id: int, worker_id: str, now: datetime, lease_seconds: float
) -> StepResult:
    """Execute the current step of a run this worker leases. One call, one transaction."""
    run = session.scalars(select(Run).where(Run.id == run_id).with_for_update()).first()
    if run is None or run.locked_by != worker_id:
        return "lost"
    if run.status in TERMINAL or run.next_attempt_at is None or run.next_attempt_at > now:
        release(run)
        return "yield"
    run.locked_until = now + timedelta(seconds=lease_seconds)
    rule = session.get(Rule, run.rule_id)
    version = session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == run.rule_id, RuleVersion.version == run.rule_version)
    ).one()
    assert rule is not None  # runs are deleted with their rule
    turn = _Turn(session, run, rule, version, now)
    if run.current_step >= len(turn.plan):
        turn.finish(RunStatus.done.value, "all steps done")
        return "yield"
    if not rule.is_enabled:
        turn.finish(RunStatus.stopped.value, "the rule was disabled before this step")
        return "yield"
    if run.status == RunStatus.pending.value:
        run.status = RunStatus.running.value
    step = turn.step()
    step.started_at = step.started_at or now
    entry = turn.plan[run.current_step]
    kind = entry["kind"]
    if kind == "check":
        return _check(turn, step, turn.ir.conditions[entry["index"]])
    if kind == "wait":
        return _wait(turn, step)
    action = turn.ir.actions[entry["index"]]
    if kind in HUMAN_STEPS:
        return _human(turn, step, action)
    return _action(turn, step, action)


def record_crash(
    session: Session, *, run_id: int, worker_id: str, now: datetime, error: BaseException
) -> None:
    """A step raised (its transaction rolled back): count the attempt and back off, or fail."""
    run = session.scalars(select(Run).where(Run.id == run_id).with_for_update()).first()
    if run is None or run.locked_by != worker_id or run.status in TERMINAL:
        return
    rule = session.get(Rule, run.rule_id)
    version = session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == run.rule_id, RuleVersion.version == run.rule_version)
    ).one()
    assert rule is not None
    turn = _Turn(session, run, rule, version, now)
    if run.current_step >= len(turn.plan):
        release(run)
        return
    step = turn.step()
    step.attempts += 1
    turn.fail(step, f"{type(error).__name__}: {error}", retryable=True)


# --- the kinds of step ---------------------------------------------------------------------------


def check_context(turn: _Turn) -> dict[str, Any]:
    """The flat context an external check fills its URL and body from: the subject's ids and
    every field of the subject and its account, deal and contact as ``<entity>_<field>``."""
    subject = turn.subject
    context: dict[str, Any] = {
        "rule_id": turn.rule.id,
        "rule_name": turn.rule.name,
        "run_id": turn.run.id,
        "subject_entity": subject.entity,
        "subject_id": subject.id,
        "account_id": subject.account_id,
        "contact_id": subject.contact_id,
        "opportunity_id": subject.opportunity_id,
    }
    related = {
        subject.entity: subject.id,
        "account": subject.account_id,
        "opportunity": subject.opportunity_id,
        "contact": subject.contact_id,
    }
    for entity, record_id in related.items():
        if entity is None or record_id is None:
            continue
        state = turn.records.state(entity, record_id) or {}
        for name, value in state.items():
            context.setdefault(f"{entity}_{name}", value)
            if entity == subject.entity:
                context.setdefault(name, value)
    return dict(to_jsonable(context))


def _check(turn: _Turn, step: Step, condition: ir.Condition) -> StepResult:
    step.attempts += 1
    assert condition.connector is not None
    try:
        value = checks.evaluate_check(turn.session, condition.connector, condition.field, check_context(turn))
    except checks.CheckUnavailable as unavailable:
        # Retried either way within the budget: a misconfigured connector can be fixed meanwhile.
        return turn.fail(step, unavailable.reason, retryable=True, detail=unavailable.detail)
    held = condition_holds(condition, value)
    step.outcome = to_jsonable(
        {"connector": condition.connector, "field": condition.field, "value": value, "held": held}
    )
    if held:
        return turn.advance(step)
    return turn.stop_after(
        step,
        f"{condition.connector}: {condition.field} = {show(value)} ({condition.op} {show(condition.value)}: no)",
    )


def _wait(turn: _Turn, step: Step) -> StepResult:
    wait = turn.ir.wait
    assert wait is not None
    due = turn.run.fired_at + ir.parse_duration(wait.duration)
    if turn.now < due:
        if step.status != StepStatus.waiting.value:
            step.status = StepStatus.waiting.value
            step.outcome = {"until": due.isoformat()}
        return turn.wait_until(due)
    cancelled = find_unless(
        turn.session,
        wait.unless,
        since_event_id=int(turn.run.context.get("since_event_id") or 0),
        subject_entity=turn.run.subject_entity,
        subject_id=turn.run.subject_id,
        until=due,
    )
    if cancelled is None:
        step.outcome = {"until": due.isoformat(), "waited": wait.duration}
        return turn.advance(step)
    step.outcome = {
        "until": due.isoformat(),
        "cancelled_by": {
            "event_id": cancelled.id,
            "type": cancelled.type,
            "entity": cancelled.entity,
            "entity_id": cancelled.entity_id,
        },
    }
    return turn.stop_after(
        step, f"{cancelled.type} on {cancelled.entity} #{cancelled.entity_id} happened within {wait.duration}"
    )


def route(action: ir.RequireApprovalAction, value: Any) -> tuple[ir.Recipient | None, str]:
    """The approver a field's value picks, and how, in words: ``account.tier = strategic → sales_vp``."""
    wanted = norm(value)
    for key, recipient in action.routes.items():
        if norm(key) == wanted:
            return recipient, f"{action.route_by} = {show(value)} → {recipient.value}"
    if action.default is not None:
        return action.default, f"{action.route_by} = {show(value)} → {action.default.value} (default)"
    return None, f"{action.route_by} = {show(value)}: no route and no default"


def _subject_snapshot(session: Any, entity: str | None, record_id: str | None) -> dict[str, Any] | None:
    """The subject's fields as they stand, for the person asked to decide: an approver may
    not otherwise be allowed to open a rep's quote, yet must see what they approve."""
    from pathcast.crm.service import snapshot, spec_for
    from pathcast.errors import NotFound as UnknownEntity

    if entity is None or record_id is None or not str(record_id).isdigit():
        return None
    try:
        spec = spec_for(entity)
    except UnknownEntity:
        return None
    record = session.get(spec.model, int(record_id))
    return snapshot(record) if record is not None else None


def _human(turn: _Turn, step: Step, action: Any) -> StepResult:
    if step.status == StepStatus.waiting.value:
        return turn.wait_until(None)  # still with a person; the inbox decision resumes it
    step.attempts += 1
    if isinstance(action, ir.RequireApprovalAction):
        kind = InboxKind.approval.value
        try:
            value = turn.records.resolver(turn.run.subject_entity, turn.run.subject_id)(action.route_by)
        except Missing:
            value = None
        recipient, routed_by = route(action, value)
        note_required = False
        title = f"Approve: {turn.rule.name} — {turn.run.reason}"
        prompt = action.subject
    else:
        assert isinstance(action, ir.RequireConfirmationAction)
        kind = InboxKind.confirmation.value
        recipient, routed_by = action.by, f"confirmation by {recipients.describe(action.by)}"
        note_required = action.note_required
        title = f"Confirm: {action.prompt or turn.rule.name} — {turn.run.reason}"
        prompt = action.prompt
    if recipient is None:
        return turn.fail(step, routed_by, retryable=False)
    people = recipients.resolve(turn.session, recipient, turn.subject)
    assignee_id = people[0].id if people else turn.rule.owner_id
    if not people:
        routed_by += f" — nobody holds {recipients.describe(recipient)}; sent to the rule's owner"
    if assignee_id is None:
        return turn.fail(step, f"{routed_by}, and the rule has no owner", retryable=False)
    item = InboxItem(
        kind=kind,
        status=InboxStatus.open.value,
        run_id=turn.run.id,
        step_id=step.id,
        assignee_id=assignee_id,
        routed_by=routed_by[:300],
        title=title[:300],
        detail=to_jsonable(
            {
                "rule_id": turn.rule.id,
                "rule_name": turn.rule.name,
                "reason": turn.run.reason,
                "prompt": prompt,
                "subject": {"entity": turn.run.subject_entity, "id": turn.run.subject_id},
                "snapshot": _subject_snapshot(turn.session, turn.run.subject_entity, turn.run.subject_id),
                "candidates": [person.id for person in people],
            }
        ),
        note_required=note_required,
    )
    turn.session.add(item)
    turn.session.flush()
    # Tell the assignee in the app, in the same transaction as the item (exactly once).
    waiting = (
        "需要您审批 · Approval needed" if kind == InboxKind.approval.value else "需要您确认 · Please confirm"
    )
    turn.session.add(
        Notification(
            user_id=assignee_id,
            title=f"{waiting}: {turn.rule.name}"[:300],
            body=turn.run.reason,
            run_id=turn.run.id,
            channels={"in_app": True, "inbox_item_id": item.id},
            created_at=turn.now,
        )
    )
    step.status = StepStatus.waiting.value
    step.outcome = {"inbox_item_id": item.id, "assignee_id": assignee_id, "routed_by": item.routed_by}
    turn.event(
        f"automation.{kind}_requested",
        {"run_id": turn.run.id, "assignee_id": assignee_id, "routed_by": item.routed_by},
        entity="automation_inbox",
        entity_id=item.id,
    )
    return turn.wait_until(None)


def _action(turn: _Turn, step: Step, action: Any) -> StepResult:
    step.attempts += 1
    step.status = StepStatus.running.value
    ctx = ActionContext(
        session=turn.session,
        rule_id=turn.rule.id,
        rule_version=turn.run.rule_version,
        rule_name=turn.rule.name,
        run_id=turn.run.id,
        step_id=step.id,
        idempotency_key=step.idempotency_key,
        subject=turn.subject,
        event=turn.run.context.get("event"),
        now=turn.now,
        actor=rule_actor(turn.rule.id),
    )
    outcome = actions.execute(action, ctx)
    fault("after_action")
    if outcome.status == "failed":
        reason = str(outcome.detail.get("reason") or outcome.detail.get("error") or "the action failed")
        return turn.fail(step, reason, retryable=outcome.retryable, detail=outcome.detail)
    step.outcome = to_jsonable(outcome.detail)
    return turn.advance(step, outcome.status)


def decide_step(
    session: Session,
    *,
    run_id: int,
    step_id: int,
    positive: bool,
    detail: dict[str, Any],
    outcome: str,
    now: datetime,
) -> bool:
    """A person decided a human step: resume the run at its next step, or stop it.
    False when the run had already moved on (stopped, disabled, decided)."""
    run = session.scalars(select(Run).where(Run.id == run_id).with_for_update()).first()
    if run is None or run.status in TERMINAL:
        return False
    step = session.get(Step, step_id)
    if step is None or step.position != run.current_step or step.status != StepStatus.waiting.value:
        return False
    rule = session.get(Rule, run.rule_id)
    version = session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == run.rule_id, RuleVersion.version == run.rule_version)
    ).one()
    assert rule is not None
    turn = _Turn(session, run, rule, version, now)
    step.outcome = to_jsonable({**(step.outcome or {}), **detail})
    if not positive:
        turn.stop_after(step, outcome)
        return True
    if turn.advance(step) == "continue":
        run.status = RunStatus.pending.value
        release(run)
    return True


__all__ = [
    "ACTIVE",
    "FAULT_ENV",
    "MAX_ATTEMPTS",
    "backoff",
    "claim_due",
    "concerns",
    "decide_step",
    "fault",
    "find_unless",
    "record_crash",
    "route",
    "rule_actor",
    "step_run",
    "take_over",
]
