"""Rule pages: the list (``/rules``), a rule with its versions and runs (``/rules/{id}``),
and the editor (``/rules/new``, ``/rules/{id}/edit``) with its live compile preview and
dry-run on history.

As the manager types, htmx posts the sentence to ``/rules/preview`` and swaps in what
the compiler understood: the read-back in both languages and the IR, or the sentence with
the unknown words underlined, what was expected there and "did you mean" buttons
(``automation.js`` puts a suggestion in place of the underlined words). A dry-run replays
the event log between two dates and lists what the rule would have done; nothing is
saved by either. Saving compiles again and creates the rule, or a new version of it.

Everything goes through ``automation.service.rules`` with the viewer's Actor: reps read
rules but see no edit controls and the service refuses their posts; members and a
customer's own contact get 403 pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.automation.engine.dryrun import DryRunFire, dry_run
from pathcast.automation.language import CompileError, CompileResult, build_vocabulary, compile_rule
from pathcast.automation.models import Rule, RuleScope, RuleVersion
from pathcast.automation.service import rules
from pathcast.db import utcnow
from pathcast.deps import DbSession
from pathcast.errors import FieldError, InvalidInput, PermissionDenied
from pathcast.events import events_savepoint
from pathcast.web.automation import (
    RUN_STATUSES,
    SubjectKey,
    SubjectLink,
    authors,
    people_of,
    pretty_json,
    subject_links,
)
from pathcast.web.forms import PostedForm, is_htmx, message, parse_day
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page, safe_next

router = APIRouter(include_in_schema=False)

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DRY_RUN_DAYS = 90
DRY_RUN_LIMIT = 200
RECENT_RUNS = 20
MAX_TEXT = 2000
MAX_NAME = 200


# --- who may do what ---------------------------------------------------------------------------


def may_read_rules(actor: Actor) -> bool:
    """Admins, managers and reps read rules; members and customers do not."""
    return actor.role in rules.READERS


def may_write_rules(actor: Actor) -> bool:
    """Admins and managers create rules (and edit the ones ``rules.may_edit`` allows)."""
    return actor.role in rules.EDITORS


def rules_page(page: Page) -> PageContext:
    if not may_read_rules(page.actor):
        raise PermissionDenied("forbidden_model", entity="rule")
    return page


def _editor(page: PageContext) -> PageContext:
    if not may_write_rules(page.actor):
        raise PermissionDenied("forbidden_operation", entity="rule", operation="create")
    return page


def editor_page(page: Page) -> PageContext:
    return _editor(page)


def editor_form_page(page: FormPage) -> PageContext:
    return _editor(page)


RulesPage = Annotated[PageContext, Depends(rules_page)]
EditorPage = Annotated[PageContext, Depends(editor_page)]
EditorFormPage = Annotated[PageContext, Depends(editor_form_page)]


def _editable(session: Session, actor: Actor, rule_id: int) -> Rule:
    """The rule if the actor may edit it: 404 when hidden, 403 when only readable."""
    rule = rules.get_rule(session, rule_id=rule_id, actor=actor)
    if not may_write_rules(actor):
        raise PermissionDenied("forbidden_operation", entity="rule", operation="update")
    if not rules.may_edit(actor, rule):
        raise PermissionDenied("forbidden_record", entity="rule", id=rule_id)
    return rule


def editable_rule(page: Page, session: DbSession, rule_id: int) -> Rule:
    return _editable(session, page.actor, rule_id)


def editable_rule_form(page: FormPage, session: DbSession, rule_id: int) -> Rule:
    return _editable(session, page.actor, rule_id)


EditableRule = Annotated[Rule, Depends(editable_rule)]
EditableRuleForm = Annotated[Rule, Depends(editable_rule_form)]


# --- the live compile preview --------------------------------------------------------------------


@dataclass
class Suggestion:
    """A "did you mean" button: what it shows and what replaces the underlined words."""

    label: str
    replacement: str


@dataclass
class CompileProblem:
    """A sentence that did not compile: the sentence cut around the span, and why."""

    code: str
    start: int
    end: int
    before: str
    spanned: str
    after: str
    message: str
    expected: list[str]
    suggestions: list[Suggestion]


@dataclass
class Preview:
    """What the compiler understood of a sentence (all empty before anything is typed)."""

    text: str
    lang: str
    readback_zh: str | None = None
    readback_en: str | None = None
    ir_json: str | None = None
    warnings: list[str] = field(default_factory=list)
    problem: CompileProblem | None = None
    result: CompileResult | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


def _replacement(suggestion: str) -> str:
    """The words a suggestion puts in the sentence: "负责人 (owner)" → "负责人"."""
    text = suggestion.strip()
    if text.endswith(")") and " (" in text:
        head = text[: text.rindex(" (")].strip()
        if head:
            return head
    return text


def compile_problem(text: str, error: CompileError, locale: str) -> CompileProblem:
    start = max(0, min(error.span[0], len(text)))
    end = max(start, min(error.span[1], len(text)))
    return CompileProblem(
        code=error.code,
        start=start,
        end=end,
        before=text[:start],
        spanned=text[start:end],
        after=text[end:],
        message=error.message(locale),
        expected=list(error.expected),
        suggestions=[Suggestion(label, _replacement(label)) for label in error.suggestions],
    )


def compile_text(session: Session, text: str, lang: Lang) -> CompileResult:
    """Compile against the live vocabulary (raises ``CompileError``)."""
    return compile_rule(text, lang, build_vocabulary(session))


def preview(session: Session, page: PageContext, text: str, lang: Lang) -> Preview:
    """Compile ``text`` for the preview; nothing is saved."""
    shown = Preview(text=text, lang=lang)
    if not text.strip():
        return shown
    try:
        result = compile_text(session, text, lang)
    except CompileError as error:
        shown.problem = compile_problem(text, error, page.locale)
        return shown
    shown.result = result
    shown.readback_zh = result.readback_zh
    shown.readback_en = result.readback_en
    shown.ir_json = pretty_json(result.ir.model_dump(mode="json", by_alias=True))
    shown.warnings = list(result.warnings)
    return shown


# --- the editor ----------------------------------------------------------------------------------


@dataclass
class DryRunView:
    """A dry-run's answer: the window, the fires (oldest first) and their subjects."""

    since: date
    until: date
    fires: list[DryRunFire]
    subjects: dict[SubjectKey, SubjectLink]
    limit: int

    @property
    def truncated(self) -> bool:
        return len(self.fires) >= self.limit


