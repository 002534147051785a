"""Radar signals: stored items analysed into graded signals, reps' corrections, and reading.

``analyse_item`` builds the entity catalogue (crm accounts with industry and tier,
contacts, products, plus the radar's competitors), runs the pure analysis library,
stores the result on the item, keeps a ``radar_signals`` row for filtering and scoping,
and appends ``radar.signal``: the event automation rules trigger on (keyword, industry,
polarity, severity; see ``automation/engine/matcher.py``).

Corrections change one field (polarity, intent or severity) of a signal; each is a row
in ``radar_corrections`` and a ``radar.signal_corrected`` event, and together they are
training data for ``pathcast radar train`` (``export_corrections``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.orm import Session

from pathcast.auth.models import Role
from pathcast.auth.permissions import Actor
from pathcast.crm import models as crm_models
from pathcast.crm.service import lookups, readable_query, spec_for
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, NotFound
from pathcast.events import append_event
from pathcast.radar import models as m
from pathcast.radar.analysis import EntityCatalogue, TopicDictionary, WeightTable, analyse
from pathcast.radar.analysis.intent import INTENT_LABELS
from pathcast.radar.polarity_model import ActiveModel, load_active
from pathcast.radar.service.settings import list_competitors, require, topic_dictionary, weight_table

__all__ = [
    "AnalysisContext",
    "analyse_item",
    "analyse_items",
    "analyse_pending",
    "build_catalogue",
    "correct_signal",
    "export_corrections",
    "get_signal",
    "list_signals",
    "pending_ids",
    "reach_of",
    "readable_signals",
]

POLARITIES = ("positive", "neutral", "negative")
# Legal forms and generic trade words people drop when they name a company in a post:
# 「恒泰精密制造有限公司」 is written 「恒泰精密」. Stripped (outermost first) to make aliases.
LEGAL_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "公司",
    "co., ltd.",
    "co., ltd",
    "ltd.",
    "ltd",
    "inc.",
    "inc",
    "gmbh",
    "llc",
)
TRADE_WORDS = ("制造", "科技", "技术", "管理咨询", "咨询", "工业", "电子", "设备", "医疗", "软件")
MIN_ALIAS_CHARS = 3
# The event carries the text for keyword rules that look inside it; a long page is cut.
EVENT_TEXT_MAX = 4000
DEFAULT_REACH = 1.0
MAX_REACH = 3.0


# --- the inputs of the analysis -------------------------------------------------------------


def build_catalogue(session: Session) -> EntityCatalogue:
    """Accounts (with industry and tier), contacts, products and competitors to link against."""
    catalogue = EntityCatalogue()
    names = lookups.entity_names(session)
    for account in names.accounts:
        catalogue.add(
            "account",
            account.id,
            account.name,
            short_names(account.name),
            industry=account.industry,
            tier=account.tier,
        )
    for contact_id, name in names.contacts:
        # A one- or two-character name (王工) would match everywhere: people are linked
        # through messages (which know the sender), not by such names in free text.
        if len(name.strip()) >= 3:
            catalogue.add("contact", contact_id, name)
    for product_id, name, code in names.products:
        catalogue.add("product", product_id, name, [code] if code and len(code) >= 3 else [])
    for competitor in list_competitors(session):
        catalogue.add("competitor", competitor.id, competitor.name, list(competitor.aliases or []))
    return catalogue


def short_names(name: str) -> list[str]:
    """Shorter forms of a company name (legal form, then one trade word, removed)."""
    forms: list[str] = []
    current = name.strip()
    for suffixes in (LEGAL_SUFFIXES, TRADE_WORDS):
        lowered = current.casefold()
        for suffix in suffixes:
            if lowered.endswith(suffix):
                current = current[: len(current) - len(suffix)].rstrip(" ,.")
                break
        if len(current) >= MIN_ALIAS_CHARS and current != name and current not in forms:
            forms.append(current)
    return forms


@dataclass
class AnalysisContext:
    """What analysing a batch of items shares: built once, used for each item."""

    catalogue: EntityCatalogue
    dictionary: TopicDictionary
    weights: WeightTable
    polarity: ActiveModel | None = None

    @classmethod
    def load(cls, session: Session) -> AnalysisContext:
        """The catalogue, topic dictionary, weight table and polarity model in force now."""
        return cls(
            catalogue=build_catalogue(session),
            dictionary=topic_dictionary(session),
            weights=weight_table(session),
            polarity=load_active(),
        )


def reach_of(source: m.Source) -> float:
    """How far a source's text travels (0 private … 3 wide): config ``reach``, else by kind.

    Messages are one-to-one conversations (0); feeds, APIs and pages are ordinary public
    sources (1) unless an admin says otherwise.
    """
    configured = (source.config or {}).get("reach")
    if isinstance(configured, int | float) and not isinstance(configured, bool):
        return max(0.0, min(MAX_REACH, float(configured)))
    return 0.0 if source.kind == m.SourceKind.messages else DEFAULT_REACH


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --- analysing --------------------------------------------------------------------------------


def _links(
    session: Session, item: m.Item, mentions: list[dict[str, Any]]
) -> tuple[crm_models.Account | None, int | None]:
    """The account and contact the item concerns: a message's own, else the first named."""
    extra = item.extra or {}
    account_id = _int_or_none(extra.get("account_id"))
    contact_id = _int_or_none(extra.get("contact_id"))
    if account_id is None:
        account_id = next(
            (mention["entity_id"] for mention in mentions if mention["kind"] == "account"), None
        )
    if contact_id is None:
        contact_id = next(
            (mention["entity_id"] for mention in mentions if mention["kind"] == "contact"), None
        )
    if account_id is None and contact_id is not None:
        contact = lookups.get_contact(session, contact_id)
        account_id = contact.account_id if contact is not None else None
    account = lookups.get_account(session, account_id) if account_id is not None else None
    if contact_id is not None and lookups.get_contact(session, contact_id) is None:
        contact_id = None
    return account, contact_id


