"""A job's candidate as an export source: what ``nasrec export`` reads from the store for a job.

    is_job_source(source) -> bool                 does SOURCE name a job (rather than a file)?
    find_job_candidate(source, candidate=..., dataset=..., database_url=...) -> JobCandidate

A path that exists wins: SOURCE names a job when it is

    a run directory      an existing directory named ``job-<id>`` (``nasrec.home.run_dir_of``): job <id>
    a job name or id     no such path, and no ``/`` in it (job names have none): the job of that name;
                         or, when SOURCE is a number, the job with that id (a number that is both one
                         job's id and another job's name is ambiguous, as is a name several jobs share)

The candidate is the job's winner unless ``candidate`` names one: a candidate id (as the API and
the UI show it), or a name: a retrained model's (``found-2``, a baseline such as ``dlrm``) or a
search candidate's (``trial-7``). Its weights are the ones the API exports it with
(``crud.candidate_weights``: retrained, else inherited from the supernet) and its bundle's metrics
are the API's too (``export_metrics``). Every failure is a ``NasrecError`` of one line that says
what was wrong and what to pass instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from nasrec.errors import ConfigError, ConflictError, NotFoundError
from nasrec.home import default_database_url, job_id_of_run_dir, run_dir_of
from nasrec.store import Candidate, Dataset, Job, JobState, Store, crud, normalize_url, open_store

__all__ = ["JobCandidate", "export_metrics", "find_job_candidate", "is_job_source"]

#: Stages whose candidates carry a retrained model's name (``metrics.retrained_name``).
FINAL_STAGES = ("winner", "retrained", "baseline")
#: How many job names / candidates an error lists.
SHOWN = 5


@dataclass(frozen=True)
class JobCandidate:
    """One candidate of a stored job, with what its export needs (read before the build starts)."""

    job_id: int
    job_name: str
    candidate_id: int
    candidate_name: str
    arch_hash: str
    architecture: dict[str, Any]
    dataset: str  # the dataset directory the job ran on
    weights_kind: str  # "subnet" (retrained) or "supernet" (inherited weights)
    weights_path: str
    metrics: dict[str, Any]


def is_job_source(source: str) -> bool:
    """SOURCE is a job's run directory, or no path at all and so a job's name or id."""
    path = Path(source)
    if path.exists():
        return path.is_dir() and job_id_of_run_dir(path) is not None
    return "/" not in source and os.sep not in source


def export_metrics(candidate: Candidate) -> dict[str, Any]:
    """What an exported candidate's ``metrics.json`` holds: its costs and leaderboard metrics, and
    which candidate of which job it is (the API's exports and ``nasrec export`` alike)."""
    return {**candidate.costs, **candidate.metrics, "candidate": candidate.id, "job": candidate.job_id}


def find_job_candidate(
    source: str,
    *,
    candidate: str | None = None,
    dataset: str | None = None,
    database_url: str | None = None,
) -> JobCandidate:
    """The job named by ``source`` (a run directory, a job name or a job id) in the database at
    ``database_url`` (default: ``NASREC_DATABASE_URL`` or the SQLite file in the data home), and its
    candidate ``candidate`` (default: the winner). ``dataset``, when given, must be the job's."""
    run_dir = Path(source) if job_id_of_run_dir(source) is not None and Path(source).is_dir() else None
    store = _open(database_url, source)
    try:
        with store.session() as session:
            job = _job(session, store, source, run_dir=run_dir)
            row = _candidate(session, job, candidate)
            kind, path = crud.candidate_weights(session=session, owner_id=None, candidate=row)
            data = session.get(Dataset, job.dataset_id) if job.dataset_id is not None else None
            found = JobCandidate(
                job_id=job.id,
                job_name=job.name,
                candidate_id=row.id,
                candidate_name=_name_of(row),
                arch_hash=row.arch_hash,
                architecture=dict(row.architecture),
                dataset=_dataset(job, None if data is None else data.path, dataset),
                weights_kind=kind,
                weights_path=path,
                metrics=export_metrics(row),
            )
    finally:
        store.dispose()
    if run_dir is not None and not Path(path).resolve().is_relative_to(run_dir.resolve()):
        raise ConflictError(
            f"{source} is not the run directory of job {job.id} in {_shown(store)}: that job's "
            f"weights are in {path}; pass --storage with the database that ran {source}"
        )
    return found


def _open(database_url: str | None, source: str) -> Store:
    url = normalize_url(database_url or default_database_url())
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).is_file():
        raise NotFoundError(
            f"{source} does not exist, and there is no job database at {file} to look it up in; "
            "pass a checkpoint directory, an architecture JSON, a job's run directory, "
            "or --storage URL for the database of your jobs"
        )
    return open_store(url)


