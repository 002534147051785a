"""Identity resolution: anonymous visitor → contact, reversibly, every step logged.

A visitor becomes a contact's through a tracked link in an e-mail (a signed token), a
form that carries the contact's e-mail, a portal login, or a rep's explicit merge. A
link is never edited away: a reversal stamps it and appends an event, so what was
believed at any moment can be replayed.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, Operation, may
from pathcast.config import get_settings
from pathcast.crm.service import get_readable, spec_for
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.signals import models as m

TOKEN_SALT = "pathcast.signals.tracked-link"
TOKEN_MAX_AGE_SECONDS = 180 * 24 * 3600
TOKEN_PARAMETER = "pc_t"
SNIPPET_ACTOR = "signals:snippet"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt=TOKEN_SALT)


def tracked_link(session: Session, *, contact_id: int, url: str, actor: Actor) -> tuple[str, str]:
    """``url`` with a signed ``pc_t`` token naming the contact, for an e-mail the rep sends."""
    require_contact_steward(session, actor, contact_id)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput.single("url", "invalid", message="an http(s) address is required")
    token = _serializer().dumps({"c": contact_id})
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key != TOKEN_PARAMETER
    ]
    query.append((TOKEN_PARAMETER, token))
    return urlunsplit(parts._replace(query=urlencode(query))), token


def contact_for_token(token: str) -> int | None:
    """The contact a tracked-link token names, or None when forged or expired."""
    try:
        payload = _serializer().loads(token, max_age=TOKEN_MAX_AGE_SECONDS)
    except BadSignature:
        return None
    contact_id = payload.get("c") if isinstance(payload, dict) else None
    return contact_id if isinstance(contact_id, int) else None


def identify_by_token(session: Session, *, visitor_id: int, token: str) -> bool:
    """Link the visitor to the contact of a tracked link; False when the token is bad."""
    contact_id = contact_for_token(token)
    if contact_id is None or crm_lookups.get_contact(session, contact_id) is None:
        return False
    link_visitor(
        session,
        visitor_id=visitor_id,
        contact_id=contact_id,
        method=m.IdentityMethod.email_link,
        by=SNIPPET_ACTOR,
    )
    return True


def identify_by_email(session: Session, *, visitor_id: int, email: str) -> m.IdentityLink | None:
    """Link the visitor to the one contact with this e-mail (a form submission), if any."""
    contact = crm_lookups.contacts_by_email(session, [email]).get(email.strip().lower())
    if contact is None:
        return None
    return link_visitor(
        session, visitor_id=visitor_id, contact_id=contact.id, method=m.IdentityMethod.form, by=SNIPPET_ACTOR
    )


def identify_portal_login(
    session: Session, *, site_key: str, visitor_key: str, contact_id: int
) -> m.IdentityLink | None:
    """A customer signed in to the portal from this browser: link it, count the login."""
    from pathcast.signals.service import consent

    site = session.scalars(select(m.Site).where(m.Site.key == site_key)).first()
    if site is None:
        raise NotFound("not_found", entity="site", id=site_key)
    visitor = session.scalars(
        select(m.Visitor).where(m.Visitor.site_id == site.id, m.Visitor.key == visitor_key)
    ).first()
    now = utcnow()
    if visitor is None:
        visitor = m.Visitor(site_id=site.id, key=visitor_key, first_seen_at=now, last_seen_at=now)
        session.add(visitor)
        session.flush()
    consent.record_deep_interaction(
        session,
        contact_id=contact_id,
        kind=m.DeepInteractionKind.portal_login,
        source=f"portal:{visitor.id}:{now.isoformat()}",
        occurred_at=now,
        actor_label=f"contact:{contact_id}",
    )
    return link_visitor(
        session,
        visitor_id=visitor.id,
        contact_id=contact_id,
        method=m.IdentityMethod.portal_login,
        by=f"contact:{contact_id}",
    )


def link_visitor(
    session: Session,
    *,
    visitor_id: int,
    contact_id: int,
    method: m.IdentityMethod,
    by: str,
    at: datetime | None = None,
) -> m.IdentityLink | None:
    """Point the visitor at the contact, reverting a link to someone else.

    Nothing is linked to a contact who opted out. Linking again to the same contact is a
    no-op, so a tracked link clicked twice does not fill the log.
    """
    from pathcast.signals.service import consent

    if consent.is_opted_out(session, contact_id):
        return None
    current = active_link(session, visitor_id)
    if current is not None:
        if current.contact_id == contact_id:
            return current
        revert_link(session, link=current, by=by, reason="superseded")
    linked_at = at or utcnow()
    link = m.IdentityLink(
        visitor_id=visitor_id, contact_id=contact_id, method=method.value, linked_at=linked_at, linked_by=by
    )
    session.add(link)
    session.flush()
    # Filed under the link, not the contact: the contact's own timeline must not tell when
    # they clicked a tracked link before the consent threshold allows naming them.
    append_event(
        session,
        type="signals.contact_identified",
        entity="identity_link",
        entity_id=link.id,
        actor=by,
        payload={"visitor_id": visitor_id, "contact_id": contact_id, "method": method.value},
        occurred_at=linked_at,
    )
    return link


def active_link(session: Session, visitor_id: int) -> m.IdentityLink | None:
    """The visitor's current identity link, if any."""
    return session.scalars(
        select(m.IdentityLink).where(
            m.IdentityLink.visitor_id == visitor_id, m.IdentityLink.reverted_at.is_(None)
        )
    ).first()


