"""Hive pages, health: the hive page's health panel, the managers' overview of every hive
by health, and OKRs (``/hives/{id}/health-panel``, ``/hives/overview``, ``/hives/okrs``).

- The **health panel** (htmx fragment, ``outerHTML``): the score, each component with its
  numbers and explanation, the busy-not-moving banner, each member's contribution (answers,
  problems resolved, knowledge others used — never messages or logins) and the member ×
  week heatmap (ECharts; the table beside it holds the same numbers), and the hive's
  knowledge with "I used this" buttons and an add form.
- The **overview**: every hive the viewer may read, least healthy first, flagged ones
  loudly, with the health trend from the event log.
- **OKRs**: a manager's objectives with key results on hive health and on-time delivery,
  their live values, and forms to add both (admins and managers; others get 403).

Everything goes through ``hives.service`` with the viewer's Actor: a hive the viewer may
not read is a 404. Forms are plain POST forms with the CSRF token; htmx swaps the panel,
without htmx the answer is a 303 back. Bad input comes back 422 with the values kept and
the message beside the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Team
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, NotFound
from pathcast.hives import contribution as c
from pathcast.hives import health as h
from pathcast.hives.models import KEY_RESULT_METRICS
from pathcast.hives.service import contribution, health, okrs
from pathcast.hives.service.access import get_hive
from pathcast.web.forms import PostedForm, is_htmx, message
from pathcast.web.lookups import account_names, user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

PANEL_WEEKS = 8
KNOWLEDGE_SHOWN = 20


@dataclass
class Form:
    """A form as typed and its messages (``""`` holds the general one)."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _lang(page: PageContext) -> str:
    return "zh" if page.locale == "zh-CN" else "en"


