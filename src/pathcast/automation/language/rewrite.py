"""Retype lexemes whose role depends on more than the next token (what LALR(1) cannot see).

- A separator between two items of a list (recipients, approval routes, behaviour
  qualifiers, "并填写说明") becomes ``AND``; between phrases it stays ``JOIN``.
- "没有跟进" / "no follow-up" / "nobody follows up" becomes one ``NONE`` lexeme: the "no
  activity" a wait watches for; who was supposed to act ("负责人没有跟进") is kept in it.
- A pronoun right before a field or an event is possessive and means the record ("its
  amount", "if it is won"): it is dropped.
- The words between a verb and its noun become one ``TEXT``: a title ("创建[跟进]任务",
  "book a [delivery kick-off] meeting"), a tag ("tag them [high intent]"), a template name
  ("按[产线升级]模板").
- "新建商机时" / "when a quote is created": a create or send verb followed only by a record
  and then a separator is an event, not an action.
"""

from __future__ import annotations

import re

from pathcast.automation.language.lexer import Lexeme

PERSON = frozenset({"ROLE", "RELATION", "EMAIL", "PRONOUN"})
MARKERS = frozenset({"JOIN", "WHEN", "POST", "OR"})
WORDISH = frozenset(
    {
        "TEXT",
        "ENTITY",
        "FIELD",
        "VALUE",
        "STAGE",
        "EVENT",
        "NUMBER",
        "MILESTONE",
        "ASSET",
        "CONTENT",
        "QUOTED",
    }
)
HEADS = frozenset({"MEETING_NOUN", "TASK_NOUN", "HIVE_NOUN", "PLAN_NOUN"})
# Separators that only ever join list items ("和", "、", "and"); others (",", "并", "then")
# may also end a phrase, so they join a list only when the next item does not start one.
LIGHT_JOINS = frozenset({"和", "与", "及", "以及", "、", "and", "&", "as well as", "plus"})
# After a list of people, these start a new phrase in which the people are the subject.
PERSON_PHRASE_VERBS = frozenset({"ADD", "CONFIRM", "APPROVAL", "REQUIRE", "NONE", "NOT"})
QUALIFIER_START = frozenset({"EACH", "DWELL", "COUNT", "WITHIN"})
TAG_STOP = frozenset({"JOIN", "AND", "TAG_NOUN", "TAG", "TO", "WHEN", "POST", "OR"})


def _kind(lexemes: list[Lexeme], index: int) -> str:
    return lexemes[index].kind if 0 <= index < len(lexemes) else "$END"


def _person_run_end(lexemes: list[Lexeme], start: int) -> int | None:
    """Index after a run of recipients starting at ``start`` (e.g. "客户 的 负责人"), or None."""
    index = start
    if _kind(lexemes, index) in ("ENTITY",) and _kind(lexemes, index + 1) in ("ROLE", "RELATION"):
        index += 1
    if _kind(lexemes, index) not in PERSON:
        return None
    while _kind(lexemes, index) in PERSON:
        index += 1
    return index


def _merge(lexemes: list[Lexeme], start: int, stop: int, text: str) -> Lexeme:
    first, last = lexemes[start], lexemes[stop - 1]
    return Lexeme("TEXT", text[first.start : last.end], first.start, last.end, text[first.start : last.end])


# Verbs of a meeting being booked ("没有安排会议", "no meeting is booked", "hasn't held a meeting").
MEETING_VERBS = frozenset(
    {"安排", "约", "预约", "召开", "开", "举行", "组织", "booked", "book", "scheduled", "schedule",
     "held", "hold", "set up", "arranged", "arrange", "planned", "organised", "organized"}
)  # fmt: skip


def _meeting_verb(lexeme: Lexeme | None) -> bool:
    return lexeme is not None and (
        lexeme.kind in ("CREATE", "ADD") or (lexeme.kind == "TEXT" and lexeme.text.lower() in MEETING_VERBS)
    )


