"""Jobs: submit, read, cancel, and the worker side (claim with a lease, heartbeat, progress, finish).

A worker holds a job through a lease (``lease_owner`` and ``lease_expires_at``) that it renews by
heartbeat. A running job whose lease has expired is claimable again: another worker takes it over
(``attempts`` counts the claims) and resumes from the job's checkpoints and stored trials. Every
worker-side write is conditional on still holding the lease; one that no longer does gets
``LeaseLostError`` and must stop working on the job.

Claiming is one ``UPDATE ... WHERE id = (SELECT ... LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING``:
on PostgreSQL the row lock with SKIP LOCKED lets concurrent workers pick different jobs without
waiting; on SQLite the statement runs under the database write lock, which makes it atomic.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.orm import Session, aliased

from nasrec.errors import ConfigError, ConflictError
from nasrec.store.crud.events import add_event
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.crud.paging import check_page
from nasrec.store.models import Job, JobState, utcnow

DEFAULT_LEASE = timedelta(seconds=60)


class LeaseLostError(ConflictError):
    """The worker no longer holds the job's lease (it expired and another worker took the job)."""


def create_job(
    *,
    session: Session,
    owner_id: int,
    spec: dict[str, Any],
    name: str = "",
    dataset_id: int | None = None,
) -> Job:
    """Queue a job. ``spec`` must already be validated (see ``server`` / ``nasrec.spec``)."""
    if len(name) > 128:
        raise ConfigError(f"job name is {len(name)} characters long; the limit is 128")
    job = Job(owner_id=owner_id, spec=spec, name=name, dataset_id=dataset_id, state=JobState.QUEUED)
    session.add(job)
    session.flush()
    add_event(session, job.id, "job submitted")
    session.commit()
    return job


def get_job(*, session: Session, owner_id: int | None, job_id: int) -> Job:
    return get_owned(session, Job, owner_id, Job.id == job_id, label=f"job {job_id}")


def list_jobs(
    *,
    session: Session,
    owner_id: int | None,
    state: JobState | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Job], int]:
    """One page of jobs, newest first, and how many match in all."""
    check_page(limit, offset)
    where = [] if state is None else [Job.state == state]
    count = session.scalar(owned(select(func.count()).select_from(Job), Job, owner_id).where(*where)) or 0
    stmt = owned(select(Job), Job, owner_id).where(*where)
    rows = session.scalars(stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset))
    return list(rows), count


def request_cancel(*, session: Session, owner_id: int | None, job_id: int) -> Job:
    """Cancel a job: a queued job is cancelled at once, a running one is flagged for its worker
    (which stops between steps). Cancelling a cancelled job is a no-op; a finished one, a conflict."""
    job = get_job(session=session, owner_id=owner_id, job_id=job_id)
    now = utcnow()
    cancelled = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == JobState.QUEUED)
        .values(state=JobState.CANCELLED, cancel_requested=True, finished_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if cancelled:
        add_event(session, job_id, "job cancelled before it started")
    else:
        flagged = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == JobState.RUNNING, Job.cancel_requested.is_(False))
            .values(cancel_requested=True)
            .execution_options(synchronize_session=False)
        ).rowcount
        if flagged:
            add_event(session, job_id, "cancel requested; the worker stops after its current step")
    session.commit()
    session.refresh(job)
    if job.state in (JobState.SUCCEEDED, JobState.FAILED):
        raise ConflictError(f"job {job_id} already {job.state.value}; there is nothing to cancel")
    return job


def _claimable(job: Any, now: datetime) -> Any:
    return or_(
        job.state == JobState.QUEUED,
        and_(job.state == JobState.RUNNING, job.lease_expires_at < now),
    )