def _errors(page: PageContext, problems: list[FieldError], names: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for problem in problems:
        name = problem.field.split(".")[0]
        found.setdefault(name if name in names else "", message(problem, page.locale))
    return found


# --- the health panel ---------------------------------------------------------------------------


def _components(page: PageContext, stored: Mapping[str, Any]) -> list[dict[str, Any]]:
    lang = _lang(page)
    shown = []
    for key, weight in h.WEIGHTS.items():
        part = stored.get(key)
        if not isinstance(part, dict):
            continue
        value = float(part.get("value") or 0)
        shown.append(
            {
                "key": key,
                "value": value,
                "percent": round(value * 100),
                "weight": round(weight * 100),
                "text": str(part.get(lang) or part.get("en") or ""),
                "numbers": part.get("numbers") or {},
            }
        )
    return shown


def _heatmap(page: PageContext, found: c.Contribution, names: list[str]) -> dict[str, Any]:
    fmt = page.fmt
    return {
        "locale": "ZH" if page.locale == "zh-CN" else "EN",
        "members": names,
        "weeks": [fmt.date(week) for week in found.weeks],
        "cells": [[week, member, value, parts] for member, week, value, parts in found.matrix],
        "max": max([value for _m, _w, value, _p in found.matrix] or [1]),
        "labels": {
            key: page.t(f"hives_health.heatmap.{key}") for key in ("answers", "tasks", "risks", "knowledge")
        },
    }


def panel_response(
    page: PageContext, session: Session, hive_id: int, *, form: Form | None = None, status_code: int = 200
) -> Response:
    """The health panel of a readable hive (404 otherwise)."""
    hive = get_hive(session, page.actor, hive_id)
    stored = dict(hive.health_components or {})
    found = contribution.contribution_of(session, page.actor, hive.id, weeks=PANEL_WEEKS)
    knowledge = contribution.knowledge_of(session, page.actor, hive.id)[:KNOWLEDGE_SHOWN]
    names = user_names(
        session,
        [row.user_id for row in found.members] + [item.added_by for item in knowledge],
    )
    member_names = [names.get(row.user_id, f"#{row.user_id}") for row in found.members]
    me = page.actor.user_id
    context = {
        "hive": hive,
        "components": _components(page, stored),
        "activity": stored.get("activity") or {},
        "raw": stored.get("raw"),
        "members": list(zip(member_names, found.members, strict=True)),
        "heatmap": _heatmap(page, found, member_names),
        "weeks": PANEL_WEEKS,
        "knowledge": [
            {
                "item": item,
                "author": names.get(item.added_by or 0, "—"),
                "uses": len(item.used_by or []),
                "may_use": me is not None
                and me != item.added_by
                and all(use.get("user_id") != me for use in item.used_by or []),
            }
            for item in knowledge
        ],
        "form": form or Form(),
        "window_days": h.WINDOW_DAYS,
        "threshold": h.BUSY_THRESHOLD,
        "cap": h.BUSY_CAP,
    }
    return render(page, "hives/_health_panel.html", context, status_code=status_code)


def _done(page: PageContext, session: Session, hive_id: int) -> Response:
    if is_htmx(page.request):
        return panel_response(page, session, hive_id)
    return RedirectResponse(f"/hives/{hive_id}#health-panel", status_code=303)


@router.get("/hives/{hive_id}/health-panel")
def health_panel(page: Page, session: DbSession, hive_id: int) -> Response:
    """The health panel of a hive, as an HTML fragment."""
    return panel_response(page, session, hive_id)


@router.post("/hives/{hive_id}/health-panel/recompute")
def health_recompute(page: FormPage, session: DbSession, hive_id: int) -> Response:
    """Recompute the hive's health now and show the panel again."""
    health.recompute_health(session, page.actor, hive_id)
    return _done(page, session, hive_id)


@router.post("/hives/{hive_id}/health-panel/knowledge")
def knowledge_add(page: FormPage, session: DbSession, form: PostedForm, hive_id: int) -> Response:
    """Add a document or an answer to the hive's knowledge."""
    values = {name: form.get(name, "") for name in ("title", "body")}
    try:
        contribution.add_knowledge(
            session, page.actor, hive_id=hive_id, title=values["title"], body=values["body"]
        )
    except InvalidInput as refused:
        typed = Form(values=values, errors=_errors(page, refused.errors, ("title", "body")))
        return panel_response(page, session, hive_id, form=typed, status_code=422)
    return _done(page, session, hive_id)


@router.post("/hives/{hive_id}/health-panel/knowledge/{knowledge_id}/use")
def knowledge_use(page: FormPage, session: DbSession, hive_id: int, knowledge_id: int) -> Response:
    """Record that the viewer used a piece of knowledge (it counts for its author)."""
    if all(item.id != knowledge_id for item in contribution.knowledge_of(session, page.actor, hive_id)):
        raise NotFound("not_found", entity="hive_knowledge", id=knowledge_id)
    contribution.use_knowledge(session, page.actor, knowledge_id=knowledge_id)
    return _done(page, session, hive_id)


# --- the manager view -----------------------------------------------------------------------------


@router.get("/hives/overview")
def overview_page(page: Page, session: DbSession, flagged: str = "", closed: str = "") -> Response:
    """Every hive the viewer may read, least healthy first, with flags and trend."""
    rows = health.overview(session, page.actor, include_closed=bool(closed), flagged_only=bool(flagged))
    accounts = account_names(session, page.actor, [row.hive.account_id for row in rows])
    context = {
        "rows": rows,
        "accounts": accounts,
        "flagged": bool(flagged),
        "closed": bool(closed),
        "flagged_count": sum(1 for row in rows if row.hive.busy_not_moving),
        "weights": [(key, round(weight * 100)) for key, weight in h.WEIGHTS.items()],
        "window_days": h.WINDOW_DAYS,
        "threshold": h.BUSY_THRESHOLD,
        "cap": h.BUSY_CAP,
        "penalty": h.BUSY_PENALTY,
    }
    return render(page, "hives/overview.html", context)


@router.post("/hives/overview/recompute")
def overview_recompute(page: FormPage, session: DbSession) -> Response:
    """Recompute every readable open hive's health, then back to the overview."""
    health.recompute_all(session, page.actor)
    return RedirectResponse("/hives/overview", status_code=303)


# --- OKRs -------------------------------------------------------------------------------------

OBJECTIVE_FIELDS = ("title", "period_start", "period_end")
KEY_RESULT_FIELDS = ("title", "metric", "target", "team_id")


def _okr_page(
    page: PageContext,
    session: Session,
    *,
    objective_form: Form | None = None,
    result_forms: dict[int, Form] | None = None,
    status_code: int = 200,
) -> Response:
    objectives = okrs.list_objectives(session, page.actor)
    results = okrs.key_results_of(session, [objective.id for objective in objectives])
    owners = user_names(session, [objective.owner_id for objective in objectives])
    teams = [(team.id, team.name) for team in session.scalars(select(Team).order_by(Team.name))]
    today = date.today()
    context = {
        "objectives": [(objective, results[objective.id], owners.get(objective.owner_id, "—")) for objective in objectives],
        "objective_form": objective_form
        or Form(values={"period_start": date(today.year, 1, 1).isoformat(), "period_end": date(today.year, 12, 31).isoformat()}),
        "result_forms": result_forms or {},
        "metrics": KEY_RESULT_METRICS,
        "teams": teams,
    }  # fmt: skip
    return render(page, "hives/okrs.html", context, status_code=status_code)


def _day(text: str, name: str, problems: list[FieldError]) -> date | None:
    try:
        return date.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        problems.append(FieldError(name, "date_invalid"))
        return None


@router.get("/hives/okrs")
def okrs_page(page: Page, session: DbSession) -> Response:
    """The viewer's objectives and their key results, live (admins and managers)."""
    return _okr_page(page, session)


@router.post("/hives/okrs")
def okr_add(page: FormPage, session: DbSession, form: PostedForm) -> Response:
    """Add an objective; 422 with the values kept when something is wrong."""
    values = {name: form.get(name, "") for name in OBJECTIVE_FIELDS}
    problems: list[FieldError] = []
    start = _day(values["period_start"], "period_start", problems)
    end = _day(values["period_end"], "period_end", problems)
    if not values["title"].strip():
        problems.append(FieldError("title", "missing"))
    if not problems and start is not None and end is not None:
        try:
            okrs.create_objective(
                session, page.actor, title=values["title"], period_start=start, period_end=end
            )
        except InvalidInput as refused:
            problems = refused.errors
    if problems:
        typed = Form(values=values, errors=_errors(page, problems, OBJECTIVE_FIELDS))
        return _okr_page(page, session, objective_form=typed, status_code=422)
    return RedirectResponse("/hives/okrs", status_code=303)


def parse_target(text: str, metric: str) -> float | FieldError:
    """A target typed as ``80`` (health) or ``90%`` / ``0.9`` (on-time share)."""
    cleaned = text.strip().replace(",", ".")
    percent = cleaned.endswith("%")
    try:
        number = float(cleaned.rstrip("%").strip())
    except ValueError:
        return FieldError("target", "number_invalid")
    if number != number or number in (float("inf"), float("-inf")):
        return FieldError("target", "number_invalid")
    if metric == "on_time_delivery" and (percent or number > 1):
        number = number / 100
    return number


@router.post("/hives/okrs/{objective_id}/key-results")
def key_result_add(page: FormPage, session: DbSession, form: PostedForm, objective_id: int) -> Response:
    """Add a key result to an objective; 422 with the values kept when something is wrong."""
    values = {name: form.get(name, "") for name in KEY_RESULT_FIELDS}
    problems: list[FieldError] = []
    target = parse_target(values["target"], values["metric"])
    if isinstance(target, FieldError):
        problems.append(target)
    team_id: int | None = None
    if values["team_id"].strip():
        if values["team_id"].strip().isdigit() and len(values["team_id"].strip()) < 10:
            team_id = int(values["team_id"])
        else:
            problems.append(FieldError("team_id", "invalid", {"message": "team"}))
    if not values["title"].strip():
        problems.append(FieldError("title", "missing"))
    if not problems and isinstance(target, float):
        try:
            okrs.add_key_result(
                session, page.actor, objective_id=objective_id, title=values["title"], metric=values["metric"],
                target=target, team_id=team_id,
            )  # fmt: skip
        except InvalidInput as refused:
            problems = refused.errors
    if problems:
        okrs.get_objective(session, page.actor, objective_id)  # 404 before 422 for someone else's
        typed = Form(values=values, errors=_errors(page, problems, KEY_RESULT_FIELDS))
        return _okr_page(page, session, result_forms={objective_id: typed}, status_code=422)
    return RedirectResponse(f"/hives/okrs#objective-{objective_id}", status_code=303)


@router.post("/hives/okrs/{objective_id}/delete")
def okr_delete(page: FormPage, session: DbSession, objective_id: int) -> Response:
    """Delete an objective and its key results."""
    okrs.delete_objective(session, page.actor, objective_id=objective_id)
    return RedirectResponse("/hives/okrs", status_code=303)


@router.post("/hives/key-results/{key_result_id}/delete")
def key_result_delete(page: FormPage, session: DbSession, key_result_id: int) -> Response:
    """Remove a key result."""
    okrs.delete_key_result(session, page.actor, key_result_id=key_result_id)
    return RedirectResponse("/hives/okrs", status_code=303)