def _no_meeting(lexemes: list[Lexeme], index: int) -> int | None:
    """Index after "没有(安排)会议" / "no meeting (is booked)" starting at NOT, or None."""
    at = index + 1
    if _meeting_verb(lexemes[at] if at < len(lexemes) else None):
        at += 1
    if _kind(lexemes, at) != "MEETING_NOUN" or lexemes[at].text.strip() not in (
        "会议",
        "会",
        "会面",
        "meeting",
        "meetings",
        "a meeting",
    ):
        return None
    at += 1
    if _meeting_verb(lexemes[at] if at < len(lexemes) else None) and _kind(lexemes, at + 1) != "MEETING_NOUN":
        at += 1
    return at


def _none_of(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """NOT + an activity ("没有跟进") → NONE, taking the would-be actor before it along;
    "没有安排会议" / "no meeting is booked" is a NONE of value "meeting"."""
    out: list[Lexeme] = []
    index = 0
    while index < len(lexemes):
        lexeme = lexemes[index]
        following = lexemes[index + 1] if index + 1 < len(lexemes) else None
        stop = _no_meeting(lexemes, index) if lexeme.kind == "NOT" else None
        if stop is not None:
            end = lexemes[stop - 1].end
            out.append(
                Lexeme("NONE", "meeting", lexeme.start, end, text[lexeme.start : end], data={"actor": []})
            )
            index = stop
            continue
        logged = (
            following is not None
            and following.kind == "EVENT"
            and following.text.lower() in ("logged", "记录")
        )
        if (
            lexeme.kind == "NOT"
            and following is not None
            and ("activity" in following.values("ENTITY") or logged)
        ):
            # "负责人(48小时内)没有跟进": the person before belongs to the NONE, a window stays.
            window: list[Lexeme] = []
            while out and out[-1].kind in ("DURATION", "WITHIN", "WITHIN_POST"):
                window.insert(0, out.pop())
            actor: list[tuple[str, str]] = []
            while out and out[-1].kind in ("ROLE", "RELATION", "PRONOUN"):
                person = out.pop()
                if person.kind != "PRONOUN":
                    actor.insert(0, (person.kind, str(person.value)))
            out += window
            out.append(
                Lexeme(
                    "NONE",
                    "activity",
                    lexeme.start,
                    following.end,
                    text[lexeme.start : following.end],
                    data={"actor": actor},
                )
            )
            index += 2
            continue
        out.append(lexeme)
        index += 1
    return out


def _routes(lexemes: list[Lexeme]) -> list[Lexeme]:
    """Approval routes: "战略客户由销售副总裁(审批)", "standard ones by the regional manager",
    "by the sales VP for strategic accounts": their values become RKEY."""
    approval_context = False
    for index, lexeme in enumerate(lexemes):
        if lexeme.kind in ("WHEN", "POST"):
            approval_context = False
        if lexeme.kind in ("APPROVAL", "REQUIRE"):
            approval_context = True
        if lexeme.kind != "VALUE" or (index > 0 and lexemes[index - 1].kind in ("VALUE", "RKEY")):
            continue
        stop = index
        while _kind(lexemes, stop) == "VALUE":
            stop += 1
        after = stop + 1 if _kind(lexemes, stop) == "ENTITY" else stop
        if _kind(lexemes, after) == "REQUIRE":  # "战略客户需销售副总裁审批"
            after += 1
        by = _kind(lexemes, after) in ("BY", "FROM")
        run_end = _person_run_end(lexemes, after + 1 if by else after)
        forward = run_end is not None and (
            _kind(lexemes, run_end) == "APPROVAL"
            or (approval_context and (by or _kind(lexemes, after) in PERSON))
        )
        backward = False
        if approval_context and index >= 2:
            probe = index - 1
            while probe >= 0 and lexemes[probe].kind in PERSON:
                probe -= 1
            backward = probe < index - 1 and _kind(lexemes, probe) in ("BY", "FROM")
        if forward or backward:
            for position in range(index, stop):
                lexemes[position].kind = "RKEY"
    return lexemes


def _lists(lexemes: list[Lexeme]) -> list[Lexeme]:
    approval_context = False
    view_context = False
    head_in_phrase = False
    for index, lexeme in enumerate(lexemes):
        if lexeme.kind in ("WHEN", "POST"):
            approval_context = view_context = head_in_phrase = False
        if lexeme.kind in HEADS:
            head_in_phrase = True
        if lexeme.kind in ("APPROVAL", "REQUIRE"):
            approval_context = True
        if lexeme.kind == "VIEW":
            view_context = True
        if lexeme.kind != "JOIN":
            continue
        before, after = _kind(lexemes, index - 1), _kind(lexemes, index + 1)
        light = lexeme.text.strip().lower() in LIGHT_JOINS
        if before in PERSON:
            run_end = _person_run_end(lexemes, index + 1)
            if run_end is not None and (light or _kind(lexemes, run_end) not in PERSON_PHRASE_VERBS):
                lexeme.kind = "AND"
                continue
        if (
            approval_context
            and before in (*PERSON, "APPROVAL", "ENTITY", "RKEY", "OTHERWISE")
            and (
                after in ("RKEY", "OTHERWISE")
                or (after == "ENTITY" and _kind(lexemes, index + 2) == "RKEY")
                or (after in ("BY", "FROM") and _kind(lexemes, index + 2) in PERSON)
            )
        ):
            lexeme.kind = "AND"
            continue
        if view_context and (
            after in QUALIFIER_START
            or (after == "CMP" and _kind(lexemes, index + 2) in ("DURATION", "COUNT"))
            or (after == "DURATION" and _kind(lexemes, index + 2) == "WITHIN_POST")
        ):
            lexeme.kind = "AND"
            continue
        if after == "NOTE":
            lexeme.kind = "AND"
            continue
        if head_in_phrase and (
            after == "WITH"
            or (after == "DURATION" and _kind(lexemes, index + 2) == "WITHIN_POST")
            or (after == "WITHIN" and _kind(lexemes, index + 2) == "DURATION")
        ):
            lexeme.kind = "AND"  # "创建任务，3天内完成": the task's due time
            continue
        head_in_phrase = False
    return lexemes


VIA = frozenset({"USING", "BY", "CHANNEL"})
MESSAGE_STOP = frozenset({"JOIN", "WHEN", "POST", "OR", "QUOTED", "AS", "WAIT", "$END", *VIA})


def _message_end(lexemes: list[Lexeme], index: int) -> tuple[int, int] | None:
    """After "通知负责人", the words up to the next separator are the message ("安排回访")."""
    probe = index
    while _kind(lexemes, probe) in VIA:
        probe += 1
    run_end = _person_run_end(lexemes, probe)
    if run_end is None:
        return None
    while _kind(lexemes, run_end) in ("AND", "JOIN") and _person_run_end(lexemes, run_end + 1) is not None:
        run_end = _person_run_end(lexemes, run_end + 1) or run_end
    start = run_end
    if _kind(lexemes, start) in MESSAGE_STOP or (
        _kind(lexemes, start) == "DURATION" and _kind(lexemes, start + 1) == "POST"
    ):
        return None
    stop = start
    while _kind(lexemes, stop) not in ("JOIN", "WHEN", "POST", "OR", "$END") and not (
        _kind(lexemes, stop) == "DURATION" and _kind(lexemes, stop + 1) == "POST"
    ):
        stop += 1
    return (start, stop) if stop > start else None


def _slots(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    out: list[Lexeme] = []
    index = 0
    while index < len(lexemes):
        lexeme = lexemes[index]
        out.append(lexeme)
        index += 1
        kind = lexeme.kind
        if kind == "NOTIFY":
            message = _message_end(lexemes, index)
            if message is not None:
                start, stop = message
                out += lexemes[index:start]
                # up to the next separator in the text as typed (dropped fillers included)
                first = lexemes[start]
                end = lexemes[stop].start if stop < len(lexemes) else len(text)
                words = text[first.start : end].rstrip(" \t,.;:!?，。；：！？")
                out.append(Lexeme("TEXT", words, first.start, first.start + len(words), words))
                index = stop
            continue
        if kind == "PUSH":
            # a misspelt name with known words in it ("the case pak") is one unknown name
            stop = index
            while _kind(lexemes, stop) in WORDISH and _kind(lexemes, stop) != "QUOTED":
                stop += 1
            run = lexemes[index:stop]
            if len(run) > 1 and any(x.kind == "TEXT" for x in run):
                out.append(_merge(lexemes, index, stop, text))
                index = stop
            continue
        if kind in ("CREATE", "ADD", "GENERATE"):
            # title words up to the noun: "创建[跟进]任务", "book a [delivery kick-off] meeting"
            stop = index
            while stop < len(lexemes) and lexemes[stop].kind in WORDISH:
                stop += 1
            # one word that is already free text needs no merging
            single = stop - index == 1 and lexemes[index].kind in ("TEXT", "QUOTED")
            if _kind(lexemes, stop) in HEADS:
                if stop > index and not single:
                    out.append(_merge(lexemes, index, stop, text))
                    index = stop
                continue
            if kind == "ADD" and _kind(lexemes, stop) in ("TAG", "TAG_NOUN") and stop > index and not single:
                out.append(_merge(lexemes, index, stop, text))
                index = stop
            continue
        if kind == "TAG" or (kind == "TAG_NOUN" and out[-2:-1] and out[-2].kind == "ADD"):
            # the tag itself: "tag them [high intent]", "标记为[高意向]", "tag the contact as [hot]"
            start = index
            if _kind(lexemes, start) == "PRONOUN":
                start += 1
            elif _kind(lexemes, start) == "ENTITY":
                # "tag the contact as hot", "tag the contact 'hot'": the record is the target
                probe = start
                while _kind(lexemes, probe) in ("ENTITY", "VALUE"):
                    probe += 1
                if _kind(lexemes, probe) in ("AS", "QUOTED") or (
                    probe < len(lexemes) and lexemes[probe].kind not in TAG_STOP
                ):
                    start = probe
            if _kind(lexemes, start) == "AS":
                start += 1
            stop = start
            while stop < len(lexemes) and lexemes[stop].kind not in TAG_STOP:
                stop += 1
            if stop > start and not (stop - start == 1 and lexemes[start].kind in ("TEXT", "QUOTED")):
                out += lexemes[index:start]
                out.append(_merge(lexemes, start, stop, text))
                index = stop
            continue
        if kind in ("USING", "FROM", "BY"):
            # a template's name: "按[产线升级]模板", "using the [产线升级] template"
            stop = index
            while stop < len(lexemes) and lexemes[stop].kind in WORDISH:
                stop += 1
            if _kind(lexemes, stop) == "TEMPLATE_NOUN" and stop - index > 1:
                out.append(_merge(lexemes, index, stop, text))
                index = stop
    return out


# Words a free title may end with that belong to the due phrase after it ("… due in 2 days").
_TITLE_TAIL = re.compile(
    r"(?:[\s,.;:!?，。；：！？]+|\b(?:due|by|and|to be done|done)\s*$|(?:并|须|要|需)?在\s*$)+$"
)


def _due_at(lexemes: list[Lexeme], index: int) -> int | None:
    """Index after a due phrase ("两天内", "within 3 days", "in 2 days") at ``index``, or None."""
    pair = (_kind(lexemes, index), _kind(lexemes, index + 1))
    if pair not in (("WITHIN", "DURATION"), ("DURATION", "WITHIN_POST")):
        return None
    stop = index + 2
    return stop + 1 if _kind(lexemes, stop) == "WITHIN_POST" else stop


def _titles(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """ "创建任务给交付经理：准备实施方案", "create a task for the owner to prepare the contract":
    after a colon in a create phrase (or "to" after a task's assignee) the rest is the title,
    whatever words it holds, up to the next separator or a due phrase ("两天内", "within 3
    days"); a due phrase right after it, even past a comma ("，两天内完成"), is the task's."""
    out: list[Lexeme] = []
    head: str | None = None
    index = 0
    while index < len(lexemes):
        lexeme = lexemes[index]
        colon = lexeme.kind == "JOIN" and lexeme.text.strip() in (":", "：")
        to_title = (
            head == "TASK_NOUN"
            and lexeme.kind == "TO"
            and lexeme.text.strip().lower() == "to"
            and _kind(lexemes, index - 1) in PERSON
            and _kind(lexemes, index + 1) not in PERSON | MARKERS | {"ENTITY", "$END"}
        )
        if lexeme.kind in HEADS:
            head = lexeme.kind
        elif lexeme.kind in ("WHEN", "POST") or (lexeme.kind == "JOIN" and not colon):
            head = None
        elif (colon or to_title) and head is not None and index + 1 < len(lexemes):
            stop = index + 1
            while stop < len(lexemes) and lexemes[stop].kind not in ("JOIN", "WHEN", "POST"):
                if stop > index + 1 and _due_at(lexemes, stop) is not None:
                    break
                stop += 1
            first = lexemes[index + 1]
            end = lexemes[stop].start if stop < len(lexemes) else len(text)
            words = _TITLE_TAIL.sub("", text[first.start : end])
            if words:
                out.append(Lexeme("TITLE", words, first.start, first.start + len(words), words))
                index = stop
                # "，两天内完成" / ", due in 2 days": the due phrase ends the task's phrase
                if _kind(lexemes, index) == "JOIN" and lexemes[index].text.strip() in (",", "，"):
                    due = _due_at(lexemes, index + 1)
                    if due is not None and _kind(lexemes, due) in MARKERS | {"$END"}:
                        index += 1
                continue
        out.append(lexeme)
        index += 1
    return out


def _events(lexemes: list[Lexeme]) -> list[Lexeme]:
    """ "新建商机时": CREATE / PUSH + a record + a separator is the record's event."""
    for index, lexeme in enumerate(lexemes):
        if lexeme.kind not in ("CREATE", "PUSH"):
            continue
        probe = index + 1
        while _kind(lexemes, probe) in ("VALUE", "ENTITY"):
            probe += 1
        if (
            probe > index + 1
            and _kind(lexemes, probe) in (*MARKERS, "$END", "AND")
            and _kind(lexemes, index - 1) in (*MARKERS, "$END")
        ):
            verb = "created" if lexeme.kind == "CREATE" else "sent"
            lexeme.kind, lexeme.value = "EVENT", verb
    return lexemes


def _possessives(lexemes: list[Lexeme]) -> list[Lexeme]:
    """A pronoun before a record word is the record ("its amount", "他的阶段", "if it is
    won"); "it" is never a person ("it needs approval")."""
    record_words = {"FIELD", "EVENT", "METRIC", "CHANGE", "VIEW", "MILESTONE", "CONNECTOR", "MENTION"}
    thing_words = {*record_words, "REQUIRE", "APPROVAL", "CONFIRM", "NOT"}
    return [
        lexeme
        for index, lexeme in enumerate(lexemes)
        if not (
            lexeme.kind == "PRONOUN"
            and (
                _kind(lexemes, index + 1) in record_words
                or (lexeme.text.lower() in ("it", "它") and _kind(lexemes, index + 1) in thing_words)
            )
        )
    ]


def _words(lexemes: list[Lexeme]) -> list[Lexeme]:
    """Local fixes: a record word that names a stage after "阶段是/进入" is the stage ("阶段是
    报价"); "医疗行业" says the industry twice; "邮件和钉钉" is one list of channels, and
    "email the director" means notify by e-mail."""
    out: list[Lexeme] = []
    for index, lexeme in enumerate(lexemes):
        previous = out[-1] if out else None
        if (
            lexeme.kind == "ENTITY"
            and lexeme.values("STAGE")
            and previous is not None
            and previous.kind in ("CHANGE", "FIELD", "AS", "TO", "FROM", "NOT")
        ):
            lexeme.kind, lexeme.value = "STAGE", lexeme.values("STAGE")[0]
        if (
            lexeme.kind == "FIELD"
            and "account.industry" in lexeme.values("FIELD")
            and previous is not None
            and any(isinstance(v, tuple) and v[0] == "account.industry" for v in previous.values("VALUE"))
        ):
            continue
        if (
            lexeme.kind == "FIELD"
            and lexeme.values("CHANNEL")
            and (
                previous is None
                or previous.kind in (*MARKERS, "NOTIFY", "USING", "BY", "CHANNEL", "AND")
                or _kind(lexemes, index + 1) in ("NOTIFY", "CHANNEL")
            )
        ):
            lexeme.kind, lexeme.value = "CHANNEL", lexeme.values("CHANNEL")[0]  # "email" the verb
        if (
            lexeme.kind == "JOIN"
            and previous is not None
            and previous.kind == _kind(lexemes, index + 1) == "CHANNEL"
        ):
            lexeme.kind = "AND"
        if (
            lexeme.kind == "CHANNEL"
            and (previous is None or previous.kind in MARKERS)
            and _notify_by_channel(lexemes, index)
        ):
            out.append(Lexeme("NOTIFY", None, lexeme.start, lexeme.start, ""))
        out.append(lexeme)
    return out


def _marked(lexemes: list[Lexeme]) -> list[Lexeme]:
    """ "(负责人)把商机标记为输单" / "a deal is marked lost": marking a deal won or lost is the
    event, not a tag; who marked it does not matter."""
    out: list[Lexeme] = []
    for index, lexeme in enumerate(lexemes):
        following = _kind(lexemes, index + 1)
        if lexeme.kind == "TAG" and following in ("EVENT", "STAGE"):
            continue
        if (
            lexeme.kind in ("ROLE", "RELATION")
            and (not out or out[-1].kind in MARKERS)
            and following == "ENTITY"
            and _kind(lexemes, index + 2) == "TAG"
            and _kind(lexemes, index + 3) in ("EVENT", "STAGE")
        ):
            continue
        out.append(lexeme)
    return out


def _notify_by_channel(lexemes: list[Lexeme], index: int) -> bool:
    """ "email and dingtalk the director": channels then people, with no verb."""
    probe = index
    while _kind(lexemes, probe) in ("CHANNEL", "AND", "JOIN"):
        probe += 1
    return _kind(lexemes, probe) in PERSON or (
        _kind(lexemes, probe) == "ENTITY" and _kind(lexemes, probe + 1) in ("ROLE", "RELATION")
    )


def _asset_words(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """ "下载[兼容性白皮书]", "views the [protocol whitepaper]": in a behaviour rule, unknown words
    glued to an asset's generic word are one name, resolved by partial match (triggers.py)."""
    if not any(x.kind == "VIEW" for x in lexemes):
        return lexemes
    out: list[Lexeme] = []
    for lexeme in lexemes:
        if (
            lexeme.kind == "ASSET"
            and out
            and out[-1].kind == "TEXT"
            and not text[out[-1].end : lexeme.start].strip()
        ):
            first = out.pop()
            out.append(_merge([first, lexeme], 0, 2, text))
            continue
        out.append(lexeme)
    return out


def rewrite(lexemes: list[Lexeme], text: str) -> list[Lexeme]:
    """The lexemes as the grammar expects them (see the module docstring)."""
    copied = [
        Lexeme(x.kind, x.value, x.start, x.end, x.text, x.senses, x.negated, dict(x.data)) for x in lexemes
    ]
    staged = _none_of(_marked(_words(_asset_words(copied, text))), text)
    return _titles(_slots(_lists(_routes(_events(_possessives(staged)))), text), text)
