"""Meaning: resolving the words of a parsed sentence against the vocabulary.

``Context`` carries what one compilation knows (the text, the language, the vocabulary,
the record the rule is about, the people mentioned so far, warnings) and resolves fields,
values, people and pronouns. Every refusal is a ``CompileError`` pointing at the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pathcast.automation.ir import Recipient, format_duration
from pathcast.automation.language import catalog as c
from pathcast.automation.language.errors import CompileError, rank_suggestions
from pathcast.automation.language.lexer import Lexeme, Lexicon, normalise
from pathcast.automation.language.parser import Node
from pathcast.automation.language.vocabulary import FieldInfo, Vocabulary

NEGATE = {"gt": "lte", "gte": "lt", "lt": "gte", "lte": "gt", "eq": "ne", "ne": "eq"}


def iso_duration(value: dict[str, Any]) -> str:
    """ISO 8601 for a duration word, in the unit it was said in: "48小时" → PT48H (not P2D),
    "90 s" → PT90S, "一周" → P7D (the IR has no months; weeks are written as days)."""
    seconds = int(value["seconds"])
    unit = int(value.get("unit") or 0)
    if unit == 3600 and seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if unit == 60 and seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    if unit == 1:
        return f"PT{seconds}S"
    return format_duration(timedelta(seconds=seconds))


@dataclass
class Context:
    text: str
    lang: str
    vocabulary: Vocabulary
    lexicon: Lexicon
    warnings: list[str] = field(default_factory=list)
    # the record the rule is about (the trigger's entity), once known
    subject: str | None = None
    # people named so far, in order, as recipients (for pronouns)
    persons: list[Recipient] = field(default_factory=list)
    # a customer contact named so far (a person, but never a recipient)
    contact_mentioned: bool = False

    # --- messages ------------------------------------------------------------------------------

    def say(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    def warn(self, zh: str, en: str) -> None:
        self.warnings.append(self.say(zh, en))

    def error(
        self,
        code: str,
        where: Lexeme | Node | tuple[int, int] | None,
        zh: str,
        en: str,
        *,
        expected: list[str] | None = None,
        suggestions: list[str] | None = None,
    ) -> CompileError:
        if isinstance(where, Lexeme):
            span = (where.start, where.end)
        elif isinstance(where, Node):
            span = where.span
        elif where is None:
            span = (0, len(self.text))
        else:
            span = where
        return CompileError(
            code,
            span=span,
            message_zh=zh,
            message_en=en,
            expected=expected or [],
            suggestions=suggestions or [],
        )

    # --- display --------------------------------------------------------------------------------

    def entity_label(self, name: str) -> str:
        info = self.vocabulary.entity(name)
        if info is None:
            return name
        return info.label_zh if self.lang == "zh" else info.label_en

    def field_label(self, info: FieldInfo) -> str:
        return info.label_zh if self.lang == "zh" else info.label_en

    # --- records --------------------------------------------------------------------------------

    def subj_groups(self, node: Node | None) -> list[tuple[list[Lexeme], Lexeme]]:
        """A subject's (values, entity) groups: "战略客户的商机" → [([战略], 客户), ([], 商机)]."""
        groups: list[tuple[list[Lexeme], Lexeme]] = []
        if node is None:
            return groups
        values: list[Lexeme] = []
        for lexeme in node.lexemes():
            if lexeme.kind == "VALUE":
                values.append(lexeme)
            elif lexeme.kind == "ENTITY":
                groups.append((values, lexeme))
                values = []
        return groups

    @staticmethod
    def subjects(node: Node) -> list[Node]:
        """A phrase's subjects, before (``subj``) and after (``rsubj``) its field or verb."""
        return [item for item in node.items if isinstance(item, Node) and item.name in ("subj", "rsubj")]

    def head_entity(self, node: Node | None) -> str | None:
        groups = self.subj_groups(node)
        return self.entity_of(groups[-1][1]) if groups else None

    def entity_of(self, lexeme: Lexeme) -> str:
        names = lexeme.values("ENTITY")
        return str(names[0]) if names else str(lexeme.value)

    # --- fields and values ----------------------------------------------------------------------

    def resolve_field(self, lexeme: Lexeme, entity: str | None) -> FieldInfo:
        """The field a word names, on ``entity`` if given, else on the rule's record, else the
        word's preferred sense; a word shared by several records without context is ambiguous."""
        infos = [self.vocabulary.field(str(path)) for path in lexeme.values("FIELD")]
        candidates = [info for info in infos if info is not None]
        if entity is not None:
            on_entity = [info for info in candidates if info.entity == entity]
            if on_entity:
                return on_entity[0]
            names = self._fields_of(entity)
            raise self.error(
                "unknown_word",
                lexeme,
                f"{self.entity_label(entity)}没有“{lexeme.text}”这个字段。",
                f'A {self.entity_label(entity)} has no field "{lexeme.text}".',
                expected=names[:8],
                suggestions=rank_suggestions(lexeme.text, names),
            )
        if self.subject is not None:
            on_subject = [info for info in candidates if info.entity == self.subject]
            if on_subject:
                return on_subject[0]
        preferred = [info for info in candidates if info.preferred]
        if len(preferred) == 1 or (preferred and len({p.entity for p in preferred}) == 1):
            return preferred[0]
        if len(candidates) == 1:
            return candidates[0]
        options = [
            self.say(
                f"{self.entity_label(i.entity)}的{i.label_zh}",
                f"the {i.label_en} of a {self.entity_label(i.entity)}",
            )
            for i in candidates
        ]
        raise self.error(
            "ambiguous",
            lexeme,
            f"“{lexeme.text}”可以指好几个记录的字段，请说明是哪一个：{'、'.join(options)}。",
            f'"{lexeme.text}" is a field of several records; say which: {", ".join(options)}.',
            suggestions=options,
        )

    def _fields_of(self, entity: str) -> list[str]:
        info = self.vocabulary.entity(entity)
        if info is None:
            return []
        return [f.label_zh if self.lang == "zh" else f.label_en for f in info.fields]

    def value_for(self, info: FieldInfo, lexeme: Lexeme) -> Any:
        """A literal for ``info`` from a value word: a number, a picklist value, a stage key."""
        if lexeme.kind == "NUMBER":
            number = float(lexeme.value["number"])
            return int(number) if number.is_integer() else number
        if info.kind == "stage":
            stage = self._stage(lexeme)
            if stage is not None:
                return stage
            names = [s.name_zh or s.name if self.lang == "zh" else s.name for s in self.vocabulary.stages]
            raise self.error(
                "unknown_word",
                lexeme,
                f"没有名为“{lexeme.text}”的阶段。",
                f'There is no stage called "{lexeme.text}".',
                expected=names,
                suggestions=rank_suggestions(lexeme.text, names),
            )
        for path, value in (v for v in lexeme.values("VALUE") if isinstance(v, tuple)):
            if path == info.path:
                return self.industry_value(value) if path == "account.industry" else value
        if info.values:
            wanted = _plain(lexeme.value if lexeme.kind in ("QUOTED", "TEXT") else lexeme.text)
            for candidate in self.vocabulary.values:
                if candidate.field == info.path and wanted in {_plain(s) for s in candidate.surfaces}:
                    return candidate.value
            labels = [
                (v.label_zh if self.lang == "zh" else v.label_en)
                for v in self.vocabulary.values
                if v.field == info.path
            ]
            raise self.error(
                "invalid_value",
                lexeme,
                f"{self.field_label(info)}不能是“{lexeme.text}”，可选：{'、'.join(labels)}。",
                f'{self.field_label(info)} cannot be "{lexeme.text}"; it is one of: {", ".join(labels)}.',
                expected=labels,
                suggestions=rank_suggestions(lexeme.text, labels, cutoff=40),
            )
        if info.kind in ("money", "number", "percent"):
            raise self.error(
                "invalid_value",
                lexeme,
                f"{self.field_label(info)}需要一个数字。",
                f"{self.field_label(info)} takes a number.",
                expected=[self.say("数字", "a number")],
            )
        if lexeme.kind in ("QUOTED", "TEXT"):
            return str(lexeme.value)
        return lexeme.text

    def _stage(self, lexeme: Lexeme) -> str | None:
        keys = lexeme.values("STAGE")
        if keys:
            return str(keys[0])
        for path, value in (v for v in lexeme.values("VALUE") if isinstance(v, tuple)):
            if path == "opportunity.status" and self.vocabulary.stage(value):
                return str(value)
        wanted = _plain(str(lexeme.value) if lexeme.kind in ("QUOTED", "TEXT") else lexeme.text)
        for stage in self.vocabulary.stages:
            if wanted in {_plain(stage.key), _plain(stage.name), _plain(stage.name_zh or "")}:
                return stage.key
        if lexeme.kind == "EVENT" and lexeme.value in ("won", "lost"):
            match = next((s for s in self.vocabulary.stages if s.status_class == lexeme.value), None)
            return match.key if match else None
        return None

    def stage_of(self, lexeme: Lexeme) -> str | None:
        return self._stage(lexeme)

    def industry_value(self, value: str) -> Any:
        """A curated industry key as the live value(s) it covers, for a condition."""
        if value not in c.INDUSTRIES:
            return value
        live = self.vocabulary.live_industries(value)
        return live[0] if len(live) == 1 else (live or value)

    def value_condition(
        self, lexeme: Lexeme, entity: str | None, negated: bool = False
    ) -> tuple[str, str, Any]:
        """(field path, op, value) for a picklist word ("战略客户" → account.tier eq strategic)."""
        candidates = [v for v in lexeme.values("VALUE") if isinstance(v, tuple)]
        if entity is not None:
            own = [v for v in candidates if v[0].split(".")[0] == entity]
            candidates = own or candidates
        if not candidates:
            stage = self._stage(lexeme)
            if stage is not None:
                return "opportunity.stage", "ne" if negated else "eq", stage
            raise self.error(
                "unknown_word",
                lexeme,
                f"不知道“{lexeme.text}”指什么。",
                f'Do not know what "{lexeme.text}" means here.',
            )
        paths = list(dict.fromkeys(path for path, _ in candidates))
        if len(paths) > 1:
            preferred = [p for p in paths if p == "account.tier"]
            if not preferred:
                options = [f"{p}={v}" for p, v in candidates]
                raise self.error(
                    "ambiguous",
                    lexeme,
                    f"“{lexeme.text}”有几种意思，请说明字段：{'、'.join(options)}。",
                    f'"{lexeme.text}" could mean several things; name the field: {", ".join(options)}.',
                    suggestions=options,
                )
            paths = preferred
        path = paths[0]
        value = next(v for p, v in candidates if p == path)
        if path == "account.industry":
            value = self.industry_value(value)
            if isinstance(value, list):
                return path, "not_in" if negated else "in", value
        return path, "ne" if negated else "eq", value

    # --- people ---------------------------------------------------------------------------------

    def recipient(self, node: Node) -> Recipient:
        """A recipient node as a Recipient; pronouns only with a clear antecedent."""
        items = node.lexemes()
        if len(items) == 1:
            only = items[0]
            if only.kind == "EMAIL":
                return self._remember(Recipient(kind="user", value=only.text.strip()))
            if only.kind == "PRONOUN":
                return self._remember(self._pronoun(only))
            return self._remember(self._person(only))
        first, second = items[0], items[1]
        if first.kind == "PRONOUN":
            antecedent = self._antecedent(first, required=False)
            if antecedent is None:
                if second.kind == "RELATION":
                    # "its owner" / "他的负责人": the record's own relation, not a guess
                    return self._remember(self._person(second))
                raise self._unresolved(first)
            return self._remember(self._compose(antecedent.value, second, node))
        if first.kind == "ENTITY":
            return self._remember(self._compose(self.entity_of(first), second, node))
        return self._remember(self._compose(self._person(first).value, second, node))

    def _person(self, lexeme: Lexeme) -> Recipient:
        order = [("RELATION", "relation"), ("ROLE", "role")]
        order.sort(key=lambda pair: pair[0] != lexeme.kind)  # the word's primary sense first
        for kind, name in order:
            keys = lexeme.values(kind)
            if keys:
                return Recipient(kind=name, value=str(keys[0]))
        raise self.error(
            "unknown_word", lexeme, f"“{lexeme.text}”不是一个人。", f'"{lexeme.text}" is not a person.'
        )

    def _compose(self, base: str, second: Lexeme, node: Node) -> Recipient:
        for kind in ("RELATION", "ROLE"):
            for key in second.values(kind):
                composed = c.COMPOSED_RELATIONS.get((base, str(key)))
                if composed is not None:
                    return Recipient(kind="relation", value=composed)
        options = [self.say(label_zh, label_en) for label_zh, label_en, _ in c.RELATIONS.values()]
        raise self.error(
            "unknown_word",
            node,
            f"不知道“{self.text[node.span[0] : node.span[1]]}”是谁。",
            f'Do not know who "{self.text[node.span[0] : node.span[1]]}" is.',
            expected=options,
            suggestions=rank_suggestions(self.text[node.span[0] : node.span[1]], options, cutoff=30),
        )

    def _remember(self, recipient: Recipient) -> Recipient:
        if recipient not in self.persons:
            self.persons.append(recipient)
        return recipient

    def note_person(self, recipient: Recipient) -> None:
        self._remember(recipient)

    def _antecedent(self, pronoun: Lexeme, *, required: bool = True) -> Recipient | None:
        distinct = list(dict.fromkeys((p.kind, p.value) for p in self.persons))
        if len(distinct) == 1:
            kind, value = distinct[0]
            return Recipient(kind=kind, value=value)
        if required:
            raise self._unresolved(pronoun)
        return None

    def _pronoun(self, pronoun: Lexeme) -> Recipient:
        antecedent = self._antecedent(pronoun, required=False)
        if antecedent is not None:
            return antecedent
        raise self._unresolved(pronoun)

    def _unresolved(self, pronoun: Lexeme) -> CompileError:
        suggestions = []
        for key in c.PRONOUN_SUGGESTIONS:
            label_zh, label_en, _ = c.RELATIONS[key]
            suggestions.append(
                f"{label_zh} ({label_en.removeprefix('the ')})" if self.lang == "zh" else label_en
            )
        named = [f"{p.kind}:{p.value}" for p in self.persons]
        if self.contact_mentioned and not self.persons:
            zh = f"“{pronoun.text}”像是指客户的联系人，但规则只能通知同事；请写明通知谁，例如“负责人”。"
            en = (
                f'"{pronoun.text}" seems to be the customer contact, but rules notify colleagues; '
                'say whom to notify, for example "the owner".'
            )
        elif len(named) > 1:
            zh = f"“{pronoun.text}”可以指前面提到的几个人，请直接写明是谁。"
            en = f'"{pronoun.text}" could be any of the people named before; say who.'
        else:
            zh = f"“{pronoun.text}”指的是谁？规则不会猜，请写明，例如“负责人”。"
            en = f'Who is "{pronoun.text}"? Rules do not guess; name the person, for example "the owner".'
        return self.error(
            "unresolved_pronoun",
            pronoun,
            zh,
            en,
            expected=[self.say("一个职位或相关人员", "a position or a related person")],
            suggestions=suggestions,
        )

    def record_antecedent(self, pronoun: Lexeme) -> str:
        """What a pronoun in a record slot ("tag them") means: the rule's record."""
        if self.subject is None:
            raise self.error(
                "unresolved_pronoun",
                pronoun,
                f"“{pronoun.text}”指哪条记录？请写明，例如“该联系人”。",
                f'Which record is "{pronoun.text}"? Name it, for example "the contact".',
                suggestions=[self.entity_label(e) for e in c.TAGGABLE],
            )
        return self.subject

    def people_suggestions(self) -> list[str]:
        labels = [self.say(p.label_zh, p.label_en) for p in self.vocabulary.people]
        return labels[:8]


def _plain(text: str) -> str:
    norm, _ = normalise(text)
    return re.sub(r"[\s_\-]+", "", norm)
