"""A job run from the command line (``nasrec.jobs.local``) is a job like a submitted one: the same
spec on the same data gives the same candidates and the same winner as a REST job run by a worker,
through the same phase code; a rerun reuses it; a failed one resumes. Real Ray, a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nasrec.jobs import Worker, run_local
from nasrec.store import Candidate, JobState, crud, open_store
from server.core.config import Settings
from server.main import create_app
from tests.support.service import Account

pytestmark = pytest.mark.slow


SPEC: dict[str, Any] = {
    "dataset": "tiny",
    "seed": 3,
    "supernet": {"steps": 20, "batch_size": 64, "warmup_k": 4, "checkpoint_every": 10},
    "search": {"controller": "random", "candidates": 4, "batch_size": 2},
    "evaluation": {"finetune_steps": 2, "finetune_batch_size": 64, "val_rows": 128, "batch_size": 128,
                   "latency": False},
    "constraints": ["flops <= 2e6"],
    "finalize": {"top_k": 2, "retrain_steps": 4, "batch_size": 64, "baselines": ["dlrm"]},
    "resources": {"eval_actors": 1, "cpus_per_actor": 1},
}  # fmt: skip


def candidates(store: Any, job_id: int) -> list[tuple[str, str, float | None, float | None]]:
    """(hash, stage, one-shot val log loss, FLOPs) of a job's candidates, in trial order."""
    with store.session() as session:
        rows = session.scalars(
            select(Candidate).where(Candidate.job_id == job_id).order_by(Candidate.trial_number, Candidate.id)
        )
        return [
            (c.arch_hash, c.stage, c.metrics.get("val_logloss"), c.costs.get("flops"))
            for c in rows
            if c.kind != "baseline"
        ]


