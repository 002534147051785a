"""The hive template editor (``/hives/templates``): admins add and change templates; everyone
who works in hives reads them.

A template is edited as its key, names, description and its definition as JSON in a text
area. The JSON is parsed here (a syntax error names its line and column); the service
validates the definition and names each problem by its path
(``definition.milestones.2.depends_on``). A refused form comes back 422 with everything as
typed and each message beside its field, the definition's listed one per path. Below each
template, its milestones as a readable table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from pathcast.auth.permissions import may
from pathcast.deps import DbSession
from pathcast.errors import Conflict, FieldError, InvalidInput, PermissionDenied
from pathcast.hives import models as m
from pathcast.hives.service import templates
from pathcast.web.forms import PostedForm
from pathcast.web.rendering import PageContext, render
from pathcast.web.security import FormPage, Page

router = APIRouter(include_in_schema=False)

FIELDS = ("key", "name_zh", "name_en", "description", "definition")


def template_page(page: Page) -> PageContext:
    """The editor: readable by everyone who may read templates (403 for the others)."""
    if not may(page.actor, "hive_template", "read"):
        raise PermissionDenied("forbidden_model", entity="hive_template")
    return page


def template_form_page(page: FormPage) -> PageContext:
    """A posted template form: CSRF checked by ``FormPage``; the service refuses non-admins."""
    if not may(page.actor, "hive_template", "read"):
        raise PermissionDenied("forbidden_model", entity="hive_template")
    return page


TemplatePage = Annotated[PageContext, Depends(template_page)]
TemplateFormPage = Annotated[PageContext, Depends(template_form_page)]


def error_text(page: PageContext, error: FieldError) -> str:
    """One service or parsing problem as a sentence in the viewer's language."""
    text = page.fmt.label(f"hives.errors.{error.code}", page.t("hives.errors.invalid"))
    detail = error.params.get("message")
    return f"{text} ({detail})" if detail and error.code == "invalid" else text


def template_label(page: PageContext, template: m.Template) -> str:
    """A template's name in the viewer's language."""
    return template.name_zh if page.locale == "zh-CN" else template.name_en


@dataclass
class TemplateForm:
    """A template form as typed (new when ``template_id`` is None) and its messages:
    ``errors`` per field, ``paths`` the definition's problems as ``(path, message)``."""

    template_id: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    paths: list[tuple[str, str]] = field(default_factory=list)


def typed(template: m.Template) -> dict[str, str]:
    """A stored template as form values (the definition pretty-printed)."""
    return {
        "key": template.key,
        "name_zh": template.name_zh,
        "name_en": template.name_en,
        "description": template.description,
        "definition": json.dumps(template.definition, ensure_ascii=False, indent=2),
    }


def parse_definition(text: str) -> tuple[dict[str, Any] | None, FieldError | None]:
    """The definition typed as JSON: an object, or the problem (with line and column)."""
    try:
        parsed = json.loads(text or "")
    except json.JSONDecodeError as error:
        return None, FieldError(
            "definition", "json", {"message": f"{error.msg}", "line": error.lineno, "column": error.colno}
        )
    if not isinstance(parsed, dict):
        return None, FieldError("definition", "json_object")
    return parsed, None


def milestone_rows(page: PageContext, definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The milestones of a definition as table rows in the viewer's language."""
    zh = page.locale == "zh-CN"
    rows = []
    for milestone in definition.get("milestones") or []:
        if not isinstance(milestone, dict):
            continue
        needs = milestone.get("needs") or []
        rows.append(
            {
                "key": milestone.get("key", ""),
                "name": milestone.get("name_zh" if zh else "name_en", ""),
                "offset_days": milestone.get("offset_days", 0),
                "duration_days": milestone.get("duration_days", 0),
                "depends_on": ", ".join(milestone.get("depends_on") or []),
                "function": milestone.get("function", ""),
                "needs": ", ".join(
                    f"{need.get('skill')} × {need.get('units_per_week')}"
                    for need in needs
                    if isinstance(need, dict)
                ),
            }
        )
    return rows


def _page(
    page: PageContext, session: Session, *, form: TemplateForm | None = None, status_code: int = 200
) -> Response:
    shown = templates.list_templates(session, page.actor, include_archived=True)
    context = {
        "templates": shown,
        "typed": {template.id: typed(template) for template in shown},
        "milestones": {template.id: milestone_rows(page, template.definition or {}) for template in shown},
        "may_edit": may(page.actor, "hive_template", "update"),
        "form": form or TemplateForm(),
        "fields": FIELDS,
        "label": lambda template: template_label(page, template),
    }
    return render(page, "hives/templates.html", context, status_code=status_code)


@router.get("/hives/templates")
def templates_page(page: TemplatePage, session: DbSession) -> Response:
    """The templates with their milestones; admins edit them."""
    return _page(page, session)


def _messages(page: PageContext, errors: list[FieldError]) -> TemplateForm:
    form = TemplateForm()
    for error in errors:
        name = error.field.split(".")[0]
        if name == "definition":
            path = error.field
            if error.code == "json":
                text = page.t("hives.errors.json", **{k: error.params[k] for k in ("line", "column")})
                text = f"{text}: {error.params.get('message', '')}"
            else:
                text = error_text(page, error)
            form.paths.append((path, text))
            form.errors.setdefault("definition", page.t("hives.templates.definition_errors", count=0))
            continue
        form.errors.setdefault(name if name in FIELDS else "", error_text(page, error))
    if form.paths:
        form.errors["definition"] = page.t("hives.templates.definition_errors", count=len(form.paths))
    return form


def _save(page: PageContext, session: Session, form: Mapping[str, str], template_id: int | None) -> Response:
    values = {name: form.get(name, "") for name in FIELDS}
    definition, problem = parse_definition(values["definition"])
    errors: list[FieldError] = [problem] if problem is not None else []
    if definition is not None:
        try:
            saved = templates.save_template(
                session,
                page.actor,
                key=values["key"],
                name_zh=values["name_zh"],
                name_en=values["name_en"],
                description=values["description"],
                definition=definition,
                template_id=template_id,
            )
        except InvalidInput as refused:
            errors = refused.errors
        except Conflict:
            errors = [FieldError("key", "duplicate")]
        else:
            return RedirectResponse(f"/hives/templates#template-{saved.id}", status_code=303)
    failed = _messages(page, errors)
    failed.template_id = template_id
    failed.values = values
    return _page(page, session, form=failed, status_code=422)


@router.post("/hives/templates")
def template_add(page: TemplateFormPage, session: DbSession, form: PostedForm) -> Response:
    """Add a template (admins; 403 for the others)."""
    return _save(page, session, form, None)


@router.post("/hives/templates/{template_id}")
def template_edit(page: TemplateFormPage, session: DbSession, form: PostedForm, template_id: int) -> Response:
    """Change a template (admins; 403 for the others)."""
    return _save(page, session, form, template_id)
