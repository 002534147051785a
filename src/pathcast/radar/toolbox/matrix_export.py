"""Server-side exports of competitor-matrix rows: a one-page PDF, a PNG image and an SVG.

Pure (no database, no network). ``to_pdf`` draws one landscape A4 page with reportlab and
its built-in CID font ``STSong-Light``, so Chinese needs no font file; the table shrinks
its font and wraps cells to fit, and when even the smallest size cannot hold every row the
page says how many rows are left out ("N more rows in the CSV export") instead of spilling
onto a second page. ``to_png`` draws with Pillow and needs a font with CJK glyphs when
any text is Chinese (:func:`find_cjk_font`); without one it raises :class:`NoCJKFont`,
whose message says how to fix it. ``to_svg`` leaves fonts to the viewer, so it always
works: the image fallback.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, Table, TableStyle

from pathcast.errors import PathcastError
from pathcast.radar.toolbox.matrix import MatrixRow, to_csv, to_html

__all__ = [
    "FORMATS",
    "NoCJKFont",
    "Rendered",
    "find_cjk_font",
    "has_cjk",
    "render",
    "to_pdf",
    "to_png",
    "to_svg",
]

Lang = Literal["zh", "en"]
CJK_ENV = "PATHCAST_CJK_FONT"
WELL_KNOWN_CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
PDF_FONT = "STSong-Light"
# Largest to smallest: below 5 pt a printed page is no longer readable.
PDF_FONT_SIZES = (9.0, 8.0, 7.0, 6.0, 5.0)
PDF_MARGIN = 12 * mm
# Ranges of CJK ideographs, kana, hangul and CJK punctuation / full-width forms.
_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")

_HEADINGS = {
    "zh": ("竞品", "产品", "维度", "我方", "对方", "优势", "备注"),
    "en": ("Competitor", "Product", "Criterion", "Ours", "Theirs", "Advantage", "Note"),
}
_ADVANTAGE = {
    "zh": {"ours": "我方占优", "theirs": "对方占优", "even": "持平", "": ""},
    "en": {"ours": "ours", "theirs": "theirs", "even": "even", "": ""},
}
_EMPTY = {"zh": "没有相关对比条目。", "en": "No comparison rows."}
_MORE = {
    "zh": "另有 {count} 行未能放入本页，请查看 CSV 导出。",
    "en": "{count} more rows in the CSV export.",
}
# Share of the table width per column (competitor, product, criterion, ours, theirs,
# advantage, note): the free-text columns get the room.
_WEIGHTS = (0.10, 0.12, 0.12, 0.20, 0.20, 0.08, 0.18)
_TINT = {"ours": "#e8f5e9", "theirs": "#fdecea"}


class NoCJKFont(PathcastError):
    """The rows hold Chinese (or other CJK) text and no font with those glyphs was found.

    A service error (503: the server lacks a font, the request is fine), so the API answers
    with a problem whose detail says how to fix it; ``str()`` is that advice in zh and en.
    """

    status = 503
    code = "radar_matrix_no_cjk_font"

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.code, env=CJK_ENV, package="fonts-wqy-microhei")
        message = (
            "No font with Chinese glyphs was found for the PNG export. Install one "
            "(Debian/Ubuntu: apt-get install fonts-wqy-microhei) or set "
            f"{CJK_ENV}=/path/to/a/CJK/font.ttc; the SVG and PDF exports work without it. / "
            "PNG 导出找不到含中文字形的字体：请安装 fonts-wqy-microhei，或设置 "
            f"{CJK_ENV} 指向中文字体文件；SVG 和 PDF 导出不受影响。"
        )
        self.args = (f"{message} {detail}".strip(),)

    def __str__(self) -> str:
        return str(self.args[0])


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK character (which Pillow's default font cannot draw)."""
    return _CJK.search(text) is not None


def _columns(rows: Sequence[MatrixRow]) -> list[int]:
    """Indexes of the columns to show: the competitor column only when rows mix competitors."""
    mixed = len({row.competitor for row in rows}) > 1
    return list(range(7)) if mixed else list(range(1, 7))


def _cells(row: MatrixRow, lang: Lang) -> tuple[str, ...]:
    return (
        row.competitor,
        row.product,
        row.criterion,
        row.ours,
        row.theirs,
        _ADVANTAGE[lang].get(row.advantage, row.advantage),
        row.note,
    )


def _headings(rows: Sequence[MatrixRow], lang: Lang) -> tuple[str, ...]:
    heads = list(_HEADINGS[lang])
    competitors = list(dict.fromkeys(row.competitor for row in rows))
    if len(competitors) == 1:
        # One competitor: name it in the "theirs" heading instead of a repeated column.
        heads[4] = f"{heads[4]}（{competitors[0]}）" if lang == "zh" else f"{heads[4]} ({competitors[0]})"
    return tuple(heads)


