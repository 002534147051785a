"""Properties of the compiler: whatever is typed, it answers with a rule or a CompileError
(never another exception), error spans lie inside the text, compiled rules round-trip
through JSON, read-backs are never empty, and compiling is fast once warm."""

from __future__ import annotations

import statistics
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pathcast.automation.ir import RuleIR
from pathcast.automation.language import CompileError, CompileResult, Vocabulary, compile_rule
from pathcast.automation.language.lexer import lexicon_for
from tests.automation.test_language_en import CASES as EN_CASES
from tests.automation.test_language_zh import CASES as ZH_CASES

VOCABULARY = Vocabulary.sample()
SENTENCES = [(text, "zh") for text, _ in ZH_CASES] + [(text, "en") for text, _ in EN_CASES]
# Words the language knows, so that mutations produce near-sentences, not only noise.
WORDS = sorted(
    {
        surface
        for lang in ("zh", "en")
        for kind, surfaces in lexicon_for(VOCABULARY, lang).surfaces.items()
        if kind != "FILLER"
        for surface in surfaces
    }
)
PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def attempt(text: str, lang: str) -> CompileResult | None:
    """Compile; only a CompileError may come out, and it must point inside the text."""
    try:
        result = compile_rule(text, lang, VOCABULARY)  # type: ignore[arg-type]
    except CompileError as error:
        assert 0 <= error.span[0] <= error.span[1] <= len(text), (text, error.span)
        assert error.message_zh and error.message_en
        assert error.as_problem_errors()[0]["code"] == error.code
        return None
    check(result)
    return result


def check(result: CompileResult) -> None:
    assert result.readback_zh.strip() and result.readback_en.strip()
    again = RuleIR.model_validate_json(result.ir.model_dump_json(by_alias=True))
    assert again == result.ir
    assert again.model_dump(mode="json", by_alias=True) == result.ir.model_dump(mode="json", by_alias=True)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=120), lang=st.sampled_from(["zh", "en"]))
def test_random_text_is_a_rule_or_a_compile_error(text: str, lang: str) -> None:
    attempt(text, lang)


@PROPERTY_SETTINGS
@given(
    words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=12),
    glue=st.sampled_from(["", " ", "，", ", ", "的"]),
    lang=st.sampled_from(["zh", "en"]),
)
def test_random_word_salad_is_a_rule_or_a_compile_error(words: list[str], glue: str, lang: str) -> None:
    attempt(glue.join(words), lang)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_mutated_sentences_are_a_rule_or_a_compile_error(data: st.DataObject) -> None:
    text, lang = data.draw(st.sampled_from(SENTENCES))
    operation = data.draw(st.sampled_from(["delete", "insert", "swap", "word", "cut"]))
    position = data.draw(st.integers(min_value=0, max_value=len(text)))
    if operation == "delete":
        width = data.draw(st.integers(min_value=1, max_value=6))
        text = text[:position] + text[position + width :]
    elif operation == "insert":
        text = text[:position] + data.draw(st.text(min_size=1, max_size=4)) + text[position:]
    elif operation == "swap" and position + 1 < len(text):
        text = text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    elif operation == "word":
        text = text[:position] + " " + data.draw(st.sampled_from(WORDS)) + " " + text[position:]
    else:
        text = text[:position]
    attempt(text, lang)


def test_every_example_round_trips_and_reads_back() -> None:
    for text, lang in SENTENCES:
        result = attempt(text, lang)
        assert result is not None, text


def test_compiling_is_fast_after_warm_up() -> None:
    for text, lang in SENTENCES:
        attempt(text, lang)
    timings = []
    for text, lang in SENTENCES:
        started = time.perf_counter()
        compile_rule(text, lang, VOCABULARY)  # type: ignore[arg-type]
        timings.append(time.perf_counter() - started)
    # The budget is 50 ms per sentence; typical ones take about a millisecond.
    assert statistics.median(timings) < 0.05, timings
    assert max(timings) < 0.25, timings


