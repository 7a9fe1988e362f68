"""Which planted teacher lets a searched architecture beat the hand designs? From-scratch figures per teacher.

For each teacher, synthesizes a dataset (``--rows``, default 300k; named ``teacher-<name>-<rows>``,
reused when it exists) and trains from scratch, with the finalisation's training config (the demo's
spec: one epoch, its batch size and learning rate, ``nasrec.search.finalize.retrain_config``), the
baselines (``--baselines``, default mlp, dlrm, deepfm) and ``--archs`` architectures of the demo's space
drawn under its FLOPs budget (``nasrec.space.sample_architecture``, seed ``--draw-seed``, only ones with
an EFC and a Dot-Product op, at distinct numbers of live Dot-Product ops when possible), each with every
seed of ``--seeds``. Prints per teacher the Bayes floor and each model's validation log loss (mean and
half-range over seeds), then the gap "best drawn architecture vs best baseline" in units of the seed
spread (the larger of the two models' half-ranges).

Target: on some teacher a drawn architecture beats DLRM by several seed spreads while the best model
stays close to the Bayes floor (excess small next to the gap).

Run it with a scratch home, one thread per training:

    NASREC_HOME=/tmp/teachers-home .venv/bin/python scripts/bench_teachers.py [--teachers fm cross]
        [--rows 300000] [--seeds 0 1] [--archs 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--teachers", nargs="+", default=None, help="default: every registered teacher")
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the synthesized dataset")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="training seeds")
    parser.add_argument("--archs", type=int, default=4, help="drawn architectures of the demo's space")
    parser.add_argument("--draw-seed", type=int, default=0)
    parser.add_argument("--baselines", nargs="+", default=["mlp", "dlrm", "deepfm"])
    parser.add_argument(
        "--extra", nargs="*", default=[], metavar="ARCH.json",
        help="hand-designed architectures of the demo's space, reported as 'designed'",
    )  # fmt: skip
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KNOB=VALUE",
        help="override knobs of the teachers' configs (e.g. tail_decay=1.5); names the dataset after them",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch

    from nasrec.data import Dataset, synthesize
    from nasrec.data.teachers import TEACHERS
    from nasrec.errors import NotFoundError
    from nasrec.jobs.demo import DEMO_SPEC
    from nasrec.search.finalize import load_baseline, retrain_config
    from nasrec.search.search import create_search
    from nasrec.train import train_subnet

    torch.set_num_threads(1)
    report = []
    archs: list[tuple[str, Any]] | None = None
    for teacher in args.teachers or list(TEACHERS):
        knobs = _knobs(TEACHERS[teacher].config_type, args.set)
        name = "-".join(["teacher", teacher, str(args.rows), *(f"{k}{v}" for k, v in knobs.items())])
        try:
            dataset = Dataset.open(name)
        except NotFoundError:
            config = TEACHERS[teacher].config_type(**knobs)
            dataset = synthesize(name, rows=args.rows, seed=args.data_seed, teacher=teacher, config=config)
        spec = {**json.loads(json.dumps(DEMO_SPEC)), "dataset": name}
        search = create_search(spec, load_if_exists=True)  # the demo's job on this data: its configs
        if archs is None:
            archs = [(n, load_baseline(n).architecture) for n in args.baselines] + _drawn(search, args)
            archs += [(Path(p).stem, _designed(search, Path(p))) for p in args.extra]
        bayes = float(dataset.meta["bayes_logloss"]["val"])
        models = []
        for model_name, arch in archs:
            losses = []
            for seed in args.seeds:
                config = retrain_config(search).with_(seed=seed, checkpoint_every=None)
                t0 = time.perf_counter()
                result = train_subnet(arch, dataset=dataset, model=search.space.model, config=config)
                losses.append(float(result.metrics["logloss"]))
                if not args.json:
                    print(f"  {teacher:<10} {model_name:<8} seed {seed}: val {losses[-1]:.4f}"
                          f" ({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
            models.append({
                "model": model_name,
                "kind": _kind(model_name, args),
                "architecture": arch.to_dict(),
                "flops": search.costs(arch)["flops"],
                "val_logloss": losses,
                "mean": sum(losses) / len(losses),
                "spread": (max(losses) - min(losses)) / 2,
            })  # fmt: skip
        row = _summary(teacher, bayes, models)
        report.append(row)
        if not args.json:
            _print(row)
    if args.json:
        print(json.dumps({"rows": args.rows, "seeds": args.seeds, "teachers": report}, indent=2))


def _knobs(config_type: type, settings: list[str]) -> dict[str, Any]:
    """``KNOB=VALUE`` settings that ``config_type`` has, parsed as its fields' types."""
    import dataclasses

    types = {f.name: type(f.default) for f in dataclasses.fields(config_type)}
    out = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        if key in types:
            out[key] = (value.lower() in ("1", "true")) if types[key] is bool else types[key](value)
    return out


