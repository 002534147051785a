"""Refusals: every sentence that cannot be compiled says where, why, what could stand there
and what the writer may have meant, in Chinese and English (one test per refusal)."""

from __future__ import annotations

import pytest

from pathcast.automation.language import CompileError, Vocabulary, compile_rule
from pathcast.automation.language.vocabulary import AssetInfo

VOCABULARY = Vocabulary.sample()


def refused(text: str, lang: str = "zh", vocabulary: Vocabulary = VOCABULARY) -> CompileError:
    with pytest.raises(CompileError) as caught:
        compile_rule(text, lang, vocabulary)  # type: ignore[arg-type]
    error = caught.value
    assert error.message_zh and error.message_en
    assert 0 <= error.span[0] <= error.span[1] <= len(text)
    return error


def spanned(text: str, error: CompileError) -> str:
    return text[error.span[0] : error.span[1]]


def test_a_pronoun_without_antecedent_is_asked_about_not_guessed() -> None:
    text = "商机输单后，通知他"
    error = refused(text)
    assert error.code == "unresolved_pronoun"
    assert spanned(text, error) == "他"
    assert error.suggestions[:2] == ["负责人 (owner)", "客户负责人 (account owner)"]


def test_him_with_no_person_mentioned_is_unresolved() -> None:
    text = "if a deal is lost, notify him"
    error = refused(text, "en")
    assert error.code == "unresolved_pronoun"
    assert spanned(text, error) == "him"
    assert "the owner" in error.suggestions


def test_them_after_a_contact_cannot_be_notified() -> None:
    text = "if a contact views the pricing sheet, notify them"
    error = refused(text, "en")
    assert error.code == "unresolved_pronoun"
    assert spanned(text, error) == "them"
    assert "contact" in error.message_en


def test_a_pronoun_between_two_people_is_ambiguous() -> None:
    error = refused("商机赢单后通知负责人和实施总监，并给他创建任务")
    assert error.code == "unresolved_pronoun"
    assert "几个人" in error.message_zh


def test_a_misspelt_word_gets_did_you_mean() -> None:
    text = "if a deel is won, notify the owner"
    error = refused(text, "en")
    assert error.code == "unknown_word"
    assert spanned(text, error) == "deel"
    assert error.suggestions[0] == "deal"
    assert any("record type" in word for word in error.expected)


def test_an_unknown_position_is_an_unknown_word_with_suggestions() -> None:
    text = "商机赢单后通知实施总建"
    error = refused(text)
    assert error.code in ("unknown_word", "missing_recipient")
    assert "实施总监" in error.suggestions


def test_a_missing_recipient() -> None:
    text = "商机赢单后通知"
    error = refused(text)
    assert error.code == "missing_recipient"
    assert spanned(text, error) == "通知"
    assert "负责人" in error.suggestions


def test_months_are_refused_with_a_suggestion_in_days() -> None:
    text = "如果联系人一个月内查看价格表3次，通知负责人"
    error = refused(text)
    assert error.code == "unsupported_unit"
    assert spanned(text, error) == "一个月"
    assert error.suggestions == ["30天"]
    english = "if a contact views the pricing sheet 3 times within 2 months, notify the owner"
    error = refused(english, "en")
    assert error.code == "unsupported_unit" and spanned(english, error) == "2 months"
    assert error.suggestions == ["60 days"]


def test_a_check_that_is_not_configured_is_an_unknown_word() -> None:
    bare = Vocabulary.default().with_data(stages=VOCABULARY.stages)
    text = "当客户POC测试通过且预算批复后，通知负责人"
    error = refused(text, vocabulary=bare)
    assert error.code == "unknown_word"
    assert spanned(text, error) == "预算批复"
    assert "连接器" in error.message_zh and "connector" in error.message_en


def test_a_poc_needs_a_stage_to_be_recognised() -> None:
    text = "POC通过后通知负责人"
    error = refused(text, vocabulary=Vocabulary.default())
    assert error.code == "unknown_word"
    assert spanned(text, error) == "POC通过"


def test_two_triggers_are_refused() -> None:
    text = "商机赢单且合同签署后，通知负责人"
    error = refused(text)
    assert error.code == "too_many_triggers"
    assert spanned(text, error) == "合同签署"


def test_or_is_refused() -> None:
    text = "when a deal is won or lost, notify the owner"
    error = refused(text, "en")
    assert error.code == "unsupported"
    assert spanned(text, error) == "or"


def test_a_rule_without_an_action() -> None:
    error = refused("商机赢单后")
    assert error.code == "incomplete"


