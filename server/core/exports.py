"""Exporting a candidate: the bookkeeping of its bundle (one artifact row), built in the background.

The weights are ``crud.candidate_weights``'s (the rule ``nasrec export`` follows too): the
candidate's retrained SubNet checkpoint, else its job's supernet checkpoint (inherited weights).
A candidate with neither has no trained weights to export: 409. The bundle itself is built by
``nasrec.export.export_checkpoint`` into ``$NASREC_HOME/runs/job-<job>/exports/candidate-<id>``
(+ ``.zip``) and recorded as a candidate artifact of kind ``export`` whose ``meta.state`` is

    building   a build was started (by some server process) and has not finished
    ready      the zip is on disk: size_bytes, sha256, meta.files, meta.weights
    failed     the build raised: meta.error says what went wrong (a message, never a traceback)

``start_export`` (POST) returns at once: a ready export as it is; else it claims the build by
inserting the ``building`` row, whose uniqueness (job, kind, path) lets exactly one request in, even
across server processes sharing the database, and hands the build to the app's ``ExportBuilds``
pool; every other request sees that row and reports it. ``export_state`` (GET) reads the row. The
build holds no session while it runs (seconds; on SQLite a write transaction holds the database's
write lock) and records its outcome in one short transaction, unless its row was taken over
meanwhile (each attempt writes a token of its own into the row's meta). A ``failed`` row, a
``ready`` row whose zip was deleted, and a ``building`` row whose server process died (seen from the
same machine) or that is older than ``STALE_BUILD`` are replaced by the next POST; GET reports such a
dead build as failed, so that pollers stop.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nasrec.errors import ConflictError, NasrecError
from nasrec.export.job import export_metrics
from nasrec.home import run_dir_of
from nasrec.store import Artifact, Candidate, Dataset, Store, User, crud, utcnow

log = logging.getLogger("nasrec.server.exports")

EXPORT_KIND = "export"
BUILDING, READY, FAILED = "building", "ready", "failed"
State = Literal["building", "ready", "failed"]
#: A ``building`` row older than this was left by a server that died mid-build (or hangs).
STALE_BUILD = timedelta(minutes=30)
#: Longest ``meta.error`` kept.
MAX_ERROR = 2000


@dataclass(frozen=True)
class ExportState:
    """Where a candidate's export stands: its artifact row, and why it failed when it did."""

    state: State
    artifact: Artifact
    error: str | None = None


@dataclass(frozen=True)
class _Plan:
    """What a build needs, read from the store before it starts (no session is open while it runs)."""

    artifact_id: int
    build: str  # this attempt's token in the row's meta: only it may record the outcome
    job_id: int
    candidate_id: int
    architecture: dict[str, Any]
    dataset_path: str
    weights_kind: str
    weights_path: str
    metrics: dict[str, Any]
    out_dir: Path


class ExportBuilds:
    """The app's builders: a few threads (``threads``) that build bundles and record the outcome.

    Why a pool owned by the app rather than FastAPI's ``BackgroundTasks``: those run in the
    request threads (sized for short requests, ``settings.threads``) and belong to the request's
    response; a pool of its own bounds the builds that run at once, outlives the request, and
    ``close`` (in the app's lifespan) lets shutdown finish cleanly: builds running then complete,
    builds still queued are cancelled and recorded as failed, so no row is left ``building``.
    """

    def __init__(self, store: Store, *, threads: int) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nasrec-export")
        self._queued: dict[int, tuple[str, Future[None]]] = {}
        self._lock = threading.Lock()

    def submit(self, plan: _Plan) -> None:
        """Build in a pool thread; RuntimeError once the pool is closed."""
        future = self._pool.submit(self._build, plan)
        with self._lock:
            self._queued[plan.artifact_id] = (plan.build, future)
        future.add_done_callback(lambda _: self._forget(plan.artifact_id))

    def _forget(self, artifact_id: int) -> None:
        with self._lock:
            self._queued.pop(artifact_id, None)

    def close(self) -> None:
        """Wait for the running builds; cancel the queued ones (their rows become ``failed``)."""
        with self._lock:
            queued = dict(self._queued)
        self._pool.shutdown(wait=True, cancel_futures=True)
        for artifact_id, (build, future) in queued.items():
            if future.cancelled():
                failure = _failure("the server stopped before it could build the bundle; POST again")
                self._record(artifact_id, build, failure)

    def _build(self, plan: _Plan) -> None:
        from nasrec.export import export_checkpoint
        from nasrec.export.bundle import sha256_file

        log.info("building the export of candidate %s (%s weights)", plan.candidate_id, plan.weights_kind)
        try:
            bundle = export_checkpoint(
                plan.architecture,
                checkpoint=plan.weights_path,
                dataset=plan.dataset_path,
                out_dir=plan.out_dir,
                metrics=plan.metrics,
            )
            assert bundle.zip_path is not None  # zip=True always writes one
            outcome: dict[str, Any] = {
                "size_bytes": bundle.zip_path.stat().st_size,
                "sha256": sha256_file(bundle.zip_path),
                "meta": {
                    "state": READY,
                    "weights": plan.weights_kind,
                    "files": [p.name for p in bundle.files()],
                },
            }
        except NasrecError as exc:  # written for users: their message is the answer
            outcome = _failure(str(exc), weights=plan.weights_kind)
        except Exception as exc:  # as for a 500: logged with its traceback, no internals to the client
            log.exception("export of candidate %s failed", plan.candidate_id)
            outcome = _failure(
                f"the build failed unexpectedly ({type(exc).__name__}; the server's log has the details)",
                weights=plan.weights_kind,
            )
        log.info("export of candidate %s: %s", plan.candidate_id, outcome["meta"]["state"])
        self._record(plan.artifact_id, plan.build, outcome)

    def _record(self, artifact_id: int, build: str, outcome: dict[str, Any]) -> None:
        try:
            with self._store.session(write=True) as session:
                row = session.get(Artifact, artifact_id)
                if row is None or (row.meta or {}).get("build") != build:
                    return  # its job or candidate was deleted meanwhile, or the build was taken over
                for name, value in outcome.items():
                    setattr(row, name, value)
                session.commit()
        except Exception:  # the row stays ``building`` until it is stale (STALE_BUILD)
            log.exception("could not record the export outcome of artifact %s", artifact_id)


