"""The radar response toolbox: BM25 retrieval (zh and en), cited FAQ drafts, case matching
with reasons, the competitor matrix and its exports, and a property test that a search
never raises on any query."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathcast.errors import InvalidInput
from pathcast.radar.toolbox import (
    BM25Index,
    CaseQuery,
    CaseRecord,
    CompetitorMatrix,
    Passage,
    build_knowledge_base,
    draft_answer,
    load_passages,
    match_cases,
    snippet,
    to_csv,
    to_html,
)
from pathcast.radar.toolbox.faq import DRAFT_MARK_EN, DRAFT_MARK_ZH

KB_RECORDS = [
    {
        "id": "qa-plc",
        "kind": "qa",
        "source": "FAQ",
        "question": "你们的系统支持哪些PLC通讯协议？",
        "answer": "支持 Modbus TCP、Profinet 和 OPC UA，西门子和三菱PLC均已验证兼容性。",
    },
    {
        "id": "qa-price",
        "kind": "qa",
        "source": "FAQ",
        "question": "价格怎么计算？",
        "answer": "按设备数量和年度服务订阅计价，批量采购有折扣。",
    },
    {
        "id": "doc-manual",
        "kind": "document",
        "source": "DSA-3000 用户手册 第4章",
        "text": "设备安装后需要进行现场调试，调试周期一般为两周。产线停机期间请联系售后工程师。",
    },
    {
        "id": "doc-compat",
        "kind": "document",
        "source": "兼容性白皮书",
        "text": "本白皮书说明与主流PLC的通讯协议兼容性测试结果，包括Profinet与Modbus的延迟数据。",
    },
    {
        "id": "reply-812",
        "kind": "reply",
        "source": "reply #812",
        "text": "您好，交付延迟的原因是海关清关，我们已安排加急，预计下周三到货。",
    },
    {
        "id": "en-qa-sso",
        "kind": "qa",
        "source": "FAQ (en)",
        "question": "Does the portal support single sign-on with Azure AD?",
        "answer": "Yes. SAML 2.0 and OpenID Connect are supported; Azure AD and Okta are tested.",
    },
    {
        "id": "en-doc-warranty",
        "kind": "document",
        "source": "Service terms §3",
        "text": "The warranty covers parts and labour for 24 months from acceptance. Calibration visits are annual.",
    },
    {
        "id": "en-doc-delivery",
        "kind": "document",
        "source": "Logistics guide",
        "text": "Standard delivery takes six weeks; expedited delivery is available for spare parts.",
    },
]


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return build_knowledge_base(KB_RECORDS)


# --- BM25 -------------------------------------------------------------------------------------


def test_bm25_ranks_the_passage_with_the_rare_chinese_terms_first(index: BM25Index) -> None:
    hits = index.search("PLC通讯协议兼容性有问题吗", top=3)
    assert hits[0].passage.id in {"qa-plc", "doc-compat"}
    assert {h.passage.id for h in hits[:2]} == {"qa-plc", "doc-compat"}
    assert "plc" in hits[0].matched and "兼容性" in hits[0].matched
    assert hits[0].score >= hits[1].score >= hits[-1].score > 0


def test_bm25_ranks_the_passage_with_the_rare_english_terms_first(index: BM25Index) -> None:
    hits = index.search("how long is the warranty on calibration?", top=5)
    assert hits[0].passage.id == "en-doc-warranty"
    assert set(hits[0].matched) >= {"warranty", "calibration"}


def test_bm25_rare_term_beats_a_common_one() -> None:
    """'the' is in every passage, 'gearbox' in one: the one with 'gearbox' wins even though
    another repeats 'the' many times."""
    passages = [
        Passage("a", "the the the the the motor and the drive and the cable", "s"),
        Passage("b", "the gearbox", "s"),
        Passage("c", "the cable", "s"),
    ]
    hits = BM25Index.build(passages).search("the gearbox", top=3)
    assert hits[0].passage.id == "b"


def test_bm25_filters_by_kind_and_handles_empty_and_unknown_queries(index: BM25Index) -> None:
    assert all(h.passage.kind == "reply" for h in index.search("交付延迟", kinds=["reply"]))
    assert index.search("交付延迟", kinds=["reply"])[0].passage.id == "reply-812"
    assert index.search("") == []
    assert index.search("？！…") == []
    assert index.search("zzzqqq") == []
    assert index.search("PLC", top=0) == []
    assert BM25Index.build([]).search("PLC") == []


def test_bm25_refuses_duplicate_ids_and_names_the_row() -> None:
    with pytest.raises(ValueError, match=r"passage 1: id 'x'"):
        BM25Index.build([Passage("x", "a", "s"), Passage("x", "b", "s")])


def test_snippet_shows_the_matched_term() -> None:
    text = "开头的内容。" * 40 + "这里提到了通讯协议兼容性。" + "结尾。" * 40
    piece = snippet(text, ["通讯协议"], width=60)
    assert "通讯协议" in piece and piece.startswith("…") and piece.endswith("…")
    assert snippet("short text", ["x"]) == "short text"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=300), top=st.integers(min_value=-3, max_value=20))
def test_bm25_never_raises_on_any_query(index: BM25Index, query: str, top: int) -> None:
    hits = index.search(query, top=top)
    assert len(hits) <= max(top, 0)
    assert all(h.score > 0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# --- FAQ drafts -------------------------------------------------------------------------------


def test_draft_cites_the_passages_it_used_and_is_marked_a_draft(index: BM25Index) -> None:
    draft = draft_answer("请问支持哪些PLC通讯协议，兼容性如何？", index, top=3)
    assert draft.status == "draft" and draft.text_zh.startswith(DRAFT_MARK_ZH)
    assert draft.text_en is None  # a Chinese question
    ids = [c.id for c in draft.citations]
    assert ids[0] == "qa-plc" and "doc-compat" in ids and len(ids) <= 3
    # the Q&A answer leads, marked [1]; every citation is numbered and its source named
    assert "Modbus TCP" in draft.text_zh and "[1]" in draft.text_zh
    for number, citation in enumerate(draft.citations, 1):
        assert f"[{number}] {citation.source}" in draft.text_zh
        assert citation.snippet and citation.score > 0
    assert set(draft.citations[0].as_dict()) == {"id", "source", "snippet", "score", "kind"}
    assert 0.5 < draft.confidence <= 1.0


def test_english_question_gets_an_english_draft(index: BM25Index) -> None:
    draft = draft_answer("Do you support single sign-on with Okta?", index)
    assert draft.text_en is not None and draft.text_en.startswith(DRAFT_MARK_EN)
    assert draft.citations[0].id == "en-qa-sso"
    assert "OpenID Connect" in draft.text_en and "Sources: [1] FAQ (en)" in draft.text_en


def test_draft_leaves_out_passages_that_share_only_incidental_words(index: BM25Index) -> None:
    draft = draft_answer("what is the delivery time for spare parts", index)
    ids = [c.id for c in draft.citations]
    assert ids[0] == "en-doc-delivery" and "en-qa-sso" not in ids  # shares only "the"
    assert draft.text_en is not None and "These sources may help:" in draft.text_en
    assert draft.confidence < 0.8  # no Q&A answer: lower than a curated answer would give


def test_draft_without_a_match_says_so_and_cites_nothing(index: BM25Index) -> None:
    draft = draft_answer("量子纠缠", index)
    assert draft.citations == [] and draft.confidence == 0.0
    assert "人工撰写" in draft.text_zh
    assert draft.as_dict()["status"] == "draft"


def test_knowledge_base_records_are_checked_field_by_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_passages(
            [
                {"id": "1", "kind": "qa", "source": "FAQ", "question": "q"},
                {"id": "2", "kind": "memo", "source": "x", "text": "t"},
                {"id": "3", "source": "", "text": "t"},
                {"id": "4", "source": "s", "text": "ok"},
                {"id": "4", "source": "s", "text": "again"},
            ]
        )
    found = {(e.row, e.field, e.code) for e in caught.value.errors}
    assert found == {
        (0, "answer", "invalid"),
        (1, "kind", "invalid"),
        (2, "source", "invalid"),
        (4, "id", "duplicate"),
    }


# --- case matching ----------------------------------------------------------------------------

CASES = [
    CaseRecord(
        "won-1",
        "恒泰精密 产线PLC改造",
        industry="制造业",
        products=("MES Pro", "PLC Gateway"),
        amount=1_200_000,
        text="产线PLC通讯协议不兼容，交付延迟导致停机，改造后稳定运行",
    ),
    CaseRecord(
        "won-2",
        "华信咨询 知识库",
        industry="咨询",
        products=("Knowledge Base",),
        amount=300_000,
        text="顾问团队需要检索历史方案",
    ),
    CaseRecord(
        "won-3",
        "Apex Manufacturing MES rollout",
        industry="Manufacturing",
        products=("MES Pro",),
        amount=900_000,
        text="Shop floor data collection and scheduling",
        kind="case_study",
    ),
    CaseRecord(
        "won-4",
        "城市医院 影像系统",
        industry="医疗",
        products=("PLC Gateway",),
        amount=5_000_000,
        text="设备联网",
    ),
]


def test_case_matching_prefers_same_industry_and_product_and_says_why() -> None:
    query = CaseQuery(
        industry="manufacturing",
        products=["MES Pro", "PLC Gateway"],
        amount=1_000_000,
        text="客户反馈PLC通讯协议兼容性问题，交付延迟",
    )
    matches = match_cases(query, CASES, top=3)
    assert [m.case.id for m in matches][:2] == ["won-1", "won-3"]
    best = matches[0]
    assert best.parts["industry"] == 1.0 and best.parts["products"] == 1.0
    text = " | ".join(r["en"] for r in best.reasons)
    assert "same industry" in text and "MES Pro" in text and "PLC Gateway" in text
    assert "similar size" in text and "similar problem" in text
    assert any("同行业" in r["zh"] for r in best.reasons)
    assert any("交付延迟" in r["zh"] or "plc" in r["zh"] for r in best.reasons)
    assert matches[0].score > matches[1].score > 0


def test_case_matching_leaves_out_what_the_query_does_not_say() -> None:
    matches = match_cases(CaseQuery(products=["Knowledge Base"]), CASES)
    assert [m.case.id for m in matches] == ["won-2"]
    assert set(matches[0].parts) == {"products"} and matches[0].score == 1.0
    assert match_cases(CaseQuery(), CASES) == []
    assert match_cases(CaseQuery(text="！？"), CASES) == []


# --- competitor matrix ------------------------------------------------------------------------


@pytest.fixture
def matrix() -> CompetitorMatrix:
    m = CompetitorMatrix()
    m.set("Siemens", "MES Pro", "交付周期", ours="4 周", theirs="10 周", advantage="ours", note="现货")
    m.set("Siemens", "MES Pro", "价格", ours="¥80万", theirs="¥95万", advantage="ours")
    m.set("Siemens", "PLC Gateway", "协议数", ours="6", theirs="9", advantage="theirs")
    m.set("ABB", "MES Pro", "本地服务", ours="24 小时到场", theirs="72 小时", advantage="ours")
    m.alias("Siemens", "西门子")
    return m


def test_matrix_rows_for_competitors_aliases_and_products(matrix: CompetitorMatrix) -> None:
    assert len(matrix.rows_for(["西门子"])) == 3
    assert [r.criterion for r in matrix.rows_for(["SIEMENS"], products=["mes pro"])] == ["交付周期", "价格"]
    assert [r.competitor for r in matrix.rows_for(["abb", "Siemens"])] == ["ABB"] + ["Siemens"] * 3
    assert matrix.rows_for(["Unknown"]) == []
    matrix.set("siemens", "mes pro", "价格", ours="¥75万", theirs="¥95万")
    assert len(matrix.rows) == 4  # replaced, not added
    assert matrix.remove("Siemens", "MES Pro", "价格") and not matrix.remove("Siemens", "MES Pro", "价格")


def test_matrix_exports_contain_the_rows(matrix: CompetitorMatrix) -> None:
    rows = matrix.rows_for(["Siemens"])
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [(r["product"], r["criterion"], r["ours"], r["theirs"]) for r in parsed] == [
        (r.product, r.criterion, r.ours, r.theirs) for r in rows
    ]
    page = to_html(rows, lang="zh", subtitle="信号 #42")
    assert (
        page.count("<tr><td>") == 3 and "10 周" in page and "<h2>Siemens</h2>" in page and "ABB" not in page
    )
    assert "@page" in page and "我方占优" in page
    assert "Theirs" in to_html(rows, lang="en")


def test_matrix_export_escapes_html_and_defuses_formulas() -> None:
    m = CompetitorMatrix()
    row = m.set("<script>x</script>", "P", "C", ours="=HYPERLINK(1)", theirs="-5", note="-bad")
    assert "<script>x" not in to_html([row]) and "&lt;script&gt;" in to_html([row])
    cells = next(iter(csv.DictReader(io.StringIO(to_csv([row])))))
    assert cells["ours"] == "'=HYPERLINK(1)" and cells["theirs"] == "-5" and cells["note"] == "'-bad"


def test_matrix_records_are_checked_row_by_row() -> None:
    with pytest.raises(InvalidInput) as caught:
        CompetitorMatrix.from_records(
            [
                {"competitor": "ABB", "product": "MES", "criterion": "价格", "ours": "1", "theirs": "2"},
                {"competitor": "", "product": "MES", "criterion": "价格"},
                {"competitor": "ABB", "product": "MES", "criterion": "x", "advantage": "maybe"},
                ["not", "a", "record"],  # type: ignore[list-item]
            ]
        )
    assert {(e.row, e.field) for e in caught.value.errors} == {
        (1, "competitor"),
        (2, "advantage"),
        (3, "record"),
    }
