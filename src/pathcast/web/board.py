"""The pipeline board: one column per stage, filters, paged columns, drag to move.

Reads go through ``crm.service.board`` with the viewer's Actor; moves are made by the
browser against ``POST /api/v1/opportunities/{id}/stage`` (the service authorises
them), after which ``/board/totals`` gives the columns' new headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.crm import models as m
from pathcast.crm.service import board as service
from pathcast.crm.service import stages_of
from pathcast.deps import DbSession
from pathcast.errors import InvalidInput, NotFound, PermissionDenied
from pathcast.web.lookups import account_names, user_names
from pathcast.web.rendering import SECURITY_HEADERS, Formatter, PageContext, render
from pathcast.web.security import Page

router = APIRouter(include_in_schema=False)
QUARTERS_BACK = 4
QUARTERS_AHEAD = 7


def get_board_page(page: Page) -> PageContext:
    """The board is for sellers (reps, managers, admins): they may read deals."""
    if not may(page.actor, "opportunity", "read"):
        raise PermissionDenied("board_forbidden")
    return page


BoardPage = Annotated[PageContext, Depends(get_board_page)]


@dataclass
class BoardState:
    """The pipeline and filters a request asked for, and what was wrong with them."""

    pipeline: m.Pipeline
    filters: service.BoardFilters
    errors: list[str] = field(default_factory=list)

    def params(self, *, with_pipeline: bool = True) -> dict[str, str]:
        values = {
            "pipeline": str(self.pipeline.id) if with_pipeline else "",
            "owner": _text(self.filters.owner_id),
            "team": _text(self.filters.team_id),
            "product": _text(self.filters.product_id),
            "quarter": self.filters.quarter_text,
        }
        return {key: value for key, value in values.items() if value}

    def query(self, **extra: str | None) -> str:
        values: dict[str, str] = self.params()
        values.update({key: value for key, value in extra.items() if value})
        return urlencode(values)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def board_state(
    session: Session,
    page: PageContext,
    *,
    pipeline: str | None,
    owner: str | None,
    team: str | None,
    product: str | None,
    quarter: str | None,
) -> BoardState:
    """Parse the query string; bad values become messages and are ignored."""
    errors: list[str] = []
    pipeline_id = None
    if pipeline and pipeline.strip():
        text = pipeline.strip()
        if text.isascii() and text.isdigit() and len(text) <= 18:
            pipeline_id = int(text)
        if pipeline_id is None or session.get(m.Pipeline, pipeline_id) is None:
            errors.append(page.t("board.unknown_pipeline"))
            pipeline_id = None
    chosen = service.board_pipeline(session, pipeline_id)
    try:
        filters = service.parse_filters(owner=owner, team=team, product=product, quarter=quarter)
    except InvalidInput as error:
        errors.extend(page.t(f"errors.field.{item.code}", **item.params) for item in error.errors)
        filters = service.BoardFilters()
    return BoardState(pipeline=chosen, filters=filters, errors=errors)


# --- presentation -------------------------------------------------------------------


def count_text(fmt: Formatter, count: int) -> str:
    return fmt.t("board.count_one") if count == 1 else fmt.t("board.count", count=fmt.number(count))


def amount_text(fmt: Formatter, total: service.StageTotal | None) -> str:
    """Each currency's sum, largest first; a dash when nothing has an amount."""
    if total is None or not total.amounts:
        return fmt.t("board.no_amount")
    parts = sorted(total.amounts.items(), key=lambda item: (-item[1], item[0]))
    return " · ".join(fmt.money(amount, currency) for currency, amount in parts)


def quarter_choices(fmt: Formatter, today: date, chosen: tuple[int, int] | None) -> list[tuple[str, str]]:
    """``(value, label)`` for the quarters around today, plus the chosen one."""
    index = today.year * 4 + (today.month - 1) // 3
    quarters = [divmod(number, 4) for number in range(index - QUARTERS_BACK, index + QUARTERS_AHEAD + 1)]
    periods = [(year, part + 1) for year, part in quarters]
    if chosen is not None and chosen not in periods:
        periods = sorted([*periods, chosen])
    return [
        (service.format_quarter(year, number), fmt.t("board.quarter_label", year=year, quarter=number))
        for year, number in periods
    ]


@dataclass
class Column:
    """One column as the template draws it."""

    stage: m.Stage
    label: str
    count_text: str
    amount_text: str
    count: int
    cards: list[m.Opportunity]
    more_url: str | None


