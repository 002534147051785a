"""Lexemes → a parse tree of ``Node``s, with the LALR(1) grammar in ``grammar.lark``.

The grammar does not depend on the vocabulary (names are resolved by the lexer), so one
parser serves every vocabulary and both languages; it is built once per process and parses
a sentence in about a millisecond. Before parsing, ``rewrite`` (rewrite.py) retypes the few
lexemes whose role depends on more than one following token. Parse failures become
``CompileError``s that point at the offending word, say what could stand there in human
words, and rank "did you mean" suggestions from the vocabulary.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer, Tree
from lark.exceptions import UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from pathcast.automation.language.errors import CompileError, rank_suggestions
from pathcast.automation.language.lexer import Lexeme, Lexicon
from pathcast.automation.language.rewrite import rewrite


@dataclass
class Node:
    """A grammar rule's match: its name and its items (lexemes and sub-nodes) in order."""

    name: str
    items: list[Lexeme | Node] = field(default_factory=list)

    def lexemes(self, *kinds: str) -> list[Lexeme]:
        """Direct lexeme children, of the given kinds if any are named."""
        return [i for i in self.items if isinstance(i, Lexeme) and (not kinds or i.kind in kinds)]

    def first(self, *kinds: str) -> Lexeme | None:
        found = self.lexemes(*kinds)
        return found[0] if found else None

    def child(self, name: str) -> Node | None:
        return next((i for i in self.items if isinstance(i, Node) and i.name == name), None)

    def children(self, name: str) -> list[Node]:
        return [i for i in self.items if isinstance(i, Node) and i.name == name]

    def walk(self) -> Iterator[Lexeme]:
        """Every lexeme below this node, in sentence order."""
        for item in self.items:
            if isinstance(item, Node):
                yield from item.walk()
            else:
                yield item

    @property
    def span(self) -> tuple[int, int]:
        found = list(self.walk())
        return (found[0].start, found[-1].end) if found else (0, 0)


class _Passthrough(Lexer):
    """Lark's lexer slot: our tokens are made already, it only hands them over."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Iterator[Token]:  # type: ignore[override]
        # Lark hands a custom lexer what was passed to parse(): our token list.
        yield from data


_PARSER: Lark | None = None
_PARSER_LOCK = threading.Lock()


def _parser() -> Lark:
    global _PARSER
    with _PARSER_LOCK:
        if _PARSER is None:
            grammar = (
                resources.files("pathcast.automation.language").joinpath("grammar.lark").read_text("utf-8")
            )
            _PARSER = Lark(grammar, parser="lalr", lexer=_Passthrough)
        return _PARSER


class _Build(Transformer[Token, Node]):
    def __init__(self, lexemes: list[Lexeme]) -> None:
        super().__init__()
        self._lexemes = lexemes

    def __default__(self, data: Any, children: list[Any], meta: Any) -> Node:
        items: list[Lexeme | Node] = []
        for child in children:
            if isinstance(child, Token):
                items.append(self._lexemes[child.start_pos or 0])
            elif isinstance(child, Node):
                items.append(child)
        return Node(str(data), items)

    def __default_token__(self, token: Token) -> Token:
        return token


def parse(lexemes: list[Lexeme], lang: str, lexicon: Lexicon, text: str) -> Node:
    """The parse tree of a sentence's lexemes, or a CompileError saying where it fails."""
    lexemes = rewrite(lexemes, text)
    tokens = [Token(lexeme.kind, lexeme.text, start_pos=i) for i, lexeme in enumerate(lexemes)]
    try:
        tree: Tree[Token] = _parser().parse(tokens)
    except UnexpectedInput as error:
        raise _syntax_error(error, lexemes, lang, lexicon, text) from None
    return _Build(lexemes).transform(tree)


# --- errors -----------------------------------------------------------------------------------------


def _accepts(lexemes: list[Lexeme]) -> set[str]:
    """The terminals the grammar accepts after ``lexemes`` (for an error's "expected")."""
    tokens = [Token(lexeme.kind, lexeme.text, start_pos=i) for i, lexeme in enumerate(lexemes)]
    interactive = _parser().parse_interactive(tokens)
    for token in tokens:
        interactive.feed_token(token)
    return set(interactive.accepts()) - {"$END"}


# Human words for what may stand somewhere: (zh, en), most useful first.
EXPECTED_LABELS: dict[str, tuple[str, str]] = {
    "ENTITY": ("记录类型，如“商机”“报价”", 'a record type, such as "deal" or "quote"'),
    "EVENT": ("事件，如“赢单”“签署”", 'an event, such as "won" or "signed"'),
    "FIELD": ("字段，如“金额”“折扣”", 'a field, such as "amount" or "discount"'),
    "NOTIFY": ("动作，如“通知”", 'an action, such as "notify"'),
    "CREATE": ("动作，如“创建”“安排”", 'an action, such as "create" or "book"'),
    "ROLE": ("职位或角色，如“实施总监”“经理”", 'a position or role, such as "implementation director"'),
    "RELATION": ("相关人员，如“负责人”", 'a related person, such as "the owner"'),
    "STAGE": ("阶段名称", "a stage name"),
    "VALUE": ("取值，如“战略”", 'a value, such as "strategic"'),
    "NUMBER": ("数字", "a number"),
    "DURATION": ("时长，如“48小时”“7天”", 'a duration, such as "48 hours" or "7 days"'),
    "COUNT": ("次数，如“3次”", 'a count, such as "3 times"'),
    "CMP": ("比较词，如“超过”", 'a comparison, such as "more than"'),
    "ASSET": ("资料名称", "an asset name"),
    "CONTENT": ("要发送的内容", "content to send"),
    "CONNECTOR": ("已配置的外部检查", "a configured external check"),
    "VIEW": ("行为，如“查看”", 'a behaviour, such as "views"'),
    "CHANGE": ("变化，如“进入”“变为”", 'a change, such as "moves to"'),
    "MILESTONE": ("里程碑，如“POC通过”", 'a milestone, such as "the POC passes"'),
    "METRIC": ("指标，如“赢率”", 'a metric, such as "win probability"'),
    "QUOTED": ("引号中的名称", "a name in quotes"),
    "TEMPLATE_NOUN": ("“模板”", '"template"'),
    "APPROVAL": ("“审批”", '"approval"'),
    "CONFIRM": ("“确认”", '"confirm"'),
    "JOIN": ("分隔，如“，”“并”", 'a separator, such as "," or "and"'),
    "WITHIN_POST": ("“内”", '"within"'),
    "POST": ("“后/时”", '"after"'),
    "WHEN": ("条件开头，如“当”“如果”", 'a condition, such as "when" or "if"'),
    "TO": ("“给/向”", '"to"'),
    "SCHED": ("周期，如“每周一”", 'a schedule, such as "every Monday"'),
    "TIME": ("时间，如“9点”", 'a time, such as "at 9"'),
    "PUSH": ("“发送”", '"send"'),
    "TAG": ("“标记”", '"tag"'),
    "ADD": ("“加入”", '"add"'),
}