@dataclass
class EditorForm:
    """The editor's fields as typed, and a message per field that was refused."""

    action: str
    rule: Rule | None
    name: str = ""
    text: str = ""
    lang: Lang = "zh"
    scope: str = RuleScope.all.value
    scope_value: str = ""
    since: str = ""
    until: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def default_lang(page: PageContext) -> Lang:
    return "en" if page.locale == "en" else "zh"


def _lang(value: str | None, page: PageContext) -> Lang:
    return "en" if value == "en" else "zh" if value == "zh" else default_lang(page)


def _window_defaults() -> tuple[str, str]:
    today = utcnow().date()
    return (today - timedelta(days=DRY_RUN_DAYS)).isoformat(), today.isoformat()


def new_form(page: PageContext, rule: Rule | None = None, version: RuleVersion | None = None) -> EditorForm:
    since, until = _window_defaults()
    if rule is None or version is None:
        return EditorForm(action="/rules", rule=None, lang=default_lang(page), since=since, until=until)
    return EditorForm(
        action=f"/rules/{rule.id}/edit",
        rule=rule,
        name=rule.name,
        text=version.text,
        lang=_lang(version.lang, page),
        scope=rule.scope,
        scope_value=rule.scope_value or "",
        since=since,
        until=until,
    )


def posted_form(page: PageContext, form: dict[str, str], rule: Rule | None) -> EditorForm:
    """The editor as posted (the name and scope of a saved rule are not edited here)."""
    since, until = _window_defaults()
    editor = EditorForm(
        action=f"/rules/{rule.id}/edit" if rule is not None else "/rules",
        rule=rule,
        name=rule.name if rule is not None else form.get("name", "").strip(),
        text=form.get("text", "").strip(),
        lang=_lang(form.get("lang"), page),
        scope=rule.scope if rule is not None else form.get("scope", RuleScope.all.value).strip(),
        scope_value=(rule.scope_value or "") if rule is not None else form.get("scope_value", "").strip(),
        since=form.get("since", since).strip() or since,
        until=form.get("until", until).strip() or until,
    )
    if not editor.text:
        editor.errors["text"] = message(FieldError("text", "missing"), page.locale)
    elif len(editor.text) > MAX_TEXT:
        editor.errors["text"] = message(FieldError("text", "too_long", {"max": MAX_TEXT}), page.locale)
    if len(editor.name) > MAX_NAME:
        editor.errors["name"] = message(FieldError("name", "too_long", {"max": MAX_NAME}), page.locale)
    if editor.scope not in {scope.value for scope in RuleScope}:
        editor.errors["scope"] = message(
            FieldError("scope", "choice_invalid", {"value": editor.scope}), page.locale
        )
    return editor


def _scope_choices(page: PageContext) -> list[tuple[str, str]]:
    return [(scope.value, page.t(f"automation_web.scope.{scope.value}")) for scope in RuleScope]


