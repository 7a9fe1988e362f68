"""One claimed job, phase by phase: prepare, supernet, search, finalise.

Every phase is idempotent given what is stored, so a worker that takes a job over just runs the
phases again: the supernet resumes from its last step checkpoint (``runs_dir()/job-<id>/supernet``),
the search from the study's trials (completed candidates are kept, interrupted ones finished; none is
evaluated twice), finalisation from its per-model records. Progress, events and candidates are
written through short store sessions; none is held across a training step or an evaluation round.

Stops are cooperative: ``lease.should_stop()`` is polled between supernet steps (a checkpoint is
saved), between search rounds, and while models retrain (their progress is polled about once a
second; the progress callbacks raise ``JobStopped``, and the models in flight are given up with
their actors: finished ones are kept).

This is the only phase sequence: a service worker (``nasrec.jobs.worker``) and ``nasrec search`` /
``nasrec demo`` (``nasrec.jobs.local``, under a local lease) both run it; ``listener`` lets the
command line draw progress bars from the same reports that are written to the store.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasrec.errors import NotFoundError
from nasrec.home import run_dir_of  # the job-<id> rule lives with the other file locations
from nasrec.jobs.lease import Lease, StopReason
from nasrec.jobs.mirror import SUPERNET_ARTIFACT, final_summary, sync_final, sync_pareto, sync_trials
from nasrec.search.health import Finding, ranking_findings, supernet_findings
from nasrec.spec import JobSpec
from nasrec.store import Dataset, Job, Store, crud

if TYPE_CHECKING:
    from nasrec.search import Search
    from nasrec.search.search import PhaseProgress

__all__ = ["PHASES", "JobStopped", "run_dir_of", "run_job", "study_name"]

log = logging.getLogger(__name__)

#: Each phase's share of the job's progress (0..1).
PHASES: dict[str, tuple[float, float]] = {
    "prepare": (0.0, 0.02),
    "supernet": (0.02, 0.45),
    "search": (0.45, 0.85),
    "finalize": (0.85, 1.0),
}
#: Progress is written at most this often (seconds) within a phase, and always at a phase's end.
PROGRESS_INTERVAL = 1.0
MARKER = "job.json"


class JobStopped(Exception):  # noqa: N818 - a signal, not an error
    """The job's work stopped early (cancel, shutdown or lost lease); ``reason`` says which."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(str(reason))
        self.reason = reason


def study_name(job: Job) -> str:
    """The job's Optuna study: unique to this job row (its id and creation time)."""
    return f"nasrec-job-{job.id}-{job.created_at:%Y%m%dT%H%M%S%f}"


