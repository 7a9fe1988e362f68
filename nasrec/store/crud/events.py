"""A job's log: events in insertion order, read by cursor (``after`` the last id seen)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nasrec.errors import ConfigError
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.crud.paging import check_page
from nasrec.store.models import Event, Job

LEVELS = ("debug", "info", "warning", "error")


def add_event(
    session: Session, job_id: int, message: str, *, level: str = "info", data: dict[str, Any] | None = None
) -> Event:
    """Add an event to the session's transaction without committing (for crud functions that
    log what they did in the same transaction)."""
    if level not in LEVELS:
        raise ConfigError(f"event level must be one of {', '.join(LEVELS)}, got {level!r}")
    event = Event(job_id=job_id, message=message, level=level, data=data)
    session.add(event)
    return event


def record_event(
    *, session: Session, job_id: int, message: str, level: str = "info", data: dict[str, Any] | None = None
) -> Event:
    """Append one event to a job's log and commit."""
    event = add_event(session, job_id, message, level=level, data=data)
    session.commit()
    return event


def list_events(
    *, session: Session, owner_id: int | None, job_id: int, after: int = 0, limit: int = 100
) -> list[Event]:
    """Events of the job with id > ``after``, oldest first; NotFoundError for someone else's job."""
    check_page(limit, 0)
    get_owned(session, Job, owner_id, Job.id == job_id, label=f"job {job_id}")
    stmt = owned(select(Event), Event, owner_id).where(Event.job_id == job_id, Event.id > after)
    return list(session.scalars(stmt.order_by(Event.id).limit(limit)))
