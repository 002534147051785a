"""Reading the message archive: a hive's messages, and the search box (Chinese and English).

The query is tokenised exactly as the messages were (jieba for Chinese runs, lower-cased
words for Latin ones) and every token must appear in a message's ``search_text``: a LIKE
per token, which SQLite and PostgreSQL both run. jieba may cut a short query differently
from the same words inside a sentence ("产线升级" alone vs "产线 升级"), so a Chinese token
also matches the subject or body as typed. Only hives the viewer may read are searched;
newest first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.errors import InvalidInput, NotFound
from pathcast.hives import models as m
from pathcast.hives.service.access import get_hive, readable_clause, require
from pathcast.radar.analysis.tokens import tokenize

__all__ = ["QUERY_MAX", "Hit", "hive_messages", "message_in_hive", "search", "snippet"]

QUERY_MAX = 200
LIMIT_MAX = 200
TOKENS_MAX = 12
SNIPPET_CHARS = 160
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Hit:
    """A message found by the search box, its hive's name, and a highlighted snippet."""

    message: m.Message
    hive_name: str
    snippet: str
    snippet_html: Markup


def hive_messages(session: Session, actor: Actor, *, hive_id: int, limit: int = 100) -> list[m.Message]:
    """A hive's messages, newest first (404 for a hive the actor may not read)."""
    hive = get_hive(session, actor, hive_id)
    return list(
        session.scalars(
            select(m.Message)
            .where(m.Message.hive_id == hive.id)
            .order_by(m.Message.sent_at.desc(), m.Message.id.desc())
            .limit(max(1, min(limit, LIMIT_MAX)))
        )
    )


def message_in_hive(session: Session, actor: Actor, *, hive_id: int, message_id: int | None) -> m.Message:
    """One message of a hive the actor may read (404 when either is hidden or missing)."""
    hive = get_hive(session, actor, hive_id)
    message = session.get(m.Message, message_id) if message_id is not None else None
    if message is None or message.hive_id != hive.id:
        raise NotFound("not_found", entity="hive_message", id=message_id)
    return message


def query_tokens(q: str) -> list[str]:
    """The distinct tokens of a query, in order (at most ``TOKENS_MAX``)."""
    return list(dict.fromkeys(tokenize(q)))[:TOKENS_MAX]


def snippet(text: str, tokens: list[str], width: int = SNIPPET_CHARS) -> tuple[str, Markup]:
    """A window of ``text`` around the first matched token, plain and with ``<mark>``s."""
    flat = " ".join(text.split())
    lowered = flat.lower()
    positions = [lowered.find(token) for token in tokens if token and lowered.find(token) >= 0]
    start = max(0, min(positions) - width // 4) if positions else 0
    window = flat[start : start + width]
    plain = ("…" if start else "") + window + ("…" if start + width < len(flat) else "")
    pattern = "|".join(re.escape(token) for token in sorted(set(tokens), key=len, reverse=True) if token)
    if not pattern:
        return plain, Markup(escape(plain))
    parts: list[str] = []
    last = 0
    for found in re.finditer(pattern, plain, flags=re.IGNORECASE):
        parts.append(str(escape(plain[last : found.start()])))
        parts.append(f"<mark>{escape(found.group())}</mark>")
        last = found.end()
    parts.append(str(escape(plain[last:])))
    return plain, Markup("".join(parts))


def search(
    session: Session, actor: Actor, *, q: str, hive_id: int | None = None, limit: int = 50
) -> list[Hit]:
    """Messages of the hives ``actor`` may read whose words hold every token of ``q``."""
    require(actor, "read")
    text = (q or "").strip()
    if not text:
        raise InvalidInput.single("q", "missing")
    if len(text) > QUERY_MAX:
        raise InvalidInput.single("q", "too_long", max=QUERY_MAX)
    tokens = query_tokens(text)
    if not tokens:
        return []
    readable = select(m.Hive.id).where(readable_clause(actor))
    query = (
        select(m.Message, m.Hive.name)
        .join(m.Hive, m.Hive.id == m.Message.hive_id)
        .where(m.Message.hive_id.in_(readable.scalar_subquery()))
        .order_by(m.Message.sent_at.desc(), m.Message.id.desc())
        .limit(max(1, min(limit, LIMIT_MAX)))
    )
    if hive_id is not None:
        query = query.where(m.Message.hive_id == get_hive(session, actor, hive_id).id)
    for token in tokens:
        matches = m.Message.search_text.contains(token, autoescape=True)
        if _HAN.search(token):
            matches = or_(
                matches,
                m.Message.subject.contains(token, autoescape=True),
                m.Message.body.contains(token, autoescape=True),
            )
        query = query.where(matches)
    # the words as typed are marked whole ("安装调试"), not only jieba's pieces of them
    marked = list(dict.fromkeys([*text.lower().split(), *tokens]))
    hits: list[Hit] = []
    for message, hive_name in session.execute(query):
        plain, html = snippet(f"{message.subject} — {message.body}", marked)
        hits.append(Hit(message=message, hive_name=hive_name, snippet=plain, snippet_html=html))
    return hits
