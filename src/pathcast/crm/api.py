"""CRM REST API at ``/api/v1``: list / create / read / update / delete per entity.

Lists take ``q`` (text search), ``sort`` (``field`` or ``-field``), ``limit``,
``cursor`` and filters as query parameters: ``field=value`` or
``field__op=value`` with op in eq, ne, lt, lte, gt, gte, in (comma-separated),
contains, isnull. Authorisation happens in the service layer; these handlers parse,
call one service function and shape the answer.

This module avoids ``from __future__ import annotations``: FastAPI reads the body
types of the generated handlers at definition time.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm import schemas as s
from pathcast.crm import service
from pathcast.crm.service import documents as document_service
from pathcast.crm.service.registry import EntitySpec
from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import InvalidInput, NotFound
from pathcast.events import events_for_entity, state_as_of
from pathcast.portal.service import documents as document_exports
from pathcast.schemas import Page, ProjectBase

RESERVED_QUERY = frozenset({"q", "sort", "cursor", "limit"})
router = APIRouter(tags=["crm"])

Creator = Callable[[Any, Actor, dict[str, Any]], Any]
Updater = Callable[[Any, Actor, Any, dict[str, Any]], Any]
Deleter = Callable[[Any, Actor, Any], None]


class EventRead(ProjectBase):
    id: int
    type: str
    entity: str
    entity_id: str
    entity_version: int
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    payload: dict[str, Any]
    hash: str


class AsOfRead(BaseModel):
    entity: str
    id: int
    at: datetime
    state: dict[str, Any] | None


def _generic_create(spec: EntitySpec) -> Creator:
    def create(session: Any, actor: Actor, data: dict[str, Any]) -> Any:
        return service.create_record(session, actor=actor, spec=spec, data=data)

    return create


def _generic_update(spec: EntitySpec) -> Updater:
    def update(session: Any, actor: Actor, record: Any, changes: dict[str, Any]) -> Any:
        service.update_record(session, actor=actor, spec=spec, record=record, changes=changes)
        return record

    return update


def _generic_delete(spec: EntitySpec) -> Deleter:
    def delete(session: Any, actor: Actor, record: Any) -> None:
        service.delete_record(session, actor=actor, spec=spec, record=record)

    return delete


def register_entity(
    spec: EntitySpec,
    *,
    create: Creator | None = None,
    update: Updater | None = None,
    delete: Deleter | None = None,
) -> None:
    """Add the five CRUD routes (and history routes) of one entity to the router."""
    create = create or _generic_create(spec)
    update = update or _generic_update(spec)
    delete = delete or _generic_delete(spec)
    read_schema = spec.read_schema
    create_schema = spec.create_schema
    update_schema = spec.update_schema
    path = f"/{spec.plural}"
    title = spec.plural.replace("_", " ")

    def list_items(
        request: Request,
        session: DbSession,
        actor: CurrentActor,
        q: str | None = Query(None, description="Text search (Chinese or English)."),
        sort: str | None = Query(
            None, description=f"One of {', '.join(spec.sortable)}; prefix - for descending."
        ),
        cursor: str | None = Query(None, description="The next_cursor of the previous page."),
        limit: int = Query(50, ge=1, le=500),
    ) -> Page[read_schema]:  # type: ignore[valid-type]
        filters = {k: v for k, v in request.query_params.items() if k not in RESERVED_QUERY}
        items, next_cursor, total = service.list_records(
            session, actor, spec, filters=filters, search=q, sort=sort, cursor=cursor, limit=limit
        )
        return Page[read_schema](  # type: ignore[valid-type]
            items=[read_schema.model_validate(item) for item in items], next_cursor=next_cursor, total=total
        )

    def create_item(
        body: create_schema,  # type: ignore[valid-type]
        session: DbSession,
        actor: CurrentActor,
        response: Response,
    ) -> read_schema:  # type: ignore[valid-type]
        record = create(session, actor, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
        response.status_code = 201
        response.headers["Location"] = f"/api/v1{path}/{record.id}"
        return read_schema.model_validate(record)

    def read_item(item_id: int, session: DbSession, actor: CurrentActor) -> read_schema:  # type: ignore[valid-type]
        return read_schema.model_validate(service.get_readable(session, actor, spec, item_id))

    def update_item(
        item_id: int,
        body: update_schema,  # type: ignore[valid-type]
        session: DbSession,
        actor: CurrentActor,
    ) -> read_schema:  # type: ignore[valid-type]
        record = service.get_writable(session, actor, spec, item_id, "update")
        record = update(session, actor, record, body.model_dump(exclude_unset=True))  # type: ignore[attr-defined]
        return read_schema.model_validate(record)

    def delete_item(item_id: int, session: DbSession, actor: CurrentActor) -> Response:
        record = service.get_writable(session, actor, spec, item_id, "delete")
        delete(session, actor, record)
        return Response(status_code=204)

    def item_events(item_id: int, session: DbSession, actor: CurrentActor) -> list[EventRead]:
        service.get_readable(session, actor, spec, item_id)
        events = events_for_entity(session, spec.name, item_id)
        return [EventRead.model_validate(event) for event in reversed(events)]

    def item_as_of(
        item_id: int,
        session: DbSession,
        actor: CurrentActor,
        at: datetime = Query(..., description="ISO 8601 time; the record as it stood then."),
        clock: str = Query("occurred", pattern="^(occurred|recorded)$"),
    ) -> AsOfRead:
        service.get_readable(session, actor, spec, item_id)
        state = state_as_of(
            session, spec.name, item_id, at, clock="recorded" if clock == "recorded" else "occurred"
        )
        return AsOfRead(entity=spec.name, id=item_id, at=at, state=state)

    router.add_api_route(
        path, list_items, methods=["GET"], summary=f"List {title}", operation_id=f"list_{spec.plural}"
    )
    router.add_api_route(
        path,
        create_item,
        methods=["POST"],
        status_code=201,
        summary=f"Create a {spec.name}",
        operation_id=f"create_{spec.name}",
    )
    router.add_api_route(
        f"{path}/{{item_id}}",
        read_item,
        methods=["GET"],
        summary=f"Read a {spec.name}",
        operation_id=f"read_{spec.name}",
    )
    router.add_api_route(
        f"{path}/{{item_id}}",
        update_item,
        methods=["PATCH"],
        summary=f"Update a {spec.name}",
        operation_id=f"update_{spec.name}",
    )
    router.add_api_route(
        f"{path}/{{item_id}}",
        delete_item,
        methods=["DELETE"],
        status_code=204,
        summary=f"Delete a {spec.name}",
        operation_id=f"delete_{spec.name}",
        response_class=Response,
    )
    router.add_api_route(
        f"{path}/{{item_id}}/events",
        item_events,
        methods=["GET"],
        summary=f"Timeline of a {spec.name}, newest first",
        operation_id=f"events_{spec.name}",
    )
    router.add_api_route(
        f"{path}/{{item_id}}/as-of",
        item_as_of,
        methods=["GET"],
        summary=f"A {spec.name} as it stood at a time",
        operation_id=f"as_of_{spec.name}",
    )


def _create_opportunity(session: Any, actor: Actor, data: dict[str, Any]) -> m.Opportunity:
    return service.create_opportunity(session, actor=actor, data=data)


def _update_opportunity(session: Any, actor: Actor, record: Any, changes: dict[str, Any]) -> m.Opportunity:
    return service.update_opportunity(session, actor=actor, opportunity=record, changes=changes)


def _create_quote(session: Any, actor: Actor, data: dict[str, Any]) -> m.Quote:
    return service.create_quote(session, actor=actor, data=data)


def _update_quote(session: Any, actor: Actor, record: Any, changes: dict[str, Any]) -> m.Quote:
    return service.update_quote(session, actor=actor, quote=record, changes=changes)


def _create_quote_line(session: Any, actor: Actor, data: dict[str, Any]) -> m.QuoteLine:
    return service.add_quote_line(session, actor=actor, data=data)


def _update_quote_line(session: Any, actor: Actor, record: Any, changes: dict[str, Any]) -> m.QuoteLine:
    return service.update_quote_line(session, actor=actor, line=record, changes=changes)


def _delete_quote_line(session: Any, actor: Actor, record: Any) -> None:
    service.delete_quote_line(session, actor=actor, line=record)


class StageMove(ProjectBase):
    stage_id: int


OPPORTUNITY = service.SPECS["opportunity"]


@router.post("/opportunities/{item_id}/stage", summary="Move a deal to another stage", tags=["crm"])
def move_stage(item_id: int, body: StageMove, session: DbSession, actor: CurrentActor) -> s.OpportunityRead:
    """One stage move: one event and one stage-history row."""
    record = service.get_writable(session, actor, OPPORTUNITY, item_id, "update")
    service.change_stage(session, actor=actor, opportunity=record, to_stage_id=body.stage_id)
    return s.OpportunityRead.model_validate(record)


@router.get("/opportunities/{item_id}/stage-history", summary="Every stage move of a deal, oldest first")
def read_stage_history(item_id: int, session: DbSession, actor: CurrentActor) -> list[s.StageChangeRead]:
    service.get_readable(session, actor, OPPORTUNITY, item_id)
    return [s.StageChangeRead.model_validate(row) for row in service.stage_history(session, item_id)]


@router.get("/opportunities/{item_id}/field-history", summary="Amount and close-date changes, oldest first")
def read_field_history(item_id: int, session: DbSession, actor: CurrentActor) -> list[s.FieldChangeRead]:
    service.get_readable(session, actor, OPPORTUNITY, item_id)
    return [s.FieldChangeRead.model_validate(row) for row in service.field_history(session, item_id)]


DOCUMENT = service.SPECS["document"]
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@router.get("/documents/{item_id}/versions", summary="A document's versions, oldest first")
def list_document_versions(
    item_id: int, session: DbSession, actor: CurrentActor
) -> list[s.DocumentVersionRead]:
    service.get_readable(session, actor, DOCUMENT, item_id)
    versions = document_service.document_versions(session, item_id)
    return [s.DocumentVersionRead.model_validate(version) for version in versions]


@router.post("/documents/{item_id}/versions", status_code=201, summary="Upload a new version (multipart)")
def upload_document_version(
    item_id: int,
    session: DbSession,
    actor: CurrentActor,
    file: UploadFile = File(..., description="The file of the new version."),
    note: str | None = Form(None, max_length=500),
) -> s.DocumentVersionRead:
    document = service.get_writable(session, actor, DOCUMENT, item_id, "update")
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidInput.single("file", "file_too_large", max_mb=MAX_UPLOAD_BYTES // (1024 * 1024))
    version = document_service.add_document_version(
        session,
        actor=actor,
        document=document,
        filename=file.filename or "upload.bin",
        content=content,
        content_type=file.content_type or "application/octet-stream",
        note=note,
    )
    return s.DocumentVersionRead.model_validate(version)


@router.get("/documents/{item_id}/versions/{version}/content", summary="Download one version's file")
def download_document_version(
    item_id: int, version: int, session: DbSession, actor: CurrentActor
) -> Response:
    document = service.get_readable(session, actor, DOCUMENT, item_id)
    found = next(
        (v for v in document_service.document_versions(session, item_id) if v.version == version), None
    )
    if found is None:
        raise NotFound(entity="document", id=f"{item_id} v{version}")
    if document_exports.needs_watermark(document, found):
        # A proposal or an account's PDF leaves only as a watermarked, recorded copy.
        content, filename, _ = document_exports.export_document(
            session, actor, document_id=item_id, version=version
        )
        return Response(
            content,
            media_type="application/pdf",
            headers={"Content-Disposition": content_disposition(filename)},
        )
    return Response(
        document_service.read_content(found),
        media_type=found.content_type,
        headers={"Content-Disposition": content_disposition(found.filename)},
    )


def content_disposition(filename: str) -> str:
    """An attachment header that carries any filename (RFC 6266 / RFC 5987)."""
    from urllib.parse import quote

    fallback = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


for _spec in service.SPECS.values():
    if _spec.name == "opportunity":
        register_entity(_spec, create=_create_opportunity, update=_update_opportunity)
    elif _spec.name == "quote":
        register_entity(_spec, create=_create_quote, update=_update_quote)
    elif _spec.name == "quote_line":
        register_entity(
            _spec, create=_create_quote_line, update=_update_quote_line, delete=_delete_quote_line
        )
    else:
        register_entity(_spec)
