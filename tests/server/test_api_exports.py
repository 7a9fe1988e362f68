"""Exporting a candidate over the API: POST starts a background build (202), GET .../export is its
state, GET .../export.zip the bundle. Real app, real store (SQLite and PostgreSQL), real SubNet
checkpoints (``tests.support.weights``) and real builds (``nasrec.export.export_checkpoint``).

A failing build is provoked by deleting the checkpoint; a build "in another server process" is a
``building`` row written as such a process writes it.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from nasrec.store import Artifact, Store, crud
from server.core.config import Settings
from server.main import create_app
from tests.support.service import Account, SeededJob, seed_search_job, serve
from tests.support.weights import Trainer

API = "/api/v1"
BUNDLE = {"model.onnx", "model.pt", "weights.safetensors", "manifest.json", "feature_map.json"}


@pytest.fixture
def seeded(store: Store, alice: Account, trainer: Trainer) -> SeededJob:
    """A job with two candidates; its dataset row is the trainer's real dataset."""
    return seed_search_job(store, alice, candidates=2, dataset_path=trainer.dataset_path)


def add_weights(store: Store, candidate_id: int, run_dir: Path) -> None:
    """Record ``run_dir`` as the candidate's retrained SubNet (what finalisation records)."""
    with store.session(write=True) as session:
        candidate = crud.get_candidate(session=session, owner_id=None, candidate_id=candidate_id)
        crud.add_artifact(
            session=session,
            job_id=candidate.job_id,
            candidate_id=candidate_id,
            kind="subnet",
            path=str(run_dir),
        )


def trained_copy(store: Store, trainer: Trainer, candidate_id: int, where: Path) -> Path:
    """A copy of the candidate's trained run (so that a test may delete it), recorded as its weights."""
    with store.session() as session:
        architecture = crud.get_candidate(
            session=session, owner_id=None, candidate_id=candidate_id
        ).architecture
    run_dir = where / f"run-{candidate_id}"
    shutil.copytree(trainer.train(architecture), run_dir)
    add_weights(store, candidate_id, run_dir)
    return run_dir


def exports(store: Store, candidate_id: int) -> list[Artifact]:
    with store.session() as session:
        candidate = crud.get_candidate(session=session, owner_id=None, candidate_id=candidate_id)
        return crud.list_artifacts(
            session=session, owner_id=None, job_id=candidate.job_id, candidate_id=candidate_id, kind="export"
        )


