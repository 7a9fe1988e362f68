"""A job run from the command line: the worker's phases, under a local lease.

``run_local(spec)`` records the job in the store as a submitted one is recorded (owned by the local
user, its dataset registered by path), claims that job, and runs it with ``Worker.run_one``: the same
phase code, events, progress, lease, resume and stop handling as a service worker. So a job run by
``nasrec search`` / ``nasrec demo`` behaves like one run by ``nasrec worker``, and shows up in
``nasrec serve``'s UI when both use the same database.

Running the same spec again finds the same job: a finished one is reused as it is, a failed,
cancelled or interrupted one resumes from its stored trials and checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from nasrec.errors import ConflictError, NasrecError
from nasrec.jobs.runner import kept_work, run_dir_of, study_name
from nasrec.jobs.worker import Worker, WorkerConfig, stopping_on_signals
from nasrec.spec import JobSpec
from nasrec.store import Dataset, Job, JobState, Store, crud, open_store

if TYPE_CHECKING:
    from nasrec.search import Search
    from nasrec.search.leaderboard import Entry
    from nasrec.search.search import PhaseProgress

__all__ = ["LocalRun", "run_local"]


@dataclass(frozen=True)
class LocalRun:
    """What a local run did: its job, its search (study and run directory) and final leaderboard.
    ``reused``: the job had already finished, nothing ran. ``seconds``: wall time per phase of the
    attempt that finished the job (``total`` included)."""

    job_id: int
    search: Search
    entries: list[Entry]
    reused: bool
    database_url: str
    seconds: dict[str, float]


def run_local(
    spec: JobSpec | dict[str, Any],
    *,
    database_url: str | None = None,
    listener: PhaseProgress | None = None,
) -> LocalRun:
    """Run (or resume, or reuse) ``spec`` to its end in this process; raises if it fails."""
    from nasrec.search import load_search
    from nasrec.search.finalize import job_baselines

    spec = JobSpec.parse(spec)
    job_baselines(spec)  # the job's own architectures are checked before it is recorded or run
    store = open_store(database_url)
    try:
        job_id, state = _find_or_submit(store, spec)
        reused = state == JobState.SUCCEEDED
        worker = Worker(store, WorkerConfig(ray_address=spec.resources.ray_address))
        if not reused:
            job = worker.claim(job_id)
            if job is None:
                raise ConflictError(
                    f"job {job_id} is being run by another worker; watch it in `nasrec serve`"
                )
            try:
                with stopping_on_signals(worker.stop):  # SIGTERM, Ctrl-C: finish the step, save, stop
                    state = worker.run_one(job, listener=listener)
            except KeyboardInterrupt:  # a second one: back to the queue now, not when the lease runs out
                with store.session(write=True) as session:
                    crud.release_job(session=session, job_id=job_id, worker=worker.id)
                raise
            _check_outcome(store, job_id, state)
        with store.session() as session:
            job = crud.get_job(session=session, owner_id=None, job_id=job_id)
        search = load_search(study_name(job), storage=store.url, run_dir=run_dir_of(job_id))
        seconds = dict((job.result or {}).get("seconds", {}))
        return LocalRun(
            job_id, search, search.final_leaderboard(), reused=reused, database_url=store.url, seconds=seconds
        )
    finally:
        store.dispose()


def _find_or_submit(store: Store, spec: JobSpec) -> tuple[int, JobState | None]:
    """The local user's job with this spec (same name and fingerprint), requeued if it had failed or
    been cancelled; else a new one. Returns (job id, JobState.SUCCEEDED if it already finished)."""
    from nasrec.data import Dataset as DataDir

    data = DataDir.open(spec.dataset)
    with store.session(write=True) as session:
        owner = crud.local_user(session=session)
        dataset = _dataset_row(session, owner.id, data)
        same = [
            job
            for job in session.scalars(
                select(Job).where(Job.owner_id == owner.id, Job.name == spec.job_name[:128]).order_by(Job.id)
            )
            if JobSpec.parse(job.spec).fingerprint == spec.fingerprint and job.dataset_id == dataset.id
        ]
        if not same:
            job = crud.create_job(
                session=session,
                owner_id=owner.id,
                spec=spec.to_dict(),
                name=spec.job_name[:128],
                dataset_id=dataset.id,
            )
            return job.id, None
        job = same[-1]
        if job.state in (JobState.FAILED, JobState.CANCELLED):
            crud.requeue_job(session=session, job_id=job.id)
        return job.id, (JobState.SUCCEEDED if job.state == JobState.SUCCEEDED else None)


def _dataset_row(session: Any, owner_id: int, data: Any) -> Dataset:
    """The owner's store record of the dataset directory ``data``, registered on first use."""
    path = str(Path(data.path).resolve())
    row = session.scalars(select(Dataset).where(Dataset.owner_id == owner_id, Dataset.path == path)).first()
    if row is not None:
        return row
    taken = set(session.scalars(select(Dataset.name).where(Dataset.owner_id == owner_id)))
    name, n = data.name, 1
    while name in taken:  # another directory of the same name: keep both, distinctly named
        n += 1
        name = f"{data.name}-{n}"
    return crud.create_dataset(
        session=session, owner_id=owner_id, name=name, path=path, source="local", info=data.info()
    )


def _check_outcome(store: Store, job_id: int, state: JobState | None) -> None:
    if state == JobState.SUCCEEDED:
        return
    with store.session() as session:
        job = crud.get_job(session=session, owner_id=None, job_id=job_id)
    if state == JobState.FAILED:
        raise NasrecError(f"job {job_id} failed: {job.error}")
    what = {JobState.CANCELLED: "was cancelled", JobState.QUEUED: "was stopped and is back in the queue"}
    ended = what.get(state, "was taken over by another worker") if state is not None else "was abandoned"
    from nasrec.search import load_search

    kept = kept_work(load_search(study_name(job), storage=store.url, run_dir=run_dir_of(job_id)))
    saved = f" (saved: {kept})" if kept else ""
    raise NasrecError(f"job {job_id} {ended}{saved}; run the same command again to resume")
