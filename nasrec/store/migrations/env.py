"""Alembic environment of the nasrec store.

Run through ``nasrec.store.migrate`` (``upgrade`` passes an open connection, already inside a
transaction and holding the migration lock; ``new_revision`` autogenerates a revision). Without a
connection (plain Alembic tooling) the database is ``-x url=...`` or ``NASREC_DATABASE_URL``.
Only nasrec's tables are managed here: Optuna's tables in the same database are ignored, and the
version lives in ``nasrec_alembic_version`` (Optuna uses ``alembic_version``).
"""

from __future__ import annotations

from typing import Any

from alembic import context

from nasrec.store.migrate import VERSION_TABLE, include_object
from nasrec.store.models import Base


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        render_as_batch=True,
        compare_type=True,
        **kwargs,
    )


def run_migrations_offline() -> None:
    from nasrec.store.engine import normalize_url

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    _configure(url=normalize_url(url), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from nasrec.home import default_database_url
    from nasrec.store.engine import make_engine
    from nasrec.store.migrate import migration_lock

    url = context.get_x_argument(as_dictionary=True).get("url") or default_database_url()
    engine = make_engine(url)
    try:
        with migration_lock(engine) as conn:
            _run_on(conn)
    finally:
        engine.dispose()


def _run_on(connection: Any) -> None:
    _configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
