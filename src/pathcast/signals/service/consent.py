"""The consent threshold: no behaviour against a contact's name before N deep interactions.

Deep interactions are a meeting held, a call over five minutes, a reply to an e-mail
and a portal login. Meetings and calls are counted from the activities crm records
(a reaction to ``activity.*`` events, in the same transaction); replies and logins
are recorded by the message ingest and the portal. Before the threshold, a contact's
visits count only in the account's anonymous aggregates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.config import get_settings
from pathcast.crm.service import get_readable, spec_for
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.events import EventDraft, append_event, react_to
from pathcast.signals import models as m
from pathcast.signals.schemas import ConsentRead
from pathcast.signals.service.identity import require_behaviour_right, require_contact_steward

LONG_CALL_MINUTES = 5
DEEP_ACTIVITY_KINDS = ("meeting", "call")


def threshold() -> int:
    """The configured N (``PATHCAST_CONSENT_THRESHOLD``, default 3)."""
    return get_settings().consent_threshold


def is_opted_out(session: Session, contact_id: int) -> bool:
    state = session.get(m.ConsentState, contact_id)
    return state is not None and state.opted_out_at is not None


def consent_state(session: Session, contact_id: int, *, as_of: datetime | None = None) -> ConsentRead:
    """Where the contact stands, now or as it stood at ``as_of``."""
    state = session.get(m.ConsentState, contact_id)
    count_query = (
        select(func.count()).select_from(m.DeepInteraction).where(m.DeepInteraction.contact_id == contact_id)
    )
    if as_of is not None:
        count_query = count_query.where(m.DeepInteraction.occurred_at <= as_of)
    count = int(session.scalar(count_query) or 0)
    crossed_at = state.crossed_at if state else None
    opted_out_at = state.opted_out_at if state else None
    if as_of is not None:
        crossed_at = crossed_at if crossed_at and crossed_at <= as_of else None
        opted_out_at = opted_out_at if opted_out_at and opted_out_at <= as_of else None
    return ConsentRead(
        contact_id=contact_id,
        deep_interactions=count,
        threshold=state.threshold if state and state.crossed_at else threshold(),
        crossed=crossed_at is not None and opted_out_at is None,
        crossed_at=crossed_at,
        opted_out=opted_out_at is not None,
        opted_out_at=opted_out_at,
    )


def read_consent(session: Session, *, contact_id: int, actor: Actor) -> ConsentRead:
    """The consent state of a contact the actor may read."""
    require_behaviour_right(actor)
    get_readable(session, actor, spec_for("contact"), contact_id)
    return consent_state(session, contact_id)


def record_deep_interaction(
    session: Session,
    *,
    contact_id: int,
    kind: m.DeepInteractionKind,
    source: str,
    occurred_at: datetime,
    actor_label: str,
    recorded_at: datetime | None = None,
) -> bool:
    """Count one deep interaction (once per source); cross the threshold when it is reached.

    ``recorded_at`` is when Pathcast learnt of it (default now; history replays pass
    their own moment): the threshold counts as crossed from then, never earlier.
    """
    exists = session.scalar(
        select(m.DeepInteraction.id).where(
            m.DeepInteraction.contact_id == contact_id, m.DeepInteraction.source == source
        )
    )
    if exists is not None:
        return False
    session.add(
        m.DeepInteraction(contact_id=contact_id, kind=kind.value, source=source, occurred_at=occurred_at)
    )
    session.flush()
    _refresh(session, contact_id, actor_label, recorded_at or utcnow())
    return True


def forget_deep_interaction(session: Session, *, contact_id: int, source: str, actor_label: str) -> None:
    """An activity no longer qualifies (edited or deleted). A crossed threshold stays crossed:
    consent once reached is history, not a live figure."""
    result = session.execute(
        delete(m.DeepInteraction).where(
            m.DeepInteraction.contact_id == contact_id, m.DeepInteraction.source == source
        )
    )
    if getattr(result, "rowcount", 0):
        _refresh(session, contact_id, actor_label, utcnow())


def _refresh(session: Session, contact_id: int, actor_label: str, at: datetime) -> None:
    count = int(
        session.scalar(
            select(func.count())
            .select_from(m.DeepInteraction)
            .where(m.DeepInteraction.contact_id == contact_id)
        )
        or 0
    )
    state = session.get(m.ConsentState, contact_id)
    if state is None:
        state = m.ConsentState(contact_id=contact_id, deep_interactions=0, threshold=threshold())
        session.add(state)
    state.deep_interactions = count
    if state.crossed_at is None and state.opted_out_at is None and count >= threshold():
        state.crossed_at = at
        state.threshold = threshold()
        session.flush()
        append_event(
            session,
            type="signals.threshold_reached",
            entity="contact",
            entity_id=contact_id,
            actor=actor_label,
            payload={"deep_interactions": count, "threshold": state.threshold},
            occurred_at=at,
        )
    session.flush()


def opt_out(session: Session, *, contact_id: int, actor: Actor) -> ConsentRead:
    """The contact asked not to be tracked: delete their identified behaviour, link nothing more.

    Hits, views and day figures of every browser ever linked to them go, with the links.
    The event records that it happened and how much was deleted, not what.
    """
    require_contact_steward(session, actor, contact_id)
    visitor_ids = list(
        session.scalars(
            select(m.IdentityLink.visitor_id).where(m.IdentityLink.contact_id == contact_id).distinct()
        )
    )
    deleted_hits = 0
    if visitor_ids:
        deleted_hits = getattr(
            session.execute(delete(m.Hit).where(m.Hit.visitor_id.in_(visitor_ids))), "rowcount", 0
        )
        session.execute(delete(m.VisitorAssetDay).where(m.VisitorAssetDay.visitor_id.in_(visitor_ids)))
        session.execute(delete(m.View).where(m.View.visitor_id.in_(visitor_ids)))
        session.execute(delete(m.IdentityLink).where(m.IdentityLink.contact_id == contact_id))
    state = session.get(m.ConsentState, contact_id)
    if state is None:
        state = m.ConsentState(contact_id=contact_id, deep_interactions=0, threshold=threshold())
        session.add(state)
    state.opted_out_at = utcnow()
    session.flush()
    append_event(
        session,
        type="signals.contact_opted_out",
        entity="contact",
        entity_id=contact_id,
        actor=actor.label,
        payload={"browsers": len(visitor_ids), "hits_deleted": deleted_hits},
    )
    return consent_state(session, contact_id)


def opt_in(session: Session, *, contact_id: int, actor: Actor) -> ConsentRead:
    """The contact agreed again: tracking may resume (nothing deleted comes back)."""
    require_contact_steward(session, actor, contact_id)
    state = session.get(m.ConsentState, contact_id)
    if state is not None and state.opted_out_at is not None:
        state.opted_out_at = None
        session.flush()
        append_event(
            session,
            type="signals.contact_opted_in",
            entity="contact",
            entity_id=contact_id,
            actor=actor.label,
        )
    return consent_state(session, contact_id)


def qualifying_activity(
    kind: str | None, done_at: datetime | None, occurred_at: datetime | None, duration: int | None
) -> m.DeepInteractionKind | None:
    """Whether an activity is a deep interaction: a meeting that took place, a long call."""
    if kind == "meeting":
        held_at = done_at or occurred_at
        if held_at is not None and held_at <= utcnow():
            return m.DeepInteractionKind.meeting
    if kind == "call" and duration is not None and duration > LONG_CALL_MINUTES:
        return m.DeepInteractionKind.long_call
    return None


@react_to("activity.")
def _on_activity_event(session: Session, draft: EventDraft) -> None:
    activity_id = int(draft.entity_id)
    source = f"activity:{activity_id}"
    before = draft.payload.get("before") or {}
    activity = None if draft.payload.get("deleted") else crm_lookups.get_activity(session, activity_id)
    old_contact = before.get("contact_id")
    if activity is None:
        if old_contact:
            forget_deep_interaction(
                session, contact_id=int(old_contact), source=source, actor_label=draft.actor
            )
        return
    if old_contact and old_contact != activity.contact_id:
        forget_deep_interaction(session, contact_id=int(old_contact), source=source, actor_label=draft.actor)
    if activity.contact_id is None:
        return
    kind = qualifying_activity(
        activity.kind, activity.done_at, activity.occurred_at, activity.duration_minutes
    )
    if kind is None:
        forget_deep_interaction(
            session, contact_id=activity.contact_id, source=source, actor_label=draft.actor
        )
        return
    record_deep_interaction(
        session,
        contact_id=activity.contact_id,
        kind=kind,
        source=source,
        occurred_at=activity.done_at or activity.occurred_at or utcnow(),
        actor_label=draft.actor,
        recorded_at=draft.occurred_at,
    )


def rebuild_from_activities(session: Session) -> int:
    """Count the deep interactions of every existing activity (after an import or an upgrade)."""
    counted = 0
    for activity in crm_lookups.activities_for_contacts(session, DEEP_ACTIVITY_KINDS):
        kind = qualifying_activity(
            activity.kind, activity.done_at, activity.occurred_at, activity.duration_minutes
        )
        if kind is None or activity.contact_id is None:
            continue
        counted += record_deep_interaction(
            session,
            contact_id=activity.contact_id,
            kind=kind,
            source=f"activity:{activity.id}",
            occurred_at=activity.done_at or activity.occurred_at or utcnow(),
            actor_label="system:rebuild",
        )
    return counted
