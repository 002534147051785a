"""``add_member``: bring people into the collaboration of the run's account, with a context brief.

"The collaboration" of an account is its account team (``auth.positions``: "the account's
CSM") and, when the account has a hive people still work in, that hive too (``hives``). The action resolves its ``member`` recipient (a
position such as 客户成功经理 → its holders; a relation such as "the account's CSM" → the
account team), finds the account the run is about (from an account, deal, contract,
subscription, quote, ticket… subject), puts each person on the team, and sends each *new*
member an in-app notification whose body is the brief they need to start: the account's
ticket resolution times for last quarter and, when a renewal-risk event fired the rule, the
factors behind that risk. The outcome carries the same attachment.

``join_account_team`` is the one small function holding the account-team behaviour, so the
hives package can replace it (or call it) without touching the rest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Position, User
from pathcast.auth.permissions import Actor
from pathcast.automation import ir
from pathcast.automation.actions import recipients
from pathcast.automation.actions.base import ActionContext, Outcome
from pathcast.automation.actions.hives import join_active_hive
from pathcast.automation.actions.notify import Compose, Delivery, Letter, deliver_personal, text
from pathcast.crm import service as crm
from pathcast.crm.service import lookups as crm_lookups
from pathcast.errors import NotFound

RENEWAL_EVENT = "forecast.renewal_risk"
GENERIC_POSITION = ("collaborator", "Collaborator", "协作成员", ("协作", "collaboration member"))

TEXTS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "joined": "规则「{rule}」已把你加入客户「{account}」的协作（客户团队，职位：{position}）。",
        "risk": "续约风险 {value}（此前 {previous}），续约日 {renewal}。主要因素：",
        "team": "客户团队",
    },
    "en": {
        "joined": 'Rule "{rule}" added you to the collaboration of {account} (account team, as {position}).',
        "risk": "Renewal risk {value} (was {previous}), renewal on {renewal}. Factors:",
        "team": "Account team",
    },
}


def _t(lang: str, key: str, **params: Any) -> str:
    return TEXTS["zh-CN" if lang.startswith("zh") else "en"][key].format(**params)


def join_account_team(
    session: Session, *, account_id: int, user: User, position: Position, actor: Actor
) -> bool:
    """Put ``user`` on the account's team in ``position`` (``account.team_member_added`` through
    positions' service); True when they were not on it in that position before."""
    before = {member.id for member in positions.account_team(session, account_id, position.key)}
    positions.add_account_team_member(
        session, account_id=account_id, user=user, position=position, actor=actor
    )
    return user.id not in before


def subject_account_id(session: Session, ctx: ActionContext) -> int | None:
    """The account the run is about: directly, via its deal, or via a subscription's contract."""
    scope = recipients.load_scope(session, ctx.subject)
    if scope.account_id is not None:
        return scope.account_id
    record = scope.record
    contract_id = getattr(record, "contract_id", None)
    if contract_id is not None:
        try:
            contract = session.get(crm.spec_for("contract").model, contract_id)
        except NotFound:  # pragma: no cover - contracts are a crm entity
            return None
        return getattr(contract, "account_id", None)
    return None


def _is_account_csm(member: ir.Recipient) -> bool:
    """The recipient is "the account's CSM" (a relation to the record)."""
    spellings = {"account_csm", *recipients.RELATIONS["account_csm"]}
    wanted = "".join(member.value.split()).lower()
    return member.kind == "relation" and wanted in {"".join(s.split()).lower() for s in spellings}


def _position_for(
    session: Session, action: ir.AddMemberAction, actor: Actor, dry_run: bool
) -> Position | None:
    """The position named by ``role``, else the recipient's own position, else a generic one."""
    if action.role:
        found = positions.find_position(session, action.role)
        if found is not None:
            return found
    member = action.member
    if member.kind == "role":
        found = positions.find_position(session, member.value)
        if found is not None:
            return found
    if _is_account_csm(member):
        found = positions.get_position(session, "csm")
        if found is not None:
            return found
    existing = positions.get_position(session, GENERIC_POSITION[0])
    if existing is not None or dry_run:
        return existing
    key, name, name_zh, aliases = GENERIC_POSITION
    return positions.ensure_position(
        session, key=key, name=name, name_zh=name_zh, aliases=aliases, actor=actor
    )


def _renewal_brief(event: dict[str, Any] | None) -> dict[str, Any] | None:
    """The renewal-risk figures of the triggering event, when a renewal-risk event fired the rule."""
    if not event or event.get("type") != RENEWAL_EVENT:
        return None
    payload = event.get("payload") or {}
    return {
        "value": payload.get("value"),
        "previous": payload.get("previous"),
        "renewal_date": payload.get("renewal_date"),
        "subscription_id": payload.get("subscription_id"),
        "contract_id": payload.get("contract_id"),
        "factors": payload.get("factors") or [],
    }


