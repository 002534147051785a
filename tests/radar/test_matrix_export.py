"""Competitor-matrix exports (pure): the one-page PDF, the PNG and its font handling, the
SVG fallback, and CSV formula neutralising through the shared ``render`` entry point."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfReader

from pathcast.radar.toolbox import matrix_export as export
from pathcast.radar.toolbox.matrix import MatrixRow

ZH = [
    MatrixRow(
        "西门子",
        "PLC 控制器",
        "通讯协议",
        "Modbus TCP、Profinet、OPC UA",
        "Profinet 为主",
        "开放协议",
        "ours",
    ),
    MatrixRow("西门子", "PLC 控制器", "交付周期", "2 周", "6–10 周", "", "ours"),
    MatrixRow("西门子", "伺服", "口碑", "案例 200 家", "装机量最大", "", "theirs"),
]
EN = [
    MatrixRow("Siemens", "PLC Gateway", "Protocols", "Modbus, Profinet, OPC UA", "Profinet", "", "ours"),
    MatrixRow("Siemens", "PLC Gateway", "Lead time", "2 weeks", "6-10 weeks", "stock", "even"),
]
LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _many(count: int) -> list[MatrixRow]:
    long = "支持 Modbus TCP/RTU、Profinet IO 和 OPC UA，省会城市 4 小时到场服务，三年质保。" * 2
    return [
        MatrixRow("西门子" if i % 2 else "汇川技术", f"产品 {i}", f"维度 {i}", long, long, long, "ours")
        for i in range(count)
    ]


def _pdf(data: bytes) -> PdfReader:
    assert data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(data))


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_is_one_page_with_the_title_and_rows() -> None:
    reader = _pdf(export.to_pdf(ZH, title="竞品对比 · 西门子", subtitle="2026-11-26"))
    assert len(reader.pages) == 1
    assert reader.metadata is not None and reader.metadata.title == "竞品对比 · 西门子"
    text = reader.pages[0].extract_text()
    assert "竞品对比" in text and "通讯协议" in text and "我方占优" in text
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert width > height  # landscape


def test_pdf_stays_on_one_page_with_80_long_rows_and_says_what_it_left_out() -> None:
    reader = _pdf(export.to_pdf(_many(80), title="Competitor comparison", lang="en"))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "more rows in the CSV export" in text
    # a short table shrinks instead of cutting
    small = _pdf(export.to_pdf(_many(12), title="t", lang="en")).pages[0].extract_text()
    assert "more rows" not in small and "产品 11" in small


def test_pdf_escapes_markup_and_handles_no_rows() -> None:
    rows = [MatrixRow("A", "<b>x</b> & y", "c", "<script>", "1 < 2", "", "")]
    text = _pdf(export.to_pdf(rows, title="T <&>", lang="en")).pages[0].extract_text()
    assert "<b>x</b> & y" in text and "1 < 2" in text
    empty = _pdf(export.to_pdf([], title="Empty", lang="en"))
    assert len(empty.pages) == 1 and "No comparison rows" in empty.pages[0].extract_text()


# --- PNG --------------------------------------------------------------------------------------


def test_png_of_english_rows_needs_no_cjk_font() -> None:
    data = export.to_png(EN, title="Competitor comparison", lang="en", font_path=None)
    image = Image.open(io.BytesIO(data))
    image.verify()
    assert image.format == "PNG" and image.size[0] == export.PNG_WIDTH


def test_png_with_chinese_and_a_latin_only_font_says_how_to_fix_it() -> None:
    if not LATIN_FONT.is_file():
        pytest.skip("DejaVuSans is not installed (fonts-dejavu-core)")
    with pytest.raises(export.NoCJKFont) as raised:
        export.to_png(ZH, title="竞品对比", font_path=str(LATIN_FONT))
    message = str(raised.value)
    assert "fonts-wqy-microhei" in message and "PATHCAST_CJK_FONT" in message
    assert raised.value.status == 503


def test_png_searches_no_further_than_missing_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(export.CJK_ENV, "/nonexistent/font.ttc")
    monkeypatch.setattr(export, "_fc_match", lambda: None)
    monkeypatch.setattr(export, "WELL_KNOWN_CJK_FONTS", ())
    assert export.find_cjk_font() is None
    with pytest.raises(export.NoCJKFont):
        export.to_png(ZH, title="竞品对比")
    # English still renders with Pillow's default font
    assert export.to_png(EN, title="Comparison", lang="en").startswith(b"\x89PNG")


def _cjk_font() -> str | None:
    if shutil.which("fc-list") is None:
        return None
    found = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, check=False)
    return found.stdout.split(":")[0].strip() or None


def test_png_of_chinese_rows_with_a_cjk_font() -> None:
    font = _cjk_font()
    if font is None:
        pytest.skip(
            "no CJK font installed (apt-get install fonts-wqy-microhei); the error path is tested above"
        )
    data = export.to_png(ZH, title="竞品对比", subtitle="西门子", font_path=font)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size[1] > 100


# --- SVG and CSV ------------------------------------------------------------------------------


def test_svg_is_well_formed_and_escapes_markup() -> None:
    rows = [*ZH, MatrixRow("A&B", "<svg onload=x>", "c\x00d", 'say "hi" & <go>', "", "", "theirs")]
    svg = export.to_svg(rows, title="对比 <&>", subtitle="a & b")
    root = SafeET.fromstring(svg.encode("utf-8"))
    assert root.tag.endswith("svg")
    assert "<svg onload" not in svg and "&lt;svg onload=x&gt;" in svg
    texts = "".join(node.text or "" for node in root.iter() if node.tag.endswith("text"))
    assert "对比 <&>" in texts and "通讯协议" in texts


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=40), st.text(max_size=60)), max_size=6), st.text(max_size=30))
def test_svg_always_parses(cells: list[tuple[str, str]], title: str) -> None:
    rows = [MatrixRow("c", product or "p", "k", ours, ours, product, "") for product, ours in cells]
    SafeET.fromstring(export.to_svg(rows, title=title).encode("utf-8"))


def test_csv_export_neutralises_formulas_and_has_a_bom() -> None:
    rows = [MatrixRow("=cmd|' /C calc'!A0", "+SUM(1)", "@x", "-2", "-rm", "", "")]
    rendered = export.render(rows, "csv", title="t")
    text = rendered.content.decode("utf-8")
    assert text.startswith("\ufeffcompetitor,product")
    assert "'=cmd" in text and "'+SUM" in text and "'@x" in text and ",-2," in text and "'-rm" in text
    assert rendered.media_type.startswith("text/csv") and rendered.filename == "competitor-matrix.csv"


def test_render_knows_each_format() -> None:
    assert export.render(EN, "pdf", title="t", lang="en").content.startswith(b"%PDF")
    assert export.render(EN, "png", title="t", lang="en").content.startswith(b"\x89PNG")
    assert b"<svg" in export.render(EN, "svg", title="t", lang="en").content
    assert b"<table>" in export.render(EN, "html", title="t", lang="en").content
    with pytest.raises(ValueError, match="unknown export format"):
        export.render(EN, "docx", title="t")
