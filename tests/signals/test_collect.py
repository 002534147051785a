"""POST /api/v1/collect: batches, per-event rejection, site key, CORS, limits, and the
derived views and day figures."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.signals import models as m
from pathcast.signals.service import sites
from tests import factories

ORIGIN = "https://www.example.com"
DSA = {"asset": "dsa-consumables-comparison", "asset_name": "DSA介入耗材对比表", "asset_kind": "document"}


def now_ms() -> int:
    return int(time.time() * 1000)


def post(client: TestClient, body: dict[str, Any], origin: str | None = ORIGIN, **kwargs: Any) -> Any:
    headers = {"Content-Type": "text/plain"}
    if origin:
        headers["Origin"] = origin
    return client.post("/api/v1/collect", content=json.dumps(body), headers=headers, **kwargs)


def view_batch(site_key: str, visitor: str, view: str, dwell_ms: int) -> dict[str, Any]:
    ts = now_ms()
    return {
        "site": site_key,
        "visitor": visitor,
        "sent_at": ts,
        "events": [
            {"type": "view", "ts": ts - 1000, "view": view, "url": "https://www.example.com/dsa", **DSA},
            {"type": "dwell", "ts": ts, "view": view, "dwell_ms": dwell_ms},
        ],
    }


def test_a_batch_is_stored_with_views_and_day_figures(
    client: TestClient, site: Any, session: Session
) -> None:
    answer = post(client, view_batch(site.key, "visitor-aaaa-1", "view-1", 95_000))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"accepted": 2, "rejected": []}
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    # A later heartbeat raises the dwell; a lower, late one does not lower it.
    ts = now_ms()
    events = [
        {"type": "dwell", "ts": ts, "view": "view-1", "dwell_ms": 120_000},
        {"type": "dwell", "ts": ts, "view": "view-1", "dwell_ms": 60_000},
    ]
    later = post(client, {"site": site.key, "visitor": "visitor-aaaa-1", "events": events})
    assert later.json()["accepted"] == 2
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(m.Hit)) == 4
    view = session.scalars(select(m.View)).one()
    assert view.dwell_ms == 120_000
    asset = session.get(m.Asset, view.asset_id)
    assert asset is not None and asset.name == "DSA介入耗材对比表" and asset.kind == "document"
    day = session.scalars(select(m.VisitorAssetDay)).one()
    assert (day.views, day.dwell_ms) == (1, 120_000)


def test_bad_events_are_rejected_one_by_one_and_the_rest_kept(
    client: TestClient, site: Any, session: Session
) -> None:
    ts = now_ms()
    events: list[Any] = [
        {"type": "view", "ts": ts, "view": "v-ok", **DSA},
        {"type": "dwell", "ts": ts, "view": "v-ok", "dwell_ms": -5},
        {"type": "teleport", "ts": ts},
        "not an object",
        {"type": "dwell", "ts": ts, "view": "never-started", "dwell_ms": 1000},
        {"type": "view", "ts": ts + 3_600_000, "view": "v-future", **DSA},
        {"type": "view", "ts": ts, "view": "v-no-asset"},
        {"type": "identify", "ts": ts, "token": "forged.token.value"},
        {"type": "click", "ts": ts, "target": "下载白皮书", "url": "https://www.example.com/dsa"},
    ]
    answer = post(client, {"site": site.key, "visitor": "visitor-bbbb-1", "events": events})
    assert answer.status_code == 200
    report = answer.json()
    assert report["accepted"] == 2
    rejected = {item["index"]: item for item in report["rejected"]}
    assert sorted(rejected) == [1, 2, 3, 4, 5, 6, 7]
    assert rejected[1]["field"] == "dwell_ms"
    assert rejected[2]["field"] == "type"
    assert rejected[4]["code"] == "unknown_view"
    assert rejected[5]["code"] == "in_future"
    assert rejected[6]["field"] == "asset"
    assert rejected[7]["code"] == "bad_token"
    assert all(item["reason"] for item in report["rejected"])
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(m.Hit)) == 2


def test_site_key_origin_size_and_rate_limit_are_enforced(
    client: TestClient, site: Any, session: Session
) -> None:
    body = view_batch(site.key, "visitor-cccc-1", "v1", 1000)
    unknown = post(client, {**body, "site": "no-such-site"})
    assert unknown.status_code == 403
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert post(client, body, origin="https://evil.example").status_code == 403
    too_many = {**body, "events": [body["events"][0]] * 501}
    assert post(client, too_many).status_code == 413
    assert post(client, {"site": site.key}).status_code == 422
    not_json = client.post("/api/v1/collect", content=b"{nope", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 422

    tight = sites.create_site(
        session, name="tight", allowed_origins=[ORIGIN], rate_limit_per_minute=2, actor=factories.SYSTEM
    )
    session.commit()
    answers = [
        post(client, view_batch(tight.key, "visitor-dddd-1", f"t{i}", 10)).status_code for i in range(3)
    ]
    assert answers[:2] == [200, 200]
    assert answers[2] == 429


def test_preflight_allows_only_configured_origins(client: TestClient, site: Any) -> None:
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    allowed = client.options("/api/v1/collect", headers=headers)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    refused = client.options("/api/v1/collect", headers={**headers, "Origin": "https://evil.example"})
    assert refused.status_code == 403


def test_the_snippet_is_served_small_and_cacheable(client: TestClient) -> None:
    answer = client.get("/t.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/javascript")
    assert len(answer.content) < 5000


def test_long_descriptive_text_is_clipped_not_refused(
    client: TestClient, site: Any, session: Session
) -> None:
    ts = now_ms()
    long_url = "https://www.example.com/dsa?" + "q=1&" * 900
    events = [
        {
            "type": "view",
            "ts": ts,
            "view": "v-long",
            "url": long_url,
            "asset": "dsa",
            "asset_name": "名" * 400,
        },
        {"type": "click", "ts": ts, "url": long_url, "target": "t" * 900},
        {"type": "view", "ts": ts, "view": "v-key", "asset": "k" * 201},
    ]
    report = post(client, {"site": site.key, "visitor": "visitor-long-1", "events": events}).json()
    assert report["accepted"] == 2
    assert [(item["index"], item["field"]) for item in report["rejected"]] == [(2, "asset")]
    session.commit()
    asset = session.scalars(select(m.Asset)).one()
    assert len(asset.name) == 300 and asset.url is not None and len(asset.url) == 2000
