"""The actions of a sentence: parsed action phrases → IR actions.

One phrase may give several actions (push_content and add_member take one recipient each,
create_task one assignee). People are resolved through ``Context.recipient`` in sentence
order, so a later pronoun can refer to someone named earlier; a missing recipient is an
error, never a default, except for a meeting's attendees (its owner and the people the
same rule notifies), which the read-back and a warning make visible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pathcast.automation.ir import (
    AddMemberAction,
    CreateHiveAction,
    CreateMeetingAction,
    CreateTaskAction,
    GeneratePlanAction,
    NotifyAction,
    PushContentAction,
    Recipient,
    RequireApprovalAction,
    RequireConfirmationAction,
    SetFieldAction,
    TagAction,
    WebhookAction,
)
from pathcast.automation.language import catalog as c
from pathcast.automation.language.errors import rank_suggestions
from pathcast.automation.language.lexer import Lexeme
from pathcast.automation.language.parser import Node
from pathcast.automation.language.semantics import Context, iso_duration

ChangeField = Callable[[Node], tuple[Any, Any, Any, Any]]
OUTBOUND = ("webhook", "wecom_robot", "dingtalk_robot")


def build_actions(ctx: Context, nodes: list[Node], change_field: ChangeField) -> list[Any]:
    """IR actions for the action phrases, in sentence order."""
    actions: list[Any] = []
    for node in nodes:
        if node.name == "change_c":
            actions.append(_set_field(ctx, node, change_field))
        elif node.name == "add_member" and actions and isinstance(actions[-1], CreateMeetingAction):
            # "召开启动会，邀请负责人和实施总监参加": the invited are the meeting's attendees
            for recipient in _recipients(ctx, node):
                if recipient not in actions[-1].attendees:
                    actions[-1].attendees.append(recipient)
        elif node.name == "approval" and actions and isinstance(actions[-1], RequireApprovalAction):
            # "…by the sales VP for strategic accounts, and by the regional manager otherwise"
            _merge_approvals(ctx, actions[-1], _approval(ctx, node)[0], node)
        else:
            actions += _BUILDERS[node.name](ctx, node)
    notified = [r for a in actions if isinstance(a, NotifyAction) for r in a.recipients]
    for action in actions:
        if isinstance(action, CreateMeetingAction) and not action.attendees:
            owner = Recipient(kind="relation", value="owner")
            action.attendees = list(_unique([owner, *notified]))
            ctx.warn(
                "没有写参会人：邀请负责人" + ("和被通知的人。" if notified else "。"),
                "No attendees named: the owner"
                + (" and the people notified are invited." if notified else " is invited."),
            )
    # Validate every action once more now that defaults are filled in.
    return [type(action).model_validate(action.model_dump(by_alias=True)) for action in actions]


def _unique(recipients: list[Recipient]) -> list[Recipient]:
    seen: list[Recipient] = []
    for recipient in recipients:
        if recipient not in seen:
            seen.append(recipient)
    return seen


def _recipients(ctx: Context, node: Node | None) -> list[Recipient]:
    """Every recipient below ``node`` (prefix lists, tails), in sentence order."""
    if node is None:
        return []
    found: list[Recipient] = []
    for item in node.items:
        if isinstance(item, Node):
            if item.name == "recipient":
                found.append(ctx.recipient(item))
            elif item.name in ("recipients", "ctail", "approver"):
                found += _recipients(ctx, item)
    return _unique(found)


def _missing(ctx: Context, node: Node, verb: Lexeme | None) -> Exception:
    where = verb or node
    return ctx.error(
        "missing_recipient",
        where,
        "要通知（或交给）谁？请写明，例如“负责人”或“实施总监”。",
        'Whom? Name the person, for example "the owner" or "the implementation director".',
        expected=[ctx.say("一个职位或相关人员", "a position or a related person")],
        suggestions=ctx.people_suggestions(),
    )


def _duration(node: Node | None) -> str | None:
    if node is None:
        return None
    word = node.first("DURATION")
    return iso_duration(word.value) if word is not None else None


def _text(ctx: Context, node: Node | None, head: Lexeme | None = None) -> str | None:
    """A title's text as typed: quoted as is, otherwise from its first word through ``head``."""
    if node is None:
        return head.text.strip() if head is not None else None
    word = node.lexemes()[0]
    if word.kind == "QUOTED":
        return str(word.value)
    end = head.end if head is not None and head.start >= word.end else word.end
    return ctx.text[word.start : end].strip()


