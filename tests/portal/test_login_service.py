"""The customer login realm's services on SQLite and PostgreSQL: password refusals, magic
links (single use, expiry, rate limit, unknown addresses), TOTP (encrypted at rest,
replay refused), events without secrets, and the consent deep interaction."""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pathcast.auth.models import Role, User
from pathcast.auth.permissions import Actor
from pathcast.db import utcnow
from pathcast.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated
from pathcast.events import Event
from pathcast.portal import totp
from pathcast.portal.models import MagicLink, Totp
from pathcast.portal.service import home as home_service
from pathcast.portal.service import login as login
from pathcast.signals.service import consent
from tests import factories as f

EMAIL = "buyer@hospital.example"
LINK = re.compile(r"/portal/magic/([A-Za-z0-9_-]+)")


@dataclass
class World:
    customer: User
    other_customer: User
    rep: User
    contact_id: int
    account_id: int
    other_account_id: int


@pytest.fixture
def world(configured: str, session: Session) -> World:
    account = f.account(session, name="北京协和医院")
    other = f.account(session, name="Other Hospital")
    contact = f.contact(session, account_id=account.id, name="王主任", email=EMAIL)
    customer = f.user(session, EMAIL, role=Role.customer_contact, account_id=account.id)
    other_customer = f.user(session, "x@other.example", role=Role.customer_contact, account_id=other.id)
    rep = f.user(session, "rep@example.com")
    session.commit()
    return World(customer, other_customer, rep, contact.id, account.id, other.id)


def events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.type == type_).order_by(Event.id)))


def test_password_sign_in_for_customer_contacts_only(session: Session, world: World) -> None:
    assert login.check_password(session, email=EMAIL.upper(), password=f.PASSWORD).id == world.customer.id
    for email, password in (
        (EMAIL, "wrong-password"),
        ("rep@example.com", f.PASSWORD),
        ("nobody@x.example", "x"),
    ):
        with pytest.raises(Unauthenticated) as refused:
            login.check_password(session, email=email, password=password)
        assert refused.value.code == login.BAD_CREDENTIALS  # one message for every reason
    reasons = [event.payload["reason"] for event in events(session, "portal.sign_in_failed")]
    assert reasons == ["bad_credentials", "not_customer_contact", "bad_credentials"]
    dumped = json.dumps([event.payload for event in events(session, "portal.sign_in_failed")])
    assert "wrong-password" not in dumped and f.PASSWORD not in dumped


def _link_token(caplog: pytest.LogCaptureFixture) -> str:
    found = LINK.findall(caplog.text)
    assert found, "no link was logged"
    return found[-1]