def test_a_rule_without_a_trigger() -> None:
    error = refused("通知负责人")
    assert error.code == "missing_trigger"


def test_an_empty_sentence() -> None:
    assert refused("   ").code == "empty"


def test_a_value_the_field_cannot_take() -> None:
    text = "商机赢单且客户等级为黄金时，通知负责人"
    error = refused(text)
    assert error.code == "invalid_value"
    assert spanned(text, error) == "黄金"
    assert "战略" in error.expected


def test_an_event_the_record_does_not_have() -> None:
    text = "当联系人签署后，通知负责人"
    error = refused(text)
    assert error.code == "unknown_event"


def test_closed_deals_must_say_won_or_lost() -> None:
    error = refused("when a deal is closed, notify the owner", "en")
    assert error.code == "ambiguous"
    assert error.suggestions == ["won", "lost"]


def test_a_shared_field_without_a_record_is_ambiguous() -> None:
    error = refused("每周一9点，如果状态为已关闭，通知经理")
    assert error.code == "ambiguous"


def test_an_unknown_document_is_an_unknown_word() -> None:
    text = "when a deal is won, send the case pak to the owner"
    error = refused(text, "en")
    assert error.code == "unknown_word"
    assert spanned(text, error) == "case pak"
    assert error.suggestions[0].lower() == "case pack"


def test_a_behaviour_count_needs_a_window() -> None:
    error = refused("if a contact views the pricing sheet 3 times, tag them 'hot'", "en")
    assert error.code == "incomplete"
    assert error.suggestions == ["within a week"]


def test_a_hive_needs_a_template() -> None:
    error = refused("商机赢单后创建任务蜂巢")
    assert error.code == "incomplete"


def test_spans_are_offsets_in_the_text_as_typed() -> None:
    text = "ＰＯＣ通过后，通知他"  # full-width letters normalise to "POC" but spans stay in this text
    error = refused(text)
    assert spanned(text, error) == "他"


def test_problem_errors_carry_span_expected_and_suggestions() -> None:
    error = refused("if a deel is won, notify the owner", "en")
    [entry] = error.as_problem_errors("en")
    assert entry["field"] == "text"
    assert entry["code"] == "unknown_word"
    assert entry["span"] == [5, 9]
    assert entry["detail"] == error.message_en
    assert entry["suggestions"][0] == "deal"
    assert entry["expected"] and entry["message_zh"]
    assert error.as_problem_errors("zh-CN")[0]["detail"] == error.message_zh


def test_bad_language_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        compile_rule("商机赢单后通知负责人", "fr", VOCABULARY)  # type: ignore[arg-type]


def test_an_unknown_asset_is_an_unknown_word_with_known_assets_suggested() -> None:
    text = "if a contact downloads the PLC whitepaper twice in 3 days, notify the owner"
    error = refused(text, "en")
    assert error.code == "unknown_word"
    assert spanned(text, error) == "PLC whitepaper"
    assert set(error.suggestions) <= {a.name for a in VOCABULARY.assets} and error.suggestions


PLC = AssetInfo("plc-protocol-whitepaper", "PLC通讯协议兼容性白皮书")


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("if a contact downloads the PLC whitepaper twice in 3 days, notify the owner", "en"),
        ("if a contact views the protocol whitepaper 3 times in a week, notify the owner", "en"),
        ("联系人3天内下载两次PLC白皮书，通知负责人", "zh"),
        ("联系人3天内下载两次兼容性白皮书，通知负责人", "zh"),
    ],
)
def test_an_asset_is_found_by_a_unique_partial_name(text: str, lang: str) -> None:
    result = compile_rule(text, lang, VOCABULARY.with_data(assets=[PLC]))  # type: ignore[arg-type]
    asset = result.ir.trigger.asset  # type: ignore[union-attr]
    assert asset is not None and asset.key == "plc-protocol-whitepaper"


def test_a_partial_asset_name_matching_several_is_ambiguous() -> None:
    vocabulary = VOCABULARY.with_data(assets=[PLC, AssetInfo("plc-install-whitepaper", "PLC安装指南白皮书")])
    text = "联系人3天内下载两次PLC白皮书，通知负责人"
    error = refused(text, "zh", vocabulary)
    assert error.code == "ambiguous"
    assert spanned(text, error) == "PLC白皮书"
    assert set(error.suggestions) == {"PLC通讯协议兼容性白皮书", "PLC安装指南白皮书"}


def test_a_quantified_relation_is_ambiguous_in_english() -> None:
    text = "every day notify all the account owners"
    error = refused(text, "en")
    assert error.code == "ambiguous"
    assert spanned(text, error) == "all the account owners"