# --- builders ------------------------------------------------------------------------------------


def _notify(ctx: Context, node: Node) -> list[Any]:
    recipients = _recipients(ctx, node.child("recipients"))
    if not recipients:
        raise _missing(ctx, node, node.first("NOTIFY"))
    channels = list(
        dict.fromkeys(str(word.value) for via in node.children("via") for word in via.lexemes("CHANNEL"))
    )
    message = node.child("message")
    words = message.first("QUOTED", "TEXT") if message is not None else None
    return [
        NotifyAction(
            recipients=recipients,
            message=str(words.value).strip() if words is not None else None,
            channels=channels or ["in_app"],
        )
    ]


def _create(ctx: Context, node: Node) -> list[Any]:
    head = node.first("MEETING_NOUN", "TASK_NOUN", "HIVE_NOUN")
    assert head is not None
    people = _recipients(ctx, node)
    tails = node.children("ctail")
    window = node.child("window") or next((t.child("window") for t in tails if t.child("window")), None)
    template_node = node.child("tmpl") or next((t.child("tmpl") for t in tails if t.child("tmpl")), None)
    quoted = next((t.first("QUOTED", "TITLE") for t in tails if t.first("QUOTED", "TITLE") is not None), None)
    title = _text(ctx, node.child("title"), head if head.kind == "MEETING_NOUN" else None)
    if quoted is not None and (title is None or node.child("title") is None):
        title = str(quoted.value)
    if head.kind == "HIVE_NOUN":
        if template_node is None:
            raise ctx.error(
                "incomplete",
                head,
                "用哪个模板创建任务蜂巢？例如“按“产线升级”模板”。",
                'Which template is the hive created from? For example "from the “产线升级” template".',
                expected=[ctx.say("模板名称", "a template name")],
            )
        name = next((x for x in template_node.lexemes("QUOTED", "TEXT")), None)
        assert name is not None
        return [CreateHiveAction(template=str(name.value).strip(), members=people)]
    if head.kind == "MEETING_NOUN":
        return [
            CreateMeetingAction.model_construct(
                type="create_meeting",
                title=title or ctx.say("会议", "Meeting"),
                attendees=people,
                within=_duration(window),
                duration_minutes=60,
            )
        ]
    if not people:
        raise _missing(ctx, node, node.first("CREATE", "ADD", "GENERATE"))
    if title is None:
        title = ctx.say("跟进", "Follow up")
        ctx.warn("任务没有写标题，用“跟进”。", 'The task has no title; it is called "Follow up".')
    return [CreateTaskAction(assignee=person, title=title, due_in=_duration(window)) for person in people]


def _tag(ctx: Context, node: Node) -> list[Any]:
    target: str | None = None
    pronoun = node.first("PRONOUN")
    subj = node.child("subj")
    if pronoun is not None:
        target = ctx.record_antecedent(pronoun)
    elif subj is not None:
        target = ctx.head_entity(subj)
    else:
        target = ctx.subject
    title = node.child("title")
    if title is None:
        raise ctx.error(
            "incomplete",
            node,
            "打什么标签？例如“标记为“高意向””。",
            'Which tag? For example "tag them “high intent”".',
            expected=[ctx.say("标签名称", "a tag name")],
        )
    if target is None or target not in c.TAGGABLE:
        options = [ctx.entity_label(e) for e in c.TAGGABLE]
        raise ctx.error(
            "invalid_value",
            pronoun or subj or node,
            f"只能给{'、'.join(options)}打标签。",
            f"Tags go on {', '.join(options)} only.",
            expected=options,
        )
    text = _text(ctx, title) or ""
    return [TagAction(target=target, tag=text[:80])]


