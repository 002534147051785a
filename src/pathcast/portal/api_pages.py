"""Portal read API (``/api/v1/portal/...``): the JSON mirror of the customer's pages.

Each route answers only for the caller's own account and only to a customer contact;
staff and delivery members get 403 (they have the staff app). Another account's
document id is a 404, exactly like a missing one (``portal.service.views``).

This module avoids ``from __future__ import annotations``: FastAPI reads parameter types
at definition.
"""

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from pathcast.crm.api import content_disposition
from pathcast.deps import CurrentActor, DbSession
from pathcast.portal.service import views

router = APIRouter(tags=["portal"])

# Database keys are 32-bit integers: a larger id is a 422, never a driver error.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class Communication(BaseModel):
    """An activity's ``customer_visible`` fields plus when and who took part."""

    model_config = {"extra": "allow"}
    id: int
    kind: str
    subject: str
    when: datetime | None
    our_side: str | None
    their_side: str | None


class CommunicationList(BaseModel):
    items: list[Communication]


class DocumentList(BaseModel):
    """Documents with their version history (``customer_visible`` fields only)."""

    items: list[dict[str, Any]]


class MonthLevel(BaseModel):
    month: str
    opened: int
    resolved: int
    within_target: int
    attainment_pct: float | None


class ServiceLevels(BaseModel):
    policy_hours: dict[str, int]
    months: list[MonthLevel]


class AssetVisits(BaseModel):
    asset: str
    views: int
    seconds: float


class WeekVisits(BaseModel):
    week: date
    views: int
    seconds: float


class Analytics(BaseModel):
    days: int
    assets: list[AssetVisits]
    weeks: list[WeekVisits]


@router.get("/portal/communications", summary="The account's communications (customer contacts)")
def communications(session: DbSession, actor: CurrentActor) -> CommunicationList:
    return CommunicationList.model_validate({"items": views.communications(session, actor)})


@router.get("/portal/documents", summary="The account's documents and their versions (customer contacts)")
def documents(session: DbSession, actor: CurrentActor) -> DocumentList:
    return DocumentList(items=views.documents(session, actor))


@router.get(
    "/portal/documents/{document_id}/versions/{version}/content",
    summary="One version's file; a PDF arrives watermarked (customer contacts)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def document_content(
    document_id: RecordId, version: RecordId, session: DbSession, actor: CurrentActor
) -> Response:
    found = views.download(session, actor, document_id=document_id, version=version)
    headers = {"Content-Disposition": content_disposition(found.filename)}
    if found.export_id:
        headers["X-Export-Id"] = found.export_id
    return Response(found.content, media_type=found.content_type, headers=headers)


@router.get("/portal/service", summary="SLA attainment per month (customer contacts)")
def service_levels(session: DbSession, actor: CurrentActor) -> ServiceLevels:
    return ServiceLevels.model_validate(views.service_levels(session, actor))


@router.get("/portal/analytics", summary="The account's visits per asset and week (customer contacts)")
def analytics(session: DbSession, actor: CurrentActor) -> Analytics:
    return Analytics.model_validate(views.analytics(session, actor))
