"""A job says which budgets it ran and warns when its evidence is worthless. Real jobs (real Ray, a real
SQLite store, real training) on tiny planted data: a supernet given far too many epochs memorises and the
job says so in its events and to the command line's listener; the same job at the derived budget does not;
retraining reports where early stopping ended it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nasrec.jobs import run_local
from nasrec.store import crud, open_store

pytestmark = pytest.mark.slow

#: A space small enough that hundreds of supernet steps take seconds.
SPACE: dict[str, Any] = {
    "name": "tiny_health",
    "num_blocks": 3,
    "dense_ops": ["fc", "dot"],
    "sparse_ops": ["efc"],
    "dense_widths": [16, 32],
    "sparse_widths": [8],
    "max_dense_inputs": 2,
    "max_sparse_inputs": 2,
}


def spec(**supernet: Any) -> dict[str, Any]:
    return {
        "dataset": "health",
        "space": SPACE,
        "seed": 1,
        "supernet": {"batch_size": 64, "lr": 0.1, "checkpoint_every": 10_000, **supernet},
        "search": {"controller": "random", "candidates": 3, "batch_size": 3},
        "evaluation": {"finetune_steps": 0, "val_rows": 300, "batch_size": 300, "latency": False},
        "finalize": {"top_k": 1, "retrain_steps": 40, "batch_size": 64, "validate_every": 5, "patience": 2,
                     "baselines": False},
        "resources": {"eval_actors": 1, "cpus_per_actor": 1},
    }  # fmt: skip


def planted(home: Path, name: str, rows: int) -> Path:
    """A planted dataset whose teacher leans on first-order and dense terms (learnable from few rows)."""
    from nasrec.data import synthesize
    from nasrec.data.teachers import FMConfig

    teacher = FMConfig(first_order=2.0, pairwise=0.5, dense_field=0.3, dense_linear=1.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        return Path(synthesize(name, rows=rows, seed=0, config=teacher).path)


def run_job(home: Path, job: dict[str, Any]) -> tuple[list[Any], list[tuple[str, dict[str, Any]]]]:
    """Run ``job``; its events and what the command line's listener was told."""
    url = f"sqlite:///{home / 'nasrec.db'}"
    told: list[tuple[str, dict[str, Any]]] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        run = run_local(
            job, database_url=url, listener=lambda phase, done, total, info: told.append((phase, info))
        )
    store = open_store(url)
    with store.session() as session:
        events = crud.list_events(session=session, owner_id=None, job_id=run.job_id, limit=500)
        events = [(e.level, e.message, dict(e.data or {})) for e in events]
    return events, told


def test_a_memorising_supernet_is_warned_about(tmp_path: Path) -> None:
    planted(tmp_path, "health", rows=3000)
    events, told = run_job(tmp_path, spec(epochs=8.0))  # 37 batches an epoch of 2,400 rows: 296 steps
    warnings = {data["kind"]: message for level, message, data in events if level == "warning"}
    assert "memorising" in warnings, [m for _, m, _ in events]
    assert "the supernet is memorising" in warnings["memorising"]
    assert [info["kind"] for phase, info in told if phase == "warning"] == list(warnings)
    budgets = next(data for _, _, data in events if data.get("kind") == "budgets")
    assert budgets["supernet"] == {"steps": 296, "epochs": 8.0, "train_rows": 2400, "batch_size": 64,
                                   "source": "epochs"}  # fmt: skip
    assert any(phase == "budgets" and "supernet 296 steps" in info["message"] for phase, info in told)
    # retraining says where early stopping ended it
    retrained = [data for _, _, data in events if data.get("kind") == "retrained"]
    assert len(retrained) == 1 and retrained[0]["steps"] <= 40 and "best_step" in retrained[0]


def test_a_supernet_at_the_derived_budget_of_a_larger_set_is_healthy(tmp_path: Path) -> None:
    """12k rows: the derived budget (6 epochs) learns, and its validation points raise no finding."""
    from nasrec.search import create_search
    from nasrec.search.health import supernet_findings

    path = planted(tmp_path, "healthy", rows=12_000)
    job = {**spec(batch_size=256, lr=0.05), "dataset": str(path)}
    search = create_search(job, storage=f"sqlite:///{tmp_path / 'db.sqlite'}", run_dir=tmp_path / "run")
    assert search.budgets()["supernet"].steps == 222 and search.supernet_config().validate_every == 27
    with search.torch_threads():
        search.train_supernet()
    metrics = search.study.user_attrs["nasrec_supernet_metrics"]
    levels = search.reference_levels(search.supernet_val_rows())
    assert len(metrics["history"]) == 9 and metrics["logloss"] < levels["constant"] - 0.05
    found = supernet_findings(metrics["history"], total=222, constant=levels["constant"], se=levels["se"])
    assert found == []
