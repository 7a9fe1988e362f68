"""The store: one engine, its sessions, and the factory that migrates the schema at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from nasrec.home import default_database_url
from nasrec.store.engine import SQLITE_BEGIN_OPTION, SQLITE_BUSY_TIMEOUT_S, is_sqlite, make_engine
from nasrec.store.migrate import upgrade


class Store:
    """An engine and two session factories: read sessions and write sessions.

    A write session on SQLite begins ``IMMEDIATE`` (takes the write lock up front); on PostgreSQL
    the two are the same. Sessions do not expire objects on commit, so rows stay readable after
    the crud function that loaded them committed.

    Thread-safe: share one ``Store`` per process and open one session per thread / request.
    Do not keep a transaction open across slow work (training a step, writing a dataset): on
    SQLite a write session holds the database write lock until it commits, and every other
    writer waits. Commit (crud writers do) or ``session.commit()`` after reads, then work.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        write_bind = (
            engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"}) if is_sqlite(engine) else engine
        )
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        self._write = sessionmaker(bind=write_bind, expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL, password included: what ``optuna.storages.RDBStorage`` needs."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def optuna_storage(self) -> Any:
        """An ``optuna.storages.RDBStorage`` on this database (the jobs' studies live here too),
        with the same patience for SQLite's write lock as the store."""
        import optuna

        if is_sqlite(self.engine):
            engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}}
        else:
            engine_kwargs = {"pool_pre_ping": True}
        return optuna.storages.RDBStorage(self.url, engine_kwargs=engine_kwargs)

    def session(self, *, write: bool = False) -> Session:
        """A new session; use it as a context manager (``with store.session() as s: ...``)."""
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        with self.session(write=write) as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()


def open_store(url: str | URL | None = None, *, migrate: bool = True) -> Store:
    """Open the database at ``url`` (default: ``NASREC_DATABASE_URL`` or the SQLite file in the
    data home), bringing its schema to the latest revision first unless ``migrate=False``."""
    engine = make_engine(url if url is not None else default_database_url())
    if migrate:
        try:
            upgrade(engine)
        except Exception:
            engine.dispose()
            raise
    return Store(engine)


def init_db(url: str | URL | None = None) -> None:
    """Create or upgrade the schema at ``url`` and return (what start-up scripts call)."""
    open_store(url).dispose()
