"""Worker processes as seen through their heartbeats (for ``/metrics`` and operators)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from nasrec.store.models import Worker, utcnow


def worker_heartbeat(
    *, session: Session, worker_id: str, hostname: str = "", pid: int = 0, job_id: int | None = None
) -> Worker:
    """Record that the worker is alive (and which job it is on, if any)."""
    worker = session.get(Worker, worker_id, populate_existing=True)
    if worker is None:
        worker = Worker(id=worker_id, hostname=hostname, pid=pid)
        session.add(worker)
    worker.job_id = job_id
    worker.heartbeat_at = utcnow()
    session.commit()
    return worker


def list_workers(*, session: Session) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.id)))


def forget_workers(*, session: Session, silent_since: datetime) -> int:
    """Delete workers whose last heartbeat is older than ``silent_since``; how many went."""
    result = session.execute(delete(Worker).where(Worker.heartbeat_at < silent_since))
    session.commit()
    return result.rowcount
