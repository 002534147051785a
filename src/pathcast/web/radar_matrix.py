"""Radar pages, response toolbox: the competitor matrix editor (``/radar/matrix``) and the
signal page's matrix panel (``/radar/signals/{id}/matrix-panel``).

Everything goes through ``radar.service.matrix`` / ``settings`` with the viewer's Actor:
reps read and export, admins and managers (the ``radar_toolbox`` right) add, edit, delete
and import rows and add competitors. Forms are plain POST forms with the session's CSRF
token; an accepted one redirects back (303), a refused one re-renders the page (422) with
each message beside its field and every typed value kept. Exports link to the API, which
accepts the session cookie for GET.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from pathcast.auth.permissions import Actor, may
from pathcast.deps import DbSession
from pathcast.errors import Conflict, FieldError, InvalidInput
from pathcast.problems import field_problem
from pathcast.radar import models as m
from pathcast.radar.service import matrix as service
from pathcast.radar.service import settings
from pathcast.radar.toolbox.matrix import ADVANTAGES
from pathcast.web.forms import PostedForm
from pathcast.web.radar import RadarFormPage, RadarPage
from pathcast.web.rendering import PageContext, render

router = APIRouter(include_in_schema=False)

ROW_FIELDS = ("product", "criterion", "ours", "theirs", "advantage", "note")
UPLOAD_MAX_BYTES = 2_000_000


def may_edit(actor: Actor) -> bool:
    """Product marketing (managers) and admins edit the matrix; reps read it."""
    return may(actor, "radar_toolbox", "update")


def _messages(page: PageContext, errors: list[FieldError]) -> dict[str, str]:
    """Field → message in the viewer's language (the first problem of each field)."""
    found: dict[str, str] = {}
    for error in errors:
        found.setdefault(error.field, field_problem(error, page.locale)["detail"])
    return found


# --- the matrix page --------------------------------------------------------------------------


@dataclass
class FormState:
    """What a refused form showed: the typed values and a message per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class PageState:
    """Refused forms to show again (by competitor for the add form, by row for an edit)."""

    add: dict[int, FormState] = field(default_factory=dict)
    edit: dict[int, FormState] = field(default_factory=dict)
    competitor: FormState = field(default_factory=FormState)
    import_text: str = ""
    report: service.ImportReport | None = None
    report_errors: list[dict[str, Any]] = field(default_factory=list)
    general: str | None = None


def _matrix_page(
    page: PageContext, session: Session, *, state: PageState | None = None, status_code: int = 200
) -> Response:
    actor = page.actor
    rows = service.list_rows(session, actor)
    by_competitor: dict[int, list[m.MatrixEntry]] = {}
    for row in rows:
        by_competitor.setdefault(row.competitor_id, []).append(row)
    competitors = settings.list_competitors(session, actor=actor)
    lang = "zh" if page.locale == "zh-CN" else "en"
    context = {
        "competitors": [(c, by_competitor.get(c.id, [])) for c in competitors],
        "can_edit": may_edit(actor),
        "state": state or PageState(),
        # blank first: a new row says nothing about who leads until someone decides
        "advantages": ("", *(a for a in ADVANTAGES if a)),
        "fields": ROW_FIELDS,
        "lang": lang,
        "formats": ("pdf", "png", "svg", "csv", "html"),
    }
    return render(page, "radar/matrix.html", context, status_code=status_code)


@router.get("/radar/matrix")
def radar_matrix(page: RadarPage, session: DbSession) -> Response:
    """Every competitor's rows: an editable table for editors, read-only for reps."""
    return _matrix_page(page, session)


