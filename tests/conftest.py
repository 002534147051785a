"""Shared fixtures: every database-facing test runs on SQLite and on PostgreSQL.

PostgreSQL is not optional: if it is unreachable the run stops with a message that
says so (and how to start it), it does not skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from pathcast.config import get_settings
from pathcast.db import dispose_engines, session_factory, write_intent
from pathcast.events import CHAIN_HEAD_ID, GENESIS_HASH

PG_BASE_URL = os.environ.get(
    "PATHCAST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PG_START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def pg_schema_url(schema: str) -> str:
    """The PostgreSQL test URL with its search path set to ``schema``."""
    separator = "&" if "?" in PG_BASE_URL else "?"
    return f"{PG_BASE_URL}{separator}options=-csearch_path%3D{schema}"


def pytest_sessionstart(session: pytest.Session) -> None:
    try:
        engine = create_engine(PG_BASE_URL, connect_args={"connect_timeout": 5})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        pytest.exit(
            f"PostgreSQL is unreachable at {PG_BASE_URL}: {error.__class__.__name__}: {error}\n"
            f"The database tests run on SQLite *and* PostgreSQL. Start it with:\n  {PG_START_HINT}",
            returncode=3,
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    from pathcast.migrate import upgrade

    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A private, migrated PostgreSQL schema for this test process."""
    from pathcast.migrate import upgrade

    schema = f"pathcast_test_{_worker()}_{os.getpid()}"
    admin = create_engine(PG_BASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    upgrade(pg_schema_url(schema))
    yield schema
    dispose_engines()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            )
            if row[0] != "alembic_version"
        ]
        connection.execute(
            text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
        )
        connection.execute(
            text("INSERT INTO event_chain_head (id, last_seq, last_hash) VALUES (:id, 0, :hash)"),
            {"id": CHAIN_HEAD_ID, "hash": GENESIS_HASH},
        )
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database on each engine in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "pathcast.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        schema: str = request.getfixturevalue("pg_schema")
        url = pg_schema_url(schema)
        _reset_postgres(url)
    yield url
    dispose_engines()


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    """A session on the test database; the test commits when it needs to."""
    with write_intent():
        db = session_factory(db_url)()
        try:
            yield db
        finally:
            db.rollback()
            db.close()


@pytest.fixture
def configured(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point Pathcast's settings (CLI, app) at the test database and a temp data dir."""
    monkeypatch.setenv("PATHCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("PATHCAST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PATHCAST_SECRET_KEY", "test-secret-key-not-for-production")
    # No background threads behind a test's back: tests that need the automation engine
    # or mail polling run them explicitly (on SQLite a stray writer would hold the lock).
    monkeypatch.setenv("PATHCAST_ENGINE_POLL_SECONDS", "0")
    monkeypatch.setenv("PATHCAST_POLL_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("PATHCAST_FORECAST_REFRESH_SECONDS", "0")
    monkeypatch.setenv("PATHCAST_RADAR_POLL_SECONDS", "0")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared public datasets; tests that need them skip when ../shared is absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"shared datasets not found at {SHARED_DATASETS} (clone beside ../shared to run)")
    return SHARED_DATASETS


@pytest.fixture(autouse=True)
def fast_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters for speed; the browser tests keep the real ones."""
    if request.node.get_closest_marker("e2e") is not None:
        return
    from argon2 import PasswordHasher

    from pathcast.auth import service as auth_service

    monkeypatch.setattr(auth_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
