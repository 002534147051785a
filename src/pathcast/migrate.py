"""Run Alembic migrations from code (``pathcast init``, the server's start, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from pathcast.config import REPO_ROOT, get_settings

MIGRATIONS_DIR = REPO_ROOT / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at this checkout's migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "sqlalchemy.url", (url or get_settings().resolved_database_url()).replace("%", "%%")
    )
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    from pathcast.db import get_engine

    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
