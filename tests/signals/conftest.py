"""Signals fixtures: the API client and company of tests/api, plus a tracked site."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from pathcast.signals.service import sites
from tests import factories
from tests.api.conftest import application, client, company

__all__ = ["application", "client", "company"]


@pytest.fixture
def site(session: Session, company: dict[str, Any]) -> Any:
    """A site that allows the www.example.com origin, with a generous rate limit."""
    created = sites.create_site(
        session,
        name="www",
        allowed_origins=["https://www.example.com"],
        rate_limit_per_minute=100_000,
        actor=factories.SYSTEM,
    )
    session.commit()
    return created


@pytest.fixture
def buyer(session: Session, company: dict[str, Any]) -> Any:
    """A department head at the company's hospital account."""
    contact = factories.contact(
        session, name="王主任", email="wang@hospital.example", account_id=company["account"].id
    )
    session.commit()
    return contact
