"""Schedule triggers: timers from a five-field cron in the rule's time zone.

The next fire time is persisted (``EngineCursor`` named ``schedule:<rule>``:
``position_at`` the next fire, ``position`` the rule's enabling event id), so a
restart neither forgets nor repeats a fire. Occurrences missed while no worker ran
collapse into one fire for the latest of them; a re-enabled (or re-versioned) rule
starts counting afresh from then, so it never fires for the time it was off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy.orm import Session

from pathcast.automation.engine.fire import create_run
from pathcast.automation.engine.matcher import Candidate, CompiledRule, RuleIndex, evaluate_conditions
from pathcast.automation.engine.outbox import head_position, lock_cursor
from pathcast.automation.engine.records import Records
from pathcast.automation.ir import ScheduleTrigger


def _zone(trigger: ScheduleTrigger) -> ZoneInfo:
    return ZoneInfo(trigger.timezone)


def next_fire(trigger: ScheduleTrigger, after: datetime) -> datetime:
    """The first occurrence strictly after ``after``, in UTC."""
    local = after.astimezone(_zone(trigger))
    following: datetime = croniter(trigger.cron, local).get_next(datetime)
    return following.astimezone(UTC)


def latest_fire(trigger: ScheduleTrigger, at_or_before: datetime) -> datetime:
    """The last occurrence at or before the moment, in UTC."""
    local = at_or_before.astimezone(_zone(trigger))
    minute = local.replace(second=0, microsecond=0)
    if croniter.match(trigger.cron, minute):
        return minute.astimezone(UTC)
    previous: datetime = croniter(trigger.cron, local).get_prev(datetime)
    return previous.astimezone(UTC)


def occurrences(trigger: ScheduleTrigger, since: datetime, until: datetime, limit: int) -> list[datetime]:
    """Occurrences in ``[since, until)`` (at most ``limit``), for dry-runs."""
    found: list[datetime] = []
    iterator = croniter(trigger.cron, since.astimezone(_zone(trigger)))
    # croniter starts strictly after ``since``; an occurrence exactly at ``since`` counts too.
    first = latest_fire(trigger, since)
    if first == since:
        found.append(first)
    while len(found) < limit:
        value: datetime = iterator.get_next(datetime)
        moment = value.astimezone(UTC)
        if moment >= until:
            break
        found.append(moment)
    return found


def cursor_name(rule: CompiledRule) -> str:
    return f"schedule:{rule.rule_id}:{rule.version}"


def describe(trigger: ScheduleTrigger, moment: datetime) -> str:
    local = moment.astimezone(_zone(trigger))
    return f"schedule “{trigger.cron}” ({trigger.timezone}) at {local:%Y-%m-%d %H:%M}"


def fire_due_schedules(session: Session, *, index: RuleIndex, now: datetime) -> int:
    """Create a run for every schedule rule whose next fire time has come; persist the next one."""
    created = 0
    for rule in index.schedules:
        trigger = rule.ir.trigger
        assert isinstance(trigger, ScheduleTrigger)
        cursor = lock_cursor(session, cursor_name(rule), now)
        if cursor.position_at is None or cursor.position != rule.enabled_from_event_id:
            # First sight of this rule (or it was re-enabled): the next occurrence from now.
            cursor.position = rule.enabled_from_event_id
            cursor.position_at = next_fire(trigger, now)
            cursor.updated_at = now
            continue
        if cursor.position_at > now:
            continue
        moment = latest_fire(trigger, now)
        cursor.position_at = next_fire(trigger, now)
        cursor.updated_at = now
        passed, notes = evaluate_conditions(rule.local_conditions, Records(session).resolver(None, None))
        if not passed:
            continue
        candidate = Candidate(
            rule=rule,
            fire_key=f"schedule:{moment.strftime('%Y%m%dT%H%MZ')}",
            reason=describe(trigger, moment),
            subject_entity=None,
            subject_id=None,
        )
        run = create_run(
            session,
            rule=rule,
            candidate=candidate,
            now=now,
            since_event_id=head_position(session),
            notes=notes,
            extra={"scheduled_for": moment.isoformat()},
        )
        created += run is not None
    session.flush()
    return created
