"""Radar API, response toolbox: case studies and case matching (``/api/v1/radar/...``).

Case studies are written by admins and managers (right ``radar_toolbox``) and read by
every radar reader; matches for a signal or a deal follow the viewer's scoping (a hidden
signal or deal is a 404). Refusals are RFC 9457 problems from the services.

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from pathcast.deps import CurrentActor, DbSession
from pathcast.radar import schemas as s
from pathcast.radar.service import cases

router = APIRouter(prefix="/radar", tags=["radar"])

Top = Annotated[int, Query(ge=1, le=cases.TOP_MAX, description="How many matches, best first")]


@router.get("/case-studies", response_model=list[s.CaseStudyRead], summary="Case studies")
def list_case_studies(session: DbSession, actor: CurrentActor, include_archived: bool = False) -> Any:
    return cases.list_case_studies(session, actor=actor, include_archived=include_archived)


@router.post(
    "/case-studies",
    response_model=s.CaseStudyRead,
    status_code=201,
    summary="Add a case study (admin, manager)",
)
def add_case_study(body: s.CaseStudyCreate, session: DbSession, actor: CurrentActor) -> Any:
    return cases.add_case_study(session, actor=actor, data=body.model_dump())


@router.get("/case-studies/{case_id}", response_model=s.CaseStudyRead, summary="One case study")
def get_case_study(case_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return cases.get_case_study(session, actor=actor, case_id=case_id)


@router.patch(
    "/case-studies/{case_id}", response_model=s.CaseStudyRead, summary="Change a case study (admin, manager)"
)
def update_case_study(case_id: int, body: s.CaseStudyUpdate, session: DbSession, actor: CurrentActor) -> Any:
    return cases.update_case_study(
        session, actor=actor, case_id=case_id, changes=body.model_dump(exclude_unset=True)
    )


@router.delete(
    "/case-studies/{case_id}",
    status_code=204,
    summary="Archive a case study (admin, manager): kept, no longer matched",
)
def archive_case_study(case_id: int, session: DbSession, actor: CurrentActor) -> Response:
    cases.archive_case_study(session, actor=actor, case_id=case_id)
    return Response(status_code=204)


@router.get(
    "/signals/{item_id}/cases",
    response_model=list[s.CaseMatchRead],
    summary="Won deals and case studies most like a signal, with why each matched",
)
def cases_for_signal(item_id: int, session: DbSession, actor: CurrentActor, top: Top = 5) -> Any:
    return cases.cases_for_signal(session, actor, item_id, top=top)


@router.get(
    "/deals/{opportunity_id}/cases",
    response_model=list[s.CaseMatchRead],
    summary="Other won deals and case studies most like a deal, with why each matched",
)
def cases_for_deal(opportunity_id: int, session: DbSession, actor: CurrentActor, top: Top = 5) -> Any:
    return cases.cases_for_deal(session, actor, opportunity_id, top=top)
