"""Radar signals end to end: a recorded feed polled from a local server, analysed against
crm, graded, reported as ``radar.signal``, matched by an automation rule, corrected."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth import positions
from pathcast.auth.models import Role
from pathcast.automation.engine.matcher import CompiledRule, Fact, RuleIndex
from pathcast.automation.engine.records import Records
from pathcast.automation.ir import RuleIR
from pathcast.automation.language import CompileError, Vocabulary, compile_rule
from pathcast.automation.models import Notification
from pathcast.errors import InvalidInput, PermissionDenied
from pathcast.events import Event
from pathcast.radar import models as m
from pathcast.radar.service import routing, settings, signals, sources
from tests import factories
from tests.radar.test_sources import FIXTURES, _Server

ADMIN = factories.SYSTEM
COMPLAINT = "恒泰精密：交付延迟了两周，产线停了，我们非常不满意"
CONSULTING_COMPLAINT = "博远咨询：交付延迟了两周，产线停了，我们非常不满意"
FEED = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>工控论坛</title><link>https://forum.example.com</link>
<description>recorded</description>
<item><title>交付延迟投诉</title><link>https://forum.example.com/t/2001</link>
<guid isPermaLink="false">forum-2001</guid><pubDate>Mon, 23 Nov 2026 08:00:00 +0800</pubDate>
<description>{COMPLAINT}</description></item>
<item><title>同样的交付延迟</title><link>https://forum.example.com/t/2002</link>
<guid isPermaLink="false">forum-2002</guid><pubDate>Mon, 23 Nov 2026 09:00:00 +0800</pubDate>
<description>{CONSULTING_COMPLAINT}</description></item>
<item><title>Tip: faster ladder logic reviews</title><link>https://forum.example.com/t/2003</link>
<guid isPermaLink="false">forum-2003</guid><pubDate>Mon, 23 Nov 2026 10:00:00 +0800</pubDate>
<description>小技巧分享：恒泰精密的产线调试教程，按这个步骤就搞定了，非常好用</description></item>
</channel></rss>
"""
RULE_TEXT = "制造业客户提到交付延迟且情绪负面时，通知客户负责人"


@pytest.fixture
def feed_url(tmp_path: Path) -> Iterator[str]:
    """A local server with the recorded fixtures plus a feed naming the company's accounts."""
    root = tmp_path / "site"
    root.mkdir()
    for file in FIXTURES.iterdir():
        (root / file.name).write_bytes(file.read_bytes())
    (root / "accounts.xml").write_text(FEED, encoding="utf-8")
    server = _Server(root)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/accounts.xml"
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def company(session: Session) -> dict[str, Any]:
    """A manufacturer and a consultancy owned by one rep, and a delivery manager."""
    owner = factories.user(session, "owner@example.com", role=Role.rep)
    delivery = factories.user(session, "delivery@example.com", role=Role.member)
    plans = positions.ensure_default_positions(session, actor=ADMIN)
    positions.assign_position(session, user=delivery, position=plans["delivery_manager"], actor=ADMIN)
    maker = factories.account(
        session, name="恒泰精密制造有限公司", industry="制造业", tier="key", owner_id=owner.id
    )
    advisor = factories.account(
        session, name="博远咨询有限公司", industry="咨询", tier="key", owner_id=owner.id
    )
    return {"owner": owner, "delivery": delivery, "maker": maker, "advisor": advisor}


def _poll(session: Session, url: str) -> routing.PollOutcome:
    source = sources.create_source(session, actor=ADMIN, name="forum", kind="rss", config={"url": url})
    return routing.poll_analyse_route(session, actor=ADMIN, source=source)


def _events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def _signal_for(session: Session, account_id: int) -> m.Signal:
    found = session.scalars(select(m.Signal).where(m.Signal.account_id == account_id)).all()
    assert len(found) >= 1
    return next(signal for signal in found if signal.intent != "tip_praise")


