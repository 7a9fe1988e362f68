"""A job's lease, held by a heartbeat thread that renews it and reads the job's cancel flag.

The thread renews every ``lease / 3`` seconds (so two renewals may fail before the lease runs out)
and records the worker's heartbeat. It never stops the work itself: it sets ``reason``, and the
phases poll ``should_stop()`` between steps (supernet and retraining steps, search rounds).

    reason        set when                                  what the worker does
    lease lost    another worker took the job over          drops the job, writes nothing more
    cancelled     the job's cancel flag is set              finishes it ``cancelled``
    shutdown      the worker process is shutting down       releases it to the queue
"""

from __future__ import annotations

import enum
import logging
import threading
from datetime import timedelta

from nasrec.store import LeaseLostError, Store, crud

log = logging.getLogger(__name__)


class StopReason(enum.StrEnum):
    """Why a job's work stops early, in order of precedence (a lost lease overrides everything)."""

    LEASE_LOST = "lease lost"
    CANCELLED = "cancelled"
    SHUTDOWN = "shutdown"


_PRECEDENCE = {StopReason.LEASE_LOST: 0, StopReason.CANCELLED: 1, StopReason.SHUTDOWN: 2}


class Lease:
    """The lease of ``job_id`` held by ``worker``, renewed in a daemon thread while open.

    Use as a context manager. ``should_stop()`` is cheap (no database access): pass it to the
    training loops. ``shutdown`` is the worker's own stop event.
    """

    def __init__(
        self,
        store: Store,
        *,
        job_id: int,
        worker: str,
        lease: timedelta,
        shutdown: threading.Event,
        hostname: str = "",
        pid: int = 0,
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.worker = worker
        self.lease = lease
        self.interval = max(lease.total_seconds() / 3, 0.05)
        self._shutdown = shutdown
        self._hostname, self._pid = hostname, pid
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._reason: StopReason | None = None
        self._thread = threading.Thread(target=self._beat, name=f"lease-job-{job_id}", daemon=True)

    # ---- state read by the phases ----------------------------------------------------------------

    @property
    def reason(self) -> StopReason | None:
        if self._reason is None and self._shutdown.is_set():
            self._set(StopReason.SHUTDOWN)
        return self._reason

    def should_stop(self) -> bool:
        return self.reason is not None

    @property
    def lost(self) -> bool:
        return self._reason == StopReason.LEASE_LOST

    def _set(self, reason: StopReason) -> None:
        with self._lock:
            if self._reason is None or _PRECEDENCE[reason] < _PRECEDENCE[self._reason]:
                self._reason = reason

    # ---- the heartbeat -----------------------------------------------------------------------------

    def renew(self) -> None:
        """Extend the lease once, read the cancel flag, record the worker's heartbeat."""
        try:
            with self.store.session(write=True) as session:
                job = crud.renew_lease(
                    session=session, job_id=self.job_id, worker=self.worker, lease=self.lease
                )
                crud.worker_heartbeat(
                    session=session,
                    worker_id=self.worker,
                    hostname=self._hostname,
                    pid=self._pid,
                    job_id=self.job_id,
                )
        except LeaseLostError:
            log.warning(
                "worker %s lost the lease of job %d: another worker took it over", self.worker, self.job_id
            )
            self._set(StopReason.LEASE_LOST)
            self._closed.set()
            return
        if job.cancel_requested:
            self._set(StopReason.CANCELLED)

    def _beat(self) -> None:
        while not self._closed.wait(self.interval):
            try:
                self.renew()
            except Exception as exc:  # a database hiccup: try again next beat (the lease has slack)
                log.warning(
                    "heartbeat of job %d failed (%s: %s); retrying", self.job_id, type(exc).__name__, exc
                )

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._thread.join(timeout=max(self.interval, 5.0))
