"""After the win: contracts and subscriptions, service tickets, the document library every
seller sends (comparison sheets, white papers, brochures), and one renewal at risk."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select

from pathcast.auth import positions
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record, update_record
from pathcast.crm.service.documents import add_document_version
from pathcast.demo.catalog import TICKET_SUBJECTS
from pathcast.demo.content import (
    PLC_SECTIONS,
    SECURITY_SECTIONS,
    brochure_pdf,
    comparison_csv,
    whitepaper_markdown,
)
from pathcast.demo.context import AccountInfo, DealResult, Demo, money
from pathcast.demo.vocabulary import AUTOMATION, MEDICAL, SAAS

TERMS_DAYS = {SAAS: (365,), MEDICAL: (365, 730, 1095), AUTOMATION: (365, 730)}
TICKET_TEAMS = {
    MEDICAL: ("delivery", "success", "logistics"),
    AUTOMATION: ("delivery", "it"),
    SAAS: ("it", "success"),
}
SEVERITIES = ((m.Severity.critical, 5), (m.Severity.high, 20), (m.Severity.normal, 55), (m.Severity.low, 20))
# hours to first response, by severity
RESPONSE_HOURS = {"critical": (0.2, 2), "high": (1, 6), "normal": (2, 24), "low": (4, 48)}


def create_contract(demo: Demo, result: DealResult) -> m.Contract | None:
    """A contract for a won deal, with a subscription per recurring line."""
    won_at = result.closed_at
    if won_at is None or result.opportunity.status != m.StageClass.won.value:
        return None
    rng, info, opportunity = demo.rng, result.spec.info, result.opportunity
    manager = result.spec.owner.manager
    signed = demo.after(won_at, 0, 3)
    if signed > demo.horizon:
        signed = won_at
    start = won_at.date()
    previous = result.spec.renewal_of
    if previous is not None and previous.end_date is not None:
        start = max(start, previous.end_date + timedelta(days=1))
    recurring = [line for line in result.lines if demo.plan_of(line.product_id).recurring]
    term = 365 if recurring or previous is not None else rng.choice(TERMS_DAYS[info.industry])
    end = start + timedelta(days=term - 1)
    contract: m.Contract = create_record(
        demo.session,
        actor=manager,
        spec=SPECS["contract"],
        occurred_at=signed,
        data={
            "number": demo.number("HT", signed.year),
            "account_id": info.account.id,
            "opportunity_id": opportunity.id,
            "status": m.ContractStatus.active.value,
            "start_date": start,
            "end_date": end,
            "renewal_date": end + timedelta(days=1) if recurring else None,
            "value": opportunity.amount or Decimal(0),
            "currency": opportunity.currency,
            "owner_id": result.spec.owner.user.id,
        },
    )
    subscriptions = []
    for line in recurring:
        annual = money(line.unit_price * line.quantity * (100 - line.discount_pct) / 100)
        subscriptions.append(
            create_record(
                demo.session,
                actor=manager,
                spec=SPECS["subscription"],
                occurred_at=signed,
                data={
                    "contract_id": contract.id,
                    "product_id": line.product_id,
                    "quantity": line.quantity,
                    "start_date": start,
                    "end_date": end,
                    "renewal_date": contract.renewal_date,
                    "annual_value": annual,
                    "currency": opportunity.currency,
                    "is_active": True,
                },
            )
        )
    expired_at = demo.at_work(end + timedelta(days=1))
    if end < demo.today and expired_at <= demo.horizon:
        update_record(
            demo.session,
            actor=manager,
            spec=SPECS["contract"],
            record=contract,
            occurred_at=expired_at,
            changes={"status": m.ContractStatus.expired.value},
        )
        for subscription in subscriptions:
            update_record(
                demo.session,
                actor=manager,
                spec=SPECS["subscription"],
                record=subscription,
                occurred_at=expired_at,
                changes={"is_active": False},
            )
    return contract


def account_tickets(demo: Demo, info: AccountInfo) -> None:
    """Service tickets of a customer: after its first win, or all along for larger
    accounts that were customers before the history window (an installed base)."""
    rng = demo.rng
    if info.first_win is not None:
        first = info.first_win + timedelta(days=14)
    elif info.account.tier != m.Tier.standard.value and not info.is_distributor:
        first = info.created_at + timedelta(days=30)
    else:
        return
    if first >= demo.horizon:
        return
    count = {"strategic": rng.randrange(2, 5), "key": rng.randrange(1, 4)}.get(
        info.account.tier, rng.randrange(0, 3)
    )
    if info.showcase:
        count = max(1, count)
    openings = sorted(demo.between(first, demo.horizon) for _ in range(count))
    for opened in openings:
        severity = rng.choices([s for s, _ in SEVERITIES], weights=[w for _, w in SEVERITIES])[0]
        member = demo.members[rng.choice(TICKET_TEAMS[info.industry])]
        contact = rng.choice(info.contacts) if info.contacts else None
        subject = rng.choice(TICKET_SUBJECTS[info.industry])
        ticket = create_record(
            demo.session,
            actor=member,
            spec=SPECS["ticket"],
            occurred_at=opened,
            data={
                "account_id": info.account.id,
                "contact_id": contact.id if contact else None,
                "subject": subject,
                "description": f"{info.account.name}: {subject}",
                "severity": severity.value,
                "status": m.TicketStatus.open.value,
                "opened_at": opened,
                "owner_id": member.user_id,
            },
        )
        _ticket_progress(demo, member, ticket, opened, severity)


def _ticket_progress(
    demo: Demo, member: Actor, ticket: m.Ticket, opened: datetime, severity: m.Severity
) -> None:
    rng = demo.rng
    low, high = RESPONSE_HOURS[severity.value]
    responded = opened + timedelta(hours=rng.uniform(low, high))
    steps: list[tuple[datetime, dict[str, object]]] = [
        (responded, {"first_response_at": responded, "status": m.TicketStatus.pending.value}),
    ]
    resolved = responded + timedelta(days=rng.uniform(0.3, 10))
    steps.append((resolved, {"resolved_at": resolved, "status": m.TicketStatus.resolved.value}))
    steps.append((resolved + timedelta(days=rng.uniform(2, 7)), {"status": m.TicketStatus.closed.value}))
    for at, changes in steps:
        if at > demo.horizon:
            return
        update_record(
            demo.session, actor=member, spec=SPECS["ticket"], record=ticket, occurred_at=at, changes=changes
        )


# --- the renewal case ------------------------------------------------------------------

RENEWAL_CASE_KEY = "renewal_case"
# days before the demo's today the case's subscription started, and after it that it renews
CASE_STARTED_DAYS = 290
CASE_RENEWS_IN_DAYS = 75
# severities of last quarter's tickets: three of them high or critical
CASE_SEVERITIES = (
    m.Severity.critical,
    m.Severity.high,
    m.Severity.normal,
    m.Severity.high,
    m.Severity.normal,
    m.Severity.low,
    m.Severity.normal,
)


def _quarter_before(day: date) -> tuple[date, date]:
    """The last complete quarter before ``day``'s: (first day, first day of the next)."""
    end = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    previous = end - timedelta(days=1)
    return date(previous.year, 3 * ((previous.month - 1) // 3) + 1, 1), end


def _last_touch(demo: Demo, account_id: int) -> datetime | None:
    deals = select(m.Opportunity.id).where(m.Opportunity.account_id == account_id)
    moment = func.coalesce(m.Activity.done_at, m.Activity.occurred_at)
    return demo.session.scalar(
        select(func.max(moment)).where(
            or_(m.Activity.account_id == account_id, m.Activity.opportunity_id.in_(deals.scalar_subquery())),
            m.Activity.kind.in_([m.ActivityKind.meeting.value, m.ActivityKind.call.value]),
        )
    )


def _case_account(demo: Demo) -> AccountInfo | None:
    """A long-standing customer no CSM serves yet, the one the team has met least recently."""
    oldest = demo.horizon - timedelta(days=CASE_STARTED_DAYS + 30)
    customers = [info for info in demo.accounts if not info.is_distributor and info.created_at <= oldest]
    unserved = [
        info for info in customers if not positions.account_team(demo.session, info.account.id, "csm")
    ]
    pool = unserved or customers
    if not pool:
        return None
    floor = datetime(1970, 1, 1, tzinfo=UTC)

    def last(info: AccountInfo) -> datetime:
        touched = _last_touch(demo, info.account.id)
        if touched is not None and touched.tzinfo is None:
            touched = touched.replace(tzinfo=UTC)
        return touched or floor

    return min(pool, key=lambda info: (last(info), info.account.id))


def create_renewal_case(demo: Demo) -> m.Subscription | None:
    """One customer whose subscription renews in about 75 days after a bad quarter: seven
    tickets last quarter (three high or critical) that took 9 to 20 days each to resolve,
    three more still open, and no meeting in a long while. The renewal-risk rule of the demo
    brings the CSM in when it is scored.

    Deterministic and apart from the demo's random stream (its own ``Random``), so every
    other row of the demo is the same with or without it. Runs once per build."""
    if demo.counters.get(RENEWAL_CASE_KEY):
        return None
    demo.counters[RENEWAL_CASE_KEY] = 1
    info = _case_account(demo)
    recurring = [code for code, plan in demo.plans.items() if plan.recurring and code in demo.products]
    member = demo.members.get("success") or next(iter(demo.members.values()), None)
    if info is None or not recurring or member is None:
        return None
    rng = random.Random(f"renewal-case:{demo.today.isoformat()}:{info.code}")
    session, today = demo.session, demo.today

    def at_work(day: date) -> datetime:
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return datetime.combine(day, time(1, 0), UTC) + timedelta(minutes=rng.randrange(0, 9 * 60))

    product = demo.products[sorted(recurring)[0]]
    plan = demo.plans[sorted(recurring)[0]]
    start = today - timedelta(days=CASE_STARTED_DAYS)
    end = today + timedelta(days=CASE_RENEWS_IN_DAYS - 1)
    signed = max(at_work(start), info.created_at + timedelta(hours=1))
    annual = money(plan.list_price * 3)
    owner = info.owner
    contract: m.Contract = create_record(
        session,
        actor=owner.manager,
        spec=SPECS["contract"],
        occurred_at=signed,
        data={
            "number": demo.number("RN", signed.year),
            "account_id": info.account.id,
            "status": m.ContractStatus.active.value,
            "start_date": start,
            "end_date": end,
            "renewal_date": end + timedelta(days=1),
            "value": annual,
            "currency": info.currency,
            "owner_id": owner.user.id,
        },
    )
    subscription: m.Subscription = create_record(
        session,
        actor=owner.manager,
        spec=SPECS["subscription"],
        occurred_at=signed,
        data={
            "contract_id": contract.id,
            "product_id": product.id,
            "quantity": Decimal(3),
            "start_date": start,
            "end_date": end,
            "renewal_date": end + timedelta(days=1),
            "annual_value": annual,
            "currency": info.currency,
            "is_active": True,
        },
    )
    first, last = _quarter_before(today)
    span = (last - first).days
    subjects = TICKET_SUBJECTS[info.industry]
    for number, severity in enumerate(CASE_SEVERITIES):
        opened = at_work(
            first + timedelta(days=int(span * (number + rng.random()) / (len(CASE_SEVERITIES) + 1)))
        )
        responded = opened + timedelta(hours=rng.uniform(4, 30))
        resolved = responded + timedelta(days=rng.uniform(9, 20))
        steps: list[tuple[datetime, dict[str, object]]] = [
            (responded, {"first_response_at": responded, "status": m.TicketStatus.pending.value}),
            (resolved, {"resolved_at": resolved, "status": m.TicketStatus.resolved.value}),
        ]
        _case_ticket(demo, member, info, opened, severity, subjects[number % len(subjects)], steps)
    for number in range(3):
        opened = at_work((demo.horizon - timedelta(days=3 + 9 * number)).date())
        opened = min(opened, demo.horizon - timedelta(hours=1))
        responded = opened + timedelta(hours=rng.uniform(6, 20))
        steps = [(responded, {"first_response_at": responded, "status": m.TicketStatus.pending.value})]
        severity = m.Severity.high if number == 0 else m.Severity.normal
        _case_ticket(demo, member, info, opened, severity, subjects[(number + 2) % len(subjects)], steps)
    return subscription


def _case_ticket(
    demo: Demo,
    member: Actor,
    info: AccountInfo,
    opened: datetime,
    severity: m.Severity,
    subject: str,
    steps: list[tuple[datetime, dict[str, object]]],
) -> None:
    ticket = create_record(
        demo.session,
        actor=member,
        spec=SPECS["ticket"],
        occurred_at=opened,
        data={
            "account_id": info.account.id,
            "subject": subject,
            "description": f"{info.account.name}: {subject}",
            "severity": severity.value,
            "status": m.TicketStatus.open.value,
            "opened_at": opened,
            "owner_id": member.user_id,
        },
    )
    for at, changes in steps:
        if at > demo.horizon:
            return
        update_record(
            demo.session, actor=member, spec=SPECS["ticket"], record=ticket, occurred_at=at, changes=changes
        )


# --- the document library --------------------------------------------------------------

Maker = Callable[[int], bytes]


def create_library(demo: Demo) -> None:
    """Company-wide documents with versions spread over the history."""
    assert demo.admin is not None
    library: list[tuple[str, str, str, str, str, Maker, tuple[int, ...]]] = [
        (
            "DSA介入耗材对比表",
            "comparison",
            m.DocumentAudience.customer.value,
            "dsa-comparison.csv",
            "text/csv",
            comparison_csv,
            (20, 310, 640),
        ),
        (
            "PLC通讯协议兼容性白皮书",
            "whitepaper",
            m.DocumentAudience.customer.value,
            "plc-protocol-whitepaper.md",
            "text/markdown",
            lambda v: whitepaper_markdown(
                "PLC通讯协议兼容性白皮书 PLC protocol compatibility", v, PLC_SECTIONS
            ),
            (45, 420),
        ),
        (
            "超声与监护产品手册 Ultrasound & monitoring brochure",
            "brochure",
            m.DocumentAudience.public.value,
            "ultrasound-monitoring-brochure.pdf",
            "application/pdf",
            lambda v: brochure_pdf("超声与监护产品手册", v),
            (30, 500),
        ),
        (
            "Security & Compliance Whitepaper 安全合规白皮书",
            "whitepaper",
            m.DocumentAudience.public.value,
            "security-whitepaper.md",
            "text/markdown",
            lambda v: whitepaper_markdown("Security & Compliance Whitepaper", v, SECURITY_SECTIONS),
            (60, 380, 700),
        ),
        (
            "渠道价格政策 Channel pricing policy",
            "policy",
            m.DocumentAudience.internal.value,
            "channel-pricing-policy.md",
            "text/markdown",
            lambda v: whitepaper_markdown(
                "渠道价格政策 Channel pricing policy",
                v,
                (("折扣 Discounts", f"一级经销商 {20 + v}% / 二级 {12 + v}%"),),
            ),
            (10, 375),
        ),
    ]
    for name, kind, audience, filename, content_type, make, offsets in library:
        moments = [demo.at_work((demo.start + timedelta(days=days)).date()) for days in offsets]
        moments = [moment for moment in moments if moment <= demo.horizon]
        document = create_record(
            demo.session,
            actor=demo.admin,
            spec=SPECS["document"],
            occurred_at=moments[0],
            data={"name": name, "kind": kind, "audience": audience, "owner_id": demo.admin.user_id},
        )
        for version, moment in enumerate(moments, start=1):
            add_document_version(
                demo.session,
                actor=demo.admin,
                document=document,
                filename=filename,
                content=make(version),
                content_type=content_type,
                occurred_at=moment,
                note="首版 First edition" if version == 1 else f"第 {version} 版 Edition {version}",
            )
