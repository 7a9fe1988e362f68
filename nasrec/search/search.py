"""``Search``: the one object where a controller and the job's Optuna study meet.

Phases (each resumable from what the study and the run directory hold):

1. ``train_supernet``: the weight-sharing supernet, step-level checkpoints in ``<run_dir>/supernet``;
2. ``run_search``: rounds of propose -> screen -> evaluate -> tell (below);
3. ``finalize``: top-k retrained from scratch, selection on validation, one test evaluation
   (:mod:`nasrec.search.finalize`).

One search round:

* the controller proposes (fixed params are enqueued, the rest are left to the study's sampler); each
  proposal is asked as a trial and turned into an architecture define-by-run;
* screening, all before any evaluation: analytic costs (FLOPs, params) are computed and constraints on
  them checked; an infeasible architecture is told ``PRUNED`` with its costs and violations; one whose
  canonical hash was already evaluated is told ``COMPLETE`` with the stored result (``duplicate_of``);
  neither counts against ``search.candidates``;
* the rest are evaluated together on the evaluator (a pool of Ray actors), then told in trial order with
  their metrics and measured latency as user attributes (and objective values where the spec asks);
* ``controller.observe`` sees the finished trials.

Round sizes come from the spec, not from the number of actors, and every random draw is seeded from the
job seed and the number of trials so far, so the same spec and seed give the same candidates on any
hardware, and a restarted search proposes what an uninterrupted one would. Trials left ``WAITING`` or
``RUNNING`` by a crash are finished first; completed trials are never evaluated again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nasrec.errors import ConfigError, NotFoundError
from nasrec.search.controllers.base import Controller, ControllerContext, Proposal
from nasrec.search.leaderboard import Entry, rank_entries, search_entries
from nasrec.search.records import EVALUATION_KEYS, CandidateRecord, Status, metrics_of, trial_status
from nasrec.search.study import PHASE_ATTR, create_job_study, open_study, stored_spec
from nasrec.search.suggest import architecture_to_params, params_to_architecture, suggest_architecture
from nasrec.spec import Budget, JobSpec, load_spec

if TYPE_CHECKING:
    import optuna

    from nasrec.search.evaluate import Evaluator
    from nasrec.search.retrain import RetrainPool
    from nasrec.space.architecture import Architecture

__all__ = ["Search", "create_search", "load_search"]

log = logging.getLogger(__name__)

#: ``progress(phase, done, total, info)``; phases: "supernet", "search", "finalize".
PhaseProgress = Callable[[str, int, int, dict[str, Any]], None]

CHECKPOINT_ATTR = "nasrec_supernet_checkpoint"


def create_search(
    spec: JobSpec | dict[str, Any] | str | Path,
    *,
    storage: str | None = None,
    run_dir: str | Path | None = None,
    load_if_exists: bool = False,
) -> Search:
    """A new search for ``spec`` (a ``JobSpec``, a dict, or a YAML path), with its study in ``storage``.

    ``storage`` defaults to ``default_database_url()`` and ``run_dir`` to ``runs_dir()/<job name>``.
    With ``load_if_exists`` the same job (same spec fingerprint) is resumed instead of refused.
    The architectures the job brings (its baselines) are checked first: ``ConfigError`` naming them.
    """
    from nasrec.home import default_database_url
    from nasrec.search.baselines import job_baselines

    if isinstance(spec, str | Path):
        spec = load_spec(spec)
    spec = JobSpec.parse(spec)
    job_baselines(spec)
    url = storage or default_database_url()
    study = create_job_study(spec, url, load_if_exists=load_if_exists)
    return Search(spec, study, url=url, run_dir=run_dir)


def load_search(name: str, *, storage: str | None = None, run_dir: str | Path | None = None) -> Search:
    """The stored search ``name``: its spec is read from the study, so any process can load it."""
    from nasrec.home import default_database_url

    url = storage or default_database_url()
    study = open_study(name, url)
    return Search(stored_spec(study), study, url=url, run_dir=run_dir)


@dataclass(frozen=True)
class RoundReport:
    """What one round did (for progress displays and tests)."""

    proposed: int
    evaluated: int
    duplicates: int
    infeasible: int
    failed: int


class Search:
    """A job's search: phases, state in the study, the controller, and the evaluator."""

    def __init__(self, spec: JobSpec, study: optuna.Study, *, url: str, run_dir: str | Path | None = None):
        from nasrec.home import runs_dir

        self.spec = spec
        self.study = study
        self.url = url
        self.run_dir = Path(run_dir) if run_dir is not None else runs_dir() / spec.job_name
        self._space: Any = None
        self._dataset: Any = None
        self._hardware: Any = None
        self._costs: dict[str, dict[str, float]] = {}  # canonical hash -> costs
        self._controller: Controller | None = None

    # ---- identity and lazily opened inputs ---------------------------------------------------------

    @property
    def name(self) -> str:
        return self.study.study_name

    @property
    def space(self) -> Any:
        if self._space is None:
            from nasrec.space import load_space
            from nasrec.space.space import SearchSpace

            space = self.spec.space
            self._space = SearchSpace.from_dict(space) if isinstance(space, dict) else load_space(space)
        return self._space

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            from nasrec.data import Dataset

            self._dataset = Dataset.open(self.spec.dataset)
        return self._dataset

    @property
    def schema(self) -> Any:
        return self.dataset.schema

    @property
    def phase(self) -> str:
        return str(self.study.user_attrs.get(PHASE_ATTR, "created"))

    def set_phase(self, phase: str) -> None:
        self.study.set_user_attr(PHASE_ATTR, phase)

    @property
    def objectives(self) -> list[tuple[str, bool]]:
        return [(o.name, o.minimize) for o in self.spec.objectives]

    # ---- costs and constraints ---------------------------------------------------------------------

    def costs(self, arch: Architecture) -> dict[str, float]:
        """Analytic costs of ``arch`` on this dataset's schema (FLOPs, params, and its PIM costs on
        the job's hardware profile): no evaluation. Kept per canonical architecture: screening a draw
        and settling its trial cost it once."""
        key = arch.canonical_hash()
        if key not in self._costs:
            self._costs[key] = self._compute_costs(arch)
        return dict(self._costs[key])

    def _compute_costs(self, arch: Architecture) -> dict[str, float]:
        from nasrec.cost import flops, params
        from nasrec.cost.pim import pim_cost

        model = self.space.model
        pim = pim_cost(
            arch,
            self.schema,
            model,
            profile=self.hardware_profile,
            embedding_bits=self.spec.hardware.embedding_bits,
        )
        return {
            "flops": float(flops(arch, self.schema, model)),
            "params": float(params(arch, self.schema, model)),
            "pim_latency_ns": pim.latency_ns,
            "pim_energy_nj": pim.energy_nj,
            "pim_area_mm2": pim.area_mm2,
            "pim_gops_per_w": pim.gops_per_w,
        }

    @property
    def hardware_profile(self) -> Any:
        """The job's PIM ``HardwareProfile``, loaded (and validated) once."""
        if self._hardware is None:
            from nasrec.cost.pim import load_profile

            self._hardware = load_profile(self.spec.hardware.profile)
        return self._hardware

    def violations(self, metrics: dict[str, float], *, kinds: Sequence[str]) -> list[str]:
        """The spec's constraints of the given metric kinds that ``metrics`` break."""
        return [
            str(c)
            for c in self.spec.constraints
            if c.kind in kinds and c.metric in metrics and not c.satisfied(metrics[c.metric])
        ]

    def feasible(self, arch: Architecture) -> bool:
        """Analytic constraints hold (measured ones are only known after evaluation)."""
        if not any(c.kind == "analytic" for c in self.spec.constraints):
            return True
        return not self.violations(self.costs(arch), kinds=("analytic",))

    # ---- the controller ----------------------------------------------------------------------------

    @property
    def controller(self) -> Controller:
        if self._controller is None:
            from nasrec.search.controllers import make_controller

            context = ControllerContext(
                space=self.space,
                settings=self.spec.search,
                seed=self.spec.seed,
                directions=tuple(o.direction.value for o in self.spec.objectives),
                feasible=self.feasible,
                canonical_hash=lambda arch: arch.canonical_hash(),
                encode=lambda arch: architecture_to_params(arch, self.space),
            )
            self._controller = make_controller(self.spec.search.controller, context)
            self._controller.restore(self.trials())
        return self._controller

    # ---- trials ------------------------------------------------------------------------------------

    def trials(self, states: Sequence[Any] | None = None) -> list[optuna.trial.FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states)

    def counts(self) -> dict[str, int]:
        """Trials by nasrec status: evaluated (the budget), duplicate, infeasible, failed, pending."""
        out = {**{s.value: 0 for s in Status}, "pending": 0}
        for t in self.trials():
            status = trial_status(t)
            out[status.value if status else "pending"] += 1
        return out

    def leaderboard(self) -> list[Entry]:
        """The search leaderboard (one-shot scores), feasible first, Pareto ranks on the objectives."""
        return rank_entries(search_entries(self.trials()), self.objectives)

    def top_candidates(self, k: int) -> list[Entry]:
        """The ``k`` best distinct feasible architectures by the primary one-shot objective."""
        return [e for e in self.leaderboard() if e.feasible and e.metric(self.objectives[0][0]) is not None][
            :k
        ]

    # ---- phase 2: search ---------------------------------------------------------------------------

    def run_search(
        self, evaluator: Evaluator | None = None, *, progress: PhaseProgress | None = None
    ) -> dict[str, int]:
        """Propose, screen, evaluate and tell until ``search.candidates`` distinct architectures are
        evaluated (or the proposal cap / the controller runs out). Returns ``counts()``."""
        from nasrec.train import forbid_test_split

        own = evaluator is None
        evaluator = evaluator or self.make_evaluator()
        try:
            with forbid_test_split():  # selection happens here: the test split stays closed
                self.set_phase("search")
                self._finish_leftovers(evaluator)
                self._rounds(evaluator, progress)
                self.set_phase("searched")
            return self.counts()
        finally:
            if own:
                evaluator.close()

    def _rounds(self, evaluator: Evaluator, progress: PhaseProgress | None) -> None:
        budget = self.spec.search.candidates
        cap = budget * self.spec.search.max_proposals_factor
        while True:
            history = self.trials()
            counts = self.counts()
            if progress:
                progress("search", counts["evaluated"], budget, counts)
            left = budget - counts["evaluated"]
            if left <= 0:
                return
            if len(history) >= cap:
                log.warning("search %s: stopping after %d proposals (cap)", self.name, len(history))
                return
            proposals = self.controller.propose(history, left)
            if not proposals:
                log.warning("search %s: the controller has nothing more to propose", self.name)
                return
            self.study.sampler = self.controller.sampler(self._round_seed(len(history)))
            round_no = 1 + max((t.user_attrs.get("round", -1) for t in history), default=-1)
            asked = [self._ask(p, round_no) for p in proposals]
            finished = self._settle(asked, evaluator)
            self.controller.observe(finished)

    def make_evaluator(self) -> Evaluator:
        """The Ray actor pool for this job (loads the supernet once per actor)."""
        from nasrec.search.evaluate import ActorPoolEvaluator

        return ActorPoolEvaluator.for_search(self)

    def _round_seed(self, n_trials: int) -> int:
        return int(np.random.SeedSequence([self.spec.seed, 7, n_trials]).generate_state(1)[0])

    def _ask(self, proposal: Proposal, round_no: int) -> tuple[Any, Architecture]:
        attrs = {**proposal.attrs, "round": round_no}
        if proposal.params is not None:
            self.study.enqueue_trial(proposal.params, user_attrs=attrs)
            trial = self.study.ask()
        else:
            trial = self.study.ask()
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
        return trial, suggest_architecture(trial, self.space)

    def _finish_leftovers(self, evaluator: Evaluator) -> None:
        """Trials a crash left ``WAITING`` (enqueued) or ``RUNNING`` (asked): finish them, no re-proposal."""
        import optuna
        from optuna.trial import TrialState

        leftovers = self.trials(states=(TrialState.WAITING, TrialState.RUNNING))
        if not leftovers:
            return
        self.study.sampler = optuna.samplers.RandomSampler(seed=self._round_seed(len(self.trials())))
        asked = []
        for frozen in sorted(leftovers, key=lambda t: t.number):
            if frozen.state == TrialState.WAITING:
                trial = self.study.ask()  # pops the oldest waiting trial
            else:
                trial = optuna.Trial(self.study, frozen._trial_id)
            record = CandidateRecord.from_trial(trial)
            if record is not None:
                from nasrec.space.architecture import Architecture

                arch = Architecture.from_dict(record.architecture)
            else:
                arch = suggest_architecture(trial, self.space)
            asked.append((trial, arch))
        log.info("search %s: finishing %d interrupted trials", self.name, len(asked))
        self._settle(asked, evaluator)

    def _settle(self, asked: Sequence[tuple[Any, Architecture]], evaluator: Evaluator) -> list[Any]:
        """Screen, evaluate and tell one round of asked trials; returns the finished frozen trials."""
        from optuna.trial import TrialState

        known: dict[str, tuple[int, CandidateRecord]] = {}  # evaluated: hash -> (trial, record)
        for t in self.trials(states=(TrialState.COMPLETE,)):
            record = CandidateRecord.from_trial(t)
            if record is not None and record.status == Status.EVALUATED:
                known.setdefault(record.arch_hash, (t.number, record))

        to_evaluate: list[tuple[Any, Architecture, CandidateRecord]] = []
        duplicates: list[tuple[Any, CandidateRecord]] = []
        outcome: dict[int, tuple[str, Any]] = {}
        first_in_round: set[str] = set()
        for trial, arch in asked:
            costs = self.costs(arch)
            record = CandidateRecord(
                arch_hash=arch.canonical_hash(),
                architecture=arch.to_dict(),
                metrics=costs,
            )
            broken = self.violations(costs, kinds=("analytic",))
            if broken:
                record = record.evolve(status=Status.INFEASIBLE, feasible=False, violations=tuple(broken))
                self._set_constraints(trial, costs)
                outcome[trial.number] = ("pruned", None)
            elif record.arch_hash in known or record.arch_hash in first_in_round:
                duplicates.append((trial, record))
            else:
                first_in_round.add(record.arch_hash)
                to_evaluate.append((trial, arch, record))
            record.save(trial)  # before evaluating: a crash resumes this trial with this architecture

        results = evaluator.evaluate([arch for _, arch, _ in to_evaluate]) if to_evaluate else []
        for (trial, _arch, record), result in zip(to_evaluate, results, strict=True):
            if "error" in result:
                log.warning("search %s: trial %d failed: %s", self.name, trial.number, result["error"])
                record = record.evolve(
                    status=Status.FAILED, feasible=False, error=str(result["error"])[:2000]
                )
                outcome[trial.number] = ("fail", None)
            else:
                evaluation = {k: result[k] for k in EVALUATION_KEYS if k in result}
                record = self._scored(trial, record, {**record.metrics, **metrics_of(result)}, evaluation)
                record = record.evolve(status=Status.EVALUATED)
                known[record.arch_hash] = (trial.number, record)
                outcome[trial.number] = ("complete", self._values(record.metrics))
            record.save(trial)
        for trial, record in duplicates:
            number, original = known.get(record.arch_hash, (None, None))
            if original is None:
                error = "duplicate of a candidate whose evaluation failed"
                record = record.evolve(status=Status.FAILED, feasible=False, error=error)
                outcome[trial.number] = ("fail", None)
            else:
                record = self._scored(trial, record, original.metrics, original.evaluation)
                record = record.evolve(status=Status.DUPLICATE, duplicate_of=number)
                outcome[trial.number] = ("complete", self._values(record.metrics))
            record.save(trial)

        finished = []
        by_number = {trial.number: trial for trial, _ in asked}
        for number in sorted(outcome):
            kind, values = outcome[number]
            trial = by_number[number]
            if kind == "complete":
                finished.append(self.study.tell(trial, values))
            elif kind == "pruned":
                finished.append(self.study.tell(trial, state=TrialState.PRUNED))
            else:
                finished.append(self.study.tell(trial, state=TrialState.FAIL))
        return finished

    def _scored(
        self, trial: Any, record: CandidateRecord, metrics: dict[str, float], evaluation: dict[str, Any]
    ) -> CandidateRecord:
        """``record`` with its metrics, feasibility on every constraint, and Optuna's constraint values."""
        broken = self.violations(metrics, kinds=("analytic", "measured", "evaluated"))
        self._set_constraints(trial, metrics)
        return record.evolve(
            metrics=metrics, evaluation=evaluation, feasible=not broken, violations=tuple(broken)
        )

    def _set_constraints(self, trial: Any, metrics: dict[str, float]) -> None:
        """Violations for Optuna's constrained samplers (> 0 infeasible); unknown metrics count as met."""
        for i, c in enumerate(self.spec.constraints):
            value = c.violation(metrics[c.metric]) if c.metric in metrics else 0.0
            trial.set_constraint(f"{i}:{c}", value)

    def _values(self, metrics: dict[str, float]) -> list[float]:
        missing = [o.name for o in self.spec.objectives if o.name not in metrics]
        if missing:
            raise ConfigError(f"the evaluation did not produce objective(s) {missing}")
        return [float(metrics[o.name]) for o in self.spec.objectives]

    # ---- phase 1: supernet -------------------------------------------------------------------------

    def budgets(self) -> dict[str, Budget]:
        """The job's training lengths on its train split (``supernet``, ``finetune``, ``retrain``: the
        spec's steps, else its epochs, else the rules in ``nasrec.spec``), as they are run."""
        rows = len(self.dataset.split("train"))
        return {
            "supernet": self.spec.supernet.budget(rows),
            "finetune": self.spec.evaluation.finetune_budget(rows),
            "retrain": self.spec.finalize.retrain_budget(rows),
        }

    def budget_settings(self) -> dict[str, Any]:
        """The resolved budgets and the validation settings that go with them, JSON-able (events, result)."""
        budgets = self.budgets()
        supernet, retrain = budgets["supernet"].steps, budgets["retrain"].steps
        config = self.supernet_config()
        return {
            **{name: b.to_dict() for name, b in budgets.items()},
            "supernet_warmup_k": config.resolved_path_warmup(supernet),
            "supernet_validate_every": config.validate_every,
            "retrain_validate_every": self.spec.finalize.retrain_validate_every(retrain),
            "retrain_patience": self.spec.finalize.patience,
        }

    def supernet_config(self) -> Any:
        """The ``TrainConfig`` of the supernet, from the spec and the train split's size."""
        from nasrec.train import TrainConfig

        s, r = self.spec.supernet, self.spec.resources
        steps = self.budgets()["supernet"].steps
        return TrainConfig(
            steps=steps,
            batch_size=s.batch_size,
            lr=s.lr,
            sparse_lr=s.sparse_lr if s.sparse_lr is not None else s.lr,
            path_warmup_steps=None if s.warmup_k is None else min(s.warmup_k, steps),
            sampler=s.sampler,
            sandwich_paths=s.sandwich_paths,
            distill=s.distill,
            checkpoint_every=s.checkpoint_every,
            eval_rows=self.supernet_val_rows(),
            validate_every=s.resolved_validate_every(steps),
            seed=self.spec.seed,
            num_workers=r.workers,
            cpus_per_worker=r.cpus_per_worker,
            use_gpu=r.gpus_per_worker > 0,
        )

    def supernet_val_rows(self) -> int:
        """Val rows the supernet is validated on while it trains (the candidates' rows, at most 20k)."""
        return min(self.spec.evaluation.val_rows, 20_000, len(self.dataset.split("val")))

    def reference_levels(self, rows: int) -> dict[str, float]:
        """What a log loss on the first ``rows`` val rows is read against: ``constant``, the log loss
        of predicting the train positive rate, and ``se``, the standard error of a log loss there."""
        from nasrec.train.metrics import constant_logloss, logloss_standard_error

        val = self.dataset.split("val")
        rows = max(1, min(rows, len(val)))
        observed = float(np.mean(val.labels[:rows]))
        return {
            "constant": constant_logloss(self.dataset.split("train").positive_rate, observed),
            "se": logloss_standard_error(observed, rows),
            "rows": rows,
        }

    def train_supernet(
        self, *, progress: PhaseProgress | None = None, should_stop: Callable[[], bool] | None = None
    ) -> Path | None:
        """Train (or resume, or reuse) the supernet; returns its checkpoint directory.

        ``should_stop()`` is polled between steps: when it says True, a checkpoint is saved and None is
        returned (call again to resume from it).
        """
        from nasrec.train import train_supernet

        done = self.study.user_attrs.get(CHECKPOINT_ATTR)
        if done and Path(done).exists():
            return Path(done)
        self.set_phase("supernet")

        def report(step: int, total: int, metrics: dict[str, Any]) -> None:
            if progress:
                progress("supernet", step, total, metrics)

        result = train_supernet(
            dataset=self.dataset,
            space=self.space,
            config=self.supernet_config(),
            run_dir=self.run_dir / "supernet",
            resume=True,
            progress=report,
            should_stop=should_stop,
        )
        if result.stopped:
            return None
        if result.checkpoint is None or not result.completed:
            raise NotFoundError(f"supernet training of {self.name!r} did not complete (step {result.step})")
        self.study.set_user_attr(CHECKPOINT_ATTR, str(result.checkpoint))
        self.study.set_user_attr("nasrec_supernet_metrics", _jsonable(result.metrics))
        return Path(result.checkpoint)

    @contextmanager
    def torch_threads(self) -> Iterator[None]:
        """Use ``resources.cpus_per_worker`` torch threads for in-process training.

        On a shared or small machine, more OpenMP threads than free cores do not just stop helping:
        threads spin waiting for a preempted sibling, which made a supernet step ~10x slower here.
        """
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(max(1, int(self.spec.resources.cpus_per_worker)))
        try:
            yield
        finally:
            torch.set_num_threads(before)

    @property
    def supernet_checkpoint(self) -> Path:
        done = self.study.user_attrs.get(CHECKPOINT_ATTR)
        if not done:
            raise NotFoundError(f"search {self.name!r} has no trained supernet yet; run train_supernet()")
        return Path(done)

    # ---- phase 3 and the whole job -----------------------------------------------------------------

    def finalize(
        self, *, progress: PhaseProgress | None = None, retrainer: RetrainPool | None = None
    ) -> list[Entry]:
        """Retrain the top-k and the baselines (on ``retrainer``, default: the job's Ray actors),
        select on validation, test the winner once."""
        from nasrec.search.finalize import finalize

        return finalize(self, progress=progress, retrainer=retrainer)

    def final_leaderboard(self) -> list[Entry]:
        from nasrec.search.finalize import final_leaderboard

        return final_leaderboard(self)

    def architecture_of(self, trial: optuna.trial.FrozenTrial) -> Architecture:
        """A trial's architecture, from its stored JSON or (if it has none yet) its params."""
        from nasrec.space.architecture import Architecture

        record = CandidateRecord.from_trial(trial)
        if record is not None:
            return Architecture.from_dict(record.architecture)
        return params_to_architecture(trial.params, self.space)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data, default=float))
