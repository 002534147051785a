"""Actions that change records: tasks, tags, field changes, and pushing content to a person.

Every change goes through the owning CRM service with the rule's actor, so it is checked
like a person's edit and appended to the event log like one. These effects are local:
``execute`` writes the action's receipt in the same transaction, so the change and the
proof that it happened commit together or not at all.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pathcast.auth.models import User
from pathcast.automation import ir
from pathcast.automation.actions import recipients
from pathcast.automation.actions.base import ActionContext, Outcome
from pathcast.automation.actions.notify import Delivery, Letter, deliver_personal
from pathcast.crm import service as crm
from pathcast.crm.service import tags as crm_tags
from pathcast.errors import PathcastError
from pathcast.events import to_jsonable
from pathcast.signals.service.sites import list_assets

NO_RECIPIENT = {"reason": "no recipient", "reason_zh": "没有匹配的接收人"}


def _refused(detail: dict[str, Any], reason: str, error: PathcastError | None = None) -> Outcome:
    """A non-retryable failure: trying again would meet the same refusal."""
    full = {**detail, "reason": reason}
    if error is not None:
        full |= {"code": error.code, "params": to_jsonable(error.params)}
    return Outcome("failed", full)


def _record_id(ctx: ActionContext, scope: recipients.SubjectScope, entity: str) -> int | None:
    """The id of the subject's record of kind ``entity`` (the subject itself, its account, deal…)."""
    if ctx.subject.entity == entity and ctx.subject.id is not None:
        return ctx.subject.id
    return {
        "account": scope.account_id,
        "opportunity": scope.opportunity_id,
        "contact": scope.contact_id,
    }.get(entity)


# --- create_task ---------------------------------------------------------------------------------


def create_task(action: ir.CreateTaskAction, ctx: ActionContext) -> Outcome:
    """A ``task`` Activity for the assignee on the subject's records, due ``due_in`` from now."""
    session = ctx.session
    assignees = recipients.resolve(session, action.assignee, ctx.subject)
    detail: dict[str, Any] = {"title": action.title, "assignee": recipients.describe(action.assignee)}
    if not assignees:
        return Outcome("skipped", {**detail, **NO_RECIPIENT})
    owner = assignees[0]
    scope = recipients.load_scope(session, ctx.subject)
    due_at = ctx.now + ir.parse_duration(action.due_in) if action.due_in else None
    detail |= {"owner": owner.email, "due_at": due_at.isoformat() if due_at else None}
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True})
    label = recipients.subject_label(session, ctx.subject, scope)
    try:
        task = crm.create_record(
            session,
            actor=ctx.actor,
            spec=crm.SPECS["activity"],
            data={
                "kind": "task",
                "subject": action.title[:300],
                "body": f"{ctx.rule_name} · {label}",
                "account_id": scope.account_id,
                "contact_id": scope.contact_id,
                "opportunity_id": scope.opportunity_id,
                "owner_id": owner.id,
                "due_at": due_at,
            },
        )
    except PathcastError as error:
        return _refused(detail, "the task was refused", error)
    return Outcome("done", {**detail, "activity_id": task.id})


# --- tag -----------------------------------------------------------------------------------------

_ZH_ENTITY = {"contact": "联系人", "account": "客户", "opportunity": "商机"}


def tag(action: ir.TagAction, ctx: ActionContext) -> Outcome:
    """Tag the subject's contact, account or deal through the CRM tag service."""
    session = ctx.session
    scope = recipients.load_scope(session, ctx.subject)
    record_id = _record_id(ctx, scope, action.target)
    detail: dict[str, Any] = {"entity": action.target, "id": record_id, "tag": action.tag}
    if record_id is None:
        return Outcome(
            "skipped",
            {
                **detail,
                "reason": f"the subject has no {action.target}",
                "reason_zh": f"触发记录没有关联的{_ZH_ENTITY.get(action.target, action.target)}",
            },
        )
    if ctx.dry_run:
        already = action.tag in crm_tags.tags_of(session, action.target, record_id)
        return Outcome("done", {**detail, "dry_run": True, "already_tagged": already})
    try:
        applied = crm_tags.apply_tag(
            session, entity=action.target, record_id=record_id, tag=action.tag, actor=ctx.actor
        )
    except PathcastError as error:
        return _refused(detail, "the tag was refused", error)
    return Outcome("done", {**detail, "applied": applied})


# --- set_field ------------------------------------------------------------------------------------


def _stage_id(session: Session, opportunity: Any, value: Any) -> Any:
    """A stage given by key or name ("won", "赢单") as the id the service expects."""
    if isinstance(value, int) or value is None:
        return value
    wanted = str(value).strip().lower()
    for stage in crm.stages_of(session, opportunity.pipeline_id):
        if wanted in {stage.key.lower(), stage.name.lower(), (stage.name_zh or "").lower(), str(stage.id)}:
            return stage.id
    return value


