"""An API client and a small two-team company, on each database engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pathcast.app import create_app
from pathcast.auth import service as auth_service
from tests import factories


@pytest.fixture(scope="session")
def application() -> FastAPI:
    """One app for the run: it reads the database settings per request, not at build time."""
    return create_app()


@pytest.fixture
def client(configured: str, application: FastAPI) -> Iterator[TestClient]:
    with TestClient(application, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def company(session: Session, configured: str) -> dict[str, Any]:
    """Two teams with deals, and a bearer-token header per person."""
    people = factories.two_teams(session)
    factories.pipeline(session)
    east_rep = factories.actor(people["east_rep"])
    west_rep = factories.actor(people["west_rep"])
    account = factories.account(session, name="华东医疗集团 East Medical")
    people["account"] = account
    people["east_deal"] = factories.opportunity(
        session, east_rep, name="东区 DSA 耗材", account_id=account.id
    )
    people["west_deal"] = factories.opportunity(session, west_rep, name="West PLC retrofit", amount=50000)
    people["customer"] = factories.user(
        session, "buyer@hospital.example", role=factories.Role.customer_contact, account_id=account.id
    )
    headers: dict[str, dict[str, str]] = {}
    for key in (
        "admin",
        "east_manager",
        "east_rep",
        "east_rep2",
        "west_manager",
        "west_rep",
        "member",
        "customer",
    ):
        _, secret = auth_service.create_token(session, actor=factories.SYSTEM, user=people[key])
        headers[key] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    people["headers"] = headers
    return people
