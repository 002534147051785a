"""A plain-language restatement of a rule IR, in Chinese or English.

Generated from the IR alone (never an echo of the sentence), so a manager sees what the
system understood: entities, fields, stages, values and people by their display names,
durations as people say them ("48 小时", "within 7 days").
"""

from __future__ import annotations

import re
from typing import Any

from pathcast.automation.ir import (
    AddMemberAction,
    BehaviourTrigger,
    Condition,
    CreateHiveAction,
    CreateMeetingAction,
    CreateTaskAction,
    GeneratePlanAction,
    MetricTrigger,
    NotifyAction,
    PushContentAction,
    Recipient,
    RecordChangedTrigger,
    RecordEventTrigger,
    RequireApprovalAction,
    RequireConfirmationAction,
    RuleIR,
    ScheduleTrigger,
    SetFieldAction,
    SignalTrigger,
    TagAction,
    Wait,
    WebhookAction,
    parse_duration,
)
from pathcast.automation.language import catalog as c
from pathcast.automation.language.vocabulary import Vocabulary

OPS = {
    "gt": ("超过", "is more than"),
    "gte": ("不少于", "is at least"),
    "lt": ("低于", "is less than"),
    "lte": ("不超过", "is at most"),
    "eq": ("为", "is"),
    "ne": ("不为", "is not"),
    "in": ("属于", "is one of"),
    "not_in": ("不属于", "is none of"),
    "contains": ("包含", "contains"),
    "is_set": ("已填写", "is filled in"),
    "is_not_set": ("为空", "is empty"),
}
VIEWS = {"view": ("查看", "views"), "download": ("下载", "downloads"), "click": ("点击", "clicks")}
POLARITY = {
    "negative": ("负面", "negative"),
    "positive": ("正面", "positive"),
    "neutral": ("中性", "neutral"),
}
CHANNELS = {
    "in_app": ("站内", "in the app"),
    "email": ("邮件", "e-mail"),
    "wecom": ("企业微信", "WeCom"),
    "dingtalk": ("钉钉", "DingTalk"),
}
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
_UNITS = {
    "weeks": ("周", "week"),
    "days": ("天", "day"),
    "hours": ("小时", "hour"),
    "minutes": ("分钟", "minute"),
    "seconds": ("秒", "second"),
}
WEEKDAYS = (("周日", "Sunday"), ("周一", "Monday"), ("周二", "Tuesday"), ("周三", "Wednesday"),
            ("周四", "Thursday"), ("周五", "Friday"), ("周六", "Saturday"))  # fmt: skip


