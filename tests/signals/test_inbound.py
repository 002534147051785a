"""Connector callbacks over HTTP: a message is stored once, filed on the right contact,
account and deal; a bad signature is 401 and stores nothing."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pathcast.crm import models as crm_models
from pathcast.signals import models as m
from pathcast.signals.connectors import dingtalk, webhook
from pathcast.signals.service import sites
from tests import factories
from tests.signals.connectors.test_dingtalk import APP_SECRET, GROUP_TEXT
from tests.signals.connectors.test_wecom import (
    AES_KEY,
    CORP_ID,
    MESSAGE_BODY,
    MESSAGE_NONCE,
    MESSAGE_SIGNATURE,
    MESSAGE_TIMESTAMP,
    TOKEN,
    VERIFY_ECHOSTR,
    VERIFY_NONCE,
    VERIFY_SIGNATURE,
    VERIFY_TIMESTAMP,
)

SECRET = "whsec-test-0123456789"


def counts(session: Session) -> tuple[int, int]:
    """Message and activity counts, read in a transaction of their own: on SQLite the test's
    session must not hold the write lock while the app handles the next request."""
    session.commit()
    messages = session.scalar(select(func.count()).select_from(m.InboundMessage)) or 0
    activities = session.scalar(select(func.count()).select_from(crm_models.Activity)) or 0
    session.commit()
    return int(messages), int(activities)


def connector(session: Session, kind: str, config: dict[str, Any]) -> int:
    created = sites.create_connector(
        session, kind=kind, name=f"{kind}-test", config=config, actor=factories.SYSTEM
    )
    session.commit()
    return int(created.id)


def signed_post(
    client: TestClient, connector_id: int, message: dict[str, Any], nonce: str, **overrides: Any
) -> Any:
    body = json.dumps(message, ensure_ascii=False).encode()
    headers = webhook.sign(SECRET, body, timestamp=overrides.pop("timestamp", int(time.time())), nonce=nonce)
    headers.update(overrides)
    return client.post(
        f"/api/v1/signals/webhooks/{connector_id}",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )


def test_the_same_webhook_delivered_twice_makes_one_activity(
    client: TestClient, company: dict[str, Any], buyer: Any, session: Session
) -> None:
    connector_id = connector(session, "webhook", {"secret": SECRET})
    _, activities_before = counts(session)
    message = {
        "id": "callcentre-7731",
        "sent_at": "2026-11-03T14:05:00+08:00",
        "text": "王主任回电，要 DSA 耗材报价",
        "from": "wang@hospital.example",
        "kind": "call",
        "duration_minutes": 7,
    }
    first = signed_post(client, connector_id, message, nonce="delivery-1")
    assert first.status_code == 200, first.text
    result = first.json()
    assert result["duplicate"] is False
    assert result["contact_id"] == buyer.id
    assert result["account_id"] == company["account"].id
    assert result["opportunity_id"] == company["east_deal"].id
    second = signed_post(client, connector_id, message, nonce="delivery-2")
    assert second.status_code == 200 and second.json()["duplicate"] is True
    assert second.json()["activity_id"] == result["activity_id"]
    messages, activities = counts(session)
    assert (messages, activities - activities_before) == (1, 1)
    activity = session.get(crm_models.Activity, result["activity_id"])
    assert activity is not None
    assert (activity.kind, activity.channel, activity.duration_minutes) == ("call", "webhook", 7)


def test_webhook_refuses_bad_signatures_replays_and_stale_requests(
    client: TestClient, company: dict[str, Any], session: Session
) -> None:
    connector_id = connector(session, "webhook", {"secret": SECRET})
    message = {"id": "m-1", "sent_at": "2026-11-03T06:05:00Z", "text": "hello"}
    forged = signed_post(
        client, connector_id, message, nonce="n-1", **{"X-Pathcast-Signature": "sha256=" + "0" * 64}
    )
    assert forged.status_code == 401
    assert forged.headers["content-type"].startswith("application/problem+json")
    stale = signed_post(client, connector_id, message, nonce="n-2", timestamp=int(time.time()) - 3600)
    assert stale.status_code == 401
    assert counts(session)[0] == 0
    assert signed_post(client, connector_id, message, nonce="n-3").status_code == 200
    replay = signed_post(client, connector_id, {**message, "id": "m-2"}, nonce="n-3")
    assert replay.status_code == 409
    missing = signed_post(client, connector_id, {"id": "m-3", "text": "no date"}, nonce="n-4")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "sent_at"
    assert client.post("/api/v1/signals/webhooks/999", content=b"{}").status_code == 404
    assert counts(session)[0] == 1


def test_wecom_documented_callback_is_verified_decrypted_and_filed(
    client: TestClient, company: dict[str, Any], session: Session
) -> None:
    contact = factories.contact(
        session,
        name="企业微信联系人",
        email=None,
        account_id=company["account"].id,
        external_source="wecom",
        external_id="mycreate",
    )
    session.commit()
    contact_id = contact.id
    connector_id = connector(
        session, "wecom", {"token": TOKEN, "encoding_aes_key": AES_KEY, "corp_id": CORP_ID}
    )
    url = f"/api/v1/signals/wecom/{connector_id}"
    verify = client.get(
        url,
        params={
            "msg_signature": VERIFY_SIGNATURE,
            "timestamp": VERIFY_TIMESTAMP,
            "nonce": VERIFY_NONCE,
            "echostr": VERIFY_ECHOSTR,
        },
    )
    assert verify.status_code == 200 and verify.text == "1616140317555161061"
    query = {"msg_signature": MESSAGE_SIGNATURE, "timestamp": MESSAGE_TIMESTAMP, "nonce": MESSAGE_NONCE}
    forged = client.post(url, params={**query, "msg_signature": "0" * 40}, content=MESSAGE_BODY)
    assert forged.status_code == 401
    assert counts(session)[0] == 0
    for _ in range(2):  # WeCom retries when it does not hear back in time
        answer = client.post(url, params=query, content=MESSAGE_BODY)
        assert answer.status_code == 200 and answer.text == "success"
    assert counts(session)[0] == 1
    stored = session.scalars(select(m.InboundMessage)).one()
    assert (stored.channel, stored.sender, stored.body, stored.contact_id) == (
        "wecom",
        "mycreate",
        "hello",
        contact_id,
    )
    assert stored.account_id == company["account"].id and stored.activity_id is not None


def test_dingtalk_signed_message_is_stored_and_bad_sign_refused(
    client: TestClient, company: dict[str, Any], session: Session
) -> None:
    factories.contact(
        session,
        name="张三",
        email=None,
        account_id=company["account"].id,
        external_source="dingtalk",
        external_id="user123",
    )
    session.commit()
    connector_id = connector(session, "dingtalk", {"app_secret": APP_SECRET})
    body = json.dumps(GROUP_TEXT, ensure_ascii=False).encode()
    url = f"/api/v1/signals/dingtalk/{connector_id}"
    now_ms = int(time.time() * 1000)
    bad = client.post(
        url, content=body, headers={"timestamp": str(now_ms), "sign": dingtalk.sign("wrong", now_ms)}
    )
    assert bad.status_code == 401
    assert counts(session)[0] == 0
    good = client.post(
        url, content=body, headers={"timestamp": str(now_ms), "sign": dingtalk.sign(APP_SECRET, now_ms)}
    )
    assert good.status_code == 200, good.text
    stored = session.scalars(select(m.InboundMessage)).one()
    assert stored.channel == "dingtalk" and stored.account_id == company["account"].id
    activity = session.get(crm_models.Activity, stored.activity_id)
    assert activity is not None and activity.kind == "message" and "演示" in (activity.body or "")
