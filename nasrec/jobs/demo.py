"""``nasrec demo``: the whole pipeline on the built-in planted dataset, in minutes on a laptop CPU.

1. Synthesize the planted dataset (``planted-cross``: 1M Criteo-shaped rows whose labels come from
   the ``cross`` teacher, three- and four-field crosses that DLRM's pairwise dot products cannot
   express; docs/teachers.md) unless it exists, and print its summary, including the Bayes log loss
   (the entropy of the true click probability: no model can beat it on average). On the ``fm``
   teacher (DLRM's own inductive bias) a search can at best tie DLRM, so the demo would show nothing.
2. Run a small search job (``DEMO_SPEC``): a supernet on a laptop-sized space with NASRec-Small's
   operators (``DEMO_SPACE``), regularized evolution under a FLOPs budget, the top candidates
   retrained from scratch next to hand-designed baselines (plain MLP, DLRM-like, DeepFM-like,
   DCNv2), the winner and the baselines tested once.
3. Print the leaderboard with each model's excess over the Bayes log loss.

The job is stored like any other, named after the spec's fingerprint, so running the demo twice
reuses what the first run finished.
"""

from __future__ import annotations

import json
import time
from typing import Any

__all__ = [
    "DEMO_DATASET",
    "DEMO_ROWS",
    "DEMO_TEACHER",
    "DEMO_SPACE",
    "DEMO_SPEC",
    "ensure_planted",
    "run_demo",
]

DEMO_DATASET = "planted-cross"
DEMO_TEACHER = "cross"
DEMO_ROWS = 1_000_000

#: NASRec-Small's operators (FC, Dot-Product, EFC, both merges) on 5 blocks with widths up to 512: a
#: laptop-sized space (its supernet step is ~10x cheaper than NASRec-Small's) that still holds every
#: interaction structure of the planted teacher.
DEMO_SPACE: dict[str, Any] = {
    "name": "nasrec_demo",
    "description": "NASRec-Small's operators on 5 blocks with widths up to 512 (the demo's space)",
    "num_blocks": 5,
    "dense_ops": ["fc", "dot"],
    "sparse_ops": ["efc"],
    "dense_widths": [16, 32, 64, 128, 256, 512],
    "sparse_widths": [16, 32],
    "max_dense_inputs": 4,
    "max_sparse_inputs": 4,
    "input_count": "binomial-0.5",
}

DEMO_SPEC: dict[str, Any] = {
    "dataset": DEMO_DATASET,
    "space": DEMO_SPACE,
    "seed": 0,
    # 2 epochs of the 800k train rows: 3,124 steps (the demo trained 3,000 before budgets followed the data)
    "supernet": {"epochs": 2.0, "batch_size": 512, "lr": 0.05, "warmup_k": 300, "checkpoint_every": 1000},
    "search": {
        "controller": "evolution",
        "candidates": 64,
        "population": 12,
        "sample_size": 4,
        "children": 4,
    },
    "evaluation": {"finetune_steps": 40, "val_rows": 8000, "latency_batch_size": 256},
    "objectives": ["val_logloss"],
    "constraints": ["flops <= 2e5"],
    # one epoch; early stopping checks at half of it only: on the planted rows the val loss falls for the
    # whole epoch (measured: best at the last point), and a point of 100k val rows costs 2-4% of an epoch
    "finalize": {
        "top_k": 5,
        "retrain_epochs": 1.0,
        "lr": 0.05,
        "validate_every": 781,
        "baselines": ["mlp", "dlrm", "deepfm", "dcnv2"],
    },
    "resources": {"eval_actors": 2, "cpus_per_actor": 1},
}


def ensure_planted(
    name: str = DEMO_DATASET, rows: int = DEMO_ROWS, seed: int = 0, teacher: str = DEMO_TEACHER
) -> Any:
    """The planted dataset ``name``, synthesized on first use."""
    from nasrec.data import Dataset, synthesize
    from nasrec.errors import NotFoundError

    try:
        return Dataset.open(name)
    except NotFoundError:
        return synthesize(name, rows=rows, seed=seed, teacher=teacher)


def run_demo(*, json_output: bool = False, spec: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Synthesize (if needed), search, finalise, print; returns the leaderboard as JSON objects."""
    from rich.console import Console

    err = Console(stderr=True)
    start = time.perf_counter()
    dataset = ensure_planted()
    info = dataset.info()
    from nasrec.jobs.cli import run_job_here
    from nasrec.search.cli import bayes_logloss, print_leaderboard

    bayes = bayes_logloss(dataset.meta)
    if not json_output:
        _print_info(info)

    run = run_job_here(spec or DEMO_SPEC, console=err)
    entries = run.entries
    elapsed = time.perf_counter() - start
    rows = [e.to_dict() | {"bayes_logloss": bayes} for e in entries]
    if json_output:
        print(json.dumps(rows, indent=2))
    else:
        title = "nasrec demo: final leaderboard (planted data)"
        pareto = len(run.search.spec.objectives) > 1
        print_leaderboard(entries, json_output=False, bayes=bayes, pareto=pareto, title=title)
        _print_verdict(entries, bayes)
    err.print(f"demo finished in {elapsed / 60:.1f} min")
    return rows


def _print_info(info: dict[str, Any]) -> None:
    from rich.console import Console

    console = Console()
    rows = info["rows"]
    console.print(
        f"[bold]dataset[/] {info['name']} ({info['path']}): "
        f"{sum(rows.values()):,} rows "
        f"(train {rows['train']:,} / val {rows['val']:,} / test {rows['test']:,}), "
        f"{len(info['dense_features'])} dense + {len(info['sparse_features'])} sparse features, "
        f"{info['embedding_rows']:,} embedding rows, positive rate {info['positive_rate']:.3f}"
    )
    if "bayes_logloss" in info:
        floors = ", ".join(f"{split} {value:.4f}" for split, value in info["bayes_logloss"].items() if value)
        console.print(f"Bayes log loss per split (the floor): {floors}")


def _print_verdict(entries: Any, bayes: float | None) -> None:
    from rich.console import Console

    console = Console()
    winner = next((e for e in entries if e.winner), None)
    if winner is None or bayes is None:
        return
    w = winner.metric("test_logloss")
    for e in entries:
        if e.kind != "baseline" or e.metric("test_logloss") is None or w is None:
            continue
        b = e.metric("test_logloss")
        console.print(
            f"winner {winner.name} vs {e.name}: test log loss {w:.4f} vs {b:.4f} "
            f"(excess over Bayes {w - bayes:.4f} vs {b - bayes:.4f}) "
            f"at {winner.metric('flops') or 0:,.0f} vs {e.metric('flops') or 0:,.0f} FLOPs"
        )