def test_a_manufacturer_delivery_complaint_is_graded_reported_and_routed(
    session: Session, company: dict[str, Any], feed_url: str
) -> None:
    outcome = _poll(session, feed_url)
    assert outcome.poll.health == "ok"
    assert outcome.poll.stored == 3
    assert len(outcome.analysed) == 3

    maker_signal = _signal_for(session, company["maker"].id)
    advisor_signal = _signal_for(session, company["advisor"].id)
    # The same sentence grades higher for the manufacturer than for the consultancy.
    assert maker_signal.severity in ("P1", "P2")
    assert maker_signal.score > advisor_signal.score
    assert maker_signal.industry == "manufacturing" and advisor_signal.industry == "consulting"
    item = session.get(m.Item, maker_signal.item_id)
    assert item is not None and item.severity == maker_signal.severity
    assert item.analysis is not None and item.analysis["account_id"] == company["maker"].id

    reported = [e for e in _events(session, "radar.signal") if e.entity_id == str(maker_signal.item_id)]
    assert len(reported) == 1
    payload = reported[0].payload
    assert reported[0].entity == "radar_item"
    assert "交付延迟" in payload["keywords"]
    assert payload["industry"] == "manufacturing"
    assert payload["polarity"] == "negative"
    assert payload["severity"] == maker_signal.severity
    assert payload["account_id"] == company["maker"].id
    assert payload["source"] == "forum" and payload["url"] == "https://forum.example.com/t/2001"

    # The tip post names the manufacturer too, but is no complaint and reaches nobody.
    tip = session.scalars(select(m.Signal).where(m.Signal.intent == "tip_praise")).one()
    assert tip.severity in ("P3", "P4")

    owner_notes = list(
        session.scalars(select(Notification).where(Notification.user_id == company["owner"].id))
    )
    assert any("交付延迟投诉" in note.title for note in owner_notes)
    routed = _events(session, "radar.signal_routed")
    assert {e.payload["user_id"] for e in routed if e.entity_id == str(maker_signal.item_id)} >= {
        company["owner"].id
    }
    if maker_signal.severity == "P1":
        delivery_notes = session.scalars(
            select(Notification).where(Notification.user_id == company["delivery"].id)
        ).all()
        assert len(delivery_notes) >= 1

    # Routing again reaches nobody twice.
    again = routing.route_pending(session, actor=ADMIN, item_ids=[maker_signal.item_id])
    assert again[0].notified == [] and company["owner"].id in again[0].already


@pytest.fixture(scope="module")
def rule_ir() -> RuleIR:
    """The issue's rule, compiled once (loading the grammar takes a few seconds)."""
    try:
        return compile_rule(RULE_TEXT, "zh", Vocabulary.sample()).ir
    except CompileError:
        return RuleIR.model_validate(
            {
                "trigger": {
                    "type": "signal",
                    "keyword": "交付延迟",
                    "industry": "manufacturing",
                    "polarity": "negative",
                },
                "actions": [
                    {"type": "notify", "recipients": [{"kind": "relation", "value": "account_owner"}]}
                ],
            }
        )


def test_a_signal_rule_matches_the_reported_event(
    session: Session, company: dict[str, Any], feed_url: str, rule_ir: RuleIR
) -> None:
    assert rule_ir.trigger.type == "signal"
    _poll(session, feed_url)
    ir = rule_ir
    index = RuleIndex([CompiledRule(rule_id=1, version=1, name="交付延迟", ir=ir, enabled_from_event_id=0)])
    maker_signal = _signal_for(session, company["maker"].id)
    advisor_signal = _signal_for(session, company["advisor"].id)
    by_item = {e.entity_id: e for e in _events(session, "radar.signal")}

    def fact(event: Event) -> Fact:
        return Fact(event.id, event.type, event.entity, event.entity_id, event.payload, event.occurred_at)

    assert [c.rule.rule_id for c in index.match(fact(by_item[str(maker_signal.item_id)]))] == [1]
    # The engine finds the run's account (for "notify the account owner") from the item's events.
    subject = Records(session).subject("radar_item", maker_signal.item_id)
    assert subject.account_id == company["maker"].id
    # The consultancy's complaint is not a manufacturing signal.
    assert index.match(fact(by_item[str(advisor_signal.item_id)])) == []


def test_a_correction_changes_severity_is_logged_and_exported(
    session: Session, company: dict[str, Any], feed_url: str
) -> None:
    _poll(session, feed_url)
    advisor_signal = _signal_for(session, company["advisor"].id)
    model_level = advisor_signal.severity
    rep = factories.actor(company["owner"])
    item = signals.correct_signal(
        session,
        actor=rep,
        item_id=advisor_signal.item_id,
        field="severity",
        value="P1",
        note="客户在续约评估",
    )
    assert item.severity == "P1" and advisor_signal.severity == "P1" and advisor_signal.corrected
    assert item.analysis is not None and item.analysis["grade"]["level"] == "P1"
    corrected = _events(session, "radar.signal_corrected")
    assert corrected[-1].payload["from"] == model_level and corrected[-1].payload["to"] == "P1"
    assert corrected[-1].payload["after"] == {"severity": "P1"}
    signals.correct_signal(
        session, actor=rep, item_id=advisor_signal.item_id, field="polarity", value="neutral"
    )

    rows = signals.export_corrections(session)
    by_field = {row["field"]: row for row in rows}
    assert by_field["severity"]["label"] == "P1" and by_field["severity"]["model_label"] == model_level
    assert CONSULTING_COMPLAINT in by_field["severity"]["text"]
    assert by_field["polarity"]["label"] == "neutral"

    with pytest.raises(InvalidInput) as bad:
        signals.correct_signal(
            session, actor=rep, item_id=advisor_signal.item_id, field="severity", value="P9"
        )
    assert bad.value.errors[0].field == "value"
    member = factories.actor(company["delivery"])
    with pytest.raises(PermissionDenied):
        signals.correct_signal(
            session, actor=member, item_id=advisor_signal.item_id, field="severity", value="P2"
        )


