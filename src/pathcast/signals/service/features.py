"""Rolling behaviour features per contact and per account, now or as of a past moment.

Now: read from the views and day buckets that ingest keeps current. As of a past
moment (backtests): rebuilt from the raw hits *received* by then and the identity
links and consent in force then, so nothing recorded later leaks in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.config import get_settings
from pathcast.crm.service import get_readable, readable_query, spec_for
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.signals import models as m
from pathcast.signals.schemas import (
    WINDOWS,
    AssetFeatures,
    Features,
    HeatmapCell,
    InboxItem,
    WindowFigures,
)
from pathcast.signals.service.consent import consent_state
from pathcast.signals.service.identity import require_behaviour_right


def _links_in_force(as_of: datetime | None) -> Any:
    if as_of is None:
        return m.IdentityLink.reverted_at.is_(None)
    return and_(
        m.IdentityLink.linked_at <= as_of,
        or_(m.IdentityLink.reverted_at.is_(None), m.IdentityLink.reverted_at > as_of),
    )


def visitors_of_contact(contact_id: int, as_of: datetime | None = None) -> Select[Any]:
    """Ids of the browsers linked to the contact (at ``as_of`` when given)."""
    return select(m.IdentityLink.visitor_id).where(
        m.IdentityLink.contact_id == contact_id, _links_in_force(as_of)
    )


def visitors_of_account(account_id: int, as_of: datetime | None = None) -> Select[Any]:
    """Ids of the browsers linked to any contact of the account: anonymous aggregates only."""
    return select(m.IdentityLink.visitor_id).where(
        m.IdentityLink.contact_id.in_(crm_lookups.contact_ids_of_account(account_id)), _links_in_force(as_of)
    )


def _views(visitors: Select[Any], as_of: datetime | None) -> Any:
    """A subquery of views (visitor, asset, start, dwell) as known at ``as_of``."""
    if as_of is None:
        return (
            select(m.View.visitor_id, m.View.asset_id, m.View.started_at, m.View.dwell_ms)
            .where(m.View.visitor_id.in_(visitors))
            .subquery()
        )
    started = (
        select(
            m.Hit.site_id,
            m.Hit.view_key,
            func.min(m.Hit.visitor_id).label("visitor_id"),
            func.min(m.Hit.asset_id).label("asset_id"),
            func.min(m.Hit.occurred_at).label("started_at"),
        )
        .where(m.Hit.kind == m.HitKind.view.value, m.Hit.visitor_id.in_(visitors), m.Hit.received_at <= as_of)
        .group_by(m.Hit.site_id, m.Hit.view_key)
        .subquery()
    )
    dwell = (
        select(m.Hit.site_id, m.Hit.view_key, func.max(m.Hit.dwell_ms).label("dwell_ms"))
        .where(
            m.Hit.kind == m.HitKind.dwell.value, m.Hit.visitor_id.in_(visitors), m.Hit.received_at <= as_of
        )
        .group_by(m.Hit.site_id, m.Hit.view_key)
        .subquery()
    )
    return (
        select(
            started.c.visitor_id,
            started.c.asset_id,
            started.c.started_at,
            func.coalesce(dwell.c.dwell_ms, 0).label("dwell_ms"),
        )
        .select_from(started)
        .outerjoin(dwell, and_(dwell.c.site_id == started.c.site_id, dwell.c.view_key == started.c.view_key))
        .subquery()
    )


def _window_columns(views: Any, at: datetime, min_dwell_ms: int) -> list[Any]:
    columns: list[Any] = []
    for label, days in WINDOWS.items():
        inside = views.c.started_at >= at - timedelta(days=days)
        columns += [
            func.sum(case((inside, 1), else_=0)).label(f"views_{label}"),
            func.sum(case((inside, views.c.dwell_ms), else_=0)).label(f"dwell_{label}"),
            func.sum(case((and_(inside, views.c.dwell_ms >= min_dwell_ms), 1), else_=0)).label(
                f"qualifying_{label}"
            ),
            func.count(func.distinct(case((inside, views.c.visitor_id), else_=None))).label(
                f"visitors_{label}"
            ),
        ]
    return columns


def _figures(row: Any, label: str) -> WindowFigures:
    return WindowFigures(
        views=int(getattr(row, f"views_{label}") or 0),
        dwell_seconds=round((getattr(row, f"dwell_{label}") or 0) / 1000, 1),
        qualifying_views=int(getattr(row, f"qualifying_{label}") or 0),
    )


def compute_features(
    session: Session,
    *,
    subject: str,
    subject_id: int,
    visitors: Select[Any] | None,
    as_of: datetime | None,
    min_dwell_seconds: int,
) -> Features:
    """The feature block for a set of browsers; no visitors means nothing may be shown."""
    at = as_of or utcnow()
    windows = {label: WindowFigures() for label in WINDOWS}
    distinct = dict.fromkeys(WINDOWS, 0)
    assets: list[AssetFeatures] = []
    last_seen: datetime | None = None
    if visitors is not None:
        views = _views(visitors, as_of)
        horizon = at - timedelta(days=max(WINDOWS.values()))
        in_range = and_(views.c.started_at >= horizon, views.c.started_at <= at)
        min_dwell_ms = min_dwell_seconds * 1000
        per_asset = session.execute(
            select(
                views.c.asset_id,
                func.max(views.c.started_at).label("last"),
                *_window_columns(views, at, min_dwell_ms),
            )
            .where(in_range)
            .group_by(views.c.asset_id)
        ).all()
        names = _asset_names(session, [row.asset_id for row in per_asset])
        for row in per_asset:
            key, name = names.get(row.asset_id, (str(row.asset_id), str(row.asset_id)))
            assets.append(
                AssetFeatures(
                    asset_id=row.asset_id,
                    key=key,
                    name=name,
                    windows={label: _figures(row, label) for label in WINDOWS},
                    last_viewed_at=row.last,
                )
            )
        assets.sort(key=lambda asset: (-asset.windows["30d"].dwell_seconds, asset.name))
        totals = session.execute(select(*_window_columns(views, at, min_dwell_ms)).where(in_range)).one()
        windows = {label: _figures(totals, label) for label in WINDOWS}
        distinct = {label: int(getattr(totals, f"visitors_{label}") or 0) for label in WINDOWS}
        last_seen = session.scalar(select(func.max(views.c.started_at)).where(views.c.started_at <= at))
    return Features(
        subject=subject,
        subject_id=subject_id,
        as_of=at,
        min_dwell_seconds=min_dwell_seconds,
        identified=visitors is not None,
        windows=windows,
        assets=assets,
        last_seen_at=last_seen,
        recency_days=round((at - last_seen).total_seconds() / 86400, 2) if last_seen else None,
        distinct_visitors=distinct,
        deep_interactions=0,
    )


def _asset_names(session: Session, asset_ids: list[int]) -> dict[int, tuple[str, str]]:
    if not asset_ids:
        return {}
    rows = session.execute(select(m.Asset.id, m.Asset.key, m.Asset.name).where(m.Asset.id.in_(asset_ids)))
    return {row.id: (row.key, row.name) for row in rows}


def _sentiment(session: Session, column: Any, subject_id: int, at: datetime) -> float | None:
    value = session.scalar(
        select(func.avg(m.InboundMessage.sentiment)).where(
            column == subject_id,
            m.InboundMessage.sent_at >= at - timedelta(days=30),
            m.InboundMessage.received_at <= at,
            m.InboundMessage.sentiment.is_not(None),
        )
    )
    return round(float(value), 3) if value is not None else None


def contact_features(
    session: Session, *, contact_id: int, as_of: datetime | None = None, min_dwell_seconds: int | None = None
) -> Features:
    """A contact's features. Before the consent threshold (or after an opt-out) they hold
    no behaviour at all, only the threshold state: the visits count for the account."""
    consent = consent_state(session, contact_id, as_of=as_of)
    min_dwell = get_settings().qualifying_dwell_seconds if min_dwell_seconds is None else min_dwell_seconds
    visitors = visitors_of_contact(contact_id, as_of) if consent.crossed else None
    features = compute_features(
        session,
        subject="contact",
        subject_id=contact_id,
        visitors=visitors,
        as_of=as_of,
        min_dwell_seconds=min_dwell,
    )
    features.consent = consent
    features.deep_interactions = consent.deep_interactions
    features.sentiment = _sentiment(session, m.InboundMessage.contact_id, contact_id, features.as_of)
    return features


def account_features(
    session: Session, *, account_id: int, as_of: datetime | None = None, min_dwell_seconds: int | None = None
) -> Features:
    """An account's anonymous aggregates over every linked browser of its contacts."""
    min_dwell = get_settings().qualifying_dwell_seconds if min_dwell_seconds is None else min_dwell_seconds
    features = compute_features(
        session,
        subject="account",
        subject_id=account_id,
        visitors=visitors_of_account(account_id, as_of),
        as_of=as_of,
        min_dwell_seconds=min_dwell,
    )
    interactions = (
        select(func.count())
        .select_from(m.DeepInteraction)
        .where(m.DeepInteraction.contact_id.in_(crm_lookups.contact_ids_of_account(account_id)))
    )
    if as_of is not None:
        interactions = interactions.where(m.DeepInteraction.occurred_at <= as_of)
    features.deep_interactions = int(session.scalar(interactions) or 0)
    features.sentiment = _sentiment(session, m.InboundMessage.account_id, account_id, features.as_of)
    return features


