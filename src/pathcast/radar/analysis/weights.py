"""The business weight of a topic in an industry: 0 (ignore) … 1 (routine) … 3 (critical).

交付延迟 is critical (3) for a manufacturer, whose line stops, and routine (1) for a
consultancy, whose deliverables slip by days. The packaged table
(``data/weights.json``) is a starting point that admins edit: a :class:`WeightTable`
is a dict in and a dict out, validated on the way in.

An account's industry is free text ("工业自动化 Industrial automation"); it is resolved
to an industry key through that industry's key, labels and aliases (case-insensitive,
whole alias contained in the text; the longest alias wins).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

from pathcast.errors import InvalidInput
from pathcast.radar.analysis.lexicon import load_json, normalise

MIN_WEIGHT = 0.0
MAX_WEIGHT = 3.0


def _invalid(field_name: str, en: str, zh: str) -> InvalidInput:
    return InvalidInput.single(field_name, "invalid", message=f"{field_name}: {en} / {zh}")


def _check_weight(field_name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(
            field_name, f"expected a number 0–3, got {value!r}", f"应为 0–3 的数字，实际为 {value!r}"
        )
    if not MIN_WEIGHT <= value <= MAX_WEIGHT:
        raise _invalid(field_name, f"{value} is outside 0–3", f"{value} 超出 0–3 范围")
    return float(value)


class WeightTable:
    """Industry × topic → weight, with a default for pairs the table does not list."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Build from the file shape ``{"default_weight", "industries": {key: {"label",
        "aliases", "weights": {topic: weight}}}}``; raises
        :class:`~pathcast.errors.InvalidInput` naming the field at fault
        (``industries.manufacturing.weights.price``)."""
        self._data = self._validated(data)

    @classmethod
    def default(cls) -> WeightTable:
        """The packaged table (a fresh copy: editing it changes nothing shared)."""
        return cls(load_json("weights.json"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightTable:
        """Same as the constructor; reads better at call sites."""
        return cls(data)

    @staticmethod
    def _validated(data: Mapping[str, Any]) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise _invalid("weights", "expected an object", "应为对象")
        default = _check_weight("default_weight", data.get("default_weight", 1))
        raw_industries = data.get("industries", {})
        if not isinstance(raw_industries, Mapping):
            raise _invalid("industries", "expected an object keyed by industry", "应为以行业为键的对象")
        industries: dict[str, Any] = {}
        for key, raw in raw_industries.items():
            where = f"industries.{key}"
            if not isinstance(key, str) or not key.strip():
                raise _invalid(where, "an industry key must be a non-empty text", "行业键应为非空文本")
            if not isinstance(raw, Mapping):
                raise _invalid(where, "expected an object", "应为对象")
            label = raw.get("label") or {}
            if not isinstance(label, Mapping):
                raise _invalid(f"{where}.label", "expected {zh, en}", "应为 {zh, en}")
            aliases = raw.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise _invalid(f"{where}.aliases", "expected a list of texts", "应为文本列表")
            weights = raw.get("weights", {})
            if not isinstance(weights, Mapping):
                raise _invalid(
                    f"{where}.weights", "expected an object keyed by topic", "应为以主题为键的对象"
                )
            industries[key] = {
                "label": {"zh": str(label.get("zh") or key), "en": str(label.get("en") or key)},
                "aliases": list(aliases),
                "weights": {
                    str(topic): _check_weight(f"{where}.weights.{topic}", value)
                    for topic, value in weights.items()
                },
            }
        return {"default_weight": default, "industries": industries}

    def as_dict(self) -> dict[str, Any]:
        """The table in its file shape (a copy, for editing and saving)."""
        return copy.deepcopy(self._data)

    @property
    def default_weight(self) -> float:
        """The weight of a pair the table does not list."""
        return float(self._data["default_weight"])

    def industries(self) -> list[str]:
        """The industry keys, in table order."""
        return list(self._data["industries"])

    def label(self, industry: str) -> dict[str, str]:
        """The zh/en label of an industry key (the key itself when unknown)."""
        entry = self._data["industries"].get(industry)
        return dict(entry["label"]) if entry else {"zh": industry, "en": industry}

    def set(self, industry: str, topic: str, weight: float) -> None:
        """Set one cell (adding the industry when new); the weight must be 0–3."""
        value = _check_weight(f"industries.{industry}.weights.{topic}", weight)
        entry = self._data["industries"].setdefault(
            industry, {"label": {"zh": industry, "en": industry}, "aliases": [], "weights": {}}
        )
        entry["weights"][topic] = value

    def resolve_industry(self, industry: str | None) -> str | None:
        """The industry key that free text names, or ``None``.

        "manufacturing" and "制造业" name themselves; "工业自动化 Industrial automation"
        resolves through aliases. The longest matching key, label or alias wins.
        """
        if not industry or not industry.strip():
            return None
        text = normalise(industry)
        best: tuple[int, str] | None = None
        for key, entry in self._data["industries"].items():
            for name in (key, entry["label"]["zh"], entry["label"]["en"], *entry["aliases"]):
                form = normalise(name).strip()
                if form and form in text and (best is None or len(form) > best[0]):
                    best = (len(form), key)
        return best[1] if best else None

    def weight(self, industry: str | None, topic: str, default: float | None = None) -> float:
        """The weight of ``topic`` for ``industry`` (a key or free text).

        An unknown industry or a topic the industry does not list gets ``default``, or
        the table's default weight when ``default`` is not given.
        """
        fallback = self.default_weight if default is None else default
        key = self.resolve_industry(industry)
        if key is None:
            return fallback
        return float(self._data["industries"][key]["weights"].get(topic, fallback))
