"""FAQ drafts: a suggested answer to a question, composed from the knowledge base, that
cites every passage it used — for a person to edit. Nothing here sends anything.

The knowledge base is plain records (:func:`load_passages`): Q&A pairs, document
passages (the service layer will feed ``crm`` assets) and past replies. A draft opens
with the best Q&A answer when one matches, then quotes the best document or reply
snippets, each marked ``[n]`` with its citation, and says plainly that it is a draft.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pathcast.errors import FieldError, InvalidInput
from pathcast.radar.analysis.lexicon import Reason, reason
from pathcast.radar.analysis.tokens import detect_lang
from pathcast.radar.toolbox.bm25 import KINDS, BM25Index, Hit, Kind, Passage, snippet

DRAFT_MARK_ZH = "【草稿 · 请核对并编辑后再发送】"
DRAFT_MARK_EN = "[DRAFT — check and edit before sending]"
SNIPPET_CHARS = 160
# A Q&A whose score is below this share of the best hit's is not good enough to lead the
# draft: its question is about something else that merely shares a word.
QA_LEAD_SHARE = 0.5
# A passage scoring under this share of the best one matched on incidental words ("the",
# "是"); quoting it would add noise the editor has to delete, so the draft leaves it out.
CITE_SHARE = 0.3


@dataclass(frozen=True)
class Citation:
    """One passage a draft used: its id, source label, the quoted snippet and its score."""

    id: str
    source: str
    snippet: str
    score: float
    kind: Kind = "document"

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``{"id", "source", "snippet", "score", "kind"}``."""
        return {
            "id": self.id,
            "source": self.source,
            "snippet": self.snippet,
            "score": round(self.score, 4),
            "kind": self.kind,
        }


