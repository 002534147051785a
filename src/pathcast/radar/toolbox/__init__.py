"""The radar's response toolbox, pure Python (no database): what a rep needs to answer a
signal in minutes.

    BM25Index, Passage      bm25.py     BM25 retrieval over the knowledge base (jieba tokens)
    draft_answer            faq.py      a cited draft answer, for a person to edit
    match_cases             cases.py    similar won deals and case studies, with reasons
    CompetitorMatrix        matrix.py   competitor × product × criterion, HTML and CSV export

The service layer feeds these from crm (documents, won deals), past replies and the
matrix product marketing edits. See docs/radar_toolbox.md.
"""

from __future__ import annotations

from pathcast.radar.toolbox.bm25 import BM25Index, Hit, Passage, snippet
from pathcast.radar.toolbox.cases import CaseMatch, CaseQuery, CaseRecord, match_cases
from pathcast.radar.toolbox.faq import Citation, Draft, build_knowledge_base, draft_answer, load_passages
from pathcast.radar.toolbox.matrix import CompetitorMatrix, MatrixRow, to_csv, to_html

__all__ = [
    "BM25Index",
    "CaseMatch",
    "CaseQuery",
    "CaseRecord",
    "Citation",
    "CompetitorMatrix",
    "Draft",
    "Hit",
    "MatrixRow",
    "Passage",
    "build_knowledge_base",
    "draft_answer",
    "load_passages",
    "match_cases",
    "snippet",
    "to_csv",
    "to_html",
]
