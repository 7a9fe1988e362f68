"""Where a run is (``RunState``), how it is saved in a checkpoint and how a run resumes from one.

Everything that decides the next step's numbers is checkpointed, so a resumed run continues the same
trajectory: model (with embedding optimizer state), dense / sparse optimizers, LR schedulers, the torch RNG,
the path sampler's numpy Generator, the data position (epoch, batch within the epoch) and the validation
history with its best point (``Validations``). The best point's weights, when a run stops early, are in
``<run_dir>/best`` (``save_best``): a checkpoint of the same layout, the newest two kept.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.errors import ConflictError, DataError
from nasrec.train.checkpoint import (
    Checkpoint,
    checkpoints_dir,
    latest_checkpoint,
    list_checkpoints,
    save_checkpoint,
)
from nasrec.train.config import TrainConfig
from nasrec.train.distributed import Comm
from nasrec.train.optimizers import Optimizers
from nasrec.train.validation import Validations

__all__ = [
    "RunState",
    "best_dir",
    "drop_best_after",
    "latest_path",
    "load_best",
    "open_run",
    "restore",
    "save_best",
    "save_run",
]


@dataclass
class RunState:
    """Steps done, the data position (the next batch is batch ``batch_in_epoch`` of ``epoch``), the
    run's numpy Generator (the supernet draws its paths from it) and its validation points."""

    step: int
    epoch: int
    batch_in_epoch: int
    rng: np.random.Generator
    validations: Validations = field(default_factory=Validations)

    @classmethod
    def start(cls, seed: int, patience: int | None = None) -> RunState:
        return cls(0, 0, 0, np.random.default_rng(seed), Validations(patience))

    def end_epoch_if_done(self, batches_per_epoch: int) -> None:
        """After the last batch of an epoch the position is the start of the next one."""
        if self.batch_in_epoch >= batches_per_epoch:
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0


def open_run(
    run_dir: str | Path | None, *, resume: bool, task: Any, config: TrainConfig, comm: Comm | None
) -> Checkpoint | None:
    """The checkpoint to resume from, if any; ``resume=False`` first discards the run dir's checkpoints.

    Refuses (ConflictError) a checkpoint written by a different run.
    """
    if run_dir is not None and not resume and (comm is None or comm.rank == 0):
        shutil.rmtree(checkpoints_dir(run_dir), ignore_errors=True)  # start over
    if comm is not None:
        comm.barrier()
    start = latest_checkpoint(run_dir) if (run_dir is not None and resume) else None
    if start is not None:
        _check_same_run(start.metadata, task, config)
    return start


def restore(start: Checkpoint, *, model: Any, optimizers: Optimizers, state: RunState) -> None:
    """Put the model, optimizers, RNGs and data position back where ``start`` was saved."""
    import torch

    model.load_state_dict(start.load_model_state())
    train_state = start.load_train_state()
    optimizers.load_state_dict(train_state)
    torch.set_rng_state(train_state["torch_rng"])
    state.rng.bit_generator.state = train_state["path_rng"]
    meta = start.metadata
    state.step, state.epoch, state.batch_in_epoch = meta["step"], meta["epoch"], meta["batch_in_epoch"]
    state.validations = Validations.from_dict(meta.get("validations"), state.validations.patience)


def save_run(
    run_dir: str | Path | None,
    *,
    task: Any,
    optimizers: Optimizers,
    state: RunState,
    config: TrainConfig,
    total: int,
    final: bool,
    metrics: dict[str, Any],
    comm: Comm | None,
) -> Path | None:
    """Checkpoint the run at ``state.step`` (rank 0 writes; every rank waits); None without a run dir."""
    import torch

    if run_dir is None:
        return None
    saved = None
    if comm is None or comm.rank == 0:
        train_state = {
            **optimizers.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "path_rng": state.rng.bit_generator.state,
        }
        metadata = {
            **task.metadata,
            "total_steps": total,
            "epoch": state.epoch,
            "batch_in_epoch": state.batch_in_epoch,
            "config": config.to_dict(),
            "final": final,
            "metrics": metrics,
            "validations": state.validations.to_dict(),
        }
        saved = save_checkpoint(
            run_dir,
            step=state.step,
            model_state=task.model.state_dict(),
            train_state=train_state,
            metadata=metadata,
            keep=config.keep_checkpoints,
        ).path
    if comm is not None:
        comm.barrier()
    return saved


def best_dir(run_dir: str | Path) -> Path:
    """Where a run with early stopping keeps the weights of its best validation point."""
    return Path(run_dir) / "best"


def save_best(run_dir: str | Path, *, task: Any, state: RunState, config: TrainConfig) -> None:
    """Checkpoint the model as the run's best point (rank 0 only; the newest two are kept).

    Two, because the latest regular checkpoint may predate the newest best point (a crash between the
    two saves); it then names the previous best, which is still here. ``drop_best_after`` removes the
    newer one on resume (the resumed run recomputes it).
    """
    save_checkpoint(
        best_dir(run_dir),
        step=state.step,
        model_state=task.model.state_dict(),
        train_state={},
        metadata={
            **task.metadata,
            "config": config.to_dict(),
            "final": False,
            "metrics": state.validations.best,
        },
        keep=2,
    )


def load_best(run_dir: str | Path, step: int) -> dict[str, Any]:
    """The model state saved by ``save_best`` at ``step``."""
    for ckpt in list_checkpoints(best_dir(run_dir)):
        if ckpt.step == step:
            return ckpt.load_model_state()
    raise DataError(f"the best checkpoint of step {step} is missing from {best_dir(run_dir)}")


def drop_best_after(run_dir: str | Path, step: int | None) -> None:
    """Forget best points newer than the resumed state's best (``step``; None: all of them)."""
    for ckpt in list_checkpoints(best_dir(run_dir)):
        if step is None or ckpt.step > step:
            shutil.rmtree(ckpt.path, ignore_errors=True)


def latest_path(run_dir: str | Path | None) -> Path | None:
    found = latest_checkpoint(run_dir) if run_dir is not None else None
    return found.path if found is not None else None


def _check_same_run(meta: dict[str, Any], task: Any, config: TrainConfig) -> None:
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
