"""Workers on real stores: claim, cancel between steps, release on shutdown and resume from the
checkpoint, several jobs at once, lost leases, failures. (A whole job, with Ray, runs in tests/e2e.)"""

from __future__ import annotations

from datetime import timedelta

from nasrec.jobs import Worker, WorkerConfig
from nasrec.store import JobState, Store, crud, utcnow
from nasrec.train.checkpoint import latest_checkpoint

from .conftest import Jobs


def _training(jobs: Jobs, job_id: int, steps: int = 0) -> bool:
    """The job's supernet is training and has reported ``steps`` steps (every 50th is reported)."""
    job = jobs.get(job_id)
    return job.state == JobState.RUNNING and job.phase == "supernet" and job.step >= steps


def _checkpoint(job_id: int):  # noqa: ANN202
    from nasrec.jobs.runner import run_dir_of

    return latest_checkpoint(run_dir_of(job_id) / "supernet")


def test_shutdown_releases_the_job_another_worker_resumes_it_and_a_cancel_stops_it(
    jobs: Jobs,
    start_worker,  # noqa: ANN001
) -> None:
    job_id = jobs.submit()
    first = start_worker()
    jobs.wait("supernet training", lambda: _training(jobs, job_id, steps=50))
    first.worker.stop()  # shutting down: the job goes back to the queue after the current step
    first.thread.join(timeout=60)
    job = jobs.get(job_id)
    assert job.state == JobState.QUEUED and job.lease_owner is None
    released = _checkpoint(job_id)  # the stop saved the step it reached
    assert released is not None and released.step >= 50 and not released.metadata["final"]

    second = start_worker()
    resumed = f"supernet: resuming from the checkpoint of step {released.step}"
    jobs.wait("the takeover", lambda: resumed in jobs.events(job_id))
    job = jobs.get(job_id)
    assert job.attempts == 2 and job.lease_owner == second.worker.id
    jobs.cancel(job_id)
    jobs.wait("the cancel", lambda: jobs.get(job_id).state == JobState.CANCELLED, timeout=60)

    job = jobs.get(job_id)
    assert job.lease_owner is None and job.finished_at is not None
    events = jobs.events(job_id)
    assert f"released by worker {first.worker.id}; back in the queue" in events
    assert events[-2:] == ["cancel requested; the worker stops after its current step", "job cancelled"]
    cancelled = _checkpoint(job_id)  # it trained on from the released step, then saved where it stopped
    assert cancelled is not None and released.step < cancelled.step < 100_000
    assert second.thread.is_alive()  # and the worker went back to polling


def test_two_workers_run_two_jobs_at_once(jobs: Jobs, start_worker) -> None:  # noqa: ANN001
    a, b = jobs.submit(), jobs.submit()
    workers = {start_worker().worker.id, start_worker().worker.id}
    jobs.wait("both jobs training", lambda: _training(jobs, a) and _training(jobs, b))
    owners = {jobs.get(a).lease_owner, jobs.get(b).lease_owner}
    assert owners == workers  # one job each, at the same time
    for job_id in (a, b):
        jobs.cancel(job_id)
    jobs.wait(
        "both cancels", lambda: {jobs.get(a).state, jobs.get(b).state} == {JobState.CANCELLED}, timeout=60
    )


def test_a_worker_that_lost_its_lease_stops_and_writes_nothing_more(
    jobs: Jobs,
    start_worker,  # noqa: ANN001
    store: Store,
) -> None:
    job_id = jobs.submit()
    stalled = start_worker(lease=3.0)
    jobs.wait("supernet training", lambda: _training(jobs, job_id))
    # Another worker claims the job as if the lease had run out (the first one stalled past it).
    with store.session(write=True) as session:
        thief = crud.claim_job(session=session, worker="thief", now=utcnow() + timedelta(seconds=10))
    assert thief is not None and thief.id == job_id and thief.attempts == 2
    jobs.wait("the first worker to notice", lambda: _worker_job(store, stalled.worker.id) is None, timeout=30)

    job = jobs.get(job_id)
    assert job.state == JobState.RUNNING and job.lease_owner == "thief"  # not finished, not released
    events = jobs.events(job_id)
    assert not [
        e for e in events if e.startswith(("job cancelled", "job failed", "job succeeded", "released"))
    ]
    assert stalled.thread.is_alive()
    with store.session(write=True) as session:  # the thief's own writes still work
        crud.finish_job(session=session, job_id=job_id, worker="thief", state=JobState.CANCELLED)


def _worker_job(store: Store, worker_id: str) -> int | None:
    with store.session() as session:
        row = next(w for w in crud.list_workers(session=session) if w.id == worker_id)
        return row.job_id


def test_a_job_whose_dataset_is_gone_fails_with_the_reason(jobs: Jobs, store: Store) -> None:
    job_id = jobs.submit()
    with store.session(write=True) as session:
        crud.delete_dataset(session=session, owner_id=jobs.user.id, name="tiny")
    worker = Worker(store, WorkerConfig(poll=0.1))
    assert worker.run(exit_when_idle=True) == 1
    job = jobs.get(job_id)
    assert job.state == JobState.FAILED
    assert job.error == f"NotFoundError: job {job_id}'s dataset was deleted; the job cannot run"


def test_a_job_whose_workers_keep_dying_is_failed_and_a_dead_workers_cancel_is_honoured(
    jobs: Jobs, store: Store
) -> None:
    doomed, cancelled = jobs.submit(), jobs.submit()
    past = utcnow() - timedelta(hours=1)
    # Workers that claimed and died an hour ago. The oldest claimable job is claimed first, so the
    # doomed job's last lease outlasts the moment the other job is claimed (and expired since).
    claims = [(doomed, 0), (doomed, 0), (doomed, 30 * 60), (cancelled, 0)]
    with store.session(write=True) as session:
        for i, (job_id, lease) in enumerate(claims):
            now = past + timedelta(seconds=i + 1)
            claimed = crud.claim_job(
                session=session, worker=f"dead-{i}", lease=timedelta(seconds=lease), now=now
            )
            assert claimed is not None and claimed.id == job_id
        crud.request_cancel(session=session, owner_id=None, job_id=cancelled)
    worker = Worker(store, WorkerConfig(poll=0.1, max_attempts=3))
    assert worker.run(exit_when_idle=True) == 2
    assert jobs.get(doomed).state == JobState.FAILED
    assert jobs.get(doomed).error == "gave up after 3 attempts: the workers running this job kept dying"
    assert jobs.get(cancelled).state == JobState.CANCELLED
