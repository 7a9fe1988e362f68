"""The public training functions: ``train_supernet``, ``train_subnet``, ``evaluate``, ``load_supernet``.

A run is described by a *job* (a JSON-able dict: kind, dataset, space or architecture, config, run dir),
from which ``build_task`` rebuilds the model and data views, so the in-process path and every Ray Train
worker construct exactly the same run. ``num_workers == 1`` trains in the caller's process (no Ray
overhead) unless ``config.use_ray`` is True; more workers always go through Ray Train.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.errors import ConfigError, DataError
from nasrec.space.architecture import Architecture
from nasrec.space.model_config import ModelConfig
from nasrec.space.space import SearchSpace
from nasrec.train.checkpoint import Checkpoint
from nasrec.train.config import TrainConfig
from nasrec.train.guard import check_split_allowed, forbid_test_split
from nasrec.train.loop import ProgressFn, StopFn, TrainResult, TrainTask, train_loop
from nasrec.train.metrics import log_loss_from_logits, roc_auc

#: Seed offset of the fixed architectures on which a supernet is validated (independent of training).
_EVAL_PATHS_SEED = 7919


# -- evaluation ------------------------------------------------------------------------------------


def evaluate(
    model: Any, split_view: Any, *, batch_size: int = 4096, max_rows: int | None = None, arch: Any = None
) -> dict[str, Any]:
    """Log loss and AUC of ``model`` on the first ``max_rows`` rows of ``split_view``, in order.

    ``arch`` is required for a SuperNet (the subnet to evaluate inside it) and omitted for a SubNet.
    Inside training or search (``forbid_test_split``) a test-split view is refused.
    """
    import torch

    check_split_allowed(split_view)
    rows = len(split_view) if max_rows is None else min(int(max_rows), len(split_view))
    if rows < 1:
        raise DataError("nothing to evaluate: the split (or max_rows) is empty")
    device = _device_of(model)
    was_training = model.training
    model.eval()
    logits, labels = [], []
    try:
        with torch.no_grad():
            for start in range(0, rows, batch_size):
                batch = split_view.batch(start, min(start + batch_size, rows)).to(device)
                out = model(batch) if arch is None else model(batch, arch)
                logits.append(out.float().cpu().numpy())
                labels.append(batch.labels.cpu().numpy())
    finally:
        model.train(was_training)
    z, y = np.concatenate(logits), np.concatenate(labels)
    return {"logloss": log_loss_from_logits(z, y), "auc": roc_auc(z, y), "rows": rows}


def _device_of(model: Any) -> Any:
    import torch

    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# -- jobs: what to train, rebuilt identically everywhere --------------------------------------------


def _open_dataset(dataset: Any) -> Any:
    from nasrec.data import Dataset

    return Dataset.open(dataset) if isinstance(dataset, str | PathLike) else dataset


def _dataset_ref(dataset: Any) -> str:
    """How a worker finds the dataset again: its directory."""
    path = getattr(dataset, "path", None)
    if path is None:
        raise ConfigError("the dataset has no path on disk; Ray workers need one to open it")
    return str(Path(path).resolve())


def _views(dataset: Any) -> tuple[Any, Any]:
    train, val = dataset.split("train"), dataset.split("val")
    check_split_allowed(train, training=True)
    check_split_allowed(val, training=True)
    return train, val


def build_task(job: dict[str, Any], dataset: Any = None) -> tuple[TrainTask, Any, Any]:
    """The model, its training step, validation and checkpoint metadata for ``job``, and its views."""
    import torch

    config = TrainConfig.from_dict(job["config"])
    dataset = _open_dataset(dataset if dataset is not None else job["dataset"])
    train_view, val_view = _views(dataset)
    metadata: dict[str, Any] = {
        "kind": job["kind"],
        "schema": dataset.schema.to_dict(),
        "embedding_backend": config.embedding_backend,
    }
    torch.manual_seed(config.seed)  # identical initial weights on every worker and on every rerun
    if job["kind"] == "supernet":
        space = SearchSpace.from_dict(job["space"])
        metadata["space"] = space.to_dict()
        metadata["model"] = space.model.to_dict()
        model = _build_supernet(dataset.schema, space, config)
        sampler = _path_sampler(space, config, total=config.total_steps(len(train_view)))

        def forward(m: Any, batch: Any, step: int, rng: np.random.Generator) -> Any:
            return m(batch, sampler.sample(rng, step))

        eval_archs = _eval_architectures(space, config)

        def validate(m: Any, view: Any) -> dict[str, Any]:
            results = [
                evaluate(m, view, batch_size=config.eval_batch_size, max_rows=config.eval_rows, arch=a)
                for a in eval_archs
            ]
            return {
                "logloss": float(np.mean([r["logloss"] for r in results])),
                "auc": float(np.nanmean([r["auc"] for r in results])),
                "rows": results[0]["rows"],
                "paths": len(results),
                "path_loglosses": [float(r["logloss"]) for r in results],
            }

        loss = _sandwich_loss(sampler, config) if config.sandwich_paths else None
        task = TrainTask(model, forward, validate, metadata, loss=loss)
    elif job["kind"] == "subnet":
        arch = Architecture.from_dict(job["arch"])
        model_config = ModelConfig.from_dict(job["model"])
        metadata["arch"] = arch.to_dict()
        metadata["model"] = model_config.to_dict()
        model = _build_subnet(arch, dataset.schema, model_config, config)

        def forward_subnet(m: Any, batch: Any, step: int, rng: np.random.Generator) -> Any:
            return m(batch)

        def validate_subnet(m: Any, view: Any) -> dict[str, Any]:
            return evaluate(m, view, batch_size=config.eval_batch_size, max_rows=config.eval_rows)

        task = TrainTask(model, forward_subnet, validate_subnet, metadata)
    else:
        raise ConfigError(f"unknown training job kind {job['kind']!r}")
    return task, train_view, val_view


def _build_supernet(schema: Any, space: SearchSpace, config: TrainConfig) -> Any:
    from nasrec.nets import SuperNet

    return SuperNet(
        schema,
        space,
        embedding_backend=config.embedding_backend,
        embedding_lr=config.resolved_sparse_lr,
        embedding_eps=config.sparse_eps,
        device="cuda" if config.use_gpu else "cpu",
    )


def _build_subnet(arch: Architecture, schema: Any, model: ModelConfig, config: TrainConfig) -> Any:
    from nasrec.nets.subnet import SubNet

    return SubNet(
        arch,
        schema,
        model,
        embedding_backend=config.embedding_backend,
        embedding_lr=config.resolved_sparse_lr,
        embedding_eps=config.sparse_eps,
        device="cuda" if config.use_gpu else "cpu",
    )


def _path_sampler(space: SearchSpace, config: TrainConfig, total: int) -> Any:
    """The configured ``PathSampler`` with the step-driven full-path warm-up."""
    from nasrec.nets.paths import PathSampler

    return PathSampler(space, config.sampler, warmup_steps=config.resolved_path_warmup(total))


def _sandwich_loss(sampler: Any, config: TrainConfig) -> Any:
    """The sandwich rule's step loss (BigNAS): the largest path learns the labels; the smallest and
    ``sandwich_paths`` sampled ones learn the largest path's predictions (in-place distillation) or,
    without ``distill``, the labels too. Summed, so each path gets its own full gradient."""
    import torch.nn.functional as F

    def loss(m: Any, batch: Any, step: int, rng: np.random.Generator) -> Any:
        paths = sampler.sandwich(rng, step, config.sandwich_paths)
        largest, *others = m.forward_paths(batch.dense, batch.sparse, paths)
        total = F.binary_cross_entropy_with_logits(largest, batch.labels)
        target = largest.detach().sigmoid() if config.distill else batch.labels
        for logits in others:
            total = total + F.binary_cross_entropy_with_logits(logits, target)
        return total

    return loss


def _eval_architectures(space: SearchSpace, config: TrainConfig) -> list[Architecture]:
    """Fixed subnets on which the supernet's validation metrics are averaged."""
    from nasrec.space import sample_architecture

    rng = np.random.default_rng(config.seed + _EVAL_PATHS_SEED)
    return [sample_architecture(space, rng) for _ in range(config.eval_paths)]


