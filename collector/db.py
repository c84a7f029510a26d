"""Database engine, sessions and schema creation for the collector.

SQLite is the embedded default and PostgreSQL (through psycopg 3) the
choice when several collector processes or hosts share one database.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from collector.models import Base

logger = logging.getLogger(__name__)

DATABASE_URL_VARIABLE = "PELIHARA_DATABASE_URL"
DATA_DIR_VARIABLE = "PELIHARA_DATA_DIR"
DEFAULT_DATA_DIR = "var"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any fixed number works; every collector process must use the same one.
SCHEMA_LOCK_ID = 0x50454C49
EXTENSION_KEY = "pelihara.database"


def resolve_data_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: `value`, else $PELIHARA_DATA_DIR, else ./var."""
    chosen = value or os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR
    return Path(chosen).resolve()


def resolve_database_url(value: str | None, data_dir: Path) -> str:
    """Return `value`, else $PELIHARA_DATABASE_URL, else SQLite in `data_dir`."""
    chosen = value or os.environ.get(DATABASE_URL_VARIABLE)
    if chosen:
        return chosen
    return f"sqlite:///{data_dir / 'pelihara.db'}"


def redact(url: str | URL) -> str:
    """Return the URL with its password masked, safe for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL must not leak either
        return "<invalid database URL>"


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # The sqlite3 module's own transaction handling breaks SAVEPOINT, so
        # it is switched off and SQLAlchemy's "begin" event below emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        # Every transaction takes the write lock at BEGIN. A deferred
        # transaction that reads first and writes later fails at once with
        # "database is locked" when another process wrote in between, while
        # BEGIN IMMEDIATE waits up to busy_timeout for its turn. The cost is
        # that transactions, reads included, run one at a time.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    """Create an engine for `url` with the settings the collector relies on.

    `busy_timeout_ms` is how long a SQLite transaction waits for the write
    lock before it fails with "database is locked".
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def create_schema(engine: Engine) -> None:
    """Create missing tables, safe to run from several processes at once.

    NOTE: there are no migrations yet. Tables that exist are left as they
    are, so a column added to a model must be added to the database by hand.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Concurrent CREATE TABLE of the same table fails on PostgreSQL;
            # the lock lets one process create and the others find it made.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_ID}
            )
        Base.metadata.create_all(connection)


class Database:
    """The engine and session factory of one collector application."""

    def __init__(self, url: str, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout_ms)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        """Return a new session; the caller closes it."""
        return self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask, database: Database) -> None:
    """Attach `database` to `app` and close each request's session after it."""
    app.extensions[EXTENSION_KEY] = database
    app.teardown_appcontext(_close_session)


def get_database(app: Flask | None = None) -> Database:
    """Return the Database of `app`, default the current application."""
    return (app or current_app).extensions[EXTENSION_KEY]


def get_session() -> Session:
    """Return the session of the current request, created on first use.

    It is closed, and anything not committed rolled back, when the
    application context ends.
    """
    session = g.get("_pelihara_session")
    if session is None:
        session = get_database().session()
        g._pelihara_session = session
    return session


def _close_session(error: BaseException | None) -> None:
    session = g.pop("_pelihara_session", None)
    if session is not None:
        session.close()
