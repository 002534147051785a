"""Renewal risk: how likely a subscription is *not* to renew, from what the customer does.

A transparent score, not a model: seven factors, each worth at most a fixed number of
points, add up to a risk between 0 and 1 (the weights sum to 1). Every factor is stored
with its measured value and its points, in English and Chinese, so a person can see
exactly why an account scores what it does and argue with it.

| factor | what is measured | points |
|---|---|---|
| usage | tracked views by the account's people, last 90 days vs the 90 before (portal logins: not tracked yet) | ≤ 0.20: the larger of the drop and the shortfall below 60 views (about five a week) |
| ticket_volume | tickets opened last complete quarter | ≤ 0.10, full at 6 |
| open_tickets | tickets open or pending now | ≤ 0.10, full at 3 |
| resolution_time | median resolution hours last quarter vs a 72 h norm | ≤ 0.15, from 1× (0) to 3× the norm (full) |
| severity | high and critical tickets last quarter | ≤ 0.10, full at 3 |
| sentiment | inbound messages (90 days) with negative cues (zh/en) or negative sentiment | ≤ 0.10, full at 3 |
| activity | days since the last meeting or call with the account | ≤ 0.25, from 14 days (0) to 90 (full); none ever: full |

Only this module writes ``RenewalScore``. Scores are history (``is_latest`` marks the
current one); a score that moved by 0.05 or more (or the first) appends
``forecast.renewal_risk`` on the account, shaped as a metric so that a rule "when renewal
risk is above 0.7" fires when it crosses. A risk of 0.7 or more also records a
``renewal_risk`` insight (a suggestion) through the guardrail.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service import readable_query, spec_for
from pathcast.db import utcnow
from pathcast.errors import PermissionDenied
from pathcast.events import append_event
from pathcast.forecast.models import Insight, InsightKind, RenewalScore
from pathcast.forecast.service import guardrail
from pathcast.signals.service.features import account_features

HORIZON_DAYS = 180
EVENT_STEP = 0.05
INSIGHT_AT = 0.7
RESOLUTION_NORM_HOURS = 72.0
USAGE_NORM_VIEWS = 60
SEVERE = (m.Severity.critical.value, m.Severity.high.value)
OPEN_STATUSES = (m.TicketStatus.open.value, m.TicketStatus.pending.value)
# Words customers use when a relationship sours, in both languages (lower-case).
NEGATIVE_CUES = (
    "不满",
    "失望",
    "投诉",
    "太慢",
    "很慢",
    "没解决",
    "未解决",
    "拖",
    "催",
    "取消",
    "不续",
    "解约",
    "换供应商",
    "竞品",
    "问题一直",
    "disappointed",
    "frustrat",
    "unacceptable",
    "complain",
    "cancel",
    "not renew",
    "still not",
    "escalat",
    "switch",
    "too slow",
    "unresolved",
)


# --- the quarter's tickets ----------------------------------------------------------------------


def quarter_start(day: date) -> date:
    """The first day of the quarter holding ``day``."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def previous_quarter(day: date) -> tuple[date, date]:
    """The last complete quarter before ``day``'s: (first day, first day of the next)."""
    end = quarter_start(day)
    start = quarter_start(end - timedelta(days=1))
    return start, end


def _hours(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds() / 3600, 0.0)


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    # nearest rank: the smallest value with at least 90% of the values at or below it
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def ticket_resolution_summary(session: Session, account_id: int, *, quarter_of: date) -> dict[str, Any]:
    """Last complete quarter's tickets of an account (those opened in it): count, resolved,
    median and p90 resolution hours, median first response, per severity, the slowest five.

    The attachment a CSM gets with a renewal case. System read: callers decide who sees it."""
    start, end = previous_quarter(quarter_of)
    start_at = datetime.combine(start, time(0), UTC)
    end_at = datetime.combine(end, time(0), UTC)
    tickets = list(
        session.scalars(
            select(m.Ticket)
            .where(
                m.Ticket.account_id == account_id, m.Ticket.opened_at >= start_at, m.Ticket.opened_at < end_at
            )
            .order_by(m.Ticket.opened_at, m.Ticket.id)
        )
    )
    resolved = [t for t in tickets if t.resolved_at is not None]
    hours = [_hours(t.opened_at, t.resolved_at) for t in resolved if t.resolved_at is not None]
    responses = [_hours(t.opened_at, t.first_response_at) for t in tickets if t.first_response_at is not None]
    by_severity: dict[str, dict[str, Any]] = {}
    for severity in m.Severity:
        group = [t for t in tickets if t.severity == severity.value]
        if not group:
            continue
        done = [_hours(t.opened_at, t.resolved_at) for t in group if t.resolved_at is not None]
        by_severity[severity.value] = {
            "count": len(group),
            "resolved": len(done),
            "median_hours": _r(statistics.median(done)) if done else None,
        }
    slowest = sorted(
        ((t, _hours(t.opened_at, t.resolved_at)) for t in resolved if t.resolved_at is not None),
        key=lambda pair: (-pair[1], pair[0].id),
    )[:5]
    return {
        "account_id": account_id,
        "quarter": f"{start.year}-Q{(start.month - 1) // 3 + 1}",
        "from": start.isoformat(),
        "to": (end - timedelta(days=1)).isoformat(),
        "count": len(tickets),
        "resolved": len(resolved),
        "unresolved": len(tickets) - len(resolved),
        "median_resolution_hours": _r(statistics.median(hours)) if hours else None,
        "p90_resolution_hours": _r(_p90(hours)),
        "median_first_response_hours": _r(statistics.median(responses)) if responses else None,
        "by_severity": by_severity,
        "slowest": [
            {"id": t.id, "subject": t.subject, "severity": t.severity, "hours": _r(h)} for t, h in slowest
        ],
    }


