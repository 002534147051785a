"""Hives API (``/api/v1/hives...``): hives, their members and the templates.

- ``GET /hives`` (filters ``status``, ``account_id``, ``mine``), ``POST /hives``,
  ``GET /hives/{id}`` (members and counts), ``PATCH /hives/{id}`` (name, promised date, status);
- ``GET``/``POST /hives/{id}/members``, ``DELETE /hives/{id}/members/{user_id}``;
- ``GET``/``POST /hives/templates``, ``GET``/``PUT /hives/templates/{id}`` (admins write;
  definition errors name their JSON path).

Reads follow ``hives.service.access``: a hidden hive is a 404 like a missing one, a member
reads only the hives they belong to and may not create one (403). The fixed paths are
declared before ``/{hive_id}`` and this router is registered after the other hive routers.

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.deps import CurrentActor, DbSession
from pathcast.hives import models as m
from pathcast.hives import schemas as s
from pathcast.hives.service import directory, templates
from pathcast.hives.service.access import get_hive
from pathcast.hives.service.hives import MemberSpec, create_hive, members_of

router = APIRouter(prefix="/hives", tags=["hives"])

Status = Annotated[str | None, Query(description="forming, active, at_risk, delivered or closed")]


def hive_read(session: Session, hive: m.Hive, *, detail: bool = False) -> s.HiveRead:
    """The API shape of a hive with its counts (and, for ``detail``, its members)."""
    counts = directory.hive_counts(session, [hive.id]).get(hive.id, directory.HiveCounts())
    base = s.HiveRead.model_validate(hive).model_dump(exclude={"counts"})
    base["counts"] = s.HiveCountsRead(**counts.__dict__)
    if not detail:
        return s.HiveRead(**base)
    members = members_of(session, hive.id)
    names = auth_service.user_names(session, [member.user_id for member in members])
    return s.HiveDetailRead(
        **base,
        health_components=hive.health_components or {},
        members=[
            s.HiveMemberRead.model_validate(member).model_copy(update={"name": names.get(member.user_id)})
            for member in members
        ],
    )


def _members_read(session: Session, hive_id: int) -> list[s.HiveMemberRead]:
    members = members_of(session, hive_id)
    names = auth_service.user_names(session, [member.user_id for member in members])
    return [
        s.HiveMemberRead.model_validate(member).model_copy(update={"name": names.get(member.user_id)})
        for member in members
    ]


# --- templates (fixed paths first) ------------------------------------------------------------


@router.get("/templates", response_model=list[s.TemplateRead], summary="Hive templates")
def list_templates(session: DbSession, actor: CurrentActor, include_archived: bool = False) -> Any:
    return templates.list_templates(session, actor, include_archived=include_archived)


@router.post("/templates", response_model=s.TemplateRead, status_code=201, summary="Add a template (admin)")
def add_template(body: s.TemplateIn, session: DbSession, actor: CurrentActor) -> Any:
    return templates.save_template(
        session,
        actor,
        key=body.key,
        name_zh=body.name_zh,
        name_en=body.name_en,
        description=body.description,
        definition=body.definition,
    )


@router.get("/templates/{template_id}", response_model=s.TemplateRead, summary="One template")
def get_template(template_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return templates.get_template(session, actor, template_id)


@router.put("/templates/{template_id}", response_model=s.TemplateRead, summary="Replace a template (admin)")
def put_template(template_id: int, body: s.TemplateIn, session: DbSession, actor: CurrentActor) -> Any:
    return templates.save_template(
        session,
        actor,
        key=body.key,
        name_zh=body.name_zh,
        name_en=body.name_en,
        description=body.description,
        definition=body.definition,
        template_id=template_id,
    )


# --- hives ------------------------------------------------------------------------------------


@router.get("", response_model=list[s.HiveRead], summary="Hives the caller may read")
def list_hives(
    session: DbSession,
    actor: CurrentActor,
    status: Status = None,
    account_id: Annotated[int | None, Query(gt=0)] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=directory.LIST_MAX)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    hives = directory.list_hives(
        session, actor, status=status, account_id=account_id, mine=mine, limit=limit, offset=offset
    )
    counts = directory.hive_counts(session, [hive.id for hive in hives])
    shaped = []
    for hive in hives:
        row = s.HiveRead.model_validate(hive).model_dump(exclude={"counts"})
        shaped.append(s.HiveRead(**row, counts=s.HiveCountsRead(**counts[hive.id].__dict__)))
    return shaped


@router.post(
    "",
    response_model=s.HiveDetailRead,
    status_code=201,
    summary="Create a hive for an account, from a template (sellers, admins)",
)
def add_hive(body: s.HiveCreate, session: DbSession, actor: CurrentActor) -> Any:
    hive = create_hive(
        session,
        actor,
        account_id=body.account_id,
        template=body.template,
        name=body.name,
        opportunity_id=body.opportunity_id,
        contract_id=body.contract_id,
        product_line=body.product_line,
        start_date=body.start_date,
        promised_date=body.promised_date,
        members=[MemberSpec(member.user_id, member.function) for member in body.members],
    )
    return hive_read(session, hive, detail=True)


@router.get("/{hive_id}", response_model=s.HiveDetailRead, summary="One hive with its members and counts")
def get_one(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return hive_read(session, get_hive(session, actor, hive_id), detail=True)


@router.patch("/{hive_id}", response_model=s.HiveDetailRead, summary="Change name, promised date, status")
def patch_hive(hive_id: int, body: s.HiveUpdate, session: DbSession, actor: CurrentActor) -> Any:
    sent = body.model_dump(exclude_unset=True)
    hive = directory.update_hive(
        session,
        actor,
        hive_id=hive_id,
        name=sent.get("name", directory.UNSET),
        promised_date=sent.get("promised_date", directory.UNSET),
        status=sent.get("status"),
    )
    return hive_read(session, hive, detail=True)


@router.get("/{hive_id}/members", response_model=list[s.HiveMemberRead], summary="A hive's members")
def list_members(hive_id: int, session: DbSession, actor: CurrentActor) -> Any:
    hive = get_hive(session, actor, hive_id)
    return _members_read(session, hive.id)


@router.post(
    "/{hive_id}/members",
    response_model=s.HiveMemberRead,
    status_code=201,
    summary="Add a person to a hive (sellers, admins)",
)
def add_hive_member(
    hive_id: int, body: s.HiveMemberIn, session: DbSession, actor: CurrentActor, response: Response
) -> Any:
    member, new = directory.invite_member(
        session, actor, hive_id=hive_id, user_id=body.user_id, function=body.function
    )
    if not new:
        response.status_code = 200
    names = auth_service.user_names(session, [member.user_id])
    return s.HiveMemberRead.model_validate(member).model_copy(update={"name": names.get(member.user_id)})


@router.delete(
    "/{hive_id}/members/{user_id}", status_code=204, summary="Take a person out of a hive (sellers, admins)"
)
def remove_hive_member(hive_id: int, user_id: int, session: DbSession, actor: CurrentActor) -> Response:
    directory.uninvite_member(session, actor, hive_id=hive_id, user_id=user_id)
    return Response(status_code=204)
