"""One module for all embedding tables, with its own row-wise Adagrad update.

Two backends compute the same function and apply the same update rule:

* ``"fbgemm"`` (default): fbgemm's table-batched embedding bags
  (``SplitTableBatchedEmbeddingBagsCodegen``) with the **fused** ``EXACT_ROWWISE_ADAGRAD`` update: the
  backward pass updates the touched rows in place, so there is no embedding gradient and no optimizer
  object (``optimizer()`` returns ``None``). Host memory on CPU, device memory on CUDA.
* ``"torch"``: one ``nn.Embedding(sparse=True)``-style lookup over all tables concatenated (a bag of
  size one per field, with per-table row offsets), and ``RowWiseAdagrad``, a sparse optimizer with
  fbgemm's exact row-wise rule (returned by ``optimizer()``; call ``step()`` / ``zero_grad()``).

Row-wise Adagrad, per touched row r with gradient g (duplicates in the batch summed first):
``state[r] += mean(g^2)``, ``w[r] -= lr * g / (sqrt(state[r]) + eps)``.

Both keep their optimizer state in the module's ``state_dict`` (fbgemm: ``momentum1_host``/``_dev``;
torch: ``momentum``), so a checkpoint of the module resumes training exactly. Dense (non-embedding)
parameters get their own optimizer; see ``SuperNet.dense_parameters()``.

Input: sparse B x F int64 (row indices per field) -> output B x F x E.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nasrec.errors import ConfigError

BACKENDS = ("fbgemm", "torch")


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def init_table_(table: Tensor, generator: torch.Generator) -> None:
    """TorchRec's default: ``U(-sqrt(1/rows), sqrt(1/rows))`` for a rows x E table, in place."""
    bound = math.sqrt(1.0 / table.shape[0])
    values = torch.empty(table.shape, dtype=table.dtype).uniform_(-bound, bound, generator=generator)
    with torch.no_grad():
        table.copy_(values)


def embedding_seed_from_torch() -> int:
    """A seed drawn from torch's global generator (so ``torch.manual_seed`` fixes the embeddings too)."""
    return int(torch.randint(0, 2**62, (1,)).item())


class RowWiseAdagrad(torch.optim.Optimizer):
    """Row-wise Adagrad for sparse embedding gradients (fbgemm's ``EXACT_ROWWISE_ADAGRAD`` rule).

    ``params`` holds one 2-D parameter (rows x E) whose gradient is a sparse COO tensor; ``momentum``
    is its rows-long accumulator, owned by the caller (``Embeddings`` keeps it as a buffer, so it is in
    the module's ``state_dict``). Untouched rows are never read or written.
    """

    def __init__(self, weight: nn.Parameter, momentum: Tensor, *, lr: float, eps: float) -> None:
        if lr < 0:
            raise ConfigError(f"embedding learning rate must be >= 0, got {lr}")
        super().__init__([weight], {"lr": lr, "eps": eps})
        self.momentum = momentum

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for weight in group["params"]:
                if weight.grad is None:
                    continue
                grad = weight.grad
                if grad.is_sparse:
                    grad = grad.coalesce()
                    rows, values = grad.indices()[0], grad.values()
                else:  # a dense gradient (e.g. after a manual backward); update the touched rows only
                    rows = grad.abs().sum(1).nonzero().squeeze(1)
                    values = grad.index_select(0, rows)
                state = self.momentum.index_select(0, rows) + values.square().mean(1)
                self.momentum.index_copy_(0, rows, state)
                update = values * (group["lr"] / (state.sqrt() + group["eps"])).unsqueeze(1)
                weight.index_add_(0, rows, update, alpha=-1.0)
        return loss


class _TorchTables(nn.Module):
    """All tables in one rows x E weight; field f's index i reads row ``offsets[f] + i``."""

    def __init__(self, table_rows: Sequence[int], dim: int, device: torch.device) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(sum(table_rows), dim, device=device))
        offsets = torch.tensor([0, *table_rows[:-1]], dtype=torch.int64).cumsum(0)
        self.register_buffer("offsets", offsets.to(device), persistent=False)
        self.register_buffer("momentum", torch.zeros(sum(table_rows), device=device))

    def forward(self, sparse: Tensor) -> Tensor:
        return F.embedding(sparse + self.offsets, self.weight, sparse=True)


