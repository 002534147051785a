"""Case matching: the won deals and case studies most like a signal or a deal, and why.

Case studies are product marketing's content (right ``radar_toolbox``: admins and
managers write, reps read); each write appends its event in the same transaction
(``radar.case_study_added`` / ``_changed`` / ``_archived``). Won deals stay in crm and are
read through crm's service with the viewer's scoping, so a rep is never shown another
team's deal as a similar case. The ranking itself is the pure ``toolbox.cases``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, Operation, may
from pathcast.crm.service import SPECS, get_readable
from pathcast.crm.service.won_deals import WonDeal, deal_facts, latest_open_amount, won_deals
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.radar import models as m
from pathcast.radar import schemas as s
from pathcast.radar.service.settings import require, weight_table
from pathcast.radar.service.signals import get_signal
from pathcast.radar.toolbox.cases import CaseQuery, CaseRecord, match_cases

__all__ = [
    "CASE_FIELDS",
    "add_case_study",
    "archive_case_study",
    "cases_for_deal",
    "cases_for_signal",
    "get_case_study",
    "list_case_studies",
    "may_edit_cases",
    "signal_query",
    "update_case_study",
]

ENTITY = "radar_case_study"
TITLE_MAX = 300
INDUSTRY_MAX = 60
PRODUCT_MAX = 200
PRODUCTS_MAX = 50
TEXT_MAX = 20000
AMOUNT_MAX = 1e13
TOP_MAX = 20
CASE_STUDIES_MAX = 2000
CASE_FIELDS = ("title", "industry", "products", "amount", "text", "url", "account_id")


# --- who may do what --------------------------------------------------------------------------


def _require_toolbox(actor: Actor, operation: Operation) -> None:
    if not may(actor, "radar_toolbox", operation):
        raise PermissionDenied("forbidden_operation", entity=ENTITY, operation=operation)


def may_edit_cases(actor: Actor) -> bool:
    """Whether ``actor`` may add, change and archive case studies (admins, managers)."""
    return may(actor, "radar_toolbox", "update")


# --- checking input ---------------------------------------------------------------------------


def _invalid(errors: list[FieldError], name: str, message: str) -> None:
    errors.append(FieldError(name, "invalid", {"message": message}))


def _text(value: Any, name: str, limit: int, errors: list[FieldError], *, required: bool = False) -> Any:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        _invalid(errors, name, "a text")
        return None
    clean = value.strip()
    if required and not clean:
        errors.append(FieldError(name, "missing"))
    elif len(clean) > limit:
        _invalid(errors, name, f"at most {limit} characters")
    return clean or None


def _products(value: Any, errors: list[FieldError]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        _invalid(errors, "products", "a list of product names")
        return []
    names = list(dict.fromkeys(" ".join(v.split()) for v in value if v.strip()))
    if len(names) > PRODUCTS_MAX:
        _invalid(errors, "products", f"at most {PRODUCTS_MAX} products")
    for position, name in enumerate(names):
        if len(name) > PRODUCT_MAX:
            _invalid(errors, f"products.{position}", f"at most {PRODUCT_MAX} characters")
    return names


def _amount(value: Any, errors: list[FieldError]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _invalid(errors, "amount", "a number")
        return None
    number = float(value)
    if not math.isfinite(number) or number < 0 or number > AMOUNT_MAX:
        _invalid(errors, "amount", f"a number from 0 to {AMOUNT_MAX:,.0f}")
        return None
    return number


def _url(value: Any, errors: list[FieldError]) -> str | None:
    clean = _text(value, "url", m.URL_MAX, errors)
    if clean is None:
        return None
    parts = urlsplit(clean)
    # Only web links: a "javascript:" URL would run in the page that shows the case.
    if parts.scheme not in ("http", "https") or not parts.netloc:
        _invalid(errors, "url", "a web address starting with http:// or https://")
    return str(clean)


def _account(session: Session, actor: Actor, value: Any, errors: list[FieldError]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        _invalid(errors, "account_id", "an account id")
        return None
    try:
        get_readable(session, actor, SPECS["account"], value)
    except (NotFound, PermissionDenied):
        errors.append(FieldError("account_id", "unknown_reference", {"entity": "account", "id": value}))
        return None
    return value


def _clean(session: Session, actor: Actor, data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The checked values of ``data`` (only the keys given when ``partial``); InvalidInput
    names every bad field at once."""
    errors: list[FieldError] = []
    for key in data:
        if key not in CASE_FIELDS:
            _invalid(errors, key, "unknown field")
    clean: dict[str, Any] = {}
    if not partial or "title" in data:
        clean["title"] = _text(data.get("title"), "title", TITLE_MAX, errors, required=True)
    if not partial or "industry" in data:
        clean["industry"] = _text(data.get("industry"), "industry", INDUSTRY_MAX, errors)
    if not partial or "products" in data:
        clean["products"] = _products(data.get("products"), errors)
    if not partial or "amount" in data:
        clean["amount"] = _amount(data.get("amount"), errors)
    if not partial or "text" in data:
        clean["text"] = _text(data.get("text"), "text", TEXT_MAX, errors) or ""
    if not partial or "url" in data:
        clean["url"] = _url(data.get("url"), errors)
    if not partial or "account_id" in data:
        clean["account_id"] = _account(session, actor, data.get("account_id"), errors)
    if errors:
        raise InvalidInput(errors)
    return clean