@dataclass
class _Runner:
    store: Store
    job: Job
    worker: str
    lease: Lease
    listener: PhaseProgress | None = None
    search: Search | None = None
    seen_trials: set[int] = field(default_factory=set)
    _last_write: float = 0.0
    _warned: set[str] = field(default_factory=set)  # finding kinds already reported in this attempt

    # ---- helpers ---------------------------------------------------------------------------------

    def event(self, message: str, *, level: str = "info", data: dict[str, Any] | None = None) -> None:
        with self.store.session(write=True) as session:
            crud.record_event(session=session, job_id=self.job.id, message=message, level=level, data=data)

    def progress(self, phase: str, done: int, total: int, *, fraction: float | None = None) -> None:
        """Write the phase's progress (throttled), mapped onto the whole job's 0..1."""
        now = time.monotonic()
        if done < total and now - self._last_write < PROGRESS_INTERVAL:
            return
        self._last_write = now
        lo, hi = PHASES[phase]
        part = fraction if fraction is not None else (done / total if total > 0 else 0.0)
        with self.store.session(write=True) as session:
            crud.set_progress(
                session=session,
                job_id=self.job.id,
                worker=self.worker,
                phase=phase,
                step=done,
                total=total,
                progress=min(max(lo + (hi - lo) * part, 0.0), 1.0),
            )

    def tell(self, phase: str, done: int, total: int, info: dict[str, Any]) -> None:
        """Pass a phase report on to the listener (the command line's progress bars), if any."""
        if self.listener is not None:
            self.listener(phase, done, total, info)

    def warn(self, finding: Finding) -> None:
        """A health finding (``nasrec.search.health``): a warning event and a CLI line, once per kind."""
        if finding.kind in self._warned:
            return
        self._warned.add(finding.kind)
        self.event(finding.message, level="warning", data={"kind": finding.kind, **finding.data})
        self.tell("warning", 0, 0, {"message": finding.message, "kind": finding.kind})

    def say_budgets(self, search: Search) -> dict[str, Any]:
        """The resolved training lengths, said once per attempt (an event and a CLI line)."""
        budgets = search.budget_settings()
        sup, fine, re_ = (budgets[k] for k in ("supernet", "finetune", "retrain"))
        every = budgets["retrain_validate_every"]
        stopping = (
            f", early stopping every {every:,} steps with patience {budgets['retrain_patience']}"
            if every
            else ", no early stopping"
        )
        message = (
            f"budgets: supernet {_steps(sup)}, validated every {budgets['supernet_validate_every']:,}; "
            f"{search.spec.evaluation.finetune_scope} fine-tune {_steps(fine)}; "
            f"retraining at most {_steps(re_)}{stopping}"
        )
        self.event(message, data={"kind": "budgets", **budgets})
        self.tell("budgets", 0, 0, {"message": message})
        return budgets

    def check_stop(self) -> None:
        reason = self.lease.reason
        if reason is not None:
            raise JobStopped(reason)

    def model_event(self, milestones: dict[str, int], step: int, total: int, info: dict[str, Any]) -> None:
        """Events of one retrained model: started, each quarter of its steps (with its ETA), done."""
        name = info["model"]
        if info.get("done"):  # how long it trained, and where early stopping found it best
            self.event(
                f"retrained {name} in {info['seconds']:.0f} s: {_retrained(info, step, total)}",
                data={"kind": "retrained", **_scalars(info), "steps": step, "total": total},
            )
            return
        quarter = 4 * step // max(total, 1)
        if name not in milestones:
            milestones[name] = quarter
            self.event(f"retrain {name}: started, {total} steps", data={"kind": "retrain", "model": name})
        elif quarter > milestones[name] and step < total:
            milestones[name] = quarter
            eta = info.get("eta_s")
            self.event(
                f"retrain {name}: step {step}/{total}" + (f", eta {eta:.0f} s" if eta is not None else ""),
                data={"kind": "retrain", "model": name, "step": step, "total": total, "eta_s": eta},
            )

    # ---- phases ----------------------------------------------------------------------------------

    def prepare(self) -> Search:
        from nasrec.search import create_search

        self._last_write = 0.0
        self.progress("prepare", 0, 1)
        spec = JobSpec.parse(self.job.spec)
        with self.store.session() as session:
            dataset = session.get(Dataset, self.job.dataset_id) if self.job.dataset_id is not None else None
            path = dataset.path if dataset is not None else None
        if path is None:
            raise NotFoundError(f"job {self.job.id}'s dataset was deleted; the job cannot run")
        name = study_name(self.job)
        run_spec = JobSpec.parse({**spec.to_dict(), "name": name, "dataset": path})
        run_dir = run_dir_of(self.job.id)
        _claim_run_dir(run_dir, name)
        search = create_search(run_spec, storage=self.store.url, run_dir=run_dir, load_if_exists=True)
        _ = (search.dataset, search.space, search.hardware_profile)  # a bad one fails the job here
        self.search = search
        self.progress("prepare", 1, 1)
        return search

    def say_what_is_kept(self, search: Search) -> None:
        """A resumed job says what it kept from earlier attempts (an event, and a line on the CLI)."""
        kept = kept_work(search)
        if kept:
            self.event(f"resumed: kept {kept}", data={"kind": "resumed"})
            self.tell("resumed", 0, 0, {"kept": kept})

    def train_supernet(self, search: Search, *, start_ray: Callable[[], None]) -> None:
        from nasrec.train.checkpoint import latest_checkpoint

        self._last_write = 0.0
        if search.spec.resources.workers > 1:  # data-parallel on Ray Train: the worker's Ray, not a new one
            start_ray()
        total = search.supernet_config().steps
        levels = search.reference_levels(search.supernet_val_rows())
        latest = latest_checkpoint(search.run_dir / "supernet")
        if latest is not None and not latest.metadata.get("final"):
            self.event(
                f"supernet: resuming from the checkpoint of step {latest.step}", data={"step": latest.step}
            )

        def report(phase: str, done: int, total: int, info: dict[str, Any]) -> None:
            self.tell(phase, done, total, info)
            self.progress("supernet", done, total)
            if "validation" in info:  # a validation point: is the supernet still learning?
                for finding in supernet_findings(info["history"], total=total, **_levels(levels)):
                    self.warn(finding)

        self.progress("supernet", latest.step if latest is not None else 0, total)
        path = search.train_supernet(progress=report, should_stop=self.lease.should_stop)
        if path is None:
            raise JobStopped(self.lease.reason or StopReason.SHUTDOWN)
        metrics = search.study.user_attrs.get("nasrec_supernet_metrics", {})
        with self.store.session(write=True) as session:
            crud.add_artifact(
                session=session, job_id=self.job.id, kind=SUPERNET_ARTIFACT, path=str(path), meta=metrics
            )
        self.progress("supernet", total, total)
        for finding in supernet_findings(metrics.get("history", []), total=total, **_levels(levels)):
            self.warn(finding)  # a resumed job that trained its supernet earlier checks it too
        history = metrics.get("history") or [{}]
        self.event(
            f"supernet trained ({total} steps): val_logloss {metrics.get('logloss', float('nan')):.4f}, "
            f"train_loss {history[-1].get('train_loss', float('nan')):.4f}; "
            f"a constant predictor's {levels['constant']:.4f}",
            data={"kind": "supernet_trained", **metrics, "constant_logloss": levels["constant"]},
        )

    def check_ranking(self, search: Search) -> None:
        """After the search: are the top one-shot scores better than chance, and apart from each other?"""
        k = max(2, search.spec.finalize.top_k)
        metric = "val_logloss"
        scores = [e.metric(metric) for e in search.top_candidates(k)]
        scores = [float(v) for v in scores if v is not None]
        levels = search.reference_levels(search.spec.evaluation.val_rows)
        for finding in ranking_findings(scores, rows=int(levels["rows"]), **_levels(levels)):
            self.warn(finding)

    def run_search(self, search: Search, *, start_ray: Callable[[], None]) -> None:
        self._last_write = 0.0
        budget = search.spec.search.candidates
        if sync_trials(self.store, self.job.id, search, seen=self.seen_trials):
            sync_pareto(self.store, self.job.id, search)

        def report(phase: str, done: int, total: int, counts: dict[str, Any]) -> None:
            self.tell(phase, done, total, counts)
            if sync_trials(self.store, self.job.id, search, seen=self.seen_trials):
                sync_pareto(self.store, self.job.id, search)
            self.progress("search", done, total)
            self.check_stop()  # between rounds: nothing is half-told

        start_ray()
        counts = search.run_search(progress=report)
        sync_trials(self.store, self.job.id, search, seen=self.seen_trials)
        sync_pareto(self.store, self.job.id, search)
        self.progress("search", budget, budget)
        self.event(
            f"search done: {counts['evaluated']} candidates evaluated, {counts['duplicate']} duplicates, "
            f"{counts['infeasible']} infeasible, {counts['failed']} failed",
            data={"kind": "search_done", **counts},
        )
        self.check_ranking(search)

    def finalize(self, search: Search, *, start_ray: Callable[[], None]) -> list[Any]:
        self._last_write = 0.0
        milestones: dict[str, int] = {}  # model -> quarters of its steps already announced

        def report(phase: str, done: int, total: int, info: dict[str, Any]) -> None:
            self.tell(phase, done, total, info)
            if phase == "finalize":  # the pool: models finished, and the share of all their steps
                self.progress("finalize", done, total, fraction=info.get("fraction"))
            else:  # "retrain": one model's steps
                self.model_event(milestones, done, total, info)
            self.check_stop()

        start_ray()  # the models retrain on Ray actors
        entries = search.finalize(progress=report)
        ids = sync_final(self.store, self.job.id, search)
        summary = final_summary(entries, ids)
        winner = next((row for row in summary if row.get("winner")), None)
        if winner is not None:
            self.event(
                f"finalised: winner {winner['name']} (candidate {winner['candidate_id']}), "
                f"test_logloss {winner.get('test_logloss') or float('nan'):.4f}",
                data={"kind": "winner", "candidate": winner["candidate_id"], "name": winner["name"]},
            )
        else:
            self.event("finalised: no feasible candidate to choose", level="warning")
        search.set_phase("done")
        return summary


