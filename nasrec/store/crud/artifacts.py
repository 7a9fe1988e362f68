"""Files that jobs produce: checkpoints (job-level), retrained weights and export bundles
(candidate-level). The store records where a file is, its size and digest; it never reads it.

Which weights a candidate is exported with (``candidate_weights``, the rule both the API's export
and ``nasrec export`` follow), newest existing first:

    kind "subnet"    (candidate_id set) a SubNet checkpoint of this candidate, retrained from scratch
    kind "supernet"  (job-level)        the job's supernet checkpoint: the candidate's inherited weights
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nasrec.errors import ConfigError, ConflictError
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.models import Artifact, Candidate, Job

SUBNET_KIND = "subnet"
SUPERNET_KIND = "supernet"


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


def candidate_weights(*, session: Session, owner_id: int | None, candidate: Candidate) -> tuple[str, str]:
    """The weights ``candidate`` is exported with: (kind, path) of its newest ``subnet`` artifact
    whose path exists, else of its job's newest existing ``supernet`` artifact. ``ConflictError``
    when there is neither (nothing trained yet, or the files were deleted)."""
    artifacts = list_artifacts(session=session, owner_id=owner_id, job_id=candidate.job_id)
    for kind, for_candidate in ((SUBNET_KIND, candidate.id), (SUPERNET_KIND, None)):
        for artifact in artifacts:
            mine = artifact.kind == kind and artifact.candidate_id == for_candidate
            if mine and Path(artifact.path).exists():
                return kind, artifact.path
    raise ConflictError(
        f"candidate {candidate.id} has no trained weights yet: it can be exported once its job has a "
        "supernet checkpoint or has retrained it"
    )
