"""Pipelines and their stages."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.permissions import Actor
from pathcast.crm import models as m
from pathcast.crm.service.records import create_record
from pathcast.crm.service.registry import SPECS
from pathcast.errors import InvalidInput

# key, English name, Chinese name, probability, class
DEFAULT_STAGES: list[tuple[str, str, str, int, m.StageClass]] = [
    ("lead", "Lead", "线索", 5, m.StageClass.open),
    ("qualified", "Qualified", "已验证", 15, m.StageClass.open),
    ("discovery", "Discovery", "需求调研", 30, m.StageClass.open),
    ("solution", "Solution / POC", "方案与测试", 50, m.StageClass.open),
    ("proposal", "Proposal", "报价", 65, m.StageClass.open),
    ("negotiation", "Negotiation", "商务谈判", 80, m.StageClass.open),
    ("won", "Won", "赢单", 100, m.StageClass.won),
    ("lost", "Lost", "丢单", 0, m.StageClass.lost),
]


def ensure_pipeline(
    session: Session,
    *,
    actor: Actor,
    name: str,
    stages: list[tuple[str, str, str, int, m.StageClass]],
    is_default: bool = False,
) -> m.Pipeline:
    """Find the pipeline called ``name`` or create it with ``stages``; idempotent."""
    pipeline = session.scalars(select(m.Pipeline).where(m.Pipeline.name == name)).first()
    if pipeline is None:
        pipeline = create_record(
            session, actor=actor, spec=SPECS["pipeline"], data={"name": name, "is_default": is_default}
        )
    existing = {stage.key for stage in stages_of(session, pipeline.id)}
    for position, (key, name_en, name_zh, probability, status_class) in enumerate(stages):
        if key in existing:
            continue
        create_record(
            session,
            actor=actor,
            spec=SPECS["stage"],
            data={
                "pipeline_id": pipeline.id,
                "key": key,
                "name": name_en,
                "name_zh": name_zh,
                "position": position,
                "probability": probability,
                "status_class": status_class.value,
            },
        )
    return pipeline


def ensure_default_pipeline(session: Session, *, actor: Actor) -> m.Pipeline:
    """The default sales pipeline, created with standard B2B stages on first use."""
    current = session.scalars(select(m.Pipeline).where(m.Pipeline.is_default.is_(True))).first()
    if current is not None:
        return current
    return ensure_pipeline(session, actor=actor, name="Sales", stages=DEFAULT_STAGES, is_default=True)


def default_pipeline(session: Session) -> m.Pipeline:
    """The default pipeline; raises if the database has none yet."""
    pipeline = session.scalars(select(m.Pipeline).where(m.Pipeline.is_default.is_(True))).first()
    if pipeline is None:
        pipeline = session.scalars(select(m.Pipeline).order_by(m.Pipeline.id)).first()
    if pipeline is None:
        raise InvalidInput.single("pipeline_id", "no_pipeline")
    return pipeline


def stages_of(session: Session, pipeline_id: int) -> list[m.Stage]:
    """A pipeline's stages in board order."""
    return list(
        session.scalars(
            select(m.Stage).where(m.Stage.pipeline_id == pipeline_id).order_by(m.Stage.position, m.Stage.id)
        )
    )
