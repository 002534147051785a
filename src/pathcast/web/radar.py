"""Radar pages: the signal inbox, a signal's detail with corrections and toolbox, source
health and the industry × topic weight editor (``/radar…``).

Everything is read and written through ``radar.service`` with the viewer's Actor, so the
service's scoping decides what a rep sees (their accounts and public sources); a hidden
signal is a 404 like a missing one. Members and customer contacts have no radar right and
get the 403 page on every radar page. Forms are plain POST forms with the session's CSRF
token; a correction or a source action redirects back (303), a bad weight cell re-renders
the grid (422) with the message beside that cell and every other value kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.radar import models as m
from pathcast.radar.analysis.intent import INTENT_LABELS
from pathcast.radar.service import routing, settings, sources
from pathcast.radar.service import signals as radar_signals
from pathcast.radar.service.signals import POLARITIES
from pathcast.web.forms import PostedForm
from pathcast.web.lookups import account_names, user_names
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

INBOX_LIMIT = 100
WEIGHT_MIN = 0.0
WEIGHT_MAX = 3.0


# --- who may see the radar ------------------------------------------------------------------


def radar_page(page: Page) -> PageContext:
    """A radar page: refused (403) to members and customer contacts (no radar right)."""
    if not may(page.actor, "radar", "read"):
        raise PermissionDenied("forbidden_model", entity="radar")
    return page


def radar_form_page(page: FormPage) -> PageContext:
    """A posted radar form: CSRF checked by ``FormPage``, then the radar right."""
    if not may(page.actor, "radar", "read"):
        raise PermissionDenied("forbidden_model", entity="radar")
    return page


RadarPage = Annotated[PageContext, Depends(radar_page)]
RadarFormPage = Annotated[PageContext, Depends(radar_form_page)]


def may_edit_weights(actor: Actor) -> bool:
    """Admins and managers edit the weight table; reps read it."""
    return may(actor, "radar", "update") and actor.role.value in ("admin", "manager")


def _lang(page: PageContext) -> str:
    """The key of a bilingual ``{"zh", "en"}`` text for this page's locale."""
    return "zh" if page.locale == "zh-CN" else "en"


def _pick(page: PageContext, value: Any) -> str:
    """A bilingual text in the page's language (plain strings pass through)."""
    if isinstance(value, dict):
        return str(value.get(_lang(page)) or value.get("en") or value.get("zh") or "")
    return str(value or "")


# --- the inbox ------------------------------------------------------------------------------


@dataclass
class InboxRow:
    """One signal in the inbox."""

    id: int
    severity: str
    title: str
    snippet: str
    account_id: int | None
    account: str | None
    topics: list[str]
    polarity: str
    intent: str
    source: str
    when: Any
    corrected: bool


