"""Matching: which enabled rules an event fires, at a cost per event of O(rules that can match).

Pure: no database, no clock. The live engine (``outbox``), the dry-run and the benchmark
all feed events through :class:`RuleIndex` and :func:`evaluate_conditions`, so what a
dry-run shows is what the engine would do.

The index keys every event-driven rule by what an event must carry to concern it:

- ``record_event``: by event type. ``opportunity.won`` is the literal type ``change_stage``
  appends; a record entering a status is derived (``contract.signed`` = a contract whose
  ``status`` becomes ``active``, ``quote.accepted`` = a quote whose status becomes
  ``accepted``) from ``<entity>.updated`` / ``<entity>.created``.
- ``record_changed``: by ``(entity, field)``, looked up for each field in the event's
  ``after`` map when it also has a ``before`` map (a change, not a creation). Stage moves
  carry ``stage_id`` in both maps, so ``opportunity.stage`` rules match them; stage values
  are matched by id, key, English or Chinese name, or status class.
- ``metric``: by ``(entity, metric)`` for events typed ``metric.*`` whose payload holds
  ``{"metric", "value", "previous"?}``, and likewise for ``forecast.*`` events whose payload
  has a ``metric`` (``forecast.renewal_risk``, ``forecast.deal_risk_changed``), and
  ``hive.health_changed`` (``{"metric": "hive_health", "value", "previous"}``). A metric rule
  fires when the value *crosses* the threshold: it satisfies it now and the previous value
  (when given) did not.
- ``signal``: events typed ``radar.signal`` with ``{"keywords"|"keyword", "text",
  "industry", "polarity", "severity"}``; a rule's severity is a floor (P2 matches P1 and P2).

``behaviour`` and ``schedule`` rules are not driven by the event log; they are indexed
here (by asset, and as a list) for their own loops in ``behaviour`` and ``schedule``.
Values, stages and conditions are in ``conditions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

# Conditions and values live beside the matcher; importing them from here keeps one door.
from pathcast.automation.engine.conditions import (
    COMPARISONS,
    STAGE_FIELDS,
    Check,
    FieldResolver,
    Missing,
    StageCatalog,
    StageInfo,
    accepted_values,
    compile_condition,
    condition_holds,
    conditions_hold,
    evaluate_conditions,
    norm,
    resolver_from_states,
    show,
)
from pathcast.automation.ir import (
    BehaviourTrigger,
    Condition,
    MetricTrigger,
    RecordChangedTrigger,
    RecordEventTrigger,
    RuleIR,
    ScheduleTrigger,
    SignalTrigger,
)
from pathcast.automation.language.catalog import canonical_industry

# A record "entering" a status, under another name than the status value itself.
STATUS_SYNONYMS: dict[str, str] = {
    "contract.signed": "active",
    "contract.activated": "active",
    "contract.started": "active",
    "quote.approved": "accepted",
    "ticket.closed": "closed",
    "ticket.resolved": "resolved",
}
SEVERITY_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


class EventLike(Protocol):
    """What the matcher reads of an event: the ORM ``Event`` or an in-memory fact."""

    @property
    def id(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def entity(self) -> str: ...
    @property
    def entity_id(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def occurred_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Fact:
    """An event held in memory (benchmark, tests): the fields the matcher reads."""

    id: int
    type: str
    entity: str
    entity_id: str
    payload: dict[str, Any]
    occurred_at: datetime


# --- rules ----------------------------------------------------------------------------------


@dataclass(slots=True)
class CompiledRule:
    """An enabled rule at its current version, with its conditions split by cost."""

    rule_id: int
    version: int
    name: str
    ir: RuleIR
    # events with an id up to this one predate the enabling: they never fire the rule
    enabled_from_event_id: int = 0
    # when it was enabled: behaviour counts only views from then on
    enabled_at: datetime | None = None
    owner_id: int | None = None
    local_conditions: list[Condition] = field(default_factory=list)
    checks: list[Condition] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.local_conditions = [c for c in self.ir.conditions if not c.connector]
        self.checks = [c for c in self.ir.conditions if c.connector]


class Candidate:
    """A rule whose trigger an event (view, timer) matched; its conditions are still to check.

    The reason is written only when someone reads it (most candidates of a busy stream
    are dropped by their conditions, and formatting is the costliest part of a match)."""

    __slots__ = ("_describe", "_event", "_reason", "fire_key", "rule", "subject_entity", "subject_id")

    def __init__(
        self,
        rule: CompiledRule,
        fire_key: str,
        reason: str | None,
        subject_entity: str | None,
        subject_id: str | None,
        *,
        event: EventLike | None = None,
        describe: Describe | None = None,
    ) -> None:
        self.rule = rule
        self.fire_key = fire_key
        self._reason = reason
        self._event = event
        self._describe = describe
        self.subject_entity = subject_entity
        self.subject_id = subject_id

    @property
    def reason(self) -> str:
        if self._reason is None:
            assert self._describe is not None and self._event is not None
            self._reason = self._describe(self._event)
        return self._reason


Test = Callable[[EventLike], bool]
Describe = Callable[[EventLike], str]
# One indexed rule: the rule, what else the event must satisfy (None: nothing), its reason.
Entry = tuple[CompiledRule, Test | None, Describe]
Predicate = Callable[[EventLike], str | None]  # the reason, or None when it does not match


def _record_label(event: EventLike) -> str:
    return f"{event.entity} #{event.entity_id}"


class _FieldRules:
    """The rules on one (entity, field): by the value the field changes *to*, and the rest."""

    __slots__ = ("any", "by_to", "stage")

    def __init__(self, stage: bool) -> None:
        self.stage = stage
        self.any: list[Entry] = []
        self.by_to: dict[Any, list[Entry]] = {}


def _changed_entry(
    rule: CompiledRule, trigger: RecordChangedTrigger, catalog: StageCatalog
) -> tuple[str, str, bool, list[Any] | None, Entry]:
    """(entity, field, is stage, the ``to`` keys or None for any, the entry)."""
    entity = trigger.entity
    is_stage = entity == "opportunity" and trigger.field in STAGE_FIELDS
    field_name = "stage_id" if is_stage else trigger.field
    if is_stage:
        from_ids = catalog.ids_for(trigger.from_) if trigger.from_ is not None else None
        to_keys: list[Any] | None = sorted(catalog.ids_for(trigger.to)) if trigger.to is not None else None

        def moved_from(event: EventLike) -> bool:
            return event.payload["before"].get("stage_id") in from_ids  # type: ignore[operator]

        def stage_moved(event: EventLike) -> str:
            before = event.payload["before"].get("stage_id")
            after = event.payload["after"].get("stage_id")
            return f"{_record_label(event)} moved from {catalog.label(before)} to {catalog.label(after)}"

        return (
            entity,
            field_name,
            True,
            to_keys,
            (rule, moved_from if from_ids is not None else None, stage_moved),
        )

    from_values, to_values = accepted_values(trigger.from_), accepted_values(trigger.to)

    def changed_from(event: EventLike) -> bool:
        return norm(event.payload["before"].get(field_name)) in from_values  # type: ignore[operator]

    def changed(event: EventLike) -> str:
        raw_before = event.payload["before"].get(field_name)
        raw_after = event.payload["after"].get(field_name)
        return f"{_record_label(event)}: {field_name} changed from {show(raw_before)} to {show(raw_after)}"

    keys = sorted(to_values, key=repr) if to_values is not None else None
    return entity, field_name, False, keys, (rule, changed_from if from_values is not None else None, changed)


def _describe_literal(catalog: StageCatalog) -> Describe:
    def literal(event: EventLike) -> str:
        to_stage = event.payload.get("to_stage") if isinstance(event.payload, dict) else None
        if to_stage is not None:
            stage_id = (event.payload.get("after") or {}).get("stage_id")
            label = catalog.label(stage_id) if stage_id is not None else str(to_stage)
            return f"{_record_label(event)} moved to {label} ({event.type})"
        return f"{_record_label(event)}: {event.type}"

    return literal


def _describe_entered(status: str, name: str) -> Describe:
    def entered(event: EventLike) -> str:
        verb = "created as" if event.type.endswith(".created") else "became"
        return f"{_record_label(event)} {verb} {status} ({name})"

    return entered


def _status_predicate(status: str, name: str, *, created: bool) -> Predicate:
    """For ``unless``: whether an event is the record entering ``status``, and why."""
    wanted = norm(status)
    describe = _describe_entered(status, name)

    def entered(event: EventLike) -> str | None:
        payload = event.payload
        after = payload.get("after")
        if not isinstance(after, dict) or norm(after.get("status")) != wanted:
            return None
        if not created:
            before = payload.get("before")
            if not isinstance(before, dict) or "status" not in before or norm(before["status"]) == wanted:
                return None
        return describe(event)

    return entered


def _metric_entry(rule: CompiledRule, trigger: MetricTrigger) -> Entry:
    compare = COMPARISONS[trigger.op]
    threshold = Decimal(str(trigger.value))

    def satisfied(raw: Any) -> bool:
        value = norm(raw)
        return isinstance(value, Decimal) and compare(value, threshold)

    def crossed(event: EventLike) -> bool:
        payload = event.payload
        if not satisfied(payload.get("value")):
            return False
        previous = payload.get("previous")
        return previous is None or not satisfied(previous)  # already beyond it: not a crossing

    def describe(event: EventLike) -> str:
        payload = event.payload
        return (
            f"{_record_label(event)}: {trigger.metric} = {show(payload.get('value'))} "
            f"({trigger.op} {show(trigger.value)}, was {show(payload.get('previous'))})"
        )

    return rule, crossed, describe


def _metric_shaped(event_type: str, payload: dict[str, Any]) -> bool:
    """``metric.*`` events, and the forecast's (``forecast.renewal_risk``…) and the hives'
    (``hive.health_changed``) that carry a metric: all are matched by metric rules,
    crossing included."""
    if event_type.startswith("metric."):
        return True
    if event_type == "hive.health_changed":
        return bool(payload.get("metric"))
    return event_type.startswith("forecast.") and bool(payload.get("metric"))


def _signal_entry(rule: CompiledRule, trigger: SignalTrigger) -> Entry:
    keyword = trigger.keyword.casefold() if trigger.keyword else None
    industry = canonical_industry(trigger.industry)
    floor = SEVERITY_RANK[trigger.severity] if trigger.severity else None

    def graded(event: EventLike) -> bool:
        payload = event.payload
        if trigger.polarity is not None and payload.get("polarity") != trigger.polarity:
            return False
        if industry is not None and canonical_industry(str(payload.get("industry") or "")) != industry:
            return False
        if floor is not None and SEVERITY_RANK.get(str(payload.get("severity")), 99) > floor:
            return False
        if keyword is not None:
            words = payload.get("keywords") or ([payload["keyword"]] if payload.get("keyword") else [])
            in_words = any(str(word).casefold() == keyword for word in words)
            if not in_words and keyword not in str(payload.get("text") or "").casefold():
                return False
        return True

    def describe(event: EventLike) -> str:
        payload = event.payload
        parts = [
            str(payload.get(key))
            for key in ("severity", "polarity", "industry")
            if payload.get(key) is not None
        ]
        about = trigger.keyword or payload.get("keyword") or "signal"
        return f"radar signal “{about}” ({', '.join(parts) or 'ungraded'}) on {_record_label(event)}"

    return rule, graded, describe


def _status_of(name: str) -> tuple[str, str]:
    """``contract.signed`` → (``contract``, ``active``): the status a business event stands for."""
    entity, _, word = name.partition(".")
    return entity, STATUS_SYNONYMS.get(name, word)


def record_event_predicates(name: str, catalog: StageCatalog) -> list[tuple[str, Predicate]]:
    """The event types (with their test) that mean the business event ``name`` happened:
    the literal type, and the record's entering the status the name stands for."""
    literal = _describe_literal(catalog)
    found: list[tuple[str, Predicate]] = [(name, literal)]
    entity, status = _status_of(name)
    for source, created in ((f"{entity}.updated", False), (f"{entity}.created", True)):
        if source != name:
            found.append((source, _status_predicate(status, name, created=created)))
    return found


