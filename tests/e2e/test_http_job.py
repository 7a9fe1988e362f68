"""A job over HTTP, end to end: ``nasrec serve --processes 2`` (API in two child processes, embedded
worker + Ray in the parent) in a subprocess; a dataset synthesized and a small job submitted over the
API; polled to completion; the leaderboard, the Pareto front and the job's result read; the winner
exported (concurrent requests start one background build, polled until ready), downloaded, loaded
with ``nasrec.load_exported`` and used to predict; the server stopped, every process of it gone, and
started again (one process). On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from nasrec.store import Store

from .conftest import Proc, service_command, session_left

BUDGET = 4
JOB = {
    "dataset": "tiny",
    "seed": 1,
    "supernet": {"steps": 30, "batch_size": 64, "warmup_k": 5, "checkpoint_every": 10},
    "search": {"controller": "random", "candidates": BUDGET, "batch_size": 2},
    "evaluation": {
        "finetune_steps": 5,
        "finetune_batch_size": 64,
        "val_rows": 128,
        "batch_size": 128,
        "latency": False,
    },
    "finalize": {"top_k": 2, "retrain_steps": 5, "batch_size": 64, "baselines": ["dlrm"]},
}


def _serve(spawn: Any, database_url: str, name: str, *args: str) -> tuple[Proc, str, str | None]:
    proc = spawn(service_command("serve", "--port", "0", "--database-url", database_url, *args), name)
    url = re.search(r"http://[\d.]+:\d+", proc.wait_for_line("nasrec is serving at")).group(0)  # type: ignore[union-attr]
    proc.wait_for_line("embedded workers: 1")
    admin = [line for line in proc.output().splitlines() if line.startswith("admin user")]
    token = re.search(r"token \(shown once, keep it\): (nasrec_[\w-]+)$", admin[0]) if admin else None
    deadline = time.monotonic() + 60
    while True:  # the socket is bound before the app has started
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, proc.output()
        time.sleep(0.2)
    return proc, url, token.group(1) if token else None


def _wait_until_done(
    api: httpx.Client, job_id: int, timeout: float = 900
) -> tuple[dict[str, Any], list[float]]:
    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.get(f"/jobs/{job_id}").json()
        seen.append(job["progress"])
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job, seen
        time.sleep(1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_a_job_over_http_runs_to_an_export_that_predicts(
    spawn: Any,
    database_url: str,  # noqa: F811
    store: Store,  # noqa: F811 - emptied after the test
    tmp_path: Path,
) -> None:
    from nasrec import load_exported

    server, url, token = _serve(spawn, database_url, "serve", "--processes", "2")
    assert token is not None, server.output()
    api = httpx.Client(base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=120)

    assert api.post("/datasets/synthesize", json={"name": "tiny", "rows": 2000, "seed": 0}).status_code == 201
    submitted = api.post("/jobs", json=JOB)
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["id"]
    job, progress = _wait_until_done(api, job_id)
    assert job["state"] == "succeeded", (job["error"], server.output()[-3000:])
    assert job["progress"] == 1.0 and progress == sorted(progress)  # it only ever moved forward

    events = [e["message"] for e in api.get(f"/jobs/{job_id}/events", params={"limit": 500}).json()["data"]]
    assert (
        len([e for e in events if re.fullmatch(r"candidate trial-\d+ evaluated: val_logloss [\d.]+", e)])
        == BUDGET
    )
    assert events[-1] == "job succeeded"

    found = api.get(f"/jobs/{job_id}/leaderboard", params={"kind": "found"}).json()
    assert found["count"] == BUDGET
    rows = found["data"]
    assert [r["val_logloss"] for r in rows] == sorted(r["val_logloss"] for r in rows)
    assert sorted(r["stage"] for r in rows) == ["evaluated", "evaluated", "retrained", "winner"]
    assert len({r["arch_hash"] for r in rows}) == BUDGET and all(r["feasible"] for r in rows)
    winner = next(r for r in rows if r["stage"] == "winner")
    assert winner["test_logloss"] is not None and winner["metrics"]["retrained_val_logloss"] is not None
    (baseline,) = api.get(f"/jobs/{job_id}/leaderboard", params={"kind": "baseline"}).json()["data"]
    assert (
        baseline["name"] == "dlrm"
        and baseline["stage"] == "baseline"
        and baseline["test_logloss"] is not None
    )

    front = api.get(f"/jobs/{job_id}/pareto").json()["data"]
    assert front and all(c["pareto_rank"] == 0 and c["feasible"] for c in front)
    assert front[0]["id"] == rows[0]["id"]  # one objective (val_logloss): the front is the best one
    result = job["result"]
    assert result["counts"]["evaluated"] == BUDGET and result["winner"]["candidate_id"] == winner["id"]

    export = f"/jobs/{job_id}/candidates/{winner['id']}/export"
    not_yet = api.get(export + ".zip")
    assert not_yet.status_code == 404 and "not been exported yet" in not_yet.json()["detail"]
    with ThreadPoolExecutor(3) as pool:  # three clicks at once (two API processes) start one build
        started = list(pool.map(lambda _: api.post(export), range(3)))
    assert {s.status_code for s in started} <= {200, 202}, [s.text for s in started]
    assert len({(s.json()["id"], s.json()["started_at"]) for s in started}) == 1
    building = next((s for s in started if s.status_code == 202), None)
    assert building is None or building.headers["location"] == f"/api/v1{export}"
    deadline = time.monotonic() + 300
    while (status := api.get(export).json())["state"] == "building":  # poll the status
        assert time.monotonic() < deadline, "the export is still building"
        time.sleep(0.5)
    assert status["state"] == "ready", status
    built = status["export"]
    assert built["meta"]["weights"] == "subnet"  # the retrained checkpoint
    download = api.get(export + ".zip")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert len(download.content) == built["size_bytes"]
    bundle = tmp_path / "winner.zip"
    bundle.write_bytes(download.content)

    model = load_exported(bundle)
    assert model.metrics["candidate"] == winner["id"] and model.metrics["job"] == job_id
    records = [
        {**{name: i for name in model.schema.dense}, **{f.name: str(i) for f in model.schema.sparse}}
        for i in range(5)
    ]
    probabilities = model.predict(records)
    assert probabilities.shape == (5,) and np.all((probabilities > 0) & (probabilities < 1))

    assert server.terminate() == 0
    assert not session_left(server.pid)  # API processes and the embedded Ray went down with it
    again, _, token_again = _serve(spawn, database_url, "serve-again")
    assert token_again is None and "admin user" not in again.output()  # the token is printed once
    assert again.terminate() == 0
