"""Deals over time: each opportunity is walked through the default pipeline by its
owner, with realistic stage durations, close-date slips, amount changes, lines,
quotes and proposal documents, every step stamped with the moment it happened."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from pathcast.crm import models as m
from pathcast.crm.service import SPECS, change_stage, create_opportunity, create_record, update_opportunity
from pathcast.crm.service.records import update_record
from pathcast.demo.catalog import (
    CHANNEL_THEMES,
    DEAL_THEMES,
    LEAD_SOURCES,
    LOSS_REASONS,
    RENEWAL_THEME,
    usd_price,
)
from pathcast.demo.context import AccountInfo, DealResult, DealSpec, Demo, money
from pathcast.demo.names import short_name
from pathcast.demo.quotes import create_quote, discount_quote, proposal_document, proposal_version
from pathcast.demo.vocabulary import SAAS, ProductPlan

FLOW = ("lead", "qualified", "discovery", "solution", "proposal", "negotiation")
# days spent in a stage before the next move: (shortest, longest)
DURATIONS = {
    "lead": (3, 18),
    "qualified": (5, 25),
    "discovery": (10, 40),
    "solution": (15, 60),
    "proposal": (7, 30),
    "negotiation": (7, 40),
}
# chance the deal is lost instead of moving on from this stage
LOSS = {
    "lead": 0.15,
    "qualified": 0.10,
    "discovery": 0.10,
    "solution": 0.12,
    "proposal": 0.12,
    "negotiation": 0.18,
}
STALL_CHANCE = 0.08
# a share of deals opens in the last months, so the live pipeline is full
RECENT_SHARE = 0.35
RECENT_DAYS = 90
STALL_FACTOR = 3.5


def plan_deals(demo: Demo, info: AccountInfo) -> list[DealSpec]:
    """The deals an account sees over the history window, oldest first."""
    rng = demo.rng
    tier = info.account.tier
    if info.is_outlet:
        count = rng.randrange(0, 2)
    elif info.is_distributor:
        count = rng.randrange(2, 4)
    else:
        count = {"strategic": rng.randrange(4, 7), "key": rng.randrange(2, 5)}.get(tier, rng.randrange(1, 3))
    themes = CHANNEL_THEMES[info.industry] if info.is_distributor else DEAL_THEMES[info.industry]
    first = info.created_at + timedelta(days=7)
    last = demo.horizon - timedelta(days=3)
    recent = max(first, last - timedelta(days=RECENT_DAYS))
    specs = []
    for _ in range(count):
        theme = rng.choice(list(themes))
        created = demo.between(recent if rng.random() < RECENT_SHARE else first, last)
        specs.append(
            DealSpec(
                info=info,
                owner=info.owner,
                created_at=created,
                theme=theme,
                codes=themes[theme],
                lead_source=rng.choice(LEAD_SOURCES[info.industry]),
            )
        )
    if info.showcase:
        specs += _showcase(demo, info, themes, first, last)
    return sorted(specs, key=lambda spec: spec.created_at)


def _showcase(
    demo: Demo, info: AccountInfo, themes: dict[str, tuple[str, ...]], first: datetime, last: datetime
) -> list[DealSpec]:
    """A won, a lost and a live deal, so even a tiny demo shows every outcome."""
    names = list(themes)
    plans = (
        ("won", names[0], demo.between(first, max(first, last - timedelta(days=330)))),
        ("lost", names[1 % len(names)], demo.between(first, max(first, last - timedelta(days=200)))),
        ("open", names[-1], demo.between(max(first, last - timedelta(days=20)), last)),
    )
    return [
        DealSpec(
            info=info,
            owner=info.owner,
            created_at=created,
            theme=theme,
            codes=themes[theme],
            lead_source=demo.rng.choice(LEAD_SOURCES[info.industry]),
            fate=fate,
        )
        for fate, theme, created in plans
    ]


def renewal_spec(demo: Demo, result: DealResult, contract: m.Contract) -> DealSpec | None:
    """A renewal deal for a subscription contract, opened 90 days before renewal."""
    if contract.renewal_date is None:
        return None
    opens = demo.at_work(contract.renewal_date - timedelta(days=90))
    if opens > demo.horizon - timedelta(days=2):
        return None
    recurring = tuple(
        line_code for line_code in demo.codes_of(result.lines) if demo.plans[line_code].recurring
    )
    return DealSpec(
        info=result.spec.info,
        owner=result.spec.owner,
        created_at=opens,
        theme=RENEWAL_THEME,
        codes=recurring or result.spec.codes,
        lead_source="续约 Renewal",
        renewal_of=contract,
    )


def _unit_price(demo: Demo, info: AccountInfo, plan: ProductPlan) -> Decimal:
    return usd_price(plan.list_price) if info.currency == "USD" else money(plan.list_price)


def _planned_lines(demo: Demo, spec: DealSpec) -> list[tuple[ProductPlan, Decimal, Decimal]]:
    """(product, quantity, discount %) for the deal, chosen once at creation."""
    rng = demo.rng
    codes = list(spec.codes)
    if spec.renewal_of is None and len(codes) > 1:
        codes = [codes[0], *rng.sample(codes[1:], rng.randrange(0, len(codes)))]
    scale = {"strategic": 1.6, "key": 1.0, "standard": 0.6}.get(spec.info.account.tier, 1.0)
    if spec.info.is_distributor:
        scale *= 1.5
    lines = []
    for code in codes:
        plan = demo.plans[code]
        low, high = plan.quantity
        quantity = max(1, min(high * 2, round(rng.randrange(low, high + 1) * scale)))
        if spec.info.is_distributor:
            discount = Decimal(rng.randrange(40, 61)) / 2
        elif spec.info.account.tier == "strategic":
            discount = Decimal(rng.randrange(10, 31)) / 2
        else:
            discount = Decimal(rng.randrange(0, 17)) / 2
        lines.append((plan, Decimal(quantity), discount))
    return lines


def _lines_total(
    demo: Demo, info: AccountInfo, planned: list[tuple[ProductPlan, Decimal, Decimal]]
) -> Decimal:
    total = Decimal(0)
    for plan, quantity, discount in planned:
        total += _unit_price(demo, info, plan) * quantity * (100 - discount) / 100
    return money(total)


def run_deal(demo: Demo, spec: DealSpec, number: int) -> DealResult:
    """Create the deal and play its history forward until it closes or history ends."""
    rng, session, actor, info = demo.rng, demo.session, spec.owner.actor, spec.info
    saas = info.industry == SAAS
    speed = (0.6 if saas else 1.0) * (0.6 if spec.renewal_of is not None else 1.0)
    planned = _planned_lines(demo, spec)
    estimate = _lines_total(demo, info, planned) * Decimal(str(round(rng.uniform(0.8, 1.3), 2)))
    step = Decimal(100) if info.currency == "USD" else Decimal(1000)
    estimate = money(max(step, (estimate / step).quantize(Decimal(1)) * step))
    t = spec.created_at
    close_date = (t + timedelta(days=rng.uniform(45, 120) if saas else rng.uniform(90, 220))).date()
    first = "qualified" if spec.renewal_of is not None or spec.lead_source == "老客户转介绍" else "lead"
    contact = rng.choice(info.contacts) if info.contacts else None
    year_tag = t.strftime("%Y")
    name = f"{short_name(info.account.name)} · {spec.theme} {year_tag}"
    opportunity = create_opportunity(
        session,
        actor=actor,
        occurred_at=t,
        data={
            "name": name,
            "account_id": info.account.id,
            "contact_id": contact.id if contact else None,
            "stage_id": demo.stages[first].id,
            "lead_source": spec.lead_source,
            "amount": estimate,
            "currency": info.currency,
            "expected_close_date": close_date,
            "owner_id": spec.owner.user.id,
            "description": f"{spec.theme}：{', '.join(plan.code for plan, _, _ in planned)}",
            "external_source": "demo",
            "external_id": f"{info.code}-D{number}",
        },
    )
    result = DealResult(spec, opportunity, [(first, t)])
    index = FLOW.index(first)
    while True:
        stage = FLOW[index]
        low, high = DURATIONS[stage]
        stalls = spec.fate is None and rng.random() < STALL_CHANCE
        factor = speed * (STALL_FACTOR if stalls else 1.0)
        moved = demo.after(t, low * factor, high * factor)
        if moved <= demo.horizon and moved.date() > close_date - timedelta(days=5):
            close_date = _slip(demo, result, demo.between(t, moved - timedelta(hours=1)), moved.date())
        if moved > demo.horizon:
            break
        if _loses(demo, spec, stage):
            _close(demo, result, "lost", moved)
            return result
        if stage == "negotiation":
            _close(demo, result, "won", moved)
            return result
        index += 2 if stage == "lead" and rng.random() < 0.15 else 1
        change_stage(
            session,
            actor=actor,
            opportunity=opportunity,
            to_stage_id=demo.stages[FLOW[index]].id,
            occurred_at=moved,
        )
        result.stages.append((FLOW[index], moved))
        _on_enter(demo, result, FLOW[index], moved, planned)
        t = moved
    _still_open(demo, result, t, close_date)
    return result


def _loses(demo: Demo, spec: DealSpec, stage: str) -> bool:
    if spec.fate is not None:
        return spec.fate == "lost" and stage == "discovery"
    return demo.rng.random() < LOSS[stage] * (0.4 if spec.renewal_of is not None else 1.0)


def _slip(demo: Demo, result: DealResult, at: datetime, reached: date) -> date:
    new_date = reached + timedelta(days=demo.rng.randrange(14, 61))
    update_opportunity(
        demo.session,
        actor=result.spec.owner.actor,
        opportunity=result.opportunity,
        changes={"expected_close_date": new_date},
        occurred_at=at,
    )
    return new_date


def _set(demo: Demo, result: DealResult, at: datetime, **changes: object) -> None:
    update_opportunity(
        demo.session,
        actor=result.spec.owner.actor,
        opportunity=result.opportunity,
        changes=changes,
        occurred_at=at,
    )


def _on_enter(
    demo: Demo,
    result: DealResult,
    stage: str,
    at: datetime,
    planned: list[tuple[ProductPlan, Decimal, Decimal]],
) -> None:
    rng, info = demo.rng, result.spec.info
    opportunity = result.opportunity
    lines_stage = "discovery" if info.industry == SAAS else "solution"
    if stage == "discovery" and rng.random() < 0.3:
        revised = money((opportunity.amount or Decimal(0)) * Decimal(str(round(rng.uniform(0.7, 1.5), 2))))
        _set(demo, result, at, amount=revised)
    if stage in (lines_stage, "proposal") and not result.lines:
        for plan, quantity, discount in planned:
            line = create_record(
                demo.session,
                actor=result.spec.owner.actor,
                spec=SPECS["opportunity_line"],
                occurred_at=at,
                data={
                    "opportunity_id": opportunity.id,
                    "product_id": demo.products[plan.code].id,
                    "quantity": quantity,
                    "unit_price": _unit_price(demo, info, plan),
                    "discount_pct": discount,
                },
            )
            result.lines.append(line)
    if stage == "proposal":
        _set(demo, result, at, amount=_lines_total(demo, info, planned), forecast_category="best_case")
        result.quote = create_quote(demo, result, at)
        if rng.random() < 0.6:
            proposal_document(demo, result, at)
    if stage == "negotiation":
        changes: dict[str, object] = {"forecast_category": "commit" if rng.random() < 0.7 else "best_case"}
        if rng.random() < 0.4 and result.quote is not None:
            discount_quote(demo, result, at, Decimal(rng.randrange(2, 11)))
            changes["amount"] = result.quote.total
            if result.document is not None:
                proposal_version(demo, result, result.document, at, revision=2)
        _set(demo, result, at, **changes)


def _close(demo: Demo, result: DealResult, outcome: str, at: datetime) -> None:
    session, actor, opportunity = demo.session, result.spec.owner.actor, result.opportunity
    change_stage(
        session, actor=actor, opportunity=opportunity, to_stage_id=demo.stages[outcome].id, occurred_at=at
    )
    result.stages.append((outcome, at))
    if outcome == "won":
        _set(demo, result, at, expected_close_date=at.date())
        result.spec.info.won.append(opportunity)
        if result.spec.info.first_win is None:
            result.spec.info.first_win = at
    else:
        result.loss_reason = demo.rng.choice(LOSS_REASONS)
        _set(
            demo,
            result,
            at,
            description=f"{opportunity.description}\n丢单原因 Loss reason: {result.loss_reason}",
        )
    if result.quote is not None:
        status = m.QuoteStatus.accepted if outcome == "won" else m.QuoteStatus.rejected
        update_record(
            session,
            actor=actor,
            spec=SPECS["quote"],
            record=result.quote,
            occurred_at=at,
            changes={"status": status.value},
        )


def _still_open(demo: Demo, result: DealResult, last_move: datetime, close_date: date) -> None:
    """End-of-history touches: late close dates mostly re-planned, old quotes expired,
    long-stalled deals taken out of the forecast."""
    rng, today = demo.rng, demo.today
    edits: list[tuple[datetime, dict[str, object]]] = []
    if close_date < today and rng.random() < 0.6:
        at = demo.between(max(last_move, demo.horizon - timedelta(days=20)), demo.horizon)
        edits.append((at, {"expected_close_date": today + timedelta(days=rng.randrange(7, 91))}))
    if demo.horizon - last_move > timedelta(days=120) and rng.random() < 0.5:
        at = demo.between(last_move + timedelta(days=90), demo.horizon)
        edits.append((at, {"forecast_category": "omitted"}))
    for at, changes in sorted(edits, key=lambda edit: edit[0]):
        _set(demo, result, at, **changes)
    quote = result.quote
    if quote is not None and quote.valid_until is not None and quote.valid_until < today:
        expired_at = demo.at_work(quote.valid_until + timedelta(days=1))
        if expired_at <= demo.horizon:
            update_record(
                demo.session,
                actor=result.spec.owner.actor,
                spec=SPECS["quote"],
                record=quote,
                occurred_at=expired_at,
                changes={"status": m.QuoteStatus.expired.value},
            )
