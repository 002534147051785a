"""Loading the enabled rules into a :class:`RuleIndex`, rebuilt only when rules or stages change.

Each tick reads a small signature (enabled rules with their version and enabling
point, and the stages' count and last change); the index is rebuilt from the rule
versions only when it differs, so a worker's steady cost is one cheap query.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.automation.engine.matcher import CompiledRule, RuleIndex, StageCatalog, StageInfo
from pathcast.automation.engine.records import SYSTEM
from pathcast.automation.ir import RuleIR
from pathcast.automation.models import Rule, RuleVersion
from pathcast.crm.service import SPECS, readable_query
from pathcast.events import Event


def load_stages(session: Session) -> StageCatalog:
    """Every stage of every pipeline, for matching stage names in rules."""
    stages = session.scalars(readable_query(SYSTEM, SPECS["stage"]))
    return StageCatalog(
        StageInfo(stage.id, stage.key, stage.name, stage.name_zh, stage.status_class) for stage in stages
    )


def load_rules(session: Session, rule_ids: list[int] | None = None) -> list[CompiledRule]:
    """Enabled rules at their current version (or the given rules, enabled or not)."""
    query = (
        select(Rule, RuleVersion, Event.recorded_at)
        .join(RuleVersion, (RuleVersion.rule_id == Rule.id) & (RuleVersion.version == Rule.current_version))
        .outerjoin(Event, Event.id == Rule.enabled_from_event_id)
    )
    query = (
        query.where(Rule.id.in_(rule_ids)) if rule_ids is not None else query.where(Rule.is_enabled.is_(True))
    )
    return [
        CompiledRule(
            rule_id=rule.id,
            version=version.version,
            name=rule.name,
            ir=RuleIR.model_validate(version.ir),
            enabled_from_event_id=rule.enabled_from_event_id or 0,
            enabled_at=enabled_at,
            owner_id=rule.owner_id,
        )
        for rule, version, enabled_at in session.execute(query.order_by(Rule.id))
    ]


def _signature(session: Session) -> tuple[Any, ...]:
    rules = tuple(
        session.execute(
            select(Rule.id, Rule.current_version, Rule.enabled_from_event_id)
            .where(Rule.is_enabled.is_(True))
            .order_by(Rule.id)
        )
    )
    stage_model = SPECS["stage"].model
    stages = tuple(
        session.execute(select(func.count(), func.max(stage_model.updated_at)).select_from(stage_model)).one()
    )
    return (rules, stages)


class IndexCache:
    """The current index for one worker; thread-safe (the worker thread and dry-runs share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signature: tuple[Any, ...] | None = None
        self._index = RuleIndex([])

    def get(self, session: Session) -> RuleIndex:
        signature = _signature(session)
        with self._lock:
            if signature != self._signature:
                self._index = RuleIndex(load_rules(session), load_stages(session))
                self._signature = signature
            return self._index

    def invalidate(self) -> None:
        with self._lock:
            self._signature = None
