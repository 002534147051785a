"""What the automation pages share: statuses in their order, IR and outcomes as pretty
JSON, who wrote a version, and links to the record a run is about.

The pages themselves are split by use case: ``automation_rules`` (list, detail, editor,
dry-run) and ``automation_inbox`` (runs, the inbox, notifications).

A run's subject is named and linked only when the viewer may read it, through the CRM
service's scoped queries (``web.lookups``): a run never reveals a record's name to
someone who may not see the record. A quote or contract links to its deal's page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.automation.models import RunStatus, StepStatus
from pathcast.crm.service import SPECS
from pathcast.crm.service.records import readable_query
from pathcast.web.lookups import (
    account_names,
    actor_user_id,
    contact_names,
    opportunity_names,
    user_names,
)
from pathcast.web.rendering import PageContext

RUN_STATUSES = tuple(status.value for status in RunStatus)
STEP_STATUSES = tuple(status.value for status in StepStatus)
# subject entity -> (page path, batch name look-up)
RECORD_PAGES = {
    "account": ("/accounts", account_names),
    "contact": ("/contacts", contact_names),
    "opportunity": ("/opportunities", opportunity_names),
}
# records without a page of their own: shown by number, linked to their deal
VIA_DEAL = ("quote", "contract")


def pretty_json(value: Any) -> str:
    """JSON for a reader: indented, Chinese left as it is."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def people_of(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """``{user id: name}`` for the given ids."""
    return user_names(session, [user_id for user_id in ids if user_id is not None])


def authors(session: Session, page: PageContext, labels: Iterable[str | None]) -> dict[str, str]:
    """Actor labels (``user:12``, ``automation``, ``cli``) as a reader says them."""
    wanted = {label for label in labels if label}
    people = people_of(session, [actor_user_id(label) for label in wanted])
    named: dict[str, str] = {}
    for label in wanted:
        user_id = actor_user_id(label)
        if user_id is not None:
            named[label] = people.get(user_id, label)
        else:
            named[label] = page.fmt.label(f"automation_web.actor.{label}", label)
    return named


@dataclass(frozen=True)
class SubjectLink:
    """The record a run (or a dry-run fire) is about, as a reader sees it."""

    label: str
    href: str | None = None


SubjectKey = tuple[str | None, str | None]


def _ids(values: Iterable[str | None]) -> list[int]:
    return [int(value) for value in values if value is not None and str(value).isdigit()]


def _entity_label(page: PageContext, entity: str, record_id: str) -> str:
    kind = page.fmt.label(f"entities.{entity}", entity)
    return page.t("automation_web.subject.record", entity=kind, id=record_id)


def _via_deal(session: Session, page: PageContext, entity: str, ids: list[int]) -> dict[int, SubjectLink]:
    spec = SPECS[entity]
    if not ids or not may(page.actor, entity, "read"):
        return {}
    records = list(session.scalars(readable_query(page.actor, spec).where(spec.model.id.in_(ids))))
    deals = opportunity_names(session, page.actor, [record.opportunity_id for record in records])
    kind = page.fmt.label(f"entities.{entity}", entity)
    links: dict[int, SubjectLink] = {}
    for record in records:
        label = page.t("automation_web.subject.numbered", entity=kind, number=record.number)
        deal_id = record.opportunity_id
        if deal_id in deals:
            label = page.t("automation_web.subject.of_deal", record=label, deal=deals[deal_id])
            links[record.id] = SubjectLink(label, f"/opportunities/{deal_id}")
        else:
            links[record.id] = SubjectLink(label)
    return links


def subject_links(
    session: Session, page: PageContext, keys: Iterable[SubjectKey]
) -> dict[SubjectKey, SubjectLink]:
    """``{(entity, id): link}`` for every subject among ``keys``; records the viewer may not
    read are shown as "kind #id" without a name or a link."""
    by_entity: dict[str, set[str]] = {}
    for entity, record_id in keys:
        if entity and record_id:
            by_entity.setdefault(entity, set()).add(str(record_id))
    found: dict[SubjectKey, SubjectLink] = {}
    for entity, record_ids in by_entity.items():
        ids = _ids(record_ids)
        named: dict[int, SubjectLink] = {}
        if entity in RECORD_PAGES:
            path, look_up = RECORD_PAGES[entity]
            named = {
                record_id: SubjectLink(name, f"{path}/{record_id}")
                for record_id, name in look_up(session, page.actor, ids).items()
            }
        elif entity in VIA_DEAL:
            named = _via_deal(session, page, entity, ids)
        for record_id in record_ids:
            link = named.get(int(record_id)) if record_id.isdigit() else None
            found[(entity, record_id)] = link or SubjectLink(_entity_label(page, entity, record_id))
    return found
