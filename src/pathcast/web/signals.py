"""Behaviour pages: the behaviour section of contact and account pages, and the signals
inbox (``/signals``).

Everything is read through ``signals.service`` with the viewer's Actor. A contact's
section shows their behaviour by name only past the consent threshold (the service
returns none before it); an account's section shows anonymous aggregates and never a
contact's name. A customer's own contact is shown none of it: the section is left out
of their pages and the inbox refuses them (403).

The forms (opt out, opt in, revert an identification) are plain POST forms with the
session's CSRF token; the service checks the viewer's right to act, and the answer
redirects back to the contact page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.signals.schemas import WINDOWS, AssetFeatures, ConsentRead, Features, HeatmapCell, RevertRequest
from pathcast.signals.service import consent, features, identity
from pathcast.web.forms import PostedForm
from pathcast.web.lookups import account_names, actor_user_id, user_names
from pathcast.web.rendering import Formatter, PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

HEATMAP_DAYS = 30
HEATMAP_ASSETS = 20  # rows of the heatmap: the assets with the most visible dwell
TABLE_ASSETS = 50  # rows of an asset table
INBOX_LIMIT = 50
MAX_MIN_DWELL = 86_400


# --- who may see behaviour ------------------------------------------------------------------


def may_see_signals(actor: Actor) -> bool:
    """Sellers only (the ``behaviour`` right): delivery members and a customer's own
    contact never see what the company tracks about people."""
    return may(actor, "behaviour", "read")


def signals_page(page: Page) -> PageContext:
    """A page about behaviour signals: refused (403) to those without the behaviour right."""
    if not may_see_signals(page.actor):
        raise PermissionDenied("forbidden_model", entity="behaviour")
    return page


SignalsPage = Annotated[PageContext, Depends(signals_page)]


# --- formatting -----------------------------------------------------------------------------


def duration(fmt: Formatter, seconds: float | None) -> str:
    """Visible dwell for a reader: ``45 s``, ``1 min 35 s``, ``2 h 5 min``."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return fmt.t("signals_web.duration.seconds", s=total)
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return fmt.t("signals_web.duration.minutes", m=minutes, s=secs)
    hours, minutes = divmod(minutes, 60)
    return fmt.t("signals_web.duration.hours", h=hours, m=minutes)


def heatmap_chart(
    page: PageContext, cells: list[HeatmapCell], days: int = HEATMAP_DAYS
) -> dict[str, Any] | None:
    """What ``signals.js`` draws: visible dwell per asset (y) and day (x) over ``days`` days;
    None when nothing was seen in that time."""
    if not cells:
        return None
    fmt = page.fmt
    today = utcnow().date()
    day_list: list[date] = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    day_index = {day: index for index, day in enumerate(day_list)}
    totals: dict[int, float] = {}
    names: dict[int, str] = {}
    for cell in cells:
        totals[cell.asset_id] = totals.get(cell.asset_id, 0.0) + cell.dwell_seconds
        names[cell.asset_id] = cell.asset_name
    top = sorted(totals, key=lambda asset_id: (-totals[asset_id], names[asset_id]))[:HEATMAP_ASSETS]
    # ECharts draws a category y axis from the bottom: the most-read asset goes last (on top).
    ordered = list(reversed(top))
    asset_index = {asset_id: index for index, asset_id in enumerate(ordered)}
    data = [
        [day_index[cell.day], asset_index[cell.asset_id], cell.dwell_seconds, cell.views]
        for cell in cells
        if cell.day in day_index and cell.asset_id in asset_index
    ]
    if not data:
        return None
    return {
        "days": [fmt.t("signals_web.heatmap.day", m=day.month, d=day.day) for day in day_list],
        "titles": [fmt.date(day) for day in day_list],
        "assets": [names[asset_id] for asset_id in ordered],
        "cells": data,
        "max": max(row[2] for row in data),
        "locale": "ZH" if page.locale == "zh-CN" else "EN",
        "labels": {
            "dwell": fmt.t("signals_web.heatmap.dwell"),
            "views": fmt.t("signals_web.heatmap.views"),
            "seconds": fmt.t("signals_web.heatmap.seconds"),
        },
    }


def _windows(fmt: Formatter) -> list[tuple[str, str]]:
    """``(key, label)`` of the rolling windows, shortest first."""
    return [(label, fmt.t(f"signals_web.window.{label}")) for label in WINDOWS]


def _who(fmt: Formatter, label: str | None, people: dict[int, str]) -> str:
    """Who made or undid an identification, as a reader says it."""
    if not label:
        return "—"
    user_id = actor_user_id(label)
    if user_id is not None:
        return people.get(user_id, label)
    kind = label.partition(":")[0]
    if kind in ("signals", "contact", "system"):
        return fmt.t(f"signals_web.by.{kind}")
    return label


# --- the contact's section ------------------------------------------------------------------


@dataclass
class LinkRow:
    """One identification of a browser as the contact: how, when, by whom; undone or not."""

    id: int
    method: str
    linked_at: datetime
    linked_by: str
    reverted_at: datetime | None
    reverted_by: str | None
    reason: str | None


@dataclass
class ContactBehaviour:
    """The behaviour section of a contact page."""

    contact_id: int
    consent: ConsentRead
    state: str  # below | crossed | opted_out
    features: Features
    assets: list[AssetFeatures]
    chart: dict[str, Any] | None
    links: list[LinkRow] = field(default_factory=list)
    can_act: bool = False
    windows: list[tuple[str, str]] = field(default_factory=list)
    dwell: Callable[[float | None], str] | None = None

    @property
    def identified(self) -> bool:
        return self.features.identified


def _consent_state(state: ConsentRead) -> str:
    if state.opted_out:
        return "opted_out"
    return "crossed" if state.crossed else "below"


