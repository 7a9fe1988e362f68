"""Hardware co-design against a FLOPs-only search, at matched validation log loss (docs/pim.md).

Two one-shot searches on one planted dataset (``nasrec data synth``: ``--rows`` rows, the ``cross``
teacher), under the same FLOPs budget (``--flops``):

  (a) ``nasrec_small``, objective val_logloss: "search, then map naively". Its best architecture is
      costed at the naive mapping (every block W8A8, dynamic products on crossbars).
  (b) ``nasrec_small_pim``: the same space with per-block w_bits / a_bits / dyn_map, a fake-quantised
      supernet, NSGA-II on val_logloss, pim_energy_nj and pim_latency_ns.

Each search trains its own supernet for ``--steps`` steps and scores ``--candidates`` candidates with
inherited weights (one-shot scores, as the searches rank them; nothing is retrained). Of (b)'s
candidates whose validation log loss is at most ``--match`` (0.5%) above (a)'s best, the one with the
least energy is compared with (1) (a)'s best, mapped naively, and (2) the naive mapping of its own
architecture: energy, latency and area ratios (> 1: the co-design design is better). The PIM numbers
are the analytic proxy of docs/pim.md (profile isaac32, 8-bit tables), not a simulator. The paper
targets (arXiv 2411.07569) are >= 1.8x energy and >= 1.5x latency.

Everything lives in a fresh NASREC_HOME (``--home``, default a temporary directory). The default run
takes about 7 minutes on 2 cores (a supernet step of NASRec-Small at batch 512 is ~0.6 s there).

    .venv/bin/python scripts/bench_codesign.py [--rows 100000] [--steps 250] [--candidates 24] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any

DATASET = "bench-codesign"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000, help="planted rows (8/1/1 split)")
    parser.add_argument("--steps", type=int, default=250, help="supernet steps of each search")
    parser.add_argument("--candidates", type=int, default=24, help="candidates each search scores")
    parser.add_argument("--flops", type=float, default=1e6, help="FLOPs budget of both searches")
    parser.add_argument("--match", type=float, default=0.005, help="relative log-loss match (0.005 = 0.5%%)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--home", default=None, help="NASREC_HOME to use (default: a temporary directory)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="nasrec-bench-codesign-")
    os.environ["NASREC_HOME"] = home  # before nasrec reads it

    from nasrec.data import synthesize
    from nasrec.ray_runtime import shutdown_ray

    t0 = time.perf_counter()
    dataset = synthesize(DATASET, rows=args.rows, seed=args.seed, teacher="cross")
    _say(args, f"planted {args.rows:,} rows (cross teacher) in {time.perf_counter() - t0:.0f}s, home {home}")
    try:
        flops_only = _search(args, "nasrec_small", ["val_logloss"], "evolution")
        codesign = _search(
            args, "nasrec_small_pim", ["val_logloss", "pim_energy_nj", "pim_latency_ns"], "nsga2"
        )
    finally:
        shutdown_ray()
    results = _compare(args, dataset, flops_only, codesign)
    results["seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print(results)


def _search(args: argparse.Namespace, space: str, objectives: list[str], controller: str) -> Any:
    """Train the supernet and score the candidates of one search; returns the ``Search``."""
    from nasrec.search.search import create_search

    spec = {
        "dataset": DATASET,
        "space": space,
        "seed": args.seed,
        "supernet": {
            "steps": args.steps,
            "batch_size": 512,
            "lr": 0.05,
            "warmup_k": max(1, args.steps // 10),
            "checkpoint_every": args.steps,
        },
        "search": {
            "controller": controller,
            "candidates": args.candidates,
            "population": max(4, args.candidates // 4),
            "sample_size": 4,
            "children": 4,
        },
        "evaluation": {"finetune_steps": 0, "val_rows": 8000, "latency": False},
        "objectives": objectives,
        "constraints": [f"flops <= {args.flops:g}"],
        "resources": {"eval_actors": 2, "cpus_per_actor": 1},
    }
    search = create_search(spec, storage=f"sqlite:///{os.environ['NASREC_HOME']}/{space}.db")
    t0 = time.perf_counter()
    search.train_supernet()
    t1 = time.perf_counter()
    search.run_search()
    _say(
        args,
        f"{space}: supernet {t1 - t0:.0f}s, {args.candidates} candidates {time.perf_counter() - t1:.0f}s",
    )
    return search


def _scored(search: Any) -> list[Any]:
    return [e for e in search.leaderboard() if e.feasible and e.metric("val_logloss") is not None]


def _compare(args: argparse.Namespace, dataset: Any, flops_only: Any, codesign: Any) -> dict[str, Any]:
    from nasrec.cost.pim import NAIVE, pim_cost
    from nasrec.space import Architecture

    def naive(search: Any, arch: Architecture) -> Any:
        return pim_cost(arch, dataset.schema, search.space.model, knobs=NAIVE)

    a = min(_scored(flops_only), key=lambda e: e.metric("val_logloss"))
    a_arch = Architecture.from_dict(a.architecture)
    a_cost = naive(flops_only, a_arch)
    target = a.metric("val_logloss") * (1 + args.match)
    candidates = _scored(codesign)
    matched = [e for e in candidates if e.metric("val_logloss") <= target]
    pool = matched or [min(candidates, key=lambda e: e.metric("val_logloss"))]
    b = min(pool, key=lambda e: e.metric("pim_energy_nj"))
    b_arch = Architecture.from_dict(b.architecture)
    b_cost = pim_cost(b_arch, dataset.schema, codesign.space.model)
    b_naive = naive(codesign, b_arch)

    def design(entry: Any, cost: Any, arch: Architecture) -> dict[str, Any]:
        return {
            "val_logloss": entry.metric("val_logloss"),
            "flops": entry.metric("flops"),
            "energy_nj": cost.energy_nj,
            "latency_ns": cost.latency_ns,
            "area_mm2": cost.area_mm2,
            "knobs": [
                k.label
                for k, blk in zip(arch.canonical().block_knobs(), arch.canonical().blocks, strict=True)
                if blk
            ],
        }

    def ratios(base: Any, cost: Any) -> dict[str, float]:
        return {
            "energy": base.energy_nj / cost.energy_nj,
            "latency": base.latency_ns / cost.latency_ns,
            "area": base.area_mm2 / cost.area_mm2,
        }

    return {
        "settings": {k: getattr(args, k) for k in ("rows", "steps", "candidates", "flops", "match", "seed")},
        "matched": bool(matched),
        "codesign_matching": len(matched),
        "codesign_scored": len(candidates),
        "flops_only_best_naive": design(a, a_cost, a_arch),
        "codesign_best": design(b, b_cost, b_arch),
        "codesign_best_naive": {
            "energy_nj": b_naive.energy_nj,
            "latency_ns": b_naive.latency_ns,
            "area_mm2": b_naive.area_mm2,
        },
        "over_flops_only_naive": ratios(a_cost, b_cost),
        "over_own_naive": ratios(b_naive, b_cost),
    }


def _print(r: dict[str, Any]) -> None:
    a, b = r["flops_only_best_naive"], r["codesign_best"]
    match = (
        f"{r['codesign_matching']} of {r['codesign_scored']} co-design candidates within "
        f"{100 * r['settings']['match']:.1f}% of the FLOPs-only best's log loss"
        if r["matched"]
        else "no co-design candidate matched the log loss: comparing its best-scoring one"
    )
    print(match)
    print(
        f"(a) FLOPs-only best, naive:  logloss {a['val_logloss']:.4f}  energy {a['energy_nj']:.1f} nJ  "
        f"latency {a['latency_ns']:,.0f} ns  area {a['area_mm2']:.3f} mm²"
    )
    print(
        f"(b) co-design pick:          logloss {b['val_logloss']:.4f}  energy {b['energy_nj']:.1f} nJ  "
        f"latency {b['latency_ns']:,.0f} ns  area {b['area_mm2']:.3f} mm²  knobs {', '.join(b['knobs'])}"
    )
    for title, key in (
        ("over (a) mapped naively", "over_flops_only_naive"),
        ("over its own naive mapping", "over_own_naive"),
    ):
        x = r[key]
        print(
            f"(b) {title:28s} energy x{x['energy']:.2f}  latency x{x['latency']:.2f}  area x{x['area']:.2f}"
        )
    print(f"{r['seconds']:.0f}s in all")


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, file=sys.stderr)


if __name__ == "__main__":
    main()
