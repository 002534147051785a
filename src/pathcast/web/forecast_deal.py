"""The deal page's forecast panel: the model's number (a suggestion, with its drivers), the
override in force beside it with who made it, the reps' notes, and a form to add one.

``opportunities/detail.html`` loads the panel after the page with htmx, so a slow model
never delays the deal. The panel is always a 200 fragment for a deal its viewer may read
(a deal with no score says so); 404 for a deal they may not see. Notes are written through
``forecast.service.annotations`` (each one an event); a refused note comes back as the
panel with the message beside its field (422), like the in-place field forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pathcast.crm import models as m
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, NotFound
from pathcast.events import events_savepoint
from pathcast.forecast.service import annotations as notes
from pathcast.web.forms import PostedForm, message
from pathcast.web.panels import DealPanel
from pathcast.web.rendering import PageContext
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)
TOP_DRIVERS = 5
FORM_FIELDS = ("note", "override_probability", "override_category")


@dataclass
class NoteForm:
    """The add-a-note form: what was typed and the message beside each field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(str(value)) * 100:.0f}%"


def _signed(points: Any) -> str:
    try:
        number = float(points)
    except (TypeError, ValueError):
        return ""
    return f"{number:+.0f}"


def _load_deal(session: Session, page: PageContext, opportunity_id: int) -> m.Opportunity:
    """The deal if the viewer may read it (404 otherwise) and may read forecasts (403)."""
    deal: m.Opportunity = notes.readable_deal(session, actor=page.actor, opportunity_id=opportunity_id)
    return deal


def panel_context(
    session: Session, page: PageContext, deal: m.Opportunity, form: NoteForm | None = None
) -> dict[str, Any]:
    """Everything the panel shows, in the viewer's language."""
    fmt = page.fmt
    score = notes.model_score(session, deal.id)
    override = notes.effective_overrides(session, [deal.id]).get(deal.id)
    text_key = "zh" if page.locale == "zh-CN" else "en"
    drivers = []
    if score is not None:
        ranked = sorted(score.drivers, key=lambda item: abs(float(item.get("points") or 0)), reverse=True)
        for driver in ranked[:TOP_DRIVERS]:
            points = float(driver.get("points") or 0)
            drivers.append(
                {
                    "text": str(driver.get(text_key) or driver.get("en") or driver.get("feature") or ""),
                    "points": _signed(points),
                    "direction": "up" if points > 0 else "down" if points < 0 else "flat",
                }
            )
    annotations = notes.annotations_for(session, deal.id)
    override_line = None
    if override is not None:
        parts = []
        if override.probability is not None:
            parts.append(_percent(override.probability))
        if override.category is not None:
            parts.append(fmt.label(f"fields.forecast.{override.category}", override.category))
        model_text = _percent(score.probability) if score is not None else fmt.t("forecast_deal.no_model")
        override_line = fmt.t(
            "forecast_deal.override_by", name=override.author_label, value=" · ".join(parts), model=model_text
        )
    return {
        "deal": deal,
        "score": score,
        "score_text": _percent(score.probability) if score is not None else None,
        "drivers": drivers,
        "override": override,
        "override_line": override_line,
        "annotations": annotations,
        "withdrawable": {note.id for note in annotations if notes.may_withdraw(session, page.actor, note)},
        "percent": _percent,
        "can_annotate": notes.may_annotate(session, page.actor, deal.id),
        "categories": [
            (value, fmt.label(f"fields.forecast.{value}", value)) for value in notes.OVERRIDE_CATEGORIES
        ],
        "form": form or NoteForm(),
        "action": f"/opportunities/{deal.id}/forecast-panel/annotations",
    }


PANEL = DealPanel("opportunities/forecast_panel.html", "forecast-panel", panel_context)


@router.get("/opportunities/{opportunity_id}/forecast-panel")
def forecast_panel(page: Page, session: DbSession, opportunity_id: int) -> Response:
    """The forecast panel of a deal, as an HTML fragment."""
    deal = _load_deal(session, page, opportunity_id)
    return PANEL.render(session, page, deal)


def parse_percent(text: str) -> float | FieldError | None:
    """A percentage typed on the form ("70", "70%", "42.5") as a probability 0–1."""
    cleaned = text.strip().rstrip("%").strip().replace(",", ".")
    if not cleaned:
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return FieldError("override_probability", "percent_range")
    if not number.is_finite() or number < 0 or number > 100:
        return FieldError("override_probability", "percent_range")
    return float(number / 100)


@router.post("/opportunities/{opportunity_id}/forecast-panel/annotations")
def add_note(page: FormPage, session: DbSession, form: PostedForm, opportunity_id: int) -> Response:
    """Add a note (with an optional override in percent) and show the panel again."""
    deal = _load_deal(session, page, opportunity_id)
    values = {name: (form.get(name) or "").strip() for name in FORM_FIELDS}
    problems: list[FieldError] = []
    probability = parse_percent(values["override_probability"])
    if isinstance(probability, FieldError):
        problems.append(probability)
        probability = None
    try:
        # every field's problem at once, even when the percentage did not parse
        notes.validate(values["note"], probability, values["override_category"] or None)
    except InvalidInput as refused:
        problems.extend(refused.errors)
    if not problems:
        try:
            with events_savepoint(session):
                notes.annotate(
                    session,
                    actor=page.actor,
                    opportunity_id=deal.id,
                    note=values["note"],
                    override_probability=probability,
                    override_category=values["override_category"] or None,
                )
        except InvalidInput as refused:
            problems.extend(refused.errors)
    if problems:
        errors: dict[str, str] = {}
        for problem in problems:
            name = problem.field if problem.field in FORM_FIELDS else ""
            if problem.field == "override_probability" and problem.code == "probability_range":
                problem = FieldError(problem.field, "percent_range")
            errors.setdefault(name, message(problem, page.locale))
        return PANEL.render(session, page, deal, NoteForm(values=values, errors=errors), status=422)
    return PANEL.done(session, page, deal)


@router.post("/opportunities/{opportunity_id}/forecast-panel/annotations/{annotation_id}/withdraw")
def withdraw_note(
    page: FormPage, session: DbSession, form: PostedForm, opportunity_id: int, annotation_id: int
) -> Response:
    """Withdraw a note (its author, their manager or an admin) and show the panel again."""
    deal = _load_deal(session, page, opportunity_id)
    if all(note.id != annotation_id for note in notes.annotations_for(session, deal.id)):
        raise NotFound(entity="annotation", id=annotation_id)
    notes.withdraw(session, actor=page.actor, annotation_id=annotation_id)
    return PANEL.done(session, page, deal)
