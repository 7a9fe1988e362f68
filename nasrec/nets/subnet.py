"""A standalone network built from an Architecture: what is retrained, measured and exported.

``SubNet(arch, schema, model)`` builds only the live blocks, and in them only the live ops and merges
(docs/operators.md, Liveness), at their exact widths, with fresh weights (deterministic given
``torch.manual_seed``). ``nasrec.nets.inherit.inherit_subnet(supernet, arch)`` builds the same network
with the supernet's weights; both compute the same function as ``supernet(batch, arch)``.

A network with co-design knobs in a live block, or built with ``model.quantize``, is fake-quantised
(``nasrec.nets.plan.layer_bits``: each block at its knobs, knob-less blocks and the head at W8A8).

Every module is eagerly shaped, so ``load_state_dict`` works on a freshly built SubNet. The forward is
TorchScript-able (``torch.jit.script``, with the torch embedding backend) and free of data-dependent
Python control flow: ``forward_tensors(dense, sparse) -> logits``; ``forward`` also takes a ``Batch``.

Shapes: B batch, D0 dense features, F sparse fields, E embedding dim; inside, sparse tensors are
channel-first B x E x T.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nasrec.data.schema import Batch, DatasetSchema
from nasrec.errors import ConfigError
from nasrec.nets.embeddings import EmbeddingNet, Embeddings
from nasrec.nets.ops import (
    EFC,
    FC,
    Attention,
    Cross,
    DenseToSparse,
    DotProduct,
    FMMerge,
    Head,
    SigmoidGating,
    Sum,
)
from nasrec.nets.plan import BlockPlan, layer_bits, plan_subnet, quantized
from nasrec.space import BINARY_OPS, Architecture
from nasrec.space.model_config import ModelConfig


class SubNetBlock(nn.Module):
    """One live block at exact widths: a dense op and / or a sparse op, and the live merges.

    ``forward(dense_list, sparse_list)`` reads its inputs from the lists of computed candidates (by
    position) and returns (dense B x D, sparse B x E x T); a stream nobody reads is an empty tensor.
    """

    def __init__(
        self,
        plan: BlockPlan,
        compact: dict[int, int],
        *,
        embedding_dim: int,
        layernorm: bool,
        bits: tuple[int, int] = (0, 0),
    ) -> None:
        super().__init__()
        b, live = plan.block, plan.live
        self.index = plan.index
        dense_op = b.dense_op if live.dense_op else None
        reads_dense = dense_op in ("fc", "dot")
        reads_sparse = live.sparse_op or dense_op == "dot"
        binary = dense_op in BINARY_OPS
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
        self.cross: Cross | None = None
        self.efc: EFC | None = None
        self.attention: Attention | None = None
        self.fm: FMMerge | None = None
        self.ds: DenseToSparse | None = None
        ln, e = layernorm, embedding_dim
        if live.dense_op:
            d = plan.dense_width
            if b.dense_op == "fc":
                self.fc = FC(plan.dense_in(), d, layernorm=ln, bits=bits)
            elif b.dense_op == "dot":
                self.dot = DotProduct(plan.dense_in(), plan.sparse_in(), d, e, layernorm=ln, bits=bits)
            elif b.dense_op == "gating":
                self.gating = SigmoidGating(*plan.operand_widths(), d, layernorm=ln, bits=bits)
            elif b.dense_op == "sum":
                self.sum = Sum(*plan.operand_widths(), d, layernorm=ln, bits=bits)
            elif b.dense_op == "cross":
                self.cross = Cross(*plan.operand_widths(), d, layernorm=ln, bits=bits)
        if live.sparse_op:
            if b.sparse_op == "efc":
                self.efc = EFC(plan.sparse_in(), plan.sparse_width, layernorm=ln, bits=bits)
            elif b.sparse_op == "attention":
                self.attention = Attention(plan.sparse_in(), plan.sparse_width, e, layernorm=ln, bits=bits)
        if live.fm:
            self.fm = FMMerge(e, plan.dense_width, layernorm=ln, bits=bits)
        if live.dense_to_sparse:
            self.ds = DenseToSparse(plan.dense_width, plan.ds_tokens, e, layernorm=ln, bits=bits)

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
        if self.cross is not None:
            dense = self.cross(dense_list[self.left], dense_list[self.right])
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


class SubNet(EmbeddingNet):
    """A standalone network for one architecture (live ops only, exact widths).

    arch: an ``Architecture`` (full genotype or canonical form); schema: the dataset; model: the shape
    it is built with (the space's ``ModelConfig``). embedding_backend, embedding_lr, embedding_eps,
    embedding_seed: as for ``SuperNet``. initialize_embeddings=False leaves the tables at zero
    (inheritance copies them in).
    """

    def __init__(
        self,
        arch: Architecture,
        schema: DatasetSchema,
        model: ModelConfig,
        *,
        embedding_backend: str = "fbgemm",
        embedding_lr: float = 0.01,
        embedding_eps: float = 1e-8,
        embedding_seed: int | None = None,
        initialize_embeddings: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.schema = schema
        self.model = model
        plan = plan_subnet(arch, schema, model)
        if not plan.blocks or plan.blocks[-1].index != arch.num_blocks - 1:
            raise ConfigError("the last block of an architecture must exist (the head reads it)")
        self.plan = plan
        self.quantized = quantized(model, arch.canonical().has_knobs)
        compact = plan.compact()
        self.blocks = nn.ModuleList(
            SubNetBlock(
                bp,
                compact,
                embedding_dim=model.embedding_dim,
                layernorm=model.layernorm,
                bits=layer_bits(bp.block.knobs, self.quantized),
            )
            for bp in plan.blocks
        )
        out = plan.output
        self.head = Head(
            out.dense, out.all_tokens, model.embedding_dim, bits=layer_bits(None, self.quantized)
        )
        if device is not None:
            self.to(device)
        self.embeddings = Embeddings(
            schema.table_rows,
            model.embedding_dim,
            backend=embedding_backend,
            lr=embedding_lr,
            eps=embedding_eps,
            seed=embedding_seed,
            initialize=initialize_embeddings,
            device=device,
        )

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
