"""Helpers for tests of the service: accounts, dataset rows, a seeded job, a live server (the fixtures
built on them live in ``tests/server/conftest.py`` and ``tests/ui/conftest.py``)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from nasrec.store import Store, User, crud


@dataclass
class Account:
    """A user with a live API token."""

    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @classmethod
    def create(cls, store: Store, name: str) -> Account:
        with store.session(write=True) as session:
            user = crud.create_user(session=session, name=name)
            _, token = crud.create_token(session=session, user_id=user.id)
        return cls(user, token)


def add_dataset_row(store: Store, owner: Account, name: str, *, path: str | None = None) -> int:
    """A dataset row (without files unless ``path`` is a dataset directory; enough to submit jobs
    against); its id."""
    with store.session(write=True) as session:
        row = crud.create_dataset(
            session=session,
            owner_id=owner.user.id,
            name=name,
            path=path or f"/nonexistent/{name}",
            source="test",
            info={},
        )
    return row.id


def criteo_lines(rows: int, seed: int = 0) -> str:
    """``rows`` lines of Criteo-format text (label, 13 counts, 26 hashed categories; tab-separated)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        dense = [str(rng.randint(0, 50)) if rng.random() > 0.1 else "" for _ in range(13)]
        sparse = [f"{rng.randint(0, 20):08x}" if rng.random() > 0.1 else "" for _ in range(26)]
        lines.append("\t".join([str(rng.randint(0, 1)), *dense, *sparse]))
    return "\n".join(lines) + "\n"


@dataclass
class SeededJob:
    job_id: int
    candidate_ids: list[int]
    worker: str


def seed_search_job(
    store: Store,
    owner: Account,
    *,
    candidates: int = 30,
    flops_budget: float = 1.5e6,
    seed: int = 0,
    dataset: str = "criteo",
    dataset_path: str | None = None,
) -> SeededJob:
    """A running job with ``candidates`` evaluated candidates, written through the crud functions
    the workers use: real architectures sampled from ``nasrec_small`` with their analytic FLOPs and
    params, a made-up validation log loss that falls with FLOPs, ``feasible`` = FLOPs within
    ``flops_budget``, Pareto ranks over (val_logloss, flops). The job is leased to ``worker``, so a
    test can move its progress on with ``crud.set_progress``. ``dataset_path``: a real dataset
    directory for the job's dataset row (default: a row without files)."""
    import numpy as np

    from nasrec.cost.flops import flops, params
    from nasrec.data.schema import DatasetSchema
    from nasrec.search.leaderboard import pareto_ranks
    from nasrec.space import load_space, sample_architecture
    from nasrec.spec import JobSpec

    dataset_id = add_dataset_row(store, owner, dataset, path=dataset_path)
    space, schema = load_space("nasrec_small"), DatasetSchema.of_shape(13, [1000] * 26)  # Criteo-shaped
    rng = np.random.default_rng(seed)
    worker = f"test-worker-{seed}"
    with store.session(write=True) as session:
        spec = JobSpec(dataset=dataset, name="ui-demo", constraints=[f"flops <= {flops_budget}"])
        job = crud.create_job(
            session=session,
            owner_id=owner.user.id,
            spec=spec.to_dict(),
            name="ui-demo",
            dataset_id=dataset_id,
        )
        claimed = crud.claim_job(session=session, worker=worker)
        assert claimed is not None and claimed.id == job.id, "another queued job was claimed first"
        crud.set_progress(session=session, job_id=job.id, worker=worker, phase="supernet", step=0, total=64)
        rows: dict[str, tuple[float, float, bool]] = {}
        ids: list[int] = []
        for trial in range(candidates):
            arch = sample_architecture(space, rng)
            arch_hash = arch.canonical_hash()
            if arch_hash in rows:
                continue
            cost = float(flops(arch, schema, space.model))
            loss = 0.47 - 0.004 * np.log10(max(cost, 1.0)) + float(rng.normal(0, 0.002))
            feasible = cost <= flops_budget
            row = crud.upsert_candidate(
                session=session,
                job_id=job.id,
                arch_hash=arch_hash,
                architecture=arch.to_dict(),
                name=f"trial-{trial}",
                trial_number=trial,
                stage="evaluated",
                metrics={"val_logloss": loss, "val_auc": 0.8 - (loss - 0.44)},
                costs={"flops": cost, "params": params(arch, schema, space.model)},
                feasible=feasible,
            )
            rows[arch_hash] = (loss, cost, feasible)
            ids.append(row.id)
        front = [h for h, (_, _, ok) in rows.items() if ok]
        ranks = pareto_ranks([rows[h][:2] for h in front], [True, True])
        crud.set_pareto_ranks(session=session, job_id=job.id, ranks=dict(zip(front, ranks, strict=True)))
        crud.record_event(session=session, job_id=job.id, message=f"search: {len(ids)} candidates evaluated")
    return SeededJob(job.id, ids, worker)


@dataclass
class LiveServer:
    """A running server (``serve``) and the store behind it."""

    url: str
    store: Store
    foreign_requests: list[str] = field(default_factory=list)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port (in a thread); its base URL."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
