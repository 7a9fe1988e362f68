"""Workers die (SIGKILL, their Ray with them) during supernet training and again during the search;
each time a new ``nasrec worker`` process takes the job over once the 3 s lease has expired, and the
job completes with exactly its budget of candidates: none lost, none duplicated, none evaluated twice.

"Evaluated twice" is checked against durable records: the job's Optuna study (every evaluation that
completed is one trial with status ``evaluated``) and the job's events (one ``candidate evaluated``
event per candidate, written in the same transaction as the candidate row).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nasrec.jobs import study_name
from nasrec.jobs.runner import run_dir_of
from nasrec.search import load_search
from nasrec.spec import JobSpec
from nasrec.store import Candidate, CandidateKind, JobState, Store, crud
from nasrec.train.checkpoint import latest_checkpoint

from .conftest import Proc, service_command, session_members

BUDGET = 6
LEASE = 3.0
SPEC = {
    "dataset": "crash",
    "seed": 2,
    "supernet": {"steps": 60, "batch_size": 64, "warmup_k": 5, "checkpoint_every": 10},
    # three rounds of two; each evaluation fine-tunes the head for a while, so a round takes seconds
    "search": {"controller": "random", "candidates": BUDGET, "batch_size": 2},
    "evaluation": {
        "finetune_steps": 30,
        "finetune_batch_size": 64,
        "val_rows": 128,
        "batch_size": 128,
        "latency": False,
    },
    "finalize": {"top_k": 1, "retrain_steps": 3, "batch_size": 64, "baselines": False},
}


def _wait(what: str, predicate: Callable[[], bool], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _evaluated_events(store: Store, job_id: int) -> list[dict[str, Any]]:
    with store.session() as session:
        events = crud.list_events(session=session, owner_id=None, job_id=job_id, limit=500)
    return [e.data for e in events if e.data and e.data.get("kind") == "candidate_evaluated"]


def _candidates(store: Store, job_id: int) -> list[Candidate]:
    with store.session() as session:
        return list(session.scalars(select(Candidate).where(Candidate.job_id == job_id)))


def _job(store: Store, job_id: int) -> Any:
    with store.session() as session:
        return crud.get_job(session=session, owner_id=None, job_id=job_id)


def test_killed_workers_are_replaced_and_the_job_completes_its_budget_once(
    spawn: Callable[..., Proc],
    database_url: str,  # noqa: F811
    store: Store,  # noqa: F811
    tmp_path: Path,
) -> None:
    from nasrec.data import synthesize

    dataset = synthesize("crash", rows=1500, seed=0)
    with store.session(write=True) as session:
        user = crud.create_user(session=session, name="alice")
        row = crud.create_dataset(
            session=session, owner_id=user.id, name="crash", path=str(dataset.path), source="test", info={}
        )
        job_id = crud.create_job(
            session=session, owner_id=user.id, spec=JobSpec.parse(SPEC).to_dict(), dataset_id=row.id
        ).id
    worker = service_command(
        "worker", "--lease", str(LEASE), "--poll", "0.5", "--num-cpus", "2", "--database-url", database_url
    )
    supernet_dir = run_dir_of(job_id) / "supernet"

    # 1. killed while training the supernet, after its first step checkpoint
    first = spawn(worker, "worker-1")
    _wait(
        "a supernet checkpoint", lambda: (c := latest_checkpoint(supernet_dir)) is not None and c.step >= 10
    )
    first.kill_session()
    killed_at = latest_checkpoint(supernet_dir)
    assert killed_at is not None and not killed_at.metadata["final"]
    killed_step = killed_at.step  # (the directory is pruned later)
    assert (
        _job(store, job_id).state == JobState.RUNNING
    )  # nobody finished it: it looks alive until the lease runs out

    # 2. killed during the search, with some candidates evaluated and more to come
    second = spawn(worker, "worker-2")
    _wait("the takeover", lambda: _job(store, job_id).attempts == 2)
    _wait("two evaluated candidates", lambda: len(_evaluated_events(store, job_id)) >= 2)
    second.kill_session()
    before = {e["trial"]: e["arch_hash"] for e in _evaluated_events(store, job_id)}
    assert 2 <= len(before) < BUDGET, "the search finished before the worker could be killed in it"
    with store.session() as session:
        kept = {
            c.trial_number: (c.arch_hash, c.val_logloss)
            for c in session.query(Candidate).filter_by(job_id=job_id)
        }

    # 3. a third worker finishes the job
    third = spawn([*worker, "--max-jobs", "1"], "worker-3")
    assert third.popen.wait(timeout=600) == 0, third.output()[-3000:]
    job = _job(store, job_id)
    assert job.state == JobState.SUCCEEDED, (job.error, third.output()[-3000:])
    assert job.attempts == 3

    with store.session() as session:
        events = [
            e.message for e in crud.list_events(session=session, owner_id=None, job_id=job_id, limit=500)
        ]
        candidates = list(session.query(Candidate).filter_by(job_id=job_id, kind=CandidateKind.FOUND))
    resumed = [
        int(m.group(1))
        for e in events
        if (m := re.fullmatch(r"supernet: resuming from the checkpoint of step (\d+)", e))
    ]
    assert len(resumed) == 1 and killed_step <= resumed[0] < SPEC["supernet"]["steps"]  # not from step 0
    assert sum(e.startswith("resumed (attempt") for e in events) == 2

    # the candidates: exactly the budget, distinct, and those evaluated before the kill kept as they were
    assert len(candidates) == BUDGET
    assert len({c.arch_hash for c in candidates}) == BUDGET
    assert all(c.val_logloss is not None for c in candidates)
    final = {c.trial_number: (c.arch_hash, c.val_logloss) for c in candidates}
    for trial, arch_hash in before.items():
        assert final[trial][0] == arch_hash and final[trial] == kept[trial]

    # none evaluated twice: one "evaluated" trial per candidate in the study, one event per candidate
    search = load_search(study_name(job), storage=store.url)
    evaluated = [t for t in search.trials() if t.user_attrs.get("status") == "evaluated"]
    assert sorted(t.number for t in evaluated) == sorted(final)
    assert {t.user_attrs["arch_hash"] for t in evaluated} == {c.arch_hash for c in candidates}
    assert search.counts()["evaluated"] == BUDGET
    logged = _evaluated_events(store, job_id)
    assert sorted(e["trial"] for e in logged) == sorted(final)  # each exactly once

    # and nothing of the killed workers (or their Ray) is left running
    for proc in (first, second, third):
        assert not session_members(proc.pid)
