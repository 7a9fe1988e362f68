"""The training loop shared by supernet and subnet training: a plain function, no Ray required.

``train_loop`` runs in the caller's process (tests, evaluation actors, single-worker runs) or inside a Ray
Train worker (``nasrec.train.ray_trainer``), where it is handed a ``Comm`` for data parallelism. What
differs between a supernet and a subnet is in a ``TrainTask``: how a training step calls the model (the
supernet draws a path per step), how validation is computed, and the metadata stored in checkpoints.

Everything that decides the next step's numbers is checkpointed, so a resumed run continues the same
trajectory: model (with embedding optimizer state), dense / sparse optimizers, LR schedulers, the torch RNG,
the path sampler's numpy Generator, and the data position (epoch, batch within the epoch).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.data.schema import Batch
from nasrec.errors import ConfigError, ConflictError
from nasrec.train.checkpoint import Checkpoint, checkpoints_dir, latest_checkpoint, save_checkpoint
from nasrec.train.config import TrainConfig
from nasrec.train.distributed import Comm, ReplicatedEmbeddings
from nasrec.train.guard import check_split_allowed
from nasrec.train.schedule import WarmupCosine

#: ``progress(step, total, metrics)``: called every ``log_every`` steps and at the end.
ProgressFn = Callable[[int, int, dict[str, Any]], None]
#: ``should_stop()``: polled between steps; True saves a checkpoint and returns.
StopFn = Callable[[], bool]


@dataclass
class TrainTask:
    """What differs between supernet and subnet training.

    forward:  ``(model, batch, step, rng) -> logits (B)`` for one training step; ``rng`` is the run's
              checkpointed numpy Generator (the supernet draws its path from it).
    validate: ``(model, val_view) -> metrics`` run once at the end (on rank 0).
    metadata: JSON-able facts stored in every checkpoint (kind, schema, space or architecture, dataset),
              enough for ``load_supernet`` / ``load_subnet`` to rebuild the model.
    """

    model: Any
    forward: Callable[[Any, Batch, int, np.random.Generator], Any]
    validate: Callable[[Any, Any], dict[str, Any]] | None
    metadata: dict[str, Any]


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a run: where its last checkpoint is and what it measured.

    ``metrics`` holds the validation ``logloss`` / ``auc`` / ``rows`` (when the run completed), the last
    ``train_loss`` and ``diverged``. ``stopped`` is True when ``should_stop`` ended the run early (resume by
    calling again with the same run dir). ``model`` is the trained module when trained in this process;
    None when it ran on Ray workers or had already finished (load it from ``checkpoint``).
    """

    checkpoint: Path | None
    metrics: dict[str, Any]
    step: int
    total_steps: int
    stopped: bool = False
    model: Any = field(default=None, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        return self.step >= self.total_steps and not self.stopped


def make_dense_optimizer(params: list[Any], config: TrainConfig) -> Any:
    """The dense optimizer; weight decay (an L2 term, as the reference) only on matrices, not biases / LN."""
    import torch

    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    groups = [
        g
        for g in (
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": rest, "weight_decay": 0.0},
        )
        if g["params"]
    ]
    if not groups:
        raise ConfigError("the model has no dense parameters to train")
    # fused: one kernel updates every parameter (the for-loop version runs several ops per parameter,
    # and a supernet step updates a few hundred); CPU and CUDA have fused kernels
    fused = all(p.device.type in ("cpu", "cuda") for p in params)
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(groups, lr=config.lr, eps=1e-2, fused=fused)
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr, eps=1e-8, fused=fused)
    return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True, fused=fused)


def clip_and_step(optimizer: Any, params: list[Any], max_norm: float | None) -> None:
    """``torch.nn.utils.clip_grad_norm_`` over the parameters that have a gradient, then ``optimizer.step()``.

    torch's clip scales every gradient by ``min(1, max_norm / (norm + 1e-6))`` in a pass of its own, even
    when that is 1. Here nothing is scaled when nothing is clipped, and a fused optimizer divides by the
    reciprocal inside its kernel, which reads every gradient anyway (``grad_scale``: how torch's
    GradScaler hands it a scale). The gradients are left clipped either way.
    """
    import torch

    if max_norm is not None:
        with_grad = [p for p in params if p.grad is not None]
        total = torch.nn.utils.get_total_norm([p.grad for p in with_grad])
        if not bool(max_norm / (total + 1e-6) >= 1.0):  # NaN norms are scaled too, as torch does
            if optimizer.defaults.get("fused"):
                optimizer.grad_scale = (total + 1e-6) / max_norm
            else:
                torch.nn.utils.clip_grads_with_norm_(with_grad, max_norm, total)
    try:
        optimizer.step()
    finally:
        optimizer.__dict__.pop("grad_scale", None)