def _brief_text(lang: str, attachment: dict[str, Any]) -> str:
    from pathcast.forecast.service.renewal import format_ticket_summary

    lines: list[str] = []
    risk = attachment.get("renewal_risk")
    if risk:
        previous = risk["previous"] if risk["previous"] is not None else "-"
        lines.append(
            _t(lang, "risk", value=risk["value"], previous=previous, renewal=risk["renewal_date"] or "-")
        )
        key = "zh" if lang.startswith("zh") else "en"
        lines.extend(
            f"- {factor.get(key)} (+{factor.get('points')})"
            for factor in risk["factors"]
            if isinstance(factor, dict) and factor.get("points")
        )
        lines.append("")
    lines.append(format_ticket_summary(attachment["ticket_resolution"], lang))
    return "\n".join(lines)


def _compose(
    ctx: ActionContext, account: str, position: Position, link: str | None, attachment: dict[str, Any]
) -> Compose:
    def compose(_user: User, lang: str) -> Letter:
        name = position.name_zh if lang.startswith("zh") else position.name
        body = [_t(lang, "joined", rule=ctx.rule_name, account=account, position=name), ""]
        body.append(_brief_text(lang, attachment))
        if link:
            body.extend(["", f"{text(lang, 'link')}: {link}"])
        return Letter(text(lang, "title", rule=ctx.rule_name, label=account), "\n".join(body), link)

    return compose


def add_member(action: ir.AddMemberAction, ctx: ActionContext) -> Outcome:
    """Add the recipients to the account's collaboration and brief each new member."""
    session = ctx.session
    users = recipients.resolve(session, action.member, ctx.subject)
    if not users and _is_account_csm(action.member):
        # "The account's CSM joins": nobody holds that seat yet, so bring in a CSM, the
        # holders of the position (for the account's region when it is held regionally).
        users = recipients.resolve(session, ir.Recipient(kind="role", value="csm"), ctx.subject)
    detail: dict[str, Any] = {
        "recipients": [recipients.describe(action.member)],
        "users": [u.email for u in users],
    }
    account_id = subject_account_id(session, ctx)
    if account_id is None:
        return Outcome(
            "skipped",
            {
                **detail,
                "reason": "the rule's record belongs to no account",
                "reason_zh": "规则所涉记录不属于任何客户",
            },
        )
    if not users:
        return Outcome(
            "skipped",
            {**detail, "account_id": account_id, "reason": "no recipient", "reason_zh": "没有匹配的接收人"},
        )
    from pathcast.forecast.service.renewal import ticket_resolution_summary

    account = crm_lookups.get_account(session, account_id)
    label = account.name if account is not None else f"account #{account_id}"
    attachment: dict[str, Any] = {
        "ticket_resolution": ticket_resolution_summary(session, account_id, quarter_of=ctx.now.date()),
        "renewal_risk": _renewal_brief(ctx.event),
    }
    position = _position_for(session, action, ctx.actor, ctx.dry_run)
    detail.update(
        {
            "account_id": account_id,
            "account": label,
            "collaboration": "account_team",
            "position": position.key if position is not None else GENERIC_POSITION[0],
            "attachment": attachment,
        }
    )
    if ctx.dry_run:
        already = {member.id for member in positions.account_team(session, account_id)}
        hive = join_active_hive(
            session,
            ctx,
            account_id=account_id,
            users=users,
            recipient=action.member,
            position_key=position.key if position is not None else None,
        )
        if hive is not None:
            detail["hive"] = hive
        return Outcome(
            "done",
            {**detail, "dry_run": True, "would_add": [u.email for u in users if u.id not in already]},
        )
    assert position is not None
    added = [
        user
        for user in users
        if join_account_team(session, account_id=account_id, user=user, position=position, actor=ctx.actor)
    ]
    detail["added"] = [user.email for user in added]
    detail["already_members"] = [user.email for user in users if user not in added]
    hive = join_active_hive(
        session, ctx, account_id=account_id, users=users, recipient=action.member, position_key=position.key
    )
    if hive is not None:
        detail["hive"] = hive
    if not added:
        return Outcome("done", detail)
    delivery = Delivery()
    link = recipients.RECORD_PAGES["account"].format(id=account_id)
    deliver_personal(
        ctx, added, _compose(ctx, label, position, link, attachment), ["in_app"], delivery, kind="add_member"
    )
    return delivery.outcome(detail)
