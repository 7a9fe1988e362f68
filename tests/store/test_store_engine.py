"""Engine settings and value round trips that must hold on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from nasrec.errors import ConfigError
from nasrec.store import Job, Store, User, crud, normalize_url, open_store


def test_urls_get_the_psycopg_driver() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:////tmp/x.db").drivername == "sqlite"
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(ConfigError, match="invalid database URL"):
        normalize_url("not a url")


def test_sqlite_settings(tmp_path: Path) -> None:
    sqlite = open_store(f"sqlite:///{tmp_path / 'n.db'}")
    with sqlite.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 10_000
    sqlite.dispose()


def test_default_url_is_the_sqlite_file_in_the_data_home(nasrec_home: Path) -> None:
    default = open_store()
    assert default.dialect == "sqlite"
    assert (nasrec_home / "nasrec.db").is_file()
    default.dispose()


def test_times_come_back_aware_utc(store: Store, alice: User) -> None:
    with store.session(write=True) as session:
        job = crud.create_job(session=session, owner_id=alice.id, spec={"dataset": "d"})
        job.heartbeat_at = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
        session.commit()
    with store.session() as session:
        loaded = session.get(Job, job.id)
        assert loaded.heartbeat_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        assert loaded.heartbeat_at.tzinfo is not None and loaded.created_at.tzinfo is not None


def test_deleting_a_user_deletes_their_rows(store: Store, alice: User) -> None:
    with store.session(write=True) as session:
        job = crud.create_job(session=session, owner_id=alice.id, spec={})
        crud.upsert_candidate(session=session, job_id=job.id, arch_hash="h", architecture={})
        session.delete(session.get(User, alice.id))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM candidates")) == 0
        assert session.scalar(text("SELECT count(*) FROM events")) == 0
