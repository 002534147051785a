"""The competitor matrix: competitor × product × criterion → our value, theirs, a note.

Product marketing edits it (:meth:`CompetitorMatrix.set`, :meth:`from_records` for an
import); a signal that names competitors shows :meth:`CompetitorMatrix.rows_for` those
competitors, exported as a one-page HTML sheet (:func:`to_html`, A4 print styles) or
CSV (:func:`to_csv`). PDF and image export are not built yet: the HTML prints to one
PDF page from a browser, and a server-side PDF/PNG renderer can come later.

Competitors and products are matched on a normalised form (NFKC, lower case, single
spaces), so "Siemens", "SIEMENS" and "ｓｉｅｍｅｎｓ" are one competitor; a competitor's
aliases (e.g. "西门子") can be registered with :meth:`CompetitorMatrix.alias`.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pathcast.errors import FieldError, InvalidInput
from pathcast.radar.analysis.lexicon import normalise

Advantage = Literal["ours", "theirs", "even", ""]
ADVANTAGES: tuple[str, ...] = ("ours", "theirs", "even", "")
CSV_COLUMNS = ("competitor", "product", "criterion", "ours", "theirs", "advantage", "note")
_ADVANTAGE_LABEL = {
    "ours": ("我方占优", "ours"),
    "theirs": ("对方占优", "theirs"),
    "even": ("持平", "even"),
    "": ("", ""),
}


@dataclass(frozen=True)
class MatrixRow:
    """One cell group of the matrix: on ``criterion``, for ``product``, we offer ``ours``
    and ``competitor`` offers ``theirs``; ``advantage`` says who is ahead (may be blank)."""

    competitor: str
    product: str
    criterion: str
    ours: str
    theirs: str
    note: str = ""
    advantage: Advantage = ""


def _key(name: str) -> str:
    return " ".join(normalise(name).split())


class CompetitorMatrix:
    """An editable competitor matrix, in insertion order. Not thread-safe while edited."""

    def __init__(self, rows: Iterable[MatrixRow] = ()) -> None:
        self._rows: dict[tuple[str, str, str], MatrixRow] = {}
        self._aliases: dict[str, str] = {}
        for row in rows:
            self._put(row)

    def _put(self, row: MatrixRow) -> None:
        for name, value in (
            ("competitor", row.competitor),
            ("product", row.product),
            ("criterion", row.criterion),
        ):
            if not value.strip():
                raise InvalidInput.single(name, "required", message=f"{name}: must not be empty / 不能为空")
        if row.advantage not in ADVANTAGES:
            raise InvalidInput.single(
                "advantage",
                "invalid",
                message="advantage: ours, theirs, even or blank / 应为 ours、theirs、even 或留空",
            )
        self._rows[(_key(row.competitor), _key(row.product), _key(row.criterion))] = row

    def set(
        self,
        competitor: str,
        product: str,
        criterion: str,
        *,
        ours: str,
        theirs: str,
        note: str = "",
        advantage: Advantage = "",
    ) -> MatrixRow:
        """Add or replace the row for (competitor, product, criterion) and return it."""
        row = MatrixRow(competitor.strip(), product.strip(), criterion.strip(), ours, theirs, note, advantage)
        self._put(row)
        return row

    def remove(self, competitor: str, product: str, criterion: str) -> bool:
        """Delete that row; ``False`` when there was none."""
        return self._rows.pop((_key(competitor), _key(product), _key(criterion)), None) is not None

    def alias(self, competitor: str, *aliases: str) -> None:
        """Let ``aliases`` (another language, a short name) find ``competitor``'s rows."""
        for name in aliases:
            if name.strip():
                self._aliases[_key(name)] = _key(competitor)

    @property
    def rows(self) -> list[MatrixRow]:
        """Every row, in insertion order."""
        return list(self._rows.values())

    def competitors(self) -> list[str]:
        """The competitors present, each once, as first written."""
        return list(dict.fromkeys(row.competitor for row in self._rows.values()))

    def rows_for(self, competitors: Iterable[str], products: Iterable[str] | None = None) -> list[MatrixRow]:
        """The rows about these competitors (names or aliases), optionally only for these
        products; in the order competitors are given, then insertion order."""
        wanted = list(dict.fromkeys(self._aliases.get(_key(c), _key(c)) for c in competitors))
        product_keys = None if products is None else {_key(p) for p in products}
        found: list[MatrixRow] = []
        for competitor in wanted:
            found.extend(
                row
                for (comp, prod, _), row in self._rows.items()
                if comp == competitor and (product_keys is None or prod in product_keys)
            )
        return found

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> CompetitorMatrix:
        """A matrix from plain records with the :data:`CSV_COLUMNS` keys (``note`` and
        ``advantage`` optional). Raises :class:`InvalidInput` naming each bad field and
        its row (0-based)."""
        matrix = cls()
        errors: list[FieldError] = []
        for row_number, record in enumerate(records):
            if not isinstance(record, Mapping):
                errors.append(
                    FieldError("record", "invalid", {"message": "an object / 应为对象"}, row=row_number)
                )
                continue
            bad = [
                name
                for name in ("competitor", "product", "criterion")
                if not isinstance(record.get(name), str) or not record[name].strip()
            ]
            bad += [name for name in ("ours", "theirs", "note") if not isinstance(record.get(name, ""), str)]
            if record.get("advantage", "") not in ADVANTAGES:
                bad.append("advantage")
            if bad:
                errors.extend(
                    FieldError(name, "invalid", {"message": f"row {row_number}: {name}"}, row=row_number)
                    for name in bad
                )
                continue
            matrix.set(
                record["competitor"],
                record["product"],
                record["criterion"],
                ours=record.get("ours", ""),
                theirs=record.get("theirs", ""),
                note=record.get("note", ""),
                advantage=record.get("advantage", ""),
            )
        if errors:
            raise InvalidInput(errors)
        return matrix


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection): text starting with
    = + @ or a control character gets a leading apostrophe; so does "-" unless a number."""
    if value[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + value
    if value.startswith("-"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def to_csv(rows: Sequence[MatrixRow]) -> str:
    """The rows as CSV text (UTF-8 when encoded; a header of :data:`CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _safe_cell(v)
                for v in (
                    row.competitor,
                    row.product,
                    row.criterion,
                    row.ours,
                    row.theirs,
                    row.advantage,
                    row.note,
                )
            ]
        )
    return out.getvalue()


_CSS = """
@page { size: A4; margin: 12mm; }
body { font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; font-size: 10pt; margin: 0; }
h1 { font-size: 14pt; margin: 0 0 4pt; }
p.meta { color: #555; margin: 0 0 8pt; }
h2 { font-size: 11pt; margin: 10pt 0 4pt; page-break-after: avoid; }
table { border-collapse: collapse; width: 100%; page-break-inside: avoid; }
th, td { border: 1px solid #bbb; padding: 3pt 5pt; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.ours { background: #e8f5e9; }
td.theirs { background: #fdecea; }
"""


def to_html(
    rows: Sequence[MatrixRow],
    *,
    title: str = "竞品对比 / Competitor comparison",
    lang: Literal["zh", "en"] = "zh",
    subtitle: str = "",
) -> str:
    """A self-contained one-page HTML sheet of ``rows``, grouped by competitor (all text
    escaped). ``lang`` chooses the column headings; the content is shown as written."""
    heads = (
        ("产品", "评估项", "我方", "对方", "优势", "说明")
        if lang == "zh"
        else ("Product", "Criterion", "Ours", "Theirs", "Advantage", "Note")
    )
    e = html.escape
    parts = [
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="meta">{e(subtitle)}</p>')
    if not rows:
        parts.append("<p>没有相关对比条目。</p>" if lang == "zh" else "<p>No comparison rows.</p>")
    by_competitor: dict[str, list[MatrixRow]] = {}
    for row in rows:
        by_competitor.setdefault(row.competitor, []).append(row)
    for competitor, group in by_competitor.items():
        parts.append(f"<h2>{e(competitor)}</h2><table><thead><tr>")
        parts.extend(f"<th>{h}</th>" for h in heads)
        parts.append("</tr></thead><tbody>")
        for row in group:
            label = _ADVANTAGE_LABEL[row.advantage][0 if lang == "zh" else 1]
            css = f' class="{row.advantage}"' if row.advantage in ("ours", "theirs") else ""
            parts.append(
                f"<tr><td>{e(row.product)}</td><td>{e(row.criterion)}</td><td{css if row.advantage == 'ours' else ''}>"
                f"{e(row.ours)}</td><td{css if row.advantage == 'theirs' else ''}>{e(row.theirs)}</td>"
                f"<td>{e(label)}</td><td>{e(row.note)}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "".join(parts)