def _keywords(analysis: dict[str, Any]) -> list[str]:
    words: list[str] = []
    for hit in analysis.get("topics", []):
        words.extend(str(word) for word in hit.get("keywords", []))
    words.extend(
        str(mention["name"])
        for mention in analysis.get("entities", [])
        if mention.get("kind") == "competitor"
    )
    return list(dict.fromkeys(words))


def _item_text(item: m.Item) -> str:
    return "\n".join(part for part in (item.title, item.text) if part)


def signal_payload(item: m.Item, signal: m.Signal, source: m.Source) -> dict[str, Any]:
    """The ``radar.signal`` payload automation's matcher reads (keywords, industry, polarity…)."""
    analysis = item.analysis or {}
    keywords = _keywords(analysis)
    return {
        "keywords": keywords,
        "keyword": keywords[0] if keywords else None,
        "text": _item_text(item)[:EVENT_TEXT_MAX],
        "industry": signal.industry,
        "polarity": signal.polarity,
        "severity": signal.severity,
        "intent": signal.intent,
        "score": signal.score,
        "account_id": signal.account_id,
        "contact_id": signal.contact_id,
        "source": source.name,
        "source_id": source.id,
        "title": item.title,
        "url": item.url,
        # The item's state for the event log's fold: automation's engine finds the run's
        # account and contact (the "account owner" of a notify action) through it.
        "after": {
            "account_id": signal.account_id,
            "contact_id": signal.contact_id,
            "source_id": source.id,
            "industry": signal.industry,
            "polarity": signal.polarity,
            "intent": signal.intent,
            "severity": signal.severity,
        },
    }


def _keep_corrections(
    session: Session, item: m.Item, signal: m.Signal, data: dict[str, Any]
) -> dict[str, Any]:
    """``data`` with the latest correction of each field applied to it and to ``signal``."""
    latest: dict[str, str] = {}
    for correction in session.scalars(
        select(m.Correction).where(m.Correction.item_id == item.id).order_by(m.Correction.id)
    ):
        latest[correction.field] = correction.after
    if not latest:
        return data
    for field, value in latest.items():
        setattr(signal, field, value)
        data = _relabelled(data, field, value)
    signal.corrected = True
    data["corrections"] = list((item.analysis or {}).get("corrections", []))
    return data


