"""Sites that embed /t.js, their assets, and message connectors: admin configuration."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.signals import models as m

# Secrets a connector's config may hold; never shown back, never put in the event log.
SECRET_KEYS = frozenset({"secret", "token", "encoding_aes_key", "app_secret", "password"})

REQUIRED_CONFIG: dict[str, tuple[str, ...]] = {
    "webhook": ("secret",),
    "wecom": ("token", "encoding_aes_key", "corp_id"),
    "dingtalk": ("app_secret",),
    "email": ("host", "username", "password"),
}


def _require_admin(actor: Actor) -> None:
    if not actor.is_admin:
        raise PermissionDenied("admin_only")


def _normalise_origin(origin: str) -> str:
    text = origin.strip().rstrip("/")
    if text != "*" and not text.startswith(("http://", "https://")):
        raise InvalidInput.single(
            "allowed_origins", "invalid", message=f"{origin!r} is not an http(s) origin"
        )
    return text


def create_site(
    session: Session,
    *,
    name: str,
    allowed_origins: list[str],
    actor: Actor,
    rate_limit_per_minute: int = 600,
    key: str | None = None,
    occurred_at: datetime | None = None,
) -> m.Site:
    """A new site with a fresh public key for its snippet (``key`` only for reproducible demos)."""
    _require_admin(actor)
    if session.scalar(select(m.Site.id).where(m.Site.name == name)) is not None:
        raise Conflict("site_exists", name=name)
    site = m.Site(
        key=key or secrets.token_urlsafe(18),
        name=name,
        allowed_origins=[_normalise_origin(origin) for origin in allowed_origins],
        rate_limit_per_minute=rate_limit_per_minute,
    )
    session.add(site)
    session.flush()
    append_event(
        session,
        type="signals.site_created",
        entity="signal_site",
        entity_id=site.id,
        actor=actor.label,
        payload={"after": {"name": name, "allowed_origins": site.allowed_origins}},
        occurred_at=occurred_at,
    )
    return site


def update_site(session: Session, *, site_id: int, actor: Actor, changes: dict[str, Any]) -> m.Site:
    """Change a site's name, origins, rate limit or active flag."""
    _require_admin(actor)
    site = session.get(m.Site, site_id)
    if site is None:
        raise NotFound("not_found", entity="site", id=site_id)
    if "allowed_origins" in changes:
        changes["allowed_origins"] = [_normalise_origin(origin) for origin in changes["allowed_origins"]]
    before = {key: getattr(site, key) for key in changes}
    for key, value in changes.items():
        setattr(site, key, value)
    session.flush()
    append_event(
        session,
        type="signals.site_updated",
        entity="signal_site",
        entity_id=site.id,
        actor=actor.label,
        payload={"before": before, "after": changes},
    )
    return site


def list_sites(session: Session, *, actor: Actor) -> list[m.Site]:
    """Every site (admins only: the keys are configuration)."""
    _require_admin(actor)
    return list(session.scalars(select(m.Site).order_by(m.Site.id)))


def all_allowed_origins(session: Session) -> set[str]:
    """The union of the active sites' origins, for CORS preflight (which carries no site key)."""
    origins: set[str] = set()
    for allowed in session.scalars(select(m.Site.allowed_origins).where(m.Site.is_active.is_(True))):
        origins.update(allowed or ())
    return origins


def list_assets(session: Session, *, site_id: int | None = None) -> list[m.Asset]:
    """Assets by name, for rules and pickers ("DSA介入耗材对比表")."""
    query = select(m.Asset).order_by(m.Asset.name)
    if site_id is not None:
        query = query.where(m.Asset.site_id == site_id)
    return list(session.scalars(query))


def create_connector(
    session: Session, *, kind: str, name: str, config: dict[str, Any], actor: Actor
) -> m.Connector:
    """Configure a message source; its secrets stay out of the event log."""
    _require_admin(actor)
    missing = [key for key in REQUIRED_CONFIG.get(kind, ()) if not config.get(key)]
    if missing:
        raise InvalidInput.single(f"config.{missing[0]}", "missing")
    if session.scalar(select(m.Connector.id).where(m.Connector.name == name)) is not None:
        raise Conflict("connector_exists", name=name)
    connector = m.Connector(kind=kind, name=name, config=dict(config))
    session.add(connector)
    session.flush()
    append_event(
        session,
        type="signals.connector_created",
        entity="signal_connector",
        entity_id=connector.id,
        actor=actor.label,
        payload={"after": {"kind": kind, "name": name, "config": public_config(connector.config)}},
    )
    return connector


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config with secrets masked."""
    return {key: ("***" if key in SECRET_KEYS else value) for key, value in config.items()}


def get_connector(session: Session, connector_id: int, *, kind: str | None = None) -> m.Connector:
    """An active connector (of ``kind``), or 404 — also for inactive ones, to inbound callers."""
    connector = session.get(m.Connector, connector_id)
    if connector is None or not connector.is_active or (kind is not None and connector.kind != kind):
        raise NotFound("not_found", entity="connector", id=connector_id)
    return connector


def list_connectors(session: Session, *, actor: Actor) -> list[m.Connector]:
    """Every connector (admins only)."""
    _require_admin(actor)
    return list(session.scalars(select(m.Connector).order_by(m.Connector.id)))
