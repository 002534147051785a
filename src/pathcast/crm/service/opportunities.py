"""Opportunities: creation, edits, and stage moves with full history."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.service.pipelines import default_pipeline, stages_of
from pathcast.crm.service.records import check_references, create_record, same_value, update_record
from pathcast.crm.service.registry import SPECS
from pathcast.db import utcnow
from pathcast.errors import InvalidInput
from pathcast.events import append_event, to_jsonable

SPEC = SPECS["opportunity"]
TRACKED_FIELDS = {
    "amount": "opportunity.amount_changed",
    "expected_close_date": "opportunity.close_date_changed",
}


def _stage(session: Session, stage_id: int, pipeline_id: int) -> m.Stage:
    stage = session.get(m.Stage, stage_id)
    if stage is None or stage.pipeline_id != pipeline_id:
        raise InvalidInput.single("stage_id", "stage_not_in_pipeline", id=stage_id, pipeline_id=pipeline_id)
    return stage


def create_opportunity(
    session: Session,
    *,
    actor: Actor,
    data: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> m.Opportunity:
    """Create a deal in its pipeline's stage (the first stage by default) and record
    its opening stage in the history."""
    values = dict(data)
    pipeline_id = values.get("pipeline_id") or default_pipeline(session).id
    values["pipeline_id"] = pipeline_id
    if values.get("stage_id") is None:
        stages = stages_of(session, pipeline_id)
        if not stages:
            raise InvalidInput.single("stage_id", "pipeline_has_no_stages", pipeline_id=pipeline_id)
        values["stage_id"] = stages[0].id
    stage = _stage(session, values["stage_id"], pipeline_id)
    at = occurred_at or utcnow()
    values["status"] = stage.status_class
    values["stage_changed_at"] = at
    values.setdefault("opened_at", at)
    if stage.status_class != m.StageClass.open.value:
        values["closed_at"] = at
        values["forecast_category"] = m.ForecastCategory.closed.value
    if values.get("forecast_category") is None:
        values["forecast_category"] = m.ForecastCategory.pipeline.value
    opportunity: m.Opportunity = create_record(session, actor=actor, spec=SPEC, data=values, occurred_at=at)
    session.add(
        m.OpportunityStageChange(
            opportunity_id=opportunity.id,
            from_stage_id=None,
            to_stage_id=stage.id,
            changed_at=at,
            changed_by_id=actor.user_id,
        )
    )
    session.flush()
    return opportunity


def change_stage(
    session: Session,
    *,
    actor: Actor,
    opportunity: m.Opportunity,
    to_stage_id: int,
    occurred_at: datetime | None = None,
) -> m.Opportunity:
    """Move a deal to another stage of its pipeline: one event (``opportunity.stage_changed``,
    or ``opportunity.won`` / ``opportunity.lost`` when the stage closes it) and one
    history row. The caller loads ``opportunity`` through ``get_writable``."""
    if opportunity.stage_id == to_stage_id:
        return opportunity
    target = _stage(session, to_stage_id, opportunity.pipeline_id)
    source = session.get(m.Stage, opportunity.stage_id)
    at = occurred_at or utcnow()
    before = {
        "stage_id": opportunity.stage_id,
        "status": opportunity.status,
        "stage_changed_at": opportunity.stage_changed_at,
        "closed_at": opportunity.closed_at,
        "forecast_category": opportunity.forecast_category,
    }
    opportunity.stage_id = target.id
    opportunity.status = target.status_class
    opportunity.stage_changed_at = at
    if target.status_class == m.StageClass.open.value:
        opportunity.closed_at = None
        if opportunity.forecast_category == m.ForecastCategory.closed.value:
            opportunity.forecast_category = m.ForecastCategory.pipeline.value
    else:
        opportunity.closed_at = at
        opportunity.forecast_category = m.ForecastCategory.closed.value
    after = {
        "stage_id": opportunity.stage_id,
        "status": opportunity.status,
        "stage_changed_at": opportunity.stage_changed_at,
        "closed_at": opportunity.closed_at,
        "forecast_category": opportunity.forecast_category,
    }
    session.add(
        m.OpportunityStageChange(
            opportunity_id=opportunity.id,
            from_stage_id=source.id if source else None,
            to_stage_id=target.id,
            changed_at=at,
            changed_by_id=actor.user_id,
        )
    )
    session.flush()
    event_type = {
        m.StageClass.won.value: "opportunity.won",
        m.StageClass.lost.value: "opportunity.lost",
    }.get(target.status_class, "opportunity.stage_changed")
    append_event(
        session,
        type=event_type,
        entity="opportunity",
        entity_id=opportunity.id,
        actor=actor.label,
        payload={
            "before": before,
            "after": after,
            "from_stage": source.key if source else None,
            "to_stage": target.key,
        },
        occurred_at=at,
    )
    return opportunity


def update_opportunity(
    session: Session,
    *,
    actor: Actor,
    opportunity: m.Opportunity,
    changes: Mapping[str, Any],
    occurred_at: datetime | None = None,
) -> m.Opportunity:
    """Apply an edit: a stage move, amount and close-date changes (each with its own
    history row and event), and the remaining fields as one ``opportunity.updated``."""
    remaining = dict(changes)
    check_references(session, actor=actor, spec=SPEC, values=remaining)
    at = occurred_at or utcnow()
    to_stage_id = remaining.pop("stage_id", None)
    if to_stage_id is not None:
        change_stage(session, actor=actor, opportunity=opportunity, to_stage_id=to_stage_id, occurred_at=at)
    for field, event_type in TRACKED_FIELDS.items():
        if field not in remaining:
            continue
        new_value = remaining.pop(field)
        old_value = getattr(opportunity, field)
        if same_value(old_value, new_value):
            continue
        update_record(
            session,
            actor=actor,
            spec=SPEC,
            record=opportunity,
            changes={field: new_value},
            occurred_at=at,
            event_type=event_type,
            check_refs=False,
        )
        session.add(
            m.OpportunityFieldChange(
                opportunity_id=opportunity.id,
                field=field,
                old_value=None if old_value is None else str(to_jsonable(old_value)),
                new_value=None if new_value is None else str(to_jsonable(new_value)),
                changed_at=at,
                changed_by_id=actor.user_id,
            )
        )
    if remaining:
        update_record(
            session,
            actor=actor,
            spec=SPEC,
            record=opportunity,
            changes=remaining,
            occurred_at=at,
            check_refs=False,
        )
    session.flush()
    return opportunity


def stage_history(session: Session, opportunity_id: int) -> list[m.OpportunityStageChange]:
    """Every stage move of a deal, oldest first."""
    return list(
        session.scalars(
            select(m.OpportunityStageChange)
            .where(m.OpportunityStageChange.opportunity_id == opportunity_id)
            .order_by(m.OpportunityStageChange.changed_at, m.OpportunityStageChange.id)
        )
    )


def field_history(session: Session, opportunity_id: int) -> list[m.OpportunityFieldChange]:
    """Every amount and close-date change of a deal, oldest first."""
    return list(
        session.scalars(
            select(m.OpportunityFieldChange)
            .where(m.OpportunityFieldChange.opportunity_id == opportunity_id)
            .order_by(m.OpportunityFieldChange.changed_at, m.OpportunityFieldChange.id)
        )
    )
