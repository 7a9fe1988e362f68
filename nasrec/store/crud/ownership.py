"""The one ownership rule: a user reaches a row only through their own datasets and jobs.

Every crud function that serves a user's request filters with ``owned`` or loads with
``get_owned``; someone else's row looks exactly like a missing one (``NotFoundError``, 404), so
ids cannot be probed. ``owner_id=None`` means "any owner" and is for workers and admin tools: the
functions that take it make it a required keyword, so no caller passes it by accident.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from nasrec.errors import NotFoundError
from nasrec.store.models import Artifact, Candidate, Dataset, Event, Job

T = TypeVar("T", Dataset, Job, Candidate, Event, Artifact)


def owned(stmt: Select[Any], model: type, owner_id: int | None) -> Select[Any]:
    """``stmt`` restricted to rows of ``model`` that belong to ``owner_id`` (unchanged for None)."""
    if owner_id is None:
        return stmt
    if model in (Dataset, Job):
        return stmt.where(model.owner_id == owner_id)
    if model in (Candidate, Event, Artifact):
        return stmt.join(Job, Job.id == model.job_id).where(Job.owner_id == owner_id)
    raise TypeError(f"no ownership rule for {model.__name__}")


def get_owned(session: Session, model: type[T], owner_id: int | None, *where: Any, label: str) -> T:
    """The one row of ``model`` matching ``where`` and owned by ``owner_id``, else NotFoundError.

    ``label`` names the row in the message, e.g. ``"job 42"`` or ``"dataset 'criteo'"``.
    """
    row = session.scalars(owned(select(model).where(*where), model, owner_id)).one_or_none()
    if row is None:
        raise NotFoundError(f"{label} not found")
    return row
