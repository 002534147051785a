"""The automation API and CLI: compile with read-back and precise errors, rules with
versions, enable/disable, dry-run over the demo history, then live fires."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from pathcast.automation.models import Run
from pathcast.cli import app
from pathcast.crm import models as crm_models
from pathcast.crm.service import change_stage
from pathcast.demo.loader import load_demo
from tests import factories
from tests.automation.engine_support import FakeClock, run_engine
from tests.signals.conftest import application, client, company

__all__ = ["application", "client", "company"]

runner = CliRunner()
WON_RULE_ZH = "商机赢单后，通知负责人"
WON_RULE_EN = "when a deal is won, notify the owner"


def test_compile_answers_the_ir_and_both_readbacks(client: TestClient, company: dict[str, Any]) -> None:
    manager = company["headers"]["east_manager"]
    for text, lang in ((WON_RULE_ZH, "zh"), (WON_RULE_EN, "en")):
        answer = client.post("/api/v1/rules/compile", json={"text": text, "lang": lang}, headers=manager)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["ir"]["trigger"] == {"type": "record_event", "event": "opportunity.won"}
        assert body["ir"]["actions"][0]["type"] == "notify"
        assert body["ir"]["actions"][0]["recipients"] == [{"kind": "relation", "value": "owner"}]
        assert body["readback"]["zh"] and body["readback"]["en"]
    schema = client.get("/api/v1/rules/schema", headers=manager).json()
    assert "trigger" in schema["properties"]


def test_compile_errors_name_the_span_and_suggest(client: TestClient, company: dict[str, Any]) -> None:
    manager = company["headers"]["east_manager"]
    text = "if a deel is won notify the owner"
    answer = client.post("/api/v1/rules/compile", json={"text": text, "lang": "en"}, headers=manager)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    [error] = answer.json()["errors"]
    start, end = error["span"]
    assert text[start:end] == "deel"
    assert any("deal" in suggestion for suggestion in error["suggestions"])
    pronoun = client.post(
        "/api/v1/rules/compile", json={"text": "商机输单后，通知他", "lang": "zh"}, headers=manager
    )
    assert pronoun.status_code == 422 and pronoun.json()["code"] == "unresolved_pronoun"
    [error] = pronoun.json()["errors"]
    assert "商机输单后，通知他"[error["span"][0] : error["span"][1]] == "他"


def test_rules_are_versioned_and_permissioned(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]
    manager, rep, member = headers["east_manager"], headers["east_rep"], headers["member"]
    created = client.post("/api/v1/rules", json={"text": WON_RULE_ZH, "lang": "zh"}, headers=manager)
    assert created.status_code == 201, created.text
    rule_id = created.json()["rule"]["id"]
    assert created.json()["rule"]["is_enabled"] is False
    edited = client.put(f"/api/v1/rules/{rule_id}", json={"text": WON_RULE_EN, "lang": "en"}, headers=manager)
    assert edited.status_code == 200 and edited.json()["rule"]["current_version"] == 2
    versions = client.get(f"/api/v1/rules/{rule_id}/versions", headers=manager).json()
    assert [(v["version"], v["lang"]) for v in versions] == [(1, "zh"), (2, "en")]
    assert (
        client.post(f"/api/v1/rules/{rule_id}/enable", headers=manager).json()["rule"]["is_enabled"] is True
    )
    # Reps read rules; they neither write them nor replay history. Members see nothing.
    assert client.get(f"/api/v1/rules/{rule_id}", headers=rep).status_code == 200
    assert client.post("/api/v1/rules", json={"text": WON_RULE_ZH}, headers=rep).status_code == 403
    assert client.post(f"/api/v1/rules/{rule_id}/disable", headers=rep).status_code in (403, 404)
    window = {"since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
    assert client.post(f"/api/v1/rules/{rule_id}/dry-run", json=window, headers=rep).status_code == 403
    for path, body in (
        ("/api/v1/rules/compile", {"text": WON_RULE_ZH}),
        ("/api/v1/rules", {"text": WON_RULE_ZH}),
    ):
        assert client.post(path, json=body, headers=member).status_code == 403
    assert client.get("/api/v1/rules/schema", headers=member).status_code == 403
    bad = client.post("/api/v1/rules", json={"text": "商机输单后，通知他"}, headers=manager)
    assert bad.status_code == 422
    listed = client.get("/api/v1/rules", headers=manager).json()
    assert [row["rule"]["id"] for row in listed] == [rule_id]


def test_dry_run_over_the_demo_then_enabled_rule_fires(session: Session, configured: str) -> None:
    load_demo(session, accounts=6, seed=7)
    session.commit()
    today = datetime.now(UTC)
    result = runner.invoke(
        app,
        ["rules", "dry-run", WON_RULE_ZH, "--since", (today - timedelta(days=900)).date().isoformat(),
         "--until", today.date().isoformat(), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    fires = json.loads(result.stdout)["fires"]
    won = session.scalar(
        select(crm_models.Opportunity.id).where(crm_models.Opportunity.status == "won").limit(1)
    )
    assert fires, "the demo has won deals: the dry-run should find them"
    assert all(fire["subject"]["entity"] == "opportunity" for fire in fires)
    assert all(fire["actions"] for fire in fires)
    assert won is not None
    session.commit()

    demo_rules = len(json.loads(runner.invoke(app, ["rules", "list", "--json"]).stdout))
    created = runner.invoke(app, ["rules", "create", WON_RULE_ZH, "--enable", "--json"])
    assert created.exit_code == 0, created.output
    rule_id = json.loads(created.stdout)["id"]
    listed = runner.invoke(app, ["rules", "list", "--json"])
    # The demo's own rules are listed too (a new demo rule must not break this count).
    assert rule_id in [row["id"] for row in json.loads(listed.stdout)]
    assert demo_rules >= 5 and len(json.loads(listed.stdout)) == demo_rules + 1
    assert json.loads(runner.invoke(app, ["rules", "show", str(rule_id)]).stdout)["is_enabled"] is True

    # A new win after enabling fires the rule; the old history does not.
    actor = factories.SYSTEM
    deal = session.scalars(
        select(crm_models.Opportunity).where(crm_models.Opportunity.status == "open").limit(1)
    ).one()
    won_stage = session.scalars(
        select(crm_models.Stage).where(
            crm_models.Stage.pipeline_id == deal.pipeline_id, crm_models.Stage.status_class == "won"
        )
    ).one()
    change_stage(session, actor=actor, opportunity=deal, to_stage_id=won_stage.id)
    run_engine(session, configured, FakeClock())
    deal_id = deal.id
    runs = list(session.scalars(select(Run).where(Run.rule_id == rule_id)))
    assert len(runs) == 1 and runs[0].subject_id == str(deal_id)
    session.commit()  # SQLite: release the write lock before the CLI writes
    disabled = runner.invoke(app, ["rules", "disable", str(rule_id), "--json"])
    assert disabled.exit_code == 0 and json.loads(disabled.stdout)["is_enabled"] is False


def test_cli_compile_reports_errors_with_exit_code_2(configured: str) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    good = runner.invoke(app, ["rules", "compile", WON_RULE_EN, "--lang", "en", "--json"])
    assert good.exit_code == 0, good.output
    assert json.loads(good.stdout)["ir"]["trigger"]["event"] == "opportunity.won"
    bad = runner.invoke(app, ["rules", "compile", "商机输单后，通知他", "--json"])
    assert bad.exit_code == 2
    assert json.loads(bad.stdout)["error"] == "unresolved_pronoun"
    assert runner.invoke(app, ["rules", "compile", "x", "--lang", "fr"]).exit_code == 1
