"""Demo rules: four sentences a sales manager of the demo company wrote, compiled against
the demo's own vocabulary and enabled, so the rule pages, runs and inbox have something
real to show and new events fire them. The last one is the renewal case: scoring renewal
risk (``pathcast forecast renewals``) brings the CSM in on the account the demo set up for it."""

from __future__ import annotations

from pathcast.automation.language import build_vocabulary, compile_rule
from pathcast.automation.service import rules
from pathcast.demo.aftersales import create_renewal_case
from pathcast.demo.context import Demo

DEMO_RULES: tuple[tuple[str, str, str], ...] = (
    ("赢单通知实施总监", "zh", "商机赢单后，通知实施总监和负责人"),
    (
        "DSA 高意向",
        "zh",
        "如果联系人一周内浏览“DSA介入耗材对比表”至少3次，每次超过90秒，就打上“高意向”标签并通知负责人",
    ),
    (
        "Discount approval",
        "en",
        "when a quote's discount is over 20%, require approval: strategic accounts by the sales VP, "
        "standard ones by the regional manager",
    ),
    (
        "续约风险：客户成功经理加入",
        "zh",
        "当客户续约风险高于0.7时，客户成功经理加入该客户的协作，并附上上季度工单处理时长",
    ),
)


def create_rules(demo: Demo) -> None:
    """Compile and enable the demo rules as the admin (who is a rule writer)."""
    assert demo.admin is not None
    # The renewal rule needs its case in the data; building it here (once) keeps it after every
    # account, ticket and visit, so none of those changes.
    create_renewal_case(demo)
    vocabulary = build_vocabulary(demo.session)
    for name, lang, text in DEMO_RULES:
        result = compile_rule(text, lang, vocabulary)  # type: ignore[arg-type]
        rule = rules.create_rule(
            demo.session,
            name=name,
            text=text,
            lang=lang,
            ir=result.ir,
            readback_zh=result.readback_zh,
            readback_en=result.readback_en,
            actor=demo.admin,
        )
        rules.enable_rule(demo.session, rule_id=rule.id, actor=demo.admin)
