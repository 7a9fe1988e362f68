"""Does the search's evaluation rank architectures like training them from scratch does?

On the demo's data and budget: train (or reuse) the demo job's supernet, draw ``--archs``
architectures of the demo's space **stratified over its FLOPs budget** (equal-width bins of log FLOPs
from the 2nd percentile of feasible draws up to the budget, the same number per bin), and for each
compute

  * its one-shot validation log loss: the search's own evaluation (inherited weights, the job's
    fine-tune, the job's fixed validation subset), and
  * its validation log loss after training from scratch with finalisation's config and budget, once
    per ``--scratch-seeds`` seed (the mean is the ground truth).

Reports, with p-values:
  * Kendall tau and Spearman rho, one-shot vs from-scratch (target: tau >= 0.6, p < 0.01);
  * the ceiling: tau between two from-scratch seeds (how well any proxy can rank; it must be >= 0.8,
    or the from-scratch budget is too small to rank);
  * top-5 recall: how many of the from-scratch top 5 are in the one-shot top 5 (target >= 3);
  * tau of FLOPs alone vs from-scratch, the trivial proxy the one-shot score has to beat;
  * with ``--search``: where the search's own winner (its best one-shot candidate) falls among them.

From-scratch results do not depend on the supernet: they are kept in
``$NASREC_HOME/bench_ranking_scratch.json``, keyed by dataset, training config (seed included) and
architecture, so a rerun after a supernet or evaluation change only retrains what it has not seen.
They train in ``--jobs`` processes of one thread each.

    .venv/bin/python scripts/bench_ranking.py [--archs 24] [--strata 6] [--scratch-seeds 0 1]
        [--supernet-steps N] [--finetune-steps N] [--set supernet.sandwich_paths=1 ...]
        [--variants '' 'finetune_scope=dense,finetune_steps=200' ...] [--search] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasrec.search.search import Search
    from nasrec.space import Architecture
    from nasrec.train.config import TrainConfig

import numpy as np

TAU_TARGET, RECALL_TARGET, CEILING_TARGET = 0.6, 3, 0.8


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--archs", type=int, default=24)
    parser.add_argument(
        "--strata", type=int, default=6, help="FLOPs bins (archs are spread evenly over them)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the architecture draw")
    parser.add_argument("--scratch-seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--supernet-steps", type=int, default=None, help="default: the demo's")
    parser.add_argument("--finetune-steps", type=int, default=None, help="default: the demo's")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a spec field (YAML value)",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        default=[""],
        metavar="KEY=VALUE,...",
        help="evaluation settings to compare on one supernet, e.g. 'finetune_scope=dense,finetune_steps=200' "
        "('' is the spec's own)",
    )
    parser.add_argument("--search", action="store_true", help="also run the search and place its winner")
    parser.add_argument("--jobs", type=int, default=2, help="from-scratch trainings in parallel")
    parser.add_argument("--fresh", action="store_true", help="retrain from scratch even when stored")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from nasrec.jobs.demo import DEMO_SPEC, ensure_planted
    from nasrec.search.evaluate import CandidateEvaluator, evaluation_settings
    from nasrec.search.finalize import retrain_config
    from nasrec.search.search import create_search

    ensure_planted()
    spec = _overridden(DEMO_SPEC, args)
    search = create_search(spec, load_if_exists=True)  # named after its fingerprint: reused when unchanged
    t0 = time.perf_counter()
    with search.torch_threads():
        search.train_supernet()
    supernet_s = time.perf_counter() - t0

    archs = stratified_draw(search, args.archs, args.strata, args.seed)
    winner = None
    if args.search:
        from nasrec.search.evaluate import LocalEvaluator

        with search.torch_threads():
            search.run_search(LocalEvaluator.for_search(search))
        top = search.top_candidates(1)
        if top:
            from nasrec.space.architecture import Architecture

            winner = Architecture.from_dict(top[0].architecture).canonical()

    config = retrain_config(search).with_(checkpoint_every=None)
    cache = ScratchCache(search.dataset.path)
    todo = [
        (a, config.with_(seed=s)) for a in [*archs, *([winner] if winner else [])] for s in args.scratch_seeds
    ]
    t1 = time.perf_counter()
    scratch = cache.fill(todo, search, jobs=args.jobs, fresh=args.fresh)
    scratch_s = time.perf_counter() - t1

    reports = []
    for variant in args.variants:
        settings = {**evaluation_settings(search), **_settings(variant)}
        t2 = time.perf_counter()
        evaluator = CandidateEvaluator(settings, threads=search.spec.resources.cpus_per_worker)
        oneshot = [evaluator.evaluate(a.to_json()) for a in archs]
        rows = []
        for i, (arch, result) in enumerate(zip(archs, oneshot, strict=True)):
            seeds = [scratch[cache.key(arch, c)] for a, c in todo if a is arch]
            rows.append(
                {
                    "arch": i,
                    "hash": arch.canonical_hash(),
                    "flops": search.costs(arch)["flops"],
                    "oneshot_logloss": result["val_logloss"],
                    "scratch_logloss": float(np.mean(seeds)),
                    "scratch_seeds": seeds,
                }
            )
        summary = summarize(rows)
        summary.update(
            variant=variant or "spec",
            supernet_steps=search.supernet_config().steps,
            finetune_steps=settings["finetune_steps"],
            finetune_scope=settings["finetune_scope"],
            val_rows=settings["val_rows"],
            scratch_steps=config.total_steps(len(search.dataset.split("train"))),
            scratch_seeds=args.scratch_seeds,
            supernet_seconds=round(supernet_s, 1),
            scratch_seconds=round(scratch_s, 1),
            oneshot_seconds_per_arch=round((time.perf_counter() - t2) / len(archs), 2),
            overrides=args.set,
        )
        if winner is not None:
            seeds = [scratch[cache.key(winner, c)] for a, c in todo if a is winner]
            losses = sorted(r["scratch_logloss"] for r in rows)
            summary["winner_scratch_logloss"] = float(np.mean(seeds))
            summary["winner_rank"] = 1 + sum(v < float(np.mean(seeds)) for v in losses)
        reports.append({"rows": rows, "summary": summary})
        if not args.json:
            print_report(rows, summary)
    if args.json:
        print(json.dumps(reports, indent=2))


def _settings(variant: str) -> dict[str, Any]:
    """``'finetune_scope=dense,finetune_steps=200'`` -> evaluation settings (YAML values)."""
    import yaml

    pairs = [item.partition("=") for item in variant.split(",") if item]
    return {key.strip(): yaml.safe_load(value) for key, _, value in pairs}


def _overridden(base: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    spec = json.loads(json.dumps(base))
    if args.supernet_steps:
        spec["supernet"]["steps"] = args.supernet_steps
        spec["supernet"]["warmup_k"] = min(spec["supernet"]["warmup_k"], args.supernet_steps)
    if args.finetune_steps is not None:
        spec["evaluation"]["finetune_steps"] = args.finetune_steps
    for item in args.set:
        path, _, value = item.partition("=")
        section, _, key = path.partition(".")
        spec.setdefault(section, {})[key] = yaml.safe_load(value)
    return spec


def stratified_draw(search: Search, n: int, strata: int, seed: int) -> list[Architecture]:
    """``n`` distinct feasible architectures, the same number in each of ``strata`` equal-width bins of
    log FLOPs between the 2nd percentile of feasible random draws and the largest feasible draw."""
    from nasrec.space import sample_architecture

    rng = np.random.default_rng([seed, 99])
    pool: dict[str, tuple[float, Architecture]] = {}
    for _ in range(200 * n):
        arch = sample_architecture(search.space, rng).canonical()
        if search.feasible(arch):
            pool.setdefault(arch.canonical_hash(), (search.costs(arch)["flops"], arch))
    flops = np.log(np.array([f for f, _ in pool.values()]))
    edges = np.linspace(np.percentile(flops, 2), flops.max() + 1e-9, strata + 1)
    chosen: list[Architecture] = []
    per_bin = [n // strata + (i < n % strata) for i in range(strata)]
    items = list(pool.values())
    for i, want in enumerate(per_bin):
        members = [a for (f, a), lf in zip(items, flops, strict=True) if edges[i] <= lf < edges[i + 1]]
        if len(members) < want:
            raise SystemExit(
                f"FLOPs bin {i} has only {len(members)} distinct draws; use fewer archs or strata"
            )
        picked = rng.choice(len(members), size=want, replace=False)
        chosen += [members[j] for j in sorted(picked)]
    return chosen


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from scipy.stats import kendalltau, spearmanr

    oneshot = np.array([r["oneshot_logloss"] for r in rows])
    scratch = np.array([r["scratch_logloss"] for r in rows])
    tau, p = kendalltau(oneshot, scratch)
    rho, p_rho = spearmanr(oneshot, scratch)
    flops_tau, flops_p = kendalltau(-np.array([r["flops"] for r in rows]), scratch)
    top = set(np.argsort(scratch)[:5])
    out: dict[str, Any] = {
        "archs": len(rows),
        "kendall_tau": float(tau),
        "p_value": float(p),
        "spearman_rho": float(rho),
        "spearman_p": float(p_rho),
        "top5_recall": len(top & set(np.argsort(oneshot)[:5])),
        "flops_tau": float(flops_tau),
        "flops_p": float(flops_p),
        "scratch_spread": float(scratch.max() - scratch.min()),
    }
    per_seed = np.array([r["scratch_seeds"] for r in rows])
    if per_seed.shape[1] >= 2:
        ceiling, ceiling_p = kendalltau(per_seed[:, 0], per_seed[:, 1])
        out["ceiling_tau"] = float(ceiling)
        out["ceiling_p"] = float(ceiling_p)
        out["seed_sd"] = float(np.mean(np.std(per_seed, axis=1, ddof=1)))
    return out


def print_report(rows: list[dict[str, Any]], s: dict[str, Any]) -> None:
    for r in sorted(rows, key=lambda r: r["flops"]):
        seeds = " ".join(f"{v:.4f}" for v in r["scratch_seeds"])
        print(
            f"arch {r['arch']:2d} {r['hash']}  FLOPs {r['flops']:>9,.0f}  one-shot {r['oneshot_logloss']:.4f}"
            f"  scratch {r['scratch_logloss']:.4f} ({seeds})"
        )
    verdict = "met" if s["kendall_tau"] >= TAU_TARGET and s["p_value"] < 0.01 else "NOT met"
    print(
        f"Kendall tau {s['kendall_tau']:.3f} (p = {s['p_value']:.2g}), Spearman {s['spearman_rho']:.3f} "
        f"(p = {s['spearman_p']:.2g}) over {s['archs']} architectures: "
        f"target tau >= {TAU_TARGET} -> {verdict}"
    )
    if "ceiling_tau" in s:
        print(
            f"ceiling (from-scratch seed vs seed): tau {s['ceiling_tau']:.3f} (p = {s['ceiling_p']:.2g}), "
            f"mean seed sd {s['seed_sd']:.4f}; target >= {CEILING_TARGET} -> "
            f"{'met' if s['ceiling_tau'] >= CEILING_TARGET else 'NOT met'}"
        )
    print(
        f"top-5 recall {s['top5_recall']}/5 (target >= {RECALL_TARGET}); "
        f"FLOPs alone: tau {s['flops_tau']:.3f} "
        f"(p = {s['flops_p']:.2g}); from-scratch spread {s['scratch_spread']:.4f}"
    )
    if "winner_rank" in s:
        print(f"the search's winner: from-scratch {s['winner_scratch_logloss']:.4f}, rank {s['winner_rank']}")
    print(json.dumps(s))


class ScratchCache:
    """From-scratch validation log losses by (dataset, training config, architecture), in a JSON file."""

    def __init__(self, dataset_path: object) -> None:
        from nasrec.home import home

        self.dataset = str(dataset_path)
        self.path = home() / "bench_ranking_scratch.json"

    def key(self, arch: Architecture, config: TrainConfig) -> str:
        import hashlib

        trajectory = json.dumps(config.trajectory_dict(), sort_keys=True)
        prefix = hashlib.sha256(f"{self.dataset}|{trajectory}".encode()).hexdigest()[:16]
        return f"{prefix}:{arch.canonical_hash()}"

    def _load(self) -> dict[str, float]:
        return json.loads(self.path.read_text()) if self.path.is_file() else {}

    def _put(self, key: str, value: float) -> None:
        data = self._load()
        data[key] = value
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(self.path)

    def fill(
        self, todo: list[tuple[Architecture, TrainConfig]], search: Search, *, jobs: int, fresh: bool
    ) -> dict[str, float]:
        """Every (architecture, config) of ``todo`` trained or read from the cache: key -> val log loss."""
        import multiprocessing

        known = {} if fresh else self._load()
        missing = {self.key(a, c): (a, c) for a, c in todo if self.key(a, c) not in known}
        if missing:
            model = search.space.model.to_dict()
            work = [(a.to_dict(), model, c.to_dict(), str(search.dataset.path)) for a, c in missing.values()]
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                for key, loss in zip(missing, pool.map(_train_from_scratch, work), strict=True):
                    self._put(key, loss)
                    known[key] = loss
                    print(f"  from scratch {key}: {loss:.4f}", flush=True)
        return {self.key(a, c): known[self.key(a, c)] for a, c in todo}


def _train_from_scratch(work: tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]) -> float:
    import torch

    from nasrec.data import Dataset
    from nasrec.space.architecture import Architecture
    from nasrec.space.model_config import ModelConfig
    from nasrec.train import TrainConfig, train_subnet

    torch.set_num_threads(1)
    arch, model, config, dataset = work
    result = train_subnet(
        Architecture.from_dict(arch),
        dataset=Dataset.open(dataset),
        model=ModelConfig.from_dict(model),
        config=TrainConfig.from_dict(config),
    )
    return float(result.metrics["logloss"])


if __name__ == "__main__":
    main()
