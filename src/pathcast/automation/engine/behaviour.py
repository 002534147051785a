"""Behaviour triggers: N qualifying views (downloads, clicks) of an asset within a window.

Raw hits never enter the event log, so these rules read the signals tables
incrementally, each stream after its own persisted cursor:

- ``signal_views`` on ``(last_hit_at, id)`` for views. A view is re-read each time a
  heartbeat moves its ``last_hit_at``, which is how a view that grows past the rule's
  ``min_dwell_seconds`` comes to qualify; it is counted once (``BehaviourHit`` is unique
  per rule and view), so re-reading is harmless.
- ``signal_hits`` on ``(received_at, id)`` for downloads and clicks.

A pass reads only rows stamped before ``now - SETTLE`` and then moves the cursor to
that bound: rows are stamped by the server (hits) or from the visitor's clock clamped
to the server's (views), so a row that commits within ``SETTLE`` of its stamp is never
skipped. A view whose heartbeat arrives later than that (a browser sending a backlog
after a day offline) is not counted: the price of never rescanning.

Who: for subject ``contact`` the visitor must be linked to a contact past the consent
threshold (``crossed_at`` set) who has not opted out; for ``account``, linked to any
contact of the account who has not opted out (an aggregate about the account).

When: each new qualifying hit counts the rule's hits for that subject in the window
``(end - within, end]``, ``end`` being the subject's latest hit time, leaving out hits at
or before the subject's last fire of this rule: each fire *consumes* the hits it counted,
so "3 views in 7 days" fires once per 3 fresh views, not on every view after the third.
The fire key is ``behaviour:<subject>:<id>:<hit id>``, so a fire happens once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from pathcast.automation.engine.fire import create_run
from pathcast.automation.engine.matcher import Candidate, CompiledRule, RuleIndex, evaluate_conditions
from pathcast.automation.engine.outbox import head_position, lock_cursor
from pathcast.automation.engine.records import Records
from pathcast.automation.ir import BehaviourTrigger, parse_duration
from pathcast.automation.models import BehaviourHit, Run
from pathcast.crm.service import lookups as crm_lookups
from pathcast.signals import models as sm

VIEWS_CURSOR = "signal_views"
HITS_CURSOR = "signal_hits"
SETTLE = timedelta(seconds=5)
BATCH_SIZE = 1000
MAX_BATCHES = 10


@dataclass(frozen=True, slots=True)
class Observation:
    """One view, download or click, as a behaviour rule sees it."""

    key: str  # "view:<id>" or "hit:<id>", unique per stream
    kind: str
    visitor_id: int
    asset_key: str | None
    asset_name: str | None
    at: datetime  # when it happened: the view's start, the hit's time
    dwell_ms: int


@dataclass(frozen=True, slots=True)
class Person:
    """Whom a visitor is, as far as behaviour rules may use it."""

    contact_id: int
    account_id: int | None
    consented: bool  # past the threshold and not opted out
    opted_out: bool


def trigger_of(rule: CompiledRule) -> BehaviourTrigger:
    trigger = rule.ir.trigger
    assert isinstance(trigger, BehaviourTrigger)
    return trigger


def qualifies(trigger: BehaviourTrigger, observation: Observation) -> bool:
    """Right kind, right asset (by key or name, case-insensitive), long enough."""
    if observation.kind != trigger.event:
        return False
    asset = trigger.asset
    if asset is not None:
        by_key = asset.key is not None and (observation.asset_key or "").casefold() == asset.key.casefold()
        by_name = (
            asset.name is not None and (observation.asset_name or "").casefold() == asset.name.casefold()
        )
        if not (by_key or by_name):
            return False
    minimum = (trigger.min_dwell_seconds or 0) * 1000
    return observation.kind != "view" or observation.dwell_ms >= minimum


def subject_of(trigger: BehaviourTrigger, person: Person | None) -> tuple[str, int] | None:
    """The contact or account a qualifying observation counts for, if it may count at all."""
    if person is None or person.opted_out:
        return None
    if trigger.subject == "contact":
        return ("contact", person.contact_id) if person.consented else None
    return ("account", person.account_id) if person.account_id is not None else None


def describe(trigger: BehaviourTrigger, subject: tuple[str, int], count: int, asset: str | None) -> str:
    what = {"view": "viewed", "download": "downloaded", "click": "clicked"}[trigger.event]
    dwell = f" (each ≥ {trigger.min_dwell_seconds} s)" if trigger.min_dwell_seconds else ""
    if trigger.asset is None:  # any asset: say which one completed the count
        return (
            f"{subject[0]} #{subject[1]} {what} {count} times within {trigger.within}{dwell}, last “{asset}”"
        )
    return f"{subject[0]} #{subject[1]} {what} “{asset}” {count} times within {trigger.within}{dwell}"


# --- reading the streams ----------------------------------------------------------------------


def _after(column: Any, id_column: Any, at: datetime, position: int) -> Any:
    return or_(column > at, and_(column == at, id_column > position))


def read_views(
    session: Session, *, at: datetime, position: int, bound: datetime, limit: int
) -> list[tuple[Observation, datetime, int]]:
    """Views whose ``(last_hit_at, id)`` is after the cursor and before ``bound``, in that order."""
    rows = session.execute(
        select(sm.View, sm.Asset.key, sm.Asset.name)
        .join(sm.Asset, sm.Asset.id == sm.View.asset_id)
        .where(_after(sm.View.last_hit_at, sm.View.id, at, position), sm.View.last_hit_at < bound)
        .order_by(sm.View.last_hit_at, sm.View.id)
        .limit(limit)
    )
    return [
        (
            Observation(
                f"view:{view.id}", "view", view.visitor_id, key, name, view.started_at, view.dwell_ms
            ),
            view.last_hit_at,
            view.id,
        )
        for view, key, name in rows
    ]


def read_hits(
    session: Session, *, at: datetime, position: int, bound: datetime, limit: int
) -> list[tuple[Observation, datetime, int]]:
    """Downloads and clicks received after the cursor and before ``bound``."""
    rows = session.execute(
        select(sm.Hit, sm.Asset.key, sm.Asset.name)
        .outerjoin(sm.Asset, sm.Asset.id == sm.Hit.asset_id)
        .where(
            sm.Hit.kind.in_(("download", "click")),
            _after(sm.Hit.received_at, sm.Hit.id, at, position),
            sm.Hit.received_at < bound,
        )
        .order_by(sm.Hit.received_at, sm.Hit.id)
        .limit(limit)
    )
    return [
        (
            Observation(f"hit:{hit.id}", hit.kind, hit.visitor_id, key, name, hit.occurred_at, hit.dwell_ms),
            hit.received_at,
            hit.id,
        )
        for hit, key, name in rows
    ]


def people(
    session: Session, visitor_ids: Iterable[int], *, as_of: datetime | None = None
) -> dict[int, Person]:
    """Visitor → person, through the identity links (in force at ``as_of``, else now) and consent."""
    wanted = sorted(set(visitor_ids))
    if not wanted:
        return {}
    links = select(sm.IdentityLink.visitor_id, sm.IdentityLink.contact_id).where(
        sm.IdentityLink.visitor_id.in_(wanted)
    )
    if as_of is None:
        links = links.where(sm.IdentityLink.reverted_at.is_(None))
    else:
        links = links.where(
            sm.IdentityLink.linked_at <= as_of,
            or_(sm.IdentityLink.reverted_at.is_(None), sm.IdentityLink.reverted_at > as_of),
        )
    linked = dict(session.execute(links.order_by(sm.IdentityLink.id)).all())
    contacts = set(linked.values())
    consent = {
        state.contact_id: state
        for state in session.scalars(select(sm.ConsentState).where(sm.ConsentState.contact_id.in_(contacts)))
    }
    accounts = crm_lookups.names_of_contacts(session, contacts)
    found: dict[int, Person] = {}
    for visitor_id, contact_id in linked.items():
        state = consent.get(contact_id)
        crossed = state.crossed_at if state else None
        opted = state.opted_out_at if state else None
        if as_of is not None:
            crossed = crossed if crossed and crossed <= as_of else None
            opted = opted if opted and opted <= as_of else None
        found[visitor_id] = Person(
            contact_id=contact_id,
            account_id=accounts.get(contact_id, ("", None))[1],
            consented=crossed is not None and opted is None,
            opted_out=opted is not None,
        )
    return found


# --- the live pass ------------------------------------------------------------------------------


def process_behaviour(
    session: Session, *, index: RuleIndex, now: datetime, batch_size: int = BATCH_SIZE
) -> int:
    """Count new qualifying views and hits for every behaviour rule; fire where a window fills."""
    rules = index.behaviour
    view_rules = [rule for rule in rules if trigger_of(rule).event == "view"]
    hit_rules = [rule for rule in rules if trigger_of(rule).event != "view"]
    created = _consume(session, VIEWS_CURSOR, view_rules, now, batch_size, reader=read_views)
    created += _consume(session, HITS_CURSOR, hit_rules, now, batch_size, reader=read_hits)
    return created


def _consume(
    session: Session,
    name: str,
    rules: list[CompiledRule],
    now: datetime,
    batch_size: int,
    *,
    reader: Any,
) -> int:
    cursor = lock_cursor(session, name, now)
    bound = now - SETTLE
    cursor.updated_at = now
    start = cursor.position_at
    if not rules:
        # Nothing listens: keep up without reading, so a rule enabled later starts from then.
        if start is None or start < bound:
            cursor.position_at, cursor.position = bound, 0
        return 0
    if start is None:
        enabled = [rule.enabled_at for rule in rules if rule.enabled_at is not None]
        start, cursor.position = (min(enabled) if enabled else bound), 0
    created = 0
    for _ in range(MAX_BATCHES):  # a backlog drains over several rounds, each bounded
        rows = reader(session, at=start, position=cursor.position, bound=bound, limit=batch_size)
        created += _count(session, rules, [row[0] for row in rows], now)
        if len(rows) < batch_size:
            cursor.position_at, cursor.position = max(start, bound), 0
            break
        start, cursor.position = rows[-1][1], rows[-1][2]
        cursor.position_at = start
    session.flush()
    return created


def _count(
    session: Session, rules: list[CompiledRule], observations: list[Observation], now: datetime
) -> int:
    if not observations:
        return 0
    counted = session.execute(
        select(BehaviourHit.rule_id, BehaviourHit.view_key).where(
            BehaviourHit.rule_id.in_([rule.rule_id for rule in rules]),
            BehaviourHit.view_key.in_([o.key for o in observations]),
        )
    )
    known: set[tuple[int, str]] = {(rule_id, key) for rule_id, key in counted}
    persons = people(session, [o.visitor_id for o in observations])
    created = 0
    for observation in observations:
        for rule in rules:
            trigger = trigger_of(rule)
            if (rule.rule_id, observation.key) in known or not qualifies(trigger, observation):
                continue
            if rule.enabled_at is not None and observation.at < rule.enabled_at:
                continue
            subject = subject_of(trigger, persons.get(observation.visitor_id))
            if subject is None:
                continue
            hit = BehaviourHit(
                rule_id=rule.rule_id,
                subject_type=subject[0],
                subject_id=subject[1],
                view_key=observation.key,
                occurred_at=observation.at,
            )
            session.add(hit)
            session.flush()
            known.add((rule.rule_id, observation.key))
            created += _maybe_fire(session, rule, trigger, subject, observation, hit, now)
    return created


def _last_fire(session: Session, rule: CompiledRule, subject: tuple[str, int]) -> datetime | None:
    context = session.scalar(
        select(Run.context)
        .where(
            Run.rule_id == rule.rule_id,
            Run.subject_entity == subject[0],
            Run.subject_id == str(subject[1]),
            Run.fire_key.like("behaviour:%"),
        )
        .order_by(Run.id.desc())
        .limit(1)
    )
    if not context or not context.get("window_until"):
        return None
    return datetime.fromisoformat(str(context["window_until"]))


def _maybe_fire(
    session: Session,
    rule: CompiledRule,
    trigger: BehaviourTrigger,
    subject: tuple[str, int],
    observation: Observation,
    hit: BehaviourHit,
    now: datetime,
) -> int:
    last = _last_fire(session, rule, subject)
    if last is not None and last >= observation.at:
        return 0  # an older view arriving late: its window was already consumed
    mine = (
        BehaviourHit.rule_id == rule.rule_id,
        BehaviourHit.subject_type == subject[0],
        BehaviourHit.subject_id == subject[1],
    )
    # The window ends at the subject's latest hit: a view whose dwell only now qualified
    # (it started before later views) still completes the window those views are in.
    latest = session.scalar(select(func.max(BehaviourHit.occurred_at)).where(*mine))
    end = max(observation.at, latest) if latest is not None else observation.at
    lower = end - parse_duration(trigger.within)
    if last is not None and last > lower:
        lower = last
    count = int(
        session.scalar(
            select(func.count())
            .select_from(BehaviourHit)
            .where(*mine, BehaviourHit.occurred_at > lower, BehaviourHit.occurred_at <= end)
        )
        or 0
    )
    if count < trigger.count_at_least:
        return 0
    records = Records(session)
    passed, notes = evaluate_conditions(rule.local_conditions, records.resolver(*subject))
    if not passed:
        return 0
    candidate = Candidate(
        rule=rule,
        fire_key=f"behaviour:{subject[0]}:{subject[1]}:{hit.id}",
        reason=describe(trigger, subject, count, observation.asset_name or observation.asset_key),
        subject_entity=subject[0],
        subject_id=str(subject[1]),
    )
    run = create_run(
        session,
        rule=rule,
        candidate=candidate,
        now=now,
        since_event_id=head_position(session),
        notes=notes,
        extra={"window_until": end.isoformat(), "hits": count, "observation": observation.key},
    )
    return int(run is not None)


# --- replay for dry-runs ------------------------------------------------------------------------


def replay(
    session: Session, rule: CompiledRule, *, since: datetime, until: datetime, limit: int
) -> list[tuple[Candidate, datetime]]:
    """Fires of a behaviour rule over past views/hits in ``[since, until)``, counted in memory
    with identity links and consent as they stood at each view (dwell as known now)."""
    trigger = trigger_of(rule)
    within = parse_duration(trigger.within)
    if trigger.event == "view":
        query = (
            select(sm.View, sm.Asset.key, sm.Asset.name)
            .join(sm.Asset, sm.Asset.id == sm.View.asset_id)
            .where(sm.View.started_at >= since, sm.View.started_at < until)
            .order_by(sm.View.started_at, sm.View.id)
        )
        observations = [
            Observation(f"view:{v.id}", "view", v.visitor_id, key, name, v.started_at, v.dwell_ms)
            for v, key, name in session.execute(query)
        ]
    else:
        hits = (
            select(sm.Hit, sm.Asset.key, sm.Asset.name)
            .outerjoin(sm.Asset, sm.Asset.id == sm.Hit.asset_id)
            .where(sm.Hit.kind == trigger.event, sm.Hit.occurred_at >= since, sm.Hit.occurred_at < until)
            .order_by(sm.Hit.occurred_at, sm.Hit.id)
        )
        observations = [
            Observation(f"hit:{h.id}", h.kind, h.visitor_id, key, name, h.occurred_at, h.dwell_ms)
            for h, key, name in session.execute(hits)
        ]
    fires: list[tuple[Candidate, datetime]] = []
    windows: dict[tuple[str, int], list[datetime]] = {}
    for observation in observations:
        if not qualifies(trigger, observation):
            continue
        person = people(session, [observation.visitor_id], as_of=observation.at).get(observation.visitor_id)
        subject = subject_of(trigger, person)
        if subject is None:
            continue
        times = [t for t in windows.get(subject, []) if t > observation.at - within]
        times.append(observation.at)
        if len(times) >= trigger.count_at_least:
            candidate = Candidate(
                rule=rule,
                fire_key=f"behaviour:{subject[0]}:{subject[1]}:{observation.key}",
                reason=describe(
                    trigger, subject, len(times), observation.asset_name or observation.asset_key
                ),
                subject_entity=subject[0],
                subject_id=str(subject[1]),
            )
            fires.append((candidate, observation.at))
            times = []  # consumed by the fire
            if len(fires) >= limit:
                break
        windows[subject] = times
    return fires
