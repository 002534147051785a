"""Quotes: numbering, lines, and totals kept in step with their lines."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.service.records import create_record, delete_record, get_writable, update_record
from pathcast.crm.service.registry import SPECS
from pathcast.errors import InvalidInput

CENT = Decimal("0.01")


def line_total(quantity: Decimal, unit_price: Decimal, discount_pct: Decimal) -> Decimal:
    """A line's net amount, rounded to cents."""
    gross = Decimal(quantity) * Decimal(unit_price)
    return (gross * (Decimal(100) - Decimal(discount_pct)) / Decimal(100)).quantize(CENT, ROUND_HALF_UP)


def quote_total(session: Session, quote: m.Quote) -> Decimal:
    """The quote's total after line discounts and the quote-level discount."""
    lines = session.scalars(select(m.QuoteLine).where(m.QuoteLine.quote_id == quote.id))
    subtotal = sum((line_total(ln.quantity, ln.unit_price, ln.discount_pct) for ln in lines), Decimal(0))
    discount = Decimal(quote.discount_pct or 0)
    return (subtotal * (Decimal(100) - discount) / Decimal(100)).quantize(CENT, ROUND_HALF_UP)


def _next_number(session: Session) -> str:
    # From the highest id, not the row count: after a deletion a count would hand out
    # a number that a later quote already holds.
    highest = session.scalar(select(func.max(m.Quote.id))) or 0
    return f"Q-{highest + 1:06d}"


def create_quote(session: Session, *, actor: Actor, data: Mapping[str, Any]) -> m.Quote:
    """Create a quote for a deal the actor can see; numbers are generated when omitted."""
    values = dict(data)
    if not values.get("number"):
        values["number"] = _next_number(session)
    values["total"] = Decimal(0)
    quote: m.Quote = create_record(session, actor=actor, spec=SPECS["quote"], data=values)
    return quote


def _refresh_total(session: Session, *, actor: Actor, quote: m.Quote) -> None:
    update_record(
        session,
        actor=actor,
        spec=SPECS["quote"],
        record=quote,
        changes={"total": quote_total(session, quote)},
        check_refs=False,
    )


def update_quote(session: Session, *, actor: Actor, quote: m.Quote, changes: Mapping[str, Any]) -> m.Quote:
    """Edit a quote; a new quote-level discount recomputes the total."""
    update_record(session, actor=actor, spec=SPECS["quote"], record=quote, changes=changes)
    if "discount_pct" in changes:
        _refresh_total(session, actor=actor, quote=quote)
    return quote


def add_quote_line(session: Session, *, actor: Actor, data: Mapping[str, Any]) -> m.QuoteLine:
    """Add a line (price and description default from the product) and update the total."""
    values = dict(data)
    quote = get_writable(session, actor, SPECS["quote"], int(values["quote_id"]))
    product = session.get(m.Product, values["product_id"]) if values.get("product_id") else None
    if values.get("unit_price") is None:
        if product is None:
            raise InvalidInput.single("unit_price", "missing")
        values["unit_price"] = product.list_price
    if not values.get("description"):
        if product is None:
            raise InvalidInput.single("description", "missing")
        values["description"] = product.name
    line: m.QuoteLine = create_record(session, actor=actor, spec=SPECS["quote_line"], data=values)
    _refresh_total(session, actor=actor, quote=quote)
    return line


def update_quote_line(
    session: Session, *, actor: Actor, line: m.QuoteLine, changes: Mapping[str, Any]
) -> m.QuoteLine:
    """Edit a line and update its quote's total."""
    update_record(session, actor=actor, spec=SPECS["quote_line"], record=line, changes=changes)
    quote = get_writable(session, actor, SPECS["quote"], line.quote_id)
    _refresh_total(session, actor=actor, quote=quote)
    return line


def delete_quote_line(session: Session, *, actor: Actor, line: m.QuoteLine) -> None:
    """Remove a line and update its quote's total."""
    quote = get_writable(session, actor, SPECS["quote"], line.quote_id)
    delete_record(session, actor=actor, spec=SPECS["quote_line"], record=line)
    _refresh_total(session, actor=actor, quote=quote)