def _links(session: Session, page: PageContext, contact_id: int) -> list[LinkRow]:
    links = identity.links_of_contact(session, contact_id=contact_id, actor=page.actor)
    people = user_names(
        session,
        [actor_user_id(link.linked_by) for link in links]
        + [actor_user_id(link.reverted_by or "") for link in links],
    )
    fmt = page.fmt
    return [
        LinkRow(
            id=link.id,
            method=fmt.label(f"signals_web.method.{link.method}", link.method),
            linked_at=link.linked_at,
            linked_by=_who(fmt, link.linked_by, people),
            reverted_at=link.reverted_at,
            reverted_by=_who(fmt, link.reverted_by, people) if link.reverted_at else None,
            reason=link.revert_reason,
        )
        for link in links
    ]


def contact_behaviour(session: Session, page: PageContext, contact_id: int) -> ContactBehaviour | None:
    """The section for a contact the viewer may read; None for a customer's own contact.

    Before the threshold (or after an opt-out) it holds the threshold state only: the
    service returns no behaviour, and the identity links, which tell when the contact
    opened a tracked link, are not read either.
    """
    if not may_see_signals(page.actor):
        return None
    found = features.read_contact_features(session, contact_id=contact_id, actor=page.actor)
    state = found.consent or consent.read_consent(session, contact_id=contact_id, actor=page.actor)
    identified = found.identified
    return ContactBehaviour(
        contact_id=contact_id,
        consent=state,
        state=_consent_state(state),
        features=found,
        assets=found.assets[:TABLE_ASSETS] if identified else [],
        chart=heatmap_chart(page, features.contact_heatmap(session, contact_id=contact_id, days=HEATMAP_DAYS))
        if identified
        else None,
        links=_links(session, page, contact_id) if identified else [],
        can_act=may(page.actor, "contact", "update"),
        windows=_windows(page.fmt),
        dwell=partial(duration, page.fmt),
    )


# --- the account's section ------------------------------------------------------------------


@dataclass
class AccountBehaviour:
    """The anonymous behaviour section of an account page: figures, never names."""

    features: Features
    assets: list[AssetFeatures]
    asset_count: int
    chart: dict[str, Any] | None
    windows: list[tuple[str, str]]
    dwell: Callable[[float | None], str]


def account_behaviour(session: Session, page: PageContext, account_id: int) -> AccountBehaviour | None:
    """The section for an account the viewer may read; None for a customer's own contact."""
    if not may_see_signals(page.actor):
        return None
    found = features.read_account_features(session, account_id=account_id, actor=page.actor)
    return AccountBehaviour(
        features=found,
        assets=found.assets[:TABLE_ASSETS],
        asset_count=len(found.assets),
        chart=heatmap_chart(
            page, features.account_heatmap(session, account_id=account_id, days=HEATMAP_DAYS)
        ),
        windows=_windows(page.fmt),
        dwell=partial(duration, page.fmt),
    )


# --- the inbox ----------------------------------------------------------------------------------


def _min_dwell(raw: str | None) -> tuple[int, bool]:
    """The ``min_dwell`` filter (whole seconds, 0–86400) and whether it was readable."""
    text = (raw or "").strip()
    if not text:
        return 0, True
    if not text.isdigit() or int(text) > MAX_MIN_DWELL:
        return 0, False
    return int(text), True


@router.get("/signals")
def signals_inbox(page: SignalsPage, session: DbSession, min_dwell: str | None = None) -> Response:
    """The latest identified behaviour on the viewer's accounts, newest first."""
    seconds, valid = _min_dwell(min_dwell)
    items = features.inbox(session, actor=page.actor, limit=INBOX_LIMIT, min_dwell_seconds=seconds)
    readable_accounts = account_names(session, page.actor, [item.account_id for item in items])
    context = {
        "items": items,
        "accounts": readable_accounts,
        "min_dwell": (min_dwell or "").strip() if not valid else (str(seconds) if seconds else ""),
        "min_dwell_seconds": seconds,
        "min_dwell_error": None
        if valid
        else page.t("signals_web.inbox.min_dwell_invalid", max=MAX_MIN_DWELL),
        "threshold": consent.threshold(),
        "limit": INBOX_LIMIT,
        "dwell": partial(duration, page.fmt),
    }
    return render(page, "signals/inbox.html", context, status_code=200 if valid else 422)


# --- the forms ----------------------------------------------------------------------------------


def _back_to(contact_id: int) -> RedirectResponse:
    return RedirectResponse(f"/contacts/{contact_id}#behaviour", status_code=303)


@router.post("/contacts/{contact_id}/signals/opt-out")
def contact_opt_out(page: FormPage, session: DbSession, contact_id: int) -> Response:
    """The contact asked not to be tracked: their identified behaviour is deleted."""
    consent.opt_out(session, contact_id=contact_id, actor=page.actor)
    return _back_to(contact_id)


@router.post("/contacts/{contact_id}/signals/opt-in")
def contact_opt_in(page: FormPage, session: DbSession, contact_id: int) -> Response:
    """The contact agreed to be tracked again (nothing deleted comes back)."""
    consent.opt_in(session, contact_id=contact_id, actor=page.actor)
    return _back_to(contact_id)


@router.post("/signals/identity-links/{link_id}/revert")
def revert_identity_link(page: FormPage, session: DbSession, form: PostedForm, link_id: int) -> Response:
    """Undo an identification (a shared computer, a forwarded e-mail); the history stays."""
    try:
        body = RevertRequest(reason=form.get("reason", "").strip() or None)
    except ValidationError:
        raise InvalidInput.single("reason", "too_long", max=500) from None
    link = identity.revert_link_by_id(session, link_id=link_id, actor=page.actor, reason=body.reason)
    return _back_to(link.contact_id)
