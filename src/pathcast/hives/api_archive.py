"""Hives API, the message archive (``/api/v1/hives/...``).

- ``GET /hives/messages/search?q=&hive_id=``: Chinese or English, across the hives the
  caller may read (or one of them), newest first, with a snippet;
- ``GET /hives/{hive_id}/messages``: a hive's messages with why each was filed there;
- ``POST /hives/messages/{id}/move`` ``{to_hive_id}``: a correction the filer learns from;
- ``POST /hives/messages/file`` ``{activity_id}`` (admins): file an existing crm message
  activity, for messages received before hives existed.

Refusals are RFC 9457 problems raised by the services (a hidden hive is a 404).

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from pathcast.deps import CurrentActor, DbSession
from pathcast.hives import schemas as s
from pathcast.hives.service import archive, archive_search

router = APIRouter(prefix="/hives", tags=["hives"])

Limit = Annotated[int, Query(ge=1, le=archive_search.LIMIT_MAX, description="How many messages at most")]


@router.get(
    "/messages/search",
    response_model=list[s.MessageHitRead],
    summary="Search the message archive (Chinese and English) in the hives you may read",
)
def search_messages(
    session: DbSession,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=archive_search.QUERY_MAX, description="Words to find")] = "",
    hive_id: int | None = None,
    limit: Limit = 50,
) -> Any:
    hits = archive_search.search(session, actor, q=q, hive_id=hive_id, limit=limit)
    return [
        s.MessageHitRead(
            message=s.HiveMessageRead.model_validate(hit.message),
            hive_name=hit.hive_name,
            snippet=hit.snippet,
        )
        for hit in hits
    ]


@router.post(
    "/messages/file",
    response_model=s.FilingResultRead,
    summary="File an existing crm message activity into its hive (admin, back-fill)",
)
def file_message(body: s.MessageFile, session: DbSession, actor: CurrentActor) -> Any:
    return archive.backfill(session, actor, activity_id=body.activity_id)


@router.post(
    "/messages/{message_id}/move",
    response_model=s.HiveMessageRead,
    summary="Move a misfiled message to another hive (the filer learns from it)",
)
def move_message(message_id: int, body: s.MessageMove, session: DbSession, actor: CurrentActor) -> Any:
    return archive.move_message(session, actor, message_id=message_id, to_hive_id=body.to_hive_id)


@router.get(
    "/{hive_id}/messages",
    response_model=list[s.HiveMessageRead],
    summary="A hive's messages, newest first, with why each was filed there",
)
def hive_messages(hive_id: int, session: DbSession, actor: CurrentActor, limit: Limit = 100) -> Any:
    return archive_search.hive_messages(session, actor, hive_id=hive_id, limit=limit)
