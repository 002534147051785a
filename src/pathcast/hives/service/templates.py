"""Hive templates: admins edit them; a rule or a person creates hives from them.

A template's definition is validated by ``hives.schemas.TemplateDefinition`` (milestone
keys unique, dependencies known and acyclic, functions known). Pathcast ships one template,
"产线升级 / line upgrade"; it is created the first time templates are needed, so a rule that
says 「按“产线升级”模板创建任务蜂巢」 works on a fresh install.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.errors import Conflict, FieldError, InvalidInput, NotFound
from pathcast.events import append_event
from pathcast.hives import models as m
from pathcast.hives.schemas import TemplateDefinition
from pathcast.hives.service.access import require

__all__ = [
    "DEFAULT_TEMPLATES",
    "ensure_default_templates",
    "find_template",
    "get_template",
    "list_templates",
    "save_template",
]

LINE_UPGRADE: dict[str, Any] = {
    "milestones": [
        {"key": "kickoff", "name_zh": "启动会", "name_en": "Kick-off", "offset_days": 0, "duration_days": 0,
         "function": "delivery"},
        {"key": "site_survey", "name_zh": "现场勘查", "name_en": "Site survey", "offset_days": 0,
         "duration_days": 5, "depends_on": ["kickoff"], "function": "it_implementation",
         "needs": [{"skill": "field_engineer", "units_per_week": 2}]},
        {"key": "production_plan", "name_zh": "排产", "name_en": "Production planning", "offset_days": 1,
         "duration_days": 3, "depends_on": ["kickoff"], "function": "production_planning"},
        {"key": "manufacturing", "name_zh": "生产制造", "name_en": "Manufacturing", "offset_days": 4,
         "duration_days": 21, "depends_on": ["production_plan"], "function": "production_planning",
         "needs": [{"skill": "assembly_line", "units_per_week": 40}]},
        {"key": "shipping", "name_zh": "发货物流", "name_en": "Shipping", "offset_days": 25,
         "duration_days": 5, "depends_on": ["manufacturing"], "function": "logistics",
         "needs": [{"skill": "logistics", "units_per_week": 1}]},
        {"key": "installation", "name_zh": "安装调试", "name_en": "Installation and commissioning",
         "offset_days": 30, "duration_days": 10, "depends_on": ["shipping", "site_survey"],
         "function": "it_implementation", "needs": [{"skill": "field_engineer", "units_per_week": 5}]},
        {"key": "acceptance", "name_zh": "客户验收", "name_en": "Customer acceptance", "offset_days": 40,
         "duration_days": 3, "depends_on": ["installation"], "function": "customer_success"},
        {"key": "handover", "name_zh": "交付完成", "name_en": "Handover", "offset_days": 43, "duration_days": 0,
         "depends_on": ["acceptance"], "function": "customer_success"},
    ],
    "roles": ["sales", "delivery", "production_planning", "logistics", "it_implementation", "customer_success"],
    "risks": [
        {"title_zh": "关键物料交期不确定", "title_en": "Lead time of key materials is uncertain",
         "function": "production_planning"},
        {"title_zh": "客户现场条件未就绪", "title_en": "Customer site not ready", "function": "it_implementation"},
    ],
    "checklists": [
        {"milestone": "installation", "items": ["网络与电源就绪 / network and power ready",
                                                "安全培训完成 / safety training done",
                                                "备件到场 / spare parts on site"]},
    ],
}  # fmt: skip

# key -> (name_zh, name_en, description, definition)
DEFAULT_TEMPLATES: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "line_upgrade": (
        "产线升级",
        "Line upgrade",
        "排产、制造、发货、安装调试到验收的产线升级项目 / a production-line upgrade from planning to acceptance",
        LINE_UPGRADE,
    ),
}


def _snapshot(template: m.Template) -> dict[str, Any]:
    return {
        "key": template.key,
        "name_zh": template.name_zh,
        "name_en": template.name_en,
        "description": template.description,
        "definition": template.definition,
        "archived": template.archived,
    }


def _validated(definition: Any) -> dict[str, Any]:
    try:
        return TemplateDefinition.model_validate(definition).model_dump()
    except ValidationError as error:
        raise InvalidInput(
            [
                FieldError(
                    "definition." + ".".join(str(part) for part in issue["loc"])
                    if issue["loc"]
                    else "definition",
                    "invalid",
                    {"message": issue["msg"]},
                )
                for issue in error.errors()
            ]
        ) from None


def save_template(
    session: Session,
    actor: Actor,
    *,
    key: str,
    name_zh: str,
    name_en: str,
    definition: dict[str, Any],
    description: str = "",
    template_id: int | None = None,
) -> m.Template:
    """Create a template or change the one with ``template_id`` (admins); appends
    ``hive.template_saved`` with before/after."""
    require(actor, "update" if template_id else "create", right="hive_template")
    errors: list[FieldError] = []
    clean_key = (key or "").strip().lower()
    if not clean_key or len(clean_key) > 60 or not all(c.isalnum() or c in "_-" for c in clean_key):
        errors.append(FieldError("key", "invalid", {"message": "1–60 letters, digits, _ or -"}))
    for field, value in (("name_zh", name_zh), ("name_en", name_en)):
        if not (value or "").strip() or len(value) > 200:
            errors.append(FieldError(field, "required"))
    if errors:
        raise InvalidInput(errors)
    clean_definition = _validated(definition)
    clash = session.scalars(select(m.Template).where(m.Template.key == clean_key)).first()
    if clash is not None and clash.id != template_id:
        raise Conflict("duplicate", entity="hive_template", field="key", value=clean_key)
    if template_id is None:
        template = m.Template(key=clean_key, name_zh="", name_en="", definition={})
        session.add(template)
        before: dict[str, Any] | None = None
    else:
        found = session.get(m.Template, template_id)
        if found is None:
            raise NotFound("not_found", entity="hive_template", id=template_id)
        template = found
        before = _snapshot(template)
    template.key = clean_key
    template.name_zh = name_zh.strip()
    template.name_en = name_en.strip()
    template.description = (description or "").strip()
    template.definition = clean_definition
    session.flush()
    append_event(
        session,
        type="hive.template_saved",
        entity="hive_template",
        entity_id=template.id,
        actor=actor.label,
        payload={"before": before, "after": _snapshot(template)},
    )
    return template


def ensure_default_templates(session: Session, actor: Actor) -> list[m.Template]:
    """Create the templates Pathcast ships when no template exists yet (idempotent)."""
    if session.scalar(select(func.count()).select_from(m.Template)):
        return []
    made = []
    for key, (name_zh, name_en, description, definition) in DEFAULT_TEMPLATES.items():
        made.append(
            save_template(
                session,
                Actor.system(actor.label) if not actor.is_admin else actor,
                key=key,
                name_zh=name_zh,
                name_en=name_en,
                description=description,
                definition=definition,
            )
        )
    return made


def list_templates(session: Session, actor: Actor, *, include_archived: bool = False) -> list[m.Template]:
    """Templates by name (everyone who works in hives reads them)."""
    require(actor, "read", right="hive_template")
    query = select(m.Template).order_by(m.Template.id)
    if not include_archived:
        query = query.where(m.Template.archived.is_(False))
    return list(session.scalars(query))


def get_template(session: Session, actor: Actor, template_id: int) -> m.Template:
    """One template."""
    require(actor, "read", right="hive_template")
    template = session.get(m.Template, template_id)
    if template is None:
        raise NotFound("not_found", entity="hive_template", id=template_id)
    return template


def _norm(word: str) -> str:
    return "".join(ch for ch in word.casefold() if ch.isalnum())


def find_template(session: Session, word: str, *, actor: Actor) -> m.Template | None:
    """The template a person or a rule names: by key, Chinese or English name (spaces,
    case and punctuation ignored). Creates the shipped templates on first use."""
    ensure_default_templates(session, actor)
    wanted = _norm(word)
    for template in session.scalars(select(m.Template).where(m.Template.archived.is_(False))):
        if wanted in {_norm(template.key), _norm(template.name_zh), _norm(template.name_en)}:
            return template
    return None