def claim_job(
    *,
    session: Session,
    worker: str,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
    job_id: int | None = None,
) -> Job | None:
    """Take the oldest queued job (or job ``job_id`` only), or a running one whose lease expired;
    None if there is none.

    The job comes back ``running``, leased to ``worker`` until ``now + lease``. Two workers never
    get the same job while its lease is live.
    """
    if not worker or len(worker) > 128:
        raise ConfigError(f"worker id must be 1-128 characters, got {worker!r}")
    now = now or utcnow()
    queue = aliased(Job)
    pick = (
        select(queue.id)
        .where(_claimable(queue, now), true() if job_id is None else queue.id == job_id)
        .order_by(queue.created_at, queue.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    job = session.scalars(
        update(Job)
        .where(Job.id == pick, _claimable(Job, now))
        .values(
            state=JobState.RUNNING,
            lease_owner=worker,
            lease_expires_at=now + lease,
            heartbeat_at=now,
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, now),
        )
        .returning(Job)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if job is None:
        session.rollback()
        return None
    verb = "started" if job.attempts == 1 else f"resumed (attempt {job.attempts}, previous lease expired)"
    add_event(session, job.id, f"{verb} by worker {worker}", data={"worker": worker, "attempt": job.attempts})
    session.commit()
    return job


def _leased(job_id: int, worker: str) -> Any:
    return and_(Job.id == job_id, Job.lease_owner == worker, Job.state == JobState.RUNNING)


def _update_leased(session: Session, job_id: int, worker: str, values: dict[str, Any]) -> Job:
    job = session.scalars(
        update(Job)
        .where(_leased(job_id, worker))
        .values(**values)
        .returning(Job)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if job is None:
        session.rollback()
        raise LeaseLostError(f"worker {worker!r} no longer holds the lease of job {job_id}")
    return job


def renew_lease(
    *,
    session: Session,
    job_id: int,
    worker: str,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> Job:
    """Heartbeat: extend the lease. The returned job tells the worker whether a cancel was
    requested. LeaseLostError if another worker has taken the job over."""
    now = now or utcnow()
    job = _update_leased(session, job_id, worker, {"lease_expires_at": now + lease, "heartbeat_at": now})
    session.commit()
    return job


def set_progress(
    *,
    session: Session,
    job_id: int,
    worker: str,
    phase: str | None = None,
    step: int | None = None,
    total: int | None = None,
    progress: float | None = None,
) -> Job:
    """Record where the job is. ``progress`` (0..1, whole job) defaults to unchanged."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if phase is not None:
        values["phase"] = phase
    if step is not None:
        values["step"] = step
    if total is not None:
        values["total"] = total
    if progress is not None:
        if not 0.0 <= progress <= 1.0:
            raise ConfigError(f"progress must be between 0 and 1, got {progress}")
        values["progress"] = progress
    job = _update_leased(session, job_id, worker, values)
    session.commit()
    return job


def finish_job(
    *,
    session: Session,
    job_id: int,
    worker: str,
    state: JobState,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> Job:
    """Move the job to a final state and drop the lease."""
    state = JobState(state)
    if not state.is_final:
        raise ConfigError(
            f"finish_job needs a final state (succeeded, failed, cancelled), got {state.value!r}"
        )
    now = utcnow()
    values: dict[str, Any] = {
        "state": state,
        "finished_at": now,
        "heartbeat_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
        "error": error,
    }
    if result is not None:
        values["result"] = result
    if state == JobState.SUCCEEDED:
        values["progress"] = 1.0
    job = _update_leased(session, job_id, worker, values)
    message = f"job {state.value}" + (f": {error}" if error else "")
    add_event(session, job_id, message, level="error" if state == JobState.FAILED else "info")
    session.commit()
    return job


def release_job(*, session: Session, job_id: int, worker: str) -> Job:
    """Give the job back to the queue (a worker shutting down cleanly); it resumes elsewhere."""
    job = _update_leased(
        session, job_id, worker, {"state": JobState.QUEUED, "lease_owner": None, "lease_expires_at": None}
    )
    add_event(session, job_id, f"released by worker {worker}; back in the queue")
    session.commit()
    return job


def requeue_job(*, session: Session, job_id: int) -> Job:
    """Put a failed or cancelled job back in the queue (its run resumes from what it stored)."""
    job = session.get(Job, job_id)
    if job is None:
        raise ConflictError(f"job {job_id} does not exist")
    if job.state not in (JobState.FAILED, JobState.CANCELLED):
        raise ConflictError(f"job {job_id} is {job.state.value}; only failed or cancelled jobs are requeued")
    job.state, job.error, job.cancel_requested, job.finished_at = JobState.QUEUED, None, False, None
    add_event(session, job_id, "requeued: it resumes from its stored trials and checkpoints")
    session.commit()
    return job


def job_counts_by_state(*, session: Session) -> dict[JobState, int]:
    """How many jobs are in each state (every state present, zeros included)."""
    counts = dict.fromkeys(JobState, 0)
    for state, n in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[JobState(state)] = n
    return counts
