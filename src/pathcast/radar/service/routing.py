"""Default routes of graded signals: who hears of a signal, by its severity and their role.

| severity | reaches |
|---|---|
| P1 | the account owner, and the delivery managers (the account team's, else every holder) |
| P2 | the account owner |
| P3, P4 | nobody by default: the radar inbox and automation rules are enough |

Each route is an in-app notification (the same ``automation_notifications`` row the
notify action writes, so it shows in the same bell) and a ``radar.signal_routed`` event.
A ``radar_routes`` row per (item, person) makes routing idempotent: polling again,
re-analysing or a corrected severity never notifies the same person twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import User
from pathcast.auth.permissions import Actor
from pathcast.automation.service import notifications
from pathcast.crm.service import lookups
from pathcast.db import utcnow
from pathcast.errors import NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.i18n import normalise_locale
from pathcast.radar import models as m
from pathcast.radar.service import signals, sources
from pathcast.radar.service.settings import require

__all__ = [
    "DELIVERY_MANAGER",
    "ROUTES",
    "PollOutcome",
    "RouteReport",
    "find_source",
    "poll_analyse_route",
    "route_pending",
    "route_signal",
]

DELIVERY_MANAGER = "delivery_manager"
# severity → the recipients it reaches by default (``owner``: the account owner).
ROUTES: dict[str, tuple[str, ...]] = {"P1": ("owner", DELIVERY_MANAGER), "P2": ("owner",), "P3": (), "P4": ()}

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "【雷达 {severity}】{about}",
        "body": "{account}的信号：{title}\n情绪：{polarity}；意图：{intent}\n{reasons}",
        "unlinked": "未关联客户",
    },
    "en": {
        "title": "[Radar {severity}] {about}",
        "body": "Signal on {account}: {title}\nPolarity: {polarity}; intent: {intent}\n{reasons}",
        "unlinked": "no linked account",
    },
}


@dataclass
class RouteReport:
    """Whom one signal reached now, and who had been reached before."""

    item_id: int
    severity: str
    notified: list[int] = field(default_factory=list)
    already: list[int] = field(default_factory=list)


def _recipients(session: Session, signal: m.Signal) -> list[tuple[User, str]]:
    wanted = ROUTES.get(signal.severity, ())
    found: dict[int, tuple[User, str]] = {}
    account = lookups.get_account(session, signal.account_id) if signal.account_id is not None else None
    if "owner" in wanted and account is not None and account.owner_id is not None:
        owner = session.get(User, account.owner_id)
        if owner is not None and owner.is_active:
            found[owner.id] = (owner, "account_owner")
    if DELIVERY_MANAGER in wanted:
        # The account's own delivery manager when its team has one; else whoever holds it.
        team = positions.account_team(session, account.id, DELIVERY_MANAGER) if account is not None else []
        for user in team or positions.holders(session, DELIVERY_MANAGER):
            found.setdefault(user.id, (user, DELIVERY_MANAGER))
    return list(found.values())


def _letter(item: m.Item, signal: m.Signal, account_name: str | None, lang: str) -> tuple[str, str]:
    words = TEXTS[lang]
    analysis = item.analysis or {}
    key = "zh" if lang == "zh-CN" else "en"
    reasons = "\n".join(
        str(reason.get(key, ""))
        for reason in analysis.get("grade", {}).get("reasons", [])
        if isinstance(reason, dict)
    )
    about = item.title or (item.text or "")[:60] or f"#{item.id}"
    title = words["title"].format(severity=signal.severity, about=about)
    body = words["body"].format(
        account=account_name or words["unlinked"],
        title=item.title or "",
        polarity=signal.polarity,
        intent=signal.intent,
        reasons=reasons,
    )
    return title[:300], body


def route_signal(session: Session, *, item_id: int, actor: Actor, now: datetime | None = None) -> RouteReport:
    """Notify the people a graded signal reaches by default, once per person."""
    require(actor, "update")
    item = session.get(m.Item, item_id)
    signal = session.get(m.Signal, item_id)
    if item is None or signal is None:
        return RouteReport(item_id=item_id, severity="")
    report = RouteReport(item_id=item_id, severity=signal.severity)
    recipients = _recipients(session, signal)
    if not recipients:
        return report
    done = set(session.scalars(select(m.Route.user_id).where(m.Route.item_id == item_id)))
    account_name = (
        lookups.names_of_accounts(session, [signal.account_id]).get(signal.account_id)
        if signal.account_id is not None
        else None
    )
    now = now or utcnow()
    for user, reason in recipients:
        if user.id in done:
            report.already.append(user.id)
            continue
        title, body = _letter(item, signal, account_name, normalise_locale(user.locale))
        notification = notifications.deliver(
            session, user_id=user.id, title=title, body=body, link=f"/radar/signals/{item.id}", at=now
        )
        session.add(
            m.Route(
                item_id=item.id,
                user_id=user.id,
                reason=reason,
                severity=signal.severity,
                notification_id=notification.id,
                created_at=now,
            )
        )
        session.flush()
        append_event(
            session,
            type="radar.signal_routed",
            entity="radar_item",
            entity_id=item.id,
            actor=actor.label,
            payload={
                "user_id": user.id,
                "reason": reason,
                "severity": signal.severity,
                "account_id": signal.account_id,
                "notification_id": notification.id,
            },
            occurred_at=now,
        )
        report.notified.append(user.id)
    return report


def routes_of(session: Session, item_id: int) -> list[m.Route]:
    """Who a signal was routed to, in order (the caller has already read the signal)."""
    return list(session.scalars(select(m.Route).where(m.Route.item_id == item_id).order_by(m.Route.id)))


def route_pending(
    session: Session, *, actor: Actor, item_ids: list[int] | None = None, now: datetime | None = None
) -> list[RouteReport]:
    """Route the given signals (default: every P1/P2 signal), skipping people already reached."""
    require(actor, "update")
    query = select(m.Signal.item_id).where(m.Signal.severity.in_([s for s, to in ROUTES.items() if to]))
    if item_ids is not None:
        query = query.where(m.Signal.item_id.in_(item_ids))
    return [
        route_signal(session, item_id=item_id, actor=actor, now=now)
        for item_id in session.scalars(query.order_by(m.Signal.item_id))
    ]


@dataclass
class PollOutcome:
    """One source polled, the new items analysed, and whom the graded signals reached."""

    poll: sources.PollReport
    analysed: list[int] = field(default_factory=list)
    routes: list[RouteReport] = field(default_factory=list)

    @property
    def notified(self) -> int:
        """How many people were notified (new routes only)."""
        return sum(len(route.notified) for route in self.routes)

    def as_dict(self) -> dict[str, object]:
        """Plain JSON types, for the CLI's ``--json`` and the API."""
        return {**self.poll.as_dict(), "analysed": len(self.analysed), "routed": self.notified}


def poll_analyse_route(session: Session, *, actor: Actor, source: m.Source) -> PollOutcome:
    """Poll one source in the caller's transaction, analyse what is pending, route it (admins)."""
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    report = sources.poll_source(session, source=source)
    analysed = [
        item.id for item in signals.analyse_items(session, actor=actor, item_ids=signals.pending_ids(session))
    ]
    routes = route_pending(session, actor=actor, item_ids=analysed) if analysed else []
    return PollOutcome(poll=report, analysed=analysed, routes=routes)


def find_source(
    session: Session, *, actor: Actor, source_id: int | None = None, name: str | None = None
) -> m.Source:
    """One source by id or by name, for an admin about to poll it (a missing one is 404)."""
    if not actor.is_admin:
        raise PermissionDenied("admin_only")
    query = select(m.Source)
    query = (
        query.where(m.Source.id == source_id) if source_id is not None else query.where(m.Source.name == name)
    )
    source = session.scalars(query).first()
    if source is None:
        raise NotFound("not_found", entity="radar_source", id=source_id if source_id is not None else name)
    return source
