"""Property test of the collect parser: whatever a client sends, nothing crashes and every
event is either stored or rejected with a reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from pathcast.migrate import upgrade
from pathcast.signals import models as m
from pathcast.signals.schemas import CollectBatch
from pathcast.signals.service import collect

NOW_MS = 1_795_000_000_000

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
)
event_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(["view", "dwell", "click", "download", "identify"]), scalars),
        "ts": st.one_of(st.integers(min_value=NOW_MS - 10**10, max_value=NOW_MS + 10**9), scalars),
        "view": st.one_of(st.sampled_from(["v1", "v2", "v3"]), scalars),
        "asset": st.one_of(st.sampled_from(["dsa", "报价单"]), scalars),
        "asset_name": scalars,
        "url": st.one_of(st.just("https://www.example.com/a"), scalars),
        "dwell_ms": st.one_of(st.integers(min_value=-5, max_value=10**9), scalars),
        "visitor": st.one_of(st.just("visitor-prop-2"), scalars),
        "token": scalars,
        "email": st.one_of(st.just("nobody@example.com"), scalars),
    },
)
events = st.lists(st.one_of(event_fields, scalars, st.lists(scalars, max_size=2)), max_size=12)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database; each example rolls its work back."""
    url = f"sqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}"
    upgrade(url)
    created = create_engine(url)
    yield created
    created.dispose()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch_events=events)
def test_every_event_is_stored_or_rejected(engine: Engine, batch_events: list[Any]) -> None:
    with Session(engine) as session:
        site = m.Site(key="prop", name="prop", allowed_origins=["*"], rate_limit_per_minute=10)
        session.add(site)
        session.flush()
        info = collect.SiteInfo(site.id, site.key, ("*",), 10)
        batch = CollectBatch(site="prop", visitor="visitor-prop-1", sent_at=NOW_MS, events=batch_events)
        received = datetime.fromtimestamp(NOW_MS / 1000, tz=UTC)
        report = collect.ingest_batch(session, site=info, batch=batch, received_at=received)
        assert report.accepted + len(report.rejected) == len(batch_events)
        assert len({item.index for item in report.rejected}) == len(report.rejected)
        assert all(item.reason for item in report.rejected)
        hits = session.scalar(select(func.count()).select_from(m.Hit))
        assert hits == report.accepted
        session.rollback()
    engine.dispose()
