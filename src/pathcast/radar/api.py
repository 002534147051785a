"""Radar API (``/api/v1/radar``): sources, graded signals and corrections, weights, topics,
competitors. Every route needs a user; refusals are RFC 9457 problems from the services.

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from pathcast.deps import CurrentActor, DbSession
from pathcast.radar import schemas as s
from pathcast.radar.service import routing, settings, signals, sources

router = APIRouter(prefix="/radar", tags=["radar"])


# --- sources (admin) --------------------------------------------------------------------------


@router.get("/sources", response_model=list[s.SourceRead], summary="Sources with their health (admin)")
def list_sources(session: DbSession, actor: CurrentActor) -> Any:
    return [s.SourceRead.of(source) for source in sources.list_sources(session, actor=actor)]


@router.post("/sources", response_model=s.SourceRead, status_code=201, summary="Add a source (admin)")
def create_source(body: s.SourceCreate, session: DbSession, actor: CurrentActor) -> Any:
    source = sources.create_source(
        session,
        actor=actor,
        name=body.name,
        kind=body.kind,
        config=body.config,
        poll_interval_seconds=body.poll_interval_seconds,
        is_active=body.is_active,
    )
    return s.SourceRead.of(source)


@router.patch("/sources/{source_id}", response_model=s.SourceRead, summary="Change a source (admin)")
def update_source(source_id: int, body: s.SourceUpdate, session: DbSession, actor: CurrentActor) -> Any:
    changes = body.model_dump(exclude_unset=True)
    source = sources.update_source(session, actor=actor, source_id=source_id, changes=changes)
    return s.SourceRead.of(source)


@router.post(
    "/sources/{source_id}/poll",
    response_model=s.PollRead,
    summary="Poll a source now, analyse what it brought and route the graded signals (admin)",
)
def poll_source(source_id: int, session: DbSession, actor: CurrentActor) -> Any:
    source = routing.find_source(session, actor=actor, source_id=source_id)
    outcome = routing.poll_analyse_route(session, actor=actor, source=source)
    report = outcome.poll
    return s.PollRead(
        source=report.source,
        source_id=report.source_id,
        health=report.health,
        stored=report.stored,
        duplicates=report.duplicates,
        not_modified=report.not_modified,
        failure_code=report.failure_code,
        failure=report.failure,
        analysed=len(outcome.analysed),
        routed=outcome.notified,
    )


# --- signals ----------------------------------------------------------------------------------


@router.get("/signals", response_model=list[s.SignalRead], summary="Graded signals you may see")
def list_signals(
    session: DbSession,
    actor: CurrentActor,
    severity: s.SeverityName | None = None,
    industry: str | None = None,
    source_id: int | None = None,
    account_id: int | None = None,
    polarity: str | None = None,
    intent: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    rows = signals.list_signals(
        session,
        actor=actor,
        severity=severity,
        industry=industry,
        source_id=source_id,
        account_id=account_id,
        polarity=polarity,
        intent=intent,
        limit=limit,
        offset=offset,
    )
    return [s.SignalRead.of(item, signal) for item, signal in rows]


@router.get("/signals/{item_id}", response_model=s.SignalRead, summary="One signal with its full analysis")
def get_signal(item_id: int, session: DbSession, actor: CurrentActor) -> Any:
    item, signal = signals.get_signal(session, actor=actor, item_id=item_id)
    return s.SignalRead.of(item, signal, full=True)


@router.post(
    "/signals/{item_id}/corrections",
    response_model=s.SignalRead,
    status_code=201,
    summary="Correct a signal's polarity, intent or severity",
)
def correct_signal(item_id: int, body: s.CorrectionCreate, session: DbSession, actor: CurrentActor) -> Any:
    signals.correct_signal(
        session, actor=actor, item_id=item_id, field=body.field, value=body.value, note=body.note
    )
    if body.field == "severity":
        # A rep who raises a signal to P1/P2 wants it to reach people now (once each).
        routing.route_signal(session, item_id=item_id, actor=actor)
    item, signal = signals.get_signal(session, actor=actor, item_id=item_id)
    return s.SignalRead.of(item, signal, full=True)


# --- settings -------------------------------------------------------------------------------


@router.get("/settings/weights", summary="The industry × topic weight table")
def get_weights(session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    return settings.get_weights(session, actor=actor)


@router.put("/settings/weights", summary="Replace the weight table (admin, manager)")
def put_weights(
    session: DbSession, actor: CurrentActor, table: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    return settings.put_weights(session, actor=actor, table=table)


@router.get("/settings/topics", summary="The topic dictionary")
def get_topics(session: DbSession, actor: CurrentActor) -> dict[str, Any]:
    return settings.get_topics(session, actor=actor)


@router.put("/settings/topics", summary="Replace the topic dictionary (admin, manager)")
def put_topics(
    session: DbSession, actor: CurrentActor, dictionary: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    return settings.put_topics(session, actor=actor, dictionary=dictionary)


# --- competitors ----------------------------------------------------------------------------


@router.get("/competitors", response_model=list[s.CompetitorRead], summary="Competitors the radar links")
def list_competitors(session: DbSession, actor: CurrentActor) -> Any:
    return settings.list_competitors(session, actor=actor)


@router.post(
    "/competitors",
    response_model=s.CompetitorRead,
    status_code=201,
    summary="Add a competitor (admin, manager)",
)
def create_competitor(body: s.CompetitorWrite, session: DbSession, actor: CurrentActor) -> Any:
    return settings.save_competitor(
        session, actor=actor, name=body.name, aliases=body.aliases, products=body.products
    )