class _Say:
    def __init__(self, vocabulary: Vocabulary, lang: str) -> None:
        self.v = vocabulary
        self.zh = lang == "zh"

    def pick(self, zh: str, en: str) -> str:
        return zh if self.zh else en

    def join(self, parts: list[str], *, conj: tuple[str, str] = ("和", "and")) -> str:
        if len(parts) <= 1:
            return "".join(parts)
        if self.zh:
            return "、".join(parts[:-1]) + conj[0] + parts[-1]
        return ", ".join(parts[:-1]) + f" {conj[1]} " + parts[-1]

    # --- names -------------------------------------------------------------------------------

    def entity(self, name: str) -> str:
        info = self.v.entity(name)
        if info is None:
            return {"hive": self.pick("任务蜂巢", "hive")}.get(name, name)
        return self.pick(info.label_zh, info.label_en)

    def field(self, path: str, article: str = "the") -> str:
        info = self.v.field(path)
        entity, _, name = path.partition(".")
        label = self.pick(info.label_zh, info.label_en) if info else name.replace("_", " ")
        owner = self.entity(entity)
        if label.startswith(owner) or (not self.zh and label.startswith(owner.split()[-1])):
            return label if self.zh else f"{article} {label}"  # "合同状态", not "合同的合同状态"
        return self.pick(f"{owner}的{label}", f"{article} {owner}'s {label}")

    def value(self, path: str, value: Any) -> str:
        if isinstance(value, list):
            return self.join([self.value(path, item) for item in value], conj=("或", "or"))
        if isinstance(value, bool):
            return self.pick("是" if value else "否", "yes" if value else "no")
        info = self.v.field(path)
        if info is not None and info.kind == "stage":
            stage = self.v.stage(str(value))
            if stage is not None:
                return f"“{self.pick(stage.name_zh or stage.name, stage.name)}”"
        known = self.v.value(path, str(value))
        if known is not None:
            return f"“{self.pick(known.label_zh, known.label_en)}”"
        if info is not None and info.kind == "percent" and isinstance(value, int | float):
            return f"{_number(value)}%"
        if isinstance(value, int | float):
            return _number(value)
        return f"“{value}”"

    def duration(self, iso: str) -> str:
        """As written: PT48H → "48 小时" / "48 hours", P7D → "7 天" / "7 days"."""
        match = _ISO.match(iso)
        parts = {k: int(v) for k, v in (match.groupdict() if match else {}).items() if v}
        if len(parts) != 1:
            parts = {"seconds": int(parse_duration(iso).total_seconds())}
        unit, count = next(iter(parts.items()))
        zh, en = _UNITS[unit]
        return f"{count} {zh}" if self.zh else f"{count} {en}{'s' if count != 1 else ''}"

    def person(self, recipient: Recipient) -> str:
        if recipient.kind == "user":
            return recipient.value
        found = self.v.person(recipient.kind, recipient.value)
        if found is not None:
            label = self.pick(found.label_zh, found.label_en)
        elif recipient.kind == "relation" and recipient.value in c.RELATIONS:
            zh, en, _ = c.RELATIONS[recipient.value]
            label = self.pick(zh, en)
        else:
            label = recipient.value.replace("_", " ")
        if recipient.kind == "role" and not self.zh and not label.startswith("the "):
            position = self.v.person("role", recipient.value)
            return label if position and recipient.value in c.ACCESS_ROLES else f"the {label}"
        return label

    def people(self, recipients: list[Recipient]) -> str:
        return self.join([self.person(r) for r in recipients])

    # --- parts ---------------------------------------------------------------------------------

    def trigger(self, trigger: Any) -> str:
        if isinstance(trigger, RecordEventTrigger):
            event = self.v.event(trigger.event)
            label = self.pick(event.label_zh, event.label_en) if event else trigger.event
            return self.pick(f"当{label}时", f"when {label}")
        if isinstance(trigger, RecordChangedTrigger):
            path = f"{trigger.entity}.{trigger.field}"
            what = self.field(path, "a")
            if trigger.from_ is not None and trigger.to is not None:
                a, b = self.value(path, trigger.from_), self.value(path, trigger.to)
                return self.pick(f"当{what}从{a}变为{b}时", f"when {what} changes from {a} to {b}")
            if trigger.to is not None:
                return self.pick(
                    f"当{what}变为{self.value(path, trigger.to)}时",
                    f"when {what} becomes {self.value(path, trigger.to)}",
                )
            if trigger.from_ is not None:
                a = self.value(path, trigger.from_)
                return self.pick(f"当{what}从{a}变为其他值时", f"when {what} changes from {a}")
            return self.pick(f"当{what}发生变化（含新建）时", f"when {what} changes (or is first set)")
        if isinstance(trigger, BehaviourTrigger):
            return self._behaviour(trigger)
        if isinstance(trigger, MetricTrigger):
            path = f"{trigger.entity}.{trigger.metric}"
            metric = self.v.metric(trigger.metric)
            label = self.pick(metric.label_zh, metric.label_en) if metric else trigger.metric
            value = (
                f"{_number(trigger.value * 100)}%"
                if metric and metric.scale == "fraction"
                else _number(trigger.value)
            )
            op_zh, op_en = OPS[trigger.op]
            del path
            return self.pick(
                f"当{self.entity(trigger.entity)}的{label}{op_zh}{value}时",
                f"when a {self.entity(trigger.entity)}'s {label} {op_en} {value}",
            )
        if isinstance(trigger, SignalTrigger):
            return self._signal(trigger)
        if isinstance(trigger, ScheduleTrigger):
            return self._schedule(trigger)
        return str(trigger)  # pragma: no cover

    def _behaviour(self, t: BehaviourTrigger) -> str:
        subject = self.entity(t.subject)
        asset = (t.asset.name or t.asset.key) if t.asset else None
        verb_zh, verb_en = VIEWS[t.event]
        what_zh = f"“{asset}”" if asset else "任一资料"
        what_en = f"“{asset}”" if asset else "any asset"
        within = self.duration(t.within)
        times_en = "once" if t.count_at_least == 1 else f"at least {t.count_at_least} times"
        dwell_zh = f"（每次停留超过 {t.min_dwell_seconds} 秒）" if t.min_dwell_seconds else ""
        dwell_en = f", each time for more than {t.min_dwell_seconds} seconds" if t.min_dwell_seconds else ""
        if t.count_at_least == 1 and t.within == "P1D":  # a single view: the window does not matter
            return self.pick(
                f"当{subject}{verb_zh}{what_zh}{dwell_zh}时",
                f"when a {subject} {verb_en} {what_en}{dwell_en}",
            )
        return self.pick(
            f"当{subject}在 {within}内{verb_zh}{what_zh}至少 {t.count_at_least} 次{dwell_zh}时",
            f"when a {subject} {verb_en} {what_en} {times_en} within {within}{dwell_en}",
        )

    def _signal(self, t: SignalTrigger) -> str:
        industry = ""
        if t.industry:
            known = self.v.value("account.industry", t.industry)
            industry = self.pick(known.label_zh, known.label_en) if known else t.industry
        who_zh = f"{industry}{'' if industry.endswith('业') or not industry else '行业'}客户"
        who_en = f"a {industry} customer" if industry else "a customer"
        mood_zh, mood_en = POLARITY[t.polarity] if t.polarity else ("", "")
        grade_zh = f"（级别 {t.severity} 及以上）" if t.severity else ""
        grade_en = f" (graded {t.severity} or higher)" if t.severity else ""
        if t.keyword:
            return self.pick(
                f"当雷达发现{who_zh}提到“{t.keyword}”"
                + (f"且情绪{mood_zh}" if mood_zh else "")
                + f"{grade_zh}时",
                f"when the radar finds {who_en} mentioning “{t.keyword}”"
                + (f" with {mood_en} sentiment" if mood_en else "")
                + grade_en,
            )
        return self.pick(
            f"当雷达发现关于{who_zh}的{mood_zh}信号{grade_zh}时",
            f"when the radar finds a {mood_en + ' ' if mood_en else ''}signal about {who_en}{grade_en}",
        )

    def _schedule(self, t: ScheduleTrigger) -> str:
        parts = t.cron.split()
        if len(parts) != 5:
            return self.pick(f"按 cron “{t.cron}”", f"on cron “{t.cron}”")
        minute, hour, dom, _month, dow = parts
        clock = (
            f"{int(hour):02d}:{int(minute):02d}"
            if hour.isdigit() and minute.isdigit()
            else f"{hour}:{minute}"
        )
        if dow != "*":
            if dow == "1-5":
                days = self.pick("每个工作日", "every weekday")
            else:
                names = [WEEKDAYS[int(d) % 7] for d in dow.replace("-", ",").split(",") if d.isdigit()]
                days = self.pick(
                    "每" + "、".join(n[0] for n in names), "every " + self.join([n[1] for n in names])
                )
        elif dom != "*":
            days = self.pick(f"每月 {dom} 日", f"on day {dom} of every month")
        else:
            days = self.pick("每天", "every day")
        return self.pick(f"{days} {clock}（{t.timezone}）", f"{days} at {clock} ({t.timezone})")

    def condition(self, cond: Condition) -> str:
        if cond.connector:
            connector = self.v.connector(cond.connector)
            aliases = list(connector.aliases) if connector else []
            own = [a for a in aliases if bool(re.search(r"[\u3400-\u9fff]", a)) == self.zh]
            name = own[0] if own else cond.connector
            passed = cond.value is True
            return self.pick(
                f"“{name}”检查{'通过' if passed else '未通过'}",
                f"the “{name}” check {'passes' if passed else 'does not pass'}",
            )
        op_zh, op_en = OPS[cond.op]
        what = self.field(cond.field)
        if cond.op in ("is_set", "is_not_set"):
            return self.pick(f"{what}{op_zh}", f"{what} {op_en}")
        value = self.value(cond.field, cond.value)
        return self.pick(f"{what}{op_zh}{value}", f"{what} {op_en} {value}")

    def wait(self, wait: Wait) -> str:
        time = self.duration(wait.duration)
        if not wait.unless:
            return self.pick(f"等待 {time}后，", f"wait {time}, then ")
        events = []
        for match in wait.unless:
            event = self.v.event(match.event)
            events.append(self.pick(event.label_zh, event.label_en) if event else match.event)
        return self.pick(
            f"等待 {time}（期间如果{'或'.join(events)}则停止），然后",
            f"wait {time} (stopping if {' or '.join(events)} meanwhile), then ",
        )

    def action(self, action: Any) -> str:
        if isinstance(action, NotifyAction):
            via = [self.pick(*CHANNELS[ch]) for ch in action.channels if ch != "in_app"]
            text = self.pick(
                f"通知{self.people(action.recipients)}", f"notify {self.people(action.recipients)}"
            )
            if via:
                text += self.pick(f"（通过{'、'.join(via)}）", f" by {self.join(via)}")
            if action.message:
                text += self.pick(f"：“{action.message}”", f": “{action.message}”")
            return text
        if isinstance(action, CreateTaskAction):
            due = (
                self.pick(
                    f"（{self.duration(action.due_in)}内完成）",
                    f", due within {self.duration(action.due_in)}",
                )
                if action.due_in
                else ""
            )
            return self.pick(
                f"给{self.person(action.assignee)}创建任务“{action.title}”{due}",
                f"create the task “{action.title}” for {self.person(action.assignee)}{due}",
            )
        if isinstance(action, CreateMeetingAction):
            within = (
                self.pick(f"（{self.duration(action.within)}内）", f" within {self.duration(action.within)}")
                if action.within
                else ""
            )
            return self.pick(
                f"安排会议“{action.title}”{within}，参会人：{self.people(action.attendees)}",
                f"book the meeting “{action.title}”{within} with {self.people(action.attendees)}",
            )
        if isinstance(action, TagAction):
            return self.pick(
                f"给该{self.entity(action.target)}打上标签“{action.tag}”",
                f"tag the {self.entity(action.target)} “{action.tag}”",
            )
        if isinstance(action, SetFieldAction):
            path = f"{action.entity}.{action.field}"
            return self.pick(
                f"把{self.field(path)}设为{self.value(path, action.value)}",
                f"set {self.field(path)} to {self.value(path, action.value)}",
            )
        if isinstance(action, PushContentAction):
            return self.pick(
                f"把“{self._content(action.content)}”发送给{self.person(action.to)}",
                f"send “{self._content(action.content)}” to {self.person(action.to)}",
            )
        if isinstance(action, WebhookAction):
            target = action.connector or action.url or ""
            return self.pick(f"调用 Webhook “{target}”", f"call the webhook “{target}”")
        if isinstance(action, RequireApprovalAction):
            return self._approval(action)
        if isinstance(action, RequireConfirmationAction):
            note = self.pick("（须填写说明）", " with a written note") if action.note_required else ""
            prompt = self.pick(f"：“{action.prompt}”", f": “{action.prompt}”") if action.prompt else ""
            return self.pick(
                f"需要{self.person(action.by)}确认{note}{prompt}",
                f"require confirmation from {self.person(action.by)}{note}{prompt}",
            )
        if isinstance(action, AddMemberAction):
            role = self.pick(f"（角色：{action.role}）", f" as {action.role}") if action.role else ""
            return self.pick(
                # Until hives exist the collaboration is the account team, and the added member
                # always gets the account's brief (actions/members.py): say both.
                f"把{self.person(action.member)}加入该客户的协作（客户团队）{role}，并附上上季度工单处理时长",
                f"add {self.person(action.member)} to the account's collaboration (its account team){role}, "
                "with last quarter's ticket resolution times attached",
            )
        if isinstance(action, CreateHiveAction):
            members = (
                self.pick(f"，成员：{self.people(action.members)}", f" with {self.people(action.members)}")
                if action.members
                else ""
            )
            return self.pick(
                f"按“{action.template}”模板创建任务蜂巢{members}",
                f"create a task hive from the “{action.template}” template{members}",
            )
        if isinstance(action, GeneratePlanAction):
            kind = c.PLAN_KINDS.get(action.kind)
            label = self.pick(kind[0], kind[1]) if kind else action.kind
            return self.pick(f"生成“{label}”", f"generate a “{label}”")
        return str(action)  # pragma: no cover

    def _content(self, ref: str) -> str:
        content = self.v.content(ref)
        return self.pick(content.label_zh, content.label_en) if content else ref

    def _approval(self, action: RequireApprovalAction) -> str:
        entity = action.route_by.split(".")[0]
        parts = []
        for key, recipient in action.routes.items():
            value = self.v.value(action.route_by, key)
            label = self.pick(value.label_zh, value.label_en) if value else key
            parts.append(
                self.pick(
                    f"{label}{self.entity(entity)}由{self.person(recipient)}审批",
                    f"{label} {self.entity(entity)}s by {self.person(recipient)}",
                )
            )
        if action.default is not None:
            who = self.person(action.default)
            if parts:
                parts.append(self.pick(f"其他情况由{who}审批", f"otherwise by {who}"))
            else:
                return self.pick(f"提交{who}审批", f"require approval by {who}")
        separator = "，" if self.zh else ", "
        return self.pick(f"提交审批：{separator.join(parts)}", f"require approval: {separator.join(parts)}")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def readback(ir: RuleIR, vocabulary: Vocabulary, lang: str) -> str:
    """The rule in plain Chinese (``zh``) or English (``en``)."""
    say = _Say(vocabulary, lang)
    head = say.trigger(ir.trigger)
    if ir.conditions:
        conditions = [say.condition(cond) for cond in ir.conditions]
        head += say.pick(f"，如果{'且'.join(conditions)}", f", if {' and '.join(conditions)}")
    wait = say.wait(ir.wait) if ir.wait else ""
    actions = [say.action(action) for action in ir.actions]
    body = say.pick("；".join(actions), "; ".join(actions))
    sentence = say.pick(f"{head}，{wait}{body}。", f"{head}, {wait}{body}.")
    return sentence[0].upper() + sentence[1:]
