"""Radar pages, response toolbox: case studies and the "similar cases" panels.

- ``/radar/cases``: the case studies; admins and managers add, edit and archive them
  (plain POST forms with the CSRF token; a refused form comes back 422 with every typed
  value kept and the message beside its field), reps read.
- ``/radar/signals/{id}/cases-panel`` and ``/opportunities/{id}/cases-panel``: htmx
  fragments (``outerHTML``) listing the won deals and case studies most like the signal or
  deal, with a score and why each matched. Both read through ``radar.service.cases`` with
  the viewer's Actor: a hidden signal or deal is a 404, a viewer without the radar right
  gets 403, and nothing to match is an empty state, never an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput
from pathcast.radar import schemas as s
from pathcast.radar.service import cases, settings
from pathcast.web.forms import PostedForm, message
from pathcast.web.radar import RadarFormPage, RadarPage
from pathcast.web.rendering import PageContext, render

router = APIRouter(include_in_schema=False)

PANEL_TOP = 5
# Separators people type between product names: new lines, commas (both widths), 、 and ；.
PRODUCT_SEPARATORS = re.compile(r"[\n\r,，、;；]+")
# Thousands separators, currency signs and spaces people type in an amount.
AMOUNT_NOISE = re.compile(r"[\s,，_¥￥$]|CNY|RMB|元", re.IGNORECASE)
FORM_FIELDS = ("title", "industry", "products", "amount", "text", "url", "account_id")


# --- parsing the form -------------------------------------------------------------------------


def parse_products(text: str) -> list[str]:
    """Product names from a text area: one per line or separated by commas, 、 or ；."""
    return [name for name in (" ".join(part.split()) for part in PRODUCT_SEPARATORS.split(text)) if name]


def parse_amount(text: str) -> float | None:
    """An amount typed as ``1,200,000``, ``¥ 80000`` or ``1.5e6``; blank is None.
    Raises ValueError when it is not a finite number."""
    clean = AMOUNT_NOISE.sub("", text or "")
    if not clean:
        return None
    number = float(clean)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def parse_case_form(form: Mapping[str, str]) -> tuple[dict[str, Any], list[FieldError]]:
    """The service's data from a posted case-study form, and the fields that did not parse.

    Never raises: whatever was posted, each problem is a FieldError naming its field.
    """
    errors: list[FieldError] = []
    data: dict[str, Any] = {
        "title": form.get("title", ""),
        "industry": form.get("industry", "").strip() or None,
        "products": parse_products(form.get("products", "")),
        "text": form.get("text", ""),
        "url": form.get("url", "").strip() or None,
        "amount": None,
        "account_id": None,
    }
    try:
        data["amount"] = parse_amount(form.get("amount", ""))
    except ValueError:
        errors.append(FieldError("amount", "invalid", {"message": "amount"}))
    account = form.get("account_id", "").strip()
    if account:
        if account.isascii() and account.isdigit() and len(account) < 19:
            data["account_id"] = int(account)
        else:
            errors.append(FieldError("account_id", "invalid", {"message": "account_id"}))
    return data, errors


# --- the case-study page ----------------------------------------------------------------------


@dataclass
class CaseForm:
    """A case-study form as typed (add when ``case_id`` is None) and its messages."""

    case_id: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _typed(study: Any) -> dict[str, str]:
    """A stored case study as form values."""
    amount = study.amount
    return {
        "title": study.title,
        "industry": study.industry or "",
        "products": "\n".join(study.products or []),
        "amount": "" if amount is None else f"{amount:.2f}".rstrip("0").rstrip("."),
        "text": study.text or "",
        "url": study.url or "",
        "account_id": "" if study.account_id is None else str(study.account_id),
    }


def _field_messages(page: PageContext, errors: list[FieldError]) -> dict[str, str]:
    found: dict[str, str] = {}
    for error in errors:
        name = error.field.split(".")[0]
        if name not in FORM_FIELDS:
            name = ""
        text = page.t(f"radar_cases.errors.{name}") if name else message(error, page.locale)
        if error.code == "missing":
            text = page.t("radar_cases.errors.missing")
        found.setdefault(name, text)
    return found


def _cases_page(
    page: PageContext, session: Session, *, form: CaseForm | None = None, status_code: int = 200
) -> Response:
    studies = cases.list_case_studies(session, actor=page.actor)
    weights = settings.get_weights(session, actor=page.actor)
    lang = "zh" if page.locale == "zh-CN" else "en"
    industries = [
        str((value.get("label") or {}).get(lang) or key)
        for key, value in weights.get("industries", {}).items()
    ]
    context = {
        "studies": studies,
        "typed": {study.id: _typed(study) for study in studies},
        "can_edit": cases.may_edit_cases(page.actor),
        "form": form or CaseForm(),
        "industries": industries,
    }
    return render(page, "radar/cases.html", context, status_code=status_code)


@router.get("/radar/cases")
def radar_cases(page: RadarPage, session: DbSession) -> Response:
    """The case studies; editable by admins and managers, read-only for reps."""
    return _cases_page(page, session)


def _save(page: PageContext, session: Session, form: Mapping[str, str], case_id: int | None) -> Response:
    typed = {name: form.get(name, "") for name in FORM_FIELDS}
    data, errors = parse_case_form(form)
    if not errors:
        try:
            if case_id is None:
                study = cases.add_case_study(session, actor=page.actor, data=data)
            else:
                study = cases.update_case_study(session, actor=page.actor, case_id=case_id, changes=data)
        except InvalidInput as refused:
            errors = refused.errors
    if errors:
        failed = CaseForm(case_id=case_id, values=typed, errors=_field_messages(page, errors))
        return _cases_page(page, session, form=failed, status_code=422)
    return RedirectResponse(f"/radar/cases#case-{study.id}", status_code=303)


@router.post("/radar/cases")
def radar_case_add(page: RadarFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a case study (admins, managers); back to the list at the new case (303)."""
    return _save(page, session, form, None)


