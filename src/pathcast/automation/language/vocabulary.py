"""The vocabulary a sentence is read against: the live schema and data plus curated words.

``build_vocabulary(session)`` reads stages, positions, assets, documents, connectors and
industries from the database; ``Vocabulary.default()`` has only what needs no database
(entities, fields from the SQLAlchemy models, picklists, relations, events, metrics), and
``Vocabulary.sample()`` adds a small example company for offline use and tests. A
vocabulary is immutable and has a ``fingerprint``; the lexer caches its tables by it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, func, select
from sqlalchemy.orm import Session

from pathcast.automation.language import catalog as c

Hashable = str | tuple[str, str]


@dataclass(frozen=True)
class Term:
    """One surface form of one sense: ``("ENTITY", "opportunity", "商机")``."""

    kind: str
    value: Hashable
    surface: str


@dataclass(frozen=True)
class FieldInfo:
    entity: str
    name: str
    label_zh: str
    label_en: str
    kind: str  # money | number | percent | date | datetime | bool | text | enum | stage | user
    surfaces: tuple[str, ...] = ()
    preferred: bool = False
    values: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        return f"{self.entity}.{self.name}"


@dataclass(frozen=True)
class EntityInfo:
    name: str
    label_zh: str
    label_en: str
    surfaces: tuple[str, ...]
    fields: tuple[FieldInfo, ...] = ()

    @property
    def taggable(self) -> bool:
        return self.name in c.TAGGABLE


@dataclass(frozen=True)
class StageInfo:
    key: str
    name: str
    name_zh: str | None
    status_class: str = "open"
    position: int = 0
    pipeline: str = ""


@dataclass(frozen=True)
class ValueInfo:
    field: str
    value: str
    label_zh: str
    label_en: str
    surfaces: tuple[str, ...]


@dataclass(frozen=True)
class PersonInfo:
    """A role (business position or access role) or a relation to the record."""

    kind: str  # role | relation
    key: str
    label_zh: str
    label_en: str
    surfaces: tuple[str, ...]


@dataclass(frozen=True)
class AssetInfo:
    key: str
    name: str


@dataclass(frozen=True)
class ContentInfo:
    """Something push_content can send: a document, an asset or a report (``report:<key>``)."""

    ref: str
    label_zh: str
    label_en: str
    kind: str = "document"
    surfaces: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConnectorInfo:
    name: str
    kind: str = "http_check"
    result_field: str = "approved"
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventInfo:
    key: str
    entity: str
    verb: str
    label_zh: str
    label_en: str
    derived: tuple[str, str] | None = None


@dataclass(frozen=True)
class MetricInfo:
    key: str
    entity: str
    label_zh: str
    label_en: str
    surfaces: tuple[str, ...]
    scale: str = "number"


# --- the schema ---------------------------------------------------------------------------------


def _enum_fields() -> dict[str, tuple[str, ...]]:
    from pathcast.crm import models as m

    enums: dict[str, Any] = {
        "account.tier": m.Tier,
        "opportunity.status": m.StageClass,
        "opportunity.forecast_category": m.ForecastCategory,
        "quote.status": m.QuoteStatus,
        "activity.kind": m.ActivityKind,
        "contract.status": m.ContractStatus,
        "ticket.severity": m.Severity,
        "ticket.status": m.TicketStatus,
        "document.audience": m.DocumentAudience,
    }
    return {path: tuple(member.value for member in enum) for path, enum in enums.items()}


def _column_kind(column: Any) -> str:
    kind = column.type
    if isinstance(kind, Numeric):
        return "money" if kind.scale == 2 and (kind.precision or 0) >= 16 else "number"
    if isinstance(kind, Boolean):
        return "bool"
    if isinstance(kind, Integer):
        return "number"
    if isinstance(kind, DateTime):
        return "datetime"
    if isinstance(kind, Date):
        return "date"
    return "text"


def _schema_entities() -> tuple[EntityInfo, ...]:
    """Entities of the catalogue with every visible column of their SQLAlchemy model."""
    from pathcast.crm.service.registry import SPECS

    enums = _enum_fields()
    entities = []
    for name, (entity_zh, entity_en, surfaces) in c.ENTITIES.items():
        fields: dict[str, FieldInfo] = {}
        spec = SPECS.get(name)
        columns = list(spec.model.__table__.columns) if spec is not None else []
        for column in columns:
            key = column.name
            if key in c.HIDDEN_COLUMNS or (key.endswith("_id") and key != "owner_id"):
                continue
            path = f"{name}.{key}"
            words = key.replace("_", " ")
            fields[key] = FieldInfo(
                name, key, words, words, "enum" if path in enums else _column_kind(column),
                surfaces=(words,) if words != key else (key,), values=enums.get(path, ()),
            )  # fmt: skip
        for (entity, key), (label_zh, label_en, kind, words, preferred) in c.FIELDS.items():
            if entity != name:
                continue
            path = f"{name}.{key}"
            fields[key] = FieldInfo(
                name, key, label_zh, label_en, kind, surfaces=words, preferred=preferred,
                values=enums.get(path, ()),
            )  # fmt: skip
        entities.append(EntityInfo(name, entity_zh, entity_en, surfaces, tuple(fields.values())))
    return tuple(entities)


def _schema_values() -> tuple[ValueInfo, ...]:
    values = []
    for path, members in _enum_fields().items():
        for member in members:
            label_zh, label_en, words = c.VALUE_LABELS.get((path, member), (member, member, ()))
            values.append(ValueInfo(path, member, label_zh, label_en, tuple(dict.fromkeys((*words, member)))))
    for key, (label_zh, label_en, words) in c.INDUSTRIES.items():
        values.append(ValueInfo("account.industry", key, label_zh, label_en, words))
    return tuple(values)


def _builtin_people() -> tuple[PersonInfo, ...]:
    people = [PersonInfo("relation", key, zh, en, words) for key, (zh, en, words) in c.RELATIONS.items()]
    people += [PersonInfo("role", key, zh, en, words) for key, (zh, en, words) in c.ACCESS_ROLES.items()]
    return tuple(people)


def position_person(key: str, name: str, name_zh: str, aliases: Iterable[str]) -> PersonInfo:
    """A business position as a role recipient, known by its key, names and aliases."""
    surfaces = (name, name_zh, key, key.replace("_", " "), *aliases)
    return PersonInfo(
        "role", key, name_zh or name, name or name_zh, tuple(dict.fromkeys(s for s in surfaces if s))
    )


# --- words derived from names ------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff]")
_HAN_LATIN_SPLIT = re.compile(r"^([^a-zA-Z]*[\u3400-\u9fff][^a-zA-Z]*?)\s+([A-Za-z].*)$")


def name_surfaces(name: str, key: str | None = None, groups: Sequence[Sequence[str]] = ()) -> tuple[str, ...]:
    """How people refer to a named thing: the name, its key, its Chinese and English halves
    ("价格表 Pricing sheet" → "价格表", "pricing sheet") and synonyms from ``groups``."""
    forms = [name]
    if key:
        forms += [key, re.sub(r"[-_]+", " ", key)]
    split = _HAN_LATIN_SPLIT.match(name.strip())
    if split:
        forms += [split.group(1).strip(), split.group(2).strip()]
    lowered = name.lower()
    prefix = re.match(r"^([A-Za-z][A-Za-z0-9]*)\s*(?=[\u3400-\u9fff])", name.strip())
    for group in groups:
        if any(member.lower() in lowered for member in group):
            forms += list(group)
            if prefix:  # "DSA介入耗材对比表" is also "DSA comparison sheet" and "DSA对比表"
                forms += [
                    f"{prefix.group(1)} {member}" if member.isascii() else f"{prefix.group(1)}{member}"
                    for member in group
                ]
    return tuple(dict.fromkeys(form for form in forms if form.strip()))


def _synonym_variants(alias: str, groups: Sequence[Sequence[str]]) -> list[str]:
    variants = [alias]
    for group in groups:
        for member in group:
            if member in alias:
                variants += [alias.replace(member, other) for other in group if other != member]
    return variants


def english_plural(word: str) -> str | None:
    """The plural of an English noun phrase's last word, or None for non-English."""
    if not re.fullmatch(r"[a-z][a-z' -]*[a-z]", word):
        return None
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|ch|sh)$", word):
        return word + "es"
    return word + "s"


