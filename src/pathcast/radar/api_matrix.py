"""Radar API, response toolbox: the competitor matrix (``/api/v1/radar/matrix``) and the
rows a signal should show (``/api/v1/radar/signals/{id}/matrix``).

Reps read and export; admins and managers edit (the ``radar_toolbox`` right). Exports are
PDF (one landscape A4 page), PNG (503 problem when the server has no CJK font, with the
fix in the detail), SVG (always works), CSV and HTML.

This module avoids ``from __future__ import annotations``: FastAPI reads body types at
definition.
"""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import FieldError, InvalidInput
from pathcast.i18n import translate
from pathcast.problems import field_problem
from pathcast.radar import schemas as s
from pathcast.radar.service import matrix as service
from pathcast.radar.service import settings
from pathcast.radar.toolbox.matrix_export import Rendered, render

router = APIRouter(prefix="/radar", tags=["radar"])

Lang = Literal["zh", "en"]
CSV_TYPES = ("text/csv", "text/plain", "application/csv")


def _read(row: Any, names: dict[int, str]) -> s.MatrixRowRead:
    return s.MatrixRowRead(
        id=row.id,
        competitor_id=row.competitor_id,
        competitor=names.get(row.competitor_id, ""),
        product=row.product,
        criterion=row.criterion,
        ours=row.ours,
        theirs=row.theirs,
        advantage=row.advantage,
        note=row.note,
        position=row.position,
        updated_at=row.updated_at,
    )


def _names(session: DbSession) -> dict[int, str]:
    return {c.id: c.name for c in settings.list_competitors(session)}


def _download(rendered: Rendered) -> Response:
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'},
    )


def _lang(lang: Lang | None, actor: CurrentActor) -> Lang:
    if lang is not None:
        return lang
    return "zh" if actor.locale == "zh-CN" else "en"


@router.get("/matrix", response_model=list[s.MatrixRowRead], summary="Competitor matrix rows")
def list_matrix(session: DbSession, actor: CurrentActor, competitor_id: int | None = None) -> Any:
    rows = service.list_rows(session, actor, competitor_id=competitor_id)
    names = _names(session)
    return [_read(row, names) for row in rows]


@router.put("/matrix", response_model=s.MatrixRowRead, summary="Add or replace a matrix row (admin, manager)")
def put_matrix_row(body: s.MatrixRowWrite, session: DbSession, actor: CurrentActor) -> Any:
    row = service.set_row(session, actor, **body.model_dump())
    return _read(row, _names(session))


@router.delete("/matrix/{row_id}", status_code=204, summary="Remove a matrix row (admin, manager)")
def delete_matrix_row(row_id: int, session: DbSession, actor: CurrentActor) -> Response:
    service.remove_row(session, actor, row_id=row_id)
    return Response(status_code=204)


@router.post(
    "/matrix/import",
    response_model=s.MatrixImportRead,
    summary="Import rows from CSV (text/csv body, or JSON {csv}); bad rows are reported, the rest kept",
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": s.MatrixImport.model_json_schema()},
            },
            "required": True,
        }
    },
)
async def import_matrix(request: Request, session: DbSession, actor: CurrentActor) -> Any:
    raw = await request.body()
    if len(raw) > service.IMPORT_MAX_CHARS * 4:
        raise InvalidInput([FieldError("csv", "invalid", {"message": "file too large / 文件过大"})])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves CSV as GB18030.
        text = raw.decode("gb18030", errors="replace")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in CSV_TYPES:
        try:
            text = s.MatrixImport.model_validate_json(text).csv
        except ValidationError as error:
            raise InvalidInput(
                [FieldError("csv", "invalid", {"message": 'JSON {"csv": "…"} or a text/csv body'})]
            ) from error
    report = service.import_rows(session, actor, text)
    locale = actor.locale
    return s.MatrixImportRead(
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        errors=[s.ImportErrorRead(**field_problem(error, locale)) for error in report.errors],
    )


def _title(lang: Lang, names: list[str]) -> str:
    base = "竞品对比" if lang == "zh" else "Competitor comparison"
    return f"{base} · {'、'.join(names) if lang == 'zh' else ', '.join(names)}" if names else base


@router.get("/matrix/export", summary="Export the matrix (pdf, png, svg, csv, html)")
def export_matrix(
    session: DbSession,
    actor: CurrentActor,
    competitor_id: int | None = None,
    format: s.MatrixExportFormat = "pdf",
    lang: Lang | None = None,
) -> Response:
    rows = service.export_rows(session, actor, competitor_id=competitor_id)
    chosen = _lang(lang, actor)
    names = list(dict.fromkeys(row.competitor for row in rows))
    subtitle = date.today().isoformat()
    return _download(render(rows, format, title=_title(chosen, names), lang=chosen, subtitle=subtitle))


@router.get(
    "/signals/{item_id}/matrix",
    response_model=s.SignalMatrixRead,
    summary="The matrix rows for the competitors a signal names (json, pdf, png, svg, csv)",
)
def signal_matrix(
    item_id: int,
    session: DbSession,
    actor: CurrentActor,
    format: Annotated[s.SignalMatrixFormat, Query()] = "json",
    lang: Lang | None = None,
) -> Any:
    found = service.signal_matrix(session, actor, item_id)
    if format == "json":
        return s.SignalMatrixRead(
            item_id=item_id,
            competitors=found.competitors,
            products=found.products,
            narrowed=found.narrowed,
            rows=[s.SignalMatrixRowRead(**row.__dict__) for row in found.rows],
        )
    chosen = _lang(lang, actor)
    subtitle = translate(
        "radar_matrix.export.signal_subtitle", "zh-CN" if chosen == "zh" else "en", id=item_id
    )
    return _download(
        render(
            found.rows,
            format,
            title=_title(chosen, found.competitors),
            lang=chosen,
            subtitle=subtitle,
            stem=f"signal-{item_id}-matrix",
        )
    )