def _failure(message: str, **meta: Any) -> dict[str, Any]:
    error = message if len(message) <= MAX_ERROR else message[: MAX_ERROR - 1] + "…"
    return {"size_bytes": 0, "sha256": None, "meta": {"state": FAILED, "error": error, **meta}}


def export_state(*, session: Session, owner: User, candidate_id: int) -> ExportState | None:
    """The candidate's export as it stands; None when it was never exported (or its zip is gone)."""
    candidate = crud.get_candidate(session=session, owner_id=owner.id, candidate_id=candidate_id)
    return _state_of(_exports(session, owner, candidate))


def start_export(*, session: Session, owner: User, candidate_id: int, builds: ExportBuilds) -> ExportState:
    """The candidate's export: as it is when ready or being built; else a build started in
    ``builds`` (``state == BUILDING``). 409 when the candidate has no trained weights."""
    candidate = crud.get_candidate(session=session, owner_id=owner.id, candidate_id=candidate_id)
    found = _state_of(_exports(session, owner, candidate))
    if found is not None and found.state != FAILED:
        return found
    plan = _plan(session, owner, candidate)
    zip_path = plan.out_dir.with_name(plan.out_dir.name + ".zip")
    claim = _claim(session, plan, zip_path)
    if claim is None:  # another request holds the build (or has just finished it)
        session.expire_all()
        found = _state_of(_exports(session, owner, candidate))
        session.commit()
        if found is None:
            raise ConflictError(f"candidate {candidate_id}'s export is changing hands; POST again")
        return found
    try:
        builds.submit(replace(plan, artifact_id=claim.id, build=claim.meta["build"]))
    except RuntimeError as exc:  # the pool is closed: the server is shutting down
        session.execute(delete(Artifact).where(Artifact.id == claim.id))
        session.commit()
        raise ConflictError("the server is shutting down; POST again in a moment") from exc
    return ExportState(BUILDING, claim)


def _exports(session: Session, owner: User, candidate: Candidate) -> list[Artifact]:
    return crud.list_artifacts(
        session=session,
        owner_id=owner.id,
        job_id=candidate.job_id,
        candidate_id=candidate.id,
        kind=EXPORT_KIND,
    )


def _state_of(exports: list[Artifact]) -> ExportState | None:
    """Ready (zip on disk) before building before failed; a dead build counts as failed."""
    states = [(str((a.meta or {}).get("state", READY)), a) for a in exports]
    for state, artifact in states:
        if state == READY and Path(artifact.path).is_file():
            return ExportState(READY, artifact)
    for state, artifact in states:
        if state == BUILDING:
            if not _stale(artifact):
                return ExportState(BUILDING, artifact)
            return ExportState(
                FAILED,
                artifact,
                "the server process building it stopped (or it took longer than "
                f"{STALE_BUILD.total_seconds() / 60:.0f} minutes); POST again to build it",
            )
    for state, artifact in states:
        if state == FAILED:
            return ExportState(FAILED, artifact, str(artifact.meta.get("error") or "the build failed"))
    return None


def _plan(session: Session, owner: User, candidate: Candidate) -> _Plan:
    job = crud.get_job(session=session, owner_id=owner.id, job_id=candidate.job_id)
    dataset = session.get(Dataset, job.dataset_id) if job.dataset_id is not None else None
    if dataset is None:
        raise ConflictError(f"job {job.id}'s dataset was deleted; its candidates cannot be exported")
    kind, path = crud.candidate_weights(session=session, owner_id=owner.id, candidate=candidate)
    return _Plan(
        artifact_id=0,  # set once claimed
        build="",
        job_id=job.id,
        candidate_id=candidate.id,
        architecture=dict(candidate.architecture),
        dataset_path=dataset.path,
        weights_kind=kind,
        weights_path=path,
        metrics=export_metrics(candidate),
        out_dir=run_dir_of(job.id) / "exports" / f"candidate-{candidate.id}",
    )


def _claim(session: Session, plan: _Plan, zip_path: Path) -> Artifact | None:
    """Insert the ``building`` row and return it; None when another request holds the build."""
    for _ in range(3):
        row = Artifact(
            job_id=plan.job_id,
            candidate_id=plan.candidate_id,
            kind=EXPORT_KIND,
            path=str(zip_path),
            meta={
                "state": BUILDING,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "build": uuid.uuid4().hex,
            },
        )
        session.add(row)
        try:
            session.commit()
            return row
        except IntegrityError:
            session.rollback()
        held = session.scalars(
            select(Artifact)
            .where(
                Artifact.job_id == plan.job_id,
                Artifact.kind == EXPORT_KIND,
                Artifact.path == str(zip_path),
            )
            .execution_options(populate_existing=True)
        ).one_or_none()
        if held is None:
            continue  # replaced meanwhile and gone again: try again
        state = str((held.meta or {}).get("state", READY))
        if (state == BUILDING and not _stale(held)) or (state == READY and zip_path.is_file()):
            session.commit()
            return None
        # a failed or dead build, or a ready record whose zip was deleted: replace it
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