def _editor_page(
    session: Session,
    page: PageContext,
    editor: EditorForm,
    *,
    shown: Preview | None = None,
    dry: DryRunView | None = None,
    attempted: bool = False,
    status_code: int = 200,
) -> Response:
    context = {
        "attempted": attempted,
        "editor": editor,
        "preview": shown if shown is not None else preview(session, page, editor.text, editor.lang),
        "dry": dry,
        "langs": [(lang, page.t(f"automation_web.lang.{lang}")) for lang in LANGS],
        "scopes": _scope_choices(page),
    }
    return render(page, "automation/rule_editor.html", context, status_code=status_code)


@router.get("/rules/new")
def new_rule(page: EditorPage, session: DbSession) -> Response:
    """An empty editor."""
    return _editor_page(session, page, new_form(page))


@router.post("/rules/preview")
def rule_preview(page: EditorFormPage, session: DbSession, form: PostedForm) -> Response:
    """What the sentence compiles to, as the part of the editor htmx swaps in."""
    text = form.get("text", "")[:MAX_TEXT]
    shown = preview(session, page, text, _lang(form.get("lang"), page))
    return render(page, "automation/compile_preview.html", {"preview": shown})


def _dry_window(page: PageContext, editor: EditorForm) -> tuple[date, date] | None:
    since, until = parse_day(editor.since), parse_day(editor.until)
    if since is None:
        editor.errors["since"] = message(
            FieldError("since", "date_invalid", {"value": editor.since}), page.locale
        )
    if until is None:
        editor.errors["until"] = message(
            FieldError("until", "date_invalid", {"value": editor.until}), page.locale
        )
    if since is not None and until is not None and until < since:
        editor.errors["until"] = page.t("automation_web.dry_run.until_before_since")
    if since is None or until is None or "since" in editor.errors or "until" in editor.errors:
        return None
    return since, until


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@router.post("/rules/dry-run")
def rule_dry_run(page: EditorFormPage, session: DbSession, form: PostedForm, request: Request) -> Response:
    """What the sentence in the editor would have done between two dates (inclusive).
    Nothing is saved and no action is taken."""
    rule_id = form.get("rule_id", "")
    rule = _editable(session, page.actor, int(rule_id)) if rule_id.isdigit() else None
    editor = posted_form(page, form, rule)
    window = _dry_window(page, editor)
    shown = preview(session, page, editor.text, editor.lang)
    dry: DryRunView | None = None
    if window is not None and shown.result is not None:
        since, until = window
        fires = dry_run(
            session,
            ir=shown.result.ir,
            since=_moment(since),
            until=_moment(until + timedelta(days=1)),
            limit=DRY_RUN_LIMIT,
        )
        keys = [(fire.subject_entity, fire.subject_id) for fire in fires]
        dry = DryRunView(since, until, fires, subject_links(session, page, keys), DRY_RUN_LIMIT)
    failed = window is None or not shown.ok
    if is_htmx(request):
        # 200 even when refused: htmx swaps only successful answers, and this part says what is wrong.
        context = {"dry": dry, "editor": editor, "preview": shown, "attempted": True}
        return render(page, "automation/dry_run.html", context)
    return _editor_page(
        session, page, editor, shown=shown, dry=dry, attempted=True, status_code=422 if failed else 200
    )


def _field_errors(page: PageContext, editor: EditorForm, error: InvalidInput) -> None:
    for problem in error.errors:
        name = problem.field if problem.field in ("name", "text", "lang", "scope", "scope_value") else "text"
        editor.errors.setdefault(name, message(problem, page.locale))


@router.post("/rules")
def create_rule(page: EditorFormPage, session: DbSession, form: PostedForm) -> Response:
    """Compile the sentence and save it as a new rule (disabled until switched on)."""
    editor = posted_form(page, form, None)
    if editor.errors:
        return _editor_page(session, page, editor, status_code=422)
    shown = preview(session, page, editor.text, editor.lang)
    result = shown.result
    if result is None:
        return _editor_page(session, page, editor, shown=shown, status_code=422)
    try:
        with events_savepoint(session):
            rule = rules.create_rule(
                session,
                name=editor.name or None,
                text=editor.text,
                lang=editor.lang,
                ir=result.ir,
                readback_zh=result.readback_zh,
                readback_en=result.readback_en,
                actor=page.actor,
                scope=editor.scope,
                scope_value=editor.scope_value or None,
            )
    except InvalidInput as error:
        _field_errors(page, editor, error)
        return _editor_page(session, page, editor, shown=shown, status_code=422)
    return RedirectResponse(f"/rules/{rule.id}", status_code=303)


