"""Schemathesis against the portal read API: generated requests (path ids, query strings)
as a signed-in customer contact never cause a 5xx, and no answer carries another
account's data. Bounded: a few dozen examples per operation."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session

from tests.api.conftest import application  # noqa: F401  (fixture)
from tests.portal.pages_world import build

# This slice's operations. Widen to "^/api/v1/portal" to fuzz every portal route.
PATHS = r"^/api/v1/portal/(communications|documents|service|analytics)"
EXAMPLES = 25


def _account_ids(value: Any) -> set[int]:
    """Every ``account_id`` anywhere in a JSON answer."""
    found: set[int] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "account_id" and isinstance(item, int):
                found.add(item)
            found |= _account_ids(item)
    elif isinstance(value, list):
        for item in value:
            found |= _account_ids(item)
    return found


@pytest.fixture
def world(session: Session, configured: str) -> dict[str, Any]:
    return build(session)


def test_the_portal_api_survives_generated_requests(
    application: FastAPI,  # noqa: F811
    world: dict[str, Any],
) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", application).include(path_regex=PATHS)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5
    headers = world["headers"]["customer"]
    ours = world["ours"].id
    foreign = ("上海瑞金医院", "瑞金来电", "瑞金方案", "ruijin")

    for operation in operations:

        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.path, response.text)
            if response.status_code != 200:
                return
            text = response.content.decode("utf-8", errors="replace")
            assert not any(word in text for word in foreign), (case.formatted_path, text[:300])
            content_type = response.headers.get("content-type") or [""]
            if content_type[0].startswith("application/json"):
                assert _account_ids(json.loads(text)) <= {ours}

        check()
