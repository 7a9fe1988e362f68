"""``TrainConfig``: every knob of one training run, frozen, validated, JSON round-tripping.

One config drives both supernet training and from-scratch subnet training, so that the two cannot drift
apart (the reference copies the optimizer / scheduler setup into three scripts with disagreeing defaults).
The config is stored in every checkpoint's metadata; resuming checks that the fields that shape the
trajectory (everything but the placement fields in ``PLACEMENT_FIELDS``) did not change.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from nasrec.errors import ConfigError

OPTIMIZERS = ("adagrad", "adam", "sgd")
SAMPLERS = ("single-op-any-connection", "single-path", "any-path", "full-path")
#: Accepted spellings of sampler names (the job spec says "default", as the reference's flag does).
SAMPLER_ALIASES = {"default": "single-op-any-connection"}
EMBEDDING_BACKENDS = ("fbgemm", "torch")

#: Fields that say where and how fast a run executes, not what it computes: they may change on resume.
PLACEMENT_FIELDS = frozenset(
    {
        "num_workers",
        "cpus_per_worker",
        "use_gpu",
        "use_ray",
        "checkpoint_every",
        "keep_checkpoints",
        "log_every",
        "max_failures",
    }
)


@dataclass(frozen=True)
class TrainConfig:
    """How to train one model.

    ``sparse_lr`` (embeddings) defaults to ``lr`` (dense layers); each has its own optimizer (dense:
    ``optimizer``; embeddings: row-wise Adagrad with ``sparse_eps``).
    Length: ``steps`` if given, else ``epochs`` passes over the train split (default 1 epoch); one step
    is one global batch of ``batch_size`` rows, shared equally by ``num_workers`` data-parallel workers.
    ``warmup_steps`` / ``path_warmup_steps`` default to 10% / 20% of the run (the reference's W = T/10 and
    roughly its K = 15000 of 71626 steps).
    Supernet steps train one ``sampler`` path, or with ``sandwich_paths`` n > 0 the sandwich rule: the
    largest path, the smallest and n sampled ones on the same batch, the others learning the largest
    path's predictions when ``distill`` (in-place distillation).
    Validation: at the end, and every ``validate_every`` steps when given (on ``eval_rows`` val rows; the
    points are kept as the run's ``history``). With ``patience`` too, the run stops early after that many
    validations without a lower log loss, and its model and metrics are those of the best validation.
    ``bf16``: training steps run their matrix products in bfloat16 (``torch.autocast``; the activations
    after them stay bfloat16, while weights, gradients and optimizer states are float32): about 2x the
    float32 matmul rate on CPUs with AVX512-BF16 or AMX, a 4-6% faster Small-supernet step on a 2-core
    EPYC (the casts and the other ops remain). Off by default: it moves logits by about 1% of their
    spread (``tests/train/test_supernet.py``); validation always runs in float32.
    """

    steps: int | None = None
    epochs: float | None = None
    batch_size: int = 512
    lr: float = 0.12
    sparse_lr: float | None = None
    sparse_eps: float = 1e-8
    optimizer: str = "adagrad"
    min_lr: float = 1e-8
    warmup_steps: int | None = None
    path_warmup_steps: int | None = None
    sampler: str = "single-op-any-connection"
    sandwich_paths: int = 0
    distill: bool = True
    grad_clip: float | None = 5.0
    weight_decay: float = 0.0
    shuffle: bool = True
    checkpoint_every: int | None = 1000
    keep_checkpoints: int = 2
    log_every: int = 50
    eval_rows: int | None = 100_000
    eval_batch_size: int = 4096
    eval_paths: int = 4
    validate_every: int | None = None
    patience: int | None = None
    seed: int = 0
    num_workers: int = 1
    cpus_per_worker: float = 1.0
    use_gpu: bool = False
    use_ray: bool | None = None
    max_failures: int = 0
    embedding_backend: str = "fbgemm"
    bf16: bool = False

    def __post_init__(self) -> None:
        def positive(name: str, allow_none: bool = False) -> None:
            value = getattr(self, name)
            if value is None and allow_none:
                return
            if value is None or not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")

        if self.steps is not None and self.epochs is not None:
            raise ConfigError("give steps or epochs, not both")
        for name in ("steps", "epochs", "checkpoint_every", "eval_rows", "grad_clip", "validate_every"):
            positive(name, allow_none=True)
        if self.sampler in SAMPLER_ALIASES:
            object.__setattr__(self, "sampler", SAMPLER_ALIASES[self.sampler])
        positive("sparse_lr", allow_none=True)
        positive("sparse_eps")
        for name in (
            "batch_size",
            "lr",
            "log_every",
            "eval_batch_size",
            "num_workers",
            "cpus_per_worker",
            "keep_checkpoints",
        ):
            positive(name)
        for name in ("warmup_steps", "path_warmup_steps"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ConfigError(f"{name} must be >= 0, got {value}")
        if self.min_lr < 0 or self.min_lr >= self.lr:
            raise ConfigError(f"min_lr must be in [0, lr={self.lr}), got {self.min_lr}")
        if min(self.weight_decay, self.max_failures, self.sandwich_paths) < 0 or self.eval_paths < 1:
            raise ConfigError("weight_decay, max_failures, sandwich_paths must be >= 0, eval_paths >= 1")
        if self.patience is not None and (self.patience < 1 or self.validate_every is None):
            raise ConfigError(
                f"patience must be >= 1 and needs validate_every, got patience={self.patience!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}; choose one of {list(OPTIMIZERS)}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r}; choose one of {list(SAMPLERS)}")
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise ConfigError(
                f"unknown embedding_backend {self.embedding_backend!r}; "
                f"choose one of {list(EMBEDDING_BACKENDS)}"
            )
        if self.batch_size % self.num_workers:
            raise ConfigError(
                f"batch_size {self.batch_size} must be divisible by num_workers {self.num_workers}: "
                "every worker takes an equal share of each global batch"
            )

    # -- derived lengths ---------------------------------------------------------------------------
    def total_steps(self, train_rows: int) -> int:
        """Steps of the run for a train split of ``train_rows`` rows (incomplete batches are dropped)."""
        if self.steps is not None:
            return self.steps
        per_epoch = train_rows // self.batch_size
        if per_epoch < 1:
            raise ConfigError(
                f"the train split has {train_rows} rows, fewer than one batch of {self.batch_size}; "
                "lower batch_size"
            )
        return max(1, math.floor(per_epoch * (self.epochs if self.epochs is not None else 1.0)))

    @property
    def resolved_sparse_lr(self) -> float:
        """The embeddings' peak lr: ``sparse_lr``, or ``lr`` when not given."""
        return self.sparse_lr if self.sparse_lr is not None else self.lr

    def resolved_warmup(self, total: int) -> int:
        return self.warmup_steps if self.warmup_steps is not None else total // 10

    def resolved_path_warmup(self, total: int) -> int:
        return self.path_warmup_steps if self.path_warmup_steps is not None else total // 5

    # -- serialisation -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown train config keys {unknown}; expected some of {sorted(names)}")
        return cls(**data)

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def trajectory_dict(self) -> dict[str, Any]:
        """The fields that determine the numbers a run computes (compared on resume)."""
        return {k: v for k, v in self.to_dict().items() if k not in PLACEMENT_FIELDS}
