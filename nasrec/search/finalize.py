"""Finalisation: retrain the top-k from scratch, select on validation, test the winner once.

1. The top-k distinct (by canonical hash) feasible candidates of the search, by their one-shot score,
   and the job's baselines (at the job's budget: ``nasrec.search.baselines``), are each trained from
   scratch as a standalone SubNet with the same ``retrain_config`` on the train split and validated
   on the val split, side by side on the job's Ray actors (``nasrec.search.retrain``). This runs
   under ``forbid_test_split``: any attempt to read the test split raises.
2. The winner is the found model with the best *validation* score among the feasible ones. Only then,
   outside the guard, is the test split opened: the winner is evaluated on it once, and each baseline
   once (no selection happens among baselines, so testing them is a fair comparison, not a choice).
3. Every record (architecture, costs, validation and test metrics, checkpoint) is written to the
   study (``nasrec_final:<name>``) as soon as the model and every model before it in the pool have
   finished, so the study's contents do not depend on which actor was faster, and an interrupted
   finalisation resumes without retraining a finished model (a finished model whose record was not
   written yet returns from its final checkpoint at once) or testing anything twice.

Progress: ``progress("retrain", step, total, {"model", "eta_s", ...})`` per model as it trains (and
once more with ``"done": True`` when it ends), and ``progress("finalize", finished, models,
{"fraction"})`` for the pool as a whole.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nasrec.errors import NotFoundError
from nasrec.metrics import METRICS

# The baselines' home is nasrec.search.baselines; these names are imported from here too.
from nasrec.search.baselines import baselines_dir, job_baselines, list_baselines, load_baseline
from nasrec.search.leaderboard import Entry, rank_entries
from nasrec.search.records import FinalRecord, final_records, metrics_of, read_winner, save_final, save_winner

if TYPE_CHECKING:
    from nasrec.search.retrain import RetrainJob, RetrainPool
    from nasrec.search.search import PhaseProgress, Search
    from nasrec.space.architecture import Architecture

__all__ = [
    "baselines_dir",
    "final_leaderboard",
    "finalize",
    "job_baselines",
    "list_baselines",
    "load_baseline",
]


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


def finalize(
    search: Search, *, progress: PhaseProgress | None = None, retrainer: RetrainPool | None = None
) -> list[Entry]:
    """Retrain, select on validation, test once; returns the final leaderboard (see module docstring).

    ``retrainer`` defaults to the job's actor pool (``ActorPoolRetrainer.for_search``, closed after)."""
    search.set_phase("finalize")
    with search.torch_threads():
        return _finalize(search, progress, retrainer)


@dataclass(frozen=True)
class _Model:
    """One model of the selection pool: found (``extra``: its trial and one-shot scores) or baseline."""

    name: str
    kind: str  # "found" | "baseline"
    arch: Architecture
    extra: dict[str, Any]


def _finalize(search: Search, progress: PhaseProgress | None, retrainer: RetrainPool | None) -> list[Entry]:
    from nasrec.train import forbid_test_split

    with forbid_test_split():
        pool = _selection_pool(search)
        done = final_records(search.study)
        _retrain_pool(search, pool, done, progress, retrainer)
        winner = _select(search, [done[m.name] for m in pool if m.kind == "found"])
    if winner is not None:
        save_winner(search.study, winner)
    # Selection is over: from here on, the test split is read once per model, for the winner and
    # the baselines only.
    for model in pool:
        record = done[model.name]
        if (model.kind == "baseline" or model.name == winner) and not record.tested:
            save_final(search.study, _test_once(search, record))
    return final_leaderboard(search)


def _selection_pool(search: Search) -> list[_Model]:
    from nasrec.search.baselines import sized_baseline
    from nasrec.space.architecture import Architecture

    pool: list[_Model] = []
    for rank, entry in enumerate(search.top_candidates(search.spec.finalize.top_k)):
        oneshot = {k: v for k, v in entry.metrics.items() if k in METRICS and METRICS[k].kind == "evaluated"}
        extra = {"trial": entry.trial, "oneshot_rank": rank, "oneshot": oneshot}
        pool.append(_Model(f"found-{rank + 1}", "found", Architecture.from_dict(entry.architecture), extra))
    for name in job_baselines(search.spec):
        sized = sized_baseline(search, name)
        extra = {"description": sized.description, "width_scale": sized.scale}
        pool.append(_Model(name, "baseline", sized.architecture, extra))
    return pool