def _int(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


@router.post("/radar/matrix/rows")
def radar_matrix_save(page: RadarFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a row (upsert on product × criterion) or, with ``row_id``, edit that row."""
    service.require_write(page.actor)
    values = {name: form.get(name, "") for name in ROW_FIELDS}
    competitor_id = _int(form.get("competitor_id"))
    row_id = _int(form.get("row_id"))
    if competitor_id is None:
        state = PageState(general=page.t("radar_matrix.errors.competitor"))
        return _matrix_page(page, session, state=state, status_code=422)
    try:
        service.set_row(session, page.actor, competitor_id=competitor_id, row_id=row_id, **values)
    except InvalidInput as error:
        kept = FormState(values=values, errors=_messages(page, error.errors))
        state = PageState(general=kept.errors.get("competitor_id"))
        if row_id is not None:
            state.edit[row_id] = kept
        else:
            state.add[competitor_id] = kept
        return _matrix_page(page, session, state=state, status_code=422)
    return RedirectResponse(f"/radar/matrix#competitor-{competitor_id}", status_code=303)


@router.post("/radar/matrix/rows/{row_id}/delete")
def radar_matrix_delete(page: RadarFormPage, session: DbSession, row_id: int) -> Response:
    """Delete one row; back to the matrix."""
    service.remove_row(session, page.actor, row_id=row_id)
    return RedirectResponse("/radar/matrix", status_code=303)


@dataclass(frozen=True)
class Upload:
    """An uploaded CSV file's text (None when no file was sent), or that it was too large."""

    text: str | None = None
    too_large: bool = False


async def uploaded_csv(request: Request) -> Upload:
    """The uploaded file decoded: UTF-8, else GB18030 (as Excel on Chinese Windows saves it)."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return Upload()
    raw = await upload.read(UPLOAD_MAX_BYTES + 1)
    if len(raw) > UPLOAD_MAX_BYTES:
        return Upload(too_large=True)
    try:
        return Upload(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        return Upload(raw.decode("gb18030", errors="replace"))


UploadedCsv = Annotated[Upload, Depends(uploaded_csv)]


@router.post("/radar/matrix/import")
def radar_matrix_import(
    page: RadarFormPage, session: DbSession, form: PostedForm, upload: UploadedCsv
) -> Response:
    """Import CSV from the textarea or a file: the valid rows are saved, each bad row is
    listed with its row number and field (422 then, with the text kept)."""
    service.require_write(page.actor, "create")
    text = upload.text if upload.text is not None else form.get("csv", "")
    if upload.too_large:
        state = PageState(
            general=page.t("radar_matrix.import.too_large", max_mb=UPLOAD_MAX_BYTES // 1_000_000)
        )
        return _matrix_page(page, session, state=state, status_code=422)
    report = service.import_rows(session, page.actor, text)
    state = PageState(
        import_text=form.get("csv", ""),
        report=report,
        report_errors=[field_problem(error, page.locale) for error in report.errors],
    )
    return _matrix_page(page, session, state=state, status_code=422 if report.errors else 200)


def _list(raw: str) -> list[str]:
    """Comma-, 、- or line-separated names."""
    for separator in ("，", "、", "\n", ";", "；"):
        raw = raw.replace(separator, ",")
    return [part.strip() for part in raw.split(",") if part.strip()]


@router.post("/radar/matrix/competitors")
def radar_matrix_competitor(page: RadarFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a competitor (name, aliases, products) through the radar settings service."""
    settings.require_editor(page.actor)
    values = {name: form.get(name, "") for name in ("name", "aliases", "products")}
    try:
        competitor = settings.save_competitor(
            session,
            actor=page.actor,
            name=values["name"],
            aliases=_list(values["aliases"]),
            products=_list(values["products"]),
        )
    except InvalidInput as error:
        # settings' messages are English; say it in the viewer's language instead.
        errors = {e.field: page.t(f"radar_matrix.competitor.invalid_{e.field}") for e in error.errors}
        state = PageState(competitor=FormState(values=values, errors=errors))
        return _matrix_page(page, session, state=state, status_code=422)
    except Conflict:
        message = page.t("radar_matrix.competitor.exists", name=values["name"].strip())
        state = PageState(competitor=FormState(values=values, errors={"name": message}))
        return _matrix_page(page, session, state=state, status_code=422)
    return RedirectResponse(f"/radar/matrix#competitor-{competitor.id}", status_code=303)


# --- the signal page's panel ------------------------------------------------------------------


@router.get("/radar/signals/{item_id}/matrix-panel")
def radar_matrix_panel(page: RadarPage, session: DbSession, item_id: int) -> Response:
    """The matrix rows for the competitors the signal names (a hidden signal is a 404)."""
    found = service.signal_matrix(session, page.actor, item_id)
    groups: dict[str, list[Any]] = {name: [] for name in found.competitors}
    for row in found.rows:
        groups.setdefault(row.competitor, []).append(row)
    context = {
        "item_id": item_id,
        "found": found,
        "groups": groups,
        "can_edit": may_edit(page.actor),
        "lang": "zh" if page.locale == "zh-CN" else "en",
        "formats": ("pdf", "png", "svg", "csv"),
    }
    return render(page, "radar/_matrix_panel.html", context)
