"""Rules: create, version, enable, disable, read; every write with its Event.

Who may do what (the one home of these checks):

- **read**: admins see every rule; managers and reps see rules scoped to ``all``, to
  their own team (``scope="team"``, ``scope_value`` = the team id), to their team's region
  (``scope="region"``, ``scope_value`` = the region name), and rules they own. Members
  and customer contacts see none.
- **create, edit, enable, disable**: admins any rule; managers the rules they own and the
  team rules of their own team. A manager creates rules for ``all``, a region, or their
  own team (a team rule without a value is their team's). Reps only read.

Rules are versioned: an edit adds a ``RuleVersion`` and points the rule at it; old
versions stay readable and the runs they made keep naming them. Enabling records the
event id from which the rule matches (the enabling event's own id), so history
written before it never fires the rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, Team
from pathcast.auth.permissions import Actor
from pathcast.automation.ir import RuleIR
from pathcast.automation.models import Rule, RuleScope, RuleVersion, Run, Step
from pathcast.db import utcnow
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event, flush_events

READERS = frozenset({Role.admin, Role.manager, Role.rep})
EDITORS = frozenset({Role.admin, Role.manager})
ENTITY = "automation_rule"


@dataclass
class RuleSummary:
    """A rule with its current version and how many runs it has per status."""

    rule: Rule
    version: RuleVersion
    run_counts: dict[str, int]


# --- permissions ----------------------------------------------------------------------------------


def _visible(actor: Actor) -> ColumnElement[bool]:
    team_region = select(Team.region).where(Team.id == actor.team_id).scalar_subquery()
    clauses: list[ColumnElement[bool]] = [Rule.scope == RuleScope.all.value]
    if actor.user_id is not None:
        clauses.append(Rule.owner_id == actor.user_id)
    if actor.team_id is not None:
        clauses.append((Rule.scope == RuleScope.team.value) & (Rule.scope_value == str(actor.team_id)))
        clauses.append((Rule.scope == RuleScope.region.value) & (Rule.scope_value == team_region))
    return or_(*clauses)


def readable_rules(actor: Actor) -> Select[Rule]:
    """The statement every read of rules starts from."""
    if actor.role not in READERS:
        raise PermissionDenied("forbidden_model", entity="rule")
    query = select(Rule)
    return query if actor.is_admin else query.where(_visible(actor))


def may_edit(actor: Actor, rule: Rule) -> bool:
    """Admins edit any rule; managers their own and their team's team rules."""
    if actor.is_admin:
        return True
    if actor.role is not Role.manager:
        return False
    if actor.user_id is not None and rule.owner_id == actor.user_id:
        return True
    return rule.scope == RuleScope.team.value and rule.scope_value == str(actor.team_id)


def get_rule(session: Session, *, rule_id: int, actor: Actor) -> Rule:
    """A rule the actor may read; a hidden rule looks exactly like a missing one."""
    rule = session.scalars(readable_rules(actor).where(Rule.id == rule_id)).first()
    if rule is None:
        raise NotFound(entity="rule", id=rule_id)
    return rule


def _editable(session: Session, rule_id: int, actor: Actor) -> Rule:
    if actor.role not in EDITORS:
        get_rule(session, rule_id=rule_id, actor=actor)  # 404 before 403, so ids do not leak
        raise PermissionDenied("forbidden_operation", entity="rule", operation="update")
    rule = get_rule(session, rule_id=rule_id, actor=actor)
    if not may_edit(actor, rule):
        raise PermissionDenied("forbidden_record", entity="rule", id=rule_id)
    return rule


def _scope(actor: Actor, scope: str, scope_value: str | None) -> str | None:
    if scope not in {member.value for member in RuleScope}:
        raise InvalidInput.single("scope", "unknown_scope", value=scope, allowed=[m.value for m in RuleScope])
    value = scope_value.strip() if scope_value and scope_value.strip() else None
    if scope == RuleScope.all.value:
        return None
    if scope == RuleScope.region.value:
        if value is None:
            raise InvalidInput.single("scope_value", "region_required")
        return value
    if value is None:
        if actor.team_id is None:
            raise InvalidInput.single("scope_value", "team_required")
        value = str(actor.team_id)
    if not value.isdigit():
        raise InvalidInput.single("scope_value", "team_id_expected", value=value)
    if not actor.is_admin and value != str(actor.team_id):
        raise PermissionDenied("forbidden_scope", scope=scope, scope_value=value)
    return value


