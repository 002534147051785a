"""Chinese sentences compile to the intended rule IR, whatever their word order and wording.

Each case gives a sentence and the part of the IR it must produce (a subset: other keys
may be present). The vocabulary is ``Vocabulary.sample()``: the default pipeline's stages,
the default positions, a pricing sheet and a DSA comparison sheet, a case pack, and a
budget-approval check connector.
"""

from __future__ import annotations

from typing import Any

import pytest

from pathcast.automation.language import CompileError, CompileResult, Vocabulary, compile_rule

VOCABULARY = Vocabulary.sample()

OWNER = {"kind": "relation", "value": "owner"}
DIRECTOR = {"kind": "role", "value": "implementation_director"}
BUDGET = {"connector": "budget_approval", "field": "approved", "op": "eq", "value": True}
POC = {
    "type": "record_changed",
    "entity": "opportunity",
    "field": "stage",
    "from": "solution",
    "to": "proposal",
}
KICKOFF = {"type": "create_meeting", "title": "交付启动会", "attendees": [OWNER, DIRECTOR]}


def contains(actual: Any, expected: Any, path: str = "ir") -> None:
    """``expected`` is a subset of ``actual`` (dict keys recursively; lists item by item)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing in {actual!r}"
            contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), (
            f"{path}: {actual!r} != {expected!r}"
        )
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            contains(got, want, f"{path}[{index}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def compiled(text: str) -> tuple[CompileResult, dict[str, Any]]:
    result = compile_rule(text, "zh", VOCABULARY)
    return result, result.ir.model_dump(mode="json", by_alias=True)


CASES: list[tuple[str, dict[str, Any]]] = [
    # 1. POC passed + budget approved → kick-off meeting + notify the implementation director
    (
        "当客户POC测试通过且预算批复后，自动触发交付启动会并通知实施总监",
        {
            "trigger": POC,
            "conditions": [BUDGET],
            "actions": [KICKOFF, {"type": "notify", "recipients": [DIRECTOR]}],
        },
    ),
    (
        "如果POC验证通过并且预算已经批复，请马上安排交付启动会，同时通知实施总监",
        {
            "trigger": POC,
            "conditions": [BUDGET],
            "actions": [KICKOFF, {"type": "notify", "recipients": [DIRECTOR]}],
        },
    ),
    (
        "一旦客户的POC测试通过、预算获批，就自动召开交付启动会并提醒实施总监",
        {
            "trigger": POC,
            "conditions": [BUDGET],
            "actions": [KICKOFF, {"type": "notify", "recipients": [DIRECTOR]}],
        },
    ),
    (
        "POC通过且预算批复后，预约交付启动会，邀请负责人和实施总监参加",
        {"trigger": POC, "conditions": [BUDGET], "actions": [KICKOFF]},
    ),
    # 2. behaviour
    (
        "联系人一周内查看价格表3次以上且每次停留超过90秒时，标记为高意向，并把案例包发给负责人",
        {
            "trigger": {
                "type": "behaviour",
                "subject": "contact",
                "event": "view",
                "asset": {"key": "pricing-sheet"},
                "count_at_least": 3,
                "within": "P7D",
                "min_dwell_seconds": 90,
            },
            "actions": [
                {"type": "tag", "target": "contact", "tag": "高意向"},
                {"type": "push_content", "content": "案例包 Case pack", "to": OWNER},
            ],
        },
    ),
    (
        "如果联系人7天内浏览“DSA介入耗材对比表”至少三次，每次超过一分半钟，就给他打上“高意向”标签",
        {
            "trigger": {
                "type": "behaviour",
                "asset": {"key": "dsa-comparison", "name": "DSA介入耗材对比表"},
                "count_at_least": 3,
                "within": "P7D",
                "min_dwell_seconds": 90,
            },
            "actions": [{"type": "tag", "target": "contact", "tag": "高意向"}],
        },
    ),
    (
        "客户每周下载价格表超过2次时，通知客户负责人",
        {
            "trigger": {"type": "behaviour", "subject": "account", "event": "download", "count_at_least": 3},
            "actions": [{"type": "notify", "recipients": [{"kind": "relation", "value": "account_owner"}]}],
        },
    ),
    # 4. no follow-up within 48 hours
    (
        "报价发出后48小时内没有跟进，通知负责人的经理",
        {
            "trigger": {"type": "record_event", "event": "quote.sent"},
            "wait": {"duration": "PT48H", "unless": [{"event": "activity.created", "same_record": True}]},
            "actions": [{"type": "notify", "recipients": [{"kind": "relation", "value": "owner_manager"}]}],
        },
    ),
    (
        "报价发出后两天内没有任何跟进，就提醒销售的上级",
        {
            "trigger": {"type": "record_event", "event": "quote.sent"},
            "wait": {"duration": "P2D", "unless": [{"event": "activity.created"}]},
            "actions": [{"type": "notify", "recipients": [{"kind": "relation", "value": "owner_manager"}]}],
        },
    ),
    # 5. approval routed by tier
    (
        "报价折扣超过20%时需要审批：战略客户由销售副总裁审批，普通客户由区域经理审批",
        {
            "trigger": {"type": "record_changed", "entity": "quote", "field": "discount_pct"},
            "conditions": [{"field": "quote.discount_pct", "op": "gt", "value": 20}],
            "actions": [
                {
                    "type": "require_approval",
                    "route_by": "account.tier",
                    "routes": {
                        "strategic": {"kind": "role", "value": "sales_vp"},
                        "standard": {"kind": "role", "value": "regional_manager"},
                    },
                }
            ],
        },
    ),
    (
        "当报价的折扣大于百分之二十时，须经审批：战略客户交销售副总裁审批，其他由区域经理审批",
        {
            "conditions": [{"field": "quote.discount_pct", "op": "gt", "value": 20}],
            "actions": [
                {
                    "type": "require_approval",
                    "routes": {"strategic": {"kind": "role", "value": "sales_vp"}},
                    "default": {"kind": "role", "value": "regional_manager"},
                }
            ],
        },
    ),
    # 6. hive from a template
    (
        "商机赢单后，按“产线升级”模板创建任务蜂巢，并把实施总监加入",
        {
            "trigger": {"type": "record_event", "event": "opportunity.won"},
            "actions": [
                {"type": "create_hive", "template": "产线升级"},
                {"type": "add_member", "member": DIRECTOR},
            ],
        },
    ),
    (
        "合同签署后，用产线升级模板建一个蜂巢，把实施总监和交付经理拉进来",
        {
            "trigger": {"type": "record_event", "event": "contract.signed"},
            "actions": [
                {"type": "create_hive", "template": "产线升级"},
                {"type": "add_member", "member": DIRECTOR},
                {"type": "add_member", "member": {"kind": "role", "value": "delivery_manager"}},
            ],
        },
    ),
    # 7. schedule
    (
        "每周一早上9点通知所有经理",
        {
            "trigger": {"type": "schedule", "cron": "0 9 * * 1", "timezone": "Asia/Shanghai"},
            "actions": [{"type": "notify", "recipients": [{"kind": "role", "value": "manager"}]}],
        },
    ),
    (
        "每个工作日早上8点半通过企业微信通知所有经理",
        {
            "trigger": {"type": "schedule", "cron": "30 8 * * 1-5"},
            "actions": [{"type": "notify", "channels": ["wecom"]}],
        },
    ),
    (
        "每天下午6点把管道汇总发给销售副总裁",
        {
            "trigger": {"type": "schedule", "cron": "0 18 * * *"},
            "actions": [{"type": "push_content", "content": "report:pipeline_summary"}],
        },
    ),
    # 8. radar signal
    (
        "制造业客户提到交付延迟且情绪负面时，通知交付经理和客户负责人",
        {
            "trigger": {
                "type": "signal",
                "keyword": "交付延迟",
                "industry": "manufacturing",
                "polarity": "negative",
            },
            "actions": [
                {
                    "type": "notify",
                    "recipients": [
                        {"kind": "role", "value": "delivery_manager"},
                        {"kind": "relation", "value": "account_owner"},
                    ],
                }
            ],
        },
    ),
    # more paraphrases
    (
        "商机赢单后通知客户成功经理",
        {"actions": [{"type": "notify", "recipients": [{"kind": "relation", "value": "account_csm"}]}]},
    ),
    (
        "赢单后3天，提醒客户成功经理安排回访",
        {
            "trigger": {"type": "record_event", "event": "opportunity.won"},
            "wait": {"duration": "P3D", "unless": []},
            "actions": [{"type": "notify", "message": "安排回访"}],
        },
    ),
    (
        "当商机金额超过100万且客户是战略客户时，通知销售副总裁",
        {
            "trigger": {"type": "record_changed", "entity": "opportunity", "field": "amount"},
            "conditions": [
                {"field": "opportunity.amount", "op": "gt", "value": 1000000},
                {"field": "account.tier", "op": "eq", "value": "strategic"},
            ],
        },
    ),
    (
        "商机进入谈判阶段时，给负责人创建一个跟进任务，3天内完成",
        {
            "trigger": {"type": "record_changed", "field": "stage", "to": "negotiation"},
            "actions": [{"type": "create_task", "assignee": OWNER, "title": "跟进", "due_in": "P3D"}],
        },
    ),
    (
        "当商机阶段变为赢单时，把预测类别设为承诺",
        {
            "trigger": {"type": "record_changed", "field": "stage", "to": "won"},
            "actions": [
                {
                    "type": "set_field",
                    "entity": "opportunity",
                    "field": "forecast_category",
                    "value": "commit",
                }
            ],
        },
    ),
    (
        "赢率低于30%时，通知负责人和他的经理",
        {
            "trigger": {"type": "metric", "metric": "win_probability", "op": "lt", "value": 0.3},
            "actions": [
                {"type": "notify", "recipients": [OWNER, {"kind": "relation", "value": "owner_manager"}]}
            ],
        },
    ),
    (
        "商机输单后，需要区域经理确认并填写说明",
        {
            "trigger": {"type": "record_event", "event": "opportunity.lost"},
            "actions": [
                {
                    "type": "require_confirmation",
                    "by": {"kind": "role", "value": "regional_manager"},
                    "note_required": True,
                }
            ],
        },
    ),
    (
        "重点客户的商机赢单后，生成推广方案",
        {
            "trigger": {"type": "record_event", "event": "opportunity.won"},
            "conditions": [{"field": "account.tier", "op": "eq", "value": "key"}],
            "actions": [{"type": "generate_plan", "kind": "promotion"}],
        },
    ),
    ("新建商机时，通知负责人", {"trigger": {"type": "record_event", "event": "opportunity.created"}}),
    (
        "工单创建后，如果严重程度为紧急，通知客户成功经理",
        {
            "trigger": {"type": "record_event", "event": "ticket.created"},
            "conditions": [{"field": "ticket.severity", "op": "eq", "value": "critical"}],
        },
    ),
    (
        "通知负责人，当商机输单时",
        {
            "trigger": {"type": "record_event", "event": "opportunity.lost"},
            "actions": [{"recipients": [OWNER]}],
        },
    ),
    (
        "如果商机的预计成交日期为空，提醒负责人",
        {"conditions": [{"field": "opportunity.expected_close_date", "op": "is_not_set"}]},
    ),
    (
        "合同签订后，请在5天内安排启动会，参会人为负责人和实施总监，并用邮件通知交付经理",
        {
            "trigger": {"type": "record_event", "event": "contract.signed"},
            "actions": [
                {
                    "type": "create_meeting",
                    "title": "启动会",
                    "within": "P5D",
                    "attendees": [OWNER, DIRECTOR],
                },
                {
                    "type": "notify",
                    "recipients": [{"kind": "role", "value": "delivery_manager"}],
                    "channels": ["email"],
                },
            ],
        },
    ),
]


# Written later, without looking at the grammar (regressions of paraphrase coverage).
CASES += [
    (
        "商机阶段从方案与测试推进到报价时，通知区域经理",
        {"trigger": {"type": "record_changed", "field": "stage", "from": "solution", "to": "proposal"}},
    ),
    (
        "当客户等级变成战略时，给客户负责人发个提醒",
        {
            "trigger": {"type": "record_changed", "entity": "account", "field": "tier", "to": "strategic"},
            "actions": [{"type": "notify", "recipients": [{"kind": "relation", "value": "account_owner"}]}],
        },
    ),
    (
        "负责人把商机标记为输单后，要求区域经理复核",
        {
            "trigger": {"type": "record_event", "event": "opportunity.lost"},
            "actions": [
                {"type": "require_confirmation", "by": {"kind": "role", "value": "regional_manager"}}
            ],
        },
    ),
    (
        "合同签了以后，自动创建任务给交付经理：准备实施方案",
        {"actions": [{"type": "create_task", "title": "准备实施方案"}]},
    ),
    (
        "当有新的报价创建时，如果折扣高于30%，提交销售副总裁审批",
        {
            "trigger": {"type": "record_event", "event": "quote.created"},
            "conditions": [{"field": "quote.discount_pct", "op": "gt", "value": 30}],
            "actions": [
                {"type": "require_approval", "routes": {}, "default": {"kind": "role", "value": "sales_vp"}}
            ],
        },
    ),
    (
        "如果报价折扣超过20%，战略客户需销售副总裁审批，否则区域经理审批",
        {
            "conditions": [{"field": "quote.discount_pct", "op": "gt", "value": 20}],
            "actions": [
                {
                    "type": "require_approval",
                    "routes": {"strategic": {"kind": "role", "value": "sales_vp"}},
                    "default": {"kind": "role", "value": "regional_manager"},
                }
            ],
        },
    ),
    (
        "商机进入赢单阶段后，用邮件和钉钉通知实施总监和交付经理",
        {"actions": [{"type": "notify", "channels": ["email", "dingtalk"]}]},
    ),
    (
        "商机创建后24小时内没有任何活动，提醒负责人",
        {
            "trigger": {"type": "record_event", "event": "opportunity.created"},
            "wait": {"duration": "PT24H", "unless": [{"event": "activity.created"}]},
        },
    ),
    (
        "当医疗行业的客户抱怨价格太高时，通知区域经理",
        {"trigger": {"type": "signal", "keyword": "价格太高", "industry": "medical"}},
    ),
    (
        "商机金额不少于50万且阶段是报价时，通知销售副总裁",
        {
            "conditions": [
                {"field": "opportunity.amount", "op": "gte", "value": 500000},
                {"field": "opportunity.stage", "op": "eq", "value": "proposal"},
            ]
        },
    ),
    ("每月1号上午10点把预测汇总发给所有经理", {"trigger": {"type": "schedule", "cron": "0 10 1 * *"}}),
]

# A quantified group of people is a role, never the record's owner (blind-test findings).
REPS = {"kind": "role", "value": "rep"}
MANAGERS = {"kind": "role", "value": "manager"}
NO_MEETING_3D = {"duration": "P3D", "unless": [{"event": "activity.created", "same_record": True}]}
CASES += [
    (
        "每天早上8点提醒所有销售代表跟进",
        {
            "trigger": {"type": "schedule", "cron": "0 8 * * *"},
            "actions": [{"type": "notify", "recipients": [REPS], "message": "跟进"}],
        },
    ),
    ("每天早上8点提醒所有经理跟进", {"actions": [{"type": "notify", "recipients": [MANAGERS]}]}),
    ("每周一提醒全体销售代表更新商机", {"actions": [{"type": "notify", "recipients": [REPS]}]}),
    ("每天下午5点通知每位销售", {"actions": [{"type": "notify", "recipients": [REPS]}]}),
    ("每天通知各位业务员", {"actions": [{"type": "notify", "recipients": [REPS]}]}),
    ("每天上午9点通知全部实施总监", {"actions": [{"type": "notify", "recipients": [DIRECTOR]}]}),
    # no meeting within a window: the "no follow-up" wait, on any activity (with a warning)
    (
        "合同签署后三天内没有安排会议的话，提醒客户负责人",
        {
            "trigger": {"type": "record_event", "event": "contract.signed"},
            "wait": NO_MEETING_3D,
            "actions": [{"type": "notify", "recipients": [{"kind": "relation", "value": "account_owner"}]}],
        },
    ),
    # a task's title after a colon, and its due window past a comma
    (
        "报价被接受后，创建任务给负责人：准备合同，两天内完成",
        {
            "trigger": {"type": "record_event", "event": "quote.accepted"},
            "actions": [{"type": "create_task", "assignee": OWNER, "title": "准备合同", "due_in": "P2D"}],
        },
    ),
]

# Sentences written the way a sales manager would (second blind test).
CASES += [
    (
        "报价折扣超过20%时需要销售副总裁审批",
        {
            "conditions": [{"field": "quote.discount_pct", "op": "gt", "value": 20}],
            "actions": [{"type": "require_approval", "default": {"kind": "role", "value": "sales_vp"}}],
        },
    ),
    (
        "每周五下午4点用邮件提醒所有销售代表更新商机",
        {
            "trigger": {"type": "schedule", "cron": "0 16 * * 5"},
            "actions": [
                {"type": "notify", "recipients": [REPS], "channels": ["email"], "message": "更新商机"}
            ],
        },
    ),
    (
        "商机阶段变为谈判时，创建任务给负责人：准备报价单，三天内完成",
        {
            "trigger": {"type": "record_changed", "field": "stage", "to": "negotiation"},
            "actions": [{"type": "create_task", "assignee": OWNER, "title": "准备报价单", "due_in": "P3D"}],
        },
    ),
    (
        "新建工单后24小时内没有跟进，钉钉通知负责人的上级",
        {
            "trigger": {"type": "record_event", "event": "ticket.created"},
            "wait": {"duration": "PT24H", "unless": [{"event": "activity.created"}]},
            "actions": [
                {
                    "type": "notify",
                    "recipients": [{"kind": "relation", "value": "owner_manager"}],
                    "channels": ["dingtalk"],
                }
            ],
        },
    ),
    (
        "合同签署后，安排交付启动会，参会人为负责人和实施总监",
        {
            "trigger": {"type": "record_event", "event": "contract.signed"},
            "actions": [{"type": "create_meeting", "title": "交付启动会", "attendees": [OWNER, DIRECTOR]}],
        },
    ),
    (
        "商机输单后，给负责人创建一个复盘任务，一周内完成",
        {
            "trigger": {"type": "record_event", "event": "opportunity.lost"},
            "actions": [{"type": "create_task", "assignee": OWNER, "title": "复盘", "due_in": "P7D"}],
        },
    ),
    (
        "客户在一周内下载DSA对比表两次以上，标记为高意向并通知负责人",
        {
            "trigger": {
                "type": "behaviour",
                "event": "download",
                "asset": {"key": "dsa-comparison"},
                "count_at_least": 2,
                "within": "P7D",
            },
            "actions": [{"type": "tag", "tag": "高意向"}, {"type": "notify", "recipients": [OWNER]}],
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[text[:24] for text, _ in CASES])
def test_sentence_compiles(text: str, expected: dict[str, Any]) -> None:
    result, ir = compiled(text)
    contains(ir, expected)
    assert ir["source"] == {"text": text, "lang": "zh"}
    assert result.readback_zh.endswith("。") and result.readback_en.endswith(".")


def test_read_back_names_things_by_their_display_names() -> None:
    result, _ = compiled("报价发出后48小时内没有跟进，通知负责人的经理")
    assert (
        result.readback_zh
        == "当报价发出时，等待 48 小时（期间如果有新的跟进活动则停止），然后通知负责人的经理。"
    )
    assert "48 hours" in result.readback_en and "owner's manager" in result.readback_en


def test_read_back_is_generated_not_echoed() -> None:
    text = "一旦客户的POC测试通过、预算获批，就自动召开交付启动会并提醒实施总监"
    result, _ = compiled(text)
    assert result.readback_zh != text
    assert "“方案与测试”" in result.readback_zh and "“报价”" in result.readback_zh
    assert "实施总监" in result.readback_zh and "交付启动会" in result.readback_zh


def test_poc_reading_is_explained_in_a_warning() -> None:
    result, _ = compiled("POC通过后通知实施总监")
    assert any("方案与测试" in warning for warning in result.warnings)


def test_a_stage_named_poc_passed_is_used_directly() -> None:
    from pathcast.automation.language.vocabulary import StageInfo

    vocabulary = VOCABULARY.with_data(stages=[StageInfo("poc_passed", "POC passed", "POC通过", "open", 9)])
    ir = compile_rule("POC测试通过后通知实施总监", "zh", vocabulary).ir
    assert ir.model_dump(by_alias=True)["trigger"] == {
        "type": "record_changed",
        "entity": "opportunity",
        "field": "stage",
        "from": None,
        "to": "poc_passed",
    }


def test_full_width_punctuation_and_spacing_do_not_matter() -> None:
    _, plain = compiled("商机赢单后，通知负责人")
    _, spaced = compiled("  商机 赢单 后 ， 通知 负责人 。")
    _, wide = compiled("商机赢单后,通知负责人.")
    assert plain["trigger"] == spaced["trigger"] == wide["trigger"]
    assert plain["actions"] == spaced["actions"] == wide["actions"]


@pytest.mark.parametrize("text", ["每天通知所有负责人", "每天提醒所有客户负责人"])
def test_a_quantified_relation_is_refused_not_read_as_the_owner(text: str) -> None:
    with pytest.raises(CompileError) as caught:
        compile_rule(text, "zh", VOCABULARY)
    assert caught.value.code == "ambiguous"
    assert text[caught.value.span[0] : caught.value.span[1]].startswith("所有")
    assert "所有销售代表" in caught.value.suggestions


def test_no_meeting_is_read_as_no_activity_with_a_warning() -> None:
    result, _ = compiled("合同签署后三天内没有安排会议的话，提醒客户负责人")
    assert any("会议" in warning for warning in result.warnings)