def _shown(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


def _job(session: Session, store: Store, source: str, *, run_dir: Path | None) -> Job:
    if run_dir is not None:
        job_id = job_id_of_run_dir(run_dir)
        assert job_id is not None
        job = session.get(Job, job_id)
        if job is None:
            raise NotFoundError(
                f"{source} is the run directory of job {job_id}, but {_shown(store)} has no job {job_id}; "
                "pass --storage with the database that ran it"
            )
        return job
    found = {job.id: job for job in session.scalars(select(Job).where(Job.name == source).order_by(Job.id))}
    if source.isdigit() and (by_id := session.get(Job, int(source))) is not None:
        found[by_id.id] = by_id
    if len(found) == 1:
        return next(iter(found.values()))
    if found:
        ids = ", ".join(str(i) for i in sorted(found))
        instead = f"run directory (e.g. {run_dir_of(max(found))})" if source.isdigit() else "id"
        raise ConflictError(f"{source!r} names several jobs ({ids}); pass one's {instead}")
    recent, count = crud.list_jobs(session=session, owner_id=None, limit=SHOWN)
    listed = ", ".join(f"{job.name or '(unnamed)'} (id {job.id})" for job in recent) or "none"
    more = f" and {count - len(recent)} more" if count > len(recent) else ""
    raise NotFoundError(
        f"{source} does not exist, and {_shown(store)} has no job named {source!r}; "
        f"jobs: {listed}{more} (pass a job's name, id or run directory, or --storage URL)"
    )


def _candidate(session: Session, job: Job, wanted: str | None) -> Candidate:
    what = f"job {job.id} ({job.name})" if job.name else f"job {job.id}"
    if wanted is None:
        winners = list(
            session.scalars(select(Candidate).where(Candidate.job_id == job.id, Candidate.stage == "winner"))
        )
        if len(winners) == 1:
            return winners[0]
        if job.state == JobState.SUCCEEDED:
            why = "finished without a winner"
        else:
            why = f"has no winner yet: it is {job.state}" + (f" (phase {job.phase})" if job.phase else "")
        some = _some(session, job)
        raise ConflictError(f"{what} {why}; pass --candidate ID to export one of its candidates{some}")
    if wanted.isdigit():
        row = session.get(Candidate, int(wanted))
        if row is None or row.job_id != job.id:
            raise NotFoundError(f"{what} has no candidate {wanted}{_some(session, job)}")
        return row
    rows = session.scalars(
        select(Candidate)
        .where(Candidate.job_id == job.id, or_(Candidate.name == wanted, Candidate.stage.in_(FINAL_STAGES)))
        .order_by(Candidate.id)
    )
    named = [c for c in rows if wanted in (c.name, (c.metrics or {}).get("retrained_name"))]
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(str(c.id) for c in named)
        raise ConflictError(f"{what} has several candidates named {wanted!r} ({ids}); pass --candidate ID")
    raise NotFoundError(f"{what} has no candidate named {wanted!r}{_some(session, job)}")


def _some(session: Session, job: Job) -> str:
    """``; its candidates include 12 (found-1, the winner), 9 (dlrm), ...``: the retrained models
    first, then the best evaluated ones."""
    finals = list(
        session.scalars(
            select(Candidate)
            .where(Candidate.job_id == job.id, Candidate.stage.in_(FINAL_STAGES))
            .order_by(Candidate.id)
            .limit(SHOWN)
        )
    )
    rest = session.scalars(
        select(Candidate)
        .where(Candidate.job_id == job.id, Candidate.stage == "evaluated", Candidate.val_logloss.is_not(None))
        .order_by(Candidate.val_logloss, Candidate.id)
        .limit(SHOWN - len(finals))
    )
    shown = [*finals, *rest][:SHOWN]
    if not shown:
        return " (it has no evaluated candidates yet)"
    named = (f"{c.id} ({_name_of(c)}{', the winner' if c.stage == 'winner' else ''})" for c in shown)
    return "; its candidates include " + ", ".join(named)


def _name_of(candidate: Candidate) -> str:
    return str((candidate.metrics or {}).get("retrained_name") or candidate.name or candidate.arch_hash[:12])


def _dataset(job: Job, stored: str | None, given: str | None) -> str:
    """The job's dataset directory; ``given`` (a name or directory) must be it."""
    if given is None:
        if stored is None:
            raise ConflictError(
                f"job {job.id}'s dataset was deleted from the store; pass --dataset NAME (the one it ran on)"
            )
        return stored
    from nasrec.data import Dataset as DataDir

    chosen = DataDir.open(given).path
    if stored is not None and Path(chosen).resolve() != Path(stored).resolve():
        raise ConfigError(
            f"--dataset {given} is not the dataset job {job.id} ran on ({stored}); leave --dataset out"
        )
    return str(chosen)
