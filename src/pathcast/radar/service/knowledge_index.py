"""The knowledge base's search index and the FAQ drafts built from it.

``knowledge_records`` turns the live knowledge entries (Q&A pairs ``qa-<id>``, shared
replies ``reply-<id>``) and the company documents' passages (``doc-<id>-v<version>-<n>``,
read through crm's service) into the records ``toolbox.faq`` reads. ``knowledge_index``
keeps one BM25 index per database in this process and rebuilds it only when a cheap
fingerprint changes: the live entries (count, newest id and change), the company
documents (versions and changes) and the words registered with jieba.

Why the words: passages and questions must be cut alike (docs/radar_toolbox.md, "Keep
tokenisation stable"). The analysis registers the catalogue's names and the topic
keywords with jieba; once "汇川技术" is one word a question yields that token, and an
index built before would hold "汇川" + "技术" and miss it. So the same words are
registered before every build, and a new name rebuilds the index.

A build holds a lock (two requests never build the same index twice) and swaps the
reference at the end; searches read the immutable index without a lock.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm.service import documents
from pathcast.radar import models as m
from pathcast.radar.analysis.tokens import register_words
from pathcast.radar.service import signals
from pathcast.radar.service.knowledge import require_toolbox
from pathcast.radar.service.settings import require, topic_dictionary
from pathcast.radar.toolbox.bm25 import BM25Index, Hit
from pathcast.radar.toolbox.faq import Draft, build_knowledge_base, draft_answer

__all__ = [
    "citation_link",
    "draft_for_signal",
    "draft_for_text",
    "forget_indexes",
    "knowledge_index",
    "knowledge_records",
    "search_knowledge",
]

TOP_MAX = 10
SEARCH_MAX = 50
INTERNAL_LABEL = "内部 / internal"
_DOC_ID = re.compile(r"^doc-(\d+)-v(\d+)-(\d+)$")
_ENTRY_ID = re.compile(r"^(?:qa|reply)-(\d+)$")


# --- records --------------------------------------------------------------------------------


def knowledge_records(session: Session) -> list[dict[str, Any]]:
    """The records ``toolbox.faq.load_passages`` reads: live Q&A pairs and shared replies,
    then the passages of the company documents' current versions.

    A document passage's source is the document's name; an internal document says so in
    its label, so a rep sees it before quoting it to a customer.
    """
    records: list[dict[str, Any]] = []
    entries = session.scalars(
        select(m.Knowledge).where(m.Knowledge.archived.is_(False)).order_by(m.Knowledge.id)
    )
    for entry in entries:
        if entry.kind == "qa":
            records.append(
                {
                    "id": f"qa-{entry.id}",
                    "kind": "qa",
                    "source": entry.source,
                    "question": entry.question or entry.answer,
                    "answer": entry.answer,
                }
            )
        else:
            records.append(
                {"id": f"reply-{entry.id}", "kind": "reply", "source": entry.source, "text": entry.answer}
            )
    for passage in documents.document_passages(session):
        source = passage.name.strip() or f"#{passage.document_id}"
        if passage.audience == "internal":
            source = f"{source} ({INTERNAL_LABEL})"
        records.append(
            {
                "id": f"doc-{passage.document_id}-v{passage.version}-{passage.index}",
                "kind": "document",
                "source": source,
                "text": passage.text,
            }
        )
    return records


def citation_link(passage_id: str) -> str | None:
    """Where a citation leads: the knowledge entry's page, or the cited document version's
    file (crm has no document page; its download route serves the signed-in user)."""
    found = _ENTRY_ID.match(passage_id)
    if found:
        return f"/radar/knowledge/{found.group(1)}"
    found = _DOC_ID.match(passage_id)
    if found:
        return f"/api/v1/documents/{found.group(1)}/versions/{found.group(2)}/content"
    return None


# --- the cached index -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Built:
    fingerprint: tuple[Any, ...]
    index: BM25Index


_INDEXES: dict[str, _Built] = {}
_BUILD_LOCK = threading.Lock()
# Word sets already given to jieba in this process (by digest): registering is
# idempotent but costs a dictionary update per word, so each set is registered once.
_REGISTERED: set[str] = set()


def _vocabulary_digest(session: Session) -> str:
    """Register the topic keywords and the catalogue's names with jieba (as the analysis
    does) and return a digest of them for the fingerprint."""
    catalogue = signals.build_catalogue(session)
    words = topic_dictionary(session).keywords() | catalogue.words()
    digest = hashlib.sha256("\n".join(sorted(words)).encode()).hexdigest()
    if digest not in _REGISTERED:
        register_words(words)
        _REGISTERED.add(digest)
    return digest


def _fingerprint(session: Session, vocabulary: str) -> tuple[Any, ...]:
    count, newest, changed = session.execute(
        select(func.count(m.Knowledge.id), func.max(m.Knowledge.id), func.max(m.Knowledge.updated_at)).where(
            m.Knowledge.archived.is_(False)
        )
    ).one()
    return (
        int(count or 0),
        int(newest or 0),
        changed.isoformat() if changed else "",
        documents.company_documents_fingerprint(session),
        vocabulary,
    )


def _database_key(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


def knowledge_index(session: Session) -> BM25Index:
    """The BM25 index over the knowledge base, rebuilt only when its fingerprint changed.

    A system read (no actor): callers check who may draft. An index built inside a
    transaction that later rolls back no longer matches the fingerprint and is rebuilt
    on the next call.
    """
    key = _database_key(session)
    fingerprint = _fingerprint(session, _vocabulary_digest(session))
    built = _INDEXES.get(key)
    if built is not None and built.fingerprint == fingerprint:
        return built.index
    with _BUILD_LOCK:
        built = _INDEXES.get(key)
        if built is not None and built.fingerprint == fingerprint:
            return built.index
        index = build_knowledge_base(knowledge_records(session))
        _INDEXES[key] = _Built(fingerprint, index)
        return index


def forget_indexes() -> None:
    """Drop every cached index (tests, and after restoring a database from a backup)."""
    with _BUILD_LOCK:
        _INDEXES.clear()


# --- drafts and search ----------------------------------------------------------------------


def draft_for_text(
    session: Session, actor: Actor, text: str, *, top: int = 3, index: BM25Index | None = None
) -> Draft:
    """A cited draft answer to ``text`` from the knowledge base (any toolbox reader).

    ``index`` is the one ``knowledge_index`` returned earlier in the same request (a page
    that also shows the index size need not fingerprint twice). Never raises on any
    text: an empty or unknown question gives a draft that says to write the reply by
    hand, with no citations.
    """
    require_toolbox(actor, "read")
    question = text.replace("\x00", "") if isinstance(text, str) else ""
    searched = index if index is not None else knowledge_index(session)
    return draft_answer(question, searched, top=max(1, min(top, TOP_MAX)))


def signal_question(item: m.Item) -> str:
    """What a signal asks: its title and text."""
    return "\n".join(part for part in (item.title, item.text) if part)


def draft_for_signal(
    session: Session, actor: Actor, item_id: int, *, top: int = 3, index: BM25Index | None = None
) -> Draft:
    """A cited draft reply to a signal the actor may read (a hidden one is NotFound)."""
    require(actor, "read")
    item, _signal = signals.get_signal(session, actor=actor, item_id=item_id)
    return draft_for_text(session, actor, signal_question(item), top=top, index=index)


def search_knowledge(session: Session, actor: Actor, query: str, *, top: int = 10) -> list[Hit]:
    """The passages best matching ``query``, best first, with the words that matched."""
    require_toolbox(actor, "read")
    text = query.replace("\x00", "") if isinstance(query, str) else ""
    return knowledge_index(session).search(text, top=max(1, min(top, SEARCH_MAX)))
