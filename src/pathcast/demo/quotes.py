"""Quotes and proposal documents: what a deal sends the customer at proposal time,
revised when negotiation brings a discount."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from pathcast.crm import models as m
from pathcast.crm.service import SPECS, create_record, update_record
from pathcast.crm.service.documents import add_document_version
from pathcast.demo.content import proposal_pdf
from pathcast.demo.context import DealResult, Demo, money
from pathcast.demo.names import short_name


def quote_total(lines: list[m.OpportunityLine], discount: Decimal) -> Decimal:
    subtotal = sum(
        (line.unit_price * line.quantity * (100 - line.discount_pct) / 100 for line in lines), Decimal(0)
    )
    return money(subtotal * (100 - discount) / 100)


def create_quote(demo: Demo, result: DealResult, at: datetime) -> m.Quote:
    actor, opportunity = result.spec.owner.actor, result.opportunity
    quote = create_record(
        demo.session,
        actor=actor,
        spec=SPECS["quote"],
        occurred_at=at,
        data={
            "number": demo.number("Q", at.year),
            "opportunity_id": opportunity.id,
            "status": m.QuoteStatus.sent.value,
            "currency": opportunity.currency,
            "discount_pct": Decimal(0),
            "valid_until": at.date() + timedelta(days=30),
            "total": quote_total(result.lines, Decimal(0)),
            "owner_id": result.spec.owner.user.id,
        },
    )
    for line in result.lines:
        create_record(
            demo.session,
            actor=actor,
            spec=SPECS["quote_line"],
            occurred_at=at,
            data={
                "quote_id": quote.id,
                "product_id": line.product_id,
                "description": demo.plan_of(line.product_id).name,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount_pct": line.discount_pct,
            },
        )
    return quote


def discount_quote(demo: Demo, result: DealResult, at: datetime, discount: Decimal) -> None:
    quote = result.quote
    assert quote is not None
    update_record(
        demo.session,
        actor=result.spec.owner.actor,
        spec=SPECS["quote"],
        record=quote,
        occurred_at=at,
        changes={
            "discount_pct": discount,
            "total": quote_total(result.lines, discount),
            "valid_until": at.date() + timedelta(days=30),
            "notes": f"谈判让利 {discount}% negotiated",
        },
    )


def proposal_document(demo: Demo, result: DealResult, at: datetime) -> None:
    info = result.spec.info
    document = create_record(
        demo.session,
        actor=result.spec.owner.actor,
        spec=SPECS["document"],
        occurred_at=at,
        data={
            "name": f"方案建议书 Proposal — {short_name(info.account.name)}",
            "kind": "proposal",
            "audience": m.DocumentAudience.customer.value,
            "account_id": info.account.id,
            "opportunity_id": result.opportunity.id,
            "owner_id": result.spec.owner.user.id,
        },
    )
    result.document = document
    proposal_version(demo, result, document, at, revision=1)


def proposal_version(
    demo: Demo, result: DealResult, document: m.Document, at: datetime, revision: int
) -> None:
    quote = result.quote
    assert quote is not None
    codes = demo.codes_of(result.lines)
    rows = [
        (
            code,
            f"{line.quantity:f}",
            f"{money(line.unit_price * line.quantity * (100 - line.discount_pct) / 100):f}",
        )
        for code, line in zip(codes, result.lines, strict=True)
    ]
    content = proposal_pdf(
        title=document.name,
        quote_number=quote.number,
        account_code=result.spec.info.code,
        currency=quote.currency,
        lines=rows,
        total=f"{quote.total:f}",
        revision=revision,
    )
    add_document_version(
        demo.session,
        actor=result.spec.owner.actor,
        document=document,
        filename=f"proposal-{quote.number}-r{revision}.pdf",
        content=content,
        content_type="application/pdf",
        note="首版方案 First issue" if revision == 1 else "修订报价 Revised pricing",
        occurred_at=at,
    )
