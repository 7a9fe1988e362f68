"""``Optimizers``: everything that turns a backward pass into a parameter update, as one unit.

A step updates two kinds of parameters: dense ones (linears, LayerNorm, head) with ``config.optimizer``,
clipped at ``config.grad_clip``; and the embedding tables with row-wise Adagrad: either a torch sparse
optimizer or fbgemm's fused update, which happens inside ``backward`` and so needs its lr before it.
Both follow the same warm-up + cosine schedule from their own peak lr.
"""

from __future__ import annotations

from typing import Any

from nasrec.errors import ConfigError
from nasrec.train.config import TrainConfig
from nasrec.train.schedule import WarmupCosine

__all__ = ["Optimizers", "clip_and_step", "make_dense_optimizer"]


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

    On CPU the norm and the step run on one intra-op thread: they are one memory-bound kernel per
    parameter (a supernet step updates a few hundred), and waking the other threads for each costs more
    than it gains (A/B alternating steps in one process, 2 threads, load 3-4: median 6.5 -> 4.3 ms per
    Small-supernet step, 11.7 -> 7.9 ms per Full one). The updates are elementwise, so unchanged; the
    norm may differ in its last bits (another summation order), as with any change of thread count.
    """
    import torch

    threads = torch.get_num_threads()
    one_thread = threads > 1 and bool(params) and params[0].device.type == "cpu"
    if one_thread:
        torch.set_num_threads(1)
    try:
        if max_norm is not None:
            with_grad = [p for p in params if p.grad is not None]
            total = torch.nn.utils.get_total_norm([p.grad for p in with_grad])
            if not bool(max_norm / (total + 1e-6) >= 1.0):  # NaN norms are scaled too, as torch does
                if optimizer.defaults.get("fused"):
                    optimizer.grad_scale = (total + 1e-6) / max_norm
                else:
                    torch.nn.utils.clip_grads_with_norm_(with_grad, max_norm, total)
        optimizer.step()
    finally:
        optimizer.__dict__.pop("grad_scale", None)
        if one_thread:
            torch.set_num_threads(threads)


class Optimizers:
    """Dense optimizer, embedding optimizer (torch sparse, or fbgemm's fused one), schedules and clipping.

    ``dense_params`` are the parameters ``config.optimizer`` updates. ``embeddings`` (the model's
    ``Embeddings``) are trained with their own optimizer at ``config.resolved_sparse_lr``; None leaves
    them alone (no optimizer, and their lr is not changed). Per step: ``zero_grad``, ``before_backward``,
    backward, ``step``. ``total`` is the run's length in steps, which the schedules span.
    """

    def __init__(
        self, dense_params: list[Any], config: TrainConfig, total: int, *, embeddings: Any = None
    ) -> None:
        from torch.optim.lr_scheduler import LambdaLR

        self.dense_params = list(dense_params)
        self.grad_clip = config.grad_clip
        self.dense = make_dense_optimizer(self.dense_params, config)
        warmup = config.resolved_warmup(total)
        self.dense_schedule = LambdaLR(self.dense, WarmupCosine(total, warmup, config.min_lr / config.lr))
        self.sparse_lr = config.resolved_sparse_lr
        self.sparse_shape = WarmupCosine(total, warmup, min(config.min_lr / self.sparse_lr, 1.0))
        self._embeddings = embeddings
        self.sparse: Any = None
        self.sparse_schedule: Any = None
        self._set_fused_lr: Any = None
        if embeddings is not None:
            embeddings.set_learning_rate(self.sparse_lr)  # the peak; schedules scale it from here
            self.sparse = embeddings.optimizer()
            if self.sparse is not None:
                self.sparse_schedule = LambdaLR(self.sparse, self.sparse_shape)
            else:  # fbgemm's fused optimizer has no torch optimizer to schedule: its lr is set each step
                self._set_fused_lr = embeddings.set_learning_rate

    @classmethod
    def for_model(cls, model: Any, config: TrainConfig, total: int) -> Optimizers:
        """Every dense parameter of ``model`` that requires grad, and its embeddings."""
        dense = [p for p in model.dense_parameters() if p.requires_grad]
        return cls(dense, config, total, embeddings=model.embeddings)

    @property
    def device(self) -> Any:
        """Where the trained parameters are (batches are moved there)."""
        return self.dense_params[0].device

    def zero_grad(self) -> None:
        self.dense.zero_grad(set_to_none=True)
        if self.sparse is not None:
            self.sparse.zero_grad(set_to_none=True)

    def before_backward(self, step: int) -> None:
        """Fused updates happen during ``backward``: give them this step's lr first."""
        if self._set_fused_lr is not None:
            self._set_fused_lr(self.sparse_lr * self.sparse_shape(step))

    def step(self) -> None:
        """Clip and update the dense parameters, update the embeddings, advance both schedules."""
        clip_and_step(self.dense, self.dense_params, self.grad_clip)
        if self.sparse is not None:
            self.sparse.step()
        self.dense_schedule.step()
        if self.sparse_schedule is not None:
            self.sparse_schedule.step()
            # keep the module's own record of its lr (reported, and saved in its state) in step
            self._embeddings.set_learning_rate(float(self.sparse.param_groups[0]["lr"]))

    @property
    def lr(self) -> float:
        """The dense optimizer's lr for the next step."""
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
            self.sparse_schedule.load_state_dict(state["sparse_scheduler"])