def _more_url(state: BoardState, stage_id: int, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    return f"/board/columns/{stage_id}?{state.query(cursor=cursor)}"


def _card_names(session: Session, page: PageContext, deals: list[m.Opportunity]) -> dict[str, Any]:
    return {
        "account_names": account_names(session, page.actor, [deal.account_id for deal in deals]),
        "owner_names": user_names(session, [deal.owner_id for deal in deals]),
    }


def _totals_json(
    fmt: Formatter, stages: list[m.Stage], totals: dict[int, service.StageTotal]
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for stage in stages:
        total = totals.get(stage.id)
        count = total.count if total else 0
        result[str(stage.id)] = {
            "count": count,
            "count_text": count_text(fmt, count),
            "amount_text": amount_text(fmt, total),
        }
    return result


def _client_config(page: PageContext, state: BoardState, stages: list[m.Stage]) -> dict[str, Any]:
    """What board.js needs: the query of this view and its messages, in the user's language."""
    fmt = page.fmt
    return {
        "totals_url": f"/board/totals?{state.query()}",
        "stages": {str(stage.id): fmt.stage(stage) for stage in stages},
        "messages": {
            "moved": fmt.t("board.moved"),
            "refused": fmt.t("board.refused"),
            "network": fmt.t("board.network_error"),
            "load_failed": fmt.t("board.load_failed"),
        },
    }


# --- routes -------------------------------------------------------------------------


@router.get("/board")
def board(
    page: BoardPage,
    session: DbSession,
    pipeline: str | None = None,
    owner: str | None = None,
    team: str | None = None,
    product: str | None = None,
    quarter: str | None = None,
) -> Response:
    """One column per stage of a pipeline with its totals and first page of cards."""
    actor, fmt = page.actor, page.fmt
    state = board_state(
        session, page, pipeline=pipeline, owner=owner, team=team, product=product, quarter=quarter
    )
    stages = stages_of(session, state.pipeline.id)
    totals = service.stage_totals(session, actor, pipeline_id=state.pipeline.id, filters=state.filters)
    pages = service.board_columns(session, actor, stages=stages, filters=state.filters)
    columns = []
    for column in pages:
        total = totals.get(column.stage.id)
        count = total.count if total else 0
        columns.append(
            Column(
                stage=column.stage,
                label=fmt.stage(column.stage),
                count_text=count_text(fmt, count),
                amount_text=amount_text(fmt, total),
                count=count,
                cards=column.items,
                more_url=_more_url(state, column.stage.id, column.next_cursor),
            )
        )
    context = {
        "state": state,
        "columns": columns,
        "stages": stages,
        "pipelines": service.board_pipelines(session),
        "owners": service.owner_choices(session, actor),
        "teams": service.team_choices(session, actor),
        "products": service.product_choices(session),
        "quarters": quarter_choices(fmt, date.today(), state.filters.quarter),
        "client_config": _client_config(page, state, stages),
        **_card_names(session, page, [deal for column in columns for deal in column.cards]),
    }
    return render(page, "board/page.html", context, status_code=400 if state.errors else 200)


def _stage_or_404(session: Session, stage_id: int) -> m.Stage:
    stage = session.get(m.Stage, stage_id)
    if stage is None:
        raise NotFound(entity="stage", id=stage_id)
    return stage


@router.get("/board/columns/{stage_id}")
def board_column(
    page: BoardPage,
    session: DbSession,
    stage_id: int,
    cursor: str | None = None,
    owner: str | None = None,
    team: str | None = None,
    product: str | None = None,
    quarter: str | None = None,
) -> Response:
    """The next page of one column's cards (what the column's "more" button loads)."""
    stage = _stage_or_404(session, stage_id)
    filters = service.parse_filters(owner=owner, team=team, product=product, quarter=quarter)
    pipeline = session.get(m.Pipeline, stage.pipeline_id)
    assert pipeline is not None
    state = BoardState(pipeline=pipeline, filters=filters)
    column = service.column_page(session, page.actor, stage=stage, filters=filters, cursor=cursor)
    context = {
        "cards": column.items,
        "more_url": _more_url(state, stage.id, column.next_cursor),
        "stages": stages_of(session, stage.pipeline_id),
        **_card_names(session, page, column.items),
    }
    return render(page, "board/cards.html", context)


@router.get("/board/totals")
def board_totals(
    page: BoardPage,
    session: DbSession,
    pipeline: str | None = None,
    owner: str | None = None,
    team: str | None = None,
    product: str | None = None,
    quarter: str | None = None,
) -> Response:
    """Every column's count and amounts, formatted for the viewer (after a move)."""
    state = board_state(
        session, page, pipeline=pipeline, owner=owner, team=team, product=product, quarter=quarter
    )
    if state.errors:
        raise InvalidInput.single("query", "invalid", message="; ".join(state.errors))
    stages = stages_of(session, state.pipeline.id)
    totals = service.stage_totals(session, page.actor, pipeline_id=state.pipeline.id, filters=state.filters)
    body = {"pipeline": state.pipeline.id, "stages": _totals_json(page.fmt, stages, totals)}
    return JSONResponse(body, headers=SECURITY_HEADERS)
