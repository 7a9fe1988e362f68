"""Files that jobs produce: checkpoints (job-level), retrained weights and export bundles
(candidate-level). The store records where a file is, its size and digest; it never reads it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nasrec.errors import ConfigError
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.models import Artifact, Job


def add_artifact(
    *,
    session: Session,
    job_id: int,
    kind: str,
    path: str,
    candidate_id: int | None = None,
    size_bytes: int = 0,
    sha256: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Artifact:
    """Record a file (or replace the record of the same job, kind and path)."""
    if not kind or len(kind) > 32:
        raise ConfigError(f"artifact kind must be 1-32 characters, got {kind!r}")
    artifact = session.scalars(
        select(Artifact).where(Artifact.job_id == job_id, Artifact.kind == kind, Artifact.path == path)
    ).one_or_none() or Artifact(job_id=job_id, kind=kind, path=path)
    artifact.candidate_id = candidate_id
    artifact.size_bytes = size_bytes
    artifact.sha256 = sha256
    artifact.meta = meta or {}
    session.add(artifact)
    session.commit()
    return artifact


def list_artifacts(
    *,
    session: Session,
    owner_id: int | None,
    job_id: int,
    candidate_id: int | None = None,
    kind: str | None = None,
) -> list[Artifact]:
    """The job's artifacts, newest first, optionally only one candidate's or one kind."""
    get_owned(session, Job, owner_id, Job.id == job_id, label=f"job {job_id}")
    stmt = owned(select(Artifact), Artifact, owner_id).where(Artifact.job_id == job_id)
    if candidate_id is not None:
        stmt = stmt.where(Artifact.candidate_id == candidate_id)
    if kind is not None:
        stmt = stmt.where(Artifact.kind == kind)
    return list(session.scalars(stmt.order_by(Artifact.created_at.desc(), Artifact.id.desc())))


def get_artifact(*, session: Session, owner_id: int | None, artifact_id: int) -> Artifact:
    return get_owned(session, Artifact, owner_id, Artifact.id == artifact_id, label=f"artifact {artifact_id}")
