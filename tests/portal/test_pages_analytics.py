"""The customer view of behaviour analytics: their own visits per asset and week, sums only,
read through signals' account aggregates (no scores, weights or identity mappings)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.signals import models as sm
from pathcast.signals.service import collect, identity, sites
from tests import factories as f
from tests.api.conftest import application, client  # noqa: F401  (fixtures)
from tests.portal.pages_world import build

ORIGIN = "https://www.example.com"


def _visit(client: TestClient, site_key: str, visitor: str, asset: str, name: str, dwell_ms: int) -> None:  # noqa: F811
    ts = int(time.time() * 1000)
    view = f"{visitor}-{asset}"
    body = {
        "site": site_key,
        "visitor": visitor,
        "sent_at": ts,
        "events": [
            {"type": "view", "ts": ts - 1000, "view": view, "url": f"{ORIGIN}/{asset}",
             "asset": asset, "asset_name": name, "asset_kind": "document"},
            {"type": "dwell", "ts": ts, "view": view, "dwell_ms": dwell_ms},
        ],
    }  # fmt: skip
    answer = client.post(
        "/api/v1/collect", content=json.dumps(body), headers={"Content-Type": "text/plain", "Origin": ORIGIN}
    )
    assert answer.status_code == 200, answer.text


@pytest.fixture
def world(session: Session, configured: str, client: TestClient) -> dict[str, Any]:  # noqa: F811
    world = build(session)
    site = sites.create_site(
        session, name="www", allowed_origins=[ORIGIN], rate_limit_per_minute=100_000, actor=f.SYSTEM
    )
    session.commit()
    _visit(client, site.key, "visitor-ours-1", "dsa", "DSA 耗材对比表", 95_000)
    _visit(client, site.key, "visitor-ours-1", "pci", "PCI 方案", 30_000)
    _visit(client, site.key, "visitor-other-1", "secret-asset", "瑞金专属资料", 50_000)
    session.expire_all()
    other_contact = f.contact(
        session, name="钱科长", email="qian@ruijin.example", account_id=world["other"].id
    )
    for key, contact_id in (("visitor-ours-1", world["buyer"].id), ("visitor-other-1", other_contact.id)):
        identity.link_visitor(
            session,
            visitor_id=collect.visitor_id(session, site_id=site.id, key=key),
            contact_id=contact_id,
            method=sm.IdentityMethod.manual,
            by="test",
        )
    session.commit()
    return world


def test_the_customer_sees_their_visits_per_asset_and_week(
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
) -> None:
    answer = client.get("/api/v1/portal/analytics", headers=world["headers"]["customer"])
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["assets"] == [
        {"asset": "DSA 耗材对比表", "views": 1, "seconds": 95.0},
        {"asset": "PCI 方案", "views": 1, "seconds": 30.0},
    ]
    assert len(data["weeks"]) == 1 and data["weeks"][0]["views"] == 2 and data["weeks"][0]["seconds"] == 125.0
    assert "瑞金专属资料" not in answer.text and "visitor" not in answer.text
    other = client.get("/api/v1/portal/analytics", headers=world["headers"]["stranger"]).json()
    assert [row["asset"] for row in other["assets"]] == ["瑞金专属资料"]


def test_the_analytics_page_shows_sums_in_both_languages(
    client: TestClient,  # noqa: F811
    world: dict[str, Any],
) -> None:
    from tests.web.test_pages import log_in

    token = log_in(client, "buyer@renhe.example")
    zh = client.get("/portal/analytics", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200
    assert "访问统计" in zh.text and "DSA 耗材对比表" in zh.text and "1 分 35 秒" in zh.text
    assert "瑞金专属资料" not in zh.text
    switched = client.post("/locale", data={"locale": "en", "csrf_token": token, "next": "/portal/analytics"})
    assert switched.status_code in (200, 303)
    en = client.get("/portal/analytics")
    assert "Your visits" in en.text and "1 min 35 s" in en.text