# -- public entry points ----------------------------------------------------------------------------


def _run(
    job: dict[str, Any],
    dataset: Any,
    config: TrainConfig,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
) -> TrainResult:
    with forbid_test_split():
        if config.num_workers > 1 or config.use_ray:
            if job["run_dir"] is None:
                raise ConfigError("training on Ray workers needs a run_dir for its checkpoints")
            from nasrec.train.ray_train import run_on_ray

            if not job["resume"]:  # start over here, once: a restarted worker group must resume, not restart
                import shutil

                from nasrec.train.checkpoint import checkpoints_dir

                shutil.rmtree(checkpoints_dir(job["run_dir"]), ignore_errors=True)
                job = {**job, "resume": True}

            return run_on_ray(job, config=config, progress=progress, should_stop=should_stop)
        task, train_view, val_view = build_task(job, dataset)
        return train_loop(
            task,
            train_view=train_view,
            val_view=val_view,
            config=config,
            run_dir=job["run_dir"],
            resume=job["resume"],
            progress=progress,
            should_stop=should_stop,
        )


def train_supernet(
    *,
    dataset: Any,
    space: SearchSpace | str,
    config: TrainConfig,
    run_dir: str | Path,
    resume: bool = True,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> TrainResult:
    """Train the weight-sharing supernet (pipeline step 2); checkpoints go to ``run_dir/checkpoints``.

    ``dataset`` is a ``Dataset`` or a name / path; ``space`` a ``SearchSpace`` or a space name. With
    ``resume`` a run dir holding checkpoints of the same run continues from the latest one (a finished run
    returns at once). The result's ``metrics`` are validation log loss / AUC averaged over
    ``config.eval_paths`` fixed subnets inside the supernet.
    """
    from nasrec.space import load_space

    ds = _open_dataset(dataset)
    sp = load_space(space) if isinstance(space, str) else space
    job = {
        "kind": "supernet",
        "dataset": _dataset_ref(ds) if (config.num_workers > 1 or config.use_ray) else None,
        "space": sp.to_dict(),
        "config": config.to_dict(),
        "run_dir": None if run_dir is None else str(run_dir),
        "resume": resume,
    }
    return _run(job, ds, config, progress, should_stop)


def train_subnet(
    arch: Architecture,
    *,
    dataset: Any,
    model: ModelConfig,
    config: TrainConfig,
    run_dir: str | Path | None = None,
    resume: bool = True,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> TrainResult:
    """Train one architecture from scratch as a standalone SubNet built with ``model`` (the space's
    ``ModelConfig``) and validate it on the val split. Without ``run_dir`` nothing is written (the
    module is ``result.model``).
    """
    ds = _open_dataset(dataset)
    job = {
        "kind": "subnet",
        "dataset": _dataset_ref(ds) if (config.num_workers > 1 or config.use_ray) else None,
        "arch": arch.to_dict(),
        "model": model.to_dict(),
        "config": config.to_dict(),
        "run_dir": None if run_dir is None else str(run_dir),
        "resume": resume,
    }
    return _run(job, ds, config, progress, should_stop)


def load_supernet(checkpoint_dir: str | Path) -> Any:
    """The SuperNet saved in a checkpoint directory (or the latest checkpoint of a run dir), in eval mode."""
    return _load(checkpoint_dir, "supernet")


def load_subnet(checkpoint_dir: str | Path) -> Any:
    """The SubNet saved in a checkpoint directory (or the latest checkpoint of a run dir), in eval mode."""
    return _load(checkpoint_dir, "subnet")


def _load(checkpoint_dir: str | Path, kind: str) -> Any:
    from nasrec.data.schema import DatasetSchema

    ckpt = Checkpoint.at(checkpoint_dir)
    meta = ckpt.metadata
    if meta.get("kind") != kind:
        raise ConfigError(f"{ckpt.path} holds a {meta.get('kind')!r} checkpoint, not a {kind}")
    config = TrainConfig.from_dict(meta["config"])
    schema = DatasetSchema.from_dict(meta["schema"])
    if kind == "supernet":
        model = _build_supernet(schema, SearchSpace.from_dict(meta["space"]), config)
    else:
        arch = Architecture.from_dict(meta["arch"])
        model = _build_subnet(arch, schema, ModelConfig.from_dict(meta["model"]), config)
    model.load_state_dict(ckpt.load_model_state())
    model.eval()
    return model
