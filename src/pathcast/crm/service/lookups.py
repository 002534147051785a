"""Reads other packages need: a contact by address, an account by name, the deal a
message most likely concerns. No scoping here: callers are system work (connectors)
that decide where inbound data belongs; what a person may see is scoped elsewhere."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from pathcast.crm import models as m


def get_contact(session: Session, contact_id: int) -> m.Contact | None:
    """The contact with this id, if any."""
    return session.get(m.Contact, contact_id)


def get_account(session: Session, account_id: int) -> m.Account | None:
    """The account with this id, if any."""
    return session.get(m.Account, account_id)


def contacts_by_email(session: Session, addresses: Collection[str]) -> dict[str, m.Contact]:
    """Contacts keyed by lower-cased e-mail; an address shared by two contacts matches neither."""
    wanted = {address.strip().lower() for address in addresses if address and address.strip()}
    if not wanted:
        return {}
    found: dict[str, list[m.Contact]] = {}
    for contact in session.scalars(select(m.Contact).where(func.lower(m.Contact.email).in_(wanted))):
        found.setdefault((contact.email or "").lower(), []).append(contact)
    return {address: matches[0] for address, matches in found.items() if len(matches) == 1}


def contact_by_external_id(session: Session, source: str, external_id: str) -> m.Contact | None:
    """The contact another system (WeCom, DingTalk…) knows by ``external_id``."""
    return session.scalars(
        select(m.Contact).where(m.Contact.external_source == source, m.Contact.external_id == external_id)
    ).first()


def contact_by_phone(session: Session, phone: str) -> m.Contact | None:
    """The one contact with this phone number (digits compared), if exactly one."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 6:
        return None
    matches = [
        contact
        for contact in session.scalars(select(m.Contact).where(m.Contact.phone.is_not(None)))
        if "".join(ch for ch in contact.phone or "" if ch.isdigit()).endswith(digits[-11:])
    ]
    return matches[0] if len(matches) == 1 else None


def contact_by_name(session: Session, name: str, account_id: int | None = None) -> m.Contact | None:
    """The one contact with this exact name (within the account when given)."""
    query = select(m.Contact).where(func.lower(m.Contact.name) == name.strip().lower())
    if account_id is not None:
        query = query.where(m.Contact.account_id == account_id)
    matches = list(session.scalars(query.limit(2)))
    return matches[0] if len(matches) == 1 else None


def account_by_name(session: Session, name: str) -> m.Account | None:
    """The one account with this exact name (case-insensitive), if exactly one."""
    matches = list(
        session.scalars(select(m.Account).where(func.lower(m.Account.name) == name.strip().lower()).limit(2))
    )
    return matches[0] if len(matches) == 1 else None


def opportunity_by_reference(
    session: Session, reference: str, account_id: int | None
) -> m.Opportunity | None:
    """An opportunity by id or exact name (within the account when given)."""
    query = select(m.Opportunity)
    text = reference.strip()
    condition = func.lower(m.Opportunity.name) == text.lower()
    if text.isdigit():
        condition = or_(condition, m.Opportunity.id == int(text))
    query = query.where(condition)
    if account_id is not None:
        query = query.where(m.Opportunity.account_id == account_id)
    return session.scalars(query.limit(1)).first()


def latest_open_opportunity(session: Session, account_id: int) -> m.Opportunity | None:
    """The account's most recently touched open opportunity: where a message most likely belongs."""
    return session.scalars(
        select(m.Opportunity)
        .join(m.Stage, m.Stage.id == m.Opportunity.stage_id)
        .where(m.Opportunity.account_id == account_id, m.Stage.status_class == m.StageClass.open.value)
        .order_by(m.Opportunity.updated_at.desc(), m.Opportunity.id.desc())
        .limit(1)
    ).first()


def get_activity(session: Session, activity_id: int) -> m.Activity | None:
    """The activity with this id, if any."""
    return session.get(m.Activity, activity_id)


def activities_for_contacts(session: Session, kinds: Collection[str]) -> list[m.Activity]:
    """Every activity of these kinds that names a contact (for rebuilding derived counts)."""
    return list(
        session.scalars(
            select(m.Activity).where(m.Activity.kind.in_(list(kinds)), m.Activity.contact_id.is_not(None))
        )
    )


def contact_ids_of_account(account_id: int) -> Select[Any]:
    """A subquery of the ids of the account's contacts."""
    return select(m.Contact.id).where(m.Contact.account_id == account_id)


def names_of_contacts(session: Session, contact_ids: Collection[int]) -> dict[int, tuple[str, int | None]]:
    """Contact id → (name, account id)."""
    if not contact_ids:
        return {}
    rows = session.execute(
        select(m.Contact.id, m.Contact.name, m.Contact.account_id).where(m.Contact.id.in_(list(contact_ids)))
    )
    return {row.id: (row.name, row.account_id) for row in rows}


def names_of_accounts(session: Session, account_ids: Collection[int]) -> dict[int, str]:
    """Account id → name."""
    if not account_ids:
        return {}
    rows = session.execute(select(m.Account.id, m.Account.name).where(m.Account.id.in_(list(account_ids))))
    return {row.id: row.name for row in rows}


@dataclass(frozen=True)
class NamedAccount:
    """An account as text analysis links it: its name, industry and tier."""

    id: int
    name: str
    industry: str | None
    tier: str | None


@dataclass(frozen=True)
class EntityNames:
    """Every name text may mention: accounts, contacts, and active products with their code."""

    accounts: list[NamedAccount]
    contacts: list[tuple[int, str]]
    products: list[tuple[int, str, str | None]]


def entity_names(session: Session) -> EntityNames:
    """The names of all accounts, contacts and active products (the radar's entity catalogue)."""
    accounts = [
        NamedAccount(id=row.id, name=row.name, industry=row.industry, tier=row.tier)
        for row in session.execute(select(m.Account.id, m.Account.name, m.Account.industry, m.Account.tier))
        if row.name
    ]
    contacts = [
        (row.id, row.name) for row in session.execute(select(m.Contact.id, m.Contact.name)) if row.name
    ]
    products = [
        (row.id, row.name, row.code)
        for row in session.execute(
            select(m.Product.id, m.Product.name, m.Product.code).where(m.Product.is_active.is_(True))
        )
        if row.name
    ]
    return EntityNames(accounts=accounts, contacts=contacts, products=products)
