"""A manager's sentence → the typed rule IR, with a read-back in both languages.

``compile_rule`` lexes (lexer.py), parses (parser.py, grammar.lark) and then gives the
phrases their meaning here: which one is the trigger, which are conditions, what the
wait is, and (steps.py) the actions. Nothing is guessed about people: a pronoun needs a
clear antecedent. Every refusal is a ``CompileError`` pointing at the words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from pathcast.automation.ir import (
    Condition,
    EventMatch,
    RecordChangedTrigger,
    RuleIR,
    Source,
    Wait,
)
from pathcast.automation.language.errors import CompileError
from pathcast.automation.language.lexer import Lexeme, lex, lexicon_for
from pathcast.automation.language.parser import Node, parse
from pathcast.automation.language.readback import readback
from pathcast.automation.language.semantics import Context, iso_duration
from pathcast.automation.language.steps import build_actions
from pathcast.automation.language.triggers import Triggers
from pathcast.automation.language.vocabulary import Vocabulary

MAX_TEXT = 2000
CLAUSES = frozenset(
    {
        "value_c",
        "event_c",
        "milestone_c",
        "compare_c",
        "connector_c",
        "behaviour_c",
        "signal_c",
        "schedule_c",
        "metric_c",
    }
)
ACTIONS = frozenset(
    {"notify", "create", "tag", "push", "webhook", "approval", "confirm", "add_member", "gen_plan"}
)
VALUE_KINDS = ("VALUE", "STAGE", "NUMBER", "QUOTED", "TEXT", "EVENT", "ENTITY")


@dataclass
class CompileResult:
    """The compiled rule, what it says in plain Chinese and English, and any caveats."""

    ir: RuleIR
    readback_zh: str
    readback_en: str
    warnings: list[str] = field(default_factory=list)


def compile_rule(text: str, lang: Literal["zh", "en"], vocabulary: Vocabulary) -> CompileResult:
    """Compile one sentence (zh or en) against a vocabulary; raises ``CompileError``."""
    if lang not in ("zh", "en"):
        raise ValueError(f"lang must be 'zh' or 'en', not {lang!r}")
    if not text or not text.strip():
        raise CompileError(
            "empty",
            span=(0, len(text or "")),
            message_zh="请输入一句规则。",
            message_en="Type a rule sentence.",
        )
    if len(text) > MAX_TEXT:
        raise CompileError(
            "unsupported",
            span=(MAX_TEXT, len(text)),
            message_zh=f"规则太长了（最多 {MAX_TEXT} 个字符），请拆成几条。",
            message_en=f"The rule is too long (at most {MAX_TEXT} characters); split it.",
        )
    lexicon = lexicon_for(vocabulary, lang)
    lexemes = lex(text, lang, vocabulary)
    if not lexemes:
        raise CompileError(
            "incomplete",
            span=(0, len(text)),
            message_zh="这句话里没有规则。",
            message_en="There is no rule in this sentence.",
        )
    tree = parse(lexemes, lang, lexicon, text)
    context = Context(text, lang, vocabulary, lexicon)
    try:
        ir = _Builder(context).build(tree)
    except ValidationError as error:
        # a value outside what the IR allows (a 3-day dwell, 5000 views): say which
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem.get("loc", ()))
        raise CompileError(
            "invalid_value",
            span=(0, len(text)),
            message_zh=f"规则里有一个值超出范围（{where}）：{problem.get('msg')}",
            message_en=f"A value in the rule is out of range ({where}): {problem.get('msg')}",
        ) from None
    return CompileResult(ir, readback(ir, vocabulary, "zh"), readback(ir, vocabulary, "en"), context.warnings)


@dataclass
class _WaitDraft:
    node: Node
    seconds: int | None = None
    unless: list[EventMatch] = field(default_factory=list)


class _Builder:
    def __init__(self, context: Context) -> None:
        self.ctx = context
        self.vocab = context.vocabulary
        self.triggers = Triggers(context)

    # --- the sentence -----------------------------------------------------------------------------

    def build(self, tree: Node) -> RuleIR:
        ctx = self.ctx
        clauses: list[Node] = []
        actions: list[Node] = []
        waits: list[Node] = []
        action_seen = False
        when_since_action = False
        previous_marker = None
        for item in tree.items:
            if isinstance(item, Lexeme):
                previous_marker = item.kind
                if item.kind == "OR":
                    raise ctx.error(
                        "unsupported",
                        item,
                        "规则的条件只能用“且”连接；“或”的情况请写成两条规则。",
                        'Conditions can only be combined with "and"; write two rules for "or".',
                    )
                if item.kind == "WHEN" and action_seen:
                    when_since_action = True
                continue
            if item.name == "wait_c":
                waits.append(item)
            elif item.name in ACTIONS:
                actions.append(item)
                action_seen, when_since_action = True, False
            elif item.name == "change_c" and (
                (action_seen and not when_since_action)
                or (clauses and previous_marker == "JOIN" and _sets(item))
            ):
                actions.append(item)  # "把预测类别设为承诺": a field change among the actions
            else:
                clauses.append(item)
            previous_marker = None
        if not actions:
            where = clauses[-1] if clauses else None
            raise ctx.error(
                "incomplete",
                (where.span[1], where.span[1]) if where else None,
                "这句规则还没说要做什么（例如“通知负责人”）。",
                'The rule does not say what to do (for example "notify the owner").',
                expected=[
                    ctx.say("动作，如“通知”“创建任务”", 'an action, such as "notify" or "create a task"')
                ],
            )
        trigger, conditions = self._trigger_and_conditions(clauses)
        wait = self._wait(waits)
        built = build_actions(ctx, actions, self.triggers.change_field)
        try:
            return RuleIR(
                trigger=trigger,
                conditions=conditions,
                wait=wait,
                actions=built,
                source=Source(text=ctx.text, lang=ctx.lang),
            )
        except ValidationError as error:  # pragma: no cover - the builders produce valid parts
            first = error.errors()[0]
            raise ctx.error(
                "invalid_value",
                None,
                f"规则无法成立：{first.get('msg')}",
                f"The rule is not valid: {first.get('msg')}",
            ) from None

    # --- trigger and conditions ----------------------------------------------------------------

    def _trigger_and_conditions(self, clauses: list[Node]) -> tuple[Any, list[Condition]]:
        ctx = self.ctx
        triggers: list[tuple[Node, Any, str | None]] = []
        signals: list[Node] = []
        deferred: list[Node] = []
        conditions: list[Condition] = []
        for node in clauses:
            handler = self.triggers.handlers.get(node.name)
            if handler is not None:
                trigger, subject, extra = handler(node)
                triggers.append((node, trigger, subject))
                conditions += extra
            elif node.name == "signal_c":
                signals.append(node)
            else:
                deferred.append(node)
        if signals:
            trigger, subject, extra = self.triggers.signal(signals)
            triggers.append((signals[0], trigger, subject))
            conditions += extra
        if len(triggers) > 1:
            second = triggers[1][0]
            raise ctx.error(
                "too_many_triggers",
                second,
                "一条规则只能由一件事触发；请把其中一个写成条件（例如“且阶段为谈判”），或拆成两条规则。",
                "A rule starts from one event; make one of them a condition "
                '(for example "and the stage is negotiation") or write two rules.',
            )
        if triggers:
            ctx.subject = triggers[0][2]
        fallback: Any = None
        for node in deferred:
            made, info = self._condition(node)
            conditions += made
            if fallback is None and info is not None:
                fallback = info
        if triggers:
            return triggers[0][1], conditions
        if fallback is not None:
            entity, name = fallback
            ctx.subject = entity
            ctx.warn(
                f"没有写明触发事件：当{ctx.entity_label(entity)}的这个字段变化（含新建）时检查条件。",
                f"No event named: the rule checks its conditions whenever this {ctx.entity_label(entity)} "
                "field changes (including on creation).",
            )
            return RecordChangedTrigger(entity=entity, field=name), conditions
        raise ctx.error(
            "missing_trigger",
            (0, len(ctx.text)),
            "这句规则没有说什么时候执行（例如“商机赢单后”“每周一9点”）。",
            'The rule does not say when it runs (for example "when a deal is won" or "every Monday at 9").',
            expected=[
                ctx.say("事件，如“赢单”", 'an event, such as "won"'),
                ctx.say("周期，如“每周一”", "a schedule"),
            ],
        )

    def _condition(self, node: Node) -> tuple[list[Condition], tuple[str, str] | None]:
        ctx = self.ctx
        if node.name == "connector_c":
            return [self._connector(node)], None
        if node.name == "value_c":
            made = self._value(node)
            first = made[0].field.split(".") if made and not made[0].connector else None
            return made, (first[0], first[1]) if first and len(first) == 2 else None
        # compare_c
        subjects = ctx.subjects(node)
        entity = next((ctx.head_entity(s) for s in subjects if ctx.head_entity(s)), None)
        word = node.first("FIELD")
        assert word is not None
        info = ctx.resolve_field(word, entity)
        made = [cond for s in subjects for cond in self.triggers.subject_conditions(s)]
        isset = node.first("ISSET")
        value_word = next((x for x in node.lexemes(*VALUE_KINDS)), None)
        if isset is not None:
            op = str(isset.value)
            if (node.first("NOT") is not None) != isset.negated:
                op = "is_not_set" if op == "is_set" else "is_set"
            made.append(Condition(field=info.path, op=op))
        elif value_word is None:
            made.append(Condition(field=info.path, op="is_not_set"))
        else:
            op = self.triggers.op(node)
            value = ctx.value_for(info, value_word)
            if isinstance(value, list):
                op = "not_in" if op == "ne" else "in"
            made.append(Condition(field=info.path, op=op, value=value))
        return made, (info.entity, info.name)

    def _connector(self, node: Node) -> Condition:
        ctx = self.ctx
        word = node.first("CONNECTOR")
        assert word is not None
        names = word.values("CONNECTOR")
        info = self.vocab.connector(str(names[0]))
        assert info is not None
        if info.kind != "http_check":
            raise ctx.error(
                "invalid_value",
                word,
                f"连接器“{info.name}”不是检查类（它是 {info.kind}），不能用作条件。",
                f'Connector "{info.name}" is a {info.kind}, not a check; it cannot be a condition.',
            )
        negated = (len(node.lexemes("NOT")) % 2 == 1) != word.negated
        return Condition(field=info.result_field, op="eq", value=not negated, connector=info.name)

    def _value(self, node: Node) -> list[Condition]:
        ctx = self.ctx
        subj = node.child("subj")
        made = self.triggers.subject_conditions(subj)
        entity = ctx.head_entity(subj)
        value_word = next((x for x in node.lexemes("VALUE", "STAGE", "NUMBER", "QUOTED", "TEXT")), None)
        if value_word is not None:
            negated = node.first("NOT") is not None
            word = node.first("FIELD")
            if word is not None:
                info = ctx.resolve_field(word, entity)
                value = ctx.value_for(info, value_word)
                op = "ne" if negated else "eq"
                if isinstance(value, list):
                    op = "not_in" if negated else "in"
                made.append(Condition(field=info.path, op=op, value=value))
            else:
                path, op, value = ctx.value_condition(value_word, entity, negated)
                made.append(Condition(field=path, op=op, value=value))
        if not made and node.first("AS", "NOT") is None:
            return []  # a record named on its own ("客户…"): context, not a condition
        if not made:
            raise ctx.error(
                "incomplete",
                node,
                f"“{ctx.text[node.span[0] : node.span[1]]}”怎么了？请写明发生了什么，例如“赢单”。",
                f'What about "{ctx.text[node.span[0] : node.span[1]]}"? Say what happens, for example "is won".',
                expected=[ctx.say("事件，如“赢单”", 'an event, such as "won"')],
            )
        return made

    # --- wait ------------------------------------------------------------------------------------

    def _wait(self, nodes: list[Node]) -> Wait | None:
        ctx = self.ctx
        if not nodes:
            return None
        seconds: dict[str, Any] | None = None
        unless: list[EventMatch] = []
        for node in nodes:
            duration = None
            for part in [node, *node.children("window")]:
                word = part.first("DURATION")
                if word is not None:
                    duration = word.value
            if duration is not None:
                if seconds is not None and seconds["seconds"] != duration["seconds"]:
                    raise ctx.error(
                        "ambiguous",
                        node,
                        "等待时间写了两次，而且不一样。",
                        "Two different waiting times are given.",
                    )
                seconds = duration
            none = node.first("NONE")
            if none is not None:
                unless.append(EventMatch(event="activity.created"))
                if none.value == "meeting":
                    ctx.warn(
                        "规则无法只认会议：在等待期间记录任何活动（包括会议）都会取消这条规则。",
                        "Rules cannot watch for meetings only: any activity logged meanwhile "
                        "(a meeting included) cancels this run.",
                    )
                for kind, key in none.data.get("actor", []):
                    ctx.note_person(_recipient(kind, key))
            if node.first("UNLESS") is not None:
                entity = ctx.head_entity(node.child("subj")) or "activity"
                event = self.vocab.event_for(entity, "created")
                if event is None:
                    raise ctx.error(
                        "unknown_event", node, "“除非”后面应是一件事。", '"Unless" needs an event.'
                    )
                unless.append(EventMatch(event=event.key))
        if seconds is None:
            raise ctx.error(
                "incomplete",
                nodes[0],
                "等多久？请写明时间，例如“48小时内”。",
                'Wait how long? Give a time, for example "within 48 hours".',
                expected=[ctx.say("时长，如“48小时”", 'a duration, such as "48 hours"')],
            )
        distinct: list[EventMatch] = []
        for match in unless:
            if match not in distinct:
                distinct.append(match)
        return Wait(duration=iso_duration(seconds), unless=distinct)


SET_WORDS = frozenset(
    {"设为", "设置为", "设置成", "改为", "改成", "更新为", "修改为", "变更为", "置为", "调整为", "set", "set to",
     "change", "update", "switch", "move"}
)  # fmt: skip


def _sets(node: Node) -> bool:
    """Whether a change phrase reads as an order ("设为", "set … to") rather than an event."""
    verb = node.first("CHANGE")
    return verb is not None and (verb.text.strip().lower() in SET_WORDS or node.items[0] is verb)


def _recipient(kind: str, key: str) -> Any:
    from pathcast.automation.ir import Recipient

    return Recipient(kind="relation" if kind == "RELATION" else "role", value=key)