# --- writes ------------------------------------------------------------------------------------------


def _check_text(text: str, lang: str) -> None:
    if lang not in ("zh", "en"):
        raise InvalidInput.single("lang", "unknown_language", value=lang, allowed=["zh", "en"])
    if not text.strip():
        raise InvalidInput.single("text", "missing")


def _version(
    rule: Rule,
    number: int,
    *,
    text: str,
    lang: str,
    ir: RuleIR,
    readback_zh: str,
    readback_en: str,
    actor: Actor,
) -> RuleVersion:
    _check_text(text, lang)
    return RuleVersion(
        rule_id=rule.id,
        version=number,
        text=text.strip(),
        lang=lang,
        ir=ir.model_dump(mode="json", by_alias=True, exclude_none=False),
        readback_zh=readback_zh,
        readback_en=readback_en,
        created_at=utcnow(),
        created_by=actor.label,
    )


def create_rule(
    session: Session,
    *,
    name: str | None,
    text: str,
    lang: str,
    ir: RuleIR,
    readback_zh: str,
    readback_en: str,
    actor: Actor,
    scope: str = "all",
    scope_value: str | None = None,
) -> Rule:
    """A new rule at version 1, disabled (enable it once its read-back looks right)."""
    if actor.role not in EDITORS:
        raise PermissionDenied("forbidden_operation", entity="rule", operation="create")
    scope_value = _scope(actor, scope, scope_value)
    # Checked before the rule row is flushed, so a refused version leaves no orphan rule.
    _check_text(text, lang)
    title = (name or "").strip() or text.strip()[:80]
    if not title:
        raise InvalidInput.single("name", "missing")
    rule = Rule(
        name=title[:200],
        owner_id=actor.user_id,
        scope=scope,
        scope_value=scope_value,
        is_enabled=False,
        current_version=1,
    )
    session.add(rule)
    session.flush()
    version = _version(
        rule, 1, text=text, lang=lang, ir=ir, readback_zh=readback_zh, readback_en=readback_en, actor=actor
    )
    session.add(version)
    session.flush()
    append_event(
        session,
        type="automation.rule_created",
        entity=ENTITY,
        entity_id=rule.id,
        actor=actor.label,
        payload={
            "after": {"name": rule.name, "scope": scope, "scope_value": scope_value, "is_enabled": False},
            "version": 1,
            "text": version.text,
            "lang": lang,
            "trigger": ir.trigger.type,
        },
    )
    return rule


def update_rule(
    session: Session,
    *,
    rule_id: int,
    text: str,
    lang: str,
    ir: RuleIR,
    readback_zh: str,
    readback_en: str,
    actor: Actor,
) -> Rule:
    """A new version of the rule; the rule now runs it, earlier versions stay as they were."""
    rule = _editable(session, rule_id, actor)
    number = rule.current_version + 1
    version = _version(
        rule,
        number,
        text=text,
        lang=lang,
        ir=ir,
        readback_zh=readback_zh,
        readback_en=readback_en,
        actor=actor,
    )
    session.add(version)
    rule.current_version = number
    session.flush()
    append_event(
        session,
        type="automation.rule_version_added",
        entity=ENTITY,
        entity_id=rule.id,
        actor=actor.label,
        payload={
            "before": {"current_version": number - 1},
            "after": {"current_version": number},
            "text": version.text,
            "lang": lang,
            "trigger": ir.trigger.type,
        },
    )
    return rule


def enable_rule(session: Session, *, rule_id: int, actor: Actor) -> Rule:
    """Start matching: events after this one fire the rule, earlier ones never do."""
    rule = _editable(session, rule_id, actor)
    if rule.is_enabled:
        return rule
    event = append_event(
        session,
        type="automation.rule_enabled",
        entity=ENTITY,
        entity_id=rule.id,
        actor=actor.label,
        payload={
            "before": {"is_enabled": False},
            "after": {"is_enabled": True},
            "version": rule.current_version,
        },
    )
    if event.id is None:  # held by buffered_events: write it now to learn its position
        flush_events(session)
    rule.is_enabled = True
    rule.enabled_from_event_id = event.id
    session.flush()
    return rule