def format_ticket_summary(summary: dict[str, Any], lang: str) -> str:
    """The summary as a few lines of plain text for a message, in ``zh-CN`` or ``en``."""
    zh = lang.startswith("zh")

    def hours(value: Any) -> str:
        if value is None:
            return "-"
        return f"{value:g} 小时" if zh else f"{value:g} h"

    if zh:
        lines = [
            f"上季度（{summary['quarter']}，{summary['from']} 至 {summary['to']}）工单处理时长：",
            f"- 工单 {summary['count']} 张，已解决 {summary['resolved']} 张，未解决 {summary['unresolved']} 张",
            f"- 解决时长中位数 {hours(summary['median_resolution_hours'])}，P90 "
            f"{hours(summary['p90_resolution_hours'])}；首次响应中位数 "
            f"{hours(summary['median_first_response_hours'])}",
        ]
    else:
        lines = [
            f"Ticket resolution times last quarter ({summary['quarter']}, {summary['from']} to {summary['to']}):",
            f"- {summary['count']} tickets, {summary['resolved']} resolved, {summary['unresolved']} unresolved",
            f"- median resolution {hours(summary['median_resolution_hours'])}, P90 "
            f"{hours(summary['p90_resolution_hours'])}; median first response "
            f"{hours(summary['median_first_response_hours'])}",
        ]
    for severity, figures in summary["by_severity"].items():
        lines.append(
            f"- {severity}: {figures['count']}，中位数 {hours(figures['median_hours'])}"
            if zh
            else f"- {severity}: {figures['count']}, median {hours(figures['median_hours'])}"
        )
    if summary["slowest"]:
        lines.append("最慢的工单：" if zh else "Slowest tickets:")
        lines.extend(
            f"  #{t['id']} {t['subject']} ({t['severity']}): {hours(t['hours'])}" for t in summary["slowest"]
        )
    return "\n".join(lines)


# --- factors ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One reason for the risk: what was measured, the points it adds, in both languages."""

    factor: str
    value: float | int | None
    points: float
    en: str
    zh: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "factor": self.factor,
            "value": self.value,
            "points": self.points,
            "en": self.en,
            "zh": self.zh,
        }


def _share(count: float, full: float) -> float:
    return min(max(count / full, 0.0), 1.0)


def _views_90(session: Session, account_id: int, at: datetime) -> int:
    """Tracked views by the account's people in the 90 days up to ``at`` (three 30-day windows)."""
    total = 0
    for back in (0, 30, 60):
        features = account_features(session, account_id=account_id, as_of=at - timedelta(days=back))
        total += features.windows["30d"].views
    return total


def _usage(session: Session, account_id: int, at: datetime) -> Factor:
    current = _views_90(session, account_id, at)
    before = _views_90(session, account_id, at - timedelta(days=90))
    drop = _share(before - current, before) if before else 0.0
    shortfall = 1 - _share(current, USAGE_NORM_VIEWS)
    points = round(0.20 * max(drop, shortfall), 3)
    return Factor(
        "usage",
        current,
        points,
        f"{current} tracked views in 90 days (the 90 before: {before})",
        f"近 90 天被追踪浏览 {current} 次（之前 90 天：{before} 次）",
    )


