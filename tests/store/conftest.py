"""Every store test runs on SQLite and on a real PostgreSQL (see ``tests.support.store``)."""

from __future__ import annotations

import pytest

from nasrec.store import Store, User, crud
from tests.support.store import database_url, store  # noqa: F401


@pytest.fixture
def alice(store: Store) -> User:  # noqa: F811
    with store.session(write=True) as session:
        return crud.create_user(session=session, name="alice")


@pytest.fixture
def bob(store: Store) -> User:  # noqa: F811
    with store.session(write=True) as session:
        return crud.create_user(session=session, name="bob")
