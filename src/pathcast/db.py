"""Engines, sessions and the declarative base shared by every package."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "StrEnum", "TimestampMixin", "UTCDateTime", "get_engine", "unit_of_work", "utcnow"]

from pathcast.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware in UTC, at microsecond precision (what both engines store)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; PostgreSQL's ``timestamptz`` does. This type makes both
    return the same aware value, which the event hash depends on.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        # TypeDecorator reports ``object``; list filters and cursors parse by this type.
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware one is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base: one metadata with stable constraint names for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class TimestampMixin:
    """When the row was created and last changed, as the database saw it."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


_engines: dict[str, Engine] = {}

# SQLite cannot upgrade a read transaction to a write one once another writer has
# committed, so units of work that will write start with BEGIN IMMEDIATE.
_sqlite_write_intent: ContextVar[bool] = ContextVar("sqlite_write_intent", default=False)


def is_sqlite(url: str) -> bool:
    """Whether a URL names an SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the process; SQLite gets WAL and enforced foreign keys."""
    url = url or get_settings().resolved_database_url()
    if url in _engines:
        return _engines[url]
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling would begin transactions late and
            # let two writers read the same chain head; we issue BEGIN ourselves.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if _sqlite_write_intent.get() else "BEGIN")

    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    _engines[url] = engine
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests and forks call this)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """A session maker bound to the engine for ``url``."""
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def write_intent() -> Iterator[None]:
    """Mark transactions begun inside the block as writers (BEGIN IMMEDIATE on SQLite)."""
    token = _sqlite_write_intent.set(True)
    try:
        yield
    finally:
        _sqlite_write_intent.reset(token)


@contextmanager
def unit_of_work(url: str | None = None, *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit if the block succeeds, roll back if it raises."""
    session = session_factory(url)()
    token = _sqlite_write_intent.set(write)
    try:
        # Begin now, in this context, so a writer takes SQLite's write lock up front.
        session.connection()
    finally:
        _sqlite_write_intent.reset(token)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
