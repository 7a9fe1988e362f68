"""A standalone network built from an Architecture: what is retrained, measured and exported.

``SubNet(arch, schema)`` builds only the live blocks, and in them only the live ops and merges
(docs/operators.md, Liveness), at their exact widths, with fresh weights (deterministic given
``torch.manual_seed``). ``SubNet.from_supernet(supernet, arch)`` builds the same network with the
supernet's weights (slices of its shared weights, and a copy of its embedding tables); both compute
the same function as ``supernet(batch, arch)``.

Every module is eagerly shaped, so ``load_state_dict`` works on a freshly built SubNet. The forward is
TorchScript-able (``torch.jit.script``, with the torch embedding backend) and free of data-dependent
Python control flow: ``forward_tensors(dense, sparse) -> logits``; ``forward`` also takes a ``Batch``.

Shapes: B batch, D0 dense features, F sparse fields, E embedding dim; inside, sparse tensors are
channel-first B x E x T.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from nasrec.data.schema import Batch, DatasetSchema
from nasrec.errors import ConfigError
from nasrec.space import Architecture, Block, BlockLiveness
from nasrec.supernet.embeddings import Embeddings
from nasrec.supernet.ops import (
    EFC,
    FC,
    Attention,
    DenseToSparse,
    DotProduct,
    FMMerge,
    Head,
    SigmoidGating,
    Sum,
)
from nasrec.supernet.paths import Path

if TYPE_CHECKING:
    from nasrec.supernet.supernet import SuperNet

Piece = tuple[int, int]


# ---- the plan: shapes of every live op, shared with SuperNet.subnet_state_dict -----------------------------


@dataclass(frozen=True)
class CandidateShape:
    """Output shape of a candidate: dense width, main tokens, dense-to-sparse tokens (0 when absent)."""

    dense: int
    tokens: int
    ds_tokens: int

    @property
    def all_tokens(self) -> int:
        return self.tokens + self.ds_tokens


@dataclass(frozen=True)
class BlockPlan:
    """A live block of a SubNet: its genes, liveness and the shapes of what it reads."""

    index: int
    block: Block
    live: BlockLiveness
    inputs: tuple[CandidateShape, ...]  # shapes of candidates 0..index
    ds_tokens: int  # the space's dense-to-sparse token count n

    @property
    def dense_width(self) -> int:
        assert self.block.dense_width is not None
        return self.block.dense_width

    @property
    def sparse_width(self) -> int:
        assert self.block.sparse_width is not None
        return self.block.sparse_width

    def dense_pieces(self) -> list[Piece]:
        """Supernet pieces of the concatenated dense input: (candidate, width)."""
        return [(c, self.inputs[c].dense) for c in self.block.dense_inputs or ()]

    def sparse_pieces(self) -> list[Piece]:
        """Supernet pieces of the concatenated sparse input (raw fields; main and DS tokens per block)."""
        pieces: list[Piece] = []
        for c in self.block.sparse_inputs or ():
            shape = self.inputs[c]
            if c == 0:
                pieces.append((0, shape.tokens))
                continue
            pieces.append((2 * c - 1, shape.tokens))
            if shape.ds_tokens:
                pieces.append((2 * c, shape.ds_tokens))
        return pieces

    def dense_in(self) -> int:
        return sum(w for _, w in self.dense_pieces())

    def sparse_in(self) -> int:
        return sum(w for _, w in self.sparse_pieces())

    def operand_widths(self) -> tuple[int, int]:
        assert self.block.left is not None and self.block.right is not None
        return self.inputs[self.block.left].dense, self.inputs[self.block.right].dense

    def modules(self) -> dict[str, tuple[str, tuple[Any, ...]]]:
        """SubNet module name -> (supernet op name, export arguments), for every op this block builds."""
        b, live = self.block, self.live
        out: dict[str, tuple[str, tuple[Any, ...]]] = {}
        if live.dense_op:
            d = self.dense_width
            if b.dense_op == "fc":
                out["fc"] = ("fc", (d, self.dense_pieces()))
            elif b.dense_op == "dot":
                args = (self.dense_in(), self.dense_pieces(), self.sparse_in(), self.sparse_pieces(), d)
                out["dot"] = ("dot", args)
            elif b.dense_op in ("gating", "sum"):
                out[b.dense_op] = (b.dense_op, (*self.operand_widths(), d))
            else:
                raise ConfigError(f"block {self.index}: unknown dense op {b.dense_op!r}")
        if live.sparse_op:
            s = self.sparse_width
            if b.sparse_op == "efc":
                out["efc"] = ("efc", (s, self.sparse_pieces()))
            elif b.sparse_op == "attention":
                out["attention"] = ("attention", (self.sparse_in(), s, self.sparse_pieces()))
            else:
                raise ConfigError(f"block {self.index}: unknown sparse op {b.sparse_op!r}")
        if live.fm:
            out["fm"] = ("fm", (self.dense_width,))
        if live.dense_to_sparse:
            out["ds"] = ("dense_to_sparse", (self.dense_width,))
        return out


@dataclass(frozen=True)
class SubNetPlan:
    """Which blocks a SubNet builds, in order, and the shape of every candidate."""

    blocks: tuple[BlockPlan, ...]
    shapes: tuple[CandidateShape, ...]  # candidate 0..num_blocks (dead blocks: zeros)

    @property
    def output(self) -> CandidateShape:
        return self.shapes[-1]

    def compact(self) -> dict[int, int]:
        """Candidate index -> position in the SubNet's list of computed candidates."""
        return {0: 0, **{bp.index + 1: pos + 1 for pos, bp in enumerate(self.blocks)}}