def merge_visitor(session: Session, *, visitor_id: int, contact_id: int, actor: Actor) -> m.IdentityLink:
    """A rep says: this anonymous visitor is that contact. Needs the right to edit the contact."""
    require_contact_steward(session, actor, contact_id)
    if session.get(m.Visitor, visitor_id) is None:
        raise NotFound("not_found", entity="visitor", id=visitor_id)
    link = link_visitor(
        session, visitor_id=visitor_id, contact_id=contact_id, method=m.IdentityMethod.manual, by=actor.label
    )
    if link is None:
        raise Conflict("contact_opted_out", id=contact_id)
    return link


def revert_link(session: Session, *, link: m.IdentityLink, by: str, reason: str | None) -> m.IdentityLink:
    """Undo a link: the visitor is anonymous again from now on; the history stays."""
    if link.reverted_at is not None:
        return link
    link.reverted_at = utcnow()
    link.reverted_by = by
    link.revert_reason = reason
    session.flush()
    append_event(
        session,
        type="signals.identity_reverted",
        entity="identity_link",
        entity_id=link.id,
        actor=by,
        payload={"visitor_id": link.visitor_id, "contact_id": link.contact_id, "reason": reason},
    )
    return link


def revert_link_by_id(session: Session, *, link_id: int, actor: Actor, reason: str | None) -> m.IdentityLink:
    """Revert a link the actor may edit (through its contact)."""
    link = session.get(m.IdentityLink, link_id)
    if link is None:
        raise NotFound("not_found", entity="identity_link", id=link_id)
    require_contact_steward(session, actor, link.contact_id)
    return revert_link(session, link=link, by=actor.label, reason=reason)


def links_of_contact(session: Session, *, contact_id: int, actor: Actor) -> list[m.IdentityLink]:
    """Every link of a contact the actor may read, newest first, reverted ones included."""
    require_behaviour_right(actor)
    get_readable(session, actor, spec_for("contact"), contact_id)
    return list(
        session.scalars(
            select(m.IdentityLink)
            .where(m.IdentityLink.contact_id == contact_id)
            .order_by(m.IdentityLink.id.desc())
        )
    )


def require_behaviour_right(actor: Actor, operation: Operation = "read") -> None:
    """Tracked behaviour is for sellers: members and customer contacts are refused outright."""
    if not may(actor, "behaviour", operation):
        if operation == "read":
            raise PermissionDenied("forbidden_model", entity="behaviour")
        raise PermissionDenied("forbidden_operation", entity="behaviour", operation=operation)


def require_contact_steward(session: Session, actor: Actor, contact_id: int) -> None:
    """Identity and consent changes need the behaviour right and a contact the actor sees.

    Not row-level write rights on the contact: a rep on the account's deal acts on what
    its people do even when someone else owns the contact record.
    """
    get_readable(session, actor, spec_for("contact"), contact_id)
    require_behaviour_right(actor, "update")
