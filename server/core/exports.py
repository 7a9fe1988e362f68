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

Built once, even under concurrent requests (threads or server processes sharing the database): a
build starts by inserting the artifact row with ``meta.state = "building"``; the row's uniqueness
(job, kind, path) lets exactly one request in. The others wait for it (up to ``BUILD_WAIT``
seconds, then 409) and return the same record, which becomes ``"ready"`` (size, sha256, files) when
the zip is in place. A failed build deletes its row; a ``building`` row whose server process died
(seen from the same machine) or that is older than ``STALE_BUILD`` is taken over.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nasrec.errors import ConflictError, NotFoundError
from nasrec.home import runs_dir
from nasrec.space import Architecture
from nasrec.store import Artifact, Candidate, Dataset, User, crud, utcnow

EXPORT_KIND = "export"
SUBNET_KIND = "subnet"
SUPERNET_KIND = "supernet"
BUILDING, READY = "building", "ready"
#: How long a request waits for a build another request started before answering 409.
BUILD_WAIT = 300.0
#: A ``building`` row older than this was left by a server that died mid-build.
STALE_BUILD = timedelta(minutes=30)


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


def export_state(*, session: Session, owner: User, candidate_id: int) -> tuple[str | None, Artifact | None]:
    """``(READY, artifact)`` when the zip can be downloaded, ``(BUILDING, None)`` while a request is
    building it, ``(None, None)`` when it has not been exported."""
    candidate = crud.get_candidate(session=session, owner_id=owner.id, candidate_id=candidate_id)
    ready = _current(session, owner, candidate)
    if ready is not None:
        return READY, ready
    exports = _exports(session, owner, candidate)
    building = any(_state(a) == BUILDING and not _stale(a) for a in exports)
    return (BUILDING if building else None), None


def _exports(session: Session, owner: User, candidate: Candidate) -> list[Artifact]:
    return crud.list_artifacts(
        session=session,
        owner_id=owner.id,
        job_id=candidate.job_id,
        candidate_id=candidate.id,
        kind=EXPORT_KIND,
    )


def _state(artifact: Artifact) -> str:
    return str((artifact.meta or {}).get("state", READY))


def _current(session: Session, owner: User, candidate: Candidate) -> Artifact | None:
    exports = _exports(session, owner, candidate)
    return next((a for a in exports if _state(a) == READY and Path(a.path).is_file()), None)


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
    from nasrec.nets import inherit_subnet
    from nasrec.train import load_subnet, load_supernet

    if plan.weights_kind == SUBNET_KIND:
        subnet = load_subnet(plan.weights_path)
        if subnet.arch.canonical_hash() != plan.architecture.canonical_hash():
            raise ConflictError(
                f"the subnet checkpoint recorded for candidate {plan.candidate_id} holds another architecture"
            )
        return subnet
    subnet = inherit_subnet(load_supernet(plan.weights_path), plan.architecture)
    subnet.eval()
    return subnet


def build_export(*, session: Session, owner: User, candidate_id: int) -> Artifact:
    """The candidate's export bundle (built now unless it already is), as its artifact record."""
    candidate = crud.get_candidate(session=session, owner_id=owner.id, candidate_id=candidate_id)
    existing = _current(session, owner, candidate)
    if existing is not None:
        return existing
    plan = _plan(session, owner, candidate)
    out_dir = runs_dir() / f"job-{plan.job_id}" / "exports" / f"candidate-{plan.candidate_id}"
    zip_path = out_dir.with_name(out_dir.name + ".zip")
    for _ in range(3):
        claim = _claim(session, plan, zip_path)
        if claim is not None:
            break
        ready = _wait_for_build(session, owner, candidate)  # another request is building it
        if ready is not None:
            return ready
    else:
        raise ConflictError(f"candidate {candidate_id}'s export keeps failing in other requests; try again")
    try:
        size, sha256, meta = _build(plan, out_dir)
        row = session.get(Artifact, claim, populate_existing=True)
        if row is None:  # pragma: no cover - only this request deletes its claim
            raise NotFoundError(f"the export record of candidate {candidate_id} vanished")
        row.size_bytes, row.sha256, row.meta = size, sha256, meta
        session.commit()
    except BaseException:
        session.rollback()
        with contextlib.suppress(Exception):  # else the claim goes stale (STALE_BUILD) and is taken over
            session.execute(delete(Artifact).where(Artifact.id == claim))
            session.commit()
        raise
    return row


def _claim(session: Session, plan: _Plan, zip_path: Path) -> int | None:
    """Insert the ``building`` row; its id, or None when another request holds the build."""
    for _ in range(3):
        row = Artifact(
            job_id=plan.job_id,
            candidate_id=plan.candidate_id,
            kind=EXPORT_KIND,
            path=str(zip_path),
            meta={"state": BUILDING, "host": socket.gethostname(), "pid": os.getpid()},
        )
        session.add(row)
        try:
            session.commit()  # hold no transaction while the bundle is built
            return row.id
        except IntegrityError:
            session.rollback()
        held = session.scalars(
            select(Artifact)
            .where(
                Artifact.job_id == plan.job_id, Artifact.kind == EXPORT_KIND, Artifact.path == str(zip_path)
            )
            .execution_options(populate_existing=True)
        ).one_or_none()
        if held is None:
            continue  # its build failed and its row is gone: try again
        if _state(held) == BUILDING and not _stale(held):
            session.commit()
            return None
        # a stale build, or a ready record whose zip was deleted: replace it
        session.execute(delete(Artifact).where(Artifact.id == held.id))
        session.commit()
    return None


def _stale(building: Artifact) -> bool:
    """The build's server process is gone (known on its own machine), or it has taken too long."""
    meta = building.meta or {}
    if meta.get("host") == socket.gethostname() and isinstance(meta.get("pid"), int):
        try:
            os.kill(meta["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
    return utcnow() - building.created_at >= STALE_BUILD


def _wait_for_build(session: Session, owner: User, candidate: Candidate) -> Artifact | None:
    """The export another request is building, once ready; None when that build failed or its
    server died (the caller builds it instead); 409 after ``BUILD_WAIT`` seconds."""
    deadline = time.monotonic() + BUILD_WAIT
    while True:
        session.expire_all()  # sessions keep loaded rows across commits: read the rows afresh
        ready = _current(session, owner, candidate)
        building = [a for a in _exports(session, owner, candidate) if _state(a) == BUILDING]
        session.commit()  # never sleep in a transaction (on SQLite this one holds the write lock)
        if ready is not None:
            return ready
        if not building or all(_stale(a) for a in building):
            return None
        if time.monotonic() > deadline:
            raise ConflictError(
                f"candidate {candidate.id}'s export is still being built; GET its export when it is ready"
            )
        time.sleep(0.25)


def _build(plan: _Plan, out_dir: Path) -> tuple[int, str, dict[str, Any]]:
    from nasrec.export import export_bundle
    from nasrec.export.bundle import sha256_file

    bundle = export_bundle(_subnet(plan), dataset=plan.dataset_path, out_dir=out_dir, metrics=plan.metrics)
    if bundle.zip_path is None:  # pragma: no cover - zip=True always writes one
        raise NotFoundError("the export wrote no zip")
    meta = {"state": READY, "weights": plan.weights_kind, "files": [p.name for p in bundle.files()]}
    return bundle.zip_path.stat().st_size, sha256_file(bundle.zip_path), meta