def _int_param(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isdigit() else None


def _clean(raw: str | None, allowed: tuple[str, ...] | list[str] | None = None) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if allowed is not None and text not in allowed:
        return None
    return text


def _source_names(session: Session) -> dict[int, str]:
    # Names only (not config): reps filter by source but may not read the configuration.
    return sources.source_names(session)


@router.get("/radar")
def radar_inbox(
    page: RadarPage,
    session: DbSession,
    severity: str | None = None,
    industry: str | None = None,
    source_id: str | None = None,
    account_id: str | None = None,
) -> Response:
    """Graded signals the viewer may see, most severe then newest first, with filters."""
    filters: dict[str, Any] = {
        "severity": _clean(severity, m.SEVERITIES),
        "industry": _clean(industry),
        "source_id": _int_param(source_id),
        "account_id": _int_param(account_id),
    }
    rows = radar_signals.list_signals(
        session,
        actor=page.actor,
        severity=_clean(severity, m.SEVERITIES),
        industry=_clean(industry),
        source_id=_int_param(source_id),
        account_id=_int_param(account_id),
        limit=INBOX_LIMIT,
    )
    source_names = _source_names(session)
    accounts = account_names(session, page.actor, [signal.account_id for _item, signal in rows])
    items: list[InboxRow] = []
    for item, signal in rows:
        analysis = item.analysis or {}
        text = (item.text or "").strip()
        items.append(
            InboxRow(
                id=item.id,
                severity=signal.severity,
                title=item.title or text[:80] or f"#{item.id}",
                snippet=text[:160],
                account_id=signal.account_id,
                account=accounts.get(signal.account_id) if signal.account_id is not None else None,
                topics=[_pick(page, topic.get("label")) for topic in analysis.get("topics", [])],
                polarity=signal.polarity,
                intent=signal.intent,
                source=source_names.get(signal.source_id, "—"),
                when=item.published_at or signal.analysed_at,
                corrected=signal.corrected,
            )
        )
    weights = settings.get_weights(session, actor=page.actor)
    industries = [
        (key, _pick(page, value.get("label")) or key) for key, value in weights.get("industries", {}).items()
    ]
    filter_accounts = account_names(session, page.actor, radar_signals.signal_account_ids(session))
    context = {
        "items": items,
        "filters": filters,
        "filtered": any(value is not None for value in filters.values()),
        "severities": m.SEVERITIES,
        "industries": industries,
        "sources": sorted(source_names.items(), key=lambda pair: pair[1]),
        "accounts": sorted(filter_accounts.items(), key=lambda pair: pair[1]),
        "limit": INBOX_LIMIT,
    }
    return render(page, "radar/inbox.html", context)


# --- a signal -------------------------------------------------------------------------------


def _routes(session: Session, item_id: int) -> list[dict[str, Any]]:
    routes = routing.routes_of(session, item_id)
    names = user_names(session, [route.user_id for route in routes])
    return [
        {
            "name": names.get(route.user_id, f"#{route.user_id}"),
            "reason": route.reason,
            "severity": route.severity,
            "at": route.created_at,
        }
        for route in routes
    ]


def _signal_context(session: Session, page: PageContext, item_id: int) -> dict[str, Any]:
    item, signal = radar_signals.get_signal(session, actor=page.actor, item_id=item_id)
    analysis = item.analysis or {}
    source = session.get(m.Source, item.source_id)
    accounts = account_names(session, page.actor, [signal.account_id])
    grade = analysis.get("grade", {})
    polarity = analysis.get("polarity", {})
    intent = analysis.get("intent", {})
    return {
        "item": item,
        "signal": signal,
        "source": source.name if source is not None else "—",
        "account": accounts.get(signal.account_id) if signal.account_id is not None else None,
        "entities": analysis.get("entities", []),
        "topics": [_pick(page, topic.get("label")) for topic in analysis.get("topics", [])],
        "polarity_score": polarity.get("score"),
        "cues": polarity.get("cues", []),
        "intent_reasons": [_pick(page, reason) for reason in intent.get("reasons", [])],
        "weight": analysis.get("weight"),
        "weight_topic": analysis.get("weight_topic"),
        "industry": analysis.get("industry") or signal.industry,
        "grade_reasons": [_pick(page, reason) for reason in grade.get("reasons", [])],
        "corrections": analysis.get("corrections", []),
        "routes": _routes(session, item.id),
        "can_correct": may(page.actor, "radar", "update"),
        "correction_error": None,
        "choices": {
            "polarity": list(POLARITIES),
            "intent": list(INTENT_LABELS),
            "severity": list(m.SEVERITIES),
        },
    }


@router.get("/radar/signals/{item_id}")
def radar_signal(page: RadarPage, session: DbSession, item_id: int) -> Response:
    """A signal: its text, analysis, grade reasons, routing, corrections and toolbox."""
    return render(page, "radar/signal.html", _signal_context(session, page, item_id))


@router.post("/radar/signals/{item_id}/corrections")
def radar_correct(page: RadarFormPage, session: DbSession, form: PostedForm, item_id: int) -> Response:
    """A one-click correction of polarity, intent or severity; back to the signal page."""
    note = form.get("note", "").strip() or None
    try:
        radar_signals.correct_signal(
            session,
            actor=page.actor,
            item_id=item_id,
            field=form.get("field", ""),
            value=form.get("value", ""),
            note=note,
        )
    except InvalidInput as error:
        context = _signal_context(session, page, item_id)
        context["correction_error"] = page.t(
            "radar_web.signal.correction_invalid", field=", ".join(e.field for e in error.errors)
        )
        return render(page, "radar/signal.html", context, status_code=422)
    return RedirectResponse(f"/radar/signals/{item_id}", status_code=303)


# --- sources --------------------------------------------------------------------------------


def _admin(page: PageContext) -> None:
    if not page.actor.is_admin:
        raise PermissionDenied("admin_only")


@router.get("/radar/sources")
def radar_sources(page: RadarPage, session: DbSession) -> Response:
    """Source health: kind, health with its translated reason, last polled and ok, items."""
    is_admin = page.actor.is_admin
    # Reps and managers see health but never configuration (it may hold API keys).
    found = sources.source_health(session, actor=page.actor)
    rows = []
    for source, items in found:
        code = source.health_code
        reason = None
        if code:
            reason = page.fmt.label(f"radar.health.{code}", source.health_reason or code)
        rows.append(
            {
                "id": source.id,
                "name": source.name,
                "kind": source.kind,
                "health": source.health,
                "health_label": page.fmt.label(f"radar.health.{source.health}", source.health),
                "reason": reason,
                "last_polled_at": source.last_polled_at,
                "last_ok_at": source.last_ok_at,
                "items": items,
                "is_active": source.is_active,
            }
        )
    return render(page, "radar/sources.html", {"sources": rows, "is_admin": is_admin})


@router.post("/radar/sources/{source_id}/active")
def radar_source_active(
    page: RadarFormPage, session: DbSession, form: PostedForm, source_id: int
) -> Response:
    """Pause or resume a source (admins)."""
    _admin(page)
    sources.update_source(
        session, actor=page.actor, source_id=source_id, changes={"is_active": form.get("active") == "1"}
    )
    return RedirectResponse("/radar/sources", status_code=303)


@router.post("/radar/sources/{source_id}/poll")
def radar_source_poll(page: RadarFormPage, session: DbSession, source_id: int) -> Response:
    """Poll a source now, analyse and route what came in (admins)."""
    _admin(page)
    source = session.get(m.Source, source_id)
    if source is None:
        raise NotFound("not_found", entity="radar_source", id=source_id)
    routing.poll_analyse_route(session, actor=page.actor, source=source)
    return RedirectResponse("/radar/sources", status_code=303)


# --- weights --------------------------------------------------------------------------------


def _grid(page: PageContext, table: dict[str, Any], topics: dict[str, Any]) -> dict[str, Any]:
    """Rows (industries) and columns (topics that carry a weight) of the editable grid."""
    labels = {topic["key"]: _pick(page, topic.get("label")) for topic in topics.get("topics", [])}
    columns: list[str] = []
    for industry in table.get("industries", {}).values():
        for key in industry.get("weights", {}):
            if key not in columns:
                columns.append(key)
    return {
        "columns": [(key, labels.get(key, key)) for key in columns],
        "rows": [
            (key, _pick(page, value.get("label")) or key, value.get("weights", {}))
            for key, value in table.get("industries", {}).items()
        ],
        "default_weight": table.get("default_weight"),
    }


def _weights_page(
    page: PageContext,
    session: Session,
    table: dict[str, Any],
    *,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> Response:
    topics = settings.get_topics(session, actor=page.actor)
    context = {
        "grid": _grid(page, table, topics),
        "errors": errors or {},
        "can_edit": may_edit_weights(page.actor),
        "saved": saved,
        "min": WEIGHT_MIN,
        "max": WEIGHT_MAX,
    }
    return render(page, "radar/weights.html", context, status_code=status_code)


@router.get("/radar/weights")
def radar_weights(page: RadarPage, session: DbSession, saved: str | None = None) -> Response:
    """The industry × topic weight table: editable for admins and managers, read-only else."""
    return _weights_page(page, session, settings.get_weights(session, actor=page.actor), saved=saved == "1")


def _cell(industry: str, topic: str) -> str:
    return f"industries.{industry}.weights.{topic}"


@router.post("/radar/weights")
def radar_save_weights(page: RadarFormPage, session: DbSession, form: PostedForm) -> Response:
    """Save the grid through ``put_weights``; a bad cell comes back beside its input (422)."""
    settings.require_editor(page.actor)
    table = settings.get_weights(session, actor=page.actor)
    errors: dict[str, str] = {}
    for industry, value in table.get("industries", {}).items():
        weights = dict(value.get("weights", {}))
        for topic in list(weights):
            raw = form.get(f"w.{industry}.{topic}")
            if raw is None:
                continue
            text = raw.strip()
            try:
                number = float(text)
            except ValueError:
                number = None
            # Keep what was typed so the page shows it back beside the message.
            weights[topic] = text if number is None else number
            if number is None or not WEIGHT_MIN <= number <= WEIGHT_MAX:
                errors[_cell(industry, topic)] = page.t(
                    "radar_web.weights.invalid", value=text, min=WEIGHT_MIN, max=WEIGHT_MAX
                )
        value["weights"] = weights
    if not errors:
        try:
            settings.put_weights(session, actor=page.actor, table=table)
        except InvalidInput as error:
            errors = {
                problem.field: page.t("radar_web.weights.invalid_cell", cell=problem.field)
                for problem in error.errors
            }
    if errors:
        return _weights_page(page, session, table, errors=errors, status_code=422)
    return RedirectResponse("/radar/weights?saved=1", status_code=303)
