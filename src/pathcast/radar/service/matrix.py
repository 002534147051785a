"""The competitor matrix product marketing edits, and the rows a signal should show.

Rows live in ``radar_matrix_rows`` (competitor × product × criterion, unique); writes need
the ``radar_toolbox`` right (admins and managers), reads the ``radar`` read right (reps
too). Each write appends ``radar.matrix_row_set`` or ``radar.matrix_row_removed`` with
before and after in the caller's transaction. A CSV import (zh or en headers) saves every
valid row and reports each bad one with its spreadsheet row number and field.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor, Operation, may
from pathcast.db import utcnow
from pathcast.errors import FieldError, InvalidInput, NotFound, PermissionDenied
from pathcast.events import append_event
from pathcast.radar import models as m
from pathcast.radar.analysis.entities import EntityCatalogue, link
from pathcast.radar.analysis.lexicon import normalise
from pathcast.radar.service.settings import list_competitors, require
from pathcast.radar.service.signals import get_signal
from pathcast.radar.toolbox.matrix import CompetitorMatrix, MatrixRow

__all__ = [
    "ImportReport",
    "SignalMatrix",
    "export_rows",
    "import_rows",
    "list_rows",
    "matrix",
    "parse_csv",
    "remove_row",
    "rows_for_signal",
    "set_row",
    "signal_matrix",
    "text_matrix",
]

NAME_MAX = 200
VALUE_MAX = 2000
IMPORT_MAX_CHARS = 1_000_000
IMPORT_MAX_ROWS = 2000
# Header names a spreadsheet may carry, in Chinese or English, onto the row's fields.
HEADERS: dict[str, str] = {
    "竞品": "competitor",
    "competitor": "competitor",
    "产品": "product",
    "product": "product",
    "维度": "criterion",
    "评估项": "criterion",
    "criterion": "criterion",
    "我方": "ours",
    "ours": "ours",
    "对方": "theirs",
    "theirs": "theirs",
    "优势": "advantage",
    "advantage": "advantage",
    "备注": "note",
    "说明": "note",
    "note": "note",
}
REQUIRED_COLUMNS = ("competitor", "product", "criterion")
# Advantage as written in a sheet: English words or the Chinese labels of the exports.
ADVANTAGE_WORDS: dict[str, str] = {
    "ours": "ours",
    "我方": "ours",
    "我方占优": "ours",
    "theirs": "theirs",
    "对方": "theirs",
    "对方占优": "theirs",
    "even": "even",
    "持平": "even",
    "": "",
}
# ``to_csv`` guards formula-like cells with a leading apostrophe; an import of that file
# takes it off again so a round trip keeps the value.
_GUARDED = ("'=", "'+", "'@", "'-", "'\t", "'\r")
Outcome = Literal["created", "updated", "unchanged"]
# Invisible control characters and lone surrogates (a paste from a PDF, a broken file):
# dropped, since PostgreSQL refuses NUL in text and no one can see or mean the others.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _key(text: str) -> str:
    return " ".join(normalise(text).split())


def require_write(actor: Actor, operation: Operation = "update") -> None:
    """Refuse unless the actor may edit toolbox content (admins, managers)."""
    if not may(actor, "radar_toolbox", operation):
        raise PermissionDenied("forbidden_operation", entity="radar_matrix_row", operation=operation)


def _snapshot(row: m.MatrixEntry) -> dict[str, Any]:
    return {
        "product": row.product,
        "criterion": row.criterion,
        "ours": row.ours,
        "theirs": row.theirs,
        "advantage": row.advantage,
        "note": row.note,
    }


def _checked(
    product: Any, criterion: Any, ours: Any, theirs: Any, advantage: Any, note: Any
) -> dict[str, str]:
    """The cleaned values, or InvalidInput naming each bad field."""
    errors: list[FieldError] = []
    clean: dict[str, str] = {}
    for name, value, limit, required in (
        ("product", product, NAME_MAX, True),
        ("criterion", criterion, NAME_MAX, True),
        ("ours", ours, VALUE_MAX, False),
        ("theirs", theirs, VALUE_MAX, False),
        ("note", note, VALUE_MAX, False),
    ):
        text = _CONTROL.sub("", value).strip() if isinstance(value, str) else None
        if text is None or (required and not text):
            errors.append(FieldError(name, "missing"))
        elif len(text) > limit:
            errors.append(FieldError(name, "radar_matrix_too_long", {"max": limit}))
        else:
            clean[name] = text
    word = ADVANTAGE_WORDS.get(_key(advantage)) if isinstance(advantage, str) else None
    if word is None:
        errors.append(FieldError("advantage", "radar_matrix_advantage"))
    else:
        clean["advantage"] = word
    if errors:
        raise InvalidInput(errors)
    return clean


def _competitor(session: Session, competitor_id: int) -> m.Competitor:
    found = session.get(m.Competitor, competitor_id)
    if found is None:
        raise InvalidInput(
            [
                FieldError(
                    "competitor_id", "unknown_reference", {"entity": "radar_competitor", "id": competitor_id}
                )
            ]
        )
    return found


def set_row(
    session: Session,
    actor: Actor,
    *,
    competitor_id: int,
    product: str,
    criterion: str,
    ours: str,
    theirs: str,
    advantage: str = "",
    note: str = "",
    row_id: int | None = None,
) -> m.MatrixEntry:
    """Add or replace the row for (competitor, product, criterion): matched on the
    normalised product and criterion, so "PLC" and "ｐｌｃ" are one row. With ``row_id``
    that row is edited (its product or criterion may change, unless another row has them)."""
    require_write(actor, "update")
    values = _checked(product, criterion, ours, theirs, advantage, note)
    return _save(session, actor, _competitor(session, competitor_id), values, row_id=row_id)[0]


class _Index:
    """One competitor's rows by normalised (product, criterion), read once per call: an
    import of many rows then costs one query, not one per row."""

    def __init__(self, session: Session, competitor_id: int) -> None:
        rows = session.scalars(select(m.MatrixEntry).where(m.MatrixEntry.competitor_id == competitor_id))
        self.by_key = {(_key(r.product), _key(r.criterion)): r for r in rows}
        self.next_position = max((r.position for r in self.by_key.values()), default=-1) + 1


def _save(
    session: Session,
    actor: Actor,
    competitor: m.Competitor,
    clean: dict[str, str],
    *,
    index: _Index | None = None,
    row_id: int | None = None,
) -> tuple[m.MatrixEntry, Outcome]:
    """Write checked values; every refusal is raised before anything changes."""
    index = index or _Index(session, competitor.id)
    wanted = (_key(clean["product"]), _key(clean["criterion"]))
    same_key = index.by_key.get(wanted)
    row = same_key
    if row_id is not None:
        row = session.get(m.MatrixEntry, row_id)
        if row is None or row.competitor_id != competitor.id:
            raise NotFound("not_found", entity="radar_matrix_row", id=row_id)
        if same_key is not None and same_key.id != row.id:
            raise InvalidInput([FieldError("criterion", "radar_matrix_duplicate")])
        index.by_key.pop((_key(row.product), _key(row.criterion)), None)
    before = _snapshot(row) if row is not None else None
    if row is None:
        row = m.MatrixEntry(competitor_id=competitor.id, position=index.next_position)
        index.next_position += 1
        session.add(row)
    index.by_key[wanted] = row
    row.product, row.criterion = clean["product"], clean["criterion"]
    row.ours, row.theirs = clean["ours"], clean["theirs"]
    row.advantage, row.note = clean["advantage"], clean["note"]
    after = _snapshot(row)
    if before == after:
        return row, "unchanged"
    row.updated_at = utcnow()
    row.updated_by = actor.user_id
    session.flush()
    append_event(
        session,
        type="radar.matrix_row_set",
        entity="radar_matrix_row",
        entity_id=row.id,
        actor=actor.label,
        payload={
            "competitor_id": competitor.id,
            "competitor": competitor.name,
            "before": before,
            "after": after,
        },
    )
    return row, "created" if before is None else "updated"


def remove_row(session: Session, actor: Actor, *, row_id: int) -> None:
    """Delete one row (``radar.matrix_row_removed`` keeps what it said)."""
    require_write(actor, "delete")
    row = session.get(m.MatrixEntry, row_id)
    if row is None:
        raise NotFound("not_found", entity="radar_matrix_row", id=row_id)
    append_event(
        session,
        type="radar.matrix_row_removed",
        entity="radar_matrix_row",
        entity_id=row.id,
        actor=actor.label,
        payload={"competitor_id": row.competitor_id, "before": _snapshot(row), "after": None},
    )
    session.delete(row)
    session.flush()


def list_rows(session: Session, actor: Actor, *, competitor_id: int | None = None) -> list[m.MatrixEntry]:
    """Rows by competitor name, then position (any radar reader)."""
    require(actor, "read")
    query = select(m.MatrixEntry).join(m.Competitor, m.Competitor.id == m.MatrixEntry.competitor_id)
    if competitor_id is not None:
        query = query.where(m.MatrixEntry.competitor_id == competitor_id)
    return list(session.scalars(query.order_by(m.Competitor.name, m.MatrixEntry.position, m.MatrixEntry.id)))


def _as_rows(session: Session, entries: Iterable[m.MatrixEntry]) -> list[MatrixRow]:
    names = {c.id: c.name for c in list_competitors(session)}
    return [
        MatrixRow(
            competitor=names.get(e.competitor_id, f"#{e.competitor_id}"),
            product=e.product,
            criterion=e.criterion,
            ours=e.ours,
            theirs=e.theirs,
            note=e.note,
            advantage=e.advantage if e.advantage in ("ours", "theirs", "even") else "",  # type: ignore[arg-type]
        )
        for e in entries
    ]


def export_rows(session: Session, actor: Actor, *, competitor_id: int | None = None) -> list[MatrixRow]:
    """The rows as toolbox rows (competitor names filled in), for the exports."""
    return _as_rows(session, list_rows(session, actor, competitor_id=competitor_id))


def matrix(session: Session, actor: Actor) -> CompetitorMatrix:
    """The whole matrix with every competitor's aliases, for the toolbox's lookups."""
    built = CompetitorMatrix(export_rows(session, actor))
    for competitor in list_competitors(session):
        built.alias(competitor.name, *(competitor.aliases or []))
    return built


# --- the rows a signal should show --------------------------------------------------------------


@dataclass
class SignalMatrix:
    """The competitors a signal names, the products it names, and the rows to show."""

    competitors: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    # each named competitor's own product list, for the panel to show beside its name
    their_products: dict[str, list[str]] = field(default_factory=dict)
    rows: list[MatrixRow] = field(default_factory=list)
    narrowed: bool = False


def signal_matrix(session: Session, actor: Actor, item_id: int) -> SignalMatrix:
    """What the signal's competitors' rows say; narrowed to the products the text names
    (crm products it links, or a word from a named competitor's product list) when such
    rows exist, else every row of those competitors. A hidden signal is a 404."""
    item, _signal = get_signal(session, actor=actor, item_id=item_id)
    entities = (item.analysis or {}).get("entities", [])
    return _matrix_for(session, actor, " ".join(part for part in (item.title, item.text) if part), entities)


def text_matrix(session: Session, actor: Actor, text: str) -> SignalMatrix:
    """The rows that matter for any text (a deal's description and notes): the competitors
    and products it names, linked the way the analysis links a signal's."""
    require(actor, "read")
    catalogue = EntityCatalogue()
    for competitor in list_competitors(session):
        catalogue.add("competitor", competitor.id, competitor.name, list(competitor.aliases or []))
    entities = [mention.as_dict() for mention in link(text[:20_000], catalogue)]
    return _matrix_for(session, actor, text, entities)


def _matrix_for(
    session: Session, actor: Actor, raw_text: str, entities: list[dict[str, Any]]
) -> SignalMatrix:
    ids = list(dict.fromkeys(e["entity_id"] for e in entities if e.get("kind") == "competitor"))
    competitors = [c for c in list_competitors(session) if c.id in ids]
    competitors.sort(key=lambda c: ids.index(c.id))
    text = _key(raw_text)
    products = [str(e.get("name")) for e in entities if e.get("kind") == "product" and e.get("name")]
    for competitor in competitors:
        products.extend(p for p in competitor.products or [] if _key(p) and _key(p) in text)
    products = list(dict.fromkeys(products))
    found = SignalMatrix(
        competitors=[c.name for c in competitors],
        products=products,
        their_products={c.name: list(c.products or []) for c in competitors},
    )
    if not competitors:
        return found
    entries = [e for c in competitors for e in list_rows(session, actor, competitor_id=c.id)]
    wanted = {_key(p) for p in products}
    narrowed = [e for e in entries if _key(e.product) in wanted]
    found.narrowed = bool(narrowed)
    found.rows = _as_rows(session, narrowed or entries)
    return found


def rows_for_signal(session: Session, actor: Actor, item_id: int) -> list[MatrixRow]:
    """The matrix rows that matter for a signal (see :func:`signal_matrix`)."""
    return signal_matrix(session, actor, item_id).rows


# --- CSV import -------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: rows saved (new or changed), unchanged, and each bad row."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[FieldError] = field(default_factory=list)

    @property
    def saved(self) -> int:
        return self.created + self.updated


def _cell(value: str | None) -> str:
    text = (value or "").strip()
    return text[1:] if text.startswith(_GUARDED) else text


def parse_csv(csv_text: str) -> tuple[list[tuple[int, dict[str, str]]], list[FieldError]]:
    """The data rows as ``(spreadsheet row number, fields)`` and the file's problems.

    Row numbers are as a spreadsheet shows them (the header is row 1). A missing header
    column is one error on row 1 and no rows; a row with the wrong shape is skipped with
    an error. Never raises."""
    text = csv_text.lstrip("\ufeff")
    if len(text) > IMPORT_MAX_CHARS:
        return [], [FieldError("csv", "radar_matrix_too_large", {"max": IMPORT_MAX_CHARS}, row=1)]
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        return [], [FieldError("csv", "radar_matrix_bad_csv", {"message": str(error)}, row=1)]
    records = [r for r in records if any(cell.strip() for cell in r)]
    if not records:
        return [], [FieldError("csv", "missing", row=1)]
    columns = [HEADERS.get(_key(name)) for name in records[0]]
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        return [], [FieldError(name, "radar_matrix_header", {"column": name}, row=1) for name in missing]
    if len(records) - 1 > IMPORT_MAX_ROWS:
        return [], [FieldError("csv", "radar_matrix_too_many_rows", {"max": IMPORT_MAX_ROWS}, row=1)]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[FieldError] = []
    for number, record in enumerate(records[1:], start=2):
        if len(record) > len(columns) and any(cell.strip() for cell in record[len(columns) :]):
            errors.append(FieldError("csv", "radar_matrix_too_many_cells", row=number))
            continue
        values = {name: _cell(cell) for name, cell in zip(columns, record, strict=False) if name is not None}
        rows.append((number, values))
    return rows, errors


def import_rows(session: Session, actor: Actor, csv_text: str) -> ImportReport:
    """Save every valid row of a CSV (zh or en headers) through :func:`set_row`; each bad
    row is reported with its spreadsheet row number and field, and the rest are kept.
    The competitor column takes a competitor's name or alias."""
    require_write(actor, "create")
    rows, errors = parse_csv(csv_text)
    report = ImportReport(errors=list(errors))
    by_name: dict[str, int] = {}
    competitors = {c.id: c for c in list_competitors(session)}
    indexes: dict[int, _Index] = {}
    for competitor in competitors.values():
        for name in (competitor.name, *(competitor.aliases or [])):
            by_name.setdefault(_key(name), competitor.id)
    for number, values in rows:
        competitor_id = by_name.get(_key(values.get("competitor", "")))
        if competitor_id is None:
            name = values.get("competitor", "")
            code = "missing" if not name else "radar_matrix_unknown_competitor"
            report.errors.append(FieldError("competitor", code, {"name": name}, row=number))
            continue
        try:
            clean = _checked(
                *(
                    values.get(name, "")
                    for name in ("product", "criterion", "ours", "theirs", "advantage", "note")
                )
            )
            if competitor_id not in indexes:
                indexes[competitor_id] = _Index(session, competitor_id)
            _row, outcome = _save(
                session, actor, competitors[competitor_id], clean, index=indexes[competitor_id]
            )
        except InvalidInput as error:
            report.errors.extend(FieldError(e.field, e.code, e.params, row=number) for e in error.errors)
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    report.errors.sort(key=lambda e: e.row or 0)
    return report
