"""Radar I/O: sources, graded signals, corrections, competitors, the weight table and topics."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from pathcast.radar import models as m
from pathcast.schemas import NonEmptyStr, ProjectBase

SourceKindName = Literal["rss", "atom", "json_api", "html_list", "messages"]
SeverityName = Literal["P1", "P2", "P3", "P4"]
CorrectableField = Literal["polarity", "intent", "severity"]

# Config keys whose values may be credentials (an API key header): never sent back.
SECRET_CONFIG_KEYS = frozenset({"headers"})


def public_config(config: dict[str, Any]) -> dict[str, Any]:
    """A source's config with secret values masked."""
    return {
        key: (
            {name: "***" for name in value}
            if key in SECRET_CONFIG_KEYS and isinstance(value, dict)
            else value
        )
        for key, value in (config or {}).items()
    }


# --- sources ----------------------------------------------------------------------------------


class SourceCreate(ProjectBase):
    """A new source: where it is and how to read it (``config`` is checked for its kind)."""

    name: NonEmptyStr
    kind: SourceKindName
    config: dict[str, Any] = Field(default_factory=dict)
    poll_interval_seconds: int = 900
    is_active: bool = True


class SourceUpdate(ProjectBase):
    """Changes to a source; fields left out stay as they are."""

    name: NonEmptyStr | None = None
    config: dict[str, Any] | None = None
    poll_interval_seconds: int | None = None
    is_active: bool | None = None


class SourceRead(ProjectBase):
    """A source with its health (config secrets masked)."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    is_active: bool
    poll_interval_seconds: int
    health: str
    health_code: str | None
    health_reason: str | None
    last_polled_at: datetime | None
    last_ok_at: datetime | None

    @classmethod
    def of(cls, source: m.Source) -> SourceRead:
        """The read shape of a source, secrets masked."""
        return cls(
            id=source.id,
            name=source.name,
            kind=source.kind,
            config=public_config(source.config),
            is_active=source.is_active,
            poll_interval_seconds=source.poll_interval_seconds,
            health=source.health,
            health_code=source.health_code,
            health_reason=source.health_reason,
            last_polled_at=source.last_polled_at,
            last_ok_at=source.last_ok_at,
        )


class PollRead(ProjectBase):
    """What polling one source did, and what the analysis and routing that followed did."""

    source: str
    source_id: int
    health: str
    stored: int
    duplicates: int
    not_modified: bool
    failure_code: str | None
    failure: str | None
    analysed: int = 0
    routed: int = 0


# --- signals ----------------------------------------------------------------------------------


class SignalRead(ProjectBase):
    """One graded signal: the item's text and where it came from, the grade and the analysis."""

    id: int
    source_id: int
    url: str | None
    title: str | None
    text: str | None
    author: str | None
    lang: str | None
    published_at: datetime | None
    fetched_at: datetime
    account_id: int | None
    contact_id: int | None
    industry: str | None
    polarity: str
    intent: str
    severity: str
    score: float
    corrected: bool
    analysed_at: datetime
    reasons: list[dict[str, str]] = Field(default_factory=list)
    analysis: dict[str, Any] | None = None

    @classmethod
    def of(cls, item: m.Item, signal: m.Signal, *, full: bool = False) -> SignalRead:
        """The read shape; ``full`` adds the whole analysis (tokens, entities, topics…)."""
        analysis = item.analysis or {}
        return cls(
            id=item.id,
            source_id=item.source_id,
            url=item.url,
            title=item.title,
            text=item.text,
            author=item.author,
            lang=item.lang,
            published_at=item.published_at,
            fetched_at=item.fetched_at,
            account_id=signal.account_id,
            contact_id=signal.contact_id,
            industry=signal.industry,
            polarity=signal.polarity,
            intent=signal.intent,
            severity=signal.severity,
            score=signal.score,
            corrected=signal.corrected,
            analysed_at=signal.analysed_at,
            reasons=list(analysis.get("grade", {}).get("reasons", [])),
            analysis=analysis if full else None,
        )


class CorrectionCreate(ProjectBase):
    """A rep's correction of one field of a signal."""

    field: CorrectableField
    value: str = Field(min_length=1, max_length=40)
    note: str | None = Field(default=None, max_length=2000)


# --- settings and competitors -------------------------------------------------------------


class CompetitorWrite(ProjectBase):
    """A competitor's name, aliases and products."""

    name: NonEmptyStr
    aliases: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)


class CompetitorRead(CompetitorWrite):
    """A stored competitor."""

    id: int
    created_at: datetime
    updated_at: datetime
