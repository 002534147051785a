"""``create_hive`` and the hive side of ``add_member``: rules that open task hives.

``create_hive`` ("商机赢单后，按“产线升级”模板创建任务蜂巢…") finds the run's account and deal
the way ``add_member`` does, the template by key or name, and creates the hive through
``hives.service.hives.create_hive`` with the template's roles invited and the action's own
recipients as members (a position's holders serve the function that position stands for:
交付经理 → delivery, 物流 → logistics…). A deal that already has a hive is not given a second
one: the outcome names the existing hive. A dry-run describes the hive and its people and
writes nothing (not even the shipped templates).

``join_active_hive`` is what ``add_member`` adds: when the run's account has a hive people
still work in (forming, active, at risk), the people also join it, with the function of
their position.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.automation import ir
from pathcast.automation.actions import recipients
from pathcast.automation.actions.base import ActionContext, Outcome
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.hives.service import directory, templates
from pathcast.hives.service.hives import FUNCTION_POSITIONS, MemberSpec, add_member, create_hive

# position key -> the hive function its holders serve
POSITION_FUNCTIONS: dict[str, str] = {position: function for function, position in FUNCTION_POSITIONS.items()}
SELLING_ROLES = (Role.admin.value, Role.manager.value, Role.rep.value)
HIVE_PAGE = "/hives/{id}"


def _norm(word: str) -> str:
    return "".join(ch for ch in word.casefold() if ch.isalnum())


def _template_named(
    session: Session, word: str, actor: Actor, dry_run: bool
) -> tuple[int | None, str | None]:
    """``(id, key)`` of the template a rule names; in a dry-run, a shipped template not yet
    created is ``(None, key)`` (creating it would be a write)."""
    if not dry_run:
        found = templates.find_template(session, word, actor=actor)
        return (found.id, found.key) if found is not None else (None, None)
    wanted = _norm(word)
    for template in templates.list_templates(session, actor):
        if wanted in {_norm(template.key), _norm(template.name_zh), _norm(template.name_en)}:
            return template.id, template.key
    for key, (name_zh, name_en, _description, _definition) in templates.DEFAULT_TEMPLATES.items():
        if wanted in {_norm(key), _norm(name_zh), _norm(name_en)}:
            return None, key
    return None, None


def function_of(session: Session, user: User, recipient: ir.Recipient | None = None) -> str:
    """The hive function a person serves: the position the rule named, else one they hold,
    else sales for sellers and "other" for everyone else."""
    if recipient is not None and recipient.kind == "role":
        position = positions.find_position(session, recipient.value)
        if position is not None and position.key in POSITION_FUNCTIONS:
            return POSITION_FUNCTIONS[position.key]
    for key, function in POSITION_FUNCTIONS.items():
        if any(holder.id == user.id for holder in positions.holders(session, key)):
            return function
    return "sales" if user.role in SELLING_ROLES else "other"


def _people(session: Session, action: ir.CreateHiveAction, ctx: ActionContext) -> list[tuple[User, str]]:
    people: dict[int, tuple[User, str]] = {}
    for recipient in action.members:
        for user in recipients.resolve(session, recipient, ctx.subject):
            people.setdefault(user.id, (user, function_of(session, user, recipient)))
    return list(people.values())


def create_hive_action(action: ir.CreateHiveAction, ctx: ActionContext) -> Outcome:
    """Create the hive of the run's account (and deal) from the named template."""
    from pathcast.automation.actions.members import subject_account_id

    session = ctx.session
    scope = recipients.load_scope(session, ctx.subject)
    account_id = subject_account_id(session, ctx)
    opportunity_id = scope.opportunity.id if scope.opportunity is not None else None
    detail: dict[str, Any] = {
        "template": action.template,
        "account_id": account_id,
        "opportunity_id": opportunity_id,
        "recipients": [recipients.describe(member) for member in action.members],
    }
    if account_id is None:
        return Outcome(
            "skipped",
            {
                **detail,
                "reason": "the rule's record belongs to no account",
                "reason_zh": "规则所涉记录不属于任何客户",
            },
        )
    template_id, template_key = _template_named(session, action.template, ctx.actor, ctx.dry_run)
    if template_key is None:
        return Outcome(
            "failed",
            {
                **detail,
                "reason": f"no hive template named {action.template!r}",
                "reason_zh": f"没有名为「{action.template}」的蜂巢模板",
            },
        )
    detail["template_key"] = template_key
    people = _people(session, action, ctx)
    detail["members"] = [{"user": user.email, "function": function} for user, function in people]
    existing = directory.hive_of_deal(session, opportunity_id) if opportunity_id is not None else None
    if existing is not None:
        return Outcome(
            "done",
            {**detail, "hive_id": existing.id, "already": True, "link": HIVE_PAGE.format(id=existing.id)},
        )
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True, "would_create": True})
    try:
        hive = create_hive(
            session,
            ctx.actor,
            account_id=account_id,
            template=template_id,
            opportunity_id=opportunity_id,
            members=[MemberSpec(user.id, function) for user, function in people],
            now=ctx.now,
        )
    except (InvalidInput, PermissionDenied) as refused:
        return Outcome("failed", {**detail, "reason": str(refused), "reason_zh": "创建蜂巢被拒绝"})
    return Outcome(
        "done",
        {**detail, "hive_id": hive.id, "hive": hive.name, "link": HIVE_PAGE.format(id=hive.id)},
    )


def join_active_hive(
    session: Session,
    ctx: ActionContext,
    *,
    account_id: int,
    users: list[User],
    recipient: ir.Recipient,
    position_key: str | None,
) -> dict[str, Any] | None:
    """Put the people in the account's active hive too (``add_member``); None when the
    account has none. In a dry-run, says who would join."""
    scope = recipients.load_scope(session, ctx.subject)
    hive = directory.active_hive_for_account(
        session, account_id, opportunity_id=scope.opportunity.id if scope.opportunity is not None else None
    )
    if hive is None:
        return None
    joined: list[dict[str, str]] = []
    for user in users:
        function = POSITION_FUNCTIONS.get(position_key or "") or function_of(session, user, recipient)
        if ctx.dry_run:
            joined.append({"user": user.email, "function": function})
            continue
        _member, new = add_member(
            session, ctx.actor, hive_id=hive.id, user_id=user.id, function=function, now=ctx.now, hive=hive
        )
        if new:
            joined.append({"user": user.email, "function": function})
    key = "would_join" if ctx.dry_run else "joined"
    return {"hive_id": hive.id, "link": HIVE_PAGE.format(id=hive.id), key: joined}