@router.post("/radar/cases/{case_id}")
def radar_case_edit(page: RadarFormPage, session: DbSession, form: PostedForm, case_id: int) -> Response:
    """Change a case study (admins, managers)."""
    return _save(page, session, form, case_id)


@router.post("/radar/cases/{case_id}/archive")
def radar_case_archive(page: RadarFormPage, session: DbSession, case_id: int) -> Response:
    """Archive a case study (admins, managers): it is no longer listed or matched."""
    cases.archive_case_study(session, actor=page.actor, case_id=case_id)
    return RedirectResponse("/radar/cases", status_code=303)


# --- the panels -------------------------------------------------------------------------------


def _shown(page: PageContext, match: s.CaseMatchRead) -> dict[str, Any]:
    lang = "zh" if page.locale == "zh-CN" else "en"
    return {
        "kind": match.kind,
        "id": match.id,
        "title": match.title,
        "link": match.link,
        # a case study's own web page opens outside Pathcast
        "external": match.link.startswith(("http://", "https://")),
        "percent": round(match.score * 100),
        "score": match.score,
        "parts": [(name, round(value * 100)) for name, value in match.parts.items()],
        "reasons": [reason.get(lang) or reason.get("en") or "" for reason in match.reasons],
        "industry": match.industry,
        "amount": match.amount,
        "account_name": match.account_name,
    }


def _panel(page: PageContext, panel_id: str, matches: list[s.CaseMatchRead], scope: str) -> Response:
    context = {
        "panel_id": panel_id,
        "scope": scope,
        "matches": [_shown(page, match) for match in matches],
    }
    return render(page, "radar/_cases_panel.html", context)


@router.get("/radar/signals/{item_id}/cases-panel")
def signal_cases_panel(page: RadarPage, session: DbSession, item_id: int) -> Response:
    """The won deals and case studies most like a signal, as an HTML fragment."""
    matches = cases.cases_for_signal(session, page.actor, item_id, top=PANEL_TOP)
    return _panel(page, "radar-cases-panel", matches, "signal")


@router.get("/opportunities/{opportunity_id}/cases-panel")
def deal_cases_panel(page: RadarPage, session: DbSession, opportunity_id: int) -> Response:
    """The other won deals and case studies most like a deal, as an HTML fragment."""
    matches = cases.cases_for_deal(session, page.actor, opportunity_id, top=PANEL_TOP)
    return _panel(page, "cases-panel", matches, "deal")
