"""The real app over real databases (SQLite and PostgreSQL, see ``tests.support.store``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nasrec.store import Store
from server.core.config import Settings
from server.main import create_app
from tests.support.service import Account
from tests.support.store import database_url, store  # noqa: F401
from tests.support.weights import trainer  # noqa: F401

KiB = 1024


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:  # noqa: F811
    (tmp_path / "data").mkdir()
    return Settings(
        database_url=database_url,
        data_root=tmp_path / "data",
        upload_dir=tmp_path / "uploads",
        max_body_bytes=64 * KiB,
        max_upload_bytes=256 * KiB,
        max_synth_rows=5000,
    )


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


@pytest.fixture
def alice(store: Store) -> Account:  # noqa: F811
    return Account.create(store, "alice")


@pytest.fixture
def bob(store: Store) -> Account:  # noqa: F811
    return Account.create(store, "bob")
