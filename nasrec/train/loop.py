"""The one training loop, shared by supernet and subnet training and the candidates' head fine-tune.

``train_loop`` runs in the caller's process (tests, evaluation actors, single-worker runs) or inside a Ray
Train worker (``nasrec.train.ray_train``), where it is handed a ``Comm`` for data parallelism. What differs
between runs is in a ``TrainTask``: how a training step calls the model (the supernet draws a path per
step), which parameters learn, how validation is computed, and the metadata stored in checkpoints.

The loop is assembled from parts that can be used on their own (the benchmark times ``train_step``):

    Optimizers   (optimizers.py)  dense optimizer + embedding update + LR schedules + clipping
    train_step                    one optimisation step on one batch
    RunState     (run_state.py)   step, data position, RNG and validations; checkpoint and resume
    Validations  (validation.py)  validation points every ``validate_every`` steps, best point, patience
    _LossLog                      the mean train loss per window, reported through ``progress``
    _Validator                    validation points: best weights kept (run dir or memory), early stop
    _finish                       the last validation, the best weights, the final checkpoint, the result
"""

from __future__ import annotations

import copy
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.data.schema import Batch
from nasrec.errors import ConfigError
from nasrec.train.checkpoint import Checkpoint
from nasrec.train.config import TrainConfig
from nasrec.train.distributed import Comm, ReplicatedEmbeddings
from nasrec.train.guard import check_split_allowed
from nasrec.train.optimizers import Optimizers
from nasrec.train.run_state import (
    RunState,
    best_dir,
    drop_best_after,
    latest_path,
    load_best,
    open_run,
    restore,
    save_best,
    save_run,
)

#: ``progress(step, total, metrics)``: called every ``log_every`` steps, at each validation point
#: (``metrics`` then holds ``validation``, the point, and ``history``, every point so far) and at the end.
ProgressFn = Callable[[int, int, dict[str, Any]], None]
#: ``should_stop()``: polled between steps; True saves a checkpoint and returns.
StopFn = Callable[[], bool]


