"""Does one-shot evaluation rank architectures like training them from scratch does?

On the planted data: train (or reuse) the demo's supernet, draw N random architectures of the demo's
space under its FLOPs budget, and for each compute
  * the one-shot validation log loss with inherited weights (the search's evaluation: head fine-tune,
    fixed validation subset), and
  * the validation log loss after training it from scratch (finalisation's config and budget).
Prints both per architecture and Kendall's tau between them with its p-value (target: tau >= 0.5).

From-scratch results do not depend on the supernet: they are kept in
``$NASREC_HOME/bench_ranking_scratch.json``, keyed by dataset, architecture and training config, so
a rerun after a supernet or evaluation change only retrains what it has not seen (``--fresh``: ignore).

    .venv/bin/python scripts/bench_ranking.py [--archs 12] [--seed 0] [--supernet-steps N] [--fresh] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nasrec.space import Architecture
    from nasrec.train.config import TrainConfig

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="seed of the architecture draw")
    parser.add_argument("--supernet-steps", type=int, default=None, help="default: the demo's")
    parser.add_argument("--scratch-steps", type=int, default=None, help="default: finalisation's (1 epoch)")
    parser.add_argument("--finetune-steps", type=int, default=None, help="default: the demo's")
    parser.add_argument("--fresh", action="store_true", help="retrain from scratch even when stored")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from scipy.stats import kendalltau, spearmanr

    from nasrec.jobs.demo import DEMO_SPEC, ensure_planted
    from nasrec.search.evaluate import CandidateEvaluator, evaluation_settings
    from nasrec.search.finalize import retrain_config
    from nasrec.search.search import create_search
    from nasrec.space import sample_architecture
    from nasrec.train import train_subnet

    ensure_planted()
    spec = json.loads(json.dumps(DEMO_SPEC))
    if args.supernet_steps:
        spec["supernet"]["steps"] = args.supernet_steps
        spec["supernet"]["warmup_k"] = min(spec["supernet"]["warmup_k"], args.supernet_steps)
    if args.finetune_steps is not None:
        spec["evaluation"]["finetune_steps"] = args.finetune_steps
    if args.scratch_steps:
        spec["finalize"]["retrain_steps"] = args.scratch_steps
    # named after its fingerprint: with the defaults, the demo's job and its trained supernet
    search = create_search(spec, load_if_exists=True)
    t0 = time.perf_counter()
    search.train_supernet()
    supernet_s = time.perf_counter() - t0

    rng = np.random.default_rng([args.seed, 99])
    archs, seen = [], set()
    while len(archs) < args.archs:
        arch = sample_architecture(search.space, rng).canonical()
        key = arch.canonical_hash()
        if key not in seen and search.feasible(arch):
            seen.add(key)
            archs.append(arch)

    evaluator = CandidateEvaluator(evaluation_settings(search))
    config = retrain_config(search).with_(checkpoint_every=None)
    cache = ScratchCache(search.dataset.path, config)
    rows = []
    # the job's torch threads (resources.cpus_per_worker), as finalisation trains: more OpenMP threads
    # than free cores make small-model training several times slower on a shared machine
    with search.torch_threads():
        for i, arch in enumerate(archs):
            t = time.perf_counter()
            one_shot = evaluator.evaluate(arch.to_json())
            t1 = time.perf_counter()
            scratch_logloss = None if args.fresh else cache.get(arch)
            if scratch_logloss is None:
                scratch = train_subnet(arch, dataset=search.dataset, model=search.space.model, config=config)
                scratch_logloss = cache.put(arch, float(scratch.metrics["logloss"]))
            t2 = time.perf_counter()
            row = {
                "arch": i,
                "hash": arch.canonical_hash(),
                "flops": search.costs(arch)["flops"],
                "oneshot_logloss": one_shot["val_logloss"],
                "scratch_logloss": scratch_logloss,
                "oneshot_s": t1 - t,
                "scratch_s": t2 - t1,
            }
            rows.append(row)
            if not args.json:
                print(
                    f"arch {i:2d} {row['hash']}  FLOPs {row['flops']:>9,.0f}"
                    f"  one-shot {row['oneshot_logloss']:.4f}  scratch {row['scratch_logloss']:.4f}"
                    f"  ({row['oneshot_s']:.1f}s / {row['scratch_s']:.1f}s)",
                    flush=True,
                )
    a = [r["oneshot_logloss"] for r in rows]
    b = [r["scratch_logloss"] for r in rows]
    tau, p = kendalltau(a, b)
    rho, _ = spearmanr(a, b)
    summary = {
        "archs": len(rows),
        "kendall_tau": float(tau),
        "p_value": float(p),
        "spearman_rho": float(rho),
        "supernet_steps": search.supernet_config().steps,
        "finetune_steps": search.budgets()["finetune"].steps,
        "scratch_steps": config.total_steps(len(search.dataset.split("train"))),
        "supernet_seconds": supernet_s,
        "target": "tau >= 0.5",
    }
    if args.json:
        print(json.dumps({"rows": rows, "summary": summary}, indent=2))
    else:
        print(
            f"Kendall tau {tau:.3f} (p = {p:.2g}), Spearman rho {rho:.3f}, over {len(rows)} architectures; "
            f"target tau >= 0.5 -> {'met' if tau >= 0.5 else 'NOT met'}"
        )
        print(json.dumps(summary))


class ScratchCache:
    """From-scratch validation log losses by (dataset, training config, architecture), in a JSON file."""

    def __init__(self, dataset_path: object, config: TrainConfig) -> None:
        import hashlib

        from nasrec.home import home

        self.path = home() / "bench_ranking_scratch.json"
        trajectory = json.dumps(config.trajectory_dict(), sort_keys=True)
        self.prefix = hashlib.sha256(f"{dataset_path}|{trajectory}".encode()).hexdigest()[:16]

    def _load(self) -> dict[str, float]:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def _key(self, arch: Architecture) -> str:
        return f"{self.prefix}:{arch.canonical_hash()}"

    def get(self, arch: Architecture) -> float | None:
        return self._load().get(self._key(arch))

    def put(self, arch: Architecture, value: float) -> float:
        data = self._load()
        data[self._key(arch)] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.path)
        return value


if __name__ == "__main__":
    main()
