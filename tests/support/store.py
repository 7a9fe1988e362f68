"""Fixtures that run a test against every store backend: SQLite and a real PostgreSQL.

Use from a ``conftest.py``::

    from tests.support.store import database_url, store  # noqa: F401

``database_url`` is parametrised over ``sqlite`` and ``postgresql``: one migrated database per
backend and test session (a SQLite file in a temp directory; a PostgreSQL database named
``nasrec_test_<random>``, dropped at the end). ``store`` opens it and empties every nasrec table after
the test. PostgreSQL must be reachable at ``NASREC_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth; ``.ci/run`` starts it): if it is not,
the PostgreSQL tests skip saying so (fail under ``.ci/run``: see ``tests.support.needs``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nasrec.store import Base, Store, open_store
from nasrec.store.engine import normalize_url
from tests.support.needs import missing

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("NASREC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL), dropped on exit."""
    admin_url = normalize_url(postgres_admin_url())
    name = f"nasrec_test_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                # A throwaway database need not survive a crash: do not wait for fsync on commit.
                conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        except Exception as exc:
            where = admin_url.render_as_string(hide_password=True)
            missing("postgresql", f"PostgreSQL is not reachable at {where} ({type(exc).__name__})")
        try:
            yield admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def throwaway_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database of ``backend`` (its URL), removed on exit."""
    if backend == "postgresql":
        with postgres_database() as url:
            yield url
    elif backend == "sqlite":
        path = directory / f"nasrec_{secrets.token_hex(4)}.db"
        yield f"sqlite:///{path}"
    else:
        raise ValueError(f"unknown backend {backend!r}; use one of {BACKENDS}")


def empty_tables(store: Store) -> None:
    """Delete every row of nasrec's tables (children first); the schema stays. (Plain DELETE:
    on tables this small it is much cheaper than TRUNCATE. Ids are not reset.)"""
    with store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of each backend, shared by the tests of the session."""
    with throwaway_database(request.param, tmp_path_factory.mktemp("db")) as url:
        open_store(url).dispose()
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The backend's store, emptied after the test."""
    opened = open_store(database_url, migrate=False)
    try:
        yield opened
    finally:
        empty_tables(opened)
        opened.dispose()


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()
