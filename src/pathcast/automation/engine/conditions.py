"""Values, stages and conditions: how the engine compares what a record holds with what a
rule expects. Pure: no database.

Values are normalised before comparing (``"20.00"`` equals 20, text ignores case and
surrounding spaces); stage values are matched by id, key, English or Chinese name, or
status class. A condition reads ``entity.field`` through a resolver, which raises
``Missing`` when the subject has no such related record; :func:`compile_condition` turns a
condition into a function once, for the matcher's hot path, and
:func:`evaluate_conditions` explains each check for the run's record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pathcast.automation.ir import Condition

STAGE_FIELDS = frozenset({"stage", "stage_id"})
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
}


# --- values ---------------------------------------------------------------------------------


def norm(value: Any) -> Any:
    """A value in the form comparisons use: numbers as ``Decimal`` (``"20.00"`` == 20),
    text case-folded and stripped, lists element-wise; ``None`` and booleans as they are."""
    kind = type(value)
    # Fast paths first, by exact type: this runs for every changed field of every event.
    if kind is str:
        text = value.strip()
        if text and (text[0].isdigit() or text[0] == "-") and _NUMBER.match(text):
            return Decimal(text)
        lowered = text.casefold()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        return lowered
    if kind is int:
        return Decimal(value)
    if value is None or kind is bool:
        return value
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(int(value))
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str):
        return norm(str(value))
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(norm(item) for item in value)
    return value


def accepted_values(value: Any) -> frozenset[Any] | None:
    """A trigger's ``from``/``to`` as a set of accepted normalised values (``None``: any)."""
    if value is None:
        return None
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(norm(item) for item in value)
    return frozenset({norm(value)})


def show(value: Any) -> str:
    """A value for a reason a person reads."""
    if value is None:
        return "(empty)"
    return str(value)


# --- stages ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageInfo:
    id: int
    key: str
    name: str
    name_zh: str | None
    status_class: str

    @property
    def label(self) -> str:
        """``赢单 (won)``: the Chinese name when there is one, and the key."""
        return f"{self.name_zh or self.name} ({self.key})"


class StageCatalog:
    """Stage ids by what a manager may call them: id, key, English or Chinese name, class."""

    def __init__(self, stages: Iterable[StageInfo] = ()) -> None:
        self.by_id: dict[int, StageInfo] = {stage.id: stage for stage in stages}

    def ids_for(self, value: Any) -> frozenset[int]:
        """Stages a rule's value names; a status class (``won``) names all its stages."""
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(stage_id for item in value for stage_id in self.ids_for(item))
        text = str(value).strip().casefold()
        exact = frozenset(
            stage.id
            for stage in self.by_id.values()
            if text
            in (str(stage.id), stage.key.casefold(), stage.name.casefold(), (stage.name_zh or "").casefold())
        )
        if exact:
            return exact
        return frozenset(stage.id for stage in self.by_id.values() if stage.status_class == text)

    def label(self, stage_id: Any) -> str:
        try:
            stage = self.by_id.get(int(stage_id))
        except (TypeError, ValueError):
            stage = None
        return stage.label if stage else f"stage #{stage_id}"

    def key(self, stage_id: Any) -> str | None:
        try:
            stage = self.by_id.get(int(stage_id))
        except (TypeError, ValueError):
            return None
        return stage.key if stage else None


# --- conditions -----------------------------------------------------------------------------


class Missing(Exception):
    """A condition's field cannot be resolved for this subject (no such related record)."""


FieldResolver = Callable[[str], Any]  # "account.tier" -> value, or raises Missing


def _as_number(value: Any) -> Decimal | None:
    normal = norm(value)
    return normal if isinstance(normal, Decimal) else None


def _ordered(left: Any, right: Any, op: str) -> bool:
    compare = COMPARISONS[op]
    a, b = _as_number(left), _as_number(right)
    if a is not None and b is not None:
        return compare(a, b)
    if left is None or right is None:
        return False
    # Dates and timestamps as ISO strings order correctly as text.
    return compare(str(left), str(right))


def condition_holds(condition: Condition, value: Any, catalog: StageCatalog | None = None) -> bool:
    """Whether ``value`` (the resolved field) satisfies ``condition``."""
    op, expected = condition.op, condition.value
    if op == "is_set":
        return value is not None and value != "" and value != []
    if op == "is_not_set":
        return value is None or value == "" or value == []
    if catalog is not None and _is_stage_path(condition.field) and op in ("eq", "ne", "in", "not_in"):
        inside = value is not None and _to_int(value) in catalog.ids_for(expected)
        return inside if op in ("eq", "in") else not inside
    if op in ("eq", "ne"):
        if isinstance(value, list):
            equal = norm(expected) in {norm(item) for item in value}
        else:
            equal = norm(value) == norm(expected)
        return equal if op == "eq" else not equal
    if op in ("in", "not_in"):
        options = expected if isinstance(expected, list | tuple | set) else [expected]
        inside = norm(value) in {norm(option) for option in options}
        return inside if op == "in" else not inside
    if op == "contains":
        if isinstance(value, list | tuple):
            return norm(expected) in {norm(item) for item in value}
        return value is not None and str(expected).casefold() in str(value).casefold()
    return _ordered(value, expected, op)