def read_contact_features(
    session: Session,
    *,
    contact_id: int,
    actor: Actor,
    as_of: datetime | None = None,
    min_dwell_seconds: int | None = None,
) -> Features:
    """``contact_features`` for a contact the actor may read."""
    require_behaviour_right(actor)
    get_readable(session, actor, spec_for("contact"), contact_id)
    return contact_features(session, contact_id=contact_id, as_of=as_of, min_dwell_seconds=min_dwell_seconds)


def read_account_features(
    session: Session,
    *,
    account_id: int,
    actor: Actor,
    as_of: datetime | None = None,
    min_dwell_seconds: int | None = None,
) -> Features:
    """``account_features`` for an account the actor may read."""
    require_behaviour_right(actor)
    get_readable(session, actor, spec_for("account"), account_id)
    return account_features(session, account_id=account_id, as_of=as_of, min_dwell_seconds=min_dwell_seconds)


def dwell_heatmap(session: Session, *, visitors: Select[Any] | None, days: int = 30) -> list[HeatmapCell]:
    """Views and visible dwell per asset and day over the last ``days`` days."""
    if visitors is None:
        return []
    since: date = (utcnow() - timedelta(days=days - 1)).date()
    rows = session.execute(
        select(
            m.VisitorAssetDay.asset_id,
            m.Asset.name,
            m.VisitorAssetDay.day,
            func.sum(m.VisitorAssetDay.views).label("views"),
            func.sum(m.VisitorAssetDay.dwell_ms).label("dwell_ms"),
        )
        .join(m.Asset, m.Asset.id == m.VisitorAssetDay.asset_id)
        .where(m.VisitorAssetDay.visitor_id.in_(visitors), m.VisitorAssetDay.day >= since)
        .group_by(m.VisitorAssetDay.asset_id, m.Asset.name, m.VisitorAssetDay.day)
        .order_by(m.Asset.name, m.VisitorAssetDay.day)
    ).all()
    return [
        HeatmapCell(
            asset_id=row.asset_id,
            asset_name=row.name,
            day=row.day,
            views=int(row.views or 0),
            dwell_seconds=round((row.dwell_ms or 0) / 1000, 1),
        )
        for row in rows
    ]


