"""The pure matcher: each trigger type against in-memory events, conditions, and the index's
promise that an event only meets the rules that can match it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pathcast.automation.engine.matcher import (
    CompiledRule,
    Fact,
    RuleIndex,
    StageCatalog,
    StageInfo,
    compile_condition,
    evaluate_conditions,
    norm,
    resolver_from_states,
)
from pathcast.automation.ir import Condition, RuleIR

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAGES = StageCatalog(
    [
        StageInfo(1, "lead", "Lead", "线索", "open"),
        StageInfo(5, "negotiation", "Negotiation", "商务谈判", "open"),
        StageInfo(7, "won", "Won", "赢单", "won"),
        StageInfo(8, "lost", "Lost", "丢单", "lost"),
    ]
)
TASK = [{"type": "create_task", "assignee": {"kind": "relation", "value": "owner"}, "title": "跟进"}]


def rule(rule_id: int, trigger: dict[str, Any], *, enabled_from: int = 0, **extra: Any) -> CompiledRule:
    ir = RuleIR.model_validate({"trigger": trigger, "actions": TASK, **extra})
    return CompiledRule(
        rule_id=rule_id, version=1, name=f"r{rule_id}", ir=ir, enabled_from_event_id=enabled_from
    )


def fact(event_id: int, type_: str, entity: str, entity_id: int, payload: dict[str, Any]) -> Fact:
    return Fact(event_id, type_, entity, str(entity_id), payload, AT)


def matched(index: RuleIndex, event: Fact) -> list[int]:
    return sorted(candidate.rule.rule_id for candidate in index.match(event))


def test_record_changed_matches_the_field_with_from_and_to() -> None:
    index = RuleIndex(
        [
            rule(1, {"type": "record_changed", "entity": "account", "field": "tier"}),
            rule(2, {"type": "record_changed", "entity": "account", "field": "tier", "to": "strategic"}),
            rule(
                3,
                {
                    "type": "record_changed",
                    "entity": "account",
                    "field": "tier",
                    "from": "key",
                    "to": "standard",
                },
            ),
            rule(4, {"type": "record_changed", "entity": "account", "field": "industry"}),
            rule(5, {"type": "record_changed", "entity": "contact", "field": "tier"}),
        ],
        STAGES,
    )
    upgrade = fact(
        10, "account.updated", "account", 3, {"before": {"tier": "key"}, "after": {"tier": "strategic"}}
    )
    assert matched(index, upgrade) == [1, 2]
    [candidate] = [c for c in index.match(upgrade) if c.rule.rule_id == 2]
    assert candidate.fire_key == "event:10"
    assert candidate.reason == "account #3: tier changed from key to strategic"
    assert (candidate.subject_entity, candidate.subject_id) == ("account", "3")
    # A creation is not a change; an unchanged value is not either.
    created = fact(11, "account.created", "account", 4, {"after": {"tier": "strategic"}})
    assert matched(index, created) == []
    same = fact(12, "account.updated", "account", 3, {"before": {"tier": "key"}, "after": {"tier": "KEY "}})
    assert matched(index, same) == []


def test_record_changed_compares_numbers_by_value() -> None:
    index = RuleIndex(
        [rule(1, {"type": "record_changed", "entity": "quote", "field": "discount_pct", "to": 20})]
    )
    stored = fact(
        3,
        "quote.updated",
        "quote",
        9,
        {"before": {"discount_pct": "0.00"}, "after": {"discount_pct": "20.00"}},
    )
    assert matched(index, stored) == [1]
    assert norm("20.00") == norm(20) == norm(20.0)


def test_stage_moves_match_by_key_name_chinese_name_or_class() -> None:
    index = RuleIndex(
        [
            rule(1, {"type": "record_changed", "entity": "opportunity", "field": "stage", "to": "赢单"}),
            rule(2, {"type": "record_changed", "entity": "opportunity", "field": "stage_id", "to": "won"}),
            rule(
                3,
                {"type": "record_changed", "entity": "opportunity", "field": "stage", "from": "Negotiation"},
            ),
            rule(4, {"type": "record_changed", "entity": "opportunity", "field": "stage", "to": "lost"}),
            rule(5, {"type": "record_event", "event": "opportunity.won"}),
            rule(6, {"type": "record_event", "event": "opportunity.lost"}),
        ],
        STAGES,
    )
    won = fact(
        20,
        "opportunity.won",
        "opportunity",
        12,
        {
            "before": {"stage_id": 5, "status": "open"},
            "after": {"stage_id": 7, "status": "won"},
            "to_stage": "won",
        },
    )
    assert matched(index, won) == [1, 2, 3, 5]
    reasons = {c.rule.rule_id: c.reason for c in index.match(won)}
    assert reasons[1] == "opportunity #12 moved from 商务谈判 (negotiation) to 赢单 (won)"
    assert reasons[5] == "opportunity #12 moved to 赢单 (won) (opportunity.won)"


def test_record_events_are_literal_or_derived_from_a_status_change() -> None:
    index = RuleIndex(
        [
            rule(1, {"type": "record_event", "event": "contract.signed"}),
            rule(2, {"type": "record_event", "event": "quote.accepted"}),
            rule(3, {"type": "record_event", "event": "activity.created"}),
        ]
    )
    signed = fact(
        1, "contract.updated", "contract", 4, {"before": {"status": "draft"}, "after": {"status": "active"}}
    )
    assert matched(index, signed) == [1]
    assert index.match(signed)[0].reason == "contract #4 became active (contract.signed)"
    born_active = fact(2, "contract.created", "contract", 5, {"after": {"status": "active", "value": "10"}})
    assert matched(index, born_active) == [1]
    still_active = fact(
        3, "contract.updated", "contract", 4, {"before": {"value": "1"}, "after": {"value": "2"}}
    )
    assert matched(index, still_active) == []
    accepted = fact(
        4, "quote.updated", "quote", 8, {"before": {"status": "sent"}, "after": {"status": "accepted"}}
    )
    assert matched(index, accepted) == [2]
    assert matched(index, fact(5, "activity.created", "activity", 1, {"after": {"kind": "call"}})) == [3]


def test_events_up_to_the_enabling_point_never_match() -> None:
    index = RuleIndex([rule(1, {"type": "record_event", "event": "activity.created"}, enabled_from=100)])
    assert matched(index, fact(100, "activity.created", "activity", 1, {})) == []
    assert matched(index, fact(101, "activity.created", "activity", 2, {})) == [1]


def test_metric_rules_fire_when_the_value_crosses_the_threshold() -> None:
    index = RuleIndex(
        [
            rule(1, {"type": "metric", "entity": "opportunity", "metric": "risk", "op": "gte", "value": 0.7}),
            rule(
                2,
                {
                    "type": "metric",
                    "entity": "product",
                    "metric": "inventory_turnover",
                    "op": "lt",
                    "value": 2,
                },
            ),
        ]
    )
    crossing = fact(1, "metric.changed", "opportunity", 4, {"metric": "risk", "value": 0.82, "previous": 0.4})
    assert matched(index, crossing) == [1]
    assert index.match(crossing)[0].reason == "opportunity #4: risk = 0.82 (gte 0.7, was 0.4)"
    staying = fact(2, "metric.changed", "opportunity", 4, {"metric": "risk", "value": 0.9, "previous": 0.82})
    assert matched(index, staying) == []
    first_reading = fact(3, "metric.risk", "opportunity", 5, {"value": 0.75})
    assert matched(index, first_reading) == [1]
    turnover = fact(4, "metric.computed", "product", 2, {"metric": "inventory_turnover", "value": "1.5"})
    assert matched(index, turnover) == [2]


def test_signal_rules_match_keyword_industry_polarity_and_severity_floor() -> None:
    index = RuleIndex(
        [
            rule(1, {"type": "signal", "keyword": "交付延迟", "polarity": "negative", "severity": "P2"}),
            rule(2, {"type": "signal", "industry": "manufacturing"}),
            rule(3, {"type": "signal", "polarity": "positive"}),
        ]
    )
    severe = fact(
        1,
        "radar.signal",
        "account",
        3,
        {
            "text": "客户投诉交付延迟两周",
            "industry": "manufacturing",
            "polarity": "negative",
            "severity": "P1",
        },
    )
    assert matched(index, severe) == [1, 2]
    mild = fact(
        2, "radar.signal", "account", 3, {"keywords": ["交付延迟"], "polarity": "negative", "severity": "P3"}
    )
    assert matched(index, mild) == []
    assert matched(index, fact(3, "opportunity.updated", "account", 3, {"polarity": "positive"})) == []


def test_an_event_meets_only_the_rules_keyed_to_it(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [
        rule(i, {"type": "record_changed", "entity": f"e{i % 50}", "field": f"f{i}"}) for i in range(1, 1001)
    ]
    rules += [
        rule(2000 + i, {"type": "record_changed", "entity": "opportunity", "field": "stage", "to": stage.key})
        for i, stage in enumerate(STAGES.by_id.values())
    ]
    rules += [
        rule(3000 + i, {"type": "record_event", "event": event})
        for i, event in enumerate(("quote.accepted", "contract.signed"))
    ]
    index = RuleIndex(rules, STAGES)
    examined: list[int] = []
    collect = RuleIndex._collect

    def counting(found: list[Any], entries: list[Any], event: Any) -> None:
        examined.append(len(entries))
        collect(found, entries, event)

    monkeypatch.setattr(RuleIndex, "_collect", staticmethod(counting))
    event = fact(1, "e7.updated", "e7", 1, {"before": {"f7": 1, "f57": 1}, "after": {"f7": 2, "f57": 2}})
    assert matched(index, event) == [7, 57]
    assert sum(examined) == 2
    examined.clear()
    won = fact(2, "opportunity.won", "opportunity", 3, {"before": {"stage_id": 5}, "after": {"stage_id": 7}})
    assert matched(index, won) == [2002]  # the rule on "won" only, not the seven other stage rules
    assert sum(examined) == 1
    # Behaviour and schedule rules are indexed for their own loops, not the event stream.
    other = RuleIndex(
        [
            rule(1, {"type": "schedule", "cron": "0 9 * * 1"}),
            rule(2, {"type": "behaviour", "count_at_least": 3, "within": "P7D"}),
        ]
    )
    assert other.event_rules() == [] and len(other.schedules) == len(other.behaviour) == 1


@pytest.mark.parametrize(
    ("condition", "value", "holds"),
    [
        ({"field": "opportunity.amount", "op": "gt", "value": 100000}, "120000.00", True),
        ({"field": "opportunity.amount", "op": "lte", "value": 100000}, "120000.00", False),
        ({"field": "account.tier", "op": "eq", "value": "Strategic"}, "strategic", True),
        ({"field": "account.tier", "op": "in", "value": ["key", "strategic"]}, "strategic", True),
        ({"field": "account.tier", "op": "not_in", "value": ["key"]}, "strategic", True),
        ({"field": "account.name", "op": "contains", "value": "协和"}, "北京协和医院", True),
        ({"field": "contact.email", "op": "is_set"}, None, False),
        ({"field": "contact.email", "op": "is_not_set"}, "", True),
        ({"field": "opportunity.expected_close_date", "op": "lt", "value": "2026-06-30"}, "2026-05-01", True),
    ],
)
def test_conditions(condition: dict[str, Any], value: Any, holds: bool) -> None:
    entity, _, name = condition["field"].partition(".")
    resolve = resolver_from_states({entity: {name: value}}, entity)
    parsed = Condition.model_validate(condition)
    passed, notes = evaluate_conditions([parsed], resolve)
    assert passed is holds
    assert notes and condition["field"] in notes[0]
    # The compiled fast path the matcher uses agrees with the explained one.
    assert compile_condition(parsed)(resolve) is holds


def test_stage_conditions_and_missing_records() -> None:
    resolve = resolver_from_states({"opportunity": {"stage_id": 7}}, "opportunity")
    won = Condition(field="opportunity.stage", op="eq", value="赢单")
    passed, notes = evaluate_conditions([won], resolve, STAGES)
    assert passed and notes == ["opportunity.stage = 赢单 (won) (eq 赢单: yes)"]
    assert compile_condition(won, STAGES)(resolve) is True
    assert (
        compile_condition(Condition(field="opportunity.stage", op="ne", value="won"), STAGES)(resolve)
        is False
    )
    passed, notes = evaluate_conditions([Condition(field="account.tier", op="eq", value="key")], resolve)
    assert not passed and notes == ["account.tier: no account for this record"]


def test_an_industry_rule_meets_the_radars_own_industry_keys() -> None:
    # The radar grades with its weight-table key ``medical_devices``; a rule says 医疗
    # (``medical``). Before the keys were mapped, such a rule never fired.
    index = RuleIndex([rule(1, {"type": "signal", "industry": "medical"})])
    for industry in ("medical_devices", "medical", "医疗器械"):
        event = fact(1, "radar.signal", "radar_item", 3, {"industry": industry, "polarity": "negative"})
        assert matched(index, event) == [1], industry
    assert matched(index, fact(2, "radar.signal", "radar_item", 4, {"industry": "manufacturing"})) == []