def test_a_local_job_and_a_rest_job_find_the_same_candidates_and_winner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasrec.data import synthesize

    monkeypatch.setenv("NASREC_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'nasrec.db'}"
    store = open_store(url)
    settings = Settings(database_url=url, data_root=tmp_path / "data", upload_dir=tmp_path / "uploads")
    (tmp_path / "data").mkdir()

    # over REST: a user synthesizes the data, submits the job; a worker runs it
    alice = Account.create(store, "alice")
    with TestClient(create_app(settings, store=store)) as client:
        made = client.post(
            "/api/v1/datasets/synthesize",
            headers=alice.headers,
            json={"name": "tiny", "rows": 1500, "seed": 0},
        )
        assert made.status_code in (200, 201), made.text
        submitted = client.post("/api/v1/jobs", headers=alice.headers, json=SPEC)
        assert submitted.status_code in (200, 201, 202), submitted.text
        rest_id = submitted.json()["id"]
        assert Worker(store).run(max_jobs=1, exit_when_idle=True) == 1
        rest_job = client.get(f"/api/v1/jobs/{rest_id}", headers=alice.headers).json()
        assert rest_job["state"] == "succeeded", rest_job
        board = client.get(f"/api/v1/jobs/{rest_id}/leaderboard?limit=100", headers=alice.headers).json()

    # from the command line: the same spec on the same (seeded) data
    synthesize("tiny", rows=1500, seed=0)
    seen: list[str] = []
    local = run_local(SPEC, database_url=url, listener=lambda phase, done, total, info: seen.append(phase))
    assert not local.reused and {"supernet", "search", "finalize", "retrain"} <= set(seen)
    assert "resumed" not in seen  # a fresh job has nothing to say about earlier attempts
    assert set(local.seconds) == {"supernet", "search", "finalize", "total"}
    assert all(v >= 0 for v in local.seconds.values())
    assert local.seconds["total"] >= max(v for k, v in local.seconds.items() if k != "total")

    assert local.job_id != rest_id
    found = candidates(store, rest_id)
    assert len(found) >= 4 and {stage for _, stage, _, _ in found} >= {"evaluated", "winner"}
    assert candidates(store, local.job_id) == found
    winner = next(e for e in local.entries if e.winner)
    rest_winner = next(r for r in board["data"] if r.get("stage") == "winner")
    assert winner.arch_hash == rest_winner["arch_hash"]
    with store.session() as session:
        job = crud.get_job(session=session, owner_id=None, job_id=local.job_id)
        assert job.state == JobState.SUCCEEDED and job.owner_id != alice.user.id
        events = [e.message for e in crud.list_events(session=session, owner_id=None, job_id=local.job_id)]
    assert any("started by worker" in m for m in events) and any("winner" in m for m in events)
    for model in ("found-1", "found-2", "dlrm"):  # each retrained model says when it starts and ends
        assert f"retrain {model}: started, 4 steps" in events
        assert any(m.startswith(f"retrained {model} in ") and "val_logloss" in m for m in events)

    # a rerun reuses the finished job: nothing is trained again
    again = run_local(SPEC, database_url=url)
    assert again.reused and again.job_id == local.job_id and again.seconds == local.seconds
    assert [e.to_dict() for e in again.entries] == [e.to_dict() for e in local.entries]
    store.dispose()


def test_a_failed_local_job_is_requeued_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nasrec.search.finalize as finalize
    from nasrec.data import synthesize
    from nasrec.errors import ConfigError, NasrecError

    def fail(search: Any) -> None:
        raise ConfigError("no-such-baseline: finalisation fails on purpose")

    # The job fails late, in finalisation (a bad baseline is refused before the job runs at all).
    monkeypatch.setattr(finalize, "_selection_pool", fail)
    monkeypatch.setenv("NASREC_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'nasrec.db'}"
    data = synthesize("tiny", rows=1500, seed=0)
    spec = {**SPEC, "name": "broken"}
    with pytest.raises(NasrecError, match="no-such-baseline"):
        run_local(spec, database_url=url)
    store = open_store(url)
    with store.session() as session:
        (job,), _ = crud.list_jobs(session=session, owner_id=None)
        assert job.state == JobState.FAILED
    # the same spec again: the failed job is requeued, says what it kept (the supernet and the
    # candidates: nothing is trained or evaluated again) and fails again for the same reason
    kept: list[str] = []

    def listener(phase: str, done: int, total: int, info: dict[str, Any]) -> None:
        if phase == "resumed":
            kept.append(info["kept"])

    with pytest.raises(NasrecError, match="no-such-baseline"):
        run_local(spec, database_url=url, listener=listener)
    assert kept == ["the trained supernet, 4 of 4 candidates evaluated"]
    with store.session() as session:
        jobs, _ = crud.list_jobs(session=session, owner_id=None)
        assert [j.id for j in jobs] == [job.id] and jobs[0].attempts == 2
    assert Path(data.path).is_dir()
    store.dispose()


def test_sigterm_stops_a_local_job_and_says_what_was_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``nasrec search`` under SIGTERM finishes its step, saves, gives the job back, and says so."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import yaml

    from nasrec.data import synthesize

    monkeypatch.setenv("NASREC_HOME", str(tmp_path / "home"))
    synthesize("tiny", rows=1500, seed=0)
    env = dict(os.environ)
    spec = {
        **SPEC,
        "name": "long",
        "supernet": {**SPEC["supernet"], "steps": 100_000, "checkpoint_every": 50_000},
    }
    job_file = tmp_path / "job.yaml"
    job_file.write_text(yaml.safe_dump(spec))
    url = f"sqlite:///{tmp_path / 'nasrec.db'}"
    command = [sys.executable, "-m", "server.cli", "search", str(job_file), "--storage", url]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            store = open_store(url) if (tmp_path / "nasrec.db").exists() else None
            if store is not None:
                with store.session() as session:
                    jobs, _ = crud.list_jobs(session=session, owner_id=None)
                store.dispose()
                if jobs and jobs[0].phase == "supernet" and jobs[0].step > 0:
                    break
            time.sleep(1)
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=240)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "was stopped and is back in the queue (saved: the supernet at step" in err
    assert "run the same command again to resume" in err