def analyse_item(
    session: Session,
    *,
    item: m.Item,
    actor: Actor,
    context: AnalysisContext | None = None,
    now: datetime | None = None,
) -> m.Item:
    """Analyse one stored item, store the analysis and grade, link it, append ``radar.signal``.

    ``context`` lets a batch share one catalogue; without it the current one is loaded.
    Analysing again (after a weight edit) replaces the earlier analysis and reports anew.
    """
    require(actor, "update")
    context = context or AnalysisContext.load(session)
    source = session.get(m.Source, item.source_id)
    if source is None:
        raise NotFound("not_found", entity="radar_source", id=item.source_id)
    extra = item.extra or {}
    account: crm_models.Account | None = None
    if _int_or_none(extra.get("account_id")) is not None:
        account = lookups.get_account(session, int(extra["account_id"]))
    result = analyse(
        _item_text(item),
        catalogue=context.catalogue,
        dictionary=context.dictionary,
        weights=context.weights,
        # A message's own account weighs it; otherwise the first account the text names.
        industry=account.industry if account is not None else None,
        account_tier=account.tier if account is not None else None,
        reach=reach_of(source),
        polarity_model=context.polarity.scorer() if context.polarity is not None else None,
        polarity_model_name=context.polarity.name if context.polarity is not None else "",
    )
    data = result.as_dict()
    account, contact_id = _links(session, item, data["entities"])
    data["reach"] = reach_of(source)
    data["account_id"] = account.id if account is not None else None
    data["contact_id"] = contact_id
    now = now or utcnow()
    signal = session.get(m.Signal, item.id)
    if signal is None:
        signal = m.Signal(item_id=item.id, source_id=item.source_id)
        session.add(signal)
    signal.account_id = data["account_id"]
    signal.contact_id = contact_id
    signal.industry = result.industry
    signal.polarity = result.polarity.label
    signal.intent = result.intent.label
    signal.severity = result.grade.level
    signal.score = round(result.grade.score, 1)
    signal.corrected = False
    signal.analysed_at = now
    # A person's word outlasts the model's: analysing again (after a weight edit, a new
    # model) keeps each field a rep corrected, and the list of corrections with it.
    data = _keep_corrections(session, item, signal, data)
    item.analysis = data
    item.severity = signal.severity
    session.flush()
    append_event(
        session,
        type="radar.signal",
        entity="radar_item",
        entity_id=item.id,
        actor=actor.label,
        payload=signal_payload(item, signal, source),
        occurred_at=now,
    )
    return item


def pending_ids(session: Session, *, limit: int = 500) -> list[int]:
    """Ids of up to ``limit`` items with no analysis yet, oldest first."""
    return list(
        session.scalars(select(m.Item.id).where(m.Item.analysis.is_(None)).order_by(m.Item.id).limit(limit))
    )


def analyse_items(
    session: Session, *, actor: Actor, item_ids: list[int], now: datetime | None = None
) -> list[m.Item]:
    """Analyse these items with one shared catalogue; ids that do not exist are skipped.

    ``now`` stamps the analysis (the demo records its history at the demo's time)."""
    require(actor, "update")
    if not item_ids:
        return []
    context = AnalysisContext.load(session)
    done: list[m.Item] = []
    for item_id in item_ids:
        item = session.get(m.Item, item_id)
        if item is not None:
            done.append(analyse_item(session, item=item, actor=actor, context=context, now=now))
    return done


def analyse_pending(session: Session, *, actor: Actor, limit: int = 500, now: datetime | None = None) -> int:
    """Analyse up to ``limit`` items that have no analysis yet, oldest first; returns how many."""
    require(actor, "update")
    return len(analyse_items(session, actor=actor, item_ids=pending_ids(session, limit=limit), now=now))


# --- reading ----------------------------------------------------------------------------------


def _readable_clause(actor: Actor) -> ColumnElement[bool]:
    """Signals of accounts the actor may read (crm's scoping, not a copy), and unlinked public ones."""
    if actor.role is Role.admin:
        return true()
    accounts = readable_query(actor, spec_for("account")).with_only_columns(crm_models.Account.id)
    public = and_(
        m.Signal.account_id.is_(None),
        m.Signal.source_id.in_(select(m.Source.id).where(m.Source.kind != m.SourceKind.messages.value)),
    )
    return or_(m.Signal.account_id.in_(accounts.scalar_subquery()), public)


def readable_signals(actor: Actor) -> Select[m.Item, m.Signal]:
    """The statement every read of signals starts from: (item, signal) rows the actor may see."""
    require(actor, "read")
    return (
        select(m.Item, m.Signal).join(m.Signal, m.Signal.item_id == m.Item.id).where(_readable_clause(actor))
    )