class _Optimizers:
    """Dense optimizer, sparse optimizer (or fbgemm's fused one), and their schedules, as one unit."""

    def __init__(self, model: Any, config: TrainConfig, total: int) -> None:
        from torch.optim.lr_scheduler import LambdaLR

        self.dense_params = [p for p in model.dense_parameters() if p.requires_grad]
        self.dense = make_dense_optimizer(self.dense_params, config)
        warmup = config.resolved_warmup(total)
        self.dense_schedule = LambdaLR(self.dense, WarmupCosine(total, warmup, config.min_lr / config.lr))
        self.sparse_lr = config.resolved_sparse_lr
        model.embeddings.set_learning_rate(self.sparse_lr)  # the peak; schedules scale it from here
        self.sparse_shape = WarmupCosine(total, warmup, min(config.min_lr / self.sparse_lr, 1.0))
        embeddings = self._embeddings = model.embeddings
        self.sparse = embeddings.optimizer()
        self.sparse_schedule = LambdaLR(self.sparse, self.sparse_shape) if self.sparse is not None else None
        # fbgemm's fused optimizer has no torch optimizer to schedule: set its lr by hand each step
        self._set_fused_lr = (
            None if self.sparse is not None else getattr(embeddings, "set_learning_rate", None)
        )

    def zero_grad(self) -> None:
        self.dense.zero_grad(set_to_none=True)
        if self.sparse is not None:
            self.sparse.zero_grad(set_to_none=True)

    def before_step(self, step: int) -> None:
        """Fused updates happen during ``backward``: give them this step's lr first."""
        if self._set_fused_lr is not None:
            self._set_fused_lr(self.sparse_lr * self.sparse_shape(step))

    def step(self, grad_clip: float | None) -> None:
        clip_and_step(self.dense, self.dense_params, grad_clip)
        if self.sparse is not None:
            self.sparse.step()
        self.dense_schedule.step()
        if self.sparse_schedule is not None:
            self.sparse_schedule.step()
            # keep the module's own record of its lr (reported, and saved in its state) in step
            self._embeddings.set_learning_rate(float(self.sparse.param_groups[0]["lr"]))  # type: ignore[union-attr]

    @property
    def lr(self) -> float:
        return float(self.dense.param_groups[0]["lr"])

    def sparse_lr_at(self, step: int) -> float:
        return self.sparse_lr * self.sparse_shape(step)

    def state_dict(self) -> dict[str, Any]:
        return {
            "dense_optimizer": self.dense.state_dict(),
            "dense_scheduler": self.dense_schedule.state_dict(),
            "sparse_optimizer": None if self.sparse is None else self.sparse.state_dict(),
            "sparse_scheduler": None if self.sparse_schedule is None else self.sparse_schedule.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dense.load_state_dict(state["dense_optimizer"])
        self.dense_schedule.load_state_dict(state["dense_scheduler"])
        if self.sparse is not None:
            self.sparse.load_state_dict(state["sparse_optimizer"])
            self.sparse_schedule.load_state_dict(state["sparse_scheduler"])  # type: ignore[union-attr]


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
    import torch
    import torch.nn.functional as F

    from nasrec.data import BatchLoader

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
    opt = _Optimizers(model, config, total)
    device = opt.dense_params[0].device
    rng = np.random.default_rng(config.seed)
    step, epoch, batch_in_epoch = 0, 0, 0

    if run_dir is not None and not resume and rank0:
        shutil.rmtree(checkpoints_dir(run_dir), ignore_errors=True)  # start over
    if comm is not None:
        comm.barrier()
    start = latest_checkpoint(run_dir) if (run_dir is not None and resume) else None
    if start is not None:
        meta = start.metadata
        _check_same_run(meta, task, config)
        if meta.get("final"):
            return TrainResult(start.path, dict(meta.get("metrics", {})), meta["step"], total, model=None)
        model.load_state_dict(start.load_model_state())
        state = start.load_train_state()
        opt.load_state_dict(state)
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["path_rng"]
        step, epoch, batch_in_epoch = meta["step"], meta["epoch"], meta["batch_in_epoch"]
    if comm is not None:
        comm.check_replicas_equal(model)
    sync = ReplicatedEmbeddings(model.embeddings, comm) if comm is not None else None

    def checkpoint(final: bool, metrics: dict[str, Any]) -> Path | None:
        if run_dir is None:
            return None
        saved = None
        if rank0:
            train_state = {
                **opt.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "path_rng": rng.bit_generator.state,
            }
            metadata = {
                **task.metadata,
                "total_steps": total,
                "epoch": epoch,
                "batch_in_epoch": batch_in_epoch,
                "config": config.to_dict(),
                "final": final,
                "metrics": metrics,
            }
            saved = save_checkpoint(
                run_dir,
                step=step,
                model_state=model.state_dict(),
                train_state=train_state,
                metadata=metadata,
                keep=config.keep_checkpoints,
            ).path
        if comm is not None:
            comm.barrier()
        return saved

    model.train()
    loss_sum, loss_count, diverged, stopped = 0.0, 0, False, False
    last_loss = float("nan")  # mean train loss of the last logging window
    last_saved = step if start is not None else -1
    window_start = time.perf_counter()
    try:
        while step < total and not (diverged or stopped):
            loader = BatchLoader(
                train_view,
                config.batch_size,
                shuffle=config.shuffle,
                seed=config.seed,
                drop_last=True,
                epoch=epoch,
                start_batch=batch_in_epoch,
            )
            for batch in loader:
                batch = batch.to(device)
                opt.zero_grad()
                opt.before_step(step)
                local = batch
                if sync is not None:
                    sync.begin(batch.sparse)
                    local = comm.local_batch(batch)  # type: ignore[union-attr]
                logits = task.forward(model, local, step, rng)
                loss = F.binary_cross_entropy_with_logits(logits, local.labels)
                loss.backward()
                if sync is not None:
                    sync.backward()
                    comm.all_reduce_mean_(  # type: ignore[union-attr]
                        [p.grad for p in opt.dense_params if p.grad is not None]
                    )
                opt.step(config.grad_clip)
                step += 1
                batch_in_epoch += 1
                value = float(loss.detach())
                loss_sum, loss_count = loss_sum + value, loss_count + 1
                # stop and divergence are decided together, by every rank, so none runs on alone
                wants_stop = (
                    bool(should_stop()) if (should_stop is not None and rank0 and step < total) else False
                )
                diverged = not math.isfinite(value)
                if comm is not None:
                    diverged, wants_stop = comm.any_of(diverged, wants_stop)
                if diverged:  # keep the last good checkpoint; report what happened
                    break
                if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
                    checkpoint(False, {})
                    last_saved = step
                if step % config.log_every == 0 or step == total:
                    mean_loss = loss_sum / loss_count if comm is None else comm.mean(loss_sum / loss_count)
                    elapsed = time.perf_counter() - window_start
                    if rank0 and progress is not None:
                        progress(
                            step,
                            total,
                            {
                                "train_loss": mean_loss,
                                "lr": opt.lr,
                                "sparse_lr": opt.sparse_lr_at(step),
                                "epoch": epoch,
                                "steps_per_sec": loss_count / max(elapsed, 1e-9),
                            },
                        )
                    last_loss = mean_loss
                    loss_sum, loss_count, window_start = 0.0, 0, time.perf_counter()
                if step >= total:
                    break
                if wants_stop:
                    stopped = True
                    break
            else:  # the epoch ran out
                epoch, batch_in_epoch = epoch + 1, 0
            if batch_in_epoch >= batches_per_epoch:
                epoch, batch_in_epoch = epoch + 1, 0
    finally:
        if sync is not None:
            sync.close()

    train_loss = loss_sum / loss_count if loss_count else last_loss
    if stopped:
        path = checkpoint(False, {}) if last_saved != step else _latest_path(run_dir)
        return TrainResult(path, {"train_loss": train_loss}, step, total, stopped=True, model=model)

    metrics: dict[str, Any] = {"train_loss": train_loss, "diverged": diverged, "steps": step}
    if diverged:  # a terminal outcome (resuming would diverge again): no validation of NaN weights
        metrics.update(logloss=float("nan"), auc=float("nan"), rows=0)
    elif task.validate is not None and val_view is not None and rank0:
        metrics.update(task.validate(model, val_view))
    model.train()
    path = checkpoint(True, metrics)
    if progress is not None and rank0 and step % config.log_every != 0:
        progress(step, total, metrics)
    return TrainResult(path, metrics, step, total, model=model)


def _latest_path(run_dir: str | Path | None) -> Path | None:
    found = latest_checkpoint(run_dir) if run_dir is not None else None
    return found.path if found is not None else None


def _check_same_run(meta: dict[str, Any], task: TrainTask, config: TrainConfig) -> None:
    """Refuse to resume a checkpoint written by a different run (other data, model or hyper-parameters)."""
    stored = TrainConfig.from_dict(meta["config"]).trajectory_dict()
    current = config.trajectory_dict()
    diff = sorted(k for k in current if stored.get(k) != current[k])
    for key, value in task.metadata.items():
        if meta.get(key) != json.loads(json.dumps(value)):  # compare as stored (tuples become lists)
            diff.append(key)
    if diff:
        raise ConflictError(
            f"the run directory holds a checkpoint of a different run (differs in {diff}); "
            "use a new run dir or pass resume=False"
        )


__all__ = [
    "Checkpoint",
    "ProgressFn",
    "StopFn",
    "TrainResult",
    "TrainTask",
    "clip_and_step",
    "make_dense_optimizer",
    "train_loop",
]