def _ticket_factors(session: Session, account_id: int, at: datetime) -> list[Factor]:
    summary = ticket_resolution_summary(session, account_id, quarter_of=at.date())
    count = summary["count"]
    severe = sum(figures["count"] for key, figures in summary["by_severity"].items() if key in SEVERE)
    open_now = int(
        session.scalar(
            select(func.count())
            .select_from(m.Ticket)
            .where(
                m.Ticket.account_id == account_id,
                m.Ticket.status.in_(OPEN_STATUSES),
                m.Ticket.opened_at <= at,
            )
        )
        or 0
    )
    median = summary["median_resolution_hours"]
    slow = _share((median / RESOLUTION_NORM_HOURS) - 1, 2) if median is not None else 0.0
    quarter = summary["quarter"]
    return [
        Factor(
            "ticket_volume",
            count,
            round(0.10 * _share(count, 6), 3),
            f"{count} tickets opened in {quarter}",
            f"{quarter} 新开工单 {count} 张",
        ),
        Factor(
            "open_tickets",
            open_now,
            round(0.10 * _share(open_now, 3), 3),
            f"{open_now} tickets still open",
            f"仍有 {open_now} 张工单未关闭",
        ),
        Factor(
            "resolution_time",
            median,
            round(0.15 * slow, 3),
            f"median resolution {median if median is not None else '-'} h in {quarter} "
            f"(norm {RESOLUTION_NORM_HOURS:g} h)",
            f"{quarter} 工单解决时长中位数 {median if median is not None else '-'} 小时"
            f"（参考 {RESOLUTION_NORM_HOURS:g} 小时）",
        ),
        Factor(
            "severity",
            severe,
            round(0.10 * _share(severe, 3), 3),
            f"{severe} high or critical tickets in {quarter}",
            f"{quarter} 高/紧急级别工单 {severe} 张",
        ),
    ]


def _is_negative(message: Any) -> bool:
    if message.sentiment is not None and message.sentiment <= -0.3:
        return True
    text = f"{message.subject or ''} {message.body or ''}".lower()
    return any(cue in text for cue in NEGATIVE_CUES)


def _sentiment(session: Session, account_id: int, at: datetime) -> Factor:
    from pathcast.signals import models as signal_models

    messages = session.scalars(
        select(signal_models.InboundMessage).where(
            signal_models.InboundMessage.account_id == account_id,
            signal_models.InboundMessage.direction == "inbound",
            signal_models.InboundMessage.sent_at >= at - timedelta(days=90),
            signal_models.InboundMessage.sent_at <= at,
            signal_models.InboundMessage.received_at <= at,
        )
    )
    negative = sum(1 for message in messages if _is_negative(message))
    return Factor(
        "sentiment",
        negative,
        round(0.10 * _share(negative, 3), 3),
        f"{negative} inbound messages with negative cues in 90 days",
        f"近 90 天有 {negative} 条客户来信带负面情绪",
    )


def _activity(session: Session, account_id: int, at: datetime) -> Factor:
    deals = select(m.Opportunity.id).where(m.Opportunity.account_id == account_id)
    moment = func.coalesce(m.Activity.done_at, m.Activity.occurred_at)
    last = session.scalar(
        select(func.max(moment)).where(
            or_(m.Activity.account_id == account_id, m.Activity.opportunity_id.in_(deals.scalar_subquery())),
            m.Activity.kind.in_([m.ActivityKind.meeting.value, m.ActivityKind.call.value]),
            moment <= at,
        )
    )
    if last is None:
        return Factor("activity", None, 0.25, "no meeting or call on record", "没有会议或电话记录")
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    days = max((at - last).days, 0)
    points = round(0.25 * _share(days - 14, 90 - 14), 3)
    return Factor(
        "activity",
        days,
        points,
        f"{days} days since the last meeting or call",
        f"距上次会议或电话已 {days} 天",
    )


def renewal_factors(session: Session, account_id: int, at: datetime) -> list[Factor]:
    """Every factor of an account's renewal risk at ``at``, largest points first."""
    factors = [
        _usage(session, account_id, at),
        *_ticket_factors(session, account_id, at),
        _sentiment(session, account_id, at),
        _activity(session, account_id, at),
    ]
    return sorted(factors, key=lambda factor: -factor.points)


# --- scoring ------------------------------------------------------------------------------------


def _due_date(subscription: m.Subscription, contract: m.Contract) -> date | None:
    return subscription.renewal_date or subscription.end_date or contract.renewal_date or contract.end_date


def due_subscriptions(
    session: Session, *, actor: Actor, at: datetime
) -> list[tuple[m.Subscription, m.Contract]]:
    """Active subscriptions of active contracts the actor may read that renew within 180 days."""
    today, last = at.date(), at.date() + timedelta(days=HORIZON_DAYS)
    rows = session.execute(
        readable_query(actor, spec_for("subscription"))
        .add_columns(m.Contract)
        .join(m.Contract, m.Contract.id == m.Subscription.contract_id)
        .where(m.Subscription.is_active.is_(True), m.Contract.status == m.ContractStatus.active.value)
        .order_by(m.Subscription.id)
    ).all()
    due = []
    for subscription, contract in rows:
        when = _due_date(subscription, contract)
        if when is not None and today <= when <= last:
            due.append((subscription, contract))
    return due


