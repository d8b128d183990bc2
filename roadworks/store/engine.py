"""Database engines: SQLite (WAL, immediate write locks) by default, PostgreSQL by URL; migrations."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from ..domain.errors import Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"
# Seconds a writer waits for SQLite's write lock (`?timeout=` in the URL overrides it), and for a
# PostgreSQL connection (`?connect_timeout=`): past that the request fails with Unavailable, not a hang.
SQLITE_BUSY_SECONDS = 30
CONNECT_SECONDS = 3
# SQLite reports bad SQL as OperationalError too; only these codes mean "busy or unreachable, try later".
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL")


def sqlite_url(instance_path: str) -> str:
    """The embedded default: a file in the instance folder."""
    os.makedirs(instance_path, exist_ok=True)
    return f"sqlite:///{os.path.join(instance_path, 'roadworks.sqlite3')}"


def make_engine(url: str) -> sa.Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE for writes."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    query = sa.make_url(url).query
    if url.startswith("sqlite"):
        busy = float(query.get("timeout", SQLITE_BUSY_SECONDS))
        engine = sa.create_engine(url, connect_args={"timeout": busy, "check_same_thread": False})
        _tune_sqlite(engine, busy)
    else:
        waited = {} if "connect_timeout" in query else {"connect_timeout": CONNECT_SECONDS}
        # pre_ping replaces connections a database restart broke, so the service recovers by itself.
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=waited)
    sa.event.listen(engine, "handle_error", _as_unavailable)
    return engine


def unreachable(error: BaseException, dialect: sa.Dialect) -> bool:
    """Whether a DBAPI error means the database is down, gone or busy (worth a retry), not a bug."""
    dbapi = dialect.loaded_dbapi
    if isinstance(error, dbapi.OperationalError):
        return dialect.name != "sqlite" or getattr(error, "sqlite_errorname", "").startswith(_SQLITE_TRANSIENT)
    return isinstance(error, dbapi.Error) and dialect.is_disconnect(error, None, None)


def _as_unavailable(context) -> None:
    # The one translation of driver failures: callers above the store see the domain's Unavailable.
    # A pre-ping's failure is left alone: the pool answers it by opening a fresh connection.
    if context.is_pre_ping:
        return
    if context.is_disconnect or unreachable(context.original_exception, context.dialect):
        raise Unavailable(f"database unavailable: {context.original_exception}") from context.original_exception


def _tune_sqlite(engine: sa.Engine, busy_seconds: float) -> None:
    @sa.event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let SQLAlchemy's begin event issue BEGIN itself, so writers can take the lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def on_begin(connection):
        # A deferred transaction that later writes can fail at once with "database is locked".
        immediate = connection.get_execution_options().get("writing", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest revision (creates it on an empty database)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Several workers may start at once; one migrates, the others wait for it.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(640511)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