def contact_heatmap(session: Session, *, contact_id: int, days: int = 30) -> list[HeatmapCell]:
    """The contact's heatmap, empty until the consent threshold is crossed."""
    consent = consent_state(session, contact_id)
    return dwell_heatmap(
        session, visitors=visitors_of_contact(contact_id) if consent.crossed else None, days=days
    )


def account_heatmap(session: Session, *, account_id: int, days: int = 30) -> list[HeatmapCell]:
    """The account's anonymous heatmap."""
    return dwell_heatmap(session, visitors=visitors_of_account(account_id), days=days)


def inbox(session: Session, *, actor: Actor, limit: int = 50, min_dwell_seconds: int = 0) -> list[InboxItem]:
    """The latest identified behaviour for the contacts the actor may read.

    Only contacts past the consent threshold appear: identified behaviour is exactly
    what the threshold allows to be named.
    """
    require_behaviour_right(actor)
    contact_spec = spec_for("contact")
    contact_ids = readable_query(actor, contact_spec).with_only_columns(contact_spec.model.id)
    rows = session.execute(
        select(
            m.IdentityLink.contact_id,
            m.View.asset_id,
            m.Asset.name,
            m.View.started_at,
            m.View.dwell_ms,
        )
        .join(
            m.IdentityLink,
            and_(m.IdentityLink.visitor_id == m.View.visitor_id, m.IdentityLink.reverted_at.is_(None)),
        )
        .join(m.ConsentState, m.ConsentState.contact_id == m.IdentityLink.contact_id)
        .join(m.Asset, m.Asset.id == m.View.asset_id)
        .where(
            m.ConsentState.crossed_at.is_not(None),
            m.ConsentState.opted_out_at.is_(None),
            m.IdentityLink.contact_id.in_(contact_ids),
            m.View.dwell_ms >= min_dwell_seconds * 1000,
        )
        .order_by(m.View.started_at.desc(), m.View.id.desc())
        .limit(limit)
    ).all()
    contacts = crm_lookups.names_of_contacts(session, {row.contact_id for row in rows})
    accounts = crm_lookups.names_of_accounts(
        session, {account for _, account in contacts.values() if account is not None}
    )
    items = []
    for row in rows:
        name, account_id = contacts.get(row.contact_id, ("?", None))
        items.append(
            InboxItem(
                contact_id=row.contact_id,
                contact_name=name,
                account_id=account_id,
                account_name=accounts.get(account_id) if account_id else None,
                asset_id=row.asset_id,
                asset_name=row.name,
                started_at=row.started_at,
                dwell_seconds=round(row.dwell_ms / 1000, 1),
            )
        )
    return items
