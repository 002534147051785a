"""Capacity pages: the capacity calendar (``/hives/capacity``), a hive's capacity panel
(``/hives/{id}/capacity-panel``) and the deal page's promise panel
(``/opportunities/{id}/promise-panel``).

Everything goes through ``hives.service.capacity`` / ``capacity_promise`` with the viewer's
Actor. The calendar is for everyone with the ``hive_resource`` right (customer contacts get
403); who booked a week is named only when the viewer may read that hive or deal. A hive the
viewer may not read is a 404; the promise panel is for sellers who may read the deal (a
member gets 403, a hidden deal 404). Forms are plain POST forms with the CSRF token; htmx
swaps the panel, a browser without htmx is sent back (303). Refused input comes back 422
with the values kept and the message beside the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.deps import DbSession
from pathcast.errors import Conflict, FieldError, InvalidInput, PermissionDenied
from pathcast.hives import models as m
from pathcast.hives.service import capacity, templates
from pathcast.hives.service.access import get_hive
from pathcast.hives.service.capacity_promise import past_checks, promise_for_deal
from pathcast.web.forms import PostedForm, is_htmx, message, parse_day
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

RESOURCE_FIELDS = ("name", "kind", "skill", "capacity_per_week")
PROMISE_FIELDS = ("template", "requested_date", "start_date")
WEEKS_SHOWN = 12
# booked / capacity thresholds of the calendar's colour scale (classes load-0 … load-4)
LOAD_STEPS = (0.0, 0.5, 0.8, 1.0)


def capacity_page(page: Page) -> PageContext:
    """A capacity page: refused (403) to roles without the ``hive_resource`` right."""
    if not may(page.actor, "hive_resource", "read"):
        raise PermissionDenied("forbidden_model", entity="hive_resource")
    return page


def capacity_form_page(page: FormPage) -> PageContext:
    """A posted capacity form: CSRF checked by ``FormPage``, then the right."""
    if not may(page.actor, "hive_resource", "read"):
        raise PermissionDenied("forbidden_model", entity="hive_resource")
    return page


def seller_page(page: Page) -> PageContext:
    """The promise panel: sellers only (members never read the pipeline)."""
    if not may(page.actor, "opportunity", "read"):
        raise PermissionDenied("forbidden_model", entity="opportunity")
    return page


def seller_form_page(page: FormPage) -> PageContext:
    """A posted promise check: CSRF, then the seller right."""
    if not may(page.actor, "opportunity", "read"):
        raise PermissionDenied("forbidden_model", entity="opportunity")
    return page


CapacityPage = Annotated[PageContext, Depends(capacity_page)]
CapacityFormPage = Annotated[PageContext, Depends(capacity_form_page)]
SellerPage = Annotated[PageContext, Depends(seller_page)]
SellerFormPage = Annotated[PageContext, Depends(seller_form_page)]


def error_text(page: PageContext, error: FieldError) -> str:
    """One refusal as a sentence (our codes carry their own catalogue entries)."""
    return message(error, page.locale)


def field_errors(page: PageContext, errors: list[FieldError], names: tuple[str, ...]) -> dict[str, str]:
    """``{field: sentence}``; errors on fields the form lacks go to ``""``."""
    found: dict[str, str] = {}
    for error in errors:
        name = error.field.split(".")[0]
        found.setdefault(name if name in names else "", error_text(page, error))
    return found


def holder_text(page: PageContext, kind: str, label: str | None) -> str:
    """Who holds a booking, as the viewer may know it."""
    if label:
        return label
    return page.t(f"hives_capacity.holder.{kind}")


def load_class(load: float) -> str:
    """The colour-scale class of a week's load (booked / capacity)."""
    return f"load-{sum(load > step for step in LOAD_STEPS)}"


def _lang_name(page: PageContext, name: str) -> str:
    """``"生产制造 / Manufacturing"`` in the page's language."""
    zh, _slash, en = name.partition(" / ")
    return (zh if page.locale == "zh-CN" else en or zh) or name


# --- the calendar -----------------------------------------------------------------------------


