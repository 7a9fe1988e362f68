"""The worker loop: claim a job with a lease, run its phases, finish it; again, until stopped.

    claim (lease) -> [Lease thread: renew every lease/3, read the cancel flag] -> run_job -> finish

* succeeded: the result (final leaderboard, counts) is stored with the job;
* cancelled: the job's cancel flag was seen between steps;
* failed: a phase raised (the message and the traceback's tail go to the job's events), or the job
  was claimed more than ``max_attempts`` times (its workers keep dying: out of memory, say);
* released: the worker is shutting down (``stop()``, SIGTERM); the job goes back to the queue and
  another worker resumes it;
* abandoned: the lease was lost (this worker stalled longer than the lease and another one took the
  job over); this worker writes nothing more for it.

A worker that dies without any of this (SIGKILL, power loss) leaves the lease to expire; the next
worker to poll claims the job and resumes it (see ``nasrec.jobs.runner``).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from nasrec.errors import ConfigError
from nasrec.jobs.lease import Lease, StopReason
from nasrec.jobs.runner import JobStopped, run_job
from nasrec.ray_runtime import ensure_ray
from nasrec.store import Job, JobState, LeaseLostError, Store, crud

if TYPE_CHECKING:
    from nasrec.search.search import PhaseProgress

__all__ = ["Worker", "WorkerConfig", "new_worker_id", "on_stop_signals", "stopping_on_signals"]

log = logging.getLogger(__name__)


def on_stop_signals(stop: Callable[[], object]) -> Callable[[], None]:
    """SIGTERM and SIGINT call ``stop`` (finish the step, give the job back); a second one interrupts
    at once (the job's lease then expires and a worker resumes it). Returns a function that puts the
    previous handlers back. Main thread only, as Python's signal handlers are."""
    received: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            raise KeyboardInterrupt
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


@contextmanager
def stopping_on_signals(stop: Callable[[], object]) -> Iterator[None]:
    """:func:`on_stop_signals` for the block (nothing is installed outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    restore = on_stop_signals(stop)
    try:
        yield
    finally:
        restore()


def new_worker_id() -> str:
    """``hostname-pid-random``: unique per worker, readable in events and in the workers table."""
    return f"{socket.gethostname()[:100]}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class WorkerConfig:
    """``lease``: seconds a claim lasts without a heartbeat (renewed every lease/3); ``poll``:
    seconds between claim attempts when idle; ``max_attempts``: claims of one job before it is
    failed; ``ray_address`` / ``num_cpus``: the Ray runtime (default: ``NASREC_RAY_ADDRESS``, else
    embedded with every core)."""

    lease: float = crud.DEFAULT_LEASE.total_seconds()
    poll: float = 2.0
    max_attempts: int = 5
    ray_address: str | None = None
    num_cpus: int | None = None

    def __post_init__(self) -> None:
        if not self.lease > 0 or not self.poll > 0:
            raise ConfigError(f"lease and poll must be > 0 seconds, got {self.lease} and {self.poll}")
        if self.max_attempts < 1:
            raise ConfigError(f"max_attempts must be >= 1, got {self.max_attempts}")


class Worker:
    """Claims and runs jobs from ``store`` until ``stop()`` (thread-safe) is called."""

    def __init__(
        self, store: Store, config: WorkerConfig | None = None, *, worker_id: str | None = None
    ) -> None:
        self.store = store
        self.config = config or WorkerConfig()
        self.id = worker_id or new_worker_id()
        self.hostname, self.pid = socket.gethostname(), os.getpid()
        self.shutdown = threading.Event()
        self._last_beat = 0.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.config.lease)

    def stop(self) -> None:
        """Finish the current step, give the current job back to the queue, and return from ``run``."""
        self.shutdown.set()

    def run(self, *, max_jobs: int | None = None, exit_when_idle: bool = False) -> int:
        """The loop; returns how many jobs it worked on. ``exit_when_idle``: return when no job is
        claimable instead of polling."""
        handled = 0
        idle_beat = max(self.config.poll, self.config.lease / 3)
        self._heartbeat(None)
        while not self.shutdown.is_set():
            job = self.claim()
            if job is None:
                if exit_when_idle:
                    break
                if self.shutdown.wait(self.config.poll):
                    break
                self._idle_heartbeat(idle_beat)
                continue
            self.run_one(job)
            handled += 1
            if max_jobs is not None and handled >= max_jobs:
                break
        return handled

    def claim(self, job_id: int | None = None) -> Job | None:
        """The next claimable job (or job ``job_id`` only), leased to this worker; None if none is."""
        try:
            with self.store.session(write=True) as session:
                return crud.claim_job(session=session, worker=self.id, lease=self.lease, job_id=job_id)
        except DBAPIError as exc:  # the database is away: try again at the next poll
            log.warning("worker %s could not claim a job: %s", self.id, exc)
            return None

    def run_one(self, job: Job, *, listener: PhaseProgress | None = None) -> JobState | None:
        """Run one claimed job to a final state (or release / abandon it); the state it ended in.

        ``listener`` sees the phases' progress reports (``nasrec.jobs.runner.run_job``)."""
        log.info("worker %s: job %d claimed (attempt %d)", self.id, job.id, job.attempts)
        if job.cancel_requested:
            return self._finish(job.id, JobState.CANCELLED)
        if job.attempts > self.config.max_attempts:
            return self._finish(
                job.id,
                JobState.FAILED,
                error=f"gave up after {job.attempts - 1} attempts: the workers running this job kept dying",
            )
        lease = Lease(
            self.store,
            job_id=job.id,
            worker=self.id,
            lease=self.lease,
            shutdown=self.shutdown,
            hostname=self.hostname,
            pid=self.pid,
        )
        try:
            with lease:
                self._heartbeat(job.id)
                result = run_job(
                    self.store, job, worker=self.id, lease=lease, start_ray=self._start_ray, listener=listener
                )
            return self._finish(job.id, JobState.SUCCEEDED, result=result)
        except JobStopped as stop:
            return self._stopped(job.id, stop.reason)
        except LeaseLostError:
            return self._stopped(job.id, StopReason.LEASE_LOST)
        except Exception as exc:
            if lease.lost:
                return self._stopped(job.id, StopReason.LEASE_LOST)
            log.exception("worker %s: job %d failed", self.id, job.id)
            message = f"{type(exc).__name__}: {exc}"[:4000]
            self._event(
                job.id,
                "the failure's traceback",
                level="error",
                data={"traceback": traceback.format_exc()[-4000:]},
            )
            return self._finish(job.id, JobState.FAILED, error=message)
        finally:
            self._heartbeat(None)

    # ---- outcomes --------------------------------------------------------------------------------

    def _stopped(self, job_id: int, reason: StopReason) -> JobState | None:
        if reason == StopReason.CANCELLED:
            return self._finish(job_id, JobState.CANCELLED)
        if reason == StopReason.SHUTDOWN:
            try:
                with self.store.session(write=True) as session:
                    crud.release_job(session=session, job_id=job_id, worker=self.id)
                log.info("worker %s: job %d released (shutting down)", self.id, job_id)
                return JobState.QUEUED
            except LeaseLostError:
                pass
        log.warning("worker %s: job %d abandoned: another worker holds its lease", self.id, job_id)
        return None

    def _finish(
        self, job_id: int, state: JobState, *, error: str | None = None, result: dict[str, Any] | None = None
    ) -> JobState | None:
        try:
            with self.store.session(write=True) as session:
                crud.finish_job(
                    session=session, job_id=job_id, worker=self.id, state=state, error=error, result=result
                )
        except LeaseLostError:
            log.warning(
                "worker %s: job %d was taken over before it could be marked %s", self.id, job_id, state
            )
            return None
        log.info("worker %s: job %d %s", self.id, job_id, state.value)
        return state

    def _event(self, job_id: int, message: str, **kwargs: object) -> None:
        try:
            with self.store.session(write=True) as session:
                crud.record_event(session=session, job_id=job_id, message=message, **kwargs)  # type: ignore[arg-type]
        except DBAPIError:
            log.warning("worker %s: could not record an event of job %d", self.id, job_id)

    # ---- heartbeats and Ray ----------------------------------------------------------------------

    def _heartbeat(self, job_id: int | None) -> None:
        try:
            with self.store.session(write=True) as session:
                crud.worker_heartbeat(
                    session=session, worker_id=self.id, hostname=self.hostname, pid=self.pid, job_id=job_id
                )
        except DBAPIError as exc:
            log.warning("worker %s: heartbeat failed: %s", self.id, exc)
        self._last_beat = time.monotonic()

    def _idle_heartbeat(self, every: float) -> None:
        if time.monotonic() - self._last_beat >= every:
            self._heartbeat(None)

    def _start_ray(self) -> None:
        ensure_ray(address=self.config.ray_address, num_cpus=self.config.num_cpus)
