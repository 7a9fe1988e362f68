"""Real workers (threads of the test process) on real stores (SQLite and PostgreSQL) running real,
tiny jobs: a 1,500-row planted dataset and a supernet that trains for as long as a test needs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nasrec.jobs import Worker, WorkerConfig
from nasrec.spec import JobSpec
from nasrec.store import Job, Store, User, crud
from tests.support.store import database_url, store  # noqa: F401


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nasrec.data import synthesize

    home = tmp_path_factory.mktemp("jobs_data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        return Path(synthesize("jobs-tiny", rows=1500, seed=0).path)


def job_spec(**sections: dict[str, Any]) -> dict[str, Any]:
    """A tiny job; ``sections`` are merged into the spec's sections."""
    spec: dict[str, Any] = {
        "dataset": "tiny",
        "seed": 0,
        # long enough that a test can act while the supernet trains; it always cancels first
        "supernet": {"steps": 100_000, "batch_size": 32, "warmup_k": 5, "checkpoint_every": 100_000},
        "search": {"controller": "random", "candidates": 4, "batch_size": 2},
        "evaluation": {"finetune_steps": 0, "val_rows": 128, "batch_size": 128, "latency": False},
        "finalize": {"top_k": 1, "retrain_steps": 2, "batch_size": 32, "baselines": False},
    }
    for key, value in sections.items():
        spec[key] = {**spec.get(key, {}), **value}
    return JobSpec.parse(spec).to_dict()


@dataclass
class Jobs:
    """Submits jobs for one user against the session's dataset, and reads them back."""

    store: Store
    user: User
    dataset_id: int

    def submit(self, **sections: dict[str, Any]) -> int:
        with self.store.session(write=True) as session:
            job = crud.create_job(
                session=session, owner_id=self.user.id, spec=job_spec(**sections), dataset_id=self.dataset_id
            )
        return job.id

    def get(self, job_id: int) -> Job:
        with self.store.session() as session:
            return crud.get_job(session=session, owner_id=None, job_id=job_id)

    def events(self, job_id: int) -> list[str]:
        with self.store.session() as session:
            return [
                e.message for e in crud.list_events(session=session, owner_id=None, job_id=job_id, limit=500)
            ]

    def wait(self, what: str, predicate: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def cancel(self, job_id: int) -> None:
        with self.store.session(write=True) as session:
            crud.request_cancel(session=session, owner_id=None, job_id=job_id)


@pytest.fixture
def jobs(store: Store, dataset_dir: Path) -> Jobs:  # noqa: F811
    with store.session(write=True) as session:
        user = crud.create_user(session=session, name="alice")
        dataset = crud.create_dataset(
            session=session, owner_id=user.id, name="tiny", path=str(dataset_dir), source="test", info={}
        )
    return Jobs(store, user, dataset.id)


@dataclass
class Running:
    worker: Worker
    thread: threading.Thread


@pytest.fixture
def start_worker(store: Store) -> Iterator[Callable[..., Running]]:  # noqa: F811
    """Start ``Worker``s in threads (stopped, and their jobs released, at the end of the test)."""
    started: list[Running] = []

    def start(lease: float = 6.0, **kwargs: Any) -> Running:
        worker = Worker(store, WorkerConfig(lease=lease, poll=0.2, **kwargs))
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        started.append(Running(worker, thread))
        return started[-1]

    yield start
    for running in started:
        running.worker.stop()
    for running in started:
        running.thread.join(timeout=60)
        assert not running.thread.is_alive(), f"worker {running.worker.id} did not stop"
