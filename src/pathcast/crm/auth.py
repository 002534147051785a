"""Row scoping for CRM models: the one place that says which rows an actor sees or edits.

Every list, search, export and report starts from ``readable(actor, model)``. Staff see
their team's records (admins everything); shared accounts with no owner are visible
to every seller; a customer contact sees only their own account.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as m

SELLING_ROLES = (Role.manager, Role.rep)


def team_user_ids(actor: Actor) -> Select[Any]:
    """The ids of the users in the actor's team (just the actor when teamless)."""
    if actor.team_id is None:
        return select(User.id).where(User.id == (actor.user_id or -1))
    return select(User.id).where(User.team_id == actor.team_id)


def _owned_by_team(column: Any, actor: Actor) -> ColumnElement[bool]:
    return column.in_(team_user_ids(actor))


def readable_accounts_clause(actor: Actor) -> ColumnElement[bool]:
    if actor.role is Role.admin:
        return true()
    if actor.role is Role.customer_contact:
        return m.Account.id == (actor.account_id or -1)
    if actor.role is Role.member:
        return true()
    if actor.role in SELLING_ROLES:
        team_deal = exists().where(
            m.Opportunity.account_id == m.Account.id,
            _owned_by_team(m.Opportunity.owner_id, actor),
        )
        return or_(m.Account.owner_id.is_(None), _owned_by_team(m.Account.owner_id, actor), team_deal)
    return false()


def _readable_account_ids(actor: Actor) -> Select[Any]:
    return select(m.Account.id).where(readable_accounts_clause(actor))


def readable_opportunities_clause(actor: Actor) -> ColumnElement[bool]:
    if actor.role is Role.admin:
        return true()
    if actor.role in SELLING_ROLES:
        return _owned_by_team(m.Opportunity.owner_id, actor)
    return false()


def _readable_opportunity_ids(actor: Actor) -> Select[Any]:
    return select(m.Opportunity.id).where(readable_opportunities_clause(actor))


def readable_clause(actor: Actor, model: type[Any]) -> ColumnElement[bool]:
    """The WHERE clause limiting ``model`` to the rows ``actor`` may read."""
    if actor.role is Role.admin:
        return true()
    if model is m.Account:
        return readable_accounts_clause(actor)
    if model is m.Opportunity:
        return readable_opportunities_clause(actor)
    if model is m.Contact:
        if actor.role in SELLING_ROLES:
            return or_(
                m.Contact.account_id.in_(_readable_account_ids(actor)),
                _owned_by_team(m.Contact.owner_id, actor),
            )
        return m.Contact.account_id.in_(_readable_account_ids(actor))
    if model in (m.Quote, m.OpportunityLine, m.OpportunityStageChange, m.OpportunityFieldChange):
        return model.opportunity_id.in_(_readable_opportunity_ids(actor))
    if model is m.Activity:
        if actor.role not in SELLING_ROLES:
            return false()
        return or_(
            _owned_by_team(m.Activity.owner_id, actor),
            m.Activity.opportunity_id.in_(_readable_opportunity_ids(actor)),
        )
    if model is m.QuoteLine:
        return m.QuoteLine.quote_id.in_(select(m.Quote.id).where(readable_clause(actor, m.Quote)))
    if model is m.Contract:
        if actor.role not in SELLING_ROLES:
            return false()
        return or_(
            _owned_by_team(m.Contract.owner_id, actor),
            m.Contract.account_id.in_(_readable_account_ids(actor)),
        )
    if model is m.Subscription:
        return m.Subscription.contract_id.in_(select(m.Contract.id).where(readable_clause(actor, m.Contract)))
    if model is m.Ticket:
        return m.Ticket.account_id.in_(_readable_account_ids(actor))
    if model is m.Document:
        if actor.role is Role.customer_contact:
            return and_(
                m.Document.audience.in_([m.DocumentAudience.public.value, m.DocumentAudience.customer.value]),
                or_(m.Document.account_id == (actor.account_id or -1), m.Document.account_id.is_(None)),
            )
        return or_(m.Document.account_id.is_(None), m.Document.account_id.in_(_readable_account_ids(actor)))
    if model is m.DocumentVersion:
        return m.DocumentVersion.document_id.in_(
            select(m.Document.id).where(readable_clause(actor, m.Document))
        )
    if model in (m.Product, m.PriceList, m.PriceListItem, m.Pipeline, m.Stage):
        return true()
    return false()


def writable_clause(actor: Actor, model: type[Any]) -> ColumnElement[bool]:
    """The rows ``actor`` may update or delete: admins all, managers their team's,
    reps their own (or rows hanging off a deal they own)."""
    if actor.role is Role.admin:
        return true()
    readable = readable_clause(actor, model)
    if actor.role is Role.manager:
        return readable
    if actor.role is Role.rep:
        mine = actor.user_id or -1
        owner = getattr(model, "owner_id", None)
        if model is m.Account:
            return and_(readable, or_(m.Account.owner_id == mine, m.Account.owner_id.is_(None)))
        if owner is not None:
            return and_(readable, owner == mine)
        if model in (m.OpportunityLine,):
            return m.OpportunityLine.opportunity_id.in_(
                select(m.Opportunity.id).where(m.Opportunity.owner_id == mine)
            )
        if model is m.QuoteLine:
            return m.QuoteLine.quote_id.in_(select(m.Quote.id).where(m.Quote.owner_id == mine))
        return readable
    if actor.role is Role.member and model is m.Ticket:
        return readable
    return false()
