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


# --- case matching


class CaseStudyCreate(ProjectBase):
    """A new case study (the service checks lengths, the URL and the account)."""

    title: NonEmptyStr
    industry: str | None = Field(default=None, max_length=60)
    products: list[str] = Field(default_factory=list, max_length=50)
    amount: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    text: str = Field(default="", max_length=20000)
    url: str | None = Field(default=None, max_length=2000)
    account_id: int | None = None


class CaseStudyUpdate(ProjectBase):
    """Changes to a case study; fields left out stay as they are (``null`` clears)."""

    title: NonEmptyStr | None = None
    industry: str | None = Field(default=None, max_length=60)
    products: list[str] | None = Field(default=None, max_length=50)
    amount: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    text: str | None = Field(default=None, max_length=20000)
    url: str | None = Field(default=None, max_length=2000)
    account_id: int | None = None


class CaseStudyRead(ProjectBase):
    """A stored case study."""

    id: int
    title: str
    industry: str | None
    products: list[str]
    amount: float | None
    text: str
    url: str | None
    account_id: int | None
    archived: bool
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class CaseMatchRead(ProjectBase):
    """A won deal or case study like the situation: its link, score (0–1), the parts'
    scores and, in zh and en, why it matched."""

    kind: Literal["won_deal", "case_study"]
    id: int
    title: str
    link: str
    score: float
    parts: dict[str, float]
    reasons: list[dict[str, str]]
    industry: str | None = None
    products: list[str] = Field(default_factory=list)
    amount: float | None = None
    account_name: str | None = None


# --- knowledge base

QUESTION_MAX = 2_000
ANSWER_MAX = 10_000
KNOWLEDGE_SOURCE_MAX = 200
REPLY_MAX = 10_000


class KnowledgeCreate(ProjectBase):
    """A new Q&A pair; ``source`` is the label its citations show (default "FAQ")."""

    question: str = Field(min_length=1, max_length=QUESTION_MAX)
    answer: str = Field(min_length=1, max_length=ANSWER_MAX)
    source: str | None = Field(default=None, max_length=KNOWLEDGE_SOURCE_MAX)


class KnowledgeUpdate(ProjectBase):
    """Changes to a knowledge entry; fields left out stay as they are."""

    question: str | None = Field(default=None, min_length=1, max_length=QUESTION_MAX)
    answer: str | None = Field(default=None, min_length=1, max_length=ANSWER_MAX)
    source: str | None = Field(default=None, min_length=1, max_length=KNOWLEDGE_SOURCE_MAX)


class KnowledgeRead(ProjectBase):
    """A stored knowledge entry: a Q&A pair or a shared reply (``item_id``: its signal)."""

    id: int
    kind: Literal["qa", "reply"]
    question: str | None
    answer: str
    source: str
    item_id: int | None
    archived: bool
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class CitationRead(ProjectBase):
    """One passage a draft used, numbered as in the draft, with a link where one exists."""

    number: int
    id: str
    kind: Literal["qa", "document", "reply"]
    source: str
    snippet: str
    score: float
    link: str | None = None


class DraftRead(ProjectBase):
    """A suggested reply for a person to edit (``status`` is always "draft"; nothing is sent)."""

    status: Literal["draft"] = "draft"
    question: str
    text_zh: str
    text_en: str | None
    citations: list[CitationRead]
    confidence: float
    reasons: list[dict[str, str]]


class KnowledgeHitRead(ProjectBase):
    """A knowledge-base search result: a passage that matched, why, and its link."""

    id: str
    kind: Literal["qa", "document", "reply"]
    source: str
    snippet: str
    score: float
    matched: list[str]
    link: str | None = None


class ReplyCreate(ProjectBase):
    """The reply a rep sent for a signal (outside Pathcast); ``share`` makes it knowledge."""

    text: str = Field(min_length=1, max_length=REPLY_MAX)
    share: bool = False


class ReplyRead(ProjectBase):
    """A recorded reply; ``knowledge_id`` is the shared knowledge entry, if any."""

    item_id: int
    saved: bool = True
    shared: bool
    knowledge_id: int | None = None


# --- competitor matrix


MatrixAdvantage = Literal["ours", "theirs", "even", ""]
MatrixExportFormat = Literal["pdf", "png", "svg", "csv", "html"]
SignalMatrixFormat = Literal["json", "pdf", "png", "svg", "csv"]


class MatrixRowWrite(ProjectBase):
    """One row to add or replace: the key is (competitor_id, product, criterion)."""

    competitor_id: int
    product: NonEmptyStr = Field(max_length=200)
    criterion: NonEmptyStr = Field(max_length=200)
    ours: str = Field(default="", max_length=2000)
    theirs: str = Field(default="", max_length=2000)
    advantage: MatrixAdvantage = ""
    note: str = Field(default="", max_length=2000)


class MatrixRowRead(ProjectBase):
    """A stored matrix row with its competitor's name."""

    id: int
    competitor_id: int
    competitor: str
    product: str
    criterion: str
    ours: str
    theirs: str
    advantage: str
    note: str
    position: int
    updated_at: datetime


class MatrixImport(ProjectBase):
    """A CSV import sent as JSON (a ``text/csv`` body works too)."""

    csv: str = Field(max_length=1_000_000)


class ImportErrorRead(ProjectBase):
    """One refused cell of an import: its spreadsheet row (header = 1) and field."""

    row: int | None
    field: str
    code: str
    detail: str


class MatrixImportRead(ProjectBase):
    """What an import saved, and each bad row (the valid rows are kept)."""

    created: int
    updated: int
    unchanged: int
    errors: list[ImportErrorRead]


class SignalMatrixRowRead(ProjectBase):
    """A matrix row as a signal shows it."""

    competitor: str
    product: str
    criterion: str
    ours: str
    theirs: str
    advantage: str
    note: str


class SignalMatrixRead(ProjectBase):
    """The competitors and products a signal names, and the matrix rows for them."""

    item_id: int
    competitors: list[str]
    products: list[str]
    narrowed: bool
    rows: list[SignalMatrixRowRead]
