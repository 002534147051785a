"""What the message archive files, and the evidence for each open hive.

``Received`` is a message however it arrived: read through ``signals``' service (read-only;
signals writes it) by its id or by the crm activity it was filed as, or, for a crm message
activity typed or imported without a connector, from the activity. ``candidates_for``
gathers, for every open hive with some evidence, what ``hives.filing`` weighs: whether it
holds the thread, the participants who are its members, its words, and the corrections.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.crm.service import lookups as crm_lookups
from pathcast.db import utcnow
from pathcast.hives import filing
from pathcast.hives import models as m
from pathcast.signals import models as signals_models
from pathcast.signals.service import messages as signal_messages

__all__ = ["OPEN_STATUSES", "Received", "candidates_for", "lessons", "received_from"]

OPEN_STATUSES = ("forming", "active", "at_risk")
LESSONS_MAX = 2000  # the most recent corrections the filer reads


class Received:
    """A message to file, whichever way it arrived (a connector, a crm activity)."""

    def __init__(
        self,
        *,
        channel: str,
        subject: str = "",
        body: str = "",
        sender: str = "",
        recipients: list[str] | None = None,
        thread: str | None = None,
        account_id: int | None = None,
        activity_id: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        self.channel = channel
        self.subject = subject or ""
        self.body = body or ""
        self.sender = (sender or "").strip()
        self.recipients = [r.strip() for r in recipients or [] if r and r.strip()]
        self.thread = thread or None
        self.account_id = account_id
        self.activity_id = activity_id
        self.attachments = attachments or []
        self.sent_at = sent_at or utcnow()

    @property
    def addresses(self) -> frozenset[str]:
        """Sender and recipients, lower-cased."""
        return frozenset(a.lower() for a in [self.sender, *self.recipients] if a)


def _attachments(extra: dict[str, Any]) -> list[dict[str, Any]]:
    names: list[Any] = list(extra.get("attachments") or [])
    for key in ("file_name", "fileName", "FileName"):
        if extra.get(key):
            names.append(extra[key])
    shown: list[dict[str, Any]] = []
    for item in names:
        if isinstance(item, dict) and item.get("name"):
            shown.append({"name": str(item["name"])[:300]})
        elif isinstance(item, str) and item.strip():
            shown.append({"name": item.strip()[:300]})
    return shown


def _from_signals(row: signals_models.InboundMessage) -> Received:
    return Received(
        channel=row.channel,
        subject=row.subject or "",
        body=row.body or "",
        sender=row.sender or "",
        recipients=list(row.recipients or []),
        thread=row.thread_key,
        account_id=row.account_id,
        activity_id=row.activity_id,
        attachments=_attachments(dict(row.extra or {})),
        sent_at=row.sent_at,
    )


def received_from(
    session: Session, *, message_id: int | None = None, activity_id: int | None = None
) -> Received | None:
    """The message signals stored (by its id, or by the activity it was filed as); a crm
    activity typed or imported without a connector is read from the activity itself."""
    row = signal_messages.stored_message(session, message_id=message_id, activity_id=activity_id)
    if row is not None:
        return _from_signals(row)
    if message_id is not None or activity_id is None:
        return None
    activity = crm_lookups.get_activity(session, activity_id)
    if activity is None or activity.kind not in ("message", "email"):
        return None
    return Received(
        channel=activity.channel or activity.kind,
        subject=activity.subject,
        body=activity.body or "",
        account_id=activity.account_id,
        activity_id=activity.id,
        sent_at=activity.occurred_at or activity.done_at or activity.created_at,
    )


# --- gathering the evidence -----------------------------------------------------------------


def _thread_hive(session: Session, thread: str | None) -> int | None:
    """The hive holding the latest filing (or move) of a message of this thread."""
    if not thread:
        return None
    hive_id = session.scalar(
        select(m.Message.hive_id)
        .where(m.Message.thread == thread[:300])
        .order_by(m.Message.filed_at.desc(), m.Message.id.desc())
        .limit(1)
    )
    return int(hive_id) if hive_id is not None else None


def _members_among(session: Session, hive_ids: list[int], addresses: frozenset[str]) -> dict[int, set[str]]:
    """Per hive, the participants (by e-mail or chat id) who are its members."""
    if not addresses or not hive_ids:
        return {}
    rows = session.execute(
        select(m.Member.hive_id, User.email, User.external_id)
        .join(User, User.id == m.Member.user_id)
        .where(m.Member.hive_id.in_(hive_ids))
    )
    found: dict[int, set[str]] = {}
    for hive_id, email, external_id in rows:
        for handle in (email, external_id):
            if handle and handle.lower() in addresses:
                found.setdefault(hive_id, set()).add(handle.lower())
    return found


def _template_words(session: Session) -> dict[int, frozenset[str]]:
    words: dict[int, frozenset[str]] = {}
    for template in session.scalars(select(m.Template)):
        names = [template.name_zh, template.name_en]
        for milestone in (template.definition or {}).get("milestones", []):
            names += [str(milestone.get("name_zh", "")), str(milestone.get("name_en", ""))]
        words[template.id] = frozenset().union(*(filing.cached_words(name) for name in names))
    return words


def _milestone_words(session: Session, hive_ids: list[int]) -> dict[int, frozenset[str]]:
    found: dict[int, set[str]] = {}
    if not hive_ids:
        return {}
    rows = session.execute(
        select(m.Task.hive_id, m.Task.name).where(m.Task.hive_id.in_(hive_ids), m.Task.kind == "milestone")
    )
    for hive_id, name in rows:
        found.setdefault(hive_id, set()).update(filing.cached_words(name))
    return {hive_id: frozenset(words) for hive_id, words in found.items()}


def lessons(session: Session) -> list[filing.Lesson]:
    rows = session.scalars(
        select(m.FilingCorrection).order_by(m.FilingCorrection.id.desc()).limit(LESSONS_MAX)
    )
    return [filing.Lesson(row.to_hive_id, row.from_hive_id, frozenset(row.keywords or [])) for row in rows]


def candidates_for(
    session: Session, incoming: filing.Incoming, lessons: list[filing.Lesson]
) -> list[filing.Candidate]:
    """Every open hive that has some evidence for the message, with that evidence."""
    hives = session.execute(
        select(m.Hive.id, m.Hive.name, m.Hive.product_line, m.Hive.account_id, m.Hive.template_id).where(
            m.Hive.status.in_(OPEN_STATUSES)
        )
    ).all()
    if not hives:
        return []
    thread_hive = _thread_hive(session, incoming.thread)
    taught = {lesson.to_hive_id for lesson in lessons if lesson.words & incoming.words}
    taught |= {
        lesson.from_hive_id for lesson in lessons if lesson.from_hive_id and lesson.words & incoming.words
    }
    members = _members_among(session, [row.id for row in hives], incoming.addresses)
    templates = _template_words(session)
    chosen: list[filing.Candidate] = []
    for hive_id, name, product_line, account_id, template_id in hives:
        name_words = filing.cached_words(name) | filing.cached_words(product_line or "")
        candidate = filing.Candidate(
            hive_id=hive_id,
            name=name,
            account_id=account_id,
            name_words=name_words,
            plan_words=templates.get(template_id, frozenset()) if template_id else frozenset(),
            holds_thread=hive_id == thread_hive,
            members=frozenset(members.get(hive_id, set())),
        )
        evidence = (
            candidate.holds_thread
            or candidate.members
            or account_id == incoming.account_id
            or hive_id in taught
            or bool(name_words & incoming.words)
            or bool(candidate.plan_words & incoming.words)
        )
        if evidence:
            chosen.append(candidate)
    # hand-renamed milestones count too (only for hives already in the running: it costs a query)
    renamed = _milestone_words(session, [c.hive_id for c in chosen])
    for candidate in chosen:
        candidate.plan_words = candidate.plan_words | renamed.get(candidate.hive_id, frozenset())
    return chosen