def _kind(model_name: str, args: argparse.Namespace) -> str:
    if model_name in args.baselines:
        return "baseline"
    return "drawn" if model_name.startswith("arch-") else "designed"


def _designed(search: Any, path: Path) -> Any:
    """A hand-designed architecture, checked against the demo's space and its FLOPs budget."""
    from nasrec.errors import ConfigError
    from nasrec.space.arch_file import read_architecture
    from nasrec.space.validation import validate_architecture

    arch = read_architecture(path).architecture.canonical()
    validate_architecture(arch, search.space)
    if not search.feasible(arch):
        raise ConfigError(f"{path}: over the demo's budget ({search.costs(arch)['flops']:,.0f} FLOPs)")
    return arch


def _drawn(search: Any, args: argparse.Namespace) -> list[tuple[str, Any]]:
    """``args.archs`` feasible architectures of the demo's space with an EFC and a Dot-Product op,
    preferring distinct numbers of live Dot-Product ops (depths of interaction)."""
    import numpy as np

    from nasrec.space import sample_architecture

    rng = np.random.default_rng([args.draw_seed, 15])
    by_dots: dict[int, list[Any]] = {}
    seen: set[str] = set()
    for _ in range(5000):
        arch = sample_architecture(search.space, rng).canonical()
        live = [b for b in arch.blocks if b is not None]
        dots = sum(b.dense_op == "dot" for b in live)
        if arch.canonical_hash() in seen or not dots or not any(b.sparse_op == "efc" for b in live):
            continue
        if search.feasible(arch):
            seen.add(arch.canonical_hash())
            by_dots.setdefault(dots, []).append(arch)
        if sum(len(v) for v in by_dots.values()) >= 20 * args.archs:
            break
    picked: list[Any] = []
    while len(picked) < args.archs and any(by_dots.values()):
        for dots in sorted(by_dots):  # round robin over depths
            if by_dots[dots] and len(picked) < args.archs:
                picked.append(by_dots[dots].pop(0))
    return [(f"arch-{i + 1}", a) for i, a in enumerate(picked)]


def _summary(teacher: str, bayes: float, models: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind of architecture (drawn, designed): its best model against the best baseline, in seed
    spreads (the larger half-range of the two)."""
    best_base = min((m for m in models if m["kind"] == "baseline"), key=lambda m: m["mean"])
    row: dict[str, Any] = {
        "teacher": teacher, "bayes_logloss_val": bayes, "models": models, "best_baseline": best_base["model"],
        "best_excess": min(m["mean"] for m in models) - bayes, "gaps": {},
    }  # fmt: skip
    for kind in ("drawn", "designed"):
        of_kind = [m for m in models if m["kind"] == kind]
        if of_kind:
            best = min(of_kind, key=lambda m: m["mean"])
            gap = best_base["mean"] - best["mean"]
            spread = max(best_base["spread"], best["spread"], 1e-4)
            row["gaps"][kind] = {"model": best["model"], "gap": gap, "in_spreads": gap / spread}
    return row


def _print(row: dict[str, Any]) -> None:
    bayes = row["bayes_logloss_val"]
    print(f"teacher {row['teacher']}: Bayes (val) {bayes:.4f}")
    for m in row["models"]:
        print(f"  {m['model']:<14} {m['kind']:<8} val {m['mean']:.4f} +- {m['spread']:.4f}"
              f"  excess {m['mean'] - bayes:.4f}  FLOPs {m['flops']:>9,.0f}")  # fmt: skip
    for kind, g in row["gaps"].items():
        print(f"  best {kind} {g['model']} vs best baseline {row['best_baseline']}: {g['gap']:+.4f}"
              f" ({g['in_spreads']:+.1f} seed spreads)")  # fmt: skip
    print(f"  best model's excess over Bayes {row['best_excess']:.4f}", flush=True)


if __name__ == "__main__":
    main()