def plan_subnet(arch: Architecture, num_dense: int, num_sparse: int, ds_tokens: int) -> SubNetPlan:
    """The live part of ``arch`` with the shape of everything it reads (docs/operators.md)."""
    live_all = Path.from_architecture(arch).liveness()
    shapes = [CandidateShape(num_dense, num_sparse, 0)]
    blocks: list[BlockPlan] = []
    for i, (b, live) in enumerate(zip(arch.blocks, live_all, strict=True)):
        if b is None or not live.alive:
            shapes.append(CandidateShape(0, 0, 0))
            continue
        for key, needed in (("dense_op", live.dense_op), ("sparse_op", live.sparse_op)):
            if needed and getattr(b, key) is None:
                raise ConfigError(f"block {i}: {key} is None but its stream reaches the head")
        blocks.append(BlockPlan(i, b, live, tuple(shapes), ds_tokens))
        shapes.append(
            CandidateShape(
                dense=b.dense_width if live.dense_out and b.dense_width else 0,
                tokens=b.sparse_width if live.sparse_out and b.sparse_width else 0,
                ds_tokens=ds_tokens if live.dense_to_sparse else 0,
            )
        )
    return SubNetPlan(tuple(blocks), tuple(shapes))


# ---- modules ----------------------------------------------------------------------------------------