def _latest(session: Session, subscription_id: int) -> RenewalScore | None:
    return session.scalars(
        select(RenewalScore)
        .where(RenewalScore.subscription_id == subscription_id, RenewalScore.is_latest.is_(True))
        .order_by(RenewalScore.id.desc())
    ).first()


def _insight_texts(risk: float, factors: list[Factor], when: date | None) -> tuple[str, str]:
    top = [factor for factor in factors if factor.points > 0][:3]
    due = when.isoformat() if when else "-"
    en = f"Renewal risk {risk:.2f} (renewal {due}). " + "; ".join(f.en for f in top)
    zh = f"续约风险 {risk:.2f}（续约日 {due}）。" + "；".join(f.zh for f in top)
    return en, zh


def score_renewals(
    session: Session, *, actor: Actor, at: datetime | None = None, threshold_events: bool = True
) -> list[RenewalScore]:
    """Score every due subscription the actor may read; admins and managers (and the system).

    Appends ``forecast.renewal_risk`` (entity ``account``) for a first score or a move of at
    least 0.05, and with it a ``renewal_risk`` insight at 0.7 or more; ``threshold_events=False``
    scores silently (history only: no event, so no rule fires, and no insight)."""
    if actor.role not in (Role.admin, Role.manager) or not may(actor, "forecast", "create"):
        raise PermissionDenied("forbidden_operation", entity="forecast", operation="create")
    moment = at or utcnow()
    scores = []
    cache: dict[int, list[Factor]] = {}
    for subscription, contract in due_subscriptions(session, actor=actor, at=moment):
        account_id = contract.account_id
        if account_id not in cache:
            cache[account_id] = renewal_factors(session, account_id, moment)
        factors = cache[account_id]
        risk = round(min(max(sum(factor.points for factor in factors), 0.0), 1.0), 3)
        previous = _latest(session, subscription.id)
        if previous is not None:
            previous.is_latest = False
        score = RenewalScore(
            subscription_id=subscription.id,
            account_id=account_id,
            scored_at=moment,
            risk=risk,
            factors=[factor.as_dict() for factor in factors],
            is_latest=True,
        )
        session.add(score)
        session.flush()
        scores.append(score)
        moved = previous is None or abs(risk - previous.risk) >= EVENT_STEP - 1e-9
        if not (threshold_events and moved):
            continue
        when = _due_date(subscription, contract)
        append_event(
            session,
            type="forecast.renewal_risk",
            entity="account",
            entity_id=account_id,
            actor=actor.label,
            occurred_at=moment,
            payload={
                "metric": "renewal_risk",
                "entity": "account",
                "value": risk,
                "previous": previous.risk if previous is not None else None,
                "subscription_id": subscription.id,
                "contract_id": contract.id,
                "renewal_date": when,
                "factors": score.factors,
            },
        )
        if risk >= INSIGHT_AT and not _open_renewal_insight(session, account_id):
            text_en, text_zh = _insight_texts(risk, factors, when)
            guardrail.record_insight(
                session,
                kind=InsightKind.renewal_risk.value,
                text_en=text_en,
                text_zh=text_zh,
                source="renewal risk",
                account_id=account_id,
                at=moment,
            )
    return scores


def _open_renewal_insight(session: Session, account_id: int) -> bool:
    return (
        session.scalar(
            select(Insight.id).where(
                Insight.account_id == account_id,
                Insight.kind == InsightKind.renewal_risk.value,
                Insight.verified_at.is_(None),
                Insight.dismissed_at.is_(None),
            )
        )
        is not None
    )


def list_renewals(session: Session, *, actor: Actor, limit: int = 500) -> list[dict[str, Any]]:
    """The latest score of each subscription the actor may read, riskiest first."""
    if not may(actor, "forecast", "read"):
        raise PermissionDenied("forbidden_model", entity="forecast")
    readable = readable_query(actor, spec_for("subscription")).with_only_columns(m.Subscription.id)
    rows = session.execute(
        select(RenewalScore, m.Subscription, m.Contract, m.Account)
        .join(m.Subscription, m.Subscription.id == RenewalScore.subscription_id)
        .join(m.Contract, m.Contract.id == m.Subscription.contract_id)
        .join(m.Account, m.Account.id == RenewalScore.account_id)
        .where(RenewalScore.is_latest.is_(True), RenewalScore.subscription_id.in_(readable.scalar_subquery()))
        .order_by(RenewalScore.risk.desc(), RenewalScore.id)
        .limit(limit)
    ).all()
    return [
        {
            "subscription_id": subscription.id,
            "contract_id": contract.id,
            "contract_number": contract.number,
            "account_id": account.id,
            "account_name": account.name,
            "renewal_date": _due_date(subscription, contract),
            "annual_value": float(subscription.annual_value),
            "currency": subscription.currency,
            "risk": score.risk,
            "scored_at": score.scored_at,
            "factors": score.factors,
        }
        for score, subscription, contract, account in rows
    ]
