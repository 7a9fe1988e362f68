"""Do the derived budgets fit the data? Supernet curves and early-stopped retraining on one dataset.

For a dataset in ``$NASREC_HOME/datasets`` (e.g. the demo's planted set, or ``criteo_8k``):

  * supernet: the demo's spec with its budget left to the derived rule (``--supernet-epochs`` or
    ``--supernet-steps`` to override), validated at every point of the rule's cadence (``--points``);
    prints step, epochs, train loss (mean since the previous point) and val log loss (mean over the
    fixed paths), next to a constant predictor's log loss and a log loss's standard error, and the
    health findings the job would report;
  * retraining of each ``--models`` baseline with the job's retraining config (derived budget, early
    stopping) and with exactly one epoch and no early stopping: val log loss, steps used, best step,
    seconds.

    NASREC_HOME=/tmp/budgets-home .venv/bin/python scripts/bench_budgets.py planted [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset")
    parser.add_argument("--supernet-steps", type=int, default=None)
    parser.add_argument("--supernet-epochs", type=float, default=None)
    parser.add_argument(
        "--points", type=int, default=None, help="supernet validation points (default: the rule's)"
    )
    parser.add_argument("--models", default="mlp,dlrm", help="baselines to retrain ('' skips retraining)")
    parser.add_argument("--skip-supernet", action="store_true")
    parser.add_argument("--finalize", default="{}", help="JSON merged into the spec's finalize section")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from nasrec.data import Dataset
    from nasrec.jobs.demo import DEMO_SPEC
    from nasrec.search.finalize import load_baseline, retrain_config
    from nasrec.search.health import supernet_findings
    from nasrec.search.search import create_search
    from nasrec.train import evaluate, forbid_test_split, train_subnet, train_supernet

    torch.set_num_threads(1)
    dataset = Dataset.open(args.dataset)
    spec = json.loads(json.dumps(DEMO_SPEC))
    spec.update(dataset=str(dataset.path), seed=args.seed)
    spec["supernet"].pop("epochs")
    spec["supernet"].pop("warmup_k")
    if args.supernet_steps:
        spec["supernet"]["steps"] = args.supernet_steps
    elif args.supernet_epochs:
        spec["supernet"]["epochs"] = args.supernet_epochs
    spec["finalize"] = {"top_k": 0, "baselines": False, **json.loads(args.finalize)}  # the job's defaults
    out: dict[str, Any] = {"dataset": args.dataset, "train_rows": len(dataset.split("train"))}
    with tempfile.TemporaryDirectory() as tmp:
        search = create_search(spec, storage=f"sqlite:///{tmp}/bench.db", run_dir=Path(tmp) / "run")
        out["budgets"] = search.budget_settings()
        if not args.skip_supernet:
            config = search.supernet_config()
            if args.points:
                config = config.with_(validate_every=max(1, config.steps // args.points))
            levels = search.reference_levels(search.supernet_val_rows())
            t0 = time.perf_counter()
            result = train_supernet(
                dataset=dataset, space=search.space, config=config, run_dir=Path(tmp) / "supernet"
            )
            per_epoch = out["train_rows"] // config.batch_size
            history = [{**p, "epochs": p["step"] / per_epoch} for p in result.metrics["history"]]
            findings = supernet_findings(
                history, total=config.steps, constant=levels["constant"], se=levels["se"]
            )
            validation_s = time_supernet_validation(result.checkpoint, search.space, config, dataset)
            out["supernet"] = {
                "steps": config.steps,
                "seconds": time.perf_counter() - t0,
                "validation_seconds": validation_s,
                "levels": levels,
                "history": history,
                "findings": [f.message for f in findings],
            }
        retrain = retrain_config(search)
        out["retrain"] = []
        for name in [m for m in args.models.split(",") if m]:
            arch, _ = load_baseline(name)
            for label, config in (("early stopping", retrain), ("1 epoch", one_epoch(retrain))):
                t0 = time.perf_counter()
                with forbid_test_split():
                    run = train_subnet(arch, dataset=dataset, model=search.space.model, config=config)
                m = run.metrics
                t1 = time.perf_counter()
                validate = evaluate(run.model, dataset.split("val"), max_rows=config.eval_rows)
                validation_s = time.perf_counter() - t1
                test = evaluate(run.model, dataset.split("test"))  # a benchmark: no selection happens here
                out["retrain"].append(
                    {
                        "model": name,
                        "protocol": label,
                        "budget": config.total_steps(out["train_rows"]),
                        "steps": run.step,
                        "best_step": m.get("best_step"),
                        "val_logloss": m["logloss"],
                        "val_auc": m["auc"],
                        "test_logloss": test["logloss"],
                        "validation_seconds": validation_s,
                        "validated_rows": validate["rows"],
                        "train_loss": m["train_loss"],
                        "seconds": time.perf_counter() - t0,
                    }
                )
                if not args.json:
                    print(json.dumps(out["retrain"][-1]), flush=True)
    if args.json:
        print(json.dumps(out, indent=2, default=float))
        return
    print_report(out)


def time_supernet_validation(checkpoint: Any, space: Any, config: Any, dataset: Any) -> float:
    """Seconds of one supernet validation point (its fixed paths on its val rows)."""
    from nasrec.train import evaluate, load_supernet
    from nasrec.train.api import _eval_architectures

    supernet = load_supernet(checkpoint)
    t0 = time.perf_counter()
    for arch in _eval_architectures(space, config):
        evaluate(supernet, dataset.split("val"), batch_size=config.eval_batch_size, max_rows=config.eval_rows,
                 arch=arch)  # fmt: skip
    return time.perf_counter() - t0


def one_epoch(config: Any) -> Any:
    """Finalisation's config before early stopping: exactly one epoch, validated once at the end."""
    return config.with_(steps=None, epochs=1.0, validate_every=None, patience=None)


def print_report(out: dict[str, Any]) -> None:
    b = out["budgets"]
    print(f"dataset {out['dataset']}: {out['train_rows']:,} train rows")
    for name in ("supernet", "finetune", "retrain"):
        n = b[name]
        print(f"  {name:9s} {n['steps']:>6,} steps  {n['epochs']:6.2f} epochs  ({n['source']})")
    if "supernet" in out:
        s = out["supernet"]
        lv = s["levels"]
        print(
            f"supernet: {s['steps']:,} steps in {s['seconds']:.0f} s "
            f"(one validation point {s['validation_seconds']:.1f} s); "
            f"constant predictor {lv['constant']:.4f}, "
            f"standard error {lv['se']:.4f} on {lv['rows']:,} val rows"
        )
        print("   step  epochs  train_loss  val_logloss")
        for p in s["history"]:
            print(f"  {p['step']:5d}  {p['epochs']:6.2f}  {p['train_loss']:10.4f}  {p['val_logloss']:11.4f}")
        for message in s["findings"] or ["no findings"]:
            print(f"  {message}")
    for r in out["retrain"]:
        best = "" if r["best_step"] is None else f" (best at {r['best_step']:,})"
        print(
            f"retrain {r['model']:7s} {r['protocol']:15s} val_logloss {r['val_logloss']:.4f}  "
            f"test_logloss {r['test_logloss']:.4f}  steps {r['steps']:,} of {r['budget']:,}{best}  "
            f"{r['seconds']:.0f} s (one validation {r['validation_seconds']:.1f} s)"
        )


if __name__ == "__main__":
    main()