class SubNetBlock(nn.Module):
    """One live block at exact widths: a dense op and / or a sparse op, and the live merges.

    ``forward(dense_list, sparse_list)`` reads its inputs from the lists of computed candidates (by
    position) and returns (dense B x D, sparse B x E x T); a stream nobody reads is an empty tensor.
    """

    def __init__(
        self, plan: BlockPlan, compact: dict[int, int], *, embedding_dim: int, layernorm: bool
    ) -> None:
        super().__init__()
        b, live = plan.block, plan.live
        self.index = plan.index
        dense_op = b.dense_op if live.dense_op else None
        reads_dense = dense_op in ("fc", "dot")
        reads_sparse = live.sparse_op or dense_op == "dot"
        binary = dense_op in ("gating", "sum")
        # Positions in the list of computed candidates; genes of dead ops are never read (kept as
        # [0] so that TorchScript infers List[int]).
        self.dense_inputs = [compact[c] for c in b.dense_inputs or ()] if reads_dense else [0]
        self.sparse_inputs = [compact[c] for c in b.sparse_inputs or ()] if reads_sparse else [0]
        self.left = compact[b.left] if binary and b.left is not None else 0
        self.right = compact[b.right] if binary and b.right is not None else 0
        self.fc: FC | None = None
        self.dot: DotProduct | None = None
        self.gating: SigmoidGating | None = None
        self.sum: Sum | None = None
        self.efc: EFC | None = None
        self.attention: Attention | None = None
        self.fm: FMMerge | None = None
        self.ds: DenseToSparse | None = None
        ln = layernorm
        if live.dense_op:
            d = plan.dense_width
            if b.dense_op == "fc":
                self.fc = FC(plan.dense_in(), d, layernorm=ln)
            elif b.dense_op == "dot":
                self.dot = DotProduct(plan.dense_in(), plan.sparse_in(), d, embedding_dim, layernorm=ln)
            elif b.dense_op == "gating":
                self.gating = SigmoidGating(*plan.operand_widths(), d, layernorm=ln)
            elif b.dense_op == "sum":
                self.sum = Sum(*plan.operand_widths(), d, layernorm=ln)
        if live.sparse_op:
            if b.sparse_op == "efc":
                self.efc = EFC(plan.sparse_in(), plan.sparse_width, layernorm=ln)
            elif b.sparse_op == "attention":
                self.attention = Attention(plan.sparse_in(), plan.sparse_width, embedding_dim, layernorm=ln)
        if live.fm:
            self.fm = FMMerge(embedding_dim, plan.dense_width, layernorm=ln)
        if live.dense_to_sparse:
            self.ds = DenseToSparse(plan.dense_width, plan.ds_tokens, embedding_dim, layernorm=ln)

    def _dense_input(self, dense_list: list[Tensor]) -> Tensor:
        if len(self.dense_inputs) == 1:
            return dense_list[self.dense_inputs[0]]
        return torch.cat([dense_list[i] for i in self.dense_inputs], dim=1)

    def _sparse_input(self, sparse_list: list[Tensor]) -> Tensor:
        if len(self.sparse_inputs) == 1:
            return sparse_list[self.sparse_inputs[0]]
        return torch.cat([sparse_list[i] for i in self.sparse_inputs], dim=2)

    def forward(self, dense_list: list[Tensor], sparse_list: list[Tensor]) -> tuple[Tensor, Tensor]:
        empty = dense_list[0].new_zeros(0)
        dense = empty
        if self.fc is not None:
            dense = self.fc(self._dense_input(dense_list))
        if self.dot is not None:
            dense = self.dot(self._dense_input(dense_list), self._sparse_input(sparse_list))
        if self.gating is not None:
            dense = self.gating(dense_list[self.left], dense_list[self.right])
        if self.sum is not None:
            dense = self.sum(dense_list[self.left], dense_list[self.right])
        sparse = empty
        if self.efc is not None:
            sparse = self.efc(self._sparse_input(sparse_list))
        if self.attention is not None:
            sparse = self.attention(self._sparse_input(sparse_list))
        out_sparse = sparse
        if self.ds is not None:
            out_sparse = torch.cat([sparse, self.ds(dense)], dim=2)
        if self.fm is not None:
            dense = dense + self.fm(sparse)
        return dense, out_sparse


