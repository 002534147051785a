"""Radar API, response toolbox: the knowledge base and FAQ drafts (``/api/v1/radar/...``).

Q&A entries are read by reps and written by managers and admins (right ``radar_toolbox``);
a draft needs the signal to be readable (a hidden one is a 404 like a missing one); a
saved reply is recorded, never sent. Refusals are RFC 9457 problems from the services.

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from pathcast.deps import CurrentActor, DbSession
from pathcast.radar import schemas as s
from pathcast.radar.service import knowledge, knowledge_index, signals
from pathcast.radar.toolbox.bm25 import snippet
from pathcast.radar.toolbox.faq import Draft

router = APIRouter(prefix="/radar", tags=["radar"])

KnowledgeKind = Annotated[str | None, Query(pattern="^(qa|reply)$")]


def draft_read(question: str, draft: Draft) -> s.DraftRead:
    """The API shape of a draft: numbered citations with their links."""
    return s.DraftRead(
        question=question,
        text_zh=draft.text_zh,
        text_en=draft.text_en,
        citations=[
            s.CitationRead(
                number=number,
                id=citation.id,
                kind=citation.kind,
                source=citation.source,
                snippet=citation.snippet,
                score=round(citation.score, 4),
                link=knowledge_index.citation_link(citation.id),
            )
            for number, citation in enumerate(draft.citations, 1)
        ],
        confidence=draft.confidence,
        reasons=[dict(reason) for reason in draft.reasons],
    )


@router.get(
    "/knowledge", response_model=list[s.KnowledgeRead], summary="Knowledge entries (Q&A, shared replies)"
)
def list_knowledge(
    session: DbSession,
    actor: CurrentActor,
    kind: KnowledgeKind = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    include_archived: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    return knowledge.list_knowledge(
        session, actor, kind=kind, query=q, include_archived=include_archived, limit=limit, offset=offset
    )


@router.post(
    "/knowledge", response_model=s.KnowledgeRead, status_code=201, summary="Add a Q&A pair (admin, manager)"
)
def create_knowledge(body: s.KnowledgeCreate, session: DbSession, actor: CurrentActor) -> Any:
    return knowledge.add_qa(session, actor, question=body.question, answer=body.answer, source=body.source)


@router.get(
    "/knowledge/search",
    response_model=list[s.KnowledgeHitRead],
    summary="Search the knowledge base (Q&A, shared replies, company documents)",
)
def search_knowledge(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=2000)] = "",
    top: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Any:
    hits = knowledge_index.search_knowledge(session, actor, q, top=top)
    return [
        s.KnowledgeHitRead(
            id=hit.passage.id,
            kind=hit.passage.kind,
            source=hit.passage.source,
            snippet=snippet(hit.passage.answer or hit.passage.body, list(hit.matched), width=160),
            score=round(hit.score, 4),
            matched=list(hit.matched),
            link=knowledge_index.citation_link(hit.passage.id),
        )
        for hit in hits
    ]


@router.get("/knowledge/{knowledge_id}", response_model=s.KnowledgeRead, summary="One knowledge entry")
def get_knowledge(knowledge_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return knowledge.get_knowledge(session, actor, knowledge_id)


@router.patch(
    "/knowledge/{knowledge_id}", response_model=s.KnowledgeRead, summary="Change an entry (admin, manager)"
)
def update_knowledge(
    knowledge_id: int, body: s.KnowledgeUpdate, session: DbSession, actor: CurrentActor
) -> Any:
    return knowledge.update_qa(
        session, actor, knowledge_id, question=body.question, answer=body.answer, source=body.source
    )


@router.delete(
    "/knowledge/{knowledge_id}",
    status_code=204,
    summary="Archive an entry: drafts stop citing it (admin, manager)",
)
def archive_knowledge(knowledge_id: int, session: DbSession, actor: CurrentActor) -> Response:
    knowledge.archive_knowledge(session, actor, knowledge_id)
    return Response(status_code=204)


@router.get(
    "/signals/{item_id}/draft",
    response_model=s.DraftRead,
    summary="A cited draft reply to a signal, from the knowledge base (never sent)",
)
def draft_for_signal(
    item_id: int, session: DbSession, actor: CurrentActor, top: Annotated[int, Query(ge=1, le=10)] = 3
) -> Any:
    draft = knowledge_index.draft_for_signal(session, actor, item_id, top=top)
    item, _signal = signals.get_signal(session, actor=actor, item_id=item_id)
    return draft_read(knowledge_index.signal_question(item), draft)


@router.post(
    "/signals/{item_id}/replies",
    response_model=s.ReplyRead,
    status_code=201,
    summary="Record the reply you sent for a signal; share it as knowledge if you wish",
)
def save_reply(item_id: int, body: s.ReplyCreate, session: DbSession, actor: CurrentActor) -> Any:
    saved = knowledge.save_reply(session, actor, item_id, body.text, share=body.share)
    return s.ReplyRead(
        item_id=saved.item_id,
        shared=saved.knowledge is not None,
        knowledge_id=saved.knowledge.id if saved.knowledge is not None else None,
    )
