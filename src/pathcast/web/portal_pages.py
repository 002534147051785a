"""The customer's portal pages: communications, documents, service levels, visits.

Everything is read through ``portal.service.views`` with the viewer's Actor, which answers
only for a customer contact's own account; anyone else is refused (403, the staff have the
staff app). A version downloads through ``/portal/documents/{id}/versions/{n}``: a PDF
arrives as its watermarked copy (the export is recorded), other files as stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response

from pathcast.crm.api import content_disposition
from pathcast.deps import DbSession
from pathcast.portal.service import views
from pathcast.web.rendering import Formatter, PageContext, render
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)


def customer_page(page: Page) -> PageContext:
    """A portal page: only a customer contact with an account gets one (else 403)."""
    views.require_customer(page.actor)
    return page


CustomerPage = Annotated[PageContext, Depends(customer_page)]
# Database keys are 32-bit integers: a larger id in the address is a 422, not a driver error.
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def duration(fmt: Formatter, seconds: float) -> str:
    """Visible time for a reader: ``45 s``, ``3 min 5 s``, ``2 h 5 min``."""
    total = round(seconds)
    if total < 60:
        return fmt.t("portal_pages.duration.seconds", s=total)
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return fmt.t("portal_pages.duration.minutes", m=minutes, s=secs)
    hours, minutes = divmod(minutes, 60)
    return fmt.t("portal_pages.duration.hours", h=hours, m=minutes)


@router.get("/portal/communications")
def communications_page(page: CustomerPage, session: DbSession) -> Response:
    items = views.communications(session, page.actor)
    return render(page, "portal/communications.html", {"portal_tab": "communications", "items": items})


@router.get("/portal/documents")
def documents_page(page: CustomerPage, session: DbSession) -> Response:
    items = views.documents(session, page.actor)
    return render(page, "portal/documents.html", {"portal_tab": "documents", "items": items})


@router.get("/portal/documents/{document_id}/versions/{version}")
def document_version_file(
    page: CustomerPage, session: DbSession, document_id: RecordId, version: RecordId
) -> Response:
    found = views.download(session, page.actor, document_id=document_id, version=version)
    headers = {"Content-Disposition": content_disposition(found.filename)}
    if found.export_id:
        headers["X-Export-Id"] = found.export_id
    return Response(found.content, media_type=found.content_type, headers=headers)


def _sla_chart(levels: dict[str, Any], fmt: Formatter) -> dict[str, Any]:
    """What the ECharts bar/line chart reads: opened and in-target bars, attainment line."""
    months = levels["months"]
    return {
        "categories": [row["month"] for row in months],
        "opened": [row["opened"] for row in months],
        "within": [row["within_target"] for row in months],
        "attainment": [row["attainment_pct"] for row in months],
        "labels": {
            "opened": fmt.t("portal_pages.service.opened"),
            "within": fmt.t("portal_pages.service.within_target"),
            "attainment": fmt.t("portal_pages.service.attainment"),
        },
    }


@router.get("/portal/service")
def service_page(page: CustomerPage, session: DbSession) -> Response:
    levels = views.service_levels(session, page.actor)
    any_tickets = any(row["opened"] for row in levels["months"])
    context = {
        "portal_tab": "service",
        "levels": levels,
        "chart": _sla_chart(levels, page.fmt) if any_tickets else None,
    }
    return render(page, "portal/service.html", context)


@router.get("/portal/analytics")
def analytics_page(page: CustomerPage, session: DbSession) -> Response:
    data = views.analytics(session, page.actor)
    context = {"portal_tab": "analytics", "data": data, "dwell": lambda s: duration(page.fmt, s)}
    return render(page, "portal/analytics.html", context)
