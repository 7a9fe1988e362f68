"""A tiny real co-design job, submitted over REST and run by a real Worker: PIM energy as an objective
beside log loss, a PIM latency budget, the co-design space (per-block w_bits / a_bits / dyn_map).
Shared by the job test (``tests/jobs/test_codesign_job.py``, a TestClient) and the browser test
(``tests/ui/test_codesign_browser.py``, a live server)."""

from __future__ import annotations

from typing import Any

import httpx

from nasrec.jobs import Worker
from nasrec.store import Store
from tests.support.service import Account

DATASET_ROWS = 1500
SPEC: dict[str, Any] = {
    "dataset": "tiny",
    "space": "nasrec_small_pim",  # its ``quantize: true`` makes the supernet train at the knobs
    "seed": 1,
    "supernet": {"steps": 20, "batch_size": 64, "warmup_k": 4, "checkpoint_every": 10},
    "search": {"controller": "nsga2", "candidates": 6, "population": 3, "sample_size": 2, "batch_size": 3},
    "evaluation": {"finetune_steps": 0, "val_rows": 128, "batch_size": 128, "latency": False},
    "objectives": ["val_logloss", "pim_energy_nj"],
    "constraints": ["pim_latency_ns <= 1e6"],
    "finalize": {"top_k": 1, "retrain_steps": 3, "batch_size": 64, "baselines": ["dlrm"]},
    "hardware": {"profile": "isaac32", "embedding_bits": 8},
    "resources": {"eval_actors": 1, "cpus_per_actor": 1},
}


def synthesize_dataset(client: httpx.Client, account: Account, name: str = "tiny") -> None:
    """A planted ``DATASET_ROWS``-row dataset ``name``, made through the API."""
    made = client.post(
        "/api/v1/datasets/synthesize", headers=account.headers, json={"name": name, "rows": DATASET_ROWS}
    )
    assert made.status_code in (200, 201), made.text


def run_codesign_job(client: httpx.Client, store: Store, account: Account) -> dict[str, Any]:
    """Submit ``SPEC`` through the API (its dataset must exist), run it to the end with a Worker on
    ``store`` and return the job (as the API shows it); it must have succeeded."""
    submitted = client.post("/api/v1/jobs", headers=account.headers, json=SPEC)
    assert submitted.status_code in (200, 201, 202), submitted.text
    job_id = submitted.json()["id"]
    assert Worker(store).run(max_jobs=1, exit_when_idle=True) == 1
    job = client.get(f"/api/v1/jobs/{job_id}", headers=account.headers).json()
    assert job["state"] == "succeeded", job
    return job
