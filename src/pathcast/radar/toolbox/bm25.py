"""An Okapi BM25 index over knowledge-base passages, vectorised with scipy sparse matrices.

No BM25 library is installed in this environment (``rank_bm25`` and ``bm25s`` are not),
and ``rank_bm25`` scores every passage in a Python loop anyway, so this is a compact
vectorised one. At build time each passage is tokenised once (jieba for Chinese, words for
English, via :func:`pathcast.radar.analysis.tokens.tokenize`) and the whole BM25 weight
of every (passage, term) pair is precomputed into one CSC matrix::

    W[d, t] = idf(t) * tf(d, t) * (k1 + 1) / (tf(d, t) + k1 * (1 - b + b * len(d) / avglen))

so a query is one sparse column slice and one matrix-vector product, and the best ``top``
come from ``argpartition`` over the passages that matched at least one term — no Python
loop over passages. IDF is the non-negative form of Lucene
(``log(1 + (N - df + 0.5) / (df + 0.5))``) so a term in most passages never subtracts.

Memory is about 8 bytes per distinct (passage, term) pair (float32 weight + int32 row):
16 MB for 100k passages of 20 distinct words; build time is dominated by jieba.

Passages and queries must be tokenised alike: build the index after the catalogue's names
and the topic keywords are registered with jieba, and rebuild it when they change.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import sparse

from pathcast.radar.analysis.lexicon import normalise
from pathcast.radar.analysis.tokens import tokenize

Kind = Literal["qa", "document", "reply"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# A query is a question or a signal's text: anything longer is cut here so a pasted page
# cannot make one search slow (its first 2,000 characters say what it is about).
MAX_QUERY_CHARS = 2_000
DEFAULT_K1 = 1.5
DEFAULT_B = 0.75


@dataclass(frozen=True)
class Passage:
    """One searchable unit of the knowledge base.

    For a Q&A pair ``text`` is the question and ``answer`` the answer (both are indexed);
    for a document or a past reply ``text`` is the passage and ``answer`` is empty.
    ``source`` is the label a citation shows ("FAQ", "DSA-3000 白皮书 p.4", "reply #812").
    """

    id: str
    text: str
    source: str
    kind: Kind = "document"
    answer: str = ""

    @property
    def body(self) -> str:
        """The text that is indexed and quoted: question and answer together for Q&A."""
        return f"{self.text}\n{self.answer}" if self.answer else self.text


@dataclass(frozen=True)
class Hit:
    """A passage that matched a query, its BM25 score and the query terms it contains."""

    passage: Passage
    score: float
    matched: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class QueryTerm:
    """A query term the index knows, with its IDF and how often the query repeats it."""

    term: str
    idf: float
    count: int


class BM25Index:
    """An immutable BM25 index; build it with :meth:`build`, query it with :meth:`search`.

    Safe to share between threads once built (searches only read). To change the
    knowledge base, build a new index and swap the reference.
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        vocabulary: dict[str, int],
        weights: sparse.csc_matrix,
        idf: npt.NDArray[np.float64],
        *,
        k1: float,
        b: float,
        tokenizer: Callable[[str], list[str]],
    ) -> None:
        self.passages: tuple[Passage, ...] = tuple(passages)
        self.vocabulary = vocabulary
        self._weights = weights
        self._idf = idf
        self.k1 = k1
        self.b = b
        self._tokenizer = tokenizer
        self._kinds = np.array([KINDS.index(p.kind) for p in self.passages], dtype=np.int8)
        self._by_id = {p.id: i for i, p in enumerate(self.passages)}

    @classmethod
    def build(
        cls,
        passages: Iterable[Passage],
        *,
        k1: float = DEFAULT_K1,
        b: float = DEFAULT_B,
        tokenizer: Callable[[str], list[str]] = tokenize,
    ) -> BM25Index:
        """Index ``passages`` (ids must be unique: a later duplicate is an error naming it).

        ``k1`` (term-frequency saturation) and ``b`` (length normalisation) are the usual
        Okapi parameters; the defaults suit short FAQ answers and document paragraphs.
        """
        if not (k1 >= 0 and math.isfinite(k1)) or not 0 <= b <= 1:
            raise ValueError(f"k1 must be a finite number ≥ 0 and b within 0–1, got k1={k1}, b={b}")
        items = list(passages)
        seen: set[str] = set()
        for row, passage in enumerate(items):
            if passage.id in seen:
                raise ValueError(f"passage {row}: id {passage.id!r} is used twice / 段落 id 重复")
            if passage.kind not in KINDS:
                raise ValueError(f"passage {row} ({passage.id!r}): kind must be one of {', '.join(KINDS)}")
            seen.add(passage.id)

        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(items), dtype=np.float64)
        for row, passage in enumerate(items):
            terms = tokenizer(passage.body)
            lengths[row] = len(terms)
            per_term: dict[int, int] = {}
            for term in terms:
                col = vocabulary.setdefault(term, len(vocabulary))
                per_term[col] = per_term.get(col, 0) + 1
            rows.extend([row] * len(per_term))
            cols.extend(per_term)
            counts.extend(per_term.values())

        n_docs, n_terms = len(items), len(vocabulary)
        tf = np.asarray(counts, dtype=np.float64)
        row_index = np.asarray(rows, dtype=np.int32)
        col_index = np.asarray(cols, dtype=np.int32)
        df = np.bincount(col_index, minlength=n_terms).astype(np.float64)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        avg_length = float(lengths.mean()) if n_docs and lengths.sum() > 0 else 1.0
        norm = k1 * (1.0 - b + b * lengths[row_index] / avg_length)
        values = idf[col_index] * tf * (k1 + 1.0) / (tf + norm)
        weights = sparse.csc_matrix(
            (values.astype(np.float32), (row_index, col_index)), shape=(n_docs, n_terms)
        )
        # search() binary-searches row indices within a column: they must be sorted
        weights.sort_indices()
        return cls(items, vocabulary, weights, idf, k1=k1, b=b, tokenizer=tokenizer)

    def __len__(self) -> int:
        return len(self.passages)

    @property
    def postings(self) -> int:
        """Distinct (passage, term) pairs stored."""
        return int(self._weights.nnz)

    @property
    def nbytes(self) -> int:
        """Bytes held by the weight matrix (the index's memory beyond the passages)."""
        w = self._weights
        return int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes)

    def get(self, passage_id: str) -> Passage | None:
        """The passage with this id, or ``None``."""
        at = self._by_id.get(passage_id)
        return None if at is None else self.passages[at]

    def query_terms(self, query: str) -> list[QueryTerm]:
        """The query's terms that the index knows, rarest first (unknown terms cannot match)."""
        counts: dict[str, int] = {}
        for term in self._tokenizer(query[:MAX_QUERY_CHARS]):
            if term in self.vocabulary:
                counts[term] = counts.get(term, 0) + 1
        terms = [QueryTerm(t, float(self._idf[self.vocabulary[t]]), c) for t, c in counts.items()]
        return sorted(terms, key=lambda q: -q.idf)

    def search(self, query: str, *, top: int = 10, kinds: Iterable[Kind] | None = None) -> list[Hit]:
        """The ``top`` passages best matching ``query``, best first; only passages sharing
        at least one term with it. ``kinds`` keeps only those kinds. Never raises on any
        query text (an empty or unknown query finds nothing)."""
        if top <= 0 or not self.passages:
            return []
        terms = self.query_terms(query)
        if not terms:
            return []
        columns = np.array([self.vocabulary[q.term] for q in terms], dtype=np.int64)
        repeats = np.array([q.count for q in terms], dtype=np.float32)
        # One column slice (rows of every passage holding a query term) and one product.
        sub = self._weights[:, columns]
        if not sub.has_sorted_indices:  # column slices keep the order; this is a cheap guard
            sub.sort_indices()
        scores = np.asarray(sub @ repeats).ravel()
        candidates = np.flatnonzero(scores > 0)
        if kinds is not None:
            wanted = [KINDS.index(k) for k in kinds if k in KINDS]
            candidates = candidates[np.isin(self._kinds[candidates], wanted)]
        if candidates.size == 0:
            return []
        if candidates.size > top:
            best = candidates[np.argpartition(-scores[candidates], top - 1)[:top]]
        else:
            best = candidates
        # Within the chosen ones, ties break on insertion order so pages do not reshuffle.
        best = best[np.lexsort((best, -scores[best]))]
        # Which query terms each hit contains: a binary search of the hits' rows in each
        # term's (sorted) column — k × q lookups, not a conversion of the whole slice.
        contains = np.zeros((best.size, len(terms)), dtype=bool)
        for j in range(len(terms)):
            rows = sub.indices[sub.indptr[j] : sub.indptr[j + 1]]
            at = np.searchsorted(rows, best)
            contains[:, j] = rows[np.minimum(at, rows.size - 1)] == best if rows.size else False
        return [
            Hit(
                self.passages[int(row)],
                float(scores[row]),
                tuple(terms[j].term for j in np.flatnonzero(contains[position])),
            )
            for position, row in enumerate(best)
        ]


def snippet(text: str, terms: Sequence[str], *, width: int = 120) -> str:
    """About ``width`` characters of ``text`` around the first of ``terms`` it contains
    (``terms`` rarest first, so the snippet shows why the passage matched), with "…"
    where it was cut. The beginning of ``text`` when no term is found."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    lowered = normalise(text)
    # NFKC can change lengths (rare ligatures); positions are then only approximate,
    # which a snippet tolerates.
    at = next((pos for term in terms if (pos := lowered.find(term)) >= 0), 0)
    start = max(0, min(at - width // 3, len(text) - width))
    piece = text[start : start + width]
    return ("…" if start > 0 else "") + piece + ("…" if start + width < len(text) else "")