def _claim_run_dir(run_dir: Path, study: str) -> None:
    """Mark ``run_dir`` as this job's. A directory left by another job with the same id (from an
    older database) is moved aside to ``job-<id>.stale-<time>``: never reused, never deleted."""
    marker = run_dir / MARKER
    try:
        owner = json.loads(marker.read_text()).get("study") if marker.is_file() else None
    except (OSError, ValueError):
        owner = None
    if owner == study:
        return
    if run_dir.exists() and any(run_dir.iterdir()):
        aside = run_dir.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%dT%H%M%S')}")
        log.warning("run directory %s belongs to another job (%s); moving it to %s", run_dir, owner, aside)
        shutil.move(str(run_dir), str(aside))
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"study": study}))
    tmp.replace(marker)


def run_job(
    store: Store,
    job: Job,
    *,
    worker: str,
    lease: Lease,
    start_ray: Callable[[], None],
    listener: PhaseProgress | None = None,
) -> dict[str, Any]:
    """Run (or resume) every phase of a claimed ``job``; returns its ``result``.

    ``start_ray()`` starts the worker's Ray runtime (once; before the first evaluation);
    ``listener(phase, done, total, info)`` sees every progress report. Raises ``JobStopped`` when the
    lease says stop, and whatever a phase raised when it failed.
    """
    runner = _Runner(store, job, worker, lease, listener)
    seconds: dict[str, float] = {}  # this attempt's wall time per phase
    started = time.monotonic()
    search = runner.prepare()
    try:
        runner.say_what_is_kept(search)
        budgets = runner.say_budgets(search)
        for phase in ("supernet", "search"):
            runner.check_stop()
            begun = time.monotonic()
            step = runner.train_supernet if phase == "supernet" else runner.run_search
            step(search, start_ray=start_ray)
            seconds[phase] = time.monotonic() - begun
        runner.check_stop()
        begun = time.monotonic()
        final = runner.finalize(search, start_ray=start_ray)
        seconds["finalize"] = time.monotonic() - begun
        seconds["total"] = time.monotonic() - started
        return {
            "study": search.name,
            "counts": search.counts(),
            "supernet": search.study.user_attrs.get("nasrec_supernet_metrics", {}),
            "final": final,
            "winner": next((row for row in final if row.get("winner")), None),
            "budgets": budgets,
            "seconds": {name: round(value, 1) for name, value in seconds.items()},
        }
    finally:
        _close_study(search)


