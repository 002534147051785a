"""The migrations build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pathcast.all_models import metadata
from pathcast.db import get_engine
from pathcast.migrate import current_revision


def test_models_and_migrations_agree(db_url: str) -> None:
    with get_engine(db_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], differences


def test_database_is_at_head(db_url: str) -> None:
    from alembic.script import ScriptDirectory

    from pathcast.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db_url)).get_current_head()
    assert current_revision(db_url) == head
