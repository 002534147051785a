"""Triggers: the clause a rule starts from (an event, a field change, a milestone,
behaviour, a radar signal, a schedule or a metric), with the conditions its subject implies
("战略客户的商机赢单" → opportunity.won if account.tier = strategic)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pathcast.automation.ir import (
    AssetRef,
    BehaviourTrigger,
    Condition,
    MetricTrigger,
    RecordChangedTrigger,
    RecordEventTrigger,
    ScheduleTrigger,
    SignalTrigger,
)
from pathcast.automation.language import catalog as c
from pathcast.automation.language.errors import rank_suggestions
from pathcast.automation.language.lexer import Lexeme, normalise
from pathcast.automation.language.parser import Node
from pathcast.automation.language.semantics import NEGATE, Context, iso_duration
from pathcast.automation.language.vocabulary import AssetInfo, name_surfaces

VALUE_KINDS = ("VALUE", "STAGE", "NUMBER", "QUOTED", "TEXT", "EVENT", "ENTITY")
Made = tuple[Any, str | None, list[Condition]]


class Triggers:
    """Builds a trigger from one clause; ``handlers`` maps clause names to methods."""

    def __init__(self, context: Context) -> None:
        self.ctx = context
        self.vocab = context.vocabulary
        self.handlers = {
            "event_c": self._event,
            "change_c": self._change,
            "milestone_c": self._milestone,
            "behaviour_c": self._behaviour,
            "schedule_c": self._schedule,
            "metric_c": self._metric,
        }

    def subject_conditions(self, node: Node | None) -> list[Condition]:
        made = []
        for values, entity in self.ctx.subj_groups(node):
            for value in values:
                path, op, literal = self.ctx.value_condition(value, self.ctx.entity_of(entity))
                made.append(Condition(field=path, op=op, value=literal))
        return made

    def _event(self, node: Node) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        verb_lexeme = node.first("EVENT", "CREATE", "PUSH")
        assert verb_lexeme is not None
        verb = {"CREATE": "created", "PUSH": "sent"}.get(verb_lexeme.kind, str(verb_lexeme.value))
        subjects = ctx.subjects(node)
        entity = ctx.head_entity(subjects[0]) if subjects else None
        if entity == "contact" or (
            entity is None and verb in ("identified", "threshold_reached", "opted_out")
        ):
            ctx.contact_mentioned = True
        if verb == "closed" and entity in (None, "opportunity"):
            raise ctx.error(
                "ambiguous",
                verb_lexeme,
                "“关闭”是赢单还是输单？请写明“赢单”或“输单”。",
                '"Closed" won or lost? Say "won" or "lost".',
                suggestions=[ctx.say("赢单", "won"), ctx.say("输单", "lost")],
            )
        info = self.vocab.event_for(entity, verb) if entity else None
        if info is None:
            # "客户赢单" (the customer's deal is won), "商机签约" (its contract is signed): the
            # record named is the context of the verb's own record; other pairings are errors.
            default = c.DEFAULT_EVENT_ENTITY.get(verb)
            if default is not None and (entity is None or entity in ("account", "opportunity")):
                info = self.vocab.event_for(default, verb)
        if info is None:
            options = [
                e.label_zh if ctx.lang == "zh" else e.label_en for e in self.vocab.events_of(entity or "")
            ]
            options = options or [
                e.label_zh if ctx.lang == "zh" else e.label_en for e in self.vocab.events if e.verb == verb
            ]
            raise ctx.error(
                "unknown_event",
                verb_lexeme,
                f"“{ctx.text[node.span[0] : node.span[1]]}”不是系统里的事件。",
                f'"{ctx.text[node.span[0] : node.span[1]]}" is not an event the system records.',
                expected=options[:8],
                suggestions=rank_suggestions(ctx.text[node.span[0] : node.span[1]], options),
            )
        conditions = [cond for subj in subjects for cond in self.subject_conditions(subj)]
        return RecordEventTrigger(event=info.key), info.entity, conditions

    def _change_parts(self, node: Node) -> tuple[Node | None, Lexeme | None, Lexeme | None, Lexeme | None]:
        """(subject, field word, from value, to value) of a change phrase, in any word order."""
        subj = next(iter(self.ctx.subjects(node)), None)
        field_word = node.first("FIELD")
        from_value = to_value = None
        slot = None  # which value the next value word fills: "from" after FROM, "to" after CHANGE/TO
        for item in node.items:
            if isinstance(item, Node):
                continue
            if item.kind == "FROM":
                slot = "from"
            elif item.kind in ("CHANGE", "TO"):
                slot = "to"
            elif item.kind in VALUE_KINDS and slot == "from":
                from_value = item
            elif item.kind in VALUE_KINDS and slot == "to":
                to_value = item
        return subj, field_word, from_value, to_value

    def change_field(self, node: Node) -> tuple[Any, Any, Any, Any]:
        """The field a change phrase is about and its from/to values (also used by set_field)."""
        ctx = self.ctx
        subj, field_word, from_value, to_value = self._change_parts(node)
        entity = ctx.head_entity(subj)
        info = None
        if field_word is not None:
            info = ctx.resolve_field(field_word, entity)
        else:
            probe = to_value or from_value
            if probe is not None and ctx.stage_of(probe) is not None and probe.kind != "NUMBER":
                info = self.vocab.field("opportunity.stage")
            elif probe is not None and probe.values("VALUE"):
                path, _op, _value = ctx.value_condition(probe, entity)
                info = self.vocab.field(path)
        return entity, info, from_value, to_value

    def _change(self, node: Node) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        entity, info, from_value, to_value = self.change_field(node)
        conditions = self.subject_conditions(node.child("subj"))
        if info is None:
            if from_value is not None or to_value is not None:
                probe = to_value or from_value
                assert probe is not None
                raise ctx.error(
                    "unknown_word",
                    probe,
                    f"不知道“{probe.text}”是哪个字段的值；请写明字段，例如“阶段变为…”。",
                    f'Which field does "{probe.text}" belong to? Name it, for example "the stage moves to …".',
                )
            updated = self.vocab.event_for(entity or "", "updated")
            if updated is None:
                raise ctx.error(
                    "incomplete",
                    node,
                    "什么发生了变化？请写明记录或字段，例如“商机金额变化时”。",
                    'What changed? Name the record or field, for example "when a deal\'s amount changes".',
                )
            return RecordEventTrigger(event=updated.key), updated.entity, conditions
        old = ctx.value_for(info, from_value) if from_value is not None else None
        new = ctx.value_for(info, to_value) if to_value is not None else None
        trigger = RecordChangedTrigger.model_validate(
            {"entity": info.entity, "field": info.name, "from": old, "to": new}
        )
        return trigger, info.entity, conditions

    def _milestone(self, node: Node) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        word = node.first("MILESTONE")
        assert word is not None
        if node.first("NOT") is not None or word.negated:
            raise ctx.error(
                "unsupported",
                word,
                "规则只能在某件事发生时触发，不能在“没有通过”时触发；请写“POC通过后”或改用等待。",
                'A rule fires when something happens, not when it does not; say "when the POC passes".',
            )
        conditions = self.subject_conditions(node.child("subj"))
        stages = self.vocab.stages
        direct = next(
            (
                s
                for s in stages
                if {_norm(s.key), _norm(s.name), _norm(s.name_zh or "")} & set(map(_norm, c.POC_PASSED_KEYS))
            ),
            None,
        )
        if direct is not None:
            return (
                RecordChangedTrigger(entity="opportunity", field="stage", to=direct.key),
                "opportunity",
                conditions,
            )
        poc = None
        for marker in c.POC_STAGE_MARKERS:
            poc = next((s for s in stages if marker in f"{s.key} {s.name} {s.name_zh or ''}".lower()), None)
            if poc is not None:
                break
        if poc is None:
            raise ctx.error(
                "unknown_word",
                word,
                f"没有表示 POC 的阶段，无法判断“{word.text}”；请管理员添加名为“POC通过”的阶段。",
                f'No stage stands for the POC, so "{word.text}" cannot be recognised; '
                'an admin can add a stage named "POC passed" (key poc_passed).',
                suggestions=[ctx.say("添加阶段“POC通过”", 'add a stage "POC passed"')],
            )
        following = sorted(
            (s for s in stages if s.position > poc.position and s.status_class == "open"),
            key=lambda s: s.position,
        )
        to_key = following[0].key if following else None
        ctx.warn(
            f"“{word.text}”理解为商机从“{poc.name_zh or poc.name}”阶段进入"
            + (f"“{following[0].name_zh or following[0].name}”阶段。" if following else "下一阶段。"),
            f'"{word.text}" is read as a deal moving from stage "{poc.name}"'
            + (f' to "{following[0].name}".' if following else " to the next stage."),
        )
        trigger = RecordChangedTrigger.model_validate(
            {"entity": "opportunity", "field": "stage", "from": poc.key, "to": to_key}
        )
        return trigger, "opportunity", conditions

    def _behaviour(self, node: Node) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        subject = ctx.head_entity(node.child("subj")) or "contact"
        if subject not in ("contact", "account"):
            raise ctx.error(
                "invalid_value",
                node.child("subj"),
                "只能统计联系人或客户的浏览行为。",
                "Behaviour is tracked for contacts and accounts only.",
                expected=[ctx.entity_label("contact"), ctx.entity_label("account")],
            )
        if subject == "contact":
            ctx.contact_mentioned = True
        view = node.first("VIEW")
        assert view is not None
        count = within = dwell = None
        for qualifier in node.children("bq"):
            for part in qualifier.items:
                if not isinstance(part, Node):
                    continue
                if part.name == "count":
                    if count is not None:
                        raise ctx.error("ambiguous", part, "次数写了两次。", "The count is given twice.")
                    count = self._count(part)
                elif part.name == "window":
                    if within is not None:
                        raise ctx.error(
                            "ambiguous", part, "时间窗口写了两次。", "The time window is given twice."
                        )
                    self._seconds(part)
                    within = part.first("DURATION").value  # type: ignore[union-attr]
                elif part.name == "dwell":
                    dwell = self._dwell(part)
        if count is None and within is None:
            count, within = 1, {"seconds": 86400}
        elif within is None:
            raise ctx.error(
                "incomplete",
                (node.span[1], node.span[1]),
                "在多长时间内？请加上时间窗口，例如“一周内”。",
                'Within how long? Add a window, for example "within a week".',
                expected=[ctx.say("时间窗口，如“7天内”", 'a window, such as "within 7 days"')],
                suggestions=[ctx.say("一周内", "within a week")],
            )
        trigger = BehaviourTrigger(
            subject=subject,
            event=view.value,
            asset=self._asset(node.child("asset")),
            count_at_least=count or 1,
            within=iso_duration(within),
            min_dwell_seconds=dwell,
        )
        return trigger, subject, self.subject_conditions(node.child("subj"))

    def _count(self, node: Node) -> int:
        ctx = self.ctx
        word = node.first("COUNT")
        assert word is not None
        number = int(word.value["count"])
        comparison = node.first("CMP")
        op = comparison.value if comparison is not None else None
        after = node.first("CMP_POST")
        if op is None and after is not None:
            op = after.value
        if op in ("lt", "lte", "ne"):
            raise ctx.error(
                "unsupported",
                node,
                "行为规则只能按“至少几次”触发。",
                'A behaviour rule fires on "at least N times" only.',
            )
        return number + 1 if op == "gt" else number

    def _dwell(self, node: Node) -> int:
        comparison = node.first("CMP")
        if comparison is not None and comparison.value in ("lt", "lte"):
            raise self.ctx.error(
                "unsupported", node, "停留时长只能设“超过”多久。", 'Dwell time takes "more than" only.'
            )
        return self._seconds(node)

    def _seconds(self, node: Node) -> int:
        word = node.first("DURATION")
        assert word is not None
        if word.value.get("business_days"):
            self.ctx.warn("“工作日”按自然日计算。", "Business days are counted as calendar days.")
        return int(word.value["seconds"])

    def _asset(self, node: Node | None) -> AssetRef | None:
        ctx = self.ctx
        if node is None:
            return None
        word = node.lexemes()[0]
        if word.kind == "ASSET":
            keys = word.values("ASSET")
            if len(keys) > 1:
                names = [a.name for a in self.vocab.assets if a.key in keys]
                raise ctx.error(
                    "ambiguous",
                    word,
                    f"“{word.text}”对应好几份资料：{'、'.join(names)}，请写全名。",
                    f'"{word.text}" matches several assets: {", ".join(names)}; give the full name.',
                    suggestions=names,
                )
            asset = self.vocab.asset(str(keys[0]))
            return AssetRef(key=asset.key, name=asset.name) if asset else AssetRef(key=str(keys[0]))
        if word.kind == "CONTENT":
            return AssetRef(name=str(word.value).removeprefix("report:"))
        if word.kind == "QUOTED":
            name = str(word.value)
            found = next(
                (a for a in self.vocab.assets if _norm(a.name) == _norm(name) or a.key == name), None
            )
            if found is None:
                ctx.warn(
                    f"还没有名为“{name}”的资料，按名称匹配。",
                    f'No asset is called "{name}" yet; it is matched by name.',
                )
                return AssetRef(name=name)
            return AssetRef(key=found.key, name=found.name)
        names = [a.name for a in self.vocab.assets]
        partial = _partial_assets(word.text, self.vocab.assets)
        if len(partial) == 1:
            return AssetRef(key=partial[0].key, name=partial[0].name)
        if len(partial) > 1:
            found_names = [a.name for a in partial]
            raise ctx.error(
                "ambiguous",
                word,
                f"“{word.text}”对应好几份资料：{'、'.join(found_names)}，请写全名。",
                f'"{word.text}" matches several assets: {", ".join(found_names)}; give the full name.',
                suggestions=found_names,
            )
        raise ctx.error(
            "unknown_word",
            word,
            f"没有名为“{word.text}”的资料。" + ("可以用引号写出名称。" if not names else ""),
            f'There is no asset called "{word.text}".'
            + (" Put a name in quotes to use it as is." if not names else ""),
            expected=names[:8],
            suggestions=rank_suggestions(word.text, names) or names[:5],
        )

    def signal(self, nodes: list[Node]) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        keyword = polarity = severity = industry = None
        conditions: list[Condition] = []
        for node in nodes:
            mention = node.first("TEXT", "QUOTED")
            if node.first("MENTION") is not None and mention is not None:
                keyword = str(mention.value).strip()
            word = node.first("POLARITY")
            if word is not None:
                polarity = str(word.value)
                if node.first("NOT") is not None or word.negated:
                    if polarity == "neutral":
                        raise ctx.error(
                            "unsupported", word, "“不中性”无法判断。", '"Not neutral" is not a polarity.'
                        )
                    polarity = {"negative": "positive", "positive": "negative"}[polarity]
            word = node.first("SEVERITY")
            if word is not None:
                severity = str(word.value["severity"])
            for values, entity in ctx.subj_groups(node.child("subj")):
                for value in values:
                    paths = [
                        v
                        for v in value.values("VALUE")
                        if isinstance(v, tuple) and v[0] == "account.industry"
                    ]
                    if paths:
                        industry = str(paths[0][1])
                    else:
                        path, op, literal = ctx.value_condition(value, ctx.entity_of(entity))
                        conditions.append(Condition(field=path, op=op, value=literal))
        trigger = SignalTrigger(keyword=keyword, industry=industry, polarity=polarity, severity=severity)
        return trigger, "account", conditions

    def _schedule(self, node: Node) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        sched = node.first("SCHED")
        assert sched is not None
        value = sched.value
        time = node.first("TIME")
        if time is None:
            hour, minute = 9, 0
            ctx.warn("没有写时间，按早上 9:00 执行。", "No time given: it runs at 09:00.")
        else:
            hour, minute = int(time.value["hour"]), int(time.value["minute"])
        if value.get("defaulted") and value.get("period") == "weekly":
            ctx.warn("没有写星期几，按每周一执行。", "No weekday given: it runs on Mondays.")
        period = value.get("period")
        if period == "daily":
            day_of_month, day_of_week = "*", "*"
        elif period == "monthly":
            day_of_month, day_of_week = str(value.get("day", 1)), "*"
        else:
            days = [int(d) for d in value.get("days", [1])]
            day_of_month, day_of_week = "*", _cron_days(days)
        cron = f"{minute} {hour} {day_of_month} * {day_of_week}"
        return ScheduleTrigger(cron=cron, timezone=self.vocab.timezone), None, []

    def _metric(self, node: Node) -> tuple[Any, str | None, list[Condition]]:
        ctx = self.ctx
        word = node.first("METRIC")
        assert word is not None
        metric = self.vocab.metric(str(word.value))
        assert metric is not None
        op = self.op(node)
        value_word = next((x for x in node.lexemes(*VALUE_KINDS) if x.kind == "NUMBER"), None)
        if value_word is None:
            raise ctx.error(
                "invalid_value",
                node,
                f"{metric.label_zh}需要和一个数字比较。",
                f"{metric.label_en} is compared with a number.",
                expected=[ctx.say("数字", "a number")],
            )
        number = float(value_word.value["number"])
        if value_word.value.get("percent") and metric.scale == "fraction":
            number /= 100
        return MetricTrigger(entity=metric.entity, metric=metric.key, op=op, value=number), metric.entity, []

    def op(self, node: Node) -> str:
        """The comparison of a phrase: its CMP (or "is"), negated by NOT, or a trailing 以上/or more."""
        op_node = node.child("op")
        op = "eq"
        negated = False
        if op_node is not None:
            comparison = op_node.first("CMP")
            if comparison is not None:
                op = str(comparison.value)
            negated = op_node.first("NOT") is not None
        after = node.first("CMP_POST")
        if after is not None and (op_node is None or op_node.first("CMP") is None):
            op = str(after.value)
        if node.first("NOT") is not None:
            negated = not negated
        return NEGATE[op] if negated else op

    # --- conditions ---------------------------------------------------------------------------


def _cron_days(days: list[int]) -> str:
    unique = sorted(set(days))
    if len(unique) > 2 and unique == list(range(unique[0], unique[-1] + 1)):
        return f"{unique[0]}-{unique[-1]}"
    return ",".join(str(day) for day in days)


_ASSET_NOISE = frozenset(
    {"the", "a", "an", "our", "my", "this", "that", "doc", "document", "资料", "文档", "的"}
)


def _partial_assets(text: str, assets: Iterable[AssetInfo]) -> list[AssetInfo]:
    """Assets whose name holds every word of ``text`` ("PLC白皮书", "the PLC whitepaper" →
    "PLC通讯协议兼容性白皮书"); a content word may stand for its synonyms (白皮书 = whitepaper)."""
    norm, _ = normalise(text)
    pieces = [p for p in re.findall(r"[a-z0-9]+|[\u3400-\u9fff]+", norm) if p not in _ASSET_NOISE]
    if not pieces:
        return []
    found: list[AssetInfo] = []
    for asset in assets:
        haystack = " ".join(_norm(s) for s in name_surfaces(asset.name, asset.key, c.CONTENT_SYNONYMS))
        hay_words = set(re.findall(r"[a-z0-9]+", haystack))

        def holds(piece: str, haystack: str = haystack, hay_words: set[str] = hay_words) -> bool:
            if piece.isascii():
                return piece in hay_words or (len(piece) > 3 and piece in haystack)
            return piece in haystack

        if all(holds(piece) for piece in pieces):
            found.append(asset)
    return found


def _norm(text: str) -> str:
    norm, _ = normalise(text)
    return norm.replace(" ", "").replace("_", "")
