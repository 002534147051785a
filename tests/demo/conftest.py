"""What the tests that read a loaded demo company share (``tests/demo`` and the automation
dry-run): a small demo loaded once per engine for a module's read-only tests, and a session
on it whose writes are rolled back."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from pathcast.auth import service as auth_service
from pathcast.config import get_settings
from pathcast.db import dispose_engines, session_factory, unit_of_work, write_intent
from pathcast.demo.loader import DemoResult, load_demo
from pathcast.migrate import upgrade
from tests.conftest import PG_BASE_URL, pg_schema_url

DEMO_TODAY = date(2025, 6, 30)
DEMO_ACCOUNTS = 8
DEMO_SEED = 7
# Cheap argon2 parameters: the demo hashes twenty passwords per load.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@dataclass
class LoadedDemo:
    url: str
    data_dir: Path
    result: DemoResult

    @property
    def counts(self) -> dict[str, int]:
        return self.result.counts


def _drop_schema(schema: str, *, then_create: bool = False) -> None:
    admin = create_engine(PG_BASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if then_create:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()


@contextmanager
def loaded_demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[LoadedDemo]:
    """A demo company (8 accounts, seed 7, today 2025-06-30) on the engine the fixture's
    ``request.param`` names (``sqlite`` or ``postgresql``), in a SQLite file or PostgreSQL
    schema of its own (``pathcast_<name>_…``, dropped afterwards), with its files in a temp
    data dir. For a module-scoped fixture shared by read-only tests."""
    data_dir = tmp_path_factory.mktemp(f"{name}-data")
    schema = f"pathcast_{name}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path_factory.mktemp(f"{name}-db") / "demo.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        _drop_schema(schema, then_create=True)
        url = pg_schema_url(schema)
        upgrade(url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth_service, "_hasher", FAST_HASHER)
        patch.setenv("PATHCAST_DATA_DIR", str(data_dir))
        get_settings.cache_clear()
        try:
            with unit_of_work(url) as session:
                result = load_demo(session, accounts=DEMO_ACCOUNTS, seed=DEMO_SEED, today=DEMO_TODAY)
        finally:
            get_settings.cache_clear()
    try:
        yield LoadedDemo(url, data_dir, result)
    finally:
        dispose_engines()
        if request.param == "postgresql":
            _drop_schema(schema)


@contextmanager
def rolled_back_session(url: str) -> Iterator[Session]:
    """A session on ``url``; whatever a test writes is rolled back."""
    with write_intent():
        session = session_factory(url)()
        try:
            yield session
        finally:
            session.rollback()
            session.close()
