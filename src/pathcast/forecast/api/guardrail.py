"""Forecast API: AI insights as suggestions, their verification, and forecast submissions
(see pathcast.forecast.service.guardrail).

``GET  /api/v1/forecast/insights?opportunity_id=&account_id=``: readable insights, newest first.
``POST /api/v1/forecast/insights/{id}/verify`` ``{"note"}``: the owner (or their manager) vouches in writing.
``POST /api/v1/forecast/insights/{id}/dismiss`` ``{"note"?}``: set a suggestion aside.
``GET|PUT /api/v1/forecast/settings/verification`` ``{"required"}``: read; an admin changes it.
``POST /api/v1/forecast/submissions``, ``GET /api/v1/forecast/submissions``: forecast calls.

Who may do what is decided by the service; handlers parse, call one function and shape the
answer. No ``from __future__ import annotations``: FastAPI reads body types at definition.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import Field

from pathcast.deps import CurrentActor, DbSession
from pathcast.forecast.models import Insight, Submission
from pathcast.forecast.service import guardrail as service
from pathcast.schemas import INTERNAL, ProjectBase

router = APIRouter(tags=["forecast"])


class InsightRead(ProjectBase):
    """An AI-generated suggestion: never a decision by itself."""

    id: int = INTERNAL
    kind: str = INTERNAL
    suggestion: bool = Field(default=True, description="always true: an insight is a suggestion")
    status: str = Field(default="open", description="open, verified or dismissed")
    opportunity_id: int | None = INTERNAL
    account_id: int | None = INTERNAL
    text_en: str = INTERNAL
    text_zh: str = INTERNAL
    source: str = INTERNAL
    created_at: datetime = INTERNAL
    verified_by_id: int | None = INTERNAL
    verified_at: datetime | None = INTERNAL
    verification_note: str | None = INTERNAL
    dismissed_at: datetime | None = INTERNAL


class VerifyBody(ProjectBase):
    # the length rule (at least 10 characters) is the service's, so its message names the field
    note: str


class DismissBody(ProjectBase):
    note: str | None = None


class VerificationSetting(ProjectBase):
    required: bool


class SubmissionCreate(ProjectBase):
    period_kind: str = Field(description="month or quarter")
    period_start: date = Field(description="the first day of the period")
    commit_amount: float
    best_case_amount: float
    note: str | None = None


class SubmissionRead(ProjectBase):
    id: int = INTERNAL
    user_id: int = INTERNAL
    period_kind: str = INTERNAL
    period_start: date = INTERNAL
    commit_amount: float = INTERNAL
    best_case_amount: float = INTERNAL
    note: str | None = INTERNAL
    submitted_at: datetime = INTERNAL


def insight_read(insight: Insight) -> InsightRead:
    """The API shape of an insight, with its status spelled out."""
    read = InsightRead.model_validate(insight)
    read.status = service.insight_status(insight)
    return read


def _submission(submission: Submission) -> SubmissionRead:
    return SubmissionRead.model_validate(submission)


@router.get("/insights")
def list_insights(
    session: DbSession,
    actor: CurrentActor,
    opportunity_id: Annotated[int | None, Query()] = None,
    account_id: Annotated[int | None, Query()] = None,
) -> list[InsightRead]:
    """Readable insights (a deal's, an account's, or all the caller's), newest first."""
    found = service.list_insights(session, actor=actor, opportunity_id=opportunity_id, account_id=account_id)
    return [insight_read(insight) for insight in found]


@router.post("/insights/{insight_id}/verify")
def verify_insight(
    session: DbSession, actor: CurrentActor, insight_id: int, body: Annotated[VerifyBody, Body()]
) -> InsightRead:
    """Vouch for a suggestion in writing (the deal's or account's owner, or their manager)."""
    return insight_read(service.verify_insight(session, actor=actor, insight_id=insight_id, note=body.note))


@router.post("/insights/{insight_id}/dismiss")
def dismiss_insight(
    session: DbSession,
    actor: CurrentActor,
    insight_id: int,
    body: Annotated[DismissBody | None, Body()] = None,
) -> InsightRead:
    """Set a suggestion aside."""
    note = body.note if body is not None else None
    return insight_read(service.dismiss_insight(session, actor=actor, insight_id=insight_id, note=note))


@router.get("/settings/verification")
def get_verification(session: DbSession, actor: CurrentActor) -> VerificationSetting:
    """Whether AI insights need a rep's written verification before a decision uses them."""
    service.readable_insights(actor)  # the forecast read right, nothing else
    return VerificationSetting(required=service.verification_required(session))


@router.put("/settings/verification")
def put_verification(
    session: DbSession, actor: CurrentActor, body: Annotated[VerificationSetting, Body()]
) -> VerificationSetting:
    """Admin only: require (or stop requiring) verification."""
    setting = service.set_verification_required(session, actor=actor, required=body.required)
    return VerificationSetting(required=bool(setting.value))


@router.post("/submissions", status_code=201)
def submit_forecast(
    session: DbSession, actor: CurrentActor, body: Annotated[SubmissionCreate, Body()]
) -> SubmissionRead:
    """Submit a call for a period; refused while required verifications are missing."""
    submission = service.submit_forecast(
        session,
        actor=actor,
        period_kind=body.period_kind,
        period_start=body.period_start,
        commit_amount=body.commit_amount,
        best_case_amount=body.best_case_amount,
        note=body.note,
    )
    return _submission(submission)


@router.get("/submissions")
def list_submissions(
    session: DbSession, actor: CurrentActor, period_kind: Annotated[str | None, Query()] = None
) -> list[SubmissionRead]:
    """The caller's submissions (a manager: the team's; an admin: all), newest first."""
    return [_submission(s) for s in service.list_submissions(session, actor=actor, period_kind=period_kind)]
