"""Hives API, health: hive health and its components, member contribution, knowledge, the
manager overview and OKRs (``/api/v1/hives/...``).

Everything goes through ``hives.service.health`` / ``contribution`` / ``okrs`` with the
caller's Actor: a hive the caller may not read is a 404, a role without the right a 403,
bad input a 422 naming each field (RFC 9457 problems from the services).

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from pathcast.deps import CurrentActor, DbSession
from pathcast.hives import schemas as s
from pathcast.hives.service import contribution, health, okrs

router = APIRouter(prefix="/hives", tags=["hives"])

Weeks = Annotated[int, Query(ge=1, le=contribution.WEEKS_MAX, description="Weeks back, this one included")]


def _overview_row(row: health.OverviewRow) -> dict[str, Any]:
    hive = row.hive
    return {
        "hive_id": hive.id,
        "name": hive.name,
        "account_id": hive.account_id,
        "status": hive.status,
        "health": hive.health,
        "busy_not_moving": bool(hive.busy_not_moving),
        "promised_date": hive.promised_date,
        "forecast_finish": hive.forecast_finish,
        "trend": row.trend,
        "delta": row.delta,
    }


def _objective(session: DbSession, objective: Any) -> dict[str, Any]:
    results = okrs.key_results_of(session, [objective.id])[objective.id]
    return {
        "id": objective.id,
        "owner_id": objective.owner_id,
        "title": objective.title,
        "period_start": objective.period_start,
        "period_end": objective.period_end,
        "key_results": results,
    }


# --- fixed paths first (before /hives/{hive_id}) ------------------------------------------


@router.get(
    "/overview",
    response_model=list[s.OverviewRowRead],
    summary="Every readable hive by health (least healthy first), flags and trend",
)
def hives_overview(
    session: DbSession, actor: CurrentActor, include_closed: bool = False, flagged: bool = False
) -> Any:
    rows = health.overview(session, actor, include_closed=include_closed, flagged_only=flagged)
    return [_overview_row(row) for row in rows]


@router.post(
    "/health/recompute",
    response_model=s.RecomputeAllRead,
    summary="Recompute the health of every open hive you may read",
)
def recompute_every_hive(session: DbSession, actor: CurrentActor) -> Any:
    changes = health.recompute_all(session, actor)
    return {
        "hives": len(changes),
        "changed": sum(change.changed for change in changes),
        "flagged": sum(change.busy_not_moving for change in changes),
    }


@router.get("/okrs", response_model=list[s.ObjectiveRead], summary="Your objectives (admins: all)")
def list_okrs(session: DbSession, actor: CurrentActor) -> Any:
    return [_objective(session, objective) for objective in okrs.list_objectives(session, actor)]


@router.post("/okrs", response_model=s.ObjectiveRead, status_code=201, summary="Add an objective")
def create_okr(body: s.ObjectiveCreate, session: DbSession, actor: CurrentActor) -> Any:
    objective = okrs.create_objective(session, actor, **body.model_dump())
    return _objective(session, objective)


@router.get("/okrs/{objective_id}", response_model=s.ObjectiveRead, summary="One objective")
def get_okr(objective_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return _objective(session, okrs.get_objective(session, actor, objective_id))


@router.delete("/okrs/{objective_id}", status_code=204, summary="Delete an objective and its key results")
def delete_okr(objective_id: int, session: DbSession, actor: CurrentActor) -> Response:
    okrs.delete_objective(session, actor, objective_id=objective_id)
    return Response(status_code=204)


@router.post(
    "/okrs/{objective_id}/key-results",
    response_model=s.KeyResultRead,
    status_code=201,
    summary="Add a key result (hive_health or on_time_delivery), computed at once",
)
def add_key_result(
    objective_id: int, body: s.KeyResultCreate, session: DbSession, actor: CurrentActor
) -> Any:
    return okrs.add_key_result(session, actor, objective_id=objective_id, **body.model_dump())


@router.delete("/key-results/{key_result_id}", status_code=204, summary="Remove a key result")
def delete_key_result(key_result_id: int, session: DbSession, actor: CurrentActor) -> Response:
    okrs.delete_key_result(session, actor, key_result_id=key_result_id)
    return Response(status_code=204)


@router.post(
    "/knowledge/{knowledge_id}/use",
    response_model=s.KnowledgeRead,
    summary="Record that you used this knowledge (counts for its author, not for you)",
)
def use_knowledge(knowledge_id: int, session: DbSession, actor: CurrentActor) -> Any:
    item, _recorded = contribution.use_knowledge(session, actor, knowledge_id=knowledge_id)
    return item


# --- one hive -------------------------------------------------------------------------------


@router.get("/{hive_id}/health", response_model=s.HealthRead, summary="A hive's health and its components")
def get_health(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return health.health_of(session, actor, hive_id)


@router.post(
    "/{hive_id}/health/recompute", response_model=s.HealthRead, summary="Recompute a hive's health now"
)
def recompute_health(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    health.recompute_health(session, actor, hive_id)
    return health.health_of(session, actor, hive_id)


@router.get(
    "/{hive_id}/contribution",
    response_model=s.ContributionRead,
    summary="Each member's contribution (answers, problems resolved, knowledge used) by week",
)
def get_contribution(hive_id: int, session: DbSession, actor: CurrentActor, weeks: Weeks = 8) -> Any:
    found = contribution.contribution_of(session, actor, hive_id, weeks=weeks)
    return {
        "hive_id": hive_id,
        "weeks": found.weeks,
        "members": [
            {**vars(member), "problems_resolved": member.problems_resolved} for member in found.members
        ],
        "matrix": [
            {"member": member, "week": week, "value": value, "parts": parts}
            for member, week, value, parts in found.matrix
        ],
    }


@router.get("/{hive_id}/knowledge", response_model=list[s.KnowledgeRead], summary="A hive's knowledge")
def list_knowledge(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return contribution.knowledge_of(session, actor, hive_id)


@router.post(
    "/{hive_id}/knowledge", response_model=s.KnowledgeRead, status_code=201, summary="Add knowledge to a hive"
)
def add_knowledge(hive_id: int, body: s.KnowledgeCreate, session: DbSession, actor: CurrentActor) -> Any:
    return contribution.add_knowledge(session, actor, hive_id=hive_id, **body.model_dump())
