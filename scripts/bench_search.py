"""Candidate-evaluation throughput: persistent Ray actors vs a fresh process per candidate.

The search evaluates candidates on a pool of Ray actors that load the supernet once. The reference
instead starts a fresh process per candidate that loads the checkpoint, builds its data pipeline and
then evaluates. This script measures both in the same run, on the same candidates, with the job spec's
*default* evaluation settings (head fine-tune steps, validation rows):

  * actors: 1 and 2 Ray actors (start-up time reported separately, then candidates per minute);
  * fresh process: one new Python process per candidate (1 and 2 at a time), each loading the
    checkpoint and evaluating one candidate, as the reference does.

It checks that every way gives the same metrics, and prints candidates per minute and the speed-up.

    .venv/bin/python scripts/bench_search.py [--candidates 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

FRESH = """
import json, sys
from nasrec.search.evaluate import CandidateEvaluator
settings, arch = json.loads(sys.argv[1]), sys.argv[2]
print(json.dumps(CandidateEvaluator(settings, threads=1).evaluate(arch)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from nasrec.jobs.demo import DEMO_SPEC, ensure_planted
    from nasrec.ray_runtime import shutdown_ray
    from nasrec.search.evaluate import ActorPoolEvaluator, evaluation_settings
    from nasrec.search.search import create_search
    from nasrec.space import sample_architecture
    from nasrec.spec import EvaluationSpec

    ensure_planted()
    spec = json.loads(json.dumps(DEMO_SPEC))  # the demo's supernet (reused when already trained)
    search = create_search(spec, load_if_exists=True)
    search.train_supernet()
    settings = evaluation_settings(search)
    defaults = EvaluationSpec()
    train_rows = len(search.dataset.split("train"))
    settings.update(finetune_steps=defaults.finetune_budget(train_rows).steps, val_rows=defaults.val_rows)

    rng = np.random.default_rng(1234)
    archs = []
    while len(archs) < args.candidates:
        arch = sample_architecture(search.space, rng).canonical()
        if search.feasible(arch) and arch not in archs:
            archs.append(arch)

    results: dict[str, Any] = {
        "candidates": len(archs),
        "finetune_steps": settings["finetune_steps"],
        "val_rows": settings["val_rows"],
    }
    metrics: dict[str, list[float]] = {}

    for actors in (1, 2):
        t0 = time.perf_counter()
        pool = ActorPoolEvaluator(settings, num_actors=actors, cpus_per_actor=1)
        t1 = time.perf_counter()
        out = pool.evaluate(archs)
        t2 = time.perf_counter()
        pool.close()
        _check(out)
        metrics[f"actors_{actors}"] = [r["val_logloss"] for r in out]
        results[f"actors_{actors}"] = {
            "startup_s": t1 - t0,
            "eval_s": t2 - t1,
            "per_minute": 60 * len(archs) / (t2 - t1),
            "per_minute_incl_startup": 60 * len(archs) / (t2 - t0),
        }
        rate = results[f"actors_{actors}"]["per_minute"]
        _say(args, f"{actors} Ray actor(s): start-up {t1 - t0:.1f}s, {rate:.1f} candidates/min")
    shutdown_ray()  # the fresh-process runs below use no Ray

    for parallel in (1, 2):
        t0 = time.perf_counter()
        with ThreadPoolExecutor(parallel) as ex:
            out = list(ex.map(lambda a: _fresh(settings, a.to_json()), archs))
        t1 = time.perf_counter()
        _check(out)
        metrics[f"fresh_{parallel}"] = [r["val_logloss"] for r in out]
        results[f"fresh_process_{parallel}"] = {"eval_s": t1 - t0, "per_minute": 60 * len(archs) / (t1 - t0)}
        _say(
            args,
            f"fresh process per candidate ({parallel} at a time): "
            f"{results[f'fresh_process_{parallel}']['per_minute']:.1f} candidates/min",
        )

    base = metrics["actors_1"]
    results["same_metrics"] = all(np.allclose(v, base, atol=1e-5) for v in metrics.values())
    for n in (1, 2):
        fresh = results[f"fresh_process_{n}"]["per_minute"]
        results[f"speedup_{n}"] = results[f"actors_{n}"]["per_minute"] / fresh
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            f"actors vs fresh process: x{results['speedup_1']:.2f} (1 worker), x{results['speedup_2']:.2f} "
            f"(2 workers); identical metrics: {results['same_metrics']}"
        )
        print(json.dumps(results))


def _fresh(settings: dict[str, Any], arch_json: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", FRESH, json.dumps(settings), arch_json],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _check(results: list[dict[str, Any]]) -> None:
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise SystemExit(f"evaluation failed: {errors[0]}")


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, flush=True)


if __name__ == "__main__":
    main()