@router.get("/rules/{rule_id}/edit")
def edit_rule(page: Page, session: DbSession, rule: EditableRule) -> Response:
    """The editor with the rule's current sentence; saving makes a new version."""
    version = rules.get_version(session, rule_id=rule.id, actor=page.actor)
    return _editor_page(session, page, new_form(page, rule, version))


@router.post("/rules/{rule_id}/edit")
def update_rule(page: FormPage, session: DbSession, form: PostedForm, rule: EditableRuleForm) -> Response:
    """Save the edited sentence as the rule's next version."""
    editor = posted_form(page, form, rule)
    if editor.errors:
        return _editor_page(session, page, editor, status_code=422)
    shown = preview(session, page, editor.text, editor.lang)
    result = shown.result
    if result is None:
        return _editor_page(session, page, editor, shown=shown, status_code=422)
    try:
        with events_savepoint(session):
            rules.update_rule(
                session,
                rule_id=rule.id,
                text=editor.text,
                lang=editor.lang,
                ir=result.ir,
                readback_zh=result.readback_zh,
                readback_en=result.readback_en,
                actor=page.actor,
            )
    except InvalidInput as error:
        _field_errors(page, editor, error)
        return _editor_page(session, page, editor, shown=shown, status_code=422)
    return RedirectResponse(f"/rules/{rule.id}", status_code=303)


# --- the list and a rule's page ------------------------------------------------------------------


@dataclass
class RuleRow:
    rule: Rule
    version: RuleVersion
    counts: list[tuple[str, int]]
    owner: str
    can_edit: bool


def _counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Run counts in the order a run moves through its statuses, zeros left out."""
    known = [(status, counts[status]) for status in RUN_STATUSES if counts.get(status)]
    return known + sorted((status, count) for status, count in counts.items() if status not in RUN_STATUSES)


@router.get("/rules")
def rule_list(page: RulesPage, session: DbSession) -> Response:
    """The rules the viewer may read, newest first, with their run counts."""
    summaries = rules.list_rules(session, actor=page.actor)
    owners = people_of(session, [summary.rule.owner_id for summary in summaries])
    rows = [
        RuleRow(
            rule=summary.rule,
            version=summary.version,
            counts=_counts(summary.run_counts),
            owner=owners.get(summary.rule.owner_id or 0, "—"),
            can_edit=rules.may_edit(page.actor, summary.rule),
        )
        for summary in summaries
    ]
    context = {"rows": rows, "can_create": may_write_rules(page.actor)}
    return render(page, "automation/rules_list.html", context)


@router.get("/rules/{rule_id}")
def rule_detail(page: RulesPage, session: DbSession, rule_id: int) -> Response:
    """A rule: what it says now, every version (old ones stay readable) and its recent runs."""
    rule = rules.get_rule(session, rule_id=rule_id, actor=page.actor)
    versions = rules.rule_versions(session, rule_id=rule_id, actor=page.actor)
    current = next(
        (version for version in versions if version.version == rule.current_version),
        None,
    ) or rules.get_version(session, rule_id=rule_id, actor=page.actor)
    runs = rules.list_runs(session, actor=page.actor, rule_id=rule_id, limit=RECENT_RUNS)
    counts = rules.run_counts(session, [rule_id])[rule_id]
    people = people_of(session, [rule.owner_id])
    names = authors(session, page, [version.created_by for version in versions])
    context = {
        "rule": rule,
        "current": current,
        "versions": list(reversed(versions)),
        "irs": {version.version: pretty_json(version.ir) for version in versions},
        "authors": {version.version: names.get(version.created_by, "—") for version in versions},
        "owner": people.get(rule.owner_id or 0, "—"),
        "counts": _counts(counts),
        "runs": runs,
        "subjects": subject_links(session, page, [(run.subject_entity, run.subject_id) for run in runs]),
        "can_edit": rules.may_edit(page.actor, rule),
        "recent": RECENT_RUNS,
    }
    return render(page, "automation/rule_detail.html", context)


# --- on and off ----------------------------------------------------------------------------------


def _back(form: dict[str, str], rule_id: int) -> RedirectResponse:
    return RedirectResponse(safe_next(form.get("next"), f"/rules/{rule_id}"), status_code=303)


@router.post("/rules/{rule_id}/enable")
def enable_rule(page: FormPage, session: DbSession, form: PostedForm, rule_id: int) -> Response:
    """Switch a rule on: events from now on fire it, history never does."""
    rules.enable_rule(session, rule_id=rule_id, actor=page.actor)
    return _back(form, rule_id)


@router.post("/rules/{rule_id}/disable")
def disable_rule(page: FormPage, session: DbSession, form: PostedForm, rule_id: int) -> Response:
    """Switch a rule off; runs in flight stop at their next step."""
    rules.disable_rule(session, rule_id=rule_id, actor=page.actor)
    return _back(form, rule_id)
