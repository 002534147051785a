"""Forecast API: reps' annotations on deals (see pathcast.forecast.service.annotations).

``GET  /api/v1/forecast/deals/{opportunity_id}/annotations``: the deal's notes, newest first,
with the override in force and the model's number beside it.
``POST /api/v1/forecast/deals/{opportunity_id}/annotations``: add a note (JSON body).
``POST /api/v1/forecast/annotations/{annotation_id}/withdraw``: withdraw a note.

Who may do what is decided by the service (crm's row scoping plus the ``forecast`` right);
these handlers parse, call one service function and shape the answer.

This module avoids ``from __future__ import annotations``: FastAPI reads the body types
of the handlers at definition time.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import Field

from pathcast.deps import CurrentActor, DbSession
from pathcast.forecast.models import Annotation
from pathcast.forecast.service import annotations as service
from pathcast.schemas import ProjectBase

router = APIRouter(tags=["forecast"])


class AnnotationCreate(ProjectBase):
    """A note, and optionally the rep's own probability (0–1) or forecast category."""

    # Length and ranges are checked by the service, so the messages name the field in the
    # caller's language whichever way the note arrives (API or page).
    note: str
    override_probability: float | None = None
    override_category: str | None = None


class AnnotationRead(ProjectBase):
    id: int
    opportunity_id: int
    author_id: int | None
    author_label: str
    note: str
    tokens: list[str]
    override_probability: float | None
    override_category: str | None
    model_probability: float | None = Field(description="the model's number when the note was written")
    created_at: datetime
    withdrawn_at: datetime | None


class OverrideRead(ProjectBase):
    probability: float | None
    category: str | None
    author_label: str
    annotation_id: int
    created_at: datetime


class ModelScoreRead(ProjectBase):
    probability: float
    model_version: int | None
    scored_at: datetime | None


class DealAnnotations(ProjectBase):
    opportunity_id: int
    model: ModelScoreRead | None
    override: OverrideRead | None
    items: list[AnnotationRead]


def _read(annotation: Annotation) -> AnnotationRead:
    return AnnotationRead.model_validate(annotation)


@router.get("/deals/{opportunity_id}/annotations", response_model=DealAnnotations)
def list_annotations(session: DbSession, actor: CurrentActor, opportunity_id: int) -> DealAnnotations:
    """The deal's annotations (withdrawn ones included, marked), the override in force and
    the model's latest number."""
    deal = service.readable_deal(session, actor=actor, opportunity_id=opportunity_id)
    score = service.model_score(session, deal.id)
    override = service.effective_overrides(session, [deal.id]).get(deal.id)
    return DealAnnotations(
        opportunity_id=deal.id,
        model=ModelScoreRead(
            probability=score.probability, model_version=score.model_version, scored_at=score.scored_at
        )
        if score is not None
        else None,
        override=OverrideRead(
            probability=override.probability,
            category=override.category,
            author_label=override.author_label,
            annotation_id=override.annotation_id,
            created_at=override.created_at,
        )
        if override is not None
        else None,
        items=[_read(note) for note in service.annotations_for(session, deal.id)],
    )


@router.post("/deals/{opportunity_id}/annotations", response_model=AnnotationRead, status_code=201)
def add_annotation(
    session: DbSession,
    actor: CurrentActor,
    opportunity_id: int,
    body: Annotated[AnnotationCreate, Body()],
) -> AnnotationRead:
    """Add a note to a deal, optionally with an override."""
    annotation = service.annotate(
        session,
        actor=actor,
        opportunity_id=opportunity_id,
        note=body.note,
        override_probability=body.override_probability,
        override_category=body.override_category,
    )
    return _read(annotation)


@router.post("/annotations/{annotation_id}/withdraw", response_model=AnnotationRead)
def withdraw_annotation(session: DbSession, actor: CurrentActor, annotation_id: int) -> AnnotationRead:
    """Withdraw a note: its author, a manager of the author's team, or an admin."""
    return _read(service.withdraw(session, actor=actor, annotation_id=annotation_id))