def set_field(action: ir.SetFieldAction, ctx: ActionContext) -> Outcome:
    """Change one field of the subject's record through its service (stage moves keep their history)."""
    session = ctx.session
    entity = action.entity.strip()
    field = action.field.strip()
    if field.startswith(f"{entity}."):
        field = field[len(entity) + 1 :]
    if entity == "opportunity" and field == "stage":
        field = "stage_id"
    detail: dict[str, Any] = {"entity": entity, "field": field, "value": to_jsonable(action.value)}
    spec = crm.SPECS.get(entity)
    if spec is None:
        return _refused(detail, f"unknown entity {entity!r}")
    writable = spec.update_schema.model_fields
    if field not in writable:
        return _refused(
            {**detail, "allowed": sorted(writable)}, f"unknown or read-only field {entity}.{field}"
        )
    scope = recipients.load_scope(session, ctx.subject)
    record_id = _record_id(ctx, scope, entity)
    detail["id"] = record_id
    if record_id is None:
        return Outcome("skipped", {**detail, "reason": f"the subject has no {entity}"})
    try:
        record = crm.get_writable(session, ctx.actor, spec, record_id)
    except PathcastError as error:
        return _refused(detail, f"{entity} #{record_id} cannot be changed by the rule", error)
    value = _stage_id(session, record, action.value) if field == "stage_id" else action.value
    try:
        parsed = spec.update_schema.model_validate({field: value})
    except ValidationError as error:
        problems = [problem["msg"] for problem in error.errors()]
        return _refused({**detail, "problems": problems}, f"bad value for {entity}.{field}")
    changes = parsed.model_dump(include={field})
    before = to_jsonable(getattr(record, field))
    detail |= {"before": before, "after": to_jsonable(changes[field])}
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True, "changed": before != detail["after"]})
    try:
        if entity == "opportunity":
            crm.update_opportunity(session, actor=ctx.actor, opportunity=record, changes=changes)
        elif entity == "quote":
            crm.update_quote(session, actor=ctx.actor, quote=record, changes=changes)
        else:
            crm.update_record(session, actor=ctx.actor, spec=spec, record=record, changes=changes)
    except PathcastError as error:
        return _refused(detail, f"the change to {entity}.{field} was refused", error)
    after = to_jsonable(getattr(record, field))
    return Outcome("done", {**detail, "after": after, "changed": before != after})


# --- push_content ---------------------------------------------------------------------------------


def find_content(ctx: ActionContext, name: str, account_id: int | None) -> dict[str, Any] | None:
    """A document by name (exact, then partial; the subject's account's own copy first), else a
    tracked asset by name or key (its document, or its page URL)."""
    session = ctx.session
    wanted = name.strip().lower()
    documents, _, _ = crm.list_records(
        session, ctx.actor, crm.SPECS["document"], search=name.strip(), limit=100
    )
    exact = [document for document in documents if document.name.strip().lower() == wanted]
    pool = exact or documents
    if not pool:
        # "send the DSA case pack" says more than the document's own name ("DSA case pack")
        library, _, _ = crm.list_records(session, ctx.actor, crm.SPECS["document"], limit=500)
        named = [d for d in library if d.name.strip() and d.name.strip().lower() in wanted]
        longest = max((len(d.name.strip()) for d in named), default=0)
        pool = [d for d in named if len(d.name.strip()) == longest]
    if pool:
        pool.sort(key=lambda d: (d.account_id != account_id, d.account_id is not None, d.id))
        document = pool[0]
        return {"document_id": document.id, "name": document.name, "link": f"/documents/{document.id}"}
    for asset in list_assets(session):
        if wanted in {asset.name.strip().lower(), asset.key.strip().lower()}:
            if asset.document_id is not None:
                return {
                    "document_id": asset.document_id,
                    "asset_id": asset.id,
                    "name": asset.name,
                    "link": f"/documents/{asset.document_id}",
                }
            return {"asset_id": asset.id, "name": asset.name, "link": asset.url}
    return None


PUSH_TEXTS = {
    "zh-CN": ("【资料推送】{name}（{label}）", "规则「{rule}」为 {label} 推送资料《{name}》：{link}"),
    "en": ("[Content] {name} ({label})", 'The rule "{rule}" sends you "{name}" for {label}: {link}'),
}


def push_content(action: ir.PushContentAction, ctx: ActionContext) -> Outcome:
    """Send a document (or asset) link to the recipient, in-app and by e-mail."""
    session = ctx.session
    users = recipients.resolve(session, action.to, ctx.subject)
    detail: dict[str, Any] = {"content": action.content, "to": recipients.describe(action.to)}
    scope = recipients.load_scope(session, ctx.subject)
    found = find_content(ctx, action.content, scope.account_id)
    if found is None:
        return _refused(detail, f"no document or asset named {action.content!r}")
    detail |= {"found": found, "users": [user.email for user in users]}
    if not users:
        return Outcome("skipped", {**detail, **NO_RECIPIENT})
    if ctx.dry_run:
        return Outcome("done", {**detail, "dry_run": True})
    label = recipients.subject_label(session, ctx.subject, scope)

    def compose(_user: User, lang: str) -> Letter:
        title, body = PUSH_TEXTS["en" if lang == "en" else "zh-CN"]
        params = {"name": found["name"], "label": label, "rule": ctx.rule_name, "link": found["link"] or ""}
        return Letter(title.format(**params), body.format(**params), found["link"])

    delivery = Delivery()
    deliver_personal(ctx, users, compose, ["in_app", "email"], delivery, kind="push_content")
    return delivery.outcome(detail)
