"""The live value of hive key results (``hives.service.okrs`` keeps the objectives).

- ``hive_health``: the mean health of the open hives in scope, now;
- ``on_time_delivery``: of the hives in scope delivered within the objective's period
  (handover = the last milestone finished), the share finished on or before the promised
  date.

The scope is what the objective's owner may read, narrowed to the hives of one team's
accounts when the key result names a team. :func:`refresh_key_results` runs whenever a
hive's health changes (the health service) or a hive's status moves (a reaction to
``hive.status_changed``), so key results follow the hives live.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.crm import models as crm_models
from pathcast.crm.service import readable_query, spec_for
from pathcast.db import utcnow
from pathcast.events import EventDraft, append_event, react_to
from pathcast.hives import models as m
from pathcast.hives.health import OPEN_STATUSES
from pathcast.hives.service.access import readable_clause

__all__ = ["refresh_key_results", "value_of"]

DELIVERED = ("delivered", "closed")


def _scope(session: Session, objective: m.Objective, result: m.KeyResult) -> list[ColumnElement[bool]]:
    owner = session.get(User, objective.owner_id)
    reader = Actor.for_user(owner) if owner is not None else Actor.system("okr")
    where: list[ColumnElement[bool]] = [readable_clause(reader)]
    if result.team_id is not None:
        team_reader = Actor(user_id=None, role=Role.manager, team_id=result.team_id)
        accounts: Select[Any] = readable_query(team_reader, spec_for("account")).with_only_columns(
            crm_models.Account.id
        )
        where.append(m.Hive.account_id.in_(accounts.scalar_subquery()))
    return where


def value_of(session: Session, objective: m.Objective, result: m.KeyResult) -> float | None:
    """A key result's value now (None when no hive is in scope yet)."""
    where = _scope(session, objective, result)
    if result.metric == "hive_health":
        mean = session.scalar(
            select(func.avg(m.Hive.health)).where(
                *where, m.Hive.status.in_(OPEN_STATUSES), m.Hive.health.is_not(None)
            )
        )
        return None if mean is None else round(float(mean), 1)
    handovers = session.execute(
        select(m.Hive.id, m.Hive.promised_date, func.max(m.Task.done_at))
        .join(m.Task, m.Task.hive_id == m.Hive.id)
        .where(
            *where,
            m.Hive.status.in_(DELIVERED),
            m.Hive.promised_date.is_not(None),
            m.Task.kind == "milestone",
        )
        .group_by(m.Hive.id, m.Hive.promised_date)
    ).all()
    delivered = on_time = 0
    for _hive_id, promised, finished in handovers:
        if finished is None or promised is None:
            continue
        day = (
            finished.date()
            if isinstance(finished, datetime)
            else datetime.fromisoformat(str(finished)).date()
        )
        if not objective.period_start <= day <= objective.period_end:
            continue
        delivered += 1
        on_time += day <= promised
    return None if delivered == 0 else round(on_time / delivered, 4)


def refresh_key_results(
    session: Session, *, now: datetime | None = None, objective_ids: list[int] | None = None
) -> list[m.KeyResult]:
    """Recompute every key result's ``current`` (or those of ``objective_ids``); appends
    ``hive.key_result_updated`` for each value that moved. Called by the health service
    and on hive status changes, so key results follow the hives live."""
    at = now or utcnow()
    statement = select(m.KeyResult, m.Objective).join(m.Objective, m.Objective.id == m.KeyResult.objective_id)
    if objective_ids is not None:
        statement = statement.where(m.Objective.id.in_(objective_ids))
    updated: list[m.KeyResult] = []
    for result, objective in session.execute(statement.order_by(m.KeyResult.id)).all():
        value = value_of(session, objective, result)
        previous = result.current
        result.computed_at = at
        if value == previous:
            continue
        result.current = value
        updated.append(result)
        append_event(
            session,
            type="hive.key_result_updated",
            entity="hive_objective",
            entity_id=objective.id,
            actor="system",
            payload={"key_result_id": result.id, "metric": result.metric, "value": value,
                     "previous": previous, "target": result.target},
            occurred_at=at,
        )  # fmt: skip
    session.flush()
    return updated


@react_to("hive.status_changed")
def _after_status(session: Session, draft: EventDraft) -> None:
    """A hive delivered, closed or reopened moves on-time delivery and mean health."""
    refresh_key_results(session, now=draft.occurred_at)
