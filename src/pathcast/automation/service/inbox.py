"""The human inbox: approvals and confirmations a run waits for, and their decisions.

Only the assignee decides (or an admin, for someone who is away). An approval is
approved or rejected, a confirmation confirmed or declined; a note is required when
the rule asked for one. A positive decision makes the run due again at its next step
(the worker picks it up at once); a negative one stops the run, with who decided
and why as its outcome. When the admin requires verification of AI insights, an approval
about a deal or account with unverified suggestions is refused until they are verified or
dismissed (``forecast.service.guardrail``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation.engine import runner
from pathcast.automation.models import InboxItem, InboxKind, InboxStatus, Run
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event

Decision = Literal["approve", "reject", "confirm", "decline"]

# kind -> decision -> (status it leaves the item in, whether the run goes on)
DECISIONS: dict[str, dict[str, tuple[InboxStatus, bool]]] = {
    InboxKind.approval.value: {
        "approve": (InboxStatus.approved, True),
        "reject": (InboxStatus.rejected, False),
    },
    InboxKind.confirmation.value: {
        "confirm": (InboxStatus.confirmed, True),
        "decline": (InboxStatus.declined, False),
    },
}


def open_items(session: Session, *, actor: Actor, everyone: bool = False) -> list[InboxItem]:
    """The actor's open items, oldest first; an admin may ask for everyone's."""
    query = select(InboxItem).where(InboxItem.status == InboxStatus.open.value)
    if not (everyone and actor.is_admin):
        if actor.user_id is None:
            return []
        query = query.where(InboxItem.assignee_id == actor.user_id)
    return list(session.scalars(query.order_by(InboxItem.created_at, InboxItem.id)))


def get_item(session: Session, *, item_id: int, actor: Actor) -> InboxItem:
    """One item of the actor's (any item, for an admin)."""
    item = session.get(InboxItem, item_id)
    if item is None or not (
        actor.is_admin or (actor.user_id is not None and item.assignee_id == actor.user_id)
    ):
        raise NotFound(entity="inbox_item", id=item_id)
    return item


def decide(
    session: Session,
    *,
    item_id: int,
    actor: Actor,
    decision: Decision,
    note: str | None,
    now: datetime | None = None,
) -> InboxItem:
    """Record a decision and resume or stop the run that waits on it."""
    item = session.scalars(select(InboxItem).where(InboxItem.id == item_id).with_for_update()).first()
    if item is None:
        raise NotFound(entity="inbox_item", id=item_id)
    if not actor.is_admin and (actor.user_id is None or item.assignee_id != actor.user_id):
        raise PermissionDenied("not_assignee", id=item_id)
    if item.status != InboxStatus.open.value:
        raise Conflict("already_decided", id=item_id, status=item.status)
    allowed = DECISIONS[item.kind]
    if decision not in allowed:
        raise InvalidInput.single("decision", "wrong_decision", value=decision, allowed=sorted(allowed))
    text = note.strip() if note and note.strip() else None
    if item.note_required and text is None:
        raise InvalidInput.single("note", "note_required")
    if item.kind == InboxKind.approval.value and decision == "approve":
        _guard_unverified_insights(session, item)
    status, positive = allowed[decision]
    # Lock the run before the event log's head, the order the engine takes them in, so a
    # decision and a worker never wait on each other (PostgreSQL would call it a deadlock).
    session.scalars(select(Run.id).where(Run.id == item.run_id).with_for_update()).first()
    at = now or utcnow()
    item.status = status.value
    item.decided_by_id = actor.user_id
    item.decided_at = at
    item.note = text
    session.flush()
    append_event(
        session,
        type=f"automation.{item.kind}_decided",
        entity="automation_inbox",
        entity_id=item.id,
        actor=actor.label,
        payload={
            "before": {"status": InboxStatus.open.value},
            "after": {"status": status.value},
            "run_id": item.run_id,
            "decision": decision,
            "note": text,
        },
    )
    outcome = f"{status.value} by {actor.label}" + (f": {text}" if text else "")
    runner.decide_step(
        session,
        run_id=item.run_id,
        step_id=item.step_id,
        positive=positive,
        detail={"decision": decision, "decided_by": actor.label, "note": text, "inbox_item_id": item.id},
        outcome=outcome,
        now=at,
    )
    return item


def _guard_unverified_insights(session: Session, item: InboxItem) -> None:
    """AI insights enter no approval unverified when the admin requires a rep's verification:
    an approval of a run about a deal or account with open suggestions is refused (409), with
    the suggestions listed, until the owner verifies or dismisses them."""
    from pathcast.automation.engine.records import Records
    from pathcast.forecast.service import guardrail

    if not guardrail.verification_required(session):
        return
    run = session.get(Run, item.run_id)
    if run is None or run.subject_entity is None or run.subject_id is None:
        return
    subject = Records(session).subject(run.subject_entity, run.subject_id)
    pending = guardrail.unverified_insights(
        session, opportunity_id=subject.opportunity_id, account_id=subject.account_id
    )
    guardrail.refuse_unverified(pending, code="approval_needs_verified_insights")