@dataclass(frozen=True)
class Draft:
    """A suggested answer for a person to edit; ``status`` is always ``"draft"``.

    ``text_en`` is set when the question is in English (the quoted sources stay in the
    language they were written in). ``confidence`` (0–1) is the share of the question's
    term weight that the best source covers, lower when no Q&A answer matched.
    """

    text_zh: str
    text_en: str | None
    citations: list[Citation]
    confidence: float
    reasons: list[Reason] = field(default_factory=list)
    status: Literal["draft"] = "draft"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form."""
        return {
            "status": self.status,
            "text_zh": self.text_zh,
            "text_en": self.text_en,
            "citations": [c.as_dict() for c in self.citations],
            "confidence": self.confidence,
            "reasons": list(self.reasons),
        }


def load_passages(records: Iterable[Mapping[str, Any]]) -> list[Passage]:
    """Knowledge-base passages from plain records.

    Each record has ``id`` (str or int), ``source`` (a label), ``kind`` (``qa``,
    ``document`` or ``reply``; default ``document``) and either ``question`` + ``answer``
    (Q&A) or ``text``. Raises :class:`InvalidInput` naming every bad field with its row
    (0-based), and a repeated id.
    """
    errors: list[FieldError] = []
    passages: list[Passage] = []
    seen: set[str] = set()
    for row, record in enumerate(records):
        problems = _check_record(record)
        if problems:
            errors.extend(FieldError(name, "invalid", {"message": msg}, row=row) for name, msg in problems)
            continue
        passage_id = str(record["id"])
        if passage_id in seen:
            errors.append(
                FieldError(
                    "id", "duplicate", {"message": f"id {passage_id} is used twice / id 重复"}, row=row
                )
            )
            continue
        seen.add(passage_id)
        kind: Kind = record.get("kind") or "document"  # checked above: one of KINDS
        if kind == "qa":
            passages.append(
                Passage(
                    passage_id, str(record["question"]), str(record["source"]), "qa", str(record["answer"])
                )
            )
        else:
            passages.append(Passage(passage_id, str(record["text"]), str(record["source"]), kind))
    if errors:
        raise InvalidInput(errors)
    return passages


def _check_record(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    if not isinstance(record, Mapping):
        return [("record", "expected an object / 应为对象")]
    problems: list[tuple[str, str]] = []
    if (
        not isinstance(record.get("id"), str | int)
        or isinstance(record.get("id"), bool)
        or str(record.get("id")).strip() == ""
    ):
        problems.append(("id", "a non-empty text or number / 应为非空文本或数字"))
    if not _text(record.get("source")):
        problems.append(("source", "a non-empty label / 应为非空来源标签"))
    kind = record.get("kind") or "document"
    if kind not in KINDS:
        problems.append(("kind", f"one of {', '.join(KINDS)} / 应为 {'、'.join(KINDS)} 之一"))
    elif kind == "qa":
        for name in ("question", "answer"):
            if not _text(record.get(name)):
                problems.append((name, "a non-empty text for a Q&A pair / 问答须有非空文本"))
    elif not _text(record.get("text")):
        problems.append(("text", "a non-empty text / 应为非空文本"))
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def build_knowledge_base(records: Iterable[Mapping[str, Any]]) -> BM25Index:
    """A BM25 index over the passages of ``records`` (see :func:`load_passages`)."""
    return BM25Index.build(load_passages(records))


def draft_answer(question: str, index: BM25Index, *, top: int = 3) -> Draft:
    """A draft answer to ``question`` from the ``top`` best passages, citing each one used.

    The best matching Q&A answer (if its score is at least half the best hit's) leads;
    the best document and reply snippets follow as numbered references. Passages under
    30 % of the best score are not used (they share only incidental words). With nothing
    found the draft says so and has no citations and confidence 0. Never raises on any
    question text.
    """
    top = max(1, top)
    english = detect_lang(question) == "en"
    hits = index.search(question, top=top)
    if not hits:
        return Draft(
            text_zh=f"{DRAFT_MARK_ZH}\n知识库中没有找到相关内容，请人工撰写回复。",
            text_en=f"{DRAFT_MARK_EN}\nNothing relevant was found in the knowledge base; please write the reply yourself."
            if english
            else None,
            citations=[],
            confidence=0.0,
            reasons=[reason("no passage shares a term with the question", "没有段落与问题有共同词语")],
        )

    best_score = hits[0].score
    hits = [h for h in hits if h.score >= CITE_SHARE * best_score]
    lead = next((h for h in hits if h.passage.kind == "qa" and h.score >= QA_LEAD_SHARE * best_score), None)
    others = [h for h in hits if h is not lead]
    ordered = ([lead] if lead else []) + others
    terms = [q.term for q in index.query_terms(question)]
    citations = [
        Citation(
            id=h.passage.id,
            source=h.passage.source,
            snippet=snippet(h.passage.answer or h.passage.body, terms, width=SNIPPET_CHARS),
            score=h.score,
            kind=h.passage.kind,
        )
        for h in ordered
    ]

    zh = [DRAFT_MARK_ZH, "您好，关于您的问题："]
    en = [DRAFT_MARK_EN, "Hello, regarding your question:"]
    if lead is not None:
        zh.append(f"{lead.passage.answer.strip()} [1]")
        en.append(f"{lead.passage.answer.strip()} [1]")
    start = 2 if lead is not None else 1
    if others:
        zh.append("相关资料：" if lead is not None else "以下资料可能有帮助：")
        en.append("See also:" if lead is not None else "These sources may help:")
        for number, (hit, citation) in enumerate(zip(others, citations[start - 1 :], strict=True), start):
            zh.append(f"[{number}] {citation.snippet}（{hit.passage.source}）")
            en.append(f"[{number}] {citation.snippet} ({hit.passage.source})")
    zh.append("来源：" + "；".join(f"[{n}] {c.source}" for n, c in enumerate(citations, 1)))
    en.append("Sources: " + "; ".join(f"[{n}] {c.source}" for n, c in enumerate(citations, 1)))

    confidence, reasons = _confidence(index, question, hits[0], lead)
    return Draft(
        text_zh="\n".join(zh),
        text_en="\n".join(en) if english else None,
        citations=citations,
        confidence=confidence,
        reasons=reasons,
    )


def _confidence(index: BM25Index, question: str, best: Hit, lead: Hit | None) -> tuple[float, list[Reason]]:
    """Share of the question's IDF mass the best passage contains, × 0.8 without a Q&A lead
    (a document snippet answers less directly than a curated answer)."""
    terms = index.query_terms(question)
    total = sum(q.idf for q in terms)
    covered = sum(q.idf for q in terms if q.term in best.matched)
    share = covered / total if total > 0 else 0.0
    reasons = [
        reason(
            f"the best source contains {len(best.matched)} of the question's {len(terms)} known words "
            f"({share:.0%} of their weight)",
            f"最佳来源包含问题 {len(terms)} 个已知词中的 {len(best.matched)} 个（权重占 {share:.0%}）",
        )
    ]
    if lead is None:
        share *= 0.8
        reasons.append(reason("no Q&A answer matched closely", "没有足够接近的问答条目"))
    return round(share, 3), reasons