def _one_thread_backward(node: torch.autograd.graph.Node) -> None:
    """Run autograd ``node``'s backward on one intra-op thread, then give the thread count back.

    fbgemm's CPU backward with the fused row-wise Adagrad is a chain of small per-table kernels: waking
    the other threads for each costs more than they give (two A/Bs in one process, 2 threads, load 5-7:
    the embedding update's median 2.3-3.2 -> 1.2-1.5 ms per supernet step, Small and Full). Same
    arithmetic: the tables and their state come out bit for bit the same.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        return
    node.register_prehook(lambda grad_outputs: torch.set_num_threads(1))
    node.register_hook(lambda grad_inputs, grad_outputs: torch.set_num_threads(threads))


class _FbgemmTables(nn.Module):
    """fbgemm table-batched embedding bags (one index per bag) with the fused row-wise Adagrad."""

    def __init__(
        self, table_rows: Sequence[int], dim: int, device: torch.device, *, lr: float, eps: float
    ) -> None:
        super().__init__()
        from fbgemm_gpu.split_embedding_configs import EmbOptimType
        from fbgemm_gpu.split_table_batched_embeddings_ops_training import (
            ComputeDevice,
            EmbeddingLocation,
            SplitTableBatchedEmbeddingBagsCodegen,
        )

        if device.type == "cuda":
            location, compute = EmbeddingLocation.DEVICE, ComputeDevice.CUDA
        else:
            location, compute = EmbeddingLocation.HOST, ComputeDevice.CPU
        self.dim = dim
        self.num_tables = len(table_rows)
        self.tbe = SplitTableBatchedEmbeddingBagsCodegen(
            [(int(rows), dim, location, compute) for rows in table_rows],
            optimizer=EmbOptimType.EXACT_ROWWISE_ADAGRAD,
            learning_rate=lr,
            eps=eps,
            device=device,
        )

        rows = torch.tensor([0, *table_rows[:-1]], dtype=torch.int64).cumsum(0)
        self.register_buffer("row_offsets", rows.to(device), persistent=False)

    def forward(self, sparse: Tensor) -> Tensor:
        b, f = sparse.shape
        if not torch.is_grad_enabled():
            # No backward, so no fused update: a plain gather from the same storage (fbgemm's CPU
            # lookup has no kernel under inference_mode, and this is also what export traces).
            return F.embedding(sparse + self.row_offsets, self.storage().view(-1, self.dim))
        indices = sparse.t().reshape(-1)  # table-major, one index per (table, example) bag
        offsets = torch.arange(b * f + 1, dtype=torch.int64, device=sparse.device)
        out = self.tbe(indices, offsets)
        if out.grad_fn is not None and out.device.type == "cpu":
            _one_thread_backward(out.grad_fn)
        return out.view(b, f, self.dim)

    def storage(self) -> Tensor:
        """All tables, row after row in field order (fbgemm's flat weight storage)."""
        host = self.tbe.weights_host
        return (host if host.numel() else self.tbe.weights_dev).detach()


class Embeddings(nn.Module):
    """All sparse features' embedding tables. sparse B x F int64 -> B x F x E.

    table_rows: rows per field (index 0 reserved for missing values by the data layer); dim: E.
    backend: ``"fbgemm"`` (fused row-wise Adagrad) or ``"torch"`` (sparse gradients + ``RowWiseAdagrad``).
    lr, eps: the row-wise Adagrad hyper-parameters (``set_learning_rate`` changes lr later, e.g. from a
    scheduler). seed: initialisation seed (tables drawn in field order from one generator; None draws
    it from torch's global generator, so ``torch.manual_seed`` decides); initialize=False leaves the
    tables at zero for a caller that sets them (``set_weights``).
    """

    def __init__(
        self,
        table_rows: Sequence[int],
        dim: int,
        *,
        backend: str = "fbgemm",
        lr: float = 0.01,
        eps: float = 1e-8,
        seed: int | None = 0,
        initialize: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        seed = embedding_seed_from_torch() if seed is None else seed
        if backend not in BACKENDS:
            raise ConfigError(
                f"embedding backend {backend!r} is not supported; choose one of {list(BACKENDS)}"
            )
        if not table_rows or any(int(r) < 1 for r in table_rows):
            raise ConfigError(f"every embedding table needs >= 1 row, got {list(table_rows)}")
        self.backend = backend
        self.table_rows = tuple(int(r) for r in table_rows)
        self.dim = int(dim)
        self.eps = float(eps)
        dev = torch.device(device) if device is not None else default_device()
        self.tables: nn.Module
        if backend == "fbgemm":
            self.tables = _FbgemmTables(self.table_rows, self.dim, dev, lr=lr, eps=eps)
            self._optimizer: RowWiseAdagrad | None = None
        else:
            self.tables = _TorchTables(self.table_rows, self.dim, dev)
            self._optimizer = RowWiseAdagrad(self.tables.weight, self.tables.momentum, lr=lr, eps=eps)
        self._lr = float(lr)
        if initialize:
            generator = torch.Generator().manual_seed(seed)
            for table in self._table_views():
                init_table_(table, generator)
        else:
            with torch.no_grad():
                for table in self._table_views():
                    table.zero_()

    def forward(self, sparse: Tensor) -> Tensor:
        return self.tables(sparse)

    # ---- optimizer ------------------------------------------------------------------------------------

    def optimizer(self) -> RowWiseAdagrad | None:
        """The sparse optimizer to step after ``backward`` (torch backend); ``None`` when the update is
        fused into the backward pass (fbgemm)."""
        return self._optimizer

    @property
    def learning_rate(self) -> float:
        return self._lr

    def set_learning_rate(self, lr: float) -> None:
        """Change the row-wise Adagrad learning rate (both backends)."""
        self._lr = float(lr)
        if self._optimizer is not None:
            for group in self._optimizer.param_groups:
                group["lr"] = self._lr
        else:
            self.tables.tbe.set_learning_rate(self._lr)  # type: ignore[union-attr]

    # ---- weights and state ----------------------------------------------------------------------------

    def _table_views(self) -> list[Tensor]:
        if self.backend == "fbgemm":
            return list(self.tables.tbe.split_embedding_weights())  # type: ignore[union-attr]
        return list(torch.split(self.tables.weight.detach(), list(self.table_rows)))  # type: ignore[arg-type]

    def _momentum_views(self) -> list[Tensor]:
        if self.backend == "fbgemm":
            return [states[0] for states in self.tables.tbe.split_optimizer_states()]  # type: ignore[union-attr]
        return list(torch.split(self.tables.momentum, list(self.table_rows)))  # type: ignore[arg-type]

    def get_weights(self) -> list[Tensor]:
        """A copy of every table, rows x E each, in field order."""
        return [t.detach().clone() for t in self._table_views()]

    def set_weights(self, weights: Sequence[Tensor]) -> None:
        """Overwrite every table (rows x E each, in field order)."""
        views = self._table_views()
        if len(weights) != len(views):
            raise ConfigError(f"set_weights: expected {len(views)} tables, got {len(weights)}")
        with torch.no_grad():
            for f, (view, new) in enumerate(zip(views, weights, strict=True)):
                if tuple(new.shape) != tuple(view.shape):
                    raise ConfigError(
                        f"set_weights: table {f} must be {tuple(view.shape)}, got {tuple(new.shape)}"
                    )
                view.copy_(new)

    def get_optimizer_state(self) -> list[Tensor]:
        """A copy of the row-wise Adagrad accumulator of every table (rows each)."""
        return [m.detach().clone().reshape(-1) for m in self._momentum_views()]

    def set_optimizer_state(self, momentum: Sequence[Tensor]) -> None:
        views = self._momentum_views()
        with torch.no_grad():
            for view, new in zip(views, momentum, strict=True):
                view.copy_(new.reshape(view.shape))

    def copy_from(self, other: Embeddings) -> None:
        """Copy weights (not optimizer state) from another ``Embeddings`` of the same shape."""
        self.set_weights(other._table_views())


class EmbeddingNet(nn.Module):
    """A network with its sparse features' tables in ``self.embeddings``: every other parameter is a
    dense one (trained by the dense optimizer; the tables have their own row-wise Adagrad)."""

    def dense_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter except the embedding tables (and fbgemm's optimizer state)."""
        for name, p in self.named_parameters():
            if not name.startswith("embeddings."):
                yield p
