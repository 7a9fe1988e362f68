"""Data-parallel training across Ray Train workers: how dense and embedding parameters stay in sync.

Design
------
Every worker holds a full replica of the model (dense layers and embedding tables) and sees the same
global batch of ``B`` rows; worker ``r`` of ``N`` runs the dense network on rows ``[r B/N, (r+1) B/N)``.
All workers draw the same supernet path (the path sampler's numpy Generator is seeded identically and
advances identically), so they run the same sub-graph.

* Dense parameters: after ``backward`` their gradients are averaged with one ``all_reduce`` over a
  flattened buffer (not DDP: the supernet's graph changes every step and DDP's unused-parameter search
  would cost more than it saves). Clipping and the optimizer step then run on identical gradients on
  every worker, so the replicas stay bit-identical.
* Embeddings: replicated, and updated identically on every worker by **looking up the whole global
  batch on every worker and all-gathering the gradients with respect to the looked-up embeddings**.
  A forward hook on the model's ``embeddings`` module swaps the local sparse indices for the global ones,
  keeps the global ``B x F x E`` output, and hands the model only its own rows as a fresh leaf tensor.
  After the local ``backward`` each worker all-gathers the per-row gradients of that leaf (``B/N x F x E``
  each), scales by ``1/N`` (the global loss is the mean of the workers' local means), and back-propagates
  the full ``B x F x E`` gradient through its own global lookup.

Why this design: it is exact (every replica applies the update a single worker would apply to the whole
global batch, so N workers match one worker at the same global batch up to float summation order), and it
works unchanged for **both embedding backends**, including fbgemm's fused row-wise Adagrad, whose update
happens inside ``backward`` and so cannot be fed an all-reduced sparse gradient after the fact. The
all-gathered tensor is ``B x F x E`` floats per step (e.g. 512 x 26 x 16 x 4 bytes = 852 KB), independent
of table sizes, and no table is ever sent. The price is that embedding lookups and updates are not
parallelised (each worker does the global batch's); only the dense network's compute is. Tables that do
not fit one worker would need DLRM-style table partitioning (an all-to-all of pooled embeddings), which
nasrec does not need at its data scales and is left out for simplicity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasrec.data.schema import Batch
from nasrec.errors import ConfigError


@dataclass(frozen=True)
class Comm:
    """This worker's place in the process group (``torch.distributed`` must be initialised)."""

    rank: int
    world_size: int

    @classmethod
    def current(cls) -> Comm | None:
        """The active process group as a ``Comm``, or None when running as a single process."""
        import torch.distributed as dist

        if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
            return None
        return cls(dist.get_rank(), dist.get_world_size())

    def local_rows(self, batch_size: int) -> slice:
        share = batch_size // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def local_batch(self, batch: Batch) -> Batch:
        rows = self.local_rows(len(batch))
        return Batch(batch.dense[rows], batch.sparse[rows], batch.labels[rows])

    def all_reduce_mean_(self, tensors: list[Any]) -> None:
        """Average ``tensors`` across workers in place, with one collective over a flat buffer."""
        import torch
        import torch.distributed as dist

        if not tensors:
            return
        flat = torch.cat([t.reshape(-1) for t in tensors])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for t in tensors:
            n = t.numel()
            t.copy_(flat[offset : offset + n].view_as(t))
            offset += n

    def all_gather_cat(self, tensor: Any) -> Any:
        """Concatenate equally shaped tensors from every worker along dim 0, in rank order."""
        import torch
        import torch.distributed as dist

        parts = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(parts, tensor.contiguous())
        return torch.cat(parts)

    def any(self, flag: bool) -> bool:
        """True on every worker when ``flag`` is true on at least one (e.g. stop requests)."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def any_of(self, *flags: bool) -> tuple[bool, ...]:
        """``any`` for several flags in one collective."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([1.0 if f else 0.0 for f in flags])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return tuple(bool(v > 0) for v in t.tolist())

    def mean(self, value: float) -> float:
        import torch
        import torch.distributed as dist

        t = torch.tensor([float(value)], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def check_replicas_equal(self, model: Any) -> None:
        """Fail fast if workers built different initial weights (e.g. an unseeded initialiser)."""
        import torch

        with torch.no_grad():
            sums = [float(t.double().sum()) for t in model.state_dict().values() if torch.is_tensor(t)]
        probe = torch.tensor(sums, dtype=torch.float64)
        gathered = self.all_gather_cat(probe.unsqueeze(0))
        if not torch.equal(gathered.min(0).values, gathered.max(0).values):
            raise ConfigError("data-parallel workers built different initial models; seed the model build")


class ReplicatedEmbeddings:
    """Hooks on the embeddings module implementing the global-lookup / gathered-gradient scheme above.

    Per training step: ``begin(global_sparse)`` before the forward, ``backward()`` after the local loss's
    ``backward``. Outside a ``begin``/``backward`` pair (evaluation) the hooks do nothing.
    """

    def __init__(self, embeddings: Any, comm: Comm) -> None:
        self.comm = comm
        self._global: Any = None
        self._full: Any = None
        self._local: Any = None
        self._handles = [
            embeddings.register_forward_pre_hook(self._pre),
            embeddings.register_forward_hook(self._post),
        ]

    def close(self) -> None:
        for h in self._handles:
            h.remove()

    def begin(self, global_sparse: Any) -> None:
        self._global, self._full, self._local = global_sparse, None, None

    def _pre(self, module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self._global is None:
            return None
        if self._full is not None:
            raise ConfigError(
                "the embeddings module was called twice in one step; data-parallel sync needs one call"
            )
        first = args[0]
        swapped = Batch(first.dense, self._global, first.labels) if isinstance(first, Batch) else self._global
        return (swapped, *args[1:])

    def _post(self, module: Any, args: tuple[Any, ...], output: Any) -> Any:
        if self._global is None:
            return None
        self._global = None
        self._full = output
        rows = self.comm.local_rows(int(output.shape[0]))
        self._local = output[rows].detach().requires_grad_(output.requires_grad)
        return self._local

    def backward(self) -> None:
        """All-gather the local embedding gradients and back-propagate the global one (see module doc)."""
        full, local = self._full, self._local
        self._full = self._local = None
        if full is None or local is None or not full.requires_grad:
            return
        import torch

        grad = local.grad if local.grad is not None else torch.zeros_like(local)
        has_grad = self.comm.any(local.grad is not None)
        if not has_grad:
            return
        global_grad = self.comm.all_gather_cat(grad) / self.comm.world_size
        full.backward(global_grad)