# Kinds whose vocabulary surfaces are worth suggesting for an unknown word.
_SUGGESTIBLE = (
    "ENTITY", "FIELD", "EVENT", "STAGE", "VALUE", "ROLE", "RELATION", "ASSET", "CONTENT", "CONNECTOR",
    "METRIC", "MILESTONE", "NOTIFY", "CREATE", "VIEW", "CHANGE", "PUSH", "TAG", "MENTION", "POLARITY",
)  # fmt: skip


def expected_words(kinds: set[str], lang: str) -> list[str]:
    index = 0 if lang == "zh" else 1
    return [labels[index] for kind, labels in EXPECTED_LABELS.items() if kind in kinds][:8]


def suggestions_for(word: str, kinds: set[str], lexicon: Lexicon) -> list[str]:
    """Did-you-mean for ``word``: vocabulary surfaces, those of expected kinds preferred."""
    pool: list[str] = []
    preferred: list[str] = []
    for kind in _SUGGESTIBLE:
        surfaces = sorted(lexicon.surfaces.get(kind, ()))
        pool += surfaces
        if kind in kinds:
            preferred += surfaces
    return rank_suggestions(word, pool, preferred=preferred)


def _syntax_error(
    error: UnexpectedInput, lexemes: list[Lexeme], lang: str, lexicon: Lexicon, text: str
) -> CompileError:
    if (
        isinstance(error, UnexpectedEOF)
        or not isinstance(error, UnexpectedToken)
        or error.token.type == "$END"
    ):
        kinds = set(getattr(error, "expected", None) or ())
        end = len(text.rstrip())
        return CompileError(
            "incomplete",
            span=(end, end),
            expected=expected_words(kinds, lang),
            message_zh="句子还没说完：缺少后面的部分（例如要做什么、通知谁）。",
            message_en="The sentence stops too early: something is missing (what to do, or whom to tell).",
        )
    kinds = set(error.expected or ())
    index = error.token.start_pos or 0
    # A phrase that starts with an unknown word is shifted as a possible name (a template,
    # a document) and fails one word later; the unknown word is the real culprit.
    start = index - 1
    while start >= 0 and lexemes[start].kind not in ("JOIN", "WHEN", "POST", "OR"):
        start -= 1
    if lexemes[index].kind != "TEXT":
        culprit = index - 1 if index > 0 and lexemes[index - 1].kind == "TEXT" else None
        if start + 1 < index and lexemes[start + 1].kind == "TEXT":
            culprit = start + 1
        if culprit is not None:
            index = culprit
            kinds = _accepts(lexemes[:index]) - {"TEXT", "QUOTED"}
    lexeme = lexemes[index]
    expected = expected_words(kinds, lang)
    if lexeme.kind == "TEXT":
        suggestions = suggestions_for(lexeme.text, kinds, lexicon)
        if suggestions:
            ending_zh, ending_en = f"，是不是“{suggestions[0]}”？", f'; did you mean "{suggestions[0]}"?'
        elif "CONNECTOR" in kinds or "FIELD" in kinds:
            ending_zh = f"；如果这是外部系统里的检查，请管理员先配置名为“{lexeme.text}”的连接器。"
            ending_en = f'; if it is a check in another system, an admin can configure a connector named "{lexeme.text}".'
        else:
            ending_zh, ending_en = "。", "."
        return CompileError(
            "unknown_word",
            span=(lexeme.start, lexeme.end),
            expected=expected,
            suggestions=suggestions,
            message_zh=f"不认识“{lexeme.text}”{ending_zh}",
            message_en=f'Unknown word "{lexeme.text}"{ending_en}',
        )
    if lexeme.kind == "OR":
        return CompileError(
            "unsupported",
            span=(lexeme.start, lexeme.end),
            expected=expected,
            message_zh="规则的条件只能用“且”连接；“或”的情况请写成两条规则。",
            message_en='Conditions can only be combined with "and"; write two rules for "or".',
        )
    return CompileError(
        "unexpected_word",
        span=(lexeme.start, lexeme.end),
        expected=expected,
        suggestions=suggestions_for(lexeme.text, kinds, lexicon) if kinds & set(_SUGGESTIBLE) else [],
        message_zh=f"“{lexeme.text}”不能出现在这里"
        + (f"；这里可以是：{'、'.join(expected[:4])}。" if expected else "。"),
        message_en=f'"{lexeme.text}" cannot stand here'
        + (f"; expected {', '.join(expected[:4])}." if expected else "."),
    )
