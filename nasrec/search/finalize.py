"""Finalisation: retrain the top-k from scratch, select on validation, test the winner once.

1. The top-k distinct (by canonical hash) feasible candidates of the search, by their one-shot score,
   and the job's baselines, are each trained from scratch as a standalone SubNet (``train_subnet``)
   on the train split and validated on the val split. This runs under ``forbid_test_split``: any
   attempt to read the test split raises.
2. The winner is the found model with the best *validation* score among the feasible ones. Only then,
   outside the guard, is the test split opened: the winner is evaluated on it once, and each baseline
   once (no selection happens among baselines, so testing them is a fair comparison, not a choice).
3. Every record (architecture, costs, validation and test metrics, checkpoint) is written to the
   study as it is produced (``nasrec_final:<name>``), so an interrupted finalisation resumes without
   retraining a finished model or testing anything twice.

Baselines are fixed architectures in ``search_spaces/baselines/<name>.json`` (nasrec Architecture JSON
plus a ``description``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasrec.errors import ConfigError, NasrecError, NotFoundError
from nasrec.metrics import METRICS
from nasrec.search.leaderboard import Entry, rank_entries
from nasrec.search.records import FinalRecord, final_records, metrics_of, read_winner, save_final, save_winner

if TYPE_CHECKING:
    from nasrec.search.search import PhaseProgress, Search
    from nasrec.space.architecture import Architecture
    from nasrec.spec import JobSpec

__all__ = [
    "baselines_dir",
    "final_leaderboard",
    "finalize",
    "job_baselines",
    "list_baselines",
    "load_baseline",
]


def baselines_dir() -> Path:
    from nasrec.home import project_root

    return project_root() / "search_spaces" / "baselines"


def list_baselines() -> list[str]:
    d = baselines_dir()
    return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []


def load_baseline(name: str) -> tuple[Architecture, str]:
    """A baseline architecture (canonical) and its description, read and checked as every
    architecture file is (``read_architecture``; against the space it names, if any): errors name
    the baseline's file, the block and the gene."""
    from nasrec.space.arch_file import read_architecture

    path = baselines_dir() / f"{name}.json"
    if not path.is_file():
        raise NotFoundError(f"no baseline {name!r}; available: {', '.join(list_baselines())}")
    arch = read_architecture(path, source=f"baseline {name} ({path})").architecture
    data = json.loads(path.read_text())
    description = data.get("description", "") if isinstance(data, dict) else ""
    return arch.canonical(), str(description)


def job_baselines(spec: JobSpec) -> list[str]:
    """The baselines the job asks for (all of them for ``true``, none for ``false``, or the listed
    ones), each loaded and checked: a missing or invalid baseline is a ``ConfigError`` naming
    ``finalize.baselines`` before anything runs."""
    wanted = spec.finalize.baselines
    if wanted is True:
        names = list_baselines()
    elif wanted is False:
        names = []
    else:
        missing = [b for b in wanted if b not in list_baselines()]
        if missing:
            raise ConfigError(
                f"finalize.baselines: unknown baseline(s) {missing}; available: {list_baselines()}"
            )
        names = list(wanted)
    for name in names:
        try:
            load_baseline(name)
        except NasrecError as exc:
            raise ConfigError(f"finalize.baselines: {exc}") from None
    return names


