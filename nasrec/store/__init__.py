"""The nasrec store: SQLAlchemy models, Alembic migrations, sessions and the crud functions.

    from nasrec.store import open_store, crud

    store = open_store()                     # NASREC_DATABASE_URL or $NASREC_HOME/nasrec.db, migrated
    with store.session(write=True) as session:
        user = crud.create_user(session=session, name="ada")
        job = crud.create_job(session=session, owner_id=user.id, spec={...})

The Optuna studies of the jobs live in the same database: ``store.optuna_storage()``.
"""

from nasrec.store import crud
from nasrec.store.crud import LeaseLostError
from nasrec.store.engine import make_engine, normalize_url
from nasrec.store.migrate import current_revision, head_revision, upgrade
from nasrec.store.models import (
    ApiToken,
    Artifact,
    Base,
    Candidate,
    CandidateKind,
    Dataset,
    Event,
    Job,
    JobState,
    User,
    Worker,
    utcnow,
)
from nasrec.store.store import Store, init_db, open_store

__all__ = [
    "ApiToken",
    "Artifact",
    "Base",
    "Candidate",
    "CandidateKind",
    "Dataset",
    "Event",
    "Job",
    "JobState",
    "LeaseLostError",
    "Store",
    "User",
    "Worker",
    "crud",
    "current_revision",
    "head_revision",
    "init_db",
    "make_engine",
    "normalize_url",
    "open_store",
    "upgrade",
    "utcnow",
]
