"""Radar text analysis: tokens, entities, topics, polarity, intent, weights, severity and
the whole pipeline — the issue's checks (交付延迟 graded by industry, tips are not defect
complaints) plus a property test that ``analyse`` never fails on any text."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathcast.errors import InvalidInput
from pathcast.radar.analysis import MAX_CHARS, analyse
from pathcast.radar.analysis.entities import Entity, EntityCatalogue, link
from pathcast.radar.analysis.intent import INTENT_LABELS, classify
from pathcast.radar.analysis.polarity import score
from pathcast.radar.analysis.severity import LEVELS, grade, level_of
from pathcast.radar.analysis.tokens import detect_lang, register_words, tokenize
from pathcast.radar.analysis.topics import TopicDictionary, detect
from pathcast.radar.analysis.weights import WeightTable


@pytest.fixture(scope="module")
def catalogue() -> EntityCatalogue:
    """Accounts, a contact, a product and competitors, as a service would build them from crm."""
    cat = EntityCatalogue()
    cat.add(
        "account",
        1,
        "上海联影医疗科技股份有限公司",
        ["联影医疗", "United Imaging"],
        industry="医疗器械",
        tier="key",
    )
    cat.add(
        "account",
        2,
        "Hengtai Precision Manufacturing",
        ["Hengtai"],
        industry="manufacturing",
        tier="strategic",
    )
    cat.add("contact", 10, "王建国")
    cat.add("product", 20, "DSA-3000 Angio System", ["DSA3000"])
    cat.add("competitor", "siemens", "西门子", ["Siemens"])
    cat.add("competitor", "abb", "ABB")
    return cat


# --- tokens ------------------------------------------------------------------------------


def test_tokenize_keeps_topic_words_and_registered_names_whole() -> None:
    assert "交付延迟" in tokenize("这次交付延迟了两周")
    register_words(["汇川技术"])
    assert "汇川技术" in tokenize("我们对比了汇川技术和西门子")


def test_tokenize_english_is_lower_cased_words_without_punctuation() -> None:
    assert tokenize("The PLC doesn't work, AGAIN!") == ["the", "plc", "doesn't", "work", "again"]
    # full-width letters fold to ASCII
    assert tokenize("ＰＬＣ通讯")[0] == "plc"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("交付延迟了两周", "zh"),
        ("The delivery is two weeks late", "en"),
        ("PLC通讯协议兼容性怎么样", "zh"),
        ("We use 西门子 PLCs everywhere in the plant", "en"),
        ("", "zh"),
        ("12345", "zh"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


# --- entities ----------------------------------------------------------------------------


def test_link_by_exact_name_and_alias_with_spans(catalogue: EntityCatalogue) -> None:
    text = "王建国反馈联影医疗的DSA3000又坏了"
    mentions = link(text, catalogue)
    assert [(m.kind, m.entity_id, m.method) for m in mentions] == [
        ("contact", 10, "exact"),
        ("account", 1, "alias"),
        ("product", 20, "alias"),
    ]
    for mention in mentions:
        assert text[mention.start : mention.end] == mention.matched
    assert mentions[1].name == "上海联影医疗科技股份有限公司"
    assert mentions[0].score == 100.0
    assert mentions[1].score == 95.0


def test_link_fuzzy_catches_typos_in_english_and_chinese(catalogue: EntityCatalogue) -> None:
    mentions = link("Simens is cheaper than the DSA-3000 Angio Sytem", catalogue)
    assert [(m.entity_id, m.method) for m in mentions] == [("siemens", "fuzzy"), (20, "fuzzy")]
    assert mentions[0].matched == "Simens"
    assert all(85 <= m.score < 95 for m in mentions)

    text = "上海联影医疗科技有限公司的设备"
    # the name alone (no alias), written without 股份
    only_name = EntityCatalogue(accounts=[Entity(id=1, kind="account", name="上海联影医疗科技股份有限公司")])
    fuzzy_zh = link(text, only_name)
    assert [(m.entity_id, m.method) for m in fuzzy_zh] == [(1, "fuzzy")]
    assert text[fuzzy_zh[0].start : fuzzy_zh[0].end] == fuzzy_zh[0].matched


def test_link_latin_names_match_whole_words_only(catalogue: EntityCatalogue) -> None:
    assert link("Abbott shipped the order", catalogue) == []
    mentions = link("We switched from ABB to you", catalogue)
    assert [(m.entity_id, m.matched) for m in mentions] == [("abb", "ABB")]


def test_link_unrelated_text_and_empty_text(catalogue: EntityCatalogue) -> None:
    assert link("", catalogue) == []
    assert link("今天天气不错", catalogue) == []


# --- topics ------------------------------------------------------------------------------


def test_default_topics_in_both_languages() -> None:
    hits = detect("交付延迟两周，而且报价太贵")
    assert [hit.key for hit in hits][:2] == ["price", "delivery_delay"] or {h.key for h in hits} >= {
        "price",
        "delivery_delay",
    }
    assert {h.key for h in detect("Late delivery again, and the protocol is incompatible")} >= {
        "delivery_delay",
        "compatibility",
    }
    assert detect("今天天气不错") == []


def test_topic_keyword_inside_a_longer_one_counts_once() -> None:
    (hit,) = [h for h in detect("交期延误") if h.key == "delivery_delay"]
    assert hit.keywords == ["交期延误"]
    assert hit.count == 1


def test_custom_dictionary_and_round_trip() -> None:
    dictionary = TopicDictionary.from_dict(
        {
            "topics": [
                {
                    "key": "energy",
                    "label": {"zh": "能耗", "en": "Energy use"},
                    "keywords": ["能耗", "power draw"],
                }
            ]
        }
    )
    (hit,) = detect("这台设备能耗太高", dictionary)
    assert (hit.key, hit.label_zh, hit.label_en) == ("energy", "能耗", "Energy use")
    assert TopicDictionary.from_dict(dictionary.as_dict()) == dictionary


@pytest.mark.parametrize(
    ("data", "field_name"),
    [
        ({}, "topics"),
        ({"topics": [{"key": "", "keywords": ["a"]}]}, "topics[0].key"),
        ({"topics": [{"key": "a", "keywords": ["x"]}, {"key": "a", "keywords": ["y"]}]}, "topics[1].key"),
        ({"topics": [{"key": "a", "keywords": "x"}]}, "topics[0].keywords"),
    ],
)
def test_bad_dictionary_names_the_field(data: dict[str, object], field_name: str) -> None:
    with pytest.raises(InvalidInput) as error:
        TopicDictionary.from_dict(data)
    assert error.value.errors[0].field == field_name


# --- polarity ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "我们对这次交付非常不满意",
        "产品质量差，经常死机",
        "不好用",
        "This is not good at all",
        "Terrible support, very disappointed",
    ],
)
def test_negative_texts(text: str) -> None:
    result = score(text)
    assert result.label == "negative", result
    assert result.score < 0


@pytest.mark.parametrize(
    "text",
    ["没有问题", "用了三个月没有问题", "No problems so far", "not bad", "不错，很满意", "I am not unhappy"],
)
def test_negated_negatives_are_not_negative(text: str) -> None:
    assert score(text).label != "negative", score(text)


def test_negation_flips_and_intensifier_strengthens() -> None:
    assert score("满意").label == "positive"
    assert score("不满意").label == "negative"
    assert score("not satisfied").label == "negative"
    assert score("非常不满意").score < score("不满意").score
    assert score("very bad").score < score("bad").score
    negated = score("没有问题").cues
    assert [(cue.word, cue.negated) for cue in negated] == [("问题", True)]


def test_negation_does_not_cross_a_clause() -> None:
    # "不" ends at the comma: "满意" in the next clause is not negated
    assert score("价格不贵，服务很满意").label == "positive"


def test_after_but_counts_more() -> None:
    assert score("价格还行，但是售后不好用").label == "negative"
    assert score("The setup was slow but the support was excellent").label == "positive"


# --- intent ------------------------------------------------------------------------------


def _intent(text: str, competitors: tuple[str, ...] = ()) -> str:
    tokens = tokenize(text)
    return classify(text, tokens, detect(text), score(text), competitors=competitors).label


TIPS = [
    "分享一个小技巧：PLC通讯报错时重启网关就好了",
    "手把手教大家解决驱动报错的问题",
    "干货分享：设备死机时这样设置，再也没出现故障",
    "给大家安利一个小窍门，导出报表快多了",
    "Pro tip: if the app crashes on startup, clear the cache and it works again",
    "Here is how I fixed the Modbus timeout error in ten minutes",
    "Quick tutorial: set up the OPC UA bridge step by step",
    "A little trick I use when the scanner throws an error: unplug, wait 5 s, done",
]
DEFECTS = [
    "设备又坏了，报错不断，质量太差",
    "新买的控制器三天就故障了，太失望",
    "软件一直崩溃，根本用不了",
    "The controller is broken and crashes every day",
    "Defective unit, it stopped working after a week",
    "Tips won't help, the firmware is broken and crashes every day",
    # "分享" alone is no tip: people share bad experiences too
    "分享一下我们的遭遇：设备又坏了，三天两次故障",
]


@pytest.mark.parametrize("text", TIPS)
def test_tip_sharing_is_not_a_defect_complaint(text: str) -> None:
    assert _intent(text) == "tip_praise"


@pytest.mark.parametrize("text", DEFECTS)
def test_defect_complaints_are_complaints(text: str) -> None:
    assert _intent(text) == "complaint_defect"


@pytest.mark.parametrize(
    ("text", "label", "competitors"),
    [
        ("请问你们的PLC支持Modbus通讯协议吗？", "question_need", ()),
        ("Does anyone know if it supports Profinet?", "question_need", ()),
        ("我们准备采购一批DSA设备，请尽快报价", "purchase_intent", ()),
        ("We are evaluating vendors, please send a quote", "purchase_intent", ()),
        ("交付延迟了两周，客户很生气", "delivery_service_issue", ()),
        ("Our order is two weeks late and support does not respond", "delivery_service_issue", ()),
        ("和西门子相比，你们的方案有什么优势", "competitor_comparison", ("西门子",)),
        ("We compared Siemens versus your DSA3000", "competitor_comparison", ("西门子",)),
        ("今天开了个会", "other", ()),
    ],
)
def test_other_intents(text: str, label: str, competitors: tuple[str, ...]) -> None:
    assert _intent(text, competitors) == label


@pytest.mark.parametrize(
    ("text", "not_label"),
    [
        ("用了半年，设备很稳定，没出过故障", "complaint_defect"),
        ("The app doesn't crash anymore since the update, great job", "complaint_defect"),
        ("I would not recommend this vendor", "tip_praise"),
        ("这家的售后不推荐", "tip_praise"),
    ],
)
def test_negated_cue_words_do_not_count(text: str, not_label: str) -> None:
    assert _intent(text) != not_label


def test_question_without_question_mark() -> None:
    assert _intent("how do I export the audit log") == "question_need"


def test_intent_gives_reasons_in_both_languages() -> None:
    text = "分享一个小技巧：PLC通讯报错时重启网关就好了"
    result = classify(text, tokenize(text), detect(text), score(text))
    assert result.label == "tip_praise"
    assert 0 < result.confidence <= 1
    assert any("tip" in r["en"] and "技巧" in r["zh"] for r in result.reasons)


# --- weights -----------------------------------------------------------------------------


def test_default_weights_delivery_delay_by_industry() -> None:
    table = WeightTable.default()
    assert table.weight("manufacturing", "delivery_delay") == 3
    assert table.weight("consulting", "delivery_delay") == 1
    # free-text industries as accounts carry them
    assert table.weight("工业自动化 Industrial automation", "delivery_delay") == 3
    assert table.weight("管理咨询", "delivery_delay") == 1
    assert table.weight("制造业", "quality") == 3
    # unknown industry or topic: the default
    assert table.weight("farming", "delivery_delay") == table.default_weight == 1
    assert table.weight("manufacturing", "unknown_topic", default=0.5) == 0.5
    assert table.weight(None, "price") == 1


def test_weight_table_is_editable_as_a_dict() -> None:
    table = WeightTable.default()
    table.set("consulting", "delivery_delay", 2)
    table.set("logistics", "delivery_delay", 3)
    data = table.as_dict()
    assert data["industries"]["consulting"]["weights"]["delivery_delay"] == 2
    data["industries"]["manufacturing"]["weights"]["price"] = 0
    edited = WeightTable.from_dict(data)
    assert edited.weight("manufacturing", "price") == 0
    assert edited.weight("logistics", "delivery_delay") == 3
    # the packaged table is untouched
    assert WeightTable.default().weight("consulting", "delivery_delay") == 1


@pytest.mark.parametrize(
    ("value", "field_name"),
    [(4, "industries.manufacturing.weights.price"), ("high", "industries.manufacturing.weights.price")],
)
def test_bad_weight_names_the_cell(value: object, field_name: str) -> None:
    data = WeightTable.default().as_dict()
    data["industries"]["manufacturing"]["weights"]["price"] = value
    with pytest.raises(InvalidInput) as error:
        WeightTable.from_dict(data)
    assert error.value.errors[0].field == field_name
    with pytest.raises(InvalidInput):
        WeightTable.default().set("manufacturing", "price", -1)


# --- severity and the whole pipeline -----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "交付延迟了两周，产线停了，我们非常不满意",
        "交付延迟，客户很生气",
        "The delivery is delayed again and we are very unhappy",
    ],
)
def test_same_delivery_delay_grades_higher_in_manufacturing_than_consulting(text: str) -> None:
    factory = analyse(text, industry="manufacturing", account_tier="key")
    consultancy = analyse(text, industry="consulting", account_tier="key")
    assert factory.polarity.label == "negative"
    assert factory.weight == 3 and consultancy.weight == 1
    assert factory.grade.score > consultancy.grade.score
    assert LEVELS.index(factory.grade.level) < LEVELS.index(consultancy.grade.level)
    assert factory.grade.level == "P1"


def test_tip_post_grades_low_even_for_a_strategic_manufacturer() -> None:
    result = analyse(
        "分享一个小技巧：PLC通讯报错时重启网关就好了", industry="manufacturing", account_tier="strategic"
    )
    assert result.intent.label == "tip_praise"
    assert result.grade.level == "P4"


def test_grade_reasons_are_bilingual_and_name_the_weight_cell() -> None:
    result = analyse(
        "交付延迟了两周，我们非常不满意", industry="manufacturing", account_tier="strategic", reach=3
    )
    reasons = result.grade.reasons
    assert all(set(r) == {"en", "zh"} and r["en"] and r["zh"] for r in reasons)
    assert any("Delivery delay in Manufacturing" in r["en"] and "制造业" in r["zh"] for r in reasons)
    assert reasons[-1]["en"].endswith(result.grade.level)


def test_grade_formula_levels_and_factors() -> None:
    assert [level_of(v) for v in (100, 55, 54.9, 35, 18, 17.9, 0)] == [
        "P1",
        "P1",
        "P2",
        "P2",
        "P3",
        "P4",
        "P4",
    ]
    text = "设备又坏了"
    p, i = score(text), classify(text, tokenize(text), detect(text), score(text))
    low = grade(p, i, 0, "standard", 0)
    high = grade(p, i, 3, "strategic", 1000)
    assert low.score < high.score
    assert high.factors["business"] == 1.0 and low.factors["business"] == 0.25
    # nonsense numbers are clamped, not raised
    odd = grade(p, i, float("nan"), "unheard-of", float("inf"))
    assert odd.level in LEVELS


def test_analyse_takes_industry_and_tier_from_the_named_account(catalogue: EntityCatalogue) -> None:
    text = "Hengtai: late delivery again, the line is down and we are very unhappy"
    result = analyse(text, catalogue=catalogue)
    assert result.industry == "manufacturing"
    assert result.grade.factors["tier"] == 1.0
    assert result.grade.level == "P1"


def test_analyse_names_competitors_and_is_json(catalogue: EntityCatalogue) -> None:
    result = analyse("我们在对比西门子和你们的DSA3000，哪个更适合？", catalogue=catalogue)
    assert result.intent.label == "competitor_comparison"
    assert "competitor" in [hit.key for hit in result.topics]
    data = json.loads(json.dumps(result.as_dict(), ensure_ascii=False))
    assert data["entities"][0]["kind"] == "competitor"
    assert data["grade"]["level"] in LEVELS
    assert data["intent"]["label"] in INTENT_LABELS


def test_very_long_text_is_cut_with_a_note() -> None:
    result = analyse("交付延迟，非常不满意。" + "啊" * (MAX_CHARS + 10), industry="manufacturing")
    assert result.grade.level in LEVELS
    assert any(str(MAX_CHARS) in note["en"] for note in result.notes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(max_size=200)
    | st.lists(
        st.sampled_from(
            ["交付延迟", "不", "满意", "bug", "not", "分享", "技巧", "？", "西门子", " ", "坏了"]
        ),
        max_size=30,
    ).map("".join),
    industry=st.none() | st.sampled_from(["manufacturing", "consulting", "", "未知行业"]),
    tier=st.none() | st.sampled_from(["strategic", "key", "standard", "x"]),
    reach=st.floats(allow_nan=True, allow_infinity=True),
)
def test_analyse_never_raises_and_always_grades(
    catalogue: EntityCatalogue, text: str, industry: str | None, tier: str | None, reach: float
) -> None:
    result = analyse(text, catalogue=catalogue, industry=industry, account_tier=tier, reach=reach)
    assert result.grade.level in LEVELS
    assert 0 <= result.grade.score <= 100
    assert -1 <= result.polarity.score <= 1
    assert result.intent.label in INTENT_LABELS
    assert 0 <= result.intent.confidence <= 1
    json.dumps(result.as_dict())