def list_signals(
    session: Session,
    *,
    actor: Actor,
    severity: str | None = None,
    industry: str | None = None,
    source_id: int | None = None,
    account_id: int | None = None,
    polarity: str | None = None,
    intent: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[tuple[m.Item, m.Signal]]:
    """Graded signals the actor may see, most severe then newest first, with filters."""
    query = readable_signals(actor)
    if severity is not None:
        if severity not in m.SEVERITIES:
            raise InvalidInput.single("severity", "invalid", message=f"one of {', '.join(m.SEVERITIES)}")
        query = query.where(m.Signal.severity == severity)
    if polarity is not None:
        if polarity not in POLARITIES:
            raise InvalidInput.single("polarity", "invalid", message=f"one of {', '.join(POLARITIES)}")
        query = query.where(m.Signal.polarity == polarity)
    if intent is not None:
        if intent not in INTENT_LABELS:
            raise InvalidInput.single("intent", "invalid", message=f"one of {', '.join(INTENT_LABELS)}")
        query = query.where(m.Signal.intent == intent)
    if industry is not None:
        query = query.where(m.Signal.industry == industry)
    if source_id is not None:
        query = query.where(m.Signal.source_id == source_id)
    if account_id is not None:
        query = query.where(m.Signal.account_id == account_id)
    query = query.order_by(m.Signal.severity, m.Signal.analysed_at.desc(), m.Item.id.desc())
    rows = session.execute(query.limit(max(1, min(limit, 500))).offset(max(0, offset)))
    return [(item, signal) for item, signal in rows]


def signal_account_ids(session: Session) -> list[int]:
    """The accounts that have signals (the inbox's account filter; callers scope the names)."""
    query = select(m.Signal.account_id).where(m.Signal.account_id.is_not(None)).distinct()
    return [account_id for account_id in session.scalars(query) if account_id is not None]


def get_signal(session: Session, *, actor: Actor, item_id: int) -> tuple[m.Item, m.Signal]:
    """One signal the actor may see; a hidden one looks exactly like a missing one."""
    row = session.execute(readable_signals(actor).where(m.Item.id == item_id)).first()
    if row is None:
        raise NotFound("not_found", entity="radar_signal", id=item_id)
    return row[0], row[1]


# --- corrections ------------------------------------------------------------------------------


def _check_value(field: str, value: Any) -> str:
    allowed: tuple[str, ...] = {
        "polarity": POLARITIES,
        "intent": tuple(INTENT_LABELS),
        "severity": m.SEVERITIES,
    }.get(field, ())
    if not allowed:
        raise InvalidInput.single("field", "invalid", message=f"one of {', '.join(m.CORRECTABLE_FIELDS)}")
    if value not in allowed:
        raise InvalidInput.single("value", "invalid", message=f"one of {', '.join(allowed)}")
    return str(value)


def _relabelled(analysis: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    data = dict(analysis)
    if field == "polarity":
        data["polarity"] = {**data.get("polarity", {}), "label": value}
    elif field == "intent":
        data["intent"] = {**data.get("intent", {}), "label": value}
    else:
        data["grade"] = {**data.get("grade", {}), "level": value}
    return data


def _corrected_analysis(
    analysis: dict[str, Any], field: str, value: str, correction: dict[str, Any]
) -> dict[str, Any]:
    data = _relabelled(analysis, field, value)
    data["corrections"] = [*data.get("corrections", []), correction]
    return data


def correct_signal(
    session: Session,
    *,
    actor: Actor,
    item_id: int,
    field: str,
    value: str,
    note: str | None = None,
) -> m.Item:
    """A rep's correction of a signal's polarity, intent or severity (any radar writer who sees it).

    The analysis keeps the model's output under ``corrections[].before``; the signal's
    columns and the item's severity take the corrected value.
    """
    require(actor, "update")
    item, signal = get_signal(session, actor=actor, item_id=item_id)
    clean = _check_value(field, value)
    if note is not None and len(note) > 2000:
        raise InvalidInput.single("note", "invalid", message="at most 2000 characters")
    if item.analysis is None:
        raise Conflict("radar_not_analysed", id=item_id)
    before = str(getattr(signal, field))
    now = utcnow()
    correction = m.Correction(
        item_id=item.id,
        field=field,
        before=before,
        after=clean,
        note=note,
        user_id=actor.user_id,
        created_at=now,
    )
    session.add(correction)
    setattr(signal, field, clean)
    signal.corrected = True
    if field == "severity":
        item.severity = clean
    item.analysis = _corrected_analysis(
        item.analysis,
        field,
        clean,
        {"field": field, "before": before, "after": clean, "by": actor.label, "at": now.isoformat()},
    )
    session.flush()
    append_event(
        session,
        type="radar.signal_corrected",
        entity="radar_item",
        entity_id=item.id,
        actor=actor.label,
        payload={
            "field": field,
            "from": before,
            "to": clean,
            "note": note,
            "correction_id": correction.id,
            # before/after maps: the fold of the item's state, and "severity changed" rules
            "before": {field: before},
            "after": {field: clean},
        },
        occurred_at=now,
    )
    return item


def export_corrections(session: Session) -> list[dict[str, Any]]:
    """Training data: per corrected item and field, the text and the latest corrected label.

    Rows: ``{"item_id", "text", "lang", "field", "label", "model_label", "corrected_at"}``;
    ``radar train`` reads ``text`` and ``label`` (filter on ``field`` for one task).
    """
    rows = session.execute(
        select(m.Correction, m.Item).join(m.Item, m.Item.id == m.Correction.item_id).order_by(m.Correction.id)
    )
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for correction, item in rows:
        key = (item.id, correction.field)
        first = latest.get(key)
        latest[key] = {
            "item_id": item.id,
            "text": _item_text(item),
            "lang": item.lang,
            "field": correction.field,
            "label": correction.after,
            # what the model said before anyone corrected it (the first correction's before)
            "model_label": first["model_label"] if first else correction.before,
            "corrected_at": correction.created_at.isoformat(),
        }
    return list(latest.values())