def _all_text(rows: Sequence[MatrixRow], title: str, subtitle: str, lang: Lang) -> str:
    parts = [title, subtitle, *_headings(rows, lang), _EMPTY[lang], _MORE[lang]]
    for row in rows:
        parts.extend(_cells(row, lang))
    return "\n".join(parts)


# --- PDF ------------------------------------------------------------------------------------


def _register_pdf_font() -> None:
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))


def _pdf_table(rows: Sequence[MatrixRow], lang: Lang, size: float, width: float) -> Table:
    columns = _columns(rows)
    share = sum(_WEIGHTS[i] for i in columns)
    widths = [width * _WEIGHTS[i] / share for i in columns]
    # CJK word wrap breaks between any two characters, which Chinese needs; Latin words
    # still break at spaces.
    style = ParagraphStyle("cell", fontName=PDF_FONT, fontSize=size, leading=size * 1.2, wordWrap="CJK")
    head = ParagraphStyle("head", parent=style, textColor=colors.black)
    heads = _headings(rows, lang)
    data: list[list[Paragraph]] = [[Paragraph(escape(heads[i]), head) for i in columns]]
    commands: list[tuple[object, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#bbbbbb")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    for number, row in enumerate(rows, start=1):
        cells = _cells(row, lang)
        data.append([Paragraph(escape(cells[i]).replace("\n", "<br/>"), style) for i in columns])
        tint = _TINT.get(row.advantage)
        if tint is not None:
            column = columns.index(3 if row.advantage == "ours" else 4)
            commands.append(("BACKGROUND", (column, number), (column, number), colors.HexColor(tint)))
    table = Table(data, colWidths=widths, repeatRows=0)
    table.setStyle(TableStyle(commands))
    return table


def _fits(rows: Sequence[MatrixRow], lang: Lang, size: float, width: float, height: float) -> bool:
    _w, needed = _pdf_table(rows, lang, size, width).wrap(width, height)
    return bool(needed <= height)


def to_pdf(rows: Sequence[MatrixRow], *, title: str, lang: Lang = "zh", subtitle: str = "") -> bytes:
    """One landscape A4 page: title, subtitle and the rows as a table (advantage tinted).

    The font shrinks from 9 pt to 5 pt until the table fits; if it still does not, the
    rows that fit are drawn and a footer says how many more are in the CSV export.
    """
    _register_pdf_font()
    page_width, page_height = landscape(A4)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=(page_width, page_height))
    pdf.setTitle(title)
    pdf.setSubject(subtitle or title)
    pdf.setCreator("Pathcast")
    width = page_width - 2 * PDF_MARGIN
    top = page_height - PDF_MARGIN
    pdf.setFont(PDF_FONT, 14)
    pdf.drawString(PDF_MARGIN, top - 14, title)
    top -= 20
    if subtitle:
        pdf.setFont(PDF_FONT, 9)
        pdf.setFillColor(colors.HexColor("#555555"))
        pdf.drawString(PDF_MARGIN, top - 9, subtitle)
        pdf.setFillColor(colors.black)
        top -= 14
    footer_room = 14.0
    height = top - PDF_MARGIN - footer_room
    if not rows:
        pdf.setFont(PDF_FONT, 10)
        pdf.drawString(PDF_MARGIN, top - 14, _EMPTY[lang])
    else:
        size = next((s for s in PDF_FONT_SIZES if _fits(rows, lang, s, width, height)), None)
        shown: Sequence[MatrixRow] = rows
        if size is None:
            size = PDF_FONT_SIZES[-1]
            # The most rows that fit at the smallest size (fitting is monotonic in rows).
            low, high = 0, len(rows)
            while low < high:
                middle = (low + high + 1) // 2
                if _fits(rows[:middle], lang, size, width, height):
                    low = middle
                else:
                    high = middle - 1
            shown = rows[:low]
        if shown:
            table = _pdf_table(shown, lang, size, width)
            _w, needed = table.wrap(width, height)
            table.drawOn(pdf, PDF_MARGIN, top - needed)
        left = len(rows) - len(shown)
        if left:
            pdf.setFont(PDF_FONT, 9)
            pdf.setFillColor(colors.HexColor("#b00020"))
            pdf.drawString(PDF_MARGIN, PDF_MARGIN, _MORE[lang].format(count=left))
    pdf.showPage()
    pdf.save()
    return out.getvalue()


# --- fonts for the PNG ------------------------------------------------------------------------

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _draws_cjk(path: str) -> bool:
    """Whether the font file has a real glyph for 中 (not the missing-glyph box)."""
    try:
        font = ImageFont.truetype(path, 24)
        probe = font.getmask("中")
        missing = font.getmask("\U0010fffd")
    except OSError:
        return False
    return bool(probe.size != missing.size or bytes(probe) != bytes(missing))


def _fc_match() -> str | None:
    try:
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=zh"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = found.stdout.strip()
    return path or None


def find_cjk_font(font_path: str | None = None) -> str | None:
    """A font file that draws Chinese: ``font_path`` if given (and it does), else
    ``$PATHCAST_CJK_FONT``, fontconfig's match for ``:lang=zh``, then well-known paths."""
    if font_path is not None:
        return font_path if _draws_cjk(font_path) else None
    candidates = [os.environ.get(CJK_ENV, "").strip(), _fc_match() or "", *WELL_KNOWN_CJK_FONTS]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and _draws_cjk(candidate):
            return candidate
    return None


# --- PNG --------------------------------------------------------------------------------------

PNG_WIDTH = 1600
PNG_MARGIN = 32
PNG_PAD = 8


class _Measurer(Protocol):
    def getlength(self, text: str) -> float: ...


def _wrap(text: str, width: float, measure: _Measurer) -> list[str]:
    """Lines of ``text`` no wider than ``width``: breaks at spaces, or between any two
    characters when a word (or Chinese, which has no spaces) is too long."""
    lines: list[str] = []
    for paragraph in text.split("\n") or [""]:
        line = ""
        for token in re.findall(r"\S+\s*|\s+", paragraph) or [""]:
            if measure.getlength(line + token) <= width:
                line += token
                continue
            if line:
                lines.append(line.rstrip())
                line = ""
            for char in token:
                if line and measure.getlength(line + char) > width:
                    lines.append(line.rstrip())
                    line = ""
                line += char
        lines.append(line.rstrip())
    return lines


@dataclass(frozen=True)
class _Box:
    """One table cell placed on the image: where, its fill and its wrapped lines."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    lines: list[str]
    head: bool


def _layout(
    rows: Sequence[MatrixRow], lang: Lang, measure: _Measurer, *, top: float, line_height: float
) -> tuple[list[_Box], float]:
    """The heading row and the rows as cells, wrapped to their column widths; and the
    bottom of the table. Shared by the PNG and the SVG so both look the same."""
    columns = _columns(rows)
    share = sum(_WEIGHTS[i] for i in columns)
    widths = [(PNG_WIDTH - 2 * PNG_MARGIN) * _WEIGHTS[i] / share for i in columns]
    table = [(_headings(rows, lang), "head")] + [(_cells(row, lang), str(row.advantage)) for row in rows]
    boxes: list[_Box] = []
    y = top
    for texts, kind in table:
        wrapped = [_wrap(texts[i], w - 2 * PNG_PAD, measure) for i, w in zip(columns, widths, strict=True)]
        height = max(len(lines) for lines in wrapped) * line_height + 2 * PNG_PAD
        x = float(PNG_MARGIN)
        for column, lines, width in zip(columns, wrapped, widths, strict=True):
            fill = "#f0f0f0" if kind == "head" else "white"
            if kind in _TINT and column == (3 if kind == "ours" else 4):
                fill = _TINT[kind]
            boxes.append(_Box(x, y, width, height, fill, lines, kind == "head"))
            x += width
        y += height
    return boxes, y


def to_png(
    rows: Sequence[MatrixRow],
    *,
    title: str,
    lang: Lang = "zh",
    subtitle: str = "",
    font_path: str | None = None,
) -> bytes:
    """The rows as a PNG table (1600 px wide, as tall as needed).

    Needs a CJK font when any text is CJK (:func:`find_cjk_font`), else raises
    :class:`NoCJKFont`; English-only rows use Pillow's default font.
    """
    text = _all_text(rows, title, subtitle, lang)
    needs_cjk = has_cjk(text)
    path = find_cjk_font(font_path) if (needs_cjk or font_path) else None
    if needs_cjk and path is None:
        raise NoCJKFont(f"(font_path={font_path})" if font_path else "")

    def font(size: int) -> FontType:
        return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)

    body, title_font = font(18), font(28)
    top = PNG_MARGIN + 40 + (30 if subtitle else 0)
    boxes, bottom = _layout(rows, lang, body, top=top, line_height=24)
    image = Image.new("RGB", (PNG_WIDTH, round(bottom) + (40 if not rows else 0) + PNG_MARGIN), "white")
    draw = ImageDraw.Draw(image)
    draw.text((PNG_MARGIN, PNG_MARGIN), title, fill="black", font=title_font)
    if subtitle:
        draw.text((PNG_MARGIN, PNG_MARGIN + 40), subtitle, fill="#555555", font=body)
    if not rows:
        draw.text((PNG_MARGIN, top), _EMPTY[lang], fill="black", font=body)
    for box in boxes:
        x, y = round(box.x), round(box.y)
        draw.rectangle(
            (x, y, round(box.x + box.width), round(box.y + box.height)), fill=box.fill, outline="#bbbbbb"
        )
        for number, line in enumerate(box.lines):
            draw.text((x + PNG_PAD, y + PNG_PAD + number * 24), line, fill="black", font=body)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- SVG --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Measure:
    """A width estimate without a font: CJK characters 1 em, others about 0.55 em."""

    size: float

    def getlength(self, text: str) -> float:
        return sum(self.size if has_cjk(char) else self.size * 0.55 for char in text)


# Characters XML 1.0 forbids even escaped: dropped so the SVG always parses.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def _attr(value: str) -> str:
    return escape(_NOT_XML.sub("", value), {'"': "&quot;"})


def to_svg(rows: Sequence[MatrixRow], *, title: str, lang: Lang = "zh", subtitle: str = "") -> str:
    """The rows as an SVG table of ``<text>`` elements; the viewer picks the font, so this
    export works on any server (the image fallback when PNG has no CJK font)."""
    size, line_height = 14.0, 18.0
    top = PNG_MARGIN + 36 + (26 if subtitle else 0)
    boxes, bottom = _layout(rows, lang, _Measure(size), top=top, line_height=line_height)
    total = bottom + (30 if not rows else 0) + PNG_MARGIN
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{PNG_WIDTH}" height="{total:.0f}" '
        f'viewBox="0 0 {PNG_WIDTH} {total:.0f}" font-family="&quot;Noto Sans CJK SC&quot;, '
        f'&quot;PingFang SC&quot;, &quot;Microsoft YaHei&quot;, sans-serif" font-size="{size:.0f}">',
        f"<title>{_xml(title)}</title>",
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{PNG_MARGIN}" y="{PNG_MARGIN + 22}" font-size="24">{_xml(title)}</text>',
    ]
    if subtitle:
        parts.append(f'<text x="{PNG_MARGIN}" y="{PNG_MARGIN + 52}" fill="#555555">{_xml(subtitle)}</text>')
    if not rows:
        parts.append(f'<text x="{PNG_MARGIN}" y="{top + 20}">{_xml(_EMPTY[lang])}</text>')
    for box in boxes:
        parts.append(
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
            f'fill="{_attr(box.fill)}" stroke="#bbbbbb"/>'
        )
        weight = ' font-weight="bold"' if box.head else ""
        for number, line in enumerate(box.lines):
            if line:
                baseline = box.y + PNG_PAD + (number + 1) * line_height - 4
                parts.append(
                    f'<text x="{box.x + PNG_PAD:.1f}" y="{baseline:.1f}"{weight} xml:space="preserve">{_xml(line)}</text>'
                )
    parts.append("</svg>\n")
    return "".join(parts)


# --- one entry point for the routes ---------------------------------------------------------------

FORMATS = ("pdf", "png", "svg", "csv", "html")
_MEDIA = {
    "pdf": "application/pdf",
    "png": "image/png",
    "svg": "image/svg+xml",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class Rendered:
    """An export ready to send: its bytes, media type and a file name."""

    content: bytes
    media_type: str
    filename: str


def render(
    rows: Sequence[MatrixRow],
    fmt: str,
    *,
    title: str,
    lang: Lang = "zh",
    subtitle: str = "",
    stem: str = "competitor-matrix",
) -> Rendered:
    """The rows in one of :data:`FORMATS` (``NoCJKFont`` for a PNG without a CJK font)."""
    if fmt == "pdf":
        content = to_pdf(rows, title=title, lang=lang, subtitle=subtitle)
    elif fmt == "png":
        content = to_png(rows, title=title, lang=lang, subtitle=subtitle)
    elif fmt == "svg":
        content = to_svg(rows, title=title, lang=lang, subtitle=subtitle).encode("utf-8")
    elif fmt == "html":
        content = to_html(rows, title=title, lang=lang, subtitle=subtitle).encode("utf-8")
    elif fmt == "csv":
        # A BOM so Excel opens the UTF-8 file with its Chinese intact.
        content = ("\ufeff" + to_csv(rows)).encode("utf-8")
    else:
        raise ValueError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    return Rendered(content, _MEDIA[fmt], f"{stem}.{fmt}")
