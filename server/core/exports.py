"""Exporting a candidate: build its bundle once, record it as an artifact, serve the zip.

The weights come from the job's artifacts, newest first:

    kind "subnet"    (candidate_id set) a SubNet checkpoint of this candidate, retrained from scratch
    kind "supernet"  (job-level)        the job's supernet checkpoint: the candidate's inherited weights

(``path`` is a checkpoint directory or a run directory, as ``nasrec.train.load_subnet`` /
``load_supernet`` take it.) A candidate with neither has no trained weights to export: 409.
The bundle goes to ``$NASREC_HOME/runs/job-<job>/exports/candidate-<id>`` (+ ``.zip``) and is
recorded as a candidate artifact of kind ``export``; exporting again returns that record while
its zip is on disk. No transaction is held while the bundle is built (that takes seconds, and on
SQLite a write transaction holds the database's write lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from nasrec.errors import ConflictError, NotFoundError
from nasrec.home import runs_dir
from nasrec.space import Architecture
from nasrec.store import Artifact, Candidate, Dataset, User, crud

EXPORT_KIND = "export"
SUBNET_KIND = "subnet"
SUPERNET_KIND = "supernet"


@dataclass(frozen=True)
class _Plan:
    job_id: int
    candidate_id: int
    architecture: Architecture
    dataset_path: str
    weights_kind: str
    weights_path: str
    metrics: dict[str, Any]


def current_export(*, session: Session, owner: User, candidate_id: int) -> Artifact | None:
    """The candidate's export artifact whose zip is still on disk, if any."""
    candidate = crud.get_candidate(session=session, owner_id=owner.id, candidate_id=candidate_id)
    return _current(session, owner, candidate)


def _current(session: Session, owner: User, candidate: Candidate) -> Artifact | None:
    exports = crud.list_artifacts(
        session=session,
        owner_id=owner.id,
        job_id=candidate.job_id,
        candidate_id=candidate.id,
        kind=EXPORT_KIND,
    )
    return next((a for a in exports if Path(a.path).is_file()), None)


def _weights(session: Session, owner: User, candidate: Candidate) -> tuple[str, str]:
    artifacts = crud.list_artifacts(session=session, owner_id=owner.id, job_id=candidate.job_id)
    for kind, for_candidate in ((SUBNET_KIND, candidate.id), (SUPERNET_KIND, None)):
        for artifact in artifacts:
            if (
                artifact.kind == kind
                and artifact.candidate_id == for_candidate
                and Path(artifact.path).exists()
            ):
                return kind, artifact.path
    raise ConflictError(
        f"candidate {candidate.id} has no trained weights yet: it can be exported once its job has a "
        "supernet checkpoint or has retrained it"
    )


def _plan(session: Session, owner: User, candidate: Candidate) -> _Plan:
    job = crud.get_job(session=session, owner_id=owner.id, job_id=candidate.job_id)
    dataset = session.get(Dataset, job.dataset_id) if job.dataset_id is not None else None
    if dataset is None:
        raise ConflictError(f"job {job.id}'s dataset was deleted; its candidates cannot be exported")
    kind, path = _weights(session, owner, candidate)
    return _Plan(
        job_id=job.id,
        candidate_id=candidate.id,
        architecture=Architecture.from_dict(candidate.architecture),
        dataset_path=dataset.path,
        weights_kind=kind,
        weights_path=path,
        metrics={**candidate.costs, **candidate.metrics, "candidate": candidate.id, "job": job.id},
    )


def _subnet(plan: _Plan) -> Any:
    from nasrec.subnet import SubNet
    from nasrec.train import load_subnet, load_supernet

    if plan.weights_kind == SUBNET_KIND:
        subnet = load_subnet(plan.weights_path)
        if subnet.arch.canonical_hash() != plan.architecture.canonical_hash():
            raise ConflictError(
                f"the subnet checkpoint recorded for candidate {plan.candidate_id} holds another architecture"
            )
        return subnet
    subnet = SubNet.from_supernet(load_supernet(plan.weights_path), plan.architecture)
    subnet.eval()
    return subnet


def build_export(*, session: Session, owner: User, candidate_id: int) -> Artifact:
    """The candidate's export bundle (built now unless it already is), as its artifact record."""
    from nasrec.export import export_bundle
    from nasrec.export.bundle import sha256_file

    candidate = crud.get_candidate(session=session, owner_id=owner.id, candidate_id=candidate_id)
    existing = _current(session, owner, candidate)
    if existing is not None:
        return existing
    plan = _plan(session, owner, candidate)
    session.commit()  # hold no transaction while the bundle is built
    out_dir = runs_dir() / f"job-{plan.job_id}" / "exports" / f"candidate-{plan.candidate_id}"
    bundle = export_bundle(_subnet(plan), dataset=plan.dataset_path, out_dir=out_dir, metrics=plan.metrics)
    if bundle.zip_path is None:  # pragma: no cover - zip=True always writes one
        raise NotFoundError("the export wrote no zip")
    return crud.add_artifact(
        session=session,
        job_id=plan.job_id,
        candidate_id=plan.candidate_id,
        kind=EXPORT_KIND,
        path=str(bundle.zip_path),
        size_bytes=bundle.zip_path.stat().st_size,
        sha256=sha256_file(bundle.zip_path),
        meta={"weights": plan.weights_kind, "files": [p.name for p in bundle.files()]},
    )