def _state(study: m.CaseStudy) -> dict[str, Any]:
    return {
        "title": study.title,
        "industry": study.industry,
        "products": list(study.products or []),
        "amount": study.amount,
        "text": study.text,
        "url": study.url,
        "account_id": study.account_id,
        "archived": study.archived,
    }


# --- case studies -----------------------------------------------------------------------------


def list_case_studies(session: Session, *, actor: Actor, include_archived: bool = False) -> list[m.CaseStudy]:
    """Case studies, newest first (any radar reader); archived ones only when asked."""
    require(actor, "read")
    query = select(m.CaseStudy).order_by(m.CaseStudy.id.desc())
    if not include_archived:
        query = query.where(m.CaseStudy.archived.is_(False))
    return list(session.scalars(query.limit(CASE_STUDIES_MAX)))


def get_case_study(session: Session, *, actor: Actor, case_id: int) -> m.CaseStudy:
    """One case study (any radar reader), archived or not; NotFound if there is none."""
    require(actor, "read")
    study = session.get(m.CaseStudy, case_id)
    if study is None:
        raise NotFound("not_found", entity=ENTITY, id=case_id)
    return study


def add_case_study(session: Session, *, actor: Actor, data: Mapping[str, Any]) -> m.CaseStudy:
    """Add a case study (admins, managers); logged as ``radar.case_study_added``."""
    _require_toolbox(actor, "create")
    values = _clean(session, actor, data, partial=False)
    study = m.CaseStudy(**values, archived=False, created_by=actor.user_id)
    session.add(study)
    session.flush()
    append_event(
        session,
        type="radar.case_study_added",
        entity=ENTITY,
        entity_id=study.id,
        actor=actor.label,
        payload={"before": None, "after": _state(study)},
    )
    return study


def update_case_study(
    session: Session, *, actor: Actor, case_id: int, changes: Mapping[str, Any]
) -> m.CaseStudy:
    """Change a case study's fields (admins, managers); ``radar.case_study_changed`` with
    before and after when something changed."""
    _require_toolbox(actor, "update")
    study = get_case_study(session, actor=actor, case_id=case_id)
    values = _clean(session, actor, changes, partial=True)
    before = _state(study)
    for key, value in values.items():
        setattr(study, key, value)
    after = _state(study)
    if after == before:
        return study
    session.flush()
    changed = sorted(key for key in after if after[key] != before[key])
    append_event(
        session,
        type="radar.case_study_changed",
        entity=ENTITY,
        entity_id=study.id,
        actor=actor.label,
        payload={
            "fields": changed,
            "before": {key: before[key] for key in changed},
            "after": {key: after[key] for key in changed},
        },
    )
    return study


def archive_case_study(session: Session, *, actor: Actor, case_id: int) -> m.CaseStudy:
    """Archive a case study (admins, managers): kept, but no longer matched or listed.
    Archiving an archived one changes nothing and logs nothing."""
    _require_toolbox(actor, "delete")
    study = get_case_study(session, actor=actor, case_id=case_id)
    if study.archived:
        return study
    study.archived = True
    session.flush()
    append_event(
        session,
        type="radar.case_study_archived",
        entity=ENTITY,
        entity_id=study.id,
        actor=actor.label,
        payload={"title": study.title, "before": {"archived": False}, "after": {"archived": True}},
    )
    return study


