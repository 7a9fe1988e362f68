"""The Optuna study of a job, in the job's database (SQLite by default, any SQLAlchemy URL).

The study is the job's durable search state: one trial per proposed candidate (evaluated, duplicate or
infeasible, with its architecture, costs and metrics as user attributes), and study user attributes for
the spec, the phase, the supernet checkpoint and the finalisation records. Anything that can open the
database (another process, the API server) can read it with :func:`open_study`.

Trial user attributes written by the Search:

    architecture   canonical architecture JSON          arch_hash   its canonical hash
    status         evaluated | duplicate | infeasible | failed
    feasible       all constraints hold                 violations  the constraints that do not
    flops, params  analytic costs                       val_logloss, val_auc, latency_ms, eval_seconds
    duplicate_of   trial number whose result was reused (status duplicate)
    controller, role, generation, parent, mutations, round   provenance from the controller
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from nasrec.errors import ConflictError, NotFoundError
from nasrec.spec import JobSpec

if TYPE_CHECKING:
    import optuna

__all__ = ["create_job_study", "open_study", "stored_spec", "storage"]

SPEC_ATTR = "nasrec_spec"
PHASE_ATTR = "nasrec_phase"


def storage(url: str) -> optuna.storages.RDBStorage:
    """An RDB storage for ``url``.

    SQLite: wait for locks instead of failing at once, and use write-ahead logging with
    ``synchronous=NORMAL``. A define-by-run trial writes ~70 parameters, each its own commit; with
    the default rollback journal every commit is an fsync (~10 ms). WAL keeps the database consistent
    across a crash of the process (a power cut may lose the last commits, which resume re-runs), and
    readers in other processes are not blocked by the writer.
    """
    import optuna

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 60}
    store = optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        engine = store.engine

        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        event.listen(engine, "connect", _pragmas)
        engine.dispose()  # connections opened while creating the tables predate the pragmas
    return store


def _quiet() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def create_job_study(spec: JobSpec, url: str, *, load_if_exists: bool = False) -> optuna.Study:
    """Create the study for ``spec`` (named ``spec.job_name``), storing the spec in it.

    With ``load_if_exists`` an existing study of the same name is returned when its stored spec has the
    same fingerprint (same job); a different spec under the same name is a ``ConflictError``.
    """
    import optuna

    _quiet()
    store = storage(url)
    name = spec.job_name
    try:
        study = optuna.create_study(
            study_name=name,
            storage=store,
            directions=[o.direction.value for o in spec.objectives],
            load_if_exists=False,
        )
    except optuna.exceptions.DuplicatedStudyError:
        if not load_if_exists:
            raise ConflictError(
                f"a search named {name!r} already exists in {url}; resume it with load_search({name!r}) "
                "or give the job another name"
            ) from None
        study = optuna.load_study(study_name=name, storage=store)
        old = stored_spec(study)
        if old.fingerprint != spec.fingerprint:
            raise ConflictError(
                f"a search named {name!r} already exists with a different spec; give the job another name"
            ) from None
        return study
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    study.set_user_attr(PHASE_ATTR, "created")
    return study


def open_study(name: str, url: str) -> optuna.Study:
    """Load an existing job study by name; ``NotFoundError`` lists what exists when it does not."""
    import optuna

    _quiet()
    store = storage(url)
    try:
        return optuna.load_study(study_name=name, storage=store)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(store))
        raise NotFoundError(
            f"no search named {name!r} in {url}; existing: {', '.join(names) or 'none'}"
        ) from None


def stored_spec(study: optuna.Study) -> JobSpec:
    data = study.user_attrs.get(SPEC_ATTR)
    if data is None:
        raise NotFoundError(f"study {study.study_name!r} was not created by nasrec (it holds no job spec)")
    return JobSpec.parse(data if isinstance(data, dict) else json.loads(data))