class SubNet(nn.Module):
    """A standalone network for one architecture (live ops only, exact widths).

    arch: an ``Architecture`` (full genotype or canonical form); schema: the dataset.
    layernorm, embedding_backend, embedding_lr, embedding_eps, embedding_seed: as for ``SuperNet``.
    embedding_dim / ds_tokens: E and the dense-to-sparse token count (the space's values).
    initialize_embeddings=False leaves the tables at zero (``from_supernet`` copies them in).
    """

    def __init__(
        self,
        arch: Architecture,
        schema: DatasetSchema,
        *,
        layernorm: bool = True,
        embedding_backend: str = "fbgemm",
        embedding_dim: int = 16,
        ds_tokens: int = 8,
        embedding_lr: float = 0.01,
        embedding_eps: float = 1e-8,
        embedding_seed: int | None = None,
        initialize_embeddings: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        from nasrec.supernet.supernet import embedding_seed_from_torch

        self.arch = arch
        self.schema = schema
        self.layernorm = layernorm
        self.embedding_dim = embedding_dim
        self.ds_tokens = ds_tokens
        plan = plan_subnet(arch, schema.num_dense, schema.num_sparse, ds_tokens)
        if not plan.blocks or plan.blocks[-1].index != arch.num_blocks - 1:
            raise ConfigError("the last block of an architecture must exist (the head reads it)")
        self.plan = plan
        compact = plan.compact()
        self.blocks = nn.ModuleList(
            SubNetBlock(bp, compact, embedding_dim=embedding_dim, layernorm=layernorm) for bp in plan.blocks
        )
        out = plan.output
        self.head = Head(out.dense, out.all_tokens, embedding_dim)
        if device is not None:
            self.to(device)
        self.embeddings = Embeddings(
            schema.table_rows,
            embedding_dim,
            backend=embedding_backend,
            lr=embedding_lr,
            eps=embedding_eps,
            seed=embedding_seed_from_torch() if embedding_seed is None else embedding_seed,
            initialize=initialize_embeddings,
            device=device,
        )

    @classmethod
    def from_supernet(cls, supernet: SuperNet, arch: Architecture, **kwargs: Any) -> SubNet:
        """The subnet of ``arch`` with weights inherited from ``supernet`` (copies, not views)."""
        options = {
            "layernorm": supernet.layernorm,
            "embedding_backend": supernet.embeddings.backend,
            "embedding_dim": supernet.bounds.embedding_dim,
            "ds_tokens": supernet.bounds.ds_tokens,
            "embedding_lr": supernet.embeddings.learning_rate,
            "embedding_eps": supernet.embeddings.eps,
            "embedding_seed": 0,
            "initialize_embeddings": False,
            **kwargs,
        }
        subnet = cls(arch, supernet.schema, **options)
        ref = next(supernet.dense_parameters())
        subnet.to(device=ref.device)
        if ref.dtype != torch.float32:  # e.g. a float64 supernet in tests (torch embedding backend)
            subnet.to(dtype=ref.dtype)
        state = supernet._subnet_state(arch)  # copied into the subnet's own parameters below
        missing, unexpected = subnet.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.startswith("embeddings.")]
        if missing or unexpected:
            raise RuntimeError(
                f"inherited state does not match the subnet: missing {missing}, unexpected {unexpected}"
            )
        subnet.embeddings.copy_from(supernet.embeddings)
        return subnet

    def dense_parameters(self) -> Iterator[nn.Parameter]:
        """Every parameter except the embedding tables (and fbgemm's optimizer state)."""
        for name, p in self.named_parameters():
            if not name.startswith("embeddings."):
                yield p

    def forward(self, dense: Tensor, sparse: Tensor | None = None) -> Tensor:
        """``subnet(batch)`` or ``subnet(dense, sparse)`` -> logits B."""
        if not torch.jit.is_scripting() and sparse is None:
            dense, sparse = _batch_tensors(dense)
        assert sparse is not None
        return self.forward_tensors(dense, sparse)

    def forward_tensors(self, dense: Tensor, sparse: Tensor) -> Tensor:
        """dense B x D0 float, sparse B x F int64 -> logits B."""
        dense_list = [dense]
        sparse_list = [self.embeddings(sparse).transpose(1, 2).contiguous()]
        for block in self.blocks:
            d, s = block(dense_list, sparse_list)
            dense_list.append(d)
            sparse_list.append(s)
        return self.head(dense_list[-1], sparse_list[-1])


def _batch_tensors(batch) -> tuple[Tensor, Tensor]:  # noqa: ANN001 (untyped: TorchScript never compiles it)
    if not isinstance(batch, Batch):
        raise TypeError(f"SubNet takes a Batch or (dense, sparse) tensors, got {type(batch).__name__}")
    return batch.dense, batch.sparse
