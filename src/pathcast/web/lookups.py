"""Batch look-ups of the names a page shows beside ids (owners, accounts, contacts,
deals, products, stages).

Records are read through the CRM service's scoped query, so a page never names a
record its viewer may not see.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.auth.permissions import Actor, may
from pathcast.crm import models as m
from pathcast.crm.service import SPECS
from pathcast.crm.service.records import readable_query


def _ids(values: Iterable[Any]) -> set[int]:
    found: set[int] = set()
    for value in values:
        if value is None:
            continue
        try:
            found.add(int(value))
        except (TypeError, ValueError):
            continue
    return found


def user_names(session: Session, ids: Iterable[Any]) -> dict[int, str]:
    """``{user id: display name}`` for the given ids."""
    return auth_service.user_names(session, _ids(ids))


def account_names(session: Session, actor: Actor, ids: Iterable[Any]) -> dict[int, str]:
    """``{account id: name}`` for the accounts among ``ids`` that ``actor`` may read."""
    return _readable_names(session, actor, "account", "name", ids)


def stages_by_id(session: Session, ids: Iterable[Any]) -> dict[int, m.Stage]:
    """The stages with these ids (stages are readable by every seller)."""
    wanted = _ids(ids)
    if not wanted:
        return {}
    return {stage.id: stage for stage in session.scalars(select(m.Stage).where(m.Stage.id.in_(wanted)))}


def actor_user_id(label: str) -> int | None:
    """The user id in an event's actor label (``user:12``), if it names a user."""
    prefix, _, rest = label.partition(":")
    if prefix == "user" and rest.isdigit():
        return int(rest)
    return None


def _readable_names(
    session: Session, actor: Actor, entity: str, column: str, ids: Iterable[Any]
) -> dict[int, str]:
    wanted = _ids(ids)
    if not wanted or not may(actor, entity, "read"):
        return {}
    spec = SPECS[entity]
    query = readable_query(actor, spec).where(spec.model.id.in_(wanted))
    return {int(record.id): str(getattr(record, column)) for record in session.scalars(query)}


def contact_names(session: Session, actor: Actor, ids: Iterable[Any]) -> dict[int, str]:
    """``{contact id: name}`` for the contacts among ``ids`` that ``actor`` may read."""
    return _readable_names(session, actor, "contact", "name", ids)


def opportunity_names(session: Session, actor: Actor, ids: Iterable[Any]) -> dict[int, str]:
    """``{opportunity id: name}`` for the deals among ``ids`` that ``actor`` may read."""
    return _readable_names(session, actor, "opportunity", "name", ids)


def product_names(session: Session, actor: Actor, ids: Iterable[Any]) -> dict[int, str]:
    """``{product id: name}`` for the products among ``ids`` (the catalogue is readable by staff)."""
    return _readable_names(session, actor, "product", "name", ids)