def _retrain_pool(
    search: Search,
    pool: list[_Model],
    done: dict[str, FinalRecord],
    progress: PhaseProgress | None,
    retrainer: RetrainPool | None,
) -> None:
    """Train every model of ``pool`` not in ``done`` on ``retrainer``; each record goes into ``done``
    and the study in pool order, as soon as the models before it are in (module docstring, 3)."""
    from nasrec.search.retrain import ActorPoolRetrainer, RetrainJob

    todo = [m for m in pool if m.name not in done]
    board = _PoolProgress([m.name for m in pool], set(done), progress)
    if not todo:
        board.report()
        return
    by_name = {m.name: m for m in todo}
    unsaved = deque(m.name for m in todo)
    finished: dict[str, FinalRecord] = {}

    def on_finished(job: RetrainJob, result: dict[str, Any]) -> None:
        finished[job.name] = _record(search, by_name[job.name], result)
        while unsaved and unsaved[0] in finished:
            record = finished.pop(unsaved.popleft())
            save_final(search.study, record)
            done[record.name] = record
        board.finished(job.name, result)

    jobs = [RetrainJob(m.name, m.arch.to_json(), str(search.run_dir / "final" / m.name)) for m in todo]
    own = retrainer is None
    retrainer = retrainer or ActorPoolRetrainer.for_search(search)
    try:
        retrainer.run(jobs, progress=board.step, finished=on_finished)
    finally:
        if own:
            retrainer.close()


class _PoolProgress:
    """Turns the retrainer's reports into ``progress`` calls: per model (step, total, ETA from its own
    pace) and for the pool (finished models, and the fraction of all their steps done)."""

    def __init__(self, names: list[str], done: set[str], progress: PhaseProgress | None) -> None:
        self.names = names
        self.progress = progress
        self.share = {name: 1.0 for name in done}  # name -> fraction of its steps done
        self.ended = set(done)

    def step(self, name: str, step: int, total: int, metrics: dict[str, Any]) -> None:
        self.share[name] = min(step / max(total, 1), 1.0)
        if self.progress:
            seconds = metrics.get("seconds")
            eta = seconds * (total - step) / step if step > 0 and isinstance(seconds, float) else None
            self.progress("retrain", step, total, {**metrics, "model": name, "eta_s": eta})
            self.report()

    def finished(self, name: str, result: dict[str, Any]) -> None:
        self.share[name] = 1.0
        self.ended.add(name)
        if self.progress:
            info = {
                "model": name,
                "done": True,
                "seconds": result["seconds"],
                "eta_s": 0.0,
                "worker": result["worker"],
            }
            reported = ("logloss", "auc", "diverged", "stopped_early", "best_step")
            info.update({k: result["metrics"][k] for k in reported if k in result["metrics"]})
            self.progress("retrain", result["step"], result["total"], info)
            self.report()

    def report(self) -> None:
        if self.progress:
            fraction = sum(self.share.get(name, 0.0) for name in self.names) / max(len(self.names), 1)
            self.progress("finalize", len(self.ended), len(self.names), {"fraction": fraction})


def _record(search: Search, model: _Model, result: dict[str, Any]) -> FinalRecord:
    """The finalisation record of a retrained model (``Retrainer.train``'s ``result``)."""
    arch, metrics = model.arch, result["metrics"]
    costs = search.costs(arch)
    diverged = bool(metrics.get("diverged", False))
    broken = search.violations(costs, kinds=("analytic",))
    return FinalRecord(
        name=model.name,
        kind=model.kind,
        architecture=arch.to_dict(),
        arch_hash=arch.canonical_hash(),
        metrics=metrics_of({**costs, "val_logloss": metrics.get("logloss"), "val_auc": metrics.get("auc")}),
        feasible=not broken and not diverged,
        violations=tuple(broken),
        checkpoint=result["checkpoint"],
        diverged=diverged,
        val_rows=metrics.get("rows"),
        train_loss=_num(metrics.get("train_loss")),
        **model.extra,
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