class RuleIndex:
    """Enabled rules keyed by what an event must carry to concern them."""

    def __init__(self, rules: Iterable[CompiledRule], catalog: StageCatalog | None = None) -> None:
        self.catalog = catalog or StageCatalog()
        self.rules: dict[int, CompiledRule] = {}
        self._checks: dict[int, list[Check]] = {}
        self.by_type: dict[str, list[Entry]] = {}
        # entity -> field -> rules by the value it changes to
        self.changed: dict[str, dict[str, _FieldRules]] = {}
        # entity -> normalised status -> (rule, business event name): records entering a status
        self.entered: dict[str, dict[Any, list[tuple[CompiledRule, Describe]]]] = {}
        self.metrics: dict[tuple[str, str], list[Entry]] = {}
        self.signals: list[Entry] = []
        self.behaviour: list[CompiledRule] = []
        self.schedules: list[CompiledRule] = []
        for rule in rules:
            self.add(rule)

    def __len__(self) -> int:
        return len(self.rules)

    def event_rules(self) -> list[CompiledRule]:
        """The rules the event log drives (not behaviour windows or timers)."""
        other = {rule.rule_id for rule in self.behaviour} | {rule.rule_id for rule in self.schedules}
        return [rule for rule in self.rules.values() if rule.rule_id not in other]

    def holds(self, rule: CompiledRule, resolve: FieldResolver) -> bool:
        """Whether the rule's local conditions hold (compiled once per index): the fast path."""
        for check in self._checks[rule.rule_id]:  # noqa: SIM110 - a plain loop: no generator per call
            if not check(resolve):
                return False
        return True

    def add(self, rule: CompiledRule) -> None:
        self.rules[rule.rule_id] = rule
        self._checks[rule.rule_id] = [compile_condition(c, self.catalog) for c in rule.local_conditions]
        trigger = rule.ir.trigger
        if isinstance(trigger, RecordChangedTrigger):
            entity, field_name, stage, to_keys, entry = _changed_entry(rule, trigger, self.catalog)
            rules = self.changed.setdefault(entity, {}).setdefault(field_name, _FieldRules(stage))
            if to_keys is None:
                rules.any.append(entry)
            for key in to_keys or ():
                rules.by_to.setdefault(key, []).append(entry)
        elif isinstance(trigger, RecordEventTrigger):
            name = trigger.event
            self.by_type.setdefault(name, []).append((rule, None, _describe_literal(self.catalog)))
            entity, status = _status_of(name)
            if name not in (f"{entity}.updated", f"{entity}.created"):
                by_status = self.entered.setdefault(entity, {})
                by_status.setdefault(norm(status), []).append((rule, _describe_entered(status, name)))
        elif isinstance(trigger, MetricTrigger):
            key = (trigger.entity.casefold(), trigger.metric.casefold())
            self.metrics.setdefault(key, []).append(_metric_entry(rule, trigger))
        elif isinstance(trigger, SignalTrigger):
            self.signals.append(_signal_entry(rule, trigger))
        elif isinstance(trigger, BehaviourTrigger):
            self.behaviour.append(rule)
        elif isinstance(trigger, ScheduleTrigger):
            self.schedules.append(rule)

    def match(self, event: EventLike) -> list[Candidate]:
        """The rules whose trigger this event matches (conditions not yet checked)."""
        found: list[Candidate] = []
        event_type = event.type
        entries = self.by_type.get(event_type)
        if entries:
            self._collect(found, entries, event)
        payload = event.payload
        if self.changed:
            by_field = self.changed.get(event.entity)
            if by_field:
                before, after = payload.get("before"), payload.get("after")
                if isinstance(before, dict) and isinstance(after, dict):
                    for name, raw_after in after.items():
                        rules = by_field.get(name)
                        if rules is None or name not in before:
                            continue
                        raw_before = before[name]
                        if rules.stage:
                            if raw_before == raw_after:
                                continue
                            key = raw_after
                        else:
                            key = norm(raw_after)
                            if key == norm(raw_before):
                                continue
                        if rules.any:
                            self._collect(found, rules.any, event)
                        targeted = rules.by_to.get(key)
                        if targeted:
                            self._collect(found, targeted, event)
        if self.entered:
            self._entered(found, event, event_type, payload)
        if self.metrics and _metric_shaped(event_type, payload):
            metric = str(payload.get("metric") or event_type[len("metric.") :]).casefold()
            entity = str(payload.get("entity") or event.entity).casefold()
            entries = self.metrics.get((entity, metric))
            if entries:
                self._collect(found, entries, event)
        if self.signals and event_type == "radar.signal":
            self._collect(found, self.signals, event)
        if len(found) > 1:
            # One fire per rule and event, whichever way it matched.
            unique: dict[int, Candidate] = {}
            for candidate in found:
                unique.setdefault(candidate.rule.rule_id, candidate)
            found = list(unique.values())
        return found

    def _entered(
        self, found: list[Candidate], event: EventLike, event_type: str, payload: dict[str, Any]
    ) -> None:
        entity, _, action = event_type.partition(".")
        if action not in ("updated", "created"):
            return
        by_status = self.entered.get(entity)
        after = payload.get("after")
        if by_status is None or not isinstance(after, dict) or "status" not in after:
            return
        status = norm(after["status"])
        rules = by_status.get(status)
        if not rules:
            return
        if action == "updated":
            before = payload.get("before")
            if not isinstance(before, dict) or "status" not in before or norm(before["status"]) == status:
                return
        event_id = event.id
        for rule, describe in rules:
            if event_id > rule.enabled_from_event_id:
                found.append(
                    Candidate(
                        rule,
                        f"event:{event_id}",
                        None,
                        event.entity,
                        event.entity_id,
                        event=event,
                        describe=describe,
                    )
                )

    @staticmethod
    def _collect(found: list[Candidate], entries: list[Entry], event: EventLike) -> None:
        event_id = event.id
        for rule, test, describe in entries:
            if event_id <= rule.enabled_from_event_id:
                continue
            if test is None or test(event):
                found.append(
                    Candidate(
                        rule,
                        f"event:{event_id}",
                        None,
                        event.entity,
                        event.entity_id,
                        event=event,
                        describe=describe,
                    )
                )


__all__ = [
    "STAGE_FIELDS",
    "Candidate",
    "Check",
    "CompiledRule",
    "EventLike",
    "Fact",
    "FieldResolver",
    "Missing",
    "RuleIndex",
    "StageCatalog",
    "StageInfo",
    "compile_condition",
    "condition_holds",
    "conditions_hold",
    "evaluate_conditions",
    "norm",
    "record_event_predicates",
    "resolver_from_states",
    "show",
]