def _calendar(
    page: PageContext,
    session: Session,
    *,
    weeks: int = WEEKS_SHOWN,
    start: date | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    mondays, rows = capacity.capacity_calendar(session, page.actor, weeks=weeks, start=start)
    shown = [
        {
            "resource": row.resource,
            "cells": [
                {
                    "week": cell.week_start,
                    "capacity": cell.capacity,
                    "booked": cell.booked,
                    "free": cell.free,
                    "class": load_class(cell.load),
                    "holders": [
                        (holder_text(page, h.kind, h.label), units) for h, units, _rid in cell.holders
                    ],
                }
                for cell in row.cells
            ],
        }
        for row in rows
    ]
    skills = sorted({row.resource.skill for row in rows})
    context = {
        "weeks": mondays,
        "rows": shown,
        "skills": skills,
        "kinds": m.RESOURCE_KINDS,
        "can_edit": capacity.may_edit_resources(page.actor),
        "values": dict(values or {}),
        "errors": dict(errors or {}),
        "earlier": mondays[0] - timedelta(weeks=weeks),
        "later": mondays[0] + timedelta(weeks=weeks),
        "weeks_count": weeks,
    }
    return render(page, "hives/capacity.html", context, status_code=status_code)


@router.get("/hives/capacity")
def capacity_calendar(
    page: CapacityPage, session: DbSession, start: str = "", weeks: int = WEEKS_SHOWN
) -> Response:
    """Resources × weeks, booked over capacity on a colour scale, who booked it on hover."""
    return _calendar(page, session, start=parse_day(start) if start else None, weeks=min(max(weeks, 1), 52))


def parse_resource_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """The service's data from the resource form, and what did not parse (never raises)."""
    errors: list[FieldError] = []
    data: dict[str, Any] = {name: form.get(name, "") for name in ("name", "kind", "skill")}
    raw = form.get("capacity_per_week", "").replace(",", "").replace(" ", "")
    try:
        data["capacity_per_week"] = float(raw)
    except ValueError:
        errors.append(FieldError("capacity_per_week", "number_invalid"))
    return data, errors


@router.post("/hives/capacity/resources")
def capacity_resource_add(page: CapacityFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a resource (admins, managers, planners); back to the calendar at its row (303)."""
    data, errors = parse_resource_form(form)
    if not errors:
        try:
            resource = capacity.create_resource(session, page.actor, data=data)
        except InvalidInput as refused:
            errors = refused.errors
        except Conflict:
            errors = [FieldError("name", "resource_name_taken")]
        else:
            return RedirectResponse(f"/hives/capacity#resource-{resource.id}", status_code=303)
    typed = {name: form.get(name, "") for name in RESOURCE_FIELDS}
    return _calendar(
        page, session, values=typed, errors=field_errors(page, errors, RESOURCE_FIELDS), status_code=422
    )


# --- a hive's capacity panel ------------------------------------------------------------------


def _hive_panel(
    page: PageContext, session: Session, hive_id: int, *, error: str | None = None, status_code: int = 200
) -> Response:
    actor = page.actor
    hive = get_hive(session, actor, hive_id)
    rows = capacity.list_reservations(session, actor, hive_id=hive.id)
    names = {r.id: r for r in capacity.list_resources(session, actor, include_inactive=True)}
    context = {
        "hive": hive,
        "rows": [(reservation, names.get(reservation.resource_id)) for reservation, _holder in rows],
        "total": sum(reservation.units for reservation, _holder in rows),
        "may_reserve": capacity.may_book(actor)
        and may(actor, "hive", "update")
        and hive.template_id is not None,
        "error": error,
    }
    return render(page, "hives/_capacity_panel.html", context, status_code=status_code)


@router.get("/hives/{hive_id}/capacity-panel")
def hive_capacity_panel(page: CapacityPage, session: DbSession, hive_id: int) -> Response:
    """What this hive reserves, week by week, and the "reserve from plan" button."""
    return _hive_panel(page, session, hive_id)


@router.post("/hives/{hive_id}/capacity-panel/reserve")
def hive_capacity_reserve(page: CapacityFormPage, session: DbSession, hive_id: int) -> Response:
    """Book the hive's milestone needs over their forecast windows (replacing its bookings)."""
    try:
        capacity.reserve_for_hive(session, page.actor, hive_id)
    except InvalidInput as refused:
        return _hive_panel(page, session, hive_id, error=error_text(page, refused.errors[0]), status_code=422)
    if not is_htmx(page.request):
        return RedirectResponse(f"/hives/{hive_id}#capacity-panel", status_code=303)
    return _hive_panel(page, session, hive_id)


# --- the deal page's promise panel ------------------------------------------------------------


HOLDERS_SHOWN = 4


def weeks_text(page: PageContext, weeks: list[date]) -> str:
    """The full weeks in words: one or two listed, more as a range with their count."""
    separator = "、" if page.locale == "zh-CN" else ", "
    if len(weeks) <= 2:
        return separator.join(page.fmt.date(week) for week in weeks)
    return page.t("hives_capacity.promise.week_range", first=page.fmt.date(weeks[0]),
                  last=page.fmt.date(weeks[-1]), count=len(weeks))  # fmt: skip


def holders_text(page: PageContext, holders: list[Mapping[str, Any]]) -> str:
    """Who booked the full weeks, each once with their units summed, largest first."""
    totals: dict[str, float] = {}
    for holder in holders:
        name = holder_text(page, holder["holder"], holder["label"])
        totals[name] = totals.get(name, 0.0) + float(holder["units"])
    if not totals:
        return page.t("hives_capacity.promise.nobody")
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    separator = "；" if page.locale == "zh-CN" else "; "
    shown = separator.join(
        page.t("hives_capacity.promise.holder_units", who=name, units=page.fmt.number(units, 1))
        for name, units in ranked[:HOLDERS_SHOWN]
    )
    more = len(ranked) - HOLDERS_SHOWN
    return shown + (page.t("hives_capacity.promise.more", count=more) if more > 0 else "")


def plan_uses(page: PageContext, allocations: list[Mapping[str, Any]]) -> str:
    """What a milestone would take: units per resource over its weeks (the split is shown)."""
    totals: dict[str, float] = {}
    for allocation in allocations:
        totals[allocation["resource_name"]] = totals.get(allocation["resource_name"], 0.0) + float(
            allocation["units"]
        )
    return "; ".join(f"{name} {page.fmt.number(units, 1)}" for name, units in totals.items())


def answer_view(page: PageContext, data: Mapping[str, Any]) -> dict[str, Any]:
    """A promise answer (``PromiseAnswer`` as JSON, or a past check's payload) ready to show."""

    def day(value: Any) -> str:
        return page.fmt.date(date.fromisoformat(value)) if value else "—"

    bottleneck = data.get("bottleneck")
    words = None
    if bottleneck:
        words = page.t("hives_capacity.promise.bottleneck_words", milestone=_lang_name(page, bottleneck["name"]),
                       skill=bottleneck["skill"], days=bottleneck["pushed_days"],
                       weeks=weeks_text(page, [date.fromisoformat(w) for w in bottleneck.get("weeks", [])]),
                       holders=holders_text(page, bottleneck.get("holders", [])))  # fmt: skip
    return {
        "earliest": day(data.get("earliest_date")),
        "feasible": data.get("earliest_date") is not None,
        "unconstrained": day(data.get("unconstrained_date")),
        "start": day(data.get("start_date")),
        "requested": day(data.get("requested_date")) if data.get("requested_date") else None,
        "meets": data.get("meets_request"),
        "too_early": data.get("requested_too_early", False),
        "infeasible": data.get("infeasible_skill"),
        "horizon": data.get("horizon_weeks"),
        "bottleneck": words,
        "moves": [
            {"who": holder_text(page, mv["holder"], mv["label"]), "resource": mv["resource_name"],
             "week": day(mv["week_start"]), "units": page.fmt.number(mv["units"], 1),
             "booked": page.fmt.number(mv["booked"], 1)}
            for mv in data.get("moves", [])
        ],
        "plan": [
            {"name": _lang_name(page, step["name"]), "start": day(step["start"]), "finish": day(step["finish"]),
             "pushed": step["pushed_days"], "uses": plan_uses(page, step.get("allocations", []))}
            for step in data.get("milestones", [])
        ],
        "extra": [
            {"skill": e["skill"], "week": day(e["week_start"]), "units": page.fmt.number(e["units"], 1)}
            for e in data.get("extra_capacity", [])
        ],
    }  # fmt: skip


def _promise_panel(
    page: PageContext,
    session: Session,
    opportunity_id: int,
    *,
    answer: Mapping[str, Any] | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    actor = page.actor
    history = past_checks(session, actor, opportunity_id)  # 404 for a hidden deal
    choices = [
        (t.key, t.name_zh if page.locale == "zh-CN" else t.name_en)
        for t in templates.list_templates(session, actor)
    ]
    latest = answer if answer is not None else (history[0] if history else None)
    context = {
        "deal_id": opportunity_id,
        "choices": choices,
        "values": {"template": "line_upgrade", **dict(values or {})},
        "errors": dict(errors or {}),
        "answer": answer_view(page, latest) if latest else None,
        "fresh": answer is not None,
        "history": [
            {"at": check["at"], "earliest": answer_view(page, check)["earliest"],
             "requested": answer_view(page, check)["requested"], "meets": check.get("meets_request")}
            for check in history
        ],
    }  # fmt: skip
    return render(page, "hives/_promise_panel.html", context, status_code=status_code)


@router.get("/opportunities/{opportunity_id}/promise-panel")
def promise_panel(page: SellerPage, session: DbSession, opportunity_id: int) -> Response:
    """The form (template, requested date, start) and the latest answer."""
    return _promise_panel(page, session, opportunity_id)


def parse_promise_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """The service's arguments from the promise form, and what did not parse (never raises)."""
    errors: list[FieldError] = []
    data: dict[str, Any] = {"template": form.get("template", "").strip() or "line_upgrade"}
    for name in ("requested_date", "start_date"):
        text = form.get(name, "").strip()
        data[name] = parse_day(text) if text else None
        if text and data[name] is None:
            errors.append(FieldError(name, "date_invalid", {"value": text}))
    return data, errors


@router.post("/opportunities/{opportunity_id}/promise-panel")
def promise_check(
    page: SellerFormPage, session: DbSession, form: PostedForm, opportunity_id: int
) -> Response:
    """Run the promise check: the earliest date, the bottleneck, what would have to move."""
    data, errors = parse_promise_form(form)
    typed = {name: form.get(name, "") for name in PROMISE_FIELDS}
    if not errors:
        try:
            answer = promise_for_deal(session, page.actor, opportunity_id, **data)
        except InvalidInput as refused:
            errors = refused.errors
        else:
            if not is_htmx(page.request):
                return RedirectResponse(f"/opportunities/{opportunity_id}#promise-panel", status_code=303)
            return _promise_panel(
                page, session, opportunity_id, answer=answer.model_dump(mode="json"), values=typed
            )
    return _promise_panel(page, session, opportunity_id, values=typed,
                          errors=field_errors(page, errors, ("opportunity_id", *PROMISE_FIELDS)), status_code=422)  # fmt: skip