# --- matching ---------------------------------------------------------------------------------


def _deal_text(deal: WonDeal) -> str:
    return "\n".join(part for part in (deal.name, deal.description, deal.notes) if part)


def _candidates(
    session: Session, actor: Actor, *, exclude_deal: int | None = None
) -> tuple[list[CaseRecord], dict[str, dict[str, Any]]]:
    """The cases to rank (won deals the actor may read, live case studies) and, per case
    id, what its match shows besides the score."""
    records: list[CaseRecord] = []
    shown: dict[str, dict[str, Any]] = {}
    for deal in won_deals(session, actor):
        if deal.opportunity_id == exclude_deal:
            continue
        key = f"deal:{deal.opportunity_id}"
        records.append(
            CaseRecord(
                key, deal.name, deal.industry, deal.products, deal.amount, _deal_text(deal), "won_deal"
            )
        )
        shown[key] = {
            "kind": "won_deal",
            "id": deal.opportunity_id,
            "title": deal.name,
            "link": f"/opportunities/{deal.opportunity_id}",
            "industry": deal.industry,
            "products": list(deal.products),
            "amount": deal.amount,
            "account_name": deal.account_name,
        }
    for study in list_case_studies(session, actor=actor):
        key = f"case:{study.id}"
        products = tuple(study.products or ())
        text = "\n".join(part for part in (study.title, study.text) if part)
        records.append(
            CaseRecord(key, study.title, study.industry, products, study.amount, text, "case_study")
        )
        shown[key] = {
            "kind": "case_study",
            "id": study.id,
            "title": study.title,
            "link": study.url or f"/radar/cases#case-{study.id}",
            "industry": study.industry,
            "products": list(products),
            "amount": study.amount,
            "account_name": None,
        }
    return records, shown


def _check_top(top: int) -> int:
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= TOP_MAX:
        raise InvalidInput.single("top", "invalid", message=f"a whole number from 1 to {TOP_MAX}")
    return top


def _match(
    session: Session, actor: Actor, query: CaseQuery, *, top: int, exclude_deal: int | None = None
) -> list[s.CaseMatchRead]:
    records, shown = _candidates(session, actor, exclude_deal=exclude_deal)
    found = match_cases(query, records, top=top, weights=weight_table(session))
    return [
        s.CaseMatchRead(
            **shown[match.case.id],
            score=match.score,
            parts=dict(match.parts),
            reasons=[{"en": reason["en"], "zh": reason["zh"]} for reason in match.reasons],
        )
        for match in found
    ]


def signal_query(session: Session, actor: Actor, item_id: int) -> CaseQuery:
    """The situation a signal describes: its industry, the products it names, the linked
    account's latest open deal amount (one the actor may read), and its words."""
    item, signal = get_signal(session, actor=actor, item_id=item_id)
    analysis = item.analysis or {}
    products = [
        str(entity["name"])
        for entity in analysis.get("entities", [])
        if entity.get("kind") == "product" and entity.get("name")
    ]
    amount = latest_open_amount(session, actor, signal.account_id) if signal.account_id else None
    text = "\n".join(part for part in (item.title, item.text) if part)
    return CaseQuery(
        industry=signal.industry, products=list(dict.fromkeys(products)), amount=amount, text=text
    )


def cases_for_signal(session: Session, actor: Actor, item_id: int, *, top: int = 5) -> list[s.CaseMatchRead]:
    """The ``top`` won deals and case studies most like a signal's situation, best first.

    A signal the actor may not see is NotFound, like a missing one.
    """
    require(actor, "read")
    top = _check_top(top)
    return _match(session, actor, signal_query(session, actor, item_id), top=top)


def cases_for_deal(
    session: Session, actor: Actor, opportunity_id: int, *, top: int = 5
) -> list[s.CaseMatchRead]:
    """The ``top`` other won deals and case studies most like a deal, best first.

    The query is the deal's account industry, its lines' products, its amount, and its
    name, description and recent activity notes; the deal itself is never its own match.
    A deal the actor may not read is NotFound.
    """
    require(actor, "read")
    top = _check_top(top)
    deal = deal_facts(session, actor, opportunity_id)
    query = CaseQuery(
        industry=deal.industry, products=list(deal.products), amount=deal.amount, text=_deal_text(deal)
    )
    return _match(session, actor, query, top=top, exclude_deal=deal.opportunity_id)