# --- the vocabulary ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Vocabulary:
    """Everything a sentence may name. Immutable; ``with_data`` returns a new one."""

    entities: tuple[EntityInfo, ...]
    values: tuple[ValueInfo, ...]
    people: tuple[PersonInfo, ...]
    events: tuple[EventInfo, ...]
    metrics: tuple[MetricInfo, ...]
    contents: tuple[ContentInfo, ...] = ()
    stages: tuple[StageInfo, ...] = ()
    assets: tuple[AssetInfo, ...] = ()
    connectors: tuple[ConnectorInfo, ...] = ()
    templates: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    timezone: str = "Asia/Shanghai"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    # --- construction --------------------------------------------------------------------------

    @classmethod
    def default(cls) -> Vocabulary:
        """Schema, picklists, relations, events and metrics; no stages, positions or names."""
        reports = tuple(
            ContentInfo(f"report:{key}", zh, en, "report", words)
            for key, (zh, en, words) in c.REPORTS.items()
        )
        return cls(
            entities=_schema_entities(),
            values=_schema_values(),
            people=_builtin_people(),
            events=tuple(EventInfo(key, *spec) for key, spec in c.EVENTS.items()),
            metrics=tuple(MetricInfo(key, *spec) for key, spec in c.METRICS.items()),
            contents=reports,
        )

    @classmethod
    def sample(cls) -> Vocabulary:
        """The default vocabulary plus a small example company (offline CLI, tests)."""
        from pathcast.auth.positions import DEFAULT_POSITIONS
        from pathcast.crm.service.pipelines import DEFAULT_STAGES

        stages = [
            StageInfo(key, name, name_zh, status.value, position, "Sales")
            for position, (key, name, name_zh, _probability, status) in enumerate(DEFAULT_STAGES)
        ]
        return cls.default().with_data(
            stages=stages,
            positions=[(p.key, p.name, p.name_zh, p.aliases) for p in DEFAULT_POSITIONS],
            assets=[
                AssetInfo("pricing-sheet", "价格表 Pricing sheet"),
                AssetInfo("dsa-comparison", "DSA介入耗材对比表"),
            ],
            documents=["案例包 Case pack"],
            connectors=[
                ConnectorInfo(
                    "budget_approval", "http_check", "approved", ("预算批复", "预算已批复", "budget approved")
                )
            ],
        )

    def with_data(
        self,
        *,
        stages: Iterable[StageInfo] = (),
        positions: Iterable[tuple[str, str, str, Iterable[str]]] = (),
        assets: Iterable[AssetInfo] = (),
        documents: Iterable[str] = (),
        connectors: Iterable[ConnectorInfo] = (),
        industries: Iterable[str] = (),
        templates: Iterable[str] = (),
    ) -> Vocabulary:
        """A copy with live data added (positions as ``(key, name, name_zh, aliases)``)."""
        people = self.people + tuple(position_person(*position) for position in positions)
        contents = self.contents + tuple(
            ContentInfo(name, name, name, "document", name_surfaces(name, groups=c.CONTENT_SYNONYMS))
            for name in dict.fromkeys(documents)
        )
        return dataclasses.replace(
            self,
            stages=self.stages + tuple(stages),
            people=people,
            assets=self.assets + tuple(assets),
            contents=contents,
            connectors=self.connectors + tuple(connectors),
            industries=self.industries + tuple(dict.fromkeys(industries)),
            templates=self.templates + tuple(templates),
            _cache={},
        )

    # --- identity ------------------------------------------------------------------------------

    @cached_property
    def fingerprint(self) -> str:
        """A hash of everything the lexer reads; equal vocabularies share lexer tables."""
        payload = json.dumps(
            [
                [dataclasses.astuple(item) for item in group]
                for group in (self.entities, self.values, self.people, self.events, self.metrics)
            ]
            + [
                [dataclasses.astuple(item) for item in group]
                for group in (self.contents, self.stages, self.assets, self.connectors)
            ]
            + [list(self.templates), list(self.industries), self.timezone],
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    # --- words ---------------------------------------------------------------------------------

    def terms(self) -> Iterator[Term]:
        """Every surface of every sense the lexer should recognise."""
        for entity in self.entities:
            yield from _with_plurals("ENTITY", entity.name, entity.surfaces)
            for info in entity.fields:
                for surface in info.surfaces:
                    yield Term("FIELD", info.path, surface)
        for value in self.values:
            for surface in value.surfaces:
                yield Term("VALUE", (value.field, value.value), surface)
        for industry in self.industries:
            for surface in name_surfaces(industry):
                yield Term("VALUE", ("account.industry", industry), surface)
        for stage in self.stages:
            words = [stage.key, stage.key.replace("_", " "), stage.name, stage.name_zh or ""]
            words += [part.strip() for part in re.split(r"[/|]", stage.name) if part.strip()]
            words += list(c.STAGE_SYNONYMS.get(stage.key, ()))
            for surface in dict.fromkeys(w for w in words if w):
                yield Term("STAGE", stage.key, surface)
        for person in self.people:
            kind = "ROLE" if person.kind == "role" else "RELATION"
            yield from _with_plurals(kind, person.key, person.surfaces)
        for asset in self.assets:
            for surface in name_surfaces(asset.name, asset.key, c.CONTENT_SYNONYMS):
                yield Term("ASSET", asset.key, surface)
        for content in self.contents:
            for surface in content.surfaces:
                yield Term("CONTENT", content.ref, surface)
        for connector in self.connectors:
            for alias in (connector.name, connector.name.replace("_", " "), *connector.aliases):
                for surface in _synonym_variants(alias, c.CONNECTOR_SYNONYMS):
                    yield Term("CONNECTOR", connector.name, surface)
        for metric in self.metrics:
            for surface in metric.surfaces:
                yield Term("METRIC", metric.key, surface)
        for key, (_zh, _en, milestone_words) in c.MILESTONES.items():
            for surface in milestone_words:
                yield Term("MILESTONE", key, surface)
        for key, (_zh, _en, plan_words) in c.PLAN_KINDS.items():
            for surface in plan_words:
                yield Term("PLAN_NOUN", key, surface)

    # --- look-ups ------------------------------------------------------------------------------

    def _index(self, name: str, build: Any) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def entity(self, name: str) -> EntityInfo | None:
        return self._index("entities", lambda: {e.name: e for e in self.entities}).get(name)

    def field(self, path: str) -> FieldInfo | None:
        table = self._index("fields", lambda: {f.path: f for e in self.entities for f in e.fields})
        return table.get(path)

    def stage(self, key: str) -> StageInfo | None:
        return next((stage for stage in self.stages if stage.key == key), None)

    def person(self, kind: str, key: str) -> PersonInfo | None:
        return next((p for p in self.people if p.kind == kind and p.key == key), None)

    def event(self, key: str) -> EventInfo | None:
        return next((event for event in self.events if event.key == key), None)

    def events_of(self, entity: str) -> list[EventInfo]:
        return [event for event in self.events if event.entity == entity]

    def event_for(self, entity: str, verb: str) -> EventInfo | None:
        return next((e for e in self.events if e.entity == entity and e.verb == verb), None)

    def connector(self, name: str) -> ConnectorInfo | None:
        return next((item for item in self.connectors if item.name == name), None)

    def asset(self, key: str) -> AssetInfo | None:
        return next((asset for asset in self.assets if asset.key == key), None)

    def content(self, ref: str) -> ContentInfo | None:
        return next((item for item in self.contents if item.ref == ref), None)

    def metric(self, key: str) -> MetricInfo | None:
        return next((metric for metric in self.metrics if metric.key == key), None)

    def value(self, path: str, value: str) -> ValueInfo | None:
        return next((v for v in self.values if v.field == path and v.value == value), None)

    def live_industries(self, key: str) -> list[str]:
        """The live industry values a curated industry key covers ("manufacturing" → "工业自动化 …")."""
        words = [word.lower() for word in c.INDUSTRIES.get(key, ("", "", ()))[2]]
        return [value for value in self.industries if any(word in value.lower() for word in words)]


def _with_plurals(kind: str, value: str, surfaces: Iterable[str]) -> Iterator[Term]:
    for surface in surfaces:
        yield Term(kind, value, surface)
        plural = english_plural(surface.lower())
        if plural:
            yield Term(kind, value, plural)


# --- from the database ----------------------------------------------------------------------------

DATA_LIMIT = 5000  # names beyond this many are not offered (the lexer stays small and fast)


def build_vocabulary(session: Session) -> Vocabulary:
    """The vocabulary of this installation: the default one plus its stages, positions,
    assets, documents, active connectors and the industries its accounts use."""
    from pathcast.auth.models import Position
    from pathcast.automation.models import Connector
    from pathcast.crm import models as m
    from pathcast.signals.models import Asset

    stage_rows = session.execute(
        select(m.Stage, m.Pipeline.name, m.Pipeline.is_default)
        .join(m.Pipeline, m.Pipeline.id == m.Stage.pipeline_id)
        .order_by(m.Pipeline.is_default.desc(), m.Pipeline.id, m.Stage.position, m.Stage.id)
    ).all()
    stages: dict[str, StageInfo] = {}
    for stage, pipeline, _default in stage_rows:
        # The default pipeline's stage wins when two pipelines share a key.
        stages.setdefault(
            stage.key,
            StageInfo(stage.key, stage.name, stage.name_zh, stage.status_class, stage.position, pipeline),
        )
    positions = [
        (p.key, p.name, p.name_zh, tuple(p.aliases or ()))
        for p in session.scalars(select(Position).order_by(Position.id))
    ]
    assets = [
        AssetInfo(key, name)
        for key, name in session.execute(
            select(Asset.key, Asset.name).order_by(Asset.id.desc()).limit(DATA_LIMIT)
        ).all()
    ]
    documents = list(
        session.scalars(select(m.Document.name).order_by(m.Document.id.desc()).limit(DATA_LIMIT))
    )
    connectors = [
        ConnectorInfo(row.name, row.kind, _result_field(row.config), tuple(row.aliases or ()))
        for row in session.scalars(
            select(Connector).where(Connector.is_active.is_(True)).order_by(Connector.id)
        )
    ]
    industries = list(
        session.scalars(
            select(m.Account.industry)
            .where(m.Account.industry.is_not(None))
            .group_by(m.Account.industry)
            .order_by(func.count().desc())
            .limit(500)
        )
    )
    return Vocabulary.default().with_data(
        stages=stages.values(),
        positions=positions,
        assets=assets,
        documents=documents,
        connectors=connectors,
        industries=[industry for industry in industries if industry],
    )


def _result_field(config: dict[str, Any] | None) -> str:
    """The field a check connector's mapped response is read from: its first mapped key."""
    mapping = (config or {}).get("response_map") or {}
    return next(iter(mapping), "approved") if isinstance(mapping, dict) else "approved"
