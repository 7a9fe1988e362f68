"""Quality suite: does the search beat the hand designs, dataset by dataset, over seeds?

Datasets (``--datasets``, default all of them):

    planted-<teacher>  every registered planted teacher (``nasrec.data.teachers.TEACHERS``: fm, cross,
                       dense_gate, attention), ``--planted-rows`` rows (default 300,000), data seed 0;
                       the Bayes log loss is known
    frappe             ``../shared/data/frappe``: its validation and test files merged (86,582 rows),
                       split 8:1:1 stratified (seed 2018)
    criteo_8k          ``../shared/data/criteo_8k`` as split (7,200 / 409 / 391 rows): the small set

Each dataset is created once in ``$NASREC_HOME`` (run with a scratch home). On each, for every seed of
``--seeds`` (default 0 1 2), the job runs to its end: the demo's spec (``nasrec.jobs.demo.DEMO_SPEC``:
the default search at laptop scale, its budgets in epochs so they follow the data) with that dataset
and seed, or ``--spec job.yaml``, with ``--set section.key=value`` overrides. The winner and every
baseline are tested once per job; a rerun reuses finished jobs.

Per dataset it prints each model's test log loss (mean and sample sd over seeds), its excess over Bayes
where known, and FLOPs, then the winner against the best baseline (lowest mean test log loss), paired
by seed: the mean difference, its standard error, the seed spread (the larger of the two models' sd)
and a verdict:

    better   the winner is lower by more than two standard errors
    lighter  not worse beyond the spread, at <= 0.7x the best baseline's FLOPs
    tie      not worse beyond the spread
    worse    higher by more than the spread

Targets (issue 15): never ``worse``; ``better`` or ``lighter`` on at least half of the datasets; the
small set (criteo_8k) not ``worse``. The summary JSON (``--out``, default
``$NASREC_HOME/bench_quality.json``; ``--json`` prints it) is what ``summarise`` returns.

    NASREC_HOME=/tmp/quality-home .venv/bin/python scripts/bench_quality.py [--datasets planted-cross
        criteo_8k] [--seeds 0 1 2] [--planted-rows 300000] [--spec job.yaml] [--set k.v=x] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FRAPPE_FIELDS = (
    "user", "item", "daytime", "weekday", "isweekend", "homework", "cost", "weather", "country", "city",
)  # fmt: skip
CRITEO_FILES = ("train.txt", "dev.txt", "test.txt")
LIGHTER = 0.7  # "equal at <= 0.7x the best baseline's FLOPs"


def main() -> None:
    from nasrec.data.teachers import TEACHERS

    every = [f"planted-{name}" for name in TEACHERS] + ["frappe", "criteo_8k"]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", default=every, choices=every)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--planted-rows", type=int, default=300_000)
    parser.add_argument("--shared", type=Path, default=SHARED_DATA, help="the shared data folder")
    parser.add_argument("--spec", default=None, help="a job YAML to use instead of the demo's spec")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="SECTION.KEY=VALUE", help="override a spec field"
    )
    parser.add_argument("--out", type=Path, default=None, help="default: $NASREC_HOME/bench_quality.json")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from nasrec.home import home
    from nasrec.jobs import run_local

    base = _base_spec(args)
    results = []
    for name in args.datasets:
        dataset = _ensure(name, args)
        runs = []
        for seed in args.seeds:
            t0 = time.perf_counter()
            run = run_local({**base, "dataset": dataset.name, "seed": seed})
            seconds = time.perf_counter() - t0
            runs.append({"seed": seed, "seconds": seconds, "job": run.job_id, "models": _models(run)})
        rows = len(dataset.split("train"))
        results.append({"dataset": name, "bayes_logloss": _bayes(dataset), "train_rows": rows, "runs": runs})
        if not args.json:
            _print_dataset(summarise_dataset(results[-1]))
    summary = summarise(results)
    out = args.out or home() / "bench_quality.json"
    out.write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"targets: {json.dumps(summary['targets'])} (summary in {out})")


# --- summary (pure functions of the per-run records, so a test can check them) ---------------------


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-dataset tables and verdicts, and the suite's targets, from ``main``'s per-run records."""
    datasets = [summarise_dataset(r) for r in results]
    verdicts = [d["verdict"] for d in datasets]
    small = [d for d in datasets if d["train_rows"] <= 10_000]
    return {
        "datasets": datasets,
        "targets": {
            "never_worse": "worse" not in verdicts,
            "better_or_lighter": f"{sum(v in ('better', 'lighter') for v in verdicts)}/{len(verdicts)}",
            "half_better_or_lighter": 2 * sum(v in ("better", "lighter") for v in verdicts) >= len(verdicts),
            "small_set_not_worse": bool(small) and all(d["verdict"] != "worse" for d in small),
        },
    }