def kept_work(search: Search) -> str:
    """What an earlier attempt of the job left to build on, in words ("" when nothing)."""
    from nasrec.search.records import final_records
    from nasrec.train.checkpoint import latest_checkpoint

    parts = []
    steps = search.supernet_config().steps
    latest = latest_checkpoint(search.run_dir / "supernet")
    if latest is not None:
        trained = latest.metadata.get("final") or latest.step >= steps
        parts.append("the trained supernet" if trained else f"the supernet at step {latest.step} of {steps}")
    evaluated = search.counts()["evaluated"]
    if evaluated:
        parts.append(f"{evaluated} of {search.spec.search.candidates} candidates evaluated")
    retrained = len(final_records(search.study))
    if retrained:
        parts.append(f"{retrained} retrained model{'s' if retrained > 1 else ''}")
    return ", ".join(parts)


def _steps(budget: dict[str, Any]) -> str:
    return f"{budget['steps']:,} steps ({budget['epochs']:.2f} epochs, {budget['source']})"


def _levels(levels: dict[str, float]) -> dict[str, float]:
    return {"constant": levels["constant"], "se": levels["se"]}


def _scalars(info: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if isinstance(v, str | int | float | bool)}


def _retrained(info: dict[str, Any], steps: int, total: int) -> str:
    """``600 of 1,562 steps (stopped early), val_logloss 0.3921 at step 450``."""
    if info.get("diverged"):
        return f"diverged at step {steps:,} of {total:,}"
    early = " (stopped early)" if info.get("stopped_early") else ""
    best = f" at step {info['best_step']:,}" if "best_step" in info else ""
    logloss = info.get("logloss", float("nan"))
    return f"{steps:,} of {total:,} steps{early}, val_logloss {logloss:.4f}{best}"


def _close_study(search: Search) -> None:
    """Dispose of the study's connection pool (one per job; a long-lived worker runs many)."""
    storage = getattr(search.study, "_storage", None)
    backend = getattr(storage, "_backend", storage)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()