@dataclass
class TrainTask:
    """What differs between training runs.

    forward:   ``(model, batch, step, rng) -> logits (B)`` for one training step; ``rng`` is the run's
               checkpointed numpy Generator (the supernet draws its path from it).
    validate:  ``(model, val_view) -> metrics`` (at least ``logloss``) run at the end and every
               ``config.validate_every`` steps (on rank 0); None: no validation.
    metadata:  JSON-able facts stored in every checkpoint (kind, schema, space or architecture, dataset),
               enough for ``load_supernet`` / ``load_subnet`` to rebuild the model.
    trainable: None trains every dense parameter that requires grad, and the embeddings. A list trains
               those parameters only: the embeddings get no optimizer and keep their lr. ``forward`` must
               then keep gradients away from the rest (fbgemm updates its tables inside ``backward``).
    loss:      ``(model, batch, step, rng) -> scalar loss`` when a step is more than the BCE of one
               ``forward`` (the supernet's sandwich rule); None: BCE-with-logits of ``forward``.
    """

    model: Any
    forward: Callable[[Any, Batch, int, np.random.Generator], Any]
    validate: Callable[[Any, Any], dict[str, Any]] | None
    metadata: dict[str, Any]
    trainable: list[Any] | None = None
    loss: Callable[[Any, Batch, int, np.random.Generator], Any] | None = None

    def optimizers(self, config: TrainConfig, total: int) -> Optimizers:
        """The optimizers of a ``total``-step run of this task."""
        if self.trainable is None:
            return Optimizers.for_model(self.model, config, total)
        return Optimizers(self.trainable, config, total)


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a run: where its last checkpoint is and what it measured.

    ``metrics`` holds the validation ``logloss`` / ``auc`` / ``rows`` (when the run completed), the last
    ``train_loss``, ``diverged`` and ``steps`` (trained); with ``validate_every`` also ``history`` (every
    validation point); with ``patience`` the metrics (and the model) are the best point's, ``best_step``
    says which and ``stopped_early`` whether patience ran out before ``total_steps``. ``stopped`` is True
    when ``should_stop`` ended the run early (resume by calling again with the same run dir). ``model``
    is the trained module when trained in this process; None when it ran on Ray workers or had already
    finished (load it from ``checkpoint``).
    """

    checkpoint: Path | None
    metrics: dict[str, Any]
    step: int
    total_steps: int
    stopped: bool = False
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        """The run is over: all its steps trained, or early stopping ended it."""
        return (self.step >= self.total_steps or bool(self.metrics.get("stopped_early"))) and not self.stopped


def train_step(
    task: TrainTask,
    optimizers: Optimizers,
    batch: Batch,
    step: int,
    rng: np.random.Generator,
    *,
    comm: Comm | None = None,
    sync: ReplicatedEmbeddings | None = None,
    bf16: bool = False,
) -> float:
    """One optimisation step on one global ``batch`` (on the parameters' device); its mean loss.

    Zero the gradients, hand a fused embedding update this step's lr, ``task.forward``, BCE-with-logits,
    backward, then clip, update and advance the schedules. Data parallel (``comm`` and ``sync`` together):
    this worker computes its share of the batch, and the gradients are combined before the update.
    ``bf16``: the forward (and so its backward) under bfloat16 autocast (``TrainConfig.bf16``).
    """
    import torch
    import torch.nn.functional as F

    optimizers.zero_grad()
    optimizers.before_backward(step)
    local = batch
    if sync is not None:
        sync.begin(batch.sparse)
        local = comm.local_batch(batch)  # type: ignore[union-attr]
    with torch.autocast(optimizers.device.type, dtype=torch.bfloat16, enabled=bf16):
        if task.loss is not None:
            loss = task.loss(task.model, local, step, rng)
        else:
            logits = task.forward(task.model, local, step, rng)
            loss = F.binary_cross_entropy_with_logits(logits.float(), local.labels)
    loss.backward()
    if sync is not None:
        sync.backward()
        comm.all_reduce_mean_([p.grad for p in optimizers.dense_params if p.grad is not None])  # type: ignore[union-attr]
    optimizers.step()
    return float(loss.detach())


def train_loop(
    task: TrainTask,
    *,
    train_view: Any,
    val_view: Any | None,
    config: TrainConfig,
    run_dir: str | Path | None,
    resume: bool = True,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    comm: Comm | None = None,
) -> TrainResult:
    """Train ``task.model`` on ``train_view`` for ``config.total_steps`` global batches.

    With ``comm`` (inside a data-parallel worker group) every worker calls this with the same arguments;
    rank 0 writes checkpoints, validates and calls ``progress``; ``should_stop`` is honoured when any rank
    says stop. Without ``run_dir`` nothing is written and ``should_stop`` simply ends the run.
    ``resume=False`` starts over, discarding the run dir's checkpoints.
    """
    model = task.model
    rank0 = comm is None or comm.rank == 0
    check_split_allowed(train_view, training=True)
    if val_view is not None:
        check_split_allowed(val_view, training=True)
    batches_per_epoch = len(train_view) // config.batch_size
    if batches_per_epoch < 1:
        raise ConfigError(
            f"the train split has {len(train_view)} rows, fewer than one batch of {config.batch_size}"
        )
    total = config.total_steps(len(train_view))
    optimizers = task.optimizers(config, total)
    state = RunState.start(config.seed, config.patience)
    start = open_run(run_dir, resume=resume, task=task, config=config, comm=comm)
    if start is not None:
        if start.metadata.get("final"):
            meta = start.metadata
            return TrainResult(start.path, dict(meta.get("metrics", {})), meta["step"], total, model=None)
        restore(start, model=model, optimizers=optimizers, state=state)
        if run_dir is not None and rank0:
            drop_best_after(run_dir, state.validations.best_step)
    if comm is not None:
        comm.check_replicas_equal(model)
    sync = ReplicatedEmbeddings(model.embeddings, comm) if comm is not None else None
    save = partial(save_run, run_dir, task=task, optimizers=optimizers, state=state, config=config,
                   total=total, comm=comm)  # fmt: skip
    validator = _Validator(task, val_view, config, state, run_dir, rank0, comm, progress, total)

    model.train()
    log = _LossLog(progress if rank0 else None, comm)
    diverged = stopped = False
    last_saved = state.step if start is not None else -1
    try:
        for batch in _batches(train_view, config, state) if state.step < total else ():
            value = train_step(task, optimizers, batch.to(optimizers.device), state.step, state.rng,
                               comm=comm, sync=sync, bf16=config.bf16)  # fmt: skip
            state.step += 1
            state.batch_in_epoch += 1
            log.add(value)
            state.validations.add_train_loss(value)
            diverged, wants_stop = _diverged_or_stop(value, state.step, total, should_stop, rank0, comm)
            if diverged:  # keep the last good checkpoint; report what happened
                break
            if state.step % config.log_every == 0 or state.step == total:
                log.report(state.step, total, optimizers, state.epoch)
            if validator.due(state.step):
                if validator.run():  # patience ran out: finish as the best point
                    break
                if config.patience is not None and state.step < total:  # the best-so-far survives a crash
                    save(final=False, metrics={})
                    last_saved = state.step
            periodic = config.checkpoint_every and state.step % config.checkpoint_every == 0
            if periodic and state.step < total and last_saved != state.step:
                save(final=False, metrics={})
                last_saved = state.step
            if state.step >= total:
                break
            if wants_stop:
                stopped = True
                break
    finally:
        if sync is not None:
            sync.close()
    state.end_epoch_if_done(batches_per_epoch)

    if stopped:
        path = save(final=False, metrics={}) if last_saved != state.step else latest_path(run_dir)
        metrics = {"train_loss": log.train_loss}
        return TrainResult(path, metrics, state.step, total, stopped=True, model=model)
    return _finish(
        task, validator, log.train_loss, diverged, state.step, total, config, save, progress, rank0
    )


def _batches(view: Any, config: TrainConfig, state: RunState) -> Iterator[Batch]:
    """Train batches from the run's data position on, epoch after epoch, without end."""
    from nasrec.data import BatchLoader

    while True:
        yield from BatchLoader(
            view,
            config.batch_size,
            shuffle=config.shuffle,
            seed=config.seed,
            drop_last=True,
            epoch=state.epoch,
            start_batch=state.batch_in_epoch,
        )
        state.epoch, state.batch_in_epoch = state.epoch + 1, 0


def _diverged_or_stop(
    loss: float, step: int, total: int, should_stop: StopFn | None, rank0: bool, comm: Comm | None
) -> tuple[bool, bool]:
    """(diverged, stop requested), decided together by every rank, so that none runs on alone."""
    wants_stop = bool(should_stop()) if (should_stop is not None and rank0 and step < total) else False
    diverged = not math.isfinite(loss)
    if comm is not None:
        diverged, wants_stop = comm.any_of(diverged, wants_stop)
    return diverged, wants_stop


class _LossLog:
    """The mean train loss of each logging window, reported through ``progress`` with lr and speed."""

    def __init__(self, progress: ProgressFn | None, comm: Comm | None) -> None:
        self.progress, self.comm = progress, comm
        self.sum, self.count = 0.0, 0
        self.last = float("nan")  # mean train loss of the last window
        self.window_start = time.perf_counter()

    def add(self, loss: float) -> None:
        self.sum, self.count = self.sum + loss, self.count + 1

    def report(self, step: int, total: int, optimizers: Optimizers, epoch: int) -> None:
        """Close the window (every rank takes part in the mean); rank 0 calls ``progress``."""
        mean = self.sum / self.count if self.comm is None else self.comm.mean(self.sum / self.count)
        elapsed = time.perf_counter() - self.window_start
        if self.progress is not None:
            self.progress(
                step,
                total,
                {
                    "train_loss": mean,
                    "lr": optimizers.lr,
                    "sparse_lr": optimizers.sparse_lr_at(step),
                    "epoch": epoch,
                    "steps_per_sec": self.count / max(elapsed, 1e-9),
                },
            )
        self.last = mean
        self.sum, self.count, self.window_start = 0.0, 0, time.perf_counter()

    @property
    def train_loss(self) -> float:
        """The open window's mean loss, or the last window's when it is empty."""
        return self.sum / self.count if self.count else self.last


class _Validator:
    """The run's validation points: validate (rank 0), keep the best weights, decide to stop early."""

    def __init__(
        self,
        task: TrainTask,
        val_view: Any | None,
        config: TrainConfig,
        state: RunState,
        run_dir: str | Path | None,
        rank0: bool,
        comm: Comm | None,
        progress: ProgressFn | None,
        total: int,
    ) -> None:
        self.task, self.val_view, self.config, self.state = task, val_view, config, state
        self.run_dir, self.rank0, self.comm, self.progress, self.total = run_dir, rank0, comm, progress, total
        self.can_validate = task.validate is not None and val_view is not None
        self.memory: dict[str, Any] | None = None  # the best weights, when there is no run dir

    @property
    def points(self) -> Any:
        return self.state.validations

    def due(self, step: int) -> bool:
        every = self.config.validate_every
        return bool(every) and self.can_validate and step % every == 0 and step < self.total

    def run(self) -> bool:
        """Validate at this step; True (on every rank) when patience has run out."""
        if self.rank0:
            self.validate()
        stop = self.points.exhausted
        if self.comm is not None:
            (stop,) = self.comm.any_of(stop)
        return stop

    def validate(self) -> dict[str, Any]:
        """One validation point at the current step (rank 0): recorded, best weights kept, reported."""
        metrics = self.task.validate(self.task.model, self.val_view)  # type: ignore[misc]
        self.task.model.train()
        if self.points.observe(self.state.step, metrics) and self.config.patience is not None:
            self._keep_best()
        if self.progress is not None and self.config.validate_every:
            history = self.points.history
            self.progress(self.state.step, self.total, {"validation": history[-1], "history": list(history)})
        return metrics

    def _keep_best(self) -> None:
        if self.run_dir is not None:
            save_best(self.run_dir, task=self.task, state=self.state, config=self.config)
        else:
            self.memory = copy.deepcopy(self.task.model.state_dict())

    def restore_best(self) -> None:
        """Put the best point's weights back into the model."""
        step = self.points.best_step
        if step is None or step == self.state.step:
            return
        weights = self.memory if self.memory is not None else load_best(self.run_dir, step)  # type: ignore[arg-type]
        self.task.model.load_state_dict(weights)

    def discard(self) -> None:
        """The final checkpoint holds the best weights now: the best dir is not needed any more."""
        if self.run_dir is not None and self.rank0:
            shutil.rmtree(best_dir(self.run_dir), ignore_errors=True)
        self.memory = None


def _finish(
    task: TrainTask,
    validator: _Validator,
    train_loss: float,
    diverged: bool,
    step: int,
    total: int,
    config: TrainConfig,
    save: Callable[..., Path | None],
    progress: ProgressFn | None,
    rank0: bool,
) -> TrainResult:
    """Validate (unless diverged), end as the best point (with ``patience``), write the final checkpoint
    and report the result."""
    metrics: dict[str, Any] = {"train_loss": train_loss, "diverged": diverged, "steps": step}
    points = validator.points
    if diverged:  # a terminal outcome (resuming would diverge again): no validation of NaN weights
        metrics.update(logloss=float("nan"), auc=float("nan"), rows=0)
    elif validator.can_validate and rank0:
        last = validator.validate() if points.last_step != step else None
        if config.patience is not None and points.best is not None:
            validator.restore_best()
            best = dict(points.best)
            metrics.update({k: v for k, v in best.items() if k != "step"})
            metrics.update(best_step=int(best["step"]), stopped_early=step < total)
        elif last is not None:
            metrics.update(last)
    if config.validate_every and points.history:
        metrics["history"] = list(points.history)
    task.model.train()
    path = save(final=True, metrics=metrics)
    validator.discard()
    if progress is not None and rank0:
        progress(step, total, metrics)
    return TrainResult(path, metrics, step, total, model=task.model)


__all__ = [
    "Checkpoint",
    "ProgressFn",
    "StopFn",
    "TrainResult",
    "TrainTask",
    "train_loop",
    "train_step",
]
