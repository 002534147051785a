"""Radar API: sources (admin), scoped signals, corrections, weights, topics, competitors, refusals."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.radar.api import router
from tests import factories
from tests.api.conftest import client, company
from tests.radar.test_sources import FIXTURES, _Server

__all__ = ["client", "company"]

API = "/api/v1/radar"
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>工控论坛</title><link>https://forum.example.com</link>
<description>recorded</description>
<item><title>东方机床交付延迟</title><link>https://forum.example.com/t/1</link><guid>t1</guid>
<description>东方精工机床：交付延迟了两周，产线停了，我们非常不满意</description></item>
<item><title>西部交付延迟</title><link>https://forum.example.com/t/2</link><guid>t2</guid>
<description>西域重工装备：交付延迟了三周，非常不满意</description></item>
<item><title>PLC 兼容性求助</title><link>https://forum.example.com/t/3</link><guid>t3</guid>
<description>Modbus 设备和新控制器兼容性不好，有人遇到过吗？</description></item>
</channel></rss>
"""


@pytest.fixture(scope="module")
def application() -> FastAPI:
    """The app, with the radar router mounted if app.py does not mount it yet."""
    app = create_app()
    if not any(getattr(route, "path", "").startswith(API) for route in app.routes):
        app.include_router(router, prefix="/api/v1")
    return app


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
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def polled(client: TestClient, company: dict[str, Any], session: Session, feed_url: str) -> dict[str, Any]:
    """East and West manufacturers, each owned by its team's rep, and the feed polled."""
    east = factories.account(
        session, name="东方精工机床有限公司", industry="制造业", owner_id=company["east_rep"].id
    )
    west = factories.account(
        session, name="西域重工装备有限公司", industry="制造业", owner_id=company["west_rep"].id
    )
    session.commit()
    admin = company["headers"]["admin"]
    created = client.post(
        f"{API}/sources",
        json={"name": "forum", "kind": "rss", "config": {"url": f"{feed_url}/accounts.xml"}},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    source_id = created.json()["id"]
    polled = client.post(f"{API}/sources/{source_id}/poll", headers=admin)
    assert polled.status_code == 200, polled.text
    assert polled.json()["stored"] == 3 and polled.json()["analysed"] == 3
    signals = client.get(f"{API}/signals", headers=admin).json()
    by_account = {row["account_id"]: row for row in signals}
    return {"east": east, "west": west, "source_id": source_id, "signals": signals, "by_account": by_account}


def test_sources_are_admin_only_and_report_health(
    client: TestClient, company: dict[str, Any], feed_url: str
) -> None:
    headers = company["headers"]
    body = {"name": "bids", "kind": "html_list", "config": {"url": f"{feed_url}/bidding_changed.html"}}
    refused = client.post(f"{API}/sources", json=body, headers=headers["east_rep"])
    assert refused.status_code == 403 and refused.headers["content-type"].startswith(
        "application/problem+json"
    )
    bad = client.post(f"{API}/sources", json=body, headers=headers["admin"])
    assert bad.status_code == 422
    assert any(error["field"].startswith("config.") for error in bad.json()["errors"])
    body["config"]["selectors"] = {"item": "tr.notice", "title": "td.title a"}
    made = client.post(f"{API}/sources", json=body, headers=headers["admin"])
    assert made.status_code == 201, made.text
    source_id = made.json()["id"]
    changed = client.patch(
        f"{API}/sources/{source_id}", json={"poll_interval_seconds": 600}, headers=headers["admin"]
    )
    assert changed.status_code == 200 and changed.json()["poll_interval_seconds"] == 600
    poll = client.post(f"{API}/sources/{source_id}/poll", headers=headers["admin"])
    assert poll.status_code == 200 and poll.json()["health"] == "unhealthy"
    assert poll.json()["failure_code"] == "layout_changed"
    listed = client.get(f"{API}/sources", headers=headers["admin"]).json()
    assert listed[0]["health_code"] == "layout_changed"
    assert client.get(f"{API}/sources", headers=headers["east_manager"]).status_code == 403
    assert client.post(f"{API}/sources/{source_id}/poll", headers=headers["east_rep"]).status_code == 403


def test_signals_are_scoped_filtered_and_refused_to_members_and_customers(
    client: TestClient, company: dict[str, Any], polled: dict[str, Any]
) -> None:
    headers = company["headers"]
    east, west = polled["east"], polled["west"]
    assert polled["by_account"][east.id]["severity"] in ("P1", "P2")
    rep_view = client.get(f"{API}/signals", headers=headers["east_rep"])
    assert rep_view.status_code == 200
    seen = {row["account_id"] for row in rep_view.json()}
    # Their own account's signal and the unlinked public post; not the other team's account.
    assert seen == {east.id, None}
    west_id = polled["by_account"][west.id]["id"]
    assert client.get(f"{API}/signals/{west_id}", headers=headers["east_rep"]).status_code == 404
    detail = client.get(f"{API}/signals/{polled['by_account'][east.id]['id']}", headers=headers["east_rep"])
    assert detail.status_code == 200 and detail.json()["analysis"]["grade"]["reasons"]

    only_negative = client.get(
        f"{API}/signals", params={"polarity": "negative"}, headers=headers["admin"]
    ).json()
    assert only_negative and all(row["polarity"] == "negative" for row in only_negative)
    by_account = client.get(f"{API}/signals", params={"account_id": west.id}, headers=headers["admin"]).json()
    assert [row["account_id"] for row in by_account] == [west.id]
    bad = client.get(f"{API}/signals", params={"severity": "P7"}, headers=headers["admin"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "severity"

    for who in ("member", "customer"):
        refused = client.get(f"{API}/signals", headers=headers[who])
        assert refused.status_code == 403, who
        assert refused.json()["status"] == 403


def test_a_rep_corrects_a_signal_in_one_call(
    client: TestClient, company: dict[str, Any], polled: dict[str, Any]
) -> None:
    headers = company["headers"]
    signal_id = polled["by_account"][polled["east"].id]["id"]
    answer = client.post(
        f"{API}/signals/{signal_id}/corrections",
        json={"field": "severity", "value": "P4", "note": "已在跟进"},
        headers=headers["east_rep"],
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["severity"] == "P4" and answer.json()["corrected"] is True
    bad = client.post(
        f"{API}/signals/{signal_id}/corrections",
        json={"field": "intent", "value": "rant"},
        headers=headers["east_rep"],
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "value"
    west_id = polled["by_account"][polled["west"].id]["id"]
    hidden = client.post(
        f"{API}/signals/{west_id}/corrections",
        json={"field": "severity", "value": "P4"},
        headers=headers["east_rep"],
    )
    assert hidden.status_code == 404
    refused = client.post(
        f"{API}/signals/{signal_id}/corrections",
        json={"field": "severity", "value": "P4"},
        headers=headers["member"],
    )
    assert refused.status_code == 403


def test_weights_topics_and_competitors(client: TestClient, company: dict[str, Any]) -> None:
    headers = company["headers"]
    table = client.get(f"{API}/settings/weights", headers=headers["east_rep"])
    assert table.status_code == 200
    data = table.json()
    assert client.put(f"{API}/settings/weights", json=data, headers=headers["east_rep"]).status_code == 403
    data["industries"]["manufacturing"]["weights"]["price"] = "high"
    bad = client.put(f"{API}/settings/weights", json=data, headers=headers["east_manager"])
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "industries.manufacturing.weights.price"
    data["industries"]["manufacturing"]["weights"]["price"] = 3
    saved = client.put(f"{API}/settings/weights", json=data, headers=headers["east_manager"])
    assert saved.status_code == 200 and saved.json()["industries"]["manufacturing"]["weights"]["price"] == 3

    topics = client.get(f"{API}/settings/topics", headers=headers["admin"]).json()
    topics["topics"].append({"key": "energy", "label": {"zh": "能耗", "en": "Energy"}, "keywords": ["能耗"]})
    assert client.put(f"{API}/settings/topics", json=topics, headers=headers["admin"]).status_code == 200
    topics["topics"][-1]["keywords"] = "能耗"  # a text, not a list
    bad_topics = client.put(f"{API}/settings/topics", json=topics, headers=headers["admin"])
    assert bad_topics.status_code == 422 and bad_topics.json()["errors"][0]["field"].endswith(".keywords")

    competitor = {"name": "西门子", "aliases": ["Siemens"], "products": ["S7-1500"]}
    made = client.post(f"{API}/competitors", json=competitor, headers=headers["east_manager"])
    assert made.status_code == 201 and made.json()["aliases"] == ["Siemens"]
    assert client.post(f"{API}/competitors", json=competitor, headers=headers["admin"]).status_code == 409
    assert client.post(f"{API}/competitors", json=competitor, headers=headers["east_rep"]).status_code == 403
    listed = client.get(f"{API}/competitors", headers=headers["east_rep"])
    assert [row["name"] for row in listed.json()] == ["西门子"]
    assert client.get(f"{API}/competitors", headers=headers["customer"]).status_code == 403
    assert client.get(f"{API}/settings/weights", headers=headers["member"]).status_code == 403


def test_cli_adds_polls_and_lists(configured: str, session: Session, feed_url: str) -> None:
    import json

    from typer.testing import CliRunner

    import pathcast.radar.cli_ops  # noqa: F401  (registers the commands on radar_app)
    from pathcast.radar.cli import radar_app

    factories.account(session, name="东方精工机床有限公司", industry="制造业")
    session.commit()
    runner = CliRunner()
    added = runner.invoke(
        radar_app,
        [
            "source",
            "add",
            "forum",
            "--kind",
            "rss",
            "--url",
            f"{feed_url}/accounts.xml",
            "--set",
            "reach=2",
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["config"] == {"url": f"{feed_url}/accounts.xml", "reach": 2}
    again = runner.invoke(
        radar_app, ["source", "add", "forum", "--kind", "rss", "--url", f"{feed_url}/x.xml"]
    )
    assert again.exit_code == 1 and "forum" in again.output
    bad_kind = runner.invoke(radar_app, ["source", "add", "x", "--kind", "ftp", "--url", "http://x"])
    assert bad_kind.exit_code == 2

    polled = runner.invoke(radar_app, ["poll", "--source", "forum", "--json"])
    assert polled.exit_code == 0, polled.output
    report = json.loads(polled.stdout)
    assert report["polls"][0]["stored"] == 3 and report["analysed"] == 3
    listed = json.loads(runner.invoke(radar_app, ["sources", "--json"]).stdout)
    assert listed[0]["health"] == "ok"
    severe = json.loads(runner.invoke(radar_app, ["signals", "--severity", "P1", "--json"]).stdout)
    assert all(row["severity"] == "P1" for row in severe)
    everything = json.loads(runner.invoke(radar_app, ["signals", "--json"]).stdout)
    assert len(everything) == 3
