"""Reads for case matching: won deals as comparable cases, and one deal's facts.

Everything starts from crm's scoped ``readable_query``, the same scoping the deal pages
use, so a rep never gets another team's won deal as a "similar case" and a hidden deal
looks exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service.records import get_readable, readable_query
from pathcast.crm.service.registry import SPECS

__all__ = ["WonDeal", "deal_facts", "latest_open_amount", "won_deals"]

NOTES_MAX = 2000
# Activities read per deal for its notes: the recent ones say what the deal was about.
RECENT_ACTIVITIES = 20
WON_DEALS_MAX = 10000


@dataclass(frozen=True)
class WonDeal:
    """A deal as case matching compares it: who, which products, how much, what about."""

    opportunity_id: int
    name: str
    account_id: int | None
    account_name: str | None
    industry: str | None
    products: tuple[str, ...]
    amount: float | None
    closed_at: datetime | None
    description: str
    notes: str
    status: str = m.StageClass.won.value
    currency: str = "CNY"


def won_deals(session: Session, actor: Actor, *, limit: int = 2000) -> list[WonDeal]:
    """Won deals ``actor`` may read, newest close first, with products and recent notes.

    An actor without the right to read deals gets none (not an error): case matching then
    ranks case studies only.
    """
    if not may(actor, "opportunity", "read"):
        return []
    query = (
        readable_query(actor, SPECS["opportunity"])
        .where(m.Opportunity.status == m.StageClass.won.value)
        .order_by(m.Opportunity.closed_at.desc(), m.Opportunity.id.desc())
        .limit(max(1, min(limit, WON_DEALS_MAX)))
    )
    deals: list[m.Opportunity] = list(session.scalars(query))
    return _facts(session, actor, deals)


def deal_facts(session: Session, actor: Actor, opportunity_id: int) -> WonDeal:
    """One deal ``actor`` may read, in the same shape (any status); NotFound if hidden."""
    deal: m.Opportunity = get_readable(session, actor, SPECS["opportunity"], opportunity_id)
    return _facts(session, actor, [deal])[0]


def latest_open_amount(session: Session, actor: Actor, account_id: int) -> float | None:
    """The amount of the account's most recently touched open deal ``actor`` may read."""
    if not may(actor, "opportunity", "read"):
        return None
    amount = session.scalar(
        readable_query(actor, SPECS["opportunity"])
        .with_only_columns(m.Opportunity.amount)
        .where(
            m.Opportunity.account_id == account_id,
            m.Opportunity.status == m.StageClass.open.value,
            m.Opportunity.amount.is_not(None),
        )
        .order_by(m.Opportunity.updated_at.desc(), m.Opportunity.id.desc())
        .limit(1)
    )
    return float(amount) if amount is not None else None


# --- assembling -------------------------------------------------------------------------------


def _facts(session: Session, actor: Actor, deals: list[m.Opportunity]) -> list[WonDeal]:
    ids = [deal.id for deal in deals]
    accounts = _accounts(session, {deal.account_id for deal in deals if deal.account_id is not None})
    products = _products(session, ids)
    notes = _notes(session, actor, ids)
    return [
        WonDeal(
            opportunity_id=deal.id,
            name=deal.name,
            account_id=deal.account_id,
            account_name=accounts.get(deal.account_id, (None, None))[0] if deal.account_id else None,
            industry=accounts.get(deal.account_id, (None, None))[1] if deal.account_id else None,
            products=tuple(products.get(deal.id, ())),
            amount=float(deal.amount) if deal.amount is not None else None,
            closed_at=deal.closed_at,
            description=deal.description or "",
            notes=notes.get(deal.id, ""),
            status=deal.status,
            currency=deal.currency,
        )
        for deal in deals
    ]


def _accounts(session: Session, account_ids: Collection[int]) -> dict[int, tuple[str, str | None]]:
    # The deal is readable, so its account's name and industry are shown with it (the
    # deal page does the same); reading the account row itself is not needed.
    if not account_ids:
        return {}
    rows = session.execute(
        select(m.Account.id, m.Account.name, m.Account.industry).where(m.Account.id.in_(list(account_ids)))
    )
    return {row.id: (row.name, row.industry) for row in rows}


def _products(session: Session, opportunity_ids: list[int]) -> dict[int, list[str]]:
    if not opportunity_ids:
        return {}
    rows = session.execute(
        select(m.OpportunityLine.opportunity_id, m.Product.name)
        .join(m.Product, m.Product.id == m.OpportunityLine.product_id)
        .where(m.OpportunityLine.opportunity_id.in_(opportunity_ids))
        .order_by(m.OpportunityLine.opportunity_id, m.OpportunityLine.id)
    )
    found: dict[int, list[str]] = {}
    for opportunity_id, name in rows:
        names = found.setdefault(opportunity_id, [])
        if name and name not in names:
            names.append(name)
    return found


def _notes(session: Session, actor: Actor, opportunity_ids: list[int]) -> dict[int, str]:
    """Per deal, its recent activities' subjects and bodies, newest first, cut at NOTES_MAX."""
    if not opportunity_ids or not may(actor, "activity", "read"):
        return {}
    query: Any = (
        readable_query(actor, SPECS["activity"])
        .with_only_columns(m.Activity.opportunity_id, m.Activity.subject, m.Activity.body)
        .where(m.Activity.opportunity_id.in_(opportunity_ids))
        .order_by(
            m.Activity.opportunity_id,
            m.Activity.occurred_at.desc().nulls_last(),
            m.Activity.id.desc(),
        )
    )
    parts: dict[int, list[str]] = {}
    sizes: dict[int, int] = {}
    for opportunity_id, subject, body in session.execute(query):
        kept = parts.setdefault(opportunity_id, [])
        if len(kept) >= RECENT_ACTIVITIES or sizes.get(opportunity_id, 0) >= NOTES_MAX:
            continue
        text = " — ".join(part.strip() for part in (subject, body) if part and part.strip())
        if text:
            kept.append(text)
            sizes[opportunity_id] = sizes.get(opportunity_id, 0) + len(text) + 1
    return {key: "\n".join(texts)[:NOTES_MAX] for key, texts in parts.items() if texts}