def test_analysing_again_keeps_what_a_rep_corrected(
    session: Session, company: dict[str, Any], feed_url: str
) -> None:
    # A weight edit re-analyses every signal; it used to reset the rep's corrections.
    _poll(session, feed_url)
    signal = _signal_for(session, company["advisor"].id)
    rep = factories.actor(company["owner"])
    signals.correct_signal(session, actor=rep, item_id=signal.item_id, field="severity", value="P1")
    signals.correct_signal(session, actor=rep, item_id=signal.item_id, field="intent", value="question_need")
    item = session.get(m.Item, signal.item_id)
    assert item is not None
    signals.analyse_item(session, item=item, actor=ADMIN)
    assert (signal.severity, signal.intent, signal.corrected) == ("P1", "question_need", True)
    assert item.severity == "P1" and item.analysis is not None
    assert item.analysis["grade"]["level"] == "P1" and item.analysis["intent"]["label"] == "question_need"
    assert [c["field"] for c in item.analysis["corrections"]] == ["severity", "intent"]


def test_polarity_corrections_become_training_rows(
    session: Session, company: dict[str, Any], feed_url: str, configured: str, tmp_path: Path
) -> None:
    import csv
    import json

    from typer.testing import CliRunner

    from pathcast.radar.cli import radar_app

    _poll(session, feed_url)
    signal = _signal_for(session, company["advisor"].id)
    rep = factories.actor(company["owner"])
    signals.correct_signal(session, actor=rep, item_id=signal.item_id, field="polarity", value="positive")
    tip = session.scalars(select(m.Signal).where(m.Signal.intent == "tip_praise")).first()
    assert tip is not None
    signals.correct_signal(session, actor=rep, item_id=tip.item_id, field="polarity", value="neutral")
    session.commit()
    path = tmp_path / "reviews.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "label"])
        writer.writerows([["质量很好非常满意", "1"], ["太差了很失望", "0"]] * 6)
    result = CliRunner().invoke(
        radar_app,
        [
            "train",
            str(path),
            "--text-column",
            "review",
            "--label-column",
            "label",
            "--folds",
            "0",
            "--with-corrections",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # the positive correction joins as label "1"; "neutral" has no place in a 0/1 file
    assert report["corrections"] == {"corrections_added": 1, "corrections_skipped": 1}
    assert report["dataset"]["rows_used"] == 13 and report["dataset"]["label_counts"]["1"] == 7


def test_weights_edit_regrades_and_names_the_bad_cell(session: Session, company: dict[str, Any]) -> None:
    manager = factories.actor(factories.user(session, "boss@example.com", role=Role.manager))
    table = settings.get_weights(session, actor=manager)
    table["industries"]["consulting"]["weights"]["delivery_delay"] = 3
    settings.put_weights(session, actor=manager, table=table)
    assert settings.weight_table(session).weight("consulting", "delivery_delay") == 3
    assert _events(session, "radar.settings_changed")[-1].payload["key"] == "weights"

    table["industries"]["consulting"]["weights"]["price"] = 7
    with pytest.raises(InvalidInput) as bad:
        settings.put_weights(session, actor=manager, table=table)
    assert bad.value.errors[0].field == "industries.consulting.weights.price"
    rep = factories.actor(company["owner"])
    with pytest.raises(PermissionDenied):
        settings.put_weights(session, actor=rep, table=settings.get_weights(session, actor=rep))


def test_competitors_are_linked_and_become_keywords(session: Session, company: dict[str, Any]) -> None:
    settings.save_competitor(session, actor=ADMIN, name="西门子", aliases=["Siemens"], products=["S7-1500"])
    source = sources.create_source(
        session, actor=ADMIN, name="notes", kind="rss", config={"url": "http://127.0.0.1:9/feed.xml"}
    )
    session.add(
        m.Item(
            source_id=source.id,
            external_id="n1",
            title="对比",
            text="我们在比较 Siemens 和你们的控制器，哪个兼容性更好？",
            content_hash="0" * 64,
            fetched_at=source.created_at,
            extra={},
        )
    )
    session.flush()
    assert signals.analyse_pending(session, actor=ADMIN) == 1
    event = _events(session, "radar.signal")[-1]
    assert "西门子" in event.payload["keywords"]
    assert signals.analyse_pending(session, actor=ADMIN) == 0


def test_a_background_round_polls_analyses_and_routes_once(
    session: Session, db_url: str, company: dict[str, Any], feed_url: str
) -> None:
    from pathcast.radar import tasks

    sources.create_source(session, actor=ADMIN, name="forum", kind="rss", config={"url": feed_url})
    session.commit()
    first = tasks.run_once(db_url)
    assert [poll.stored for poll in first.polls] == [3]
    assert first.analysed == 3 and first.notified >= 1
    # Nothing is due, nothing pending: a second round does nothing and notifies nobody.
    second = tasks.run_once(db_url)
    assert second.polls == [] and second.analysed == 0 and second.notified == 0
