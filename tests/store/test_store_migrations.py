"""Migrations: apply on an empty database, are idempotent, match the models, leave Optuna alone,
and survive two processes starting at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from nasrec.store import Base, crud, current_revision, head_revision, make_engine, open_store
from nasrec.store.migrate import VERSION_TABLE, downgrade, include_object, upgrade
from tests.support.store import BACKENDS, throwaway_database

NASREC_TABLES = {t.name for t in Base.metadata.sorted_tables}


def _drift(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "version_table": VERSION_TABLE, "include_object": include_object}
            return compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_create_every_table_and_are_idempotent(backend: str, tmp_path: Path) -> None:
    with throwaway_database(backend, tmp_path) as url:
        engine = make_engine(url)
        assert current_revision(engine) is None
        store = open_store(url)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert NASREC_TABLES | {VERSION_TABLE} <= tables
        with store.session(write=True) as session:
            crud.create_user(session=session, name="kept")
        store.dispose()

        store = open_store(url)  # second start-up: nothing to do, nothing lost
        with store.session() as session:
            assert [u.name for u in crud.list_users(session=session)] == ["kept"]
        assert current_revision(engine) == head_revision()
        assert _drift(url) == [], "the models and the migrations disagree: write a new revision"
        store.dispose()

        downgrade(engine, "base")
        assert not NASREC_TABLES & set(inspect(engine).get_table_names())
        engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_optuna_studies_share_the_database(backend: str, tmp_path: Path) -> None:
    import optuna

    with throwaway_database(backend, tmp_path) as url:
        store = open_store(url)
        storage = store.optuna_storage()
        study = optuna.create_study(study_name="job-1", storage=storage)
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
        storage.engine.dispose()

        upgrade(store.engine)  # nasrec's migrations ignore Optuna's tables and version
        assert _drift(url) == []
        with store.engine.connect() as conn:
            optuna_version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert optuna_version is not None and optuna_version != head_revision()
        assert len(optuna.load_study(study_name="job-1", storage=store.url).trials) == 2
        store.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_start_up_migrates_once(backend: str, tmp_path: Path) -> None:
    with throwaway_database(backend, tmp_path) as url:
        errors: list[BaseException] = []

        def start() -> None:
            try:
                open_store(url).dispose()
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=start) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        engine = make_engine(url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