def poll(client: Any, url: str, headers: dict[str, str], timeout: float = 180) -> dict[str, Any]:
    """GET the status URL until the state is no longer ``building``; the last body."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        if body["state"] != "building":
            return body
        assert time.monotonic() < deadline, f"the export of {url} is still building"
        time.sleep(0.2)


def bundle_names(content: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(content)) as bundle:
        return {Path(name).name for name in bundle.namelist()}


def test_post_answers_202_then_the_status_turns_ready_and_the_zip_downloads(
    client: TestClient,
    store: Store,
    alice: Account,
    bob: Account,
    seeded: SeededJob,
    trainer: Trainer,
    tmp_path: Path,
) -> None:
    candidate_id = seeded.candidate_ids[0]
    trained_copy(store, trainer, candidate_id, tmp_path)
    base = f"{API}/candidates/{candidate_id}/export"
    h = alice.headers
    assert client.get(base, headers=h).status_code == 404
    never = client.get(base + ".zip", headers=h)
    assert never.status_code == 404 and "has not been exported yet" in never.json()["detail"]

    started = client.post(base, headers=h)
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["state"] == "building" and body["export"] is None and body["error"] is None
    assert started.headers["location"] == body["status_url"] == base and body["download_url"] == base + ".zip"

    ready = poll(client, base, h)
    assert ready["state"] == "ready" and ready["id"] == body["id"], ready
    record = ready["export"]
    assert record["meta"]["weights"] == "subnet" and set(record["meta"]["files"]) >= BUNDLE
    download = client.get(base + ".zip", headers=h)
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert f"nasrec-candidate-{candidate_id}.zip" in download.headers["content-disposition"]
    assert len(download.content) == record["size_bytes"] and bundle_names(download.content) >= BUNDLE

    again = client.post(base, headers=h)  # built: 200 with the same record, nothing rebuilt
    assert again.status_code == 200 and "location" not in again.headers
    assert again.json()["export"] == record and len(exports(store, candidate_id)) == 1

    # the same export, addressed through its job
    scoped = f"{API}/jobs/{seeded.job_id}/candidates/{candidate_id}/export"
    status = client.get(scoped, headers=h).json()
    assert status["id"] == ready["id"] and status["status_url"] == scoped
    assert client.post(scoped, headers=h).status_code == 200
    zipped = client.get(scoped + ".zip", headers=h)
    assert zipped.status_code == 200 and zipped.content == download.content
    other_job = f"{API}/jobs/{seeded.job_id + 1000}/candidates/{candidate_id}/export"
    for method, url in (("GET", other_job), ("POST", other_job), ("GET", other_job + ".zip")):
        assert client.request(method, url, headers=h).status_code == 404, (method, url)
    for method, url in (("GET", base), ("POST", base), ("GET", base + ".zip")):
        assert client.request(method, url, headers=bob.headers).status_code == 404, (method, url)


def test_concurrent_posts_build_once(
    caplog: pytest.LogCaptureFixture,
    settings: Settings,
    store: Store,
    alice: Account,
    seeded: SeededJob,
    trainer: Trainer,
    tmp_path: Path,
) -> None:
    candidate_id = seeded.candidate_ids[0]
    trained_copy(store, trainer, candidate_id, tmp_path)
    base = f"{API}/candidates/{candidate_id}/export"
    caplog.set_level(logging.INFO, logger="nasrec.server.exports")
    with serve(create_app(settings, store=store)) as url, httpx.Client(base_url=url, timeout=60) as api:
        with ThreadPoolExecutor(4) as pool:  # four clicks at once
            answers = list(pool.map(lambda _: api.post(base, headers=alice.headers), range(4)))
        assert {a.status_code for a in answers} <= {200, 202}, [a.text for a in answers]
        assert len({(a.json()["id"], a.json()["started_at"]) for a in answers}) == 1  # one attempt
        ready = poll(api, base, alice.headers)
    assert ready["state"] == "ready" and ready["id"] == answers[0].json()["id"]
    assert [a.id for a in exports(store, candidate_id)] == [ready["id"]]
    builds = [r for r in caplog.records if r.getMessage().startswith("building the export of candidate")]
    assert len(builds) == 1, [r.getMessage() for r in builds]


def test_a_failed_build_says_why_and_a_new_post_retries_it(
    client: TestClient,
    store: Store,
    alice: Account,
    seeded: SeededJob,
    trainer: Trainer,
    tmp_path: Path,
) -> None:
    candidate_id = seeded.candidate_ids[0]
    run_dir = trained_copy(store, trainer, candidate_id, tmp_path)
    kept = tmp_path / "kept"
    shutil.move(run_dir / "checkpoints", kept)  # the run directory is there, its checkpoint is not
    base = f"{API}/candidates/{candidate_id}/export"

    started = client.post(base, headers=alice.headers)
    assert started.status_code == 202, started.text
    failed = poll(client, base, alice.headers)
    assert failed["state"] == "failed" and failed["export"] is None
    assert "no checkpoint at" in failed["error"] and "Traceback" not in failed["error"]
    refused = client.get(base + ".zip", headers=alice.headers)
    assert refused.status_code == 409 and "export failed: no checkpoint at" in refused.json()["detail"]

    shutil.move(kept, run_dir / "checkpoints")
    retried = client.post(base, headers=alice.headers)
    assert retried.status_code == 202 and retried.json()["started_at"] > failed["started_at"]  # a new attempt
    ready = poll(client, base, alice.headers)
    assert ready["state"] == "ready" and ready["error"] is None
    assert client.get(base + ".zip", headers=alice.headers).status_code == 200
    assert [a.id for a in exports(store, candidate_id)] == [ready["id"]]  # the failed record was replaced


def claim_as_another_server(store: Store, seeded: SeededJob, candidate_id: int, pid: int) -> int:
    """The ``building`` row a server process ``pid`` on this machine writes when it starts a build."""
    from nasrec.home import runs_dir

    zip_path = runs_dir() / f"job-{seeded.job_id}" / "exports" / f"candidate-{candidate_id}.zip"
    with store.session(write=True) as session:
        row = crud.add_artifact(
            session=session,
            job_id=seeded.job_id,
            candidate_id=candidate_id,
            kind="export",
            path=str(zip_path),
            meta={"state": "building", "host": socket.gethostname(), "pid": pid},
        )
    return row.id


def test_a_build_in_progress_is_joined_and_its_zip_is_409_until_ready(
    client: TestClient,
    store: Store,
    alice: Account,
    seeded: SeededJob,
    trainer: Trainer,
    tmp_path: Path,
) -> None:
    candidate_id = seeded.candidate_ids[0]
    trained_copy(store, trainer, candidate_id, tmp_path)
    claim = claim_as_another_server(store, seeded, candidate_id, os.getpid())  # alive: still building
    base = f"{API}/candidates/{candidate_id}/export"

    building = client.get(base + ".zip", headers=alice.headers)
    assert building.status_code == 409 and "is being built" in building.json()["detail"]
    joined = client.post(base, headers=alice.headers)
    assert joined.status_code == 202 and joined.json()["id"] == claim
    assert joined.headers["location"] == base
    time.sleep(1)  # no second build was started
    assert client.get(base, headers=alice.headers).json()["state"] == "building"
    assert [a.id for a in exports(store, candidate_id)] == [claim]


def test_a_build_whose_server_died_is_reported_failed_and_taken_over(
    client: TestClient,
    store: Store,
    alice: Account,
    seeded: SeededJob,
    trainer: Trainer,
    tmp_path: Path,
) -> None:
    candidate_id = seeded.candidate_ids[0]
    trained_copy(store, trainer, candidate_id, tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    claim = claim_as_another_server(store, seeded, candidate_id, gone.pid)
    base = f"{API}/candidates/{candidate_id}/export"

    dead = client.get(base, headers=alice.headers).json()
    assert dead["state"] == "failed" and dead["id"] == claim
    assert "server process building it stopped" in dead["error"]
    taken = client.post(base, headers=alice.headers)
    assert taken.status_code == 202 and taken.json()["started_at"] > dead["started_at"]
    assert poll(client, base, alice.headers)["state"] == "ready"


def test_shutdown_leaves_no_build_pending(
    settings: Settings,
    store: Store,
    alice: Account,
    seeded: SeededJob,
    trainer: Trainer,
    tmp_path: Path,
) -> None:
    """One builder thread, two builds: closing the app waits for the running one and records the
    queued one as failed, so no row stays ``building``."""
    for candidate_id in seeded.candidate_ids:
        trained_copy(store, trainer, candidate_id, tmp_path)
    with TestClient(create_app(settings.model_copy(update={"long_threads": 1}), store=store)) as client:
        for candidate_id in seeded.candidate_ids:
            assert (
                client.post(f"{API}/candidates/{candidate_id}/export", headers=alice.headers).status_code
                == 202
            )
    states = [(a.meta["state"], a.meta.get("error")) for c in seeded.candidate_ids for a in exports(store, c)]
    assert len(states) == 2 and all(state != "building" for state, _ in states), states
    for state, error in states:
        assert state == "ready" or "the server stopped before it could build" in error, states