def summarise_dataset(result: dict[str, Any]) -> dict[str, Any]:
    """One dataset: each model's mean / sd over seeds, the winner vs the best baseline, the verdict."""
    runs = result["runs"]
    bayes = result["bayes_logloss"]
    names = sorted({m["name"] for run in runs for m in run["models"] if m["kind"] == "baseline"})
    per_seed = {name: [_model(run, name)["test_logloss"] for run in runs] for name in names}
    per_seed["winner"] = [_winner(run)["test_logloss"] for run in runs]
    flops = {name: statistics.mean(_model(run, name)["flops"] for run in runs) for name in names}
    flops["winner"] = statistics.mean(_winner(run)["flops"] for run in runs)
    models = {
        name: {
            "test_logloss": statistics.mean(losses),
            "sd": _sd(losses),
            "excess": None if bayes is None else statistics.mean(losses) - bayes,
            "flops": flops[name],
            "per_seed": losses,
        }
        for name, losses in per_seed.items()
    }
    best = min(names, key=lambda name: models[name]["test_logloss"])
    diffs = [w - b for w, b in zip(per_seed["winner"], per_seed[best], strict=True)]
    mean_diff = statistics.mean(diffs)
    se = _sd(diffs) / math.sqrt(len(diffs))
    spread = max(models["winner"]["sd"], models[best]["sd"])
    flops_ratio = flops["winner"] / flops[best]
    if mean_diff < -2 * se:
        verdict = "better"
    elif mean_diff > spread:
        verdict = "worse"
    else:
        verdict = "lighter" if flops_ratio <= LIGHTER else "tie"
    return {
        "dataset": result["dataset"],
        "train_rows": result["train_rows"],
        "bayes_logloss": bayes,
        "seeds": [run["seed"] for run in runs],
        "minutes_per_job": statistics.mean(run["seconds"] for run in runs) / 60,
        "models": models,
        "winners": [_winner(run)["name"] for run in runs],
        "best_baseline": best,
        "diff_vs_best": mean_diff,
        "se": se,
        "spread": spread,
        "flops_ratio": flops_ratio,
        "verdict": verdict,
    }


def _model(run: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in run["models"] if m["name"] == name)


def _winner(run: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in run["models"] if m["winner"])


def _sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


# --- running ------------------------------------------------------------------------------------


def _base_spec(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from nasrec.jobs.demo import DEMO_SPEC
    from nasrec.spec import load_spec

    spec = load_spec(args.spec).to_dict() if args.spec else json.loads(json.dumps(DEMO_SPEC))
    for item in args.set:
        path, _, value = item.partition("=")
        section, _, key = path.partition(".")
        spec.setdefault(section, {})[key] = yaml.safe_load(value)
    return spec


def _ensure(name: str, args: argparse.Namespace) -> Any:
    """The suite's dataset ``name``, created on first use."""
    from nasrec.data import Dataset, FormatOptions, ingest, synthesize
    from nasrec.errors import NotFoundError

    stored = f"quality-{name}-{args.planted_rows}" if name.startswith("planted-") else f"quality-{name}"
    try:
        return Dataset.open(stored)
    except NotFoundError:
        pass
    if name.startswith("planted-"):
        return synthesize(stored, rows=args.planted_rows, seed=0, teacher=name.removeprefix("planted-"))
    folder = args.shared / name
    if not folder.is_dir():
        raise SystemExit(f"{folder} not found: pass --shared or leave {name} out of --datasets")
    if name == "criteo_8k":
        return ingest("criteo", [folder / f for f in CRITEO_FILES], name=stored)
    with tempfile.TemporaryDirectory() as tmp:  # ingest splits one file; frappe comes as two
        merged = Path(tmp) / "frappe.libfm"
        parts = ("frappe.validation.libfm", "frappe.test.libfm")
        merged.write_text("".join((folder / part).read_text() for part in parts))
        return ingest("libfm", [merged], name=stored, options=FormatOptions(fields=FRAPPE_FIELDS))


def _models(run: Any) -> list[dict[str, Any]]:
    """The tested models of a finished job: the winner and the baselines."""
    return [
        {
            "name": e.name,
            "kind": e.kind,
            "winner": e.winner,
            "test_logloss": e.metric("test_logloss"),
            "flops": e.metric("flops"),
        }
        for e in run.entries
        if e.metric("test_logloss") is not None
    ]


def _bayes(dataset: Any) -> float | None:
    floor = dataset.meta.get("bayes_logloss")
    return None if floor is None else float(floor["test"])


def _print_dataset(d: dict[str, Any]) -> None:
    bayes = "unknown" if d["bayes_logloss"] is None else f"{d['bayes_logloss']:.4f}"
    print(
        f"{d['dataset']} ({d['train_rows']:,} train rows, Bayes {bayes}, seeds {d['seeds']}, "
        f"{d['minutes_per_job']:.1f} min per job; winners {', '.join(d['winners'])})"
    )
    for name, m in sorted(d["models"].items(), key=lambda item: item[1]["test_logloss"]):
        excess = "" if m["excess"] is None else f"  excess {m['excess']:.4f}"
        print(f"  {name:<8} test {m['test_logloss']:.4f} +- {m['sd']:.4f}{excess}  FLOPs {m['flops']:>9,.0f}")
    print(
        f"  winner - {d['best_baseline']}: {d['diff_vs_best']:+.4f} "
        f"(se {d['se']:.4f}, spread {d['spread']:.4f}) "
        f"at {d['flops_ratio']:.2f}x its FLOPs: {d['verdict']}",
        flush=True,
    )


if __name__ == "__main__":
    main()
