"""The forecast dashboard (``/forecast``): a period's revenue as a distribution per scope,
the deals behind it ranked by expected value with their drivers, reps' overrides beside
the model's number, and what moved it since last week.

Everything comes from ``pathcast.forecast.service.revenue`` with the viewer's Actor, so a
rep sees only their own deals, a manager their team's, an admin everyone's; members and
customer contacts get the 403 page.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from pathcast.auth.permissions import may
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import PermissionDenied
from pathcast.forecast.service import revenue, revenue_moved
from pathcast.web.lookups import stages_by_id
from pathcast.web.rendering import Formatter, PageContext, render
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)
CHOICES = ("this_month", "next_month", "this_quarter", "next_quarter")
PAGE_DRAWS = 2000
MAX_CHART_ROWS = 30
BUCKET_DEALS = 5


def _period(choice: str, today: date) -> tuple[str, date]:
    kind = "month" if choice.endswith("month") else "quarter"
    start = revenue.period_start_of(kind, today)
    return kind, revenue.period_end(kind, start) if choice.startswith("next") else start


def _scope_label(fmt: Formatter, scope: str, label: str) -> str:
    if scope == "company":
        return fmt.t("forecast.scope.company")
    kind = scope.split(":", 1)[0]
    return fmt.t(f"forecast.scope.{kind}", name=label)


def _driver_text(driver: dict[str, Any], locale: str) -> str:
    text = driver.get("zh") if locale == "zh-CN" else driver.get("en")
    return str(text or driver.get("en") or driver.get("feature") or "")


def _chart(rows: list[tuple[str, revenue.PeriodDistribution]], fmt: Formatter) -> dict[str, Any]:
    """The JSON the ECharts range chart reads: one row per scope, P10–P90 band, P50 marker."""
    return {
        "locale": "ZH" if fmt.locale == "zh-CN" else "EN",
        "rows": [
            {
                "label": label,
                "p10": round(dist.p10, 2),
                "p50": round(dist.p50, 2),
                "p90": round(dist.p90, 2),
                "won": round(dist.won_so_far, 2),
            }
            for label, dist in rows
        ],
        "labels": {
            "p10": fmt.t("forecast.p10"),
            "p50": fmt.t("forecast.p50"),
            "p90": fmt.t("forecast.p90"),
            "band": fmt.t("forecast.chart.band"),
            "won": fmt.t("forecast.won_so_far"),
        },
    }


def forecast_context(page: PageContext, session: Any, *, choice: str, scope: str | None) -> dict[str, Any]:
    """Everything the template shows, for the viewer's Actor."""
    actor = page.actor
    fmt = page.fmt
    if not may(actor, "forecast", "read"):
        raise PermissionDenied("forbidden_model", entity="forecast")
    choice = choice if choice in CHOICES else "this_quarter"
    kind, start = _period(choice, utcnow().date())
    options = revenue.visible_scopes(session, actor)
    labels = {value: _scope_label(fmt, value, label) for value, label in options}
    # A scope the viewer may not see is refused by the service (403), not silently replaced.
    chosen = scope or revenue.default_scope(actor)
    rows = [value for value, _label in options][:MAX_CHART_ROWS]
    overview = revenue_moved.period_overview(
        session,
        actor=actor,
        period_kind=kind,
        period_start=start,
        scope=chosen,
        scopes=rows,
        draws=PAGE_DRAWS,
    )
    selected = overview.selected
    chart_rows = [(labels.get(dist.scope, dist.scope), dist) for dist in overview.rows]
    moved_rows = [
        (bucket, sorted(bucket.deals, key=lambda item: (-abs(item.delta), item.id)))
        for bucket in overview.moved.buckets
        if bucket.deals
    ]
    return {
        "choice": choice,
        "choices": CHOICES,
        "scope": chosen,
        "scope_options": [(value, labels[value]) for value, _label in options],
        "scope_label": labels.get(chosen, chosen),
        "period_kind": kind,
        "period_start": start,
        "period_end": revenue.period_end(kind, start),
        "dist": selected,
        "chart": _chart(chart_rows, fmt),
        "chart_rows": chart_rows,
        "moved": overview.moved,
        "moved_rows": moved_rows,
        "stages": stages_by_id(session, [deal.stage_id for deal in selected.deals]),
        "last_day": revenue.period_end(kind, start) - timedelta(days=1),
        "bucket_deals": BUCKET_DEALS,
        "no_model": bool(selected.deals) and selected.sources.get("model", 0) == 0,
        "some_stage": selected.sources.get("stage", 0),
        "driver_text": lambda driver: _driver_text(driver, fmt.locale),
        "empty": not selected.deals and not selected.won_deals,
    }


@router.get("/forecast")
def forecast_page(
    page: Page, session: DbSession, period: str = "this_quarter", scope: str | None = None
) -> Response:
    """The revenue forecast of a period, per scope, with its deals and what moved it."""
    return render(page, "forecast/page.html", forecast_context(page, session, choice=period, scope=scope))
