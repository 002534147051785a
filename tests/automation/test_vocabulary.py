"""The vocabulary comes from the live schema and data (SQLite and PostgreSQL): stages,
positions, assets, documents, connectors, industries; and the sentences of the issue compile
against it. Without a database, ``Vocabulary.default()`` still knows the schema."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.automation.language import CompileError, Vocabulary, build_vocabulary, compile_rule
from pathcast.automation.language.catalog import CONTENT_SYNONYMS
from pathcast.automation.language.lexer import lexicon_for
from pathcast.automation.language.vocabulary import english_plural, name_surfaces
from pathcast.automation.models import Connector
from pathcast.crm import models as m
from pathcast.crm import service as crm
from pathcast.crm.service.pipelines import ensure_pipeline
from pathcast.signals.models import Asset
from pathcast.signals.service.sites import create_site
from tests import factories as f


def live_data(session: Session) -> None:
    """A pipeline, positions, assets, documents, a budget check connector and accounts."""
    f.pipeline(session)
    positions.ensure_default_positions(session, actor=f.SYSTEM)
    site = create_site(session, name="Website", allowed_origins=["https://example.com"], actor=f.SYSTEM)
    session.add_all(
        [
            Asset(site_id=site.id, key="/pricing", name="价格表 Pricing sheet", kind="page"),
            Asset(site_id=site.id, key="/dsa-compare", name="DSA介入耗材对比表", kind="document"),
        ]
    )
    crm.create_record(session, actor=f.SYSTEM, spec=crm.SPECS["document"], data={"name": "案例包 Case pack"})
    session.add(
        Connector(
            name="budget_approval",
            kind="http_check",
            config={"url": "https://erp.example.com/budget", "response_map": {"approved": "$.ok"}},
            aliases=["预算批复", "预算已批复", "budget approved"],
        )
    )
    session.add(Connector(name="erp_hook", kind="webhook", config={"url": "https://erp.example.com/hook"}))
    f.account(session, name="华东机床厂", industry="工业自动化 Industrial automation", tier="strategic")
    f.account(session, name="协和医院", industry="医疗器械 Medical devices")
    session.flush()


def test_default_vocabulary_needs_no_database() -> None:
    vocabulary = Vocabulary.default()
    assert {e.name for e in vocabulary.entities} >= {
        "opportunity",
        "account",
        "contact",
        "quote",
        "contract",
        "ticket",
        "activity",
    }
    assert vocabulary.field("quote.discount_pct") is not None
    assert vocabulary.field("opportunity.stage") is not None
    assert vocabulary.field("account.tier").values == ("strategic", "key", "standard")  # type: ignore[union-attr]
    # every other column is there by its own name
    assert vocabulary.field("contact.phone") is not None
    assert vocabulary.stages == () and vocabulary.assets == () and vocabulary.connectors == ()
    assert vocabulary.event("contract.signed").derived == ("status", "active")  # type: ignore[union-attr]
    assert vocabulary.person("relation", "account_csm") is not None


def test_default_vocabulary_compiles_what_needs_no_data() -> None:
    result = compile_rule("商机赢单后，通知负责人", "zh", Vocabulary.default())
    assert result.ir.model_dump()["trigger"] == {"type": "record_event", "event": "opportunity.won"}


def test_build_vocabulary_reads_the_live_data(session: Session) -> None:
    live_data(session)
    vocabulary = build_vocabulary(session)
    assert [stage.key for stage in vocabulary.stages][:4] == ["lead", "qualified", "discovery", "solution"]
    roles = {p.key for p in vocabulary.people if p.kind == "role"}
    assert {"implementation_director", "sales_vp", "regional_manager", "delivery_manager", "manager"} <= roles
    assert {a.key for a in vocabulary.assets} == {"/pricing", "/dsa-compare"}
    assert any(c.ref == "案例包 Case pack" for c in vocabulary.contents)
    budget = vocabulary.connector("budget_approval")
    assert budget is not None and budget.result_field == "approved" and "预算批复" in budget.aliases
    assert set(vocabulary.industries) == {"工业自动化 Industrial automation", "医疗器械 Medical devices"}
    assert vocabulary.live_industries("manufacturing") == ["工业自动化 Industrial automation"]
    # the same data gives the same fingerprint (and so the same cached lexer)
    assert build_vocabulary(session).fingerprint == vocabulary.fingerprint


def test_names_from_the_database_are_single_words(session: Session) -> None:
    live_data(session)
    vocabulary = build_vocabulary(session)
    surfaces = lexicon_for(vocabulary, "zh").surfaces
    assert "DSA介入耗材对比表" in surfaces["ASSET"]
    assert "实施总监" in surfaces["ROLE"] and "交付总监" in surfaces["ROLE"]
    assert "预算已批复" in surfaces["CONNECTOR"]
    assert "方案与测试" in surfaces["STAGE"]


def test_the_issue_sentences_compile_against_the_live_vocabulary(session: Session) -> None:
    live_data(session)
    vocabulary = build_vocabulary(session)
    first = compile_rule("当客户POC测试通过且预算批复后，自动触发交付启动会并通知实施总监", "zh", vocabulary)
    ir = first.ir.model_dump(mode="json", by_alias=True)
    assert ir["trigger"] == {
        "type": "record_changed",
        "entity": "opportunity",
        "field": "stage",
        "from": "solution",
        "to": "proposal",
    }
    assert ir["conditions"] == [
        {"field": "approved", "op": "eq", "value": True, "connector": "budget_approval"}
    ]
    assert [action["type"] for action in ir["actions"]] == ["create_meeting", "notify"]
    second = compile_rule(
        "if a contact views the pricing sheet 3 times in a week for over 90 s each, tag them high intent "
        "and send the case pack to the owner",
        "en",
        vocabulary,
    ).ir.model_dump(mode="json", by_alias=True)
    assert second["trigger"]["asset"] == {"key": "/pricing", "name": "价格表 Pricing sheet"}
    assert second["actions"][1]["content"] == "案例包 Case pack"
    approval = compile_rule(
        "报价折扣超过20%时需要审批：战略客户由销售副总裁审批，普通客户由区域经理审批", "zh", vocabulary
    ).ir.model_dump(mode="json", by_alias=True)
    assert approval["actions"][0]["routes"] == {
        "strategic": {"kind": "role", "value": "sales_vp"},
        "standard": {"kind": "role", "value": "regional_manager"},
    }


def test_industries_in_conditions_use_the_live_values(session: Session) -> None:
    live_data(session)
    vocabulary = build_vocabulary(session)
    ir = compile_rule("制造业客户的商机赢单后，通知实施总监", "zh", vocabulary).ir
    assert ir.model_dump()["conditions"] == [
        {
            "field": "account.industry",
            "op": "eq",
            "value": "工业自动化 Industrial automation",
            "connector": None,
        }
    ]


def test_a_webhook_connector_is_not_a_condition(session: Session) -> None:
    live_data(session)
    vocabulary = build_vocabulary(session)
    result = compile_rule("when a deal is won, call the webhook erp_hook", "en", vocabulary)
    assert result.ir.model_dump()["actions"] == [{"type": "webhook", "url": None, "connector": "erp_hook"}]
    with pytest.raises(CompileError) as caught:
        compile_rule("when a deal is won and erp_hook, notify the owner", "en", vocabulary)
    assert caught.value.code == "invalid_value"


def test_inactive_connectors_are_not_offered(session: Session) -> None:
    live_data(session)
    connector = session.query(Connector).filter_by(name="budget_approval").one()
    connector.is_active = False
    session.flush()
    with pytest.raises(CompileError) as caught:
        compile_rule("POC通过且预算批复后通知负责人", "zh", build_vocabulary(session))
    assert caught.value.code == "unknown_word"


def test_a_second_pipeline_does_not_shadow_the_default_stages(session: Session) -> None:
    live_data(session)
    other = ensure_pipeline(
        session,
        actor=f.SYSTEM,
        name="Renewals",
        stages=[("won", "Renewed", "续约成功", 100, m.StageClass.won)],
    )
    assert other.id
    vocabulary = build_vocabulary(session)
    won = [stage for stage in vocabulary.stages if stage.key == "won"]
    assert len(won) == 1 and won[0].pipeline == "Sales"


def test_name_helpers() -> None:
    forms = name_surfaces("价格表 Pricing sheet", "pricing-sheet", CONTENT_SYNONYMS)
    assert {"价格表", "Pricing sheet", "pricing sheet", "价目表"} <= set(forms)
    assert english_plural("opportunity") == "opportunities"
    assert english_plural("sales vp") == "sales vps"
    assert english_plural("实施总监") is None
