"""Engines for the two supported databases.

SQLite (the default, one file): WAL journal (readers never block the writer), foreign keys on,
a 30 s busy timeout, and transactions that nasrec begins itself (the ``sqlite3`` module's implicit
transactions would run a read and a following write in different transactions). A session opened
with ``write=True`` begins ``IMMEDIATE``: it takes the write lock up front, so a read-then-write
transaction waits for another writer instead of failing with "database is locked".

PostgreSQL (``postgresql://...``; the psycopg 3 driver is selected for you): a connection pool with
pre-ping, so a restarted database costs one retry instead of a failed request. Both pools keep up
to ``POOL_SIZE`` connections, enough for the server's concurrent requests (see below). JSON columns
are parsed by pydantic-core's parser (a page of the leaderboard holds a hundred small JSON objects,
which it reads several times faster than the standard library).
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from pydantic_core import from_json
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from nasrec.errors import ConfigError

SQLITE_BUSY_TIMEOUT_S = 30.0
# Connections kept open per engine (opened on demand, never in advance), and how many more a burst
# may open. The server runs sync routes on up to 40 threads: with fewer pooled connections than
# concurrent requests, every request past the pool opens and closes a connection of its own (a
# PostgreSQL backend fork; SQLite's PRAGMAs), which made the API several times slower under load.
POOL_SIZE = 20
POOL_OVERFLOW = 20
# Execution option that makes a SQLite transaction begin IMMEDIATE (see the module docstring).
SQLITE_BEGIN_OPTION = "nasrec_sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgres://`` and ``postgresql://`` get the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigError(f"invalid database URL {str(url)!r}: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgres" or (backend == "postgresql" and parsed.drivername == "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {backend!r} in {parsed.render_as_string(hide_password=True)!r}: "
            "use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    return parsed


def make_engine(url: str | URL, *, busy_timeout: float = SQLITE_BUSY_TIMEOUT_S, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings described in the module docstring. ``busy_timeout``
    (SQLite only): seconds to wait for another connection's write lock before failing."""
    parsed = normalize_url(url)
    kwargs.setdefault("json_deserializer", _parse_json)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, busy_timeout, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    return create_engine(parsed, **kwargs)


def _parse_json(text: str | bytes) -> Any:
    try:
        return from_json(text)
    except ValueError:  # what json.dumps may write but pydantic-core refuses: lone surrogates
        return json.loads(text)


def _sqlite_engine(url: URL, busy_timeout: float, **kwargs: Any) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    connect_args = {"timeout": busy_timeout, "check_same_thread": False}
    connect_args.update(kwargs.pop("connect_args", {}))
    if not in_memory:
        kwargs.setdefault("pool_size", POOL_SIZE)
        kwargs.setdefault("max_overflow", POOL_OVERFLOW)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            if not in_memory:
                _enable_wal(cursor, busy_timeout)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def _enable_wal(cursor: Any, timeout: float) -> None:
    """Switch the database to WAL (a no-op once it is). Switching a new file needs its exclusive
    lock, and SQLite answers "database is locked" at once, without the busy wait, while another
    connection (a process starting at the same moment) holds it: retry until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