def _to_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_stage_path(path: str) -> bool:
    entity, _, name = path.rpartition(".")
    return entity in ("", "opportunity") and name in STAGE_FIELDS


@lru_cache(maxsize=4096)
def stage_path_field(path: str) -> str:
    """``opportunity.stage`` reads the record's ``stage_id``."""
    return "opportunity.stage_id" if _is_stage_path(path) else path


Check = Callable[[FieldResolver], bool]


def compile_condition(condition: Condition, catalog: StageCatalog | None = None) -> Check:
    """A condition as a function of a resolver, with its expected value normalised once."""
    path = stage_path_field(condition.field)
    op, expected = condition.op, condition.value
    stage = catalog is not None and _is_stage_path(condition.field)

    def read(resolve: FieldResolver) -> tuple[bool, Any]:
        try:
            return True, resolve(path)
        except Missing:
            return False, None

    if stage and op in ("eq", "ne", "in", "not_in"):
        assert catalog is not None
        ids = catalog.ids_for(expected)
        positive = op in ("eq", "in")

        def stage_check(resolve: FieldResolver) -> bool:
            found, value = read(resolve)
            return found and (value is not None and _to_int(value) in ids) == positive

        return stage_check
    if op in ("eq", "ne", "in", "not_in"):
        options = (
            frozenset(norm(option) for option in expected)
            if op in ("in", "not_in") and isinstance(expected, list | tuple | set)
            else frozenset({norm(expected)})
        )
        positive = op in ("eq", "in")

        def equality(resolve: FieldResolver) -> bool:
            found, value = read(resolve)
            if not found:
                return False
            if type(value) is list and op in ("eq", "ne"):
                inside = any(norm(item) in options for item in value)
            else:
                inside = norm(value) in options
            return inside == positive

        return equality
    if op in ("gt", "gte", "lt", "lte"):
        compare = COMPARISONS[op]
        threshold = _as_number(expected)

        def ordered(resolve: FieldResolver) -> bool:
            found, value = read(resolve)
            if not found:
                return False
            number = norm(value)
            if threshold is not None and isinstance(number, Decimal):
                return bool(compare(number, threshold))
            return _ordered(value, expected, op)

        return ordered

    def general(resolve: FieldResolver) -> bool:
        found, value = read(resolve)
        if not found:
            return op == "is_not_set"
        return condition_holds(condition, value, catalog)

    return general


def conditions_hold(
    conditions: Iterable[Condition], resolve: FieldResolver, catalog: StageCatalog | None = None
) -> bool:
    """Whether every condition holds: the fast path, with no explanations written."""
    for condition in conditions:
        try:
            value = resolve(stage_path_field(condition.field))
        except Missing:
            if condition.op != "is_not_set":
                return False
            value = None
        if not condition_holds(condition, value, catalog):
            return False
    return True


def evaluate_conditions(
    conditions: Iterable[Condition], resolve: FieldResolver, catalog: StageCatalog | None = None
) -> tuple[bool, list[str]]:
    """Check conditions in order; stop at the first that fails. Returns (passed, explanations)."""
    notes: list[str] = []
    for condition in conditions:
        try:
            value = resolve(stage_path_field(condition.field))
        except Missing as missing:
            value = None
            if condition.op != "is_not_set":
                notes.append(f"{condition.field}: {missing}")
                return False, notes
        shown = catalog.label(value) if catalog and _is_stage_path(condition.field) and value else show(value)
        held = condition_holds(condition, value, catalog)
        notes.append(
            f"{condition.field} = {shown} ({condition.op} {show(condition.value)}: {'yes' if held else 'no'})"
        )
        if not held:
            return False, notes
    return True, notes


def resolver_from_states(
    states: Mapping[str, Mapping[str, Any] | None], subject_entity: str | None
) -> FieldResolver:
    """A resolver over records already in hand (``{"opportunity": {...}, "account": {...}}``)."""

    def resolve(path: str) -> Any:
        entity, _, name = path.rpartition(".")
        state = states.get(entity or (subject_entity or ""))
        if state is None:
            raise Missing(f"no {entity or subject_entity} for this record")
        return state.get(name)

    return resolve