def retrain_config(search: Search) -> Any:
    """One ``TrainConfig`` for every from-scratch model of the job (found and baselines alike)."""
    from nasrec.train import TrainConfig

    f, r = search.spec.finalize, search.spec.resources
    steps = search.budgets()["retrain"].steps  # the most; early stopping (patience) usually ends sooner
    validate_every = f.retrain_validate_every(steps)
    return TrainConfig(
        steps=steps,
        batch_size=f.batch_size,
        lr=f.lr,
        sparse_lr=f.lr,
        eval_rows=f.val_rows,
        eval_batch_size=search.spec.evaluation.batch_size,
        seed=search.spec.seed,
        checkpoint_every=None,
        keep_checkpoints=1,
        log_every=max(1, steps // 20),
        validate_every=validate_every,
        patience=f.patience if validate_every else None,
        num_workers=r.workers,
        cpus_per_worker=r.cpus_per_worker,
        use_gpu=r.gpus_per_worker > 0,
    )


def finalize(search: Search, *, progress: PhaseProgress | None = None) -> list[Entry]:
    """Retrain, select on validation, test once; returns the final leaderboard (see module docstring)."""
    search.set_phase("finalize")
    with search.torch_threads():
        return _finalize(search, progress)


def _finalize(search: Search, progress: PhaseProgress | None) -> list[Entry]:
    from nasrec.train import forbid_test_split

    with forbid_test_split():
        todo = _selection_pool(search)
        done = final_records(search.study)
        for i, (name, kind, arch, extra) in enumerate(todo):
            if progress:
                progress("finalize", i, len(todo), {"model": name})
            if name not in done:
                done[name] = _retrain(search, name, kind, arch, extra, progress)
                save_final(search.study, done[name])
        if progress:
            progress("finalize", len(todo), len(todo), {})
        winner = _select(search, [done[name] for name, kind, _, _ in todo if kind == "found"])
    if winner is not None:
        save_winner(search.study, winner)
    # Selection is over: from here on, the test split is read once per model, for the winner and
    # the baselines only.
    for name, kind, _, _ in todo:
        record = done[name]
        if (kind == "baseline" or name == winner) and not record.tested:
            save_final(search.study, _test_once(search, record))
    return final_leaderboard(search)


def _selection_pool(search: Search) -> list[tuple[str, str, Architecture, dict[str, Any]]]:
    pool: list[tuple[str, str, Architecture, dict[str, Any]]] = []
    for rank, entry in enumerate(search.top_candidates(search.spec.finalize.top_k)):
        from nasrec.space.architecture import Architecture

        oneshot = {k: v for k, v in entry.metrics.items() if k in METRICS and METRICS[k].kind == "evaluated"}
        extra = {"trial": entry.trial, "oneshot_rank": rank, "oneshot": oneshot}
        pool.append((f"found-{rank + 1}", "found", Architecture.from_dict(entry.architecture), extra))
    for name in job_baselines(search.spec):
        arch, description = load_baseline(name)
        pool.append((name, "baseline", arch, {"description": description}))
    return pool


def _retrain(
    search: Search,
    name: str,
    kind: str,
    arch: Architecture,
    extra: dict[str, Any],
    progress: PhaseProgress | None,
) -> FinalRecord:
    from nasrec.train import train_subnet

    def report(step: int, total: int, metrics: dict[str, Any]) -> None:
        if progress:
            progress("retrain", step, total, {"model": name, **metrics})

    result = train_subnet(
        arch,
        dataset=search.dataset,
        model=search.space.model,
        config=retrain_config(search),
        run_dir=search.run_dir / "final" / name,
        resume=True,
        progress=report,
    )
    metrics = result.metrics
    costs = search.costs(arch)
    diverged = bool(metrics.get("diverged", False))
    broken = search.violations(costs, kinds=("analytic",))
    return FinalRecord(
        name=name,
        kind=kind,
        architecture=arch.to_dict(),
        arch_hash=arch.canonical_hash(),
        metrics=metrics_of({**costs, "val_logloss": metrics.get("logloss"), "val_auc": metrics.get("auc")}),
        feasible=not broken and not diverged,
        violations=tuple(broken),
        checkpoint=None if result.checkpoint is None else str(result.checkpoint),
        diverged=diverged,
        val_rows=metrics.get("rows"),
        train_loss=_num(metrics.get("train_loss")),
        **extra,
    )


def _select(search: Search, found: list[FinalRecord]) -> str | None:
    """The winner: best validation score among the feasible retrained found models."""
    metric, minimize = search.objectives[0]
    candidates = [r for r in found if r.feasible and metric in r.metrics]
    if not candidates:
        return None
    best = min(candidates, key=lambda r: r.metrics[metric] if minimize else -r.metrics[metric])
    return best.name


def _test_once(search: Search, record: FinalRecord) -> FinalRecord:
    """``record`` with its test scores."""
    from nasrec.train import evaluate, load_subnet

    if record.checkpoint is None:
        raise NotFoundError(f"{record.name}: no checkpoint to test")
    model = load_subnet(record.checkpoint)
    metrics = evaluate(model, search.dataset.split("test"), batch_size=search.spec.evaluation.batch_size)
    tested = metrics_of({"test_logloss": metrics["logloss"], "test_auc": metrics["auc"]})
    return replace(record, metrics={**record.metrics, **tested}, test_rows=metrics["rows"])


def final_leaderboard(search: Search) -> list[Entry]:
    """Found models (retrained) and baselines, feasible first, by validation score, Pareto-ranked."""
    winner = read_winner(search.study)
    entries = [
        Entry(
            name=name,
            kind=r.kind,
            architecture=r.architecture,
            arch_hash=r.arch_hash,
            feasible=r.feasible,
            metrics=r.entry_metrics(),
            trial=r.trial,
            winner=name == winner,
            violations=r.violations,
        )
        for name, r in final_records(search.study).items()
    ]
    objectives = [(m, mn) for m, mn in search.objectives if m != "latency_ms"]
    return rank_entries(entries, objectives)


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if out == out else None