def _content(ctx: Context, node: Node) -> str:
    word = node.lexemes()[0]
    vocabulary = ctx.vocabulary
    if word.kind == "CONTENT":
        refs = word.values("CONTENT")
        if len(refs) > 1:
            raise ctx.error(
                "ambiguous",
                word,
                f"“{word.text}”对应好几份文档：{'、'.join(map(str, refs))}。",
                f'"{word.text}" matches several documents: {", ".join(map(str, refs))}.',
                suggestions=[str(ref) for ref in refs],
            )
        return str(refs[0])
    if word.kind == "ASSET":
        asset = vocabulary.asset(str(word.values("ASSET")[0]))
        return asset.name if asset else str(word.value)
    if word.kind == "QUOTED":
        name = str(word.value)
        if vocabulary.content(name) is None and all(a.name != name for a in vocabulary.assets):
            ctx.warn(
                f"还没有名为“{name}”的文档，按名称发送。",
                f'No document is called "{name}" yet; it is sent by name.',
            )
        return name
    names = sorted(ctx.lexicon.surfaces.get("CONTENT", set()) | ctx.lexicon.surfaces.get("ASSET", set()))
    raise ctx.error(
        "unknown_word",
        word,
        f"没有名为“{word.text}”的文档或资料；可以用引号写出名称。",
        f'There is no document or asset called "{word.text}"; put a name in quotes to use it as is.',
        expected=names[:8],
        suggestions=rank_suggestions(word.text, names),
    )


def _push(ctx: Context, node: Node) -> list[Any]:
    content_node = node.child("content")
    assert content_node is not None
    content = _content(ctx, content_node)
    recipients = _recipients(ctx, node.child("recipients"))
    if not recipients:
        raise _missing(ctx, node, node.first("PUSH"))
    return [PushContentAction(content=content, to=recipient) for recipient in recipients]


def _webhook(ctx: Context, node: Node) -> list[Any]:
    hook = node.child("hook")
    if hook is None:
        raise ctx.error(
            "incomplete",
            node,
            "调用哪个 Webhook？请写出已配置的连接器名称或网址。",
            "Which webhook? Name a configured connector or give a URL.",
        )
    word = hook.lexemes()[0]
    if word.kind == "URL":
        return [WebhookAction(url=word.text)]
    names = [str(v) for v in word.values("CONNECTOR")] or [str(word.value).strip()]
    connector = next(
        (ctx.vocabulary.connector(name) for name in names if ctx.vocabulary.connector(name)), None
    )
    outbound = [x.name for x in ctx.vocabulary.connectors if x.kind in OUTBOUND]
    if connector is None or connector.kind not in OUTBOUND:
        raise ctx.error(
            "unknown_word",
            word,
            f"没有名为“{word.text}”的外发 Webhook 连接器。",
            f'There is no outbound webhook connector called "{word.text}".',
            expected=outbound,
            suggestions=rank_suggestions(word.text, outbound),
        )
    return [WebhookAction(connector=connector.name)]