def test_magic_link_single_use_and_hashed(
    session: Session, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pathcast.portal.mail")
    result = login.request_magic_link(session, email=EMAIL, base_url="http://testserver/")
    assert result.sent
    token = _link_token(caplog)
    stored = session.scalars(select(MagicLink)).one()
    assert stored.token_sha256 == login.token_digest(token) and token not in stored.token_sha256
    assert stored.expires_at - stored.created_at == timedelta(minutes=15)
    sent = events(session, "portal.magic_link_sent")
    assert len(sent) == 1 and token not in json.dumps(sent[0].payload)
    assert login.consume_magic_link(session, token=token).id == world.customer.id
    with pytest.raises(Unauthenticated) as again:
        login.consume_magic_link(session, token=token)
    assert again.value.code == login.BAD_LINK
    assert events(session, "portal.sign_in_failed")[-1].payload["reason"] == "used_link"


def test_magic_link_expires(session: Session, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pathcast.portal.mail")
    login.request_magic_link(session, email=EMAIL, base_url="http://testserver")
    token = _link_token(caplog)
    with pytest.raises(Unauthenticated):
        login.consume_magic_link(session, token=token, now=utcnow() + timedelta(minutes=16))
    assert events(session, "portal.sign_in_failed")[-1].payload["reason"] == "expired_link"
    with pytest.raises(Unauthenticated):
        login.consume_magic_link(session, token="not-a-token")


def test_magic_link_reveals_nothing_and_is_rate_limited(
    session: Session, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pathcast.portal.mail")
    assert (
        login.request_magic_link(session, email="nobody@x.example", base_url="http://t").reason
        == "unknown_address"
    )
    assert (
        login.request_magic_link(session, email="rep@example.com", base_url="http://t").reason
        == "unknown_address"
    )
    assert session.scalars(select(MagicLink)).all() == [] and not LINK.findall(caplog.text)
    results = [login.request_magic_link(session, email=EMAIL, base_url="http://t").reason for _ in range(6)]
    assert results == ["sent"] * login.MAGIC_LINKS_PER_HOUR + ["rate_limited"]
    assert len(session.scalars(select(MagicLink)).all()) == login.MAGIC_LINKS_PER_HOUR


def test_totp_enable_encrypted_required_and_no_replay(session: Session, world: World) -> None:
    actor = Actor.for_user(world.customer)
    secret, uri = login.totp_setup(world.customer)
    assert uri.startswith("otpauth://totp/") and secret in uri
    now = time.time()
    with pytest.raises(InvalidInput) as wrong:
        login.enable_totp(session, actor=actor, secret=secret, code="000000" if totp.totp(
            totp.secret_bytes(secret), now) != "000000" else "111111", unix_time=now)  # fmt: skip
    assert wrong.value.errors[0].field == "code"
    key = totp.secret_bytes(secret)
    login.enable_totp(session, actor=actor, secret=secret, code=totp.totp(key, now), unix_time=now)
    row = session.get(Totp, world.customer.id)
    assert row is not None and row.enabled and secret not in row.secret_encrypted
    assert login.decrypt_secret(row.secret_encrypted) == secret
    assert login.totp_enabled(session, world.customer.id)
    assert len(events(session, "portal.totp_enabled")) == 1
    # the code used to enable is spent; the next step's code is accepted once
    with pytest.raises(Unauthenticated):
        login.verify_code(
            session, user=world.customer, code=totp.totp(key, now), method="password", unix_time=now
        )
    later = now + 30
    login.verify_code(
        session, user=world.customer, code=totp.totp(key, later), method="password", unix_time=later
    )
    with pytest.raises(Unauthenticated):
        login.verify_code(
            session, user=world.customer, code=totp.totp(key, later), method="password", unix_time=later
        )
    with pytest.raises(Conflict):
        login.enable_totp(
            session, actor=actor, secret=secret, code=totp.totp(key, later + 30), unix_time=later + 30
        )
    # turning it off needs a current code
    with pytest.raises(InvalidInput):
        login.disable_totp(session, actor=actor, code="12", unix_time=later + 60)
    login.disable_totp(session, actor=actor, code=totp.totp(key, later + 60), unix_time=later + 60)
    assert not login.totp_enabled(session, world.customer.id)
    assert len(events(session, "portal.totp_disabled")) == 1
    for event in events(session, "portal.sign_in_failed"):
        assert secret not in json.dumps(event.payload)


def test_staff_cannot_enable_totp_here(session: Session, world: World) -> None:
    secret, _uri = login.totp_setup(world.rep)
    with pytest.raises(PermissionDenied):
        login.enable_totp(session, actor=Actor.for_user(world.rep), secret=secret, code="123456")


def test_sign_in_counts_as_deep_interaction(session: Session, world: World) -> None:
    assert consent.consent_state(session, world.contact_id).deep_interactions == 0
    login.complete_sign_in(session, user=world.customer, method="password", channel="web")
    assert consent.consent_state(session, world.contact_id).deep_interactions == 1
    signed = events(session, "portal.signed_in")
    assert signed[-1].payload["method"] == "password" and signed[-1].entity_id == str(world.customer.id)
    # a login with no crm contact behind it counts nothing, and does not fail
    assert login.record_portal_login(session, user=world.other_customer) is False


def test_home_summary_is_the_own_account_only(session: Session, world: World) -> None:
    f.activity(session, kind="meeting", subject="方案沟通会", account_id=world.account_id)
    f.activity(session, kind="note", subject="internal", account_id=world.account_id)
    f.activity(session, kind="call", subject="other", account_id=world.other_account_id)
    summary = home_service.home_summary(session, Actor.for_user(world.customer))
    assert summary.account_id == world.account_id and summary.account_name == "北京协和医院"
    assert summary.communications == 1
    other = home_service.home_summary(session, Actor.for_user(world.other_customer))
    assert other.account_id == world.other_account_id and other.communications == 1
    with pytest.raises(PermissionDenied):
        home_service.home_summary(session, Actor.for_user(world.rep))


def test_wrong_codes_lock_the_second_factor_for_a_while(session: Session, world: World) -> None:
    actor = Actor.for_user(world.customer)
    secret, _uri = login.totp_setup(world.customer)
    key = totp.secret_bytes(secret)
    now = time.time()
    login.enable_totp(session, actor=actor, secret=secret, code=totp.totp(key, now), unix_time=now)
    right = totp.totp(key, now + 30)
    wrong = next(
        code for code in ("000000", "111111", "222222") if code != right and code != totp.totp(key, now + 60)
    )
    for _ in range(login.MAX_CODE_FAILURES):
        with pytest.raises(Unauthenticated):
            login.verify_code(session, user=world.customer, code=wrong, method="password", unix_time=now + 30)
    with pytest.raises(Unauthenticated):  # even the right code, until the window passes
        login.verify_code(session, user=world.customer, code=right, method="password", unix_time=now + 30)
    assert events(session, "portal.sign_in_failed")[-1].payload["reason"] == "too_many_codes"
