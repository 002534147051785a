"""Reps' annotations: context notes on a deal, optionally overriding the model's probability
or the forecast category. The only writer of ``forecast_annotations``.

A note is the rep's right to intervene: the model's number stays what it is (a suggestion),
and the override stands beside it with who made it. Both are facts in the event log
(``forecast.annotation_added`` / ``forecast.annotation_withdrawn`` on the deal), so the
deal's timeline shows them and training reads them as of any cutoff
(:mod:`pathcast.forecast.annotation_features`).

Who may write: whoever may change the deal (crm's row scoping: admins every deal,
managers their team's, reps their own) and whose role has the ``forecast`` right
(members and customer contacts have none). A note is withdrawn, never edited or deleted,
by its author, a manager of the author's team or an admin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor, may
from pathcast.crm.models import ForecastCategory
from pathcast.crm.service import SPECS, get_readable, get_writable
from pathcast.db import utcnow
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.forecast.annotation_features import ADDED, WITHDRAWN, tokenize
from pathcast.forecast.models import Annotation
from pathcast.forecast.service import scoring

NOTE_MAX = 2000
# A rep calls an open deal; "closed" is the deal's state, not a call anyone makes.
OVERRIDE_CATEGORIES: tuple[str, ...] = tuple(
    category.value for category in ForecastCategory if category is not ForecastCategory.closed
)
OPPORTUNITY = SPECS["opportunity"]


@dataclass(frozen=True)
class Override:
    """The override in force on a deal: the newest live annotation that overrides anything.

    A newer override replaces an older one whole: a note that overrides only the category
    leaves ``probability`` None (the model's number stands) rather than inheriting an older
    note's probability.
    """

    probability: float | None
    category: str | None
    author_label: str
    annotation_id: int
    created_at: datetime
    model_probability: float | None = None
    note: str | None = None


# --- reading ---------------------------------------------------------------------------------


def readable_deal(session: Session, *, actor: Actor, opportunity_id: int) -> Any:
    """The deal whose forecast and notes ``actor`` wants to read: 404 if they may not see
    it (crm's scoping), 403 if their role has no forecast right."""
    deal = get_readable(session, actor, OPPORTUNITY, opportunity_id)
    if not may(actor, "forecast", "read"):
        raise PermissionDenied("forbidden_operation", entity="forecast", operation="read")
    return deal


def annotations_for(session: Session, opportunity_id: int) -> list[Annotation]:
    """Every annotation of the deal, withdrawn ones included, newest first. Unscoped: the
    caller has already loaded the deal for its viewer."""
    return list(
        session.scalars(
            select(Annotation)
            .where(Annotation.opportunity_id == opportunity_id)
            .order_by(Annotation.created_at.desc(), Annotation.id.desc())
        )
    )


def effective_overrides(
    session: Session, opportunity_ids: Sequence[int], at: datetime | None = None
) -> dict[int, Override]:
    """Deal id → the newest override not withdrawn, as known at ``at`` (now when None).
    Deals without one are absent."""
    ids = sorted({int(deal_id) for deal_id in opportunity_ids})
    if not ids:
        return {}
    query = select(Annotation).where(
        Annotation.opportunity_id.in_(ids),
        (Annotation.override_probability.is_not(None)) | (Annotation.override_category.is_not(None)),
    )
    if at is not None:
        query = query.where(
            Annotation.created_at <= at,
            Annotation.withdrawn_at.is_(None) | (Annotation.withdrawn_at > at),
        )
    else:
        query = query.where(Annotation.withdrawn_at.is_(None))
    found: dict[int, Override] = {}
    for note in session.scalars(query.order_by(Annotation.created_at, Annotation.id)):
        # ordered oldest first: the newest overwrites
        found[note.opportunity_id] = Override(
            probability=note.override_probability,
            category=note.override_category,
            author_label=note.author_label,
            annotation_id=note.id,
            created_at=note.created_at,
            model_probability=note.model_probability,
            note=note.note,
        )
    return found


@dataclass(frozen=True)
class ModelScore:
    """The model's number for a deal, as the deal page and an annotation show it."""

    probability: float
    model_version: int | None
    scored_at: datetime | None
    drivers: list[dict[str, Any]]


def model_score(session: Session, opportunity_id: int, at: datetime | None = None) -> ModelScore | None:
    """The deal's latest model score (as it stood at ``at`` when given), or None if it was
    never scored (by then), read through the scoring service."""
    if at is None:
        row = scoring.latest_scores(session, [opportunity_id]).get(opportunity_id)
    else:
        earlier = [score for score in scoring.score_history(session, opportunity_id) if score.scored_at <= at]
        row = earlier[-1] if earlier else None
    if row is None:
        return None
    return ModelScore(
        probability=float(row.probability),
        model_version=row.model_version,
        scored_at=row.scored_at,
        drivers=list(row.drivers or []),
    )


# --- writing ---------------------------------------------------------------------------------


def author_label(session: Session, actor: Actor) -> str:
    """How an annotation names its author: the user's name, else the actor's label."""
    if actor.user_id is not None:
        user = session.get(User, actor.user_id)
        if user is not None:
            return user.name
    return actor.label


def _require_forecast_right(session: Session, actor: Actor, opportunity_id: int, operation: str) -> None:
    if may(actor, "forecast", "create" if operation == "create" else "update"):
        return
    # Refuse without telling whether the deal exists to someone who may not see it.
    if may(actor, "opportunity", "read"):
        get_readable(session, actor, OPPORTUNITY, opportunity_id)
    raise PermissionDenied("forbidden_operation", entity="forecast", operation=operation)


def validate(
    note: str, override_probability: float | None, override_category: str | None
) -> tuple[str, float | None, str | None]:
    """The note trimmed and the overrides checked; every problem names its field."""
    errors: list[FieldError] = []
    text = (note or "").strip()
    if not text:
        errors.append(FieldError("note", "missing"))
    elif len(text) > NOTE_MAX:
        errors.append(FieldError("note", "too_long", {"max": NOTE_MAX}))
    probability = override_probability
    if probability is not None:
        number = float(probability)
        if isinstance(probability, bool) or not math.isfinite(number) or not 0.0 <= number <= 1.0:
            errors.append(FieldError("override_probability", "probability_range"))
        else:
            probability = float(probability)
    category = (override_category or "").strip() or None
    if category is not None and category not in OVERRIDE_CATEGORIES:
        errors.append(
            FieldError(
                "override_category",
                "override_category_invalid",
                {"value": category, "allowed": ", ".join(OVERRIDE_CATEGORIES)},
            )
        )
    if errors:
        raise InvalidInput(errors)
    return text, probability, category


def annotate(
    session: Session,
    *,
    actor: Actor,
    opportunity_id: int,
    note: str,
    override_probability: float | None = None,
    override_category: str | None = None,
    at: datetime | None = None,
) -> Annotation:
    """Add a note to a deal, optionally overriding its probability (0–1) or forecast
    category; ``at`` backdates it (imports, the demo). Appends ``forecast.annotation_added``."""
    _require_forecast_right(session, actor, opportunity_id, "create")
    deal = get_writable(session, actor, OPPORTUNITY, opportunity_id)
    text, probability, category = validate(note, override_probability, override_category)
    moment = at or utcnow()
    if moment.tzinfo is None:
        raise InvalidInput.single("at", "datetime_invalid", value=str(moment))
    score = model_score(session, deal.id, at)
    label = author_label(session, actor)
    annotation = Annotation(
        opportunity_id=deal.id,
        author_id=actor.user_id,
        author_label=label,
        note=text,
        tokens=tokenize(text),
        override_probability=probability,
        override_category=category,
        model_probability=score.probability if score is not None else None,
        created_at=moment,
    )
    session.add(annotation)
    session.flush()
    append_event(
        session,
        type=ADDED,
        entity="opportunity",
        entity_id=deal.id,
        actor=actor.label,
        payload={
            "annotation_id": annotation.id,
            "note": text,
            "override_probability": probability,
            "override_category": category,
            "model_probability": annotation.model_probability,
            "author": label,
        },
        occurred_at=moment,
    )
    return annotation


def may_annotate(session: Session, actor: Actor, opportunity_id: int) -> bool:
    """Whether ``actor`` may add a note to the deal (a page shows the form only then;
    :func:`annotate` checks again)."""
    if not may(actor, "forecast", "create"):
        return False
    try:
        get_writable(session, actor, OPPORTUNITY, opportunity_id)
    except (PermissionDenied, NotFound):
        return False
    return True


def may_withdraw(session: Session, actor: Actor, annotation: Annotation) -> bool:
    """Whether ``actor`` may withdraw the note: its author, a manager of the author's team,
    or an admin (the deal must also be readable to them: :func:`withdraw` checks that)."""
    if actor.role is Role.admin:
        return True
    if actor.user_id is not None and actor.user_id == annotation.author_id:
        return True
    if actor.role is Role.manager and actor.team_id is not None and annotation.author_id is not None:
        author = session.get(User, annotation.author_id)
        return author is not None and author.team_id == actor.team_id
    return False


def withdraw(session: Session, *, actor: Actor, annotation_id: int, at: datetime | None = None) -> Annotation:
    """Withdraw a note (and its override): its author, a manager of the author's team or an
    admin. The note stays on record, marked withdrawn. Appends ``forecast.annotation_withdrawn``."""
    forecast_right = may(actor, "forecast", "update")
    if not forecast_right and not may(actor, "opportunity", "read"):
        raise PermissionDenied("forbidden_operation", entity="forecast", operation="update")
    annotation = session.get(Annotation, annotation_id)
    if annotation is None:
        raise NotFound(entity="annotation", id=annotation_id)
    try:
        get_readable(session, actor, OPPORTUNITY, annotation.opportunity_id)
    except NotFound:
        # A note on a deal the caller cannot see does not exist for them.
        raise NotFound(entity="annotation", id=annotation_id) from None
    if not forecast_right:
        raise PermissionDenied("forbidden_operation", entity="forecast", operation="update")
    if not may_withdraw(session, actor, annotation):
        raise PermissionDenied("annotation_not_yours", id=annotation_id)
    if annotation.withdrawn_at is not None:
        raise Conflict("annotation_withdrawn", id=annotation_id)
    moment = at or utcnow()
    if moment < annotation.created_at:
        raise InvalidInput.single("at", "withdrawn_before_written")
    annotation.withdrawn_at = moment
    session.flush()
    append_event(
        session,
        type=WITHDRAWN,
        entity="opportunity",
        entity_id=annotation.opportunity_id,
        actor=actor.label,
        payload={"annotation_id": annotation.id, "withdrawn_by": author_label(session, actor)},
        occurred_at=moment,
    )
    return annotation


__all__ = [
    "NOTE_MAX",
    "OVERRIDE_CATEGORIES",
    "ModelScore",
    "Override",
    "annotate",
    "annotations_for",
    "author_label",
    "effective_overrides",
    "may_annotate",
    "may_withdraw",
    "model_score",
    "readable_deal",
    "validate",
    "withdraw",
]