def _approval(ctx: Context, node: Node) -> list[Any]:
    approver_node = node.child("approver")
    approver = _recipients(ctx, approver_node)[0] if approver_node is not None else None
    routes_node = node.child("routes") or node
    routes: dict[str, Recipient] = {}
    default: Recipient | None = None
    route_by: str | None = None
    for route in routes_node.children("route"):
        recipient_node = route.child("recipient")
        assert recipient_node is not None
        recipient = ctx.recipient(recipient_node)
        if route.first("OTHERWISE") is not None:
            default = recipient
            continue
        key_node = route.child("rkey")
        assert key_node is not None
        entity_word = key_node.first("ENTITY")
        entity = ctx.entity_of(entity_word) if entity_word is not None else None
        for value_word in key_node.lexemes("RKEY"):
            path, _op, value = ctx.value_condition(value_word, entity)
            if isinstance(value, list):
                raise ctx.error(
                    "unsupported",
                    value_word,
                    "审批路由需要一个确定的值。",
                    "An approval route needs a single value.",
                )
            if route_by is not None and path != route_by:
                raise ctx.error(
                    "ambiguous",
                    value_word,
                    "审批路由要按同一个字段区分（例如都按客户等级）。",
                    "Approval routes must all go by one field (for example the account tier).",
                )
            route_by = path
            routes[str(value)] = recipient
    if default is None:
        default = approver
    if not routes and default is None:
        raise _missing(ctx, node, node.first("APPROVAL"))
    return [
        RequireApprovalAction(
            subject=ctx.subject,
            route_by=route_by or "account.tier",
            routes=routes,
            default=default,
        )
    ]


def _merge_approvals(
    ctx: Context, first: RequireApprovalAction, second: RequireApprovalAction, node: Node
) -> None:
    if second.routes and first.routes and second.route_by != first.route_by:
        raise ctx.error(
            "ambiguous", node, "审批路由要按同一个字段区分。", "Approval routes must all go by one field."
        )
    if second.routes:
        first.route_by = second.route_by
    first.routes.update(second.routes)
    if second.default is not None:
        if first.default is not None and first.default != second.default:
            raise ctx.error(
                "ambiguous",
                node,
                "“其他情况”的审批人写了两个。",
                "Two approvers are given for all other cases.",
            )
        first.default = second.default


def _confirm(ctx: Context, node: Node) -> list[Any]:
    people = _recipients(ctx, node.child("approver"))
    if not people:
        raise _missing(ctx, node, node.first("CONFIRM"))
    prompt = node.child("prompt")
    quoted = prompt.first("QUOTED") if prompt is not None else None
    return [
        RequireConfirmationAction(
            by=people[0],
            note_required=node.child("note") is not None,
            prompt=str(quoted.value) if quoted is not None else None,
        )
    ]


def _add_member(ctx: Context, node: Node) -> list[Any]:
    people = _recipients(ctx, node)
    title = node.child("title")
    role = _text(ctx, title) if title is not None else None
    return [AddMemberAction(member=person, role=role) for person in people]


def _gen_plan(ctx: Context, node: Node) -> list[Any]:
    noun = node.first("PLAN_NOUN")
    assert noun is not None
    kind = str(noun.value)
    title = node.child("title")
    if title is not None and kind == "action":
        kind = _text(ctx, title) or kind
    if node.child("recipients") is not None:
        ctx.warn(
            "生成的方案会附在规则的运行记录里，不单独发送。",
            "The plan is attached to the run; it is not sent to anyone.",
        )
    return [GeneratePlanAction(kind=kind)]


def _set_field(ctx: Context, node: Node, change_field: ChangeField) -> Any:
    entity, info, _old, new = change_field(node)
    if info is None or new is None:
        raise ctx.error(
            "incomplete",
            node,
            "把哪个字段改成什么？例如“把预测类别设为承诺”。",
            'Set which field to what? For example "set the forecast category to commit".',
        )
    del entity
    return SetFieldAction(entity=info.entity, field=info.name, value=ctx.value_for(info, new))


_BUILDERS: dict[str, Callable[[Context, Node], list[Any]]] = {
    "notify": _notify,
    "create": _create,
    "tag": _tag,
    "push": _push,
    "webhook": _webhook,
    "approval": _approval,
    "confirm": _confirm,
    "add_member": _add_member,
    "gen_plan": _gen_plan,
}
