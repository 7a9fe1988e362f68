"""Finalisation wall time: the demo's retraining pool on 1 actor vs N actors, interleaved.

Finalisation retrains the top-k found models and the baselines from scratch (the demo: 5 + 3, one
epoch of the 800k-row planted train split each). This script retrains the same pool (the demo's
baselines at the demo's budget, and the first feasible draws of the demo's space standing in for the
found models) with the demo's retraining settings (``retrain_settings`` of the demo's job spec) on
an ``ActorPoolRetrainer`` of 1 actor and of ``--actors`` actors, alternating A/B/A/B, each run in
fresh run directories, and prints each run's wall time (actor start-up included, as a job pays it)
and the speed-up. It checks that both give the same validation log loss per model.

    .venv/bin/python scripts/bench_finalize.py [--found 5] [--steps 300] [--rounds 2] [--actors 2] [--json]

``--steps`` cuts every model to that many steps (a representative subset of the one-epoch run);
without it each model trains the demo's full epoch.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--found", type=int, default=5, help="stand-ins for the top-k found models")
    parser.add_argument("--steps", type=int, default=None, help="steps per model (default: the demo's epoch)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--actors", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from nasrec.jobs.demo import DEMO_SPEC, ensure_planted
    from nasrec.ray_runtime import running_ray
    from nasrec.search import create_search
    from nasrec.search.baselines import sized_baseline
    from nasrec.search.retrain import ActorPoolRetrainer, RetrainJob, retrain_settings
    from nasrec.space import sample_architecture
    from nasrec.train import TrainConfig

    ensure_planted()
    work = Path(tempfile.mkdtemp(prefix="bench_finalize_"))
    spec = json.loads(json.dumps(DEMO_SPEC))
    search = create_search(spec, storage=f"sqlite:///{work / 'jobs.db'}", run_dir=work / "run")
    settings = retrain_settings(search)
    if args.steps is not None:
        config = TrainConfig.from_dict(settings["config"]).with_(steps=args.steps, epochs=None)
        settings["config"] = config.to_dict()

    rng = np.random.default_rng(2024)
    pool: list[tuple[str, Any]] = []
    while len(pool) < args.found:
        arch = sample_architecture(search.space, rng).canonical()
        if search.feasible(arch) and all(arch != a for _, a in pool):
            pool.append((f"found-{len(pool) + 1}", arch))
    pool += [(name, sized_baseline(search, name).architecture) for name in spec["finalize"]["baselines"]]

    def run(actors: int, round_no: int) -> tuple[float, dict[str, float]]:
        out: dict[str, float] = {}
        jobs = [RetrainJob(n, a.to_json(), str(work / f"r{round_no}-a{actors}" / n)) for n, a in pool]
        start = time.perf_counter()
        with ActorPoolRetrainer(settings, num_actors=actors, cpus_per_actor=1) as retrainer:
            retrainer.run(
                jobs,
                progress=lambda *_: None,
                finished=lambda job, result: out.__setitem__(job.name, result["metrics"]["logloss"]),
            )
        return time.perf_counter() - start, out

    seconds: dict[int, list[float]] = {1: [], args.actors: []}
    losses: dict[int, dict[str, float]] = {}
    load = os.getloadavg()[0]
    with running_ray(num_cpus=max(os.cpu_count() or 1, args.actors)):
        for round_no in range(args.rounds):
            for actors in (1, args.actors):
                took, out = run(actors, round_no)
                seconds[actors].append(took)
                losses.setdefault(actors, out)
                assert out == losses[actors], "a model's result changed between rounds"
                if not args.json:
                    print(f"round {round_no + 1}: {actors} actor(s): {took:.1f} s", flush=True)
    same = losses[1] == losses[args.actors]
    steps = TrainConfig.from_dict(settings["config"]).total_steps(len(search.dataset.split("train")))
    result = {
        "models": [n for n, _ in pool],
        "steps_per_model": steps,
        "seconds": {str(k): v for k, v in seconds.items()},
        "mean_seconds": {str(k): statistics.mean(v) for k, v in seconds.items()},
        "speedup": statistics.mean(seconds[1]) / statistics.mean(seconds[args.actors]),
        "same_val_logloss": same,
        "load_average_at_start": load,
        "load_average_at_end": os.getloadavg()[0],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    end = result["load_average_at_end"]
    print(f"{len(pool)} models x {steps} steps; load average {load:.1f} at the start, {end:.1f} at the end")
    for actors, values in seconds.items():
        print(
            f"  {actors} actor(s): "
            + ", ".join(f"{v:.1f}" for v in values)
            + f" s (mean {statistics.mean(values):.1f})"
        )
    print(f"  speed-up {result['speedup']:.2f}x; same validation log loss per model: {same}")


if __name__ == "__main__":
    main()
