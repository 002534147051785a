"""Automation API: compile a sentence, manage versioned rules, dry-run them on history,
read runs, decide approvals and confirmations, read notifications.

Thin handlers: parse, call one service function, shape the answer. Compile errors are
RFC 9457 problems whose ``errors[]`` carry the span, what was expected and "did you
mean" suggestions. This module avoids ``from __future__ import annotations`` because
FastAPI reads the body types at definition time.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation import schemas as s
from pathcast.automation.auth import require_rule_right
from pathcast.automation.engine.dryrun import dry_run
from pathcast.automation.ir import rule_json_schema
from pathcast.automation.language import CompileError, CompileResult, build_vocabulary, compile_rule
from pathcast.automation.service import inbox, notifications, rules
from pathcast.deps import CurrentActor, DbSession
from pathcast.errors import InvalidInput
from pathcast.problems import problem_response, request_locale

router = APIRouter(tags=["automation"])


def compile_text(session: Session, text: str, lang: str) -> CompileResult:
    """Compile against the live vocabulary (raises CompileError)."""
    return compile_rule(text, lang, build_vocabulary(session))  # type: ignore[arg-type]


def compile_problem(request: Request, error: CompileError) -> Response:
    """A 422 problem naming the span, what was expected and what the writer may have meant."""
    locale = request_locale(request)
    return problem_response(
        request,
        status=422,
        code=error.code,
        detail=error.message_zh if locale == "zh-CN" else error.message_en,
        errors=error.as_problem_errors(locale),
    )


@router.post(
    "/rules/compile",
    response_model=s.CompileResponse,
    summary="Compile a sentence to the rule IR with a read-back in zh and en (nothing is saved)",
    responses={422: {"description": "Unknown or ambiguous words, with span and suggestions"}},
)
def compile_sentence(
    body: s.CompileRequest, request: Request, session: DbSession, actor: CurrentActor
) -> Any:
    require_rule_right(actor, "read")
    try:
        result = compile_text(session, body.text, body.lang)
    except CompileError as error:
        return compile_problem(request, error)
    return s.CompileResponse(
        ir=result.ir.model_dump(mode="json", by_alias=True),
        readback=s.Readback(zh=result.readback_zh, en=result.readback_en),
        warnings=list(result.warnings),
    )


@router.get("/rules/schema", summary="JSON Schema of the rule IR")
def ir_schema(actor: CurrentActor) -> dict[str, Any]:
    require_rule_right(actor, "read")
    return rule_json_schema()


def _detail(session: Session, actor: Actor, rule_id: int) -> s.RuleDetail:
    rule = rules.get_rule(session, rule_id=rule_id, actor=actor)
    version = rules.get_version(session, rule_id=rule_id, actor=actor)
    counts = rules.run_counts(session, [rule_id])[rule_id]
    return s.RuleDetail(
        rule=s.RuleRead.model_validate(rule),
        version=s.RuleVersionRead.model_validate(version),
        run_counts=counts,
    )


@router.post("/rules", response_model=s.RuleDetail, status_code=201, summary="Create a rule from a sentence")
def create_rule(body: s.RuleCreate, request: Request, session: DbSession, actor: CurrentActor) -> Any:
    try:
        result = compile_text(session, body.text, body.lang)
    except CompileError as error:
        return compile_problem(request, error)
    rule = rules.create_rule(
        session,
        name=body.name,
        text=body.text,
        lang=body.lang,
        ir=result.ir,
        readback_zh=result.readback_zh,
        readback_en=result.readback_en,
        actor=actor,
        scope=body.scope,
        scope_value=body.scope_value,
    )
    if body.enable:
        rules.enable_rule(session, rule_id=rule.id, actor=actor)
    return _detail(session, actor, rule.id)


@router.get("/rules", response_model=list[s.RuleDetail], summary="Rules I may read, with run counts")
def list_rules(session: DbSession, actor: CurrentActor, enabled: bool | None = None) -> Any:
    return [
        s.RuleDetail(
            rule=s.RuleRead.model_validate(summary.rule),
            version=s.RuleVersionRead.model_validate(summary.version),
            run_counts=summary.run_counts,
        )
        for summary in rules.list_rules(session, actor=actor, enabled=enabled)
    ]


@router.get("/rules/{rule_id}", response_model=s.RuleDetail, summary="A rule and its current version")
def get_rule(rule_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return _detail(session, actor, rule_id)


@router.put("/rules/{rule_id}", response_model=s.RuleDetail, summary="Edit a rule: a new version")
def update_rule(
    rule_id: int, body: s.RuleUpdate, request: Request, session: DbSession, actor: CurrentActor
) -> Any:
    try:
        result = compile_text(session, body.text, body.lang)
    except CompileError as error:
        return compile_problem(request, error)
    rules.update_rule(
        session,
        rule_id=rule_id,
        text=body.text,
        lang=body.lang,
        ir=result.ir,
        readback_zh=result.readback_zh,
        readback_en=result.readback_en,
        actor=actor,
    )
    return _detail(session, actor, rule_id)


@router.get(
    "/rules/{rule_id}/versions", response_model=list[s.RuleVersionRead], summary="Every version of a rule"
)
def rule_versions(rule_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return rules.rule_versions(session, rule_id=rule_id, actor=actor)


@router.post(
    "/rules/{rule_id}/enable", response_model=s.RuleDetail, summary="Enable: fires on new events from now"
)
def enable_rule(rule_id: int, session: DbSession, actor: CurrentActor) -> Any:
    rules.enable_rule(session, rule_id=rule_id, actor=actor)
    return _detail(session, actor, rule_id)


@router.post("/rules/{rule_id}/disable", response_model=s.RuleDetail, summary="Disable a rule")
def disable_rule(rule_id: int, session: DbSession, actor: CurrentActor) -> Any:
    rules.disable_rule(session, rule_id=rule_id, actor=actor)
    return _detail(session, actor, rule_id)


def _check_window(body: s.DryRunRequest) -> None:
    if body.until <= body.since:
        raise InvalidInput.single("until", "invalid", message="until must be after since")


@router.post(
    "/rules/{rule_id}/dry-run", summary="What the rule would have done between two dates (nothing is done)"
)
def dry_run_rule(rule_id: int, body: s.DryRunRequest, session: DbSession, actor: CurrentActor) -> Any:
    # Replaying history shows subjects across the whole log: rule writers only.
    require_rule_right(actor, "create")
    _check_window(body)
    ir = rules.current_ir(session, rule_id=rule_id, actor=actor)
    fires = dry_run(session, ir=ir, since=body.since, until=body.until, limit=body.limit)
    return {"rule_id": rule_id, "fires": [fire.as_dict() for fire in fires]}


@router.post("/rules/dry-run", summary="Dry-run a sentence that is not saved yet")
def dry_run_text(
    body: s.DryRunRequest,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    text: Annotated[str, Query(min_length=1, max_length=2000)],
    lang: Annotated[str, Query(pattern="^(zh|en)$")] = "zh",
) -> Any:
    require_rule_right(actor, "create")
    _check_window(body)
    try:
        result = compile_text(session, text, lang)
    except CompileError as error:
        return compile_problem(request, error)
    fires = dry_run(session, ir=result.ir, since=body.since, until=body.until, limit=body.limit)
    return {"fires": [fire.as_dict() for fire in fires]}


@router.get("/runs", response_model=list[s.RunRead], summary="Runs of the rules I may read, newest first")
def list_runs(
    session: DbSession,
    actor: CurrentActor,
    rule_id: int | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    return rules.list_runs(session, actor=actor, rule_id=rule_id, status=status, limit=limit)


@router.get("/runs/{run_id}", response_model=s.RunDetail, summary="A run with each step and its outcome")
def get_run(run_id: int, session: DbSession, actor: CurrentActor) -> Any:
    run, steps = rules.get_run(session, run_id=run_id, actor=actor)
    return s.RunDetail(
        run=s.RunRead.model_validate(run), steps=[s.StepRead.model_validate(step) for step in steps]
    )


@router.get(
    "/inbox", response_model=list[s.InboxItemRead], summary="Approvals and confirmations waiting for me"
)
def my_inbox(session: DbSession, actor: CurrentActor) -> Any:
    return inbox.open_items(session, actor=actor)


@router.post(
    "/inbox/{item_id}/decision", response_model=s.InboxItemRead, summary="Approve, reject, confirm or decline"
)
def decide(item_id: int, body: s.DecisionRequest, session: DbSession, actor: CurrentActor) -> Any:
    return inbox.decide(session, item_id=item_id, actor=actor, decision=body.decision, note=body.note)


@router.get("/notifications", response_model=list[s.NotificationRead], summary="My in-app notifications")
def my_notifications(
    session: DbSession,
    actor: CurrentActor,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Any:
    return notifications.of_user(session, actor=actor, unread=unread, limit=limit)


@router.post(
    "/notifications/{notification_id}/read", response_model=s.NotificationRead, summary="Mark as read"
)
def read_notification(notification_id: int, session: DbSession, actor: CurrentActor) -> Any:
    return notifications.mark_read(session, notification_id=notification_id, actor=actor)