def disable_rule(session: Session, *, rule_id: int, actor: Actor) -> Rule:
    """Stop matching; runs in flight stop at their next step."""
    rule = _editable(session, rule_id, actor)
    if not rule.is_enabled:
        return rule
    rule.is_enabled = False
    session.flush()
    append_event(
        session,
        type="automation.rule_disabled",
        entity=ENTITY,
        entity_id=rule.id,
        actor=actor.label,
        payload={
            "before": {"is_enabled": True},
            "after": {"is_enabled": False},
            "version": rule.current_version,
        },
    )
    return rule


# --- reads ------------------------------------------------------------------------------------------


def run_counts(session: Session, rule_ids: list[int]) -> dict[int, dict[str, int]]:
    """Runs per rule and status."""
    counts: dict[int, dict[str, int]] = {rule_id: {} for rule_id in rule_ids}
    if not rule_ids:
        return counts
    rows = session.execute(
        select(Run.rule_id, Run.status, func.count())
        .where(Run.rule_id.in_(rule_ids))
        .group_by(Run.rule_id, Run.status)
    )
    for rule_id, status, count in rows:
        counts[rule_id][status] = int(count)
    return counts


def list_rules(session: Session, *, actor: Actor, enabled: bool | None = None) -> list[RuleSummary]:
    """The rules the actor may read, newest first, each with its current version and run counts."""
    query = readable_rules(actor)
    if enabled is not None:
        query = query.where(Rule.is_enabled.is_(enabled))
    rules = list(session.scalars(query.order_by(Rule.id.desc())))
    versions = {
        (version.rule_id, version.version): version
        for version in session.scalars(
            select(RuleVersion).where(RuleVersion.rule_id.in_([rule.id for rule in rules]))
        )
    }
    counts = run_counts(session, [rule.id for rule in rules])
    return [RuleSummary(rule, versions[(rule.id, rule.current_version)], counts[rule.id]) for rule in rules]


def rule_versions(session: Session, *, rule_id: int, actor: Actor) -> list[RuleVersion]:
    """Every version of a rule, oldest first."""
    get_rule(session, rule_id=rule_id, actor=actor)
    return list(
        session.scalars(
            select(RuleVersion).where(RuleVersion.rule_id == rule_id).order_by(RuleVersion.version)
        )
    )


def get_version(session: Session, *, rule_id: int, actor: Actor, version: int | None = None) -> RuleVersion:
    """One version of a rule (the current one by default)."""
    rule = get_rule(session, rule_id=rule_id, actor=actor)
    wanted = version if version is not None else rule.current_version
    found = session.scalars(
        select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.version == wanted)
    ).first()
    if found is None:
        raise NotFound(entity="rule_version", id=rule_id, version=wanted)
    return found


def current_ir(session: Session, *, rule_id: int, actor: Actor) -> RuleIR:
    """The IR the rule runs now (for a dry-run of a saved rule)."""
    return RuleIR.model_validate(get_version(session, rule_id=rule_id, actor=actor).ir)


def list_runs(
    session: Session, *, actor: Actor, rule_id: int | None = None, status: str | None = None, limit: int = 50
) -> list[Run]:
    """Runs of the rules the actor may read, newest first."""
    query = select(Run).where(Run.rule_id.in_(readable_rules(actor).with_only_columns(Rule.id)))
    if rule_id is not None:
        query = query.where(Run.rule_id == rule_id)
    if status is not None:
        query = query.where(Run.status == status)
    return list(session.scalars(query.order_by(Run.id.desc()).limit(max(1, min(limit, 500)))))


def get_run(session: Session, *, run_id: int, actor: Actor) -> tuple[Run, list[Step]]:
    """A run of a readable rule, with its steps in order."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFound(entity="run", id=run_id)
    get_rule(session, rule_id=run.rule_id, actor=actor)
    steps = list(session.scalars(select(Step).where(Step.run_id == run_id).order_by(Step.position)))
    return run, steps


def describe_rule(rule: Rule) -> dict[str, Any]:
    """A rule as plain JSON (CLI output)."""
    return {
        "id": rule.id,
        "name": rule.name,
        "owner_id": rule.owner_id,
        "scope": rule.scope,
        "scope_value": rule.scope_value,
        "is_enabled": rule.is_enabled,
        "current_version": rule.current_version,
        "enabled_from_event_id": rule.enabled_from_event_id,
    }