TRIGGERS = [
    {"type": "record_changed", "entity": "quote", "field": "discount_pct"},
    {"type": "record_changed", "entity": "opportunity", "field": "stage", "from": "solution", "to": "won"},
    {"type": "record_changed", "entity": "widget", "field": "colour", "to": ["red", "blue"]},
    {"type": "record_event", "event": "opportunity.won"},
    {"type": "record_event", "event": "something.happened"},
    {"type": "behaviour", "count_at_least": 3, "within": "P7D", "min_dwell_seconds": 90},
    {"type": "behaviour", "subject": "account", "event": "click", "count_at_least": 1, "within": "PT90M"},
    {"type": "metric", "entity": "account", "metric": "inventory_turnover", "op": "lt", "value": 3},
    {"type": "metric", "entity": "thing", "metric": "unknown_metric", "op": "ne", "value": 1.5},
    {"type": "signal"},
    {"type": "signal", "keyword": "延迟", "industry": "other", "polarity": "neutral", "severity": "P3"},
    {"type": "schedule", "cron": "*/5 * * * *"},
    {"type": "schedule", "cron": "0 9 * * 0,6", "timezone": "UTC"},
]
CONDITIONS = [
    {"field": "quote.discount_pct", "op": "gte", "value": 20},
    {"field": "account.tier", "op": "in", "value": ["strategic", "key"]},
    {"field": "opportunity.expected_close_date", "op": "is_set"},
    {"field": "approved", "op": "eq", "value": False, "connector": "budget_approval"},
    {"field": "x", "op": "contains", "value": "y", "connector": "unknown_check"},
]
PEOPLE = [
    {"kind": "role", "value": "sales_vp"},
    {"kind": "role", "value": "no_such_position"},
    {"kind": "relation", "value": "account_csm"},
    {"kind": "user", "value": "li@example.com"},
]
ACTIONS = [
    {"type": "notify", "recipients": PEOPLE, "message": "请跟进", "channels": ["email", "wecom"]},
    {"type": "create_task", "assignee": PEOPLE[0], "title": "Call back", "due_in": "PT4H"},
    {"type": "create_meeting", "title": "Kick-off", "attendees": PEOPLE[:2], "within": "P1W"},
    {"type": "tag", "target": "account", "tag": "VIP"},
    {"type": "set_field", "entity": "opportunity", "field": "stage", "value": "won"},
    {"type": "push_content", "content": "unknown doc", "to": PEOPLE[3]},
    {"type": "webhook", "connector": "erp"},
    {"type": "webhook"},
    {
        "type": "require_approval",
        "route_by": "ticket.severity",
        "routes": {"critical": PEOPLE[0], "odd": PEOPLE[1]},
        "default": PEOPLE[2],
    },
    {"type": "require_approval", "route_by": "account.tier", "routes": {}},
    {"type": "require_confirmation", "by": PEOPLE[2], "note_required": True, "prompt": "OK?"},
    {"type": "add_member", "member": PEOPLE[1], "role": "lead"},
    {"type": "create_hive", "template": "产线升级", "members": PEOPLE},
    {"type": "generate_plan", "kind": "journey"},
    {"type": "generate_plan", "kind": "something else"},
]
WAITS = [None, {"duration": "PT48H"}, {"duration": "P2W", "unless": [{"event": "activity.created"}]}]


@PROPERTY_SETTINGS
@given(
    trigger=st.sampled_from(TRIGGERS),
    conditions=st.lists(st.sampled_from(CONDITIONS), max_size=3),
    actions=st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4),
    wait=st.sampled_from(WAITS),
)
def test_any_valid_ir_reads_back(
    trigger: dict[str, object], conditions: list[object], actions: list[object], wait: object
) -> None:
    from pathcast.automation.language import readback

    ir = RuleIR.model_validate(
        {"trigger": trigger, "conditions": conditions, "actions": actions, "wait": wait}
    )
    for lang in ("zh", "en"):
        text = readback(ir, VOCABULARY, lang)
        assert text.strip() and text[-1] in "。."
