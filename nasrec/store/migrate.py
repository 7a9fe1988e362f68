"""Schema migrations (Alembic), applied at start-up by ``open_store`` / ``init_db``.

Many processes may start at once (a server and several workers): the upgrade runs in one
transaction that first takes a lock, so the second process waits and then finds the schema at
head. The lock is ``pg_advisory_xact_lock`` on PostgreSQL and ``BEGIN IMMEDIATE`` (the database
write lock) on SQLite; both are released by the commit. Both databases have transactional DDL, so
a failed migration leaves nothing half-applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from nasrec.store.engine import SQLITE_BEGIN_OPTION, is_sqlite
from nasrec.store.models import Base

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "nasrec_alembic_version"
# Any fixed 64-bit number shared by every nasrec process: "nasrec" in ASCII.
ADVISORY_LOCK_KEY = 0x6E6173726563


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate filter: reflected tables (and their indexes) that are not nasrec's, such as
    Optuna's, are someone else's and never dropped."""
    if not reflected or compare_to is not None:
        return True
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return table is None or table.name in Base.metadata.tables


def alembic_config() -> Config:
    """A programmatic Alembic config pointing at the migrations inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@contextmanager
def migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that holds the migration lock until it commits."""
    if is_sqlite(engine):
        engine = engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    with engine.connect() as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        yield conn


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (a no-op when it is already there)."""
    config = alembic_config()
    with migration_lock(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with migration_lock(engine) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def new_revision(message: str) -> Path:
    """Autogenerate the next revision from the models (against a scratch SQLite database at head).

    Review the file it writes: autogenerate misses renames and server defaults, and a revision
    should be self-contained (replace ``nasrec.store.models.UTCDateTime`` by
    ``sa.DateTime(timezone=True)`` and drop the models import), so later model changes cannot
    change what it does.
    """
    import tempfile

    from nasrec.store.engine import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        try:
            upgrade(engine)
            config = alembic_config()
            with migration_lock(engine) as conn:
                config.attributes["connection"] = conn
                script = command.revision(config, message=message, autogenerate=True)
        finally:
            engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations directory has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database nasrec has never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
