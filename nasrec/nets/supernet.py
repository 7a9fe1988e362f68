"""The weight-sharing supernet: ``SuperNet(schema, space)``, ``supernet(batch, arch_or_path) -> logits``.

Pure function of its path argument (no "current choice" state). Every block holds one shared,
max-width instance of each op of the space (``nasrec.nets.shared``); a path uses them by slicing
(leading rows, per-candidate column blocks), so for any architecture the supernet computes exactly what
``inherit_subnet(supernet, arch)`` (``nasrec.nets.inherit``) computes. Only live streams are computed
(docs/operators.md, Liveness): no zero tensors are concatenated and nothing runs at max width unless the
path asks for it.

A path is fake-quantised by the SubNet's rule (``nasrec.nets.plan.layer_bits``): when the space's
model config says ``quantize`` or a live block of the path has co-design knobs; then each block runs
at its knobs (W8A8 without) and the head at W8A8.

Shapes: B batch, D0 dense features, F sparse fields, E embedding dim, Dmax / Tmax the space's largest
dense width / token count, n the dense-to-sparse token count. Inside, sparse tensors are channel-first
(B x E x T).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nasrec.data.schema import Batch, DatasetSchema
from nasrec.errors import ConfigError
from nasrec.nets import functional as fn
from nasrec.nets.embeddings import EmbeddingNet, Embeddings
from nasrec.nets.paths import BINARY_OPS, BlockPath, SupernetPath, as_path
from nasrec.nets.plan import layer_bits, quantized
from nasrec.nets.shared import (
    Bounds,
    Piece,
    SharedAttention,
    SharedCross,
    SharedDenseToSparse,
    SharedDot,
    SharedEFC,
    SharedFC,
    SharedFM,
    SharedGating,
    SharedHead,
    SharedSum,
)
from nasrec.space import Architecture, BlockLiveness, SearchSpace


class SuperNetBlock(nn.Module):
    """One choice block: a shared instance of every op of the space, plus the two merges."""

    def __init__(self, index: int, space: SearchSpace, bounds: Bounds, *, layernorm: bool) -> None:
        super().__init__()
        ln = layernorm
        makers = {
            "fc": lambda: SharedFC(bounds, index, layernorm=ln),
            "dot": lambda: SharedDot(bounds, index, layernorm=ln),
            "gating": lambda: SharedGating(bounds, layernorm=ln),
            "sum": lambda: SharedSum(bounds, layernorm=ln),
            "cross": lambda: SharedCross(bounds, layernorm=ln),
            "efc": lambda: SharedEFC(bounds, index, layernorm=ln),
            "attention": lambda: SharedAttention(bounds, index, layernorm=ln),
        }
        self.ops = nn.ModuleDict({op: makers[op]() for op in (*space.dense_ops, *space.sparse_ops)})
        self.fm = SharedFM(bounds, layernorm=ln)
        self.dense_to_sparse = SharedDenseToSparse(bounds, layernorm=ln)


class _Candidates:
    """Outputs of the raw inputs and the blocks computed so far, with their supernet pieces."""

    def __init__(self, dense: Tensor, sparse: Tensor) -> None:
        self.dense: list[Tensor | None] = [dense]
        self.sparse: list[list[tuple[Tensor, int]] | None] = [[(sparse, 0)]]

    def add(self, dense: Tensor | None, sparse: list[tuple[Tensor, int]] | None) -> None:
        self.dense.append(dense)
        self.sparse.append(sparse)

    def dense_input(self, cands: Sequence[int]) -> tuple[Tensor, list[Piece]]:
        xs = [self._dense(c) for c in cands]
        pieces = [(c, x.shape[1]) for c, x in zip(cands, xs, strict=True)]
        return (xs[0] if len(xs) == 1 else torch.cat(xs, dim=1)), pieces

    def summed(self, cands: Sequence[int]) -> Tensor:
        """Zero-pad every candidate to the widest and sum (a SupernetPath's several left/right operands)."""
        xs = [self._dense(c) for c in cands]
        if len(xs) == 1:
            return xs[0]
        w = max(x.shape[1] for x in xs)
        out = fn.pad_to(xs[0], w)
        for x in xs[1:]:
            out = out + fn.pad_to(x, w)
        return out

    def sparse_input(self, cands: Sequence[int]) -> tuple[Tensor, list[Piece]]:
        parts: list[tuple[Tensor, int]] = []
        for c in cands:
            got = self.sparse[c]
            if got is None:
                raise ConfigError(f"candidate {c}'s sparse output is read but was not computed (dead block?)")
            parts.extend(got)
        pieces = [(p, t.shape[2]) for t, p in parts]
        tensors = [t for t, _ in parts]
        return (tensors[0] if len(tensors) == 1 else torch.cat(tensors, dim=2)), pieces

    def _dense(self, c: int) -> Tensor:
        got = self.dense[c]
        if got is None:
            raise ConfigError(f"candidate {c}'s dense output is read but was not computed (dead block?)")
        return got


class SuperNet(EmbeddingNet):
    """All architectures of ``space`` in one network, sharing weights by slicing.

    schema: the dataset (D0 dense features, one table per sparse field); space: the search space, whose
    ``model`` (E, dense-to-sparse tokens, LayerNorm) every path is built with. embedding_backend:
    ``"fbgemm"`` or ``"torch"`` (see ``Embeddings``); embedding_lr / embedding_eps: its row-wise Adagrad;
    embedding_seed: its init seed (default: drawn from torch's generator, so ``torch.manual_seed``
    fixes every weight).

    ``forward(batch, path)``: batch a ``Batch`` (dense B x D0 float, sparse B x F int64), path an
    ``Architecture`` or a ``SupernetPath`` -> logits B. Optimizers: ``dense_parameters()`` for everything but
    the embeddings; ``embeddings.optimizer()`` (``None`` when the update is fused).
    """

    def __init__(
        self,
        schema: DatasetSchema,
        space: SearchSpace,
        *,
        embedding_backend: str = "fbgemm",
        embedding_lr: float = 0.01,
        embedding_eps: float = 1e-8,
        embedding_seed: int | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.schema = schema
        self.space = space
        self.model = model = space.model
        self.bounds = Bounds(
            dense=tuple(sorted(space.dense_widths)),
            sparse=tuple(sorted(space.sparse_widths)),
            num_dense=schema.num_dense,
            num_sparse=schema.num_sparse,
            ds_tokens=model.ds_tokens,
            embedding_dim=model.embedding_dim,
        )
        self.blocks = nn.ModuleList(
            SuperNetBlock(i, space, self.bounds, layernorm=model.layernorm) for i in range(space.num_blocks)
        )
        self.head = SharedHead(self.bounds)
        if device is not None:
            self.to(device)
        self.embeddings = Embeddings(
            schema.table_rows,
            model.embedding_dim,
            backend=embedding_backend,
            lr=embedding_lr,
            eps=embedding_eps,
            seed=embedding_seed,
            device=device,
        )

    # ---- forward --------------------------------------------------------------------------------------

    def forward(self, batch: Batch, path: SupernetPath | Architecture) -> Tensor:
        return self.forward_tensors(batch.dense, batch.sparse, path)

    def forward_tensors(self, dense: Tensor, sparse: Tensor, path: SupernetPath | Architecture) -> Tensor:
        """dense B x D0 float, sparse B x F int64, a path -> logits B."""
        return self.forward_paths(dense, sparse, [path])[0]

    def forward_paths(
        self, dense: Tensor, sparse: Tensor, paths: list[SupernetPath] | list[Architecture]
    ) -> list[Tensor]:
        """Logits B of each path on one batch, from one embedding lookup (so one fused table update)."""
        # channel-first once (B x E x F); every consumer then reads it without another copy
        embedded = self.embeddings(sparse).transpose(1, 2).contiguous()
        return [self._path_forward(dense, embedded, as_path(path)) for path in paths]

    def _path_forward(self, dense: Tensor, embedded: Tensor, path: SupernetPath) -> Tensor:
        self.check_path(path)
        cands = _Candidates(dense, embedded)
        is_quantized = quantized(self.model, path.has_knobs)
        for block, bp, live in zip(self.blocks, path.blocks, path.liveness(), strict=True):
            if not live.alive:
                cands.add(None, None)
                continue
            assert bp is not None
            bits = layer_bits(bp.knobs, is_quantized)
            self._block_forward(block, len(cands.dense), bp, live, cands, bits)
        last = path.num_blocks
        out_dense, parts = cands.dense[last], cands.sparse[last]
        assert out_dense is not None and parts is not None
        bp = path.blocks[-1]
        assert bp is not None and bp.sparse_width is not None
        weight = self.head.weight(out_dense.shape[1], bp.sparse_width, len(parts) > 1)
        return self.head(out_dense, [t for t, _ in parts], weight, layer_bits(None, is_quantized))

    def _block_forward(
        self,
        block: SuperNetBlock,
        cand: int,
        bp: BlockPath,
        live: BlockLiveness,
        cands: _Candidates,
        bits: tuple[int, int],
    ) -> None:
        """Compute the live part of block ``cand - 1`` and append its outputs to ``cands``."""
        ops = block.ops
        inputs: dict[str, tuple[Tensor, list[Piece]]] = {}  # each concatenated input built once

        def dense_in() -> tuple[Tensor, list[Piece]]:
            if "dense" not in inputs:
                inputs["dense"] = cands.dense_input(bp.dense_inputs)
            return inputs["dense"]

        def sparse_in() -> tuple[Tensor, list[Piece]]:
            if "sparse" not in inputs:
                inputs["sparse"] = cands.sparse_input(bp.sparse_inputs)
            return inputs["sparse"]

        dense_pre = None
        if live.dense_op:
            assert bp.dense_width is not None
            d = bp.dense_width
            outs = []
            for op in bp.dense_ops:
                if op == "fc":
                    outs.append(ops["fc"](*dense_in(), d, bits))
                elif op == "dot":
                    outs.append(ops["dot"](*dense_in(), *sparse_in(), d, bits))
                else:
                    outs.append(ops[op](cands.summed(bp.left), cands.summed(bp.right), d, bits))
            dense_pre = _sum(outs)
        main = None
        if live.sparse_op:
            assert bp.sparse_width is not None
            main = _sum([ops[op](*sparse_in(), bp.sparse_width, bits) for op in bp.sparse_ops])
        dense_out = None
        if live.dense_out:
            assert dense_pre is not None
            dense_out = dense_pre + block.fm(main, bp.dense_width, bits) if live.fm else dense_pre
        sparse_out = None
        if live.sparse_out:
            assert main is not None
            sparse_out = [(main, 2 * cand - 1)]
            if live.dense_to_sparse:
                sparse_out.append((block.dense_to_sparse(dense_pre, bits), 2 * cand))
        cands.add(dense_out, sparse_out)

    # ---- validation -----------------------------------------------------------------------------------

    def check_path(self, path: SupernetPath) -> None:
        """Raise ``ConfigError`` when ``path`` does not fit this supernet (ops, widths, inputs)."""
        if path.num_blocks != len(self.blocks):
            raise ConfigError(f"path has {path.num_blocks} blocks, the supernet {len(self.blocks)}")
        space = self.space
        for i, (bp, live) in enumerate(zip(path.blocks, path.liveness(), strict=True)):
            if bp is None or not live.alive:
                continue
            where = f"block {i}"
            for op in bp.dense_ops:
                if op not in space.dense_ops:
                    raise ConfigError(f"{where}: dense op {op!r} is not in space {space.name!r}")
            for op in bp.sparse_ops:
                if op not in space.sparse_ops:
                    raise ConfigError(f"{where}: sparse op {op!r} is not in space {space.name!r}")
            if live.dense_op and bp.dense_width not in space.dense_widths:
                raise ConfigError(
                    f"{where}: dense width {bp.dense_width} is not one of {list(space.dense_widths)}"
                )
            if live.sparse_op and bp.sparse_width not in space.sparse_widths:
                raise ConfigError(
                    f"{where}: sparse width {bp.sparse_width} is not one of {list(space.sparse_widths)}"
                )
            for key in ("dense_inputs", "sparse_inputs", "left", "right"):
                if any(not 0 <= j <= i for j in getattr(bp, key)):
                    raise ConfigError(f"{where}: {key} {getattr(bp, key)} must be within 0..{i}")
            needs = {
                "dense_inputs": live.dense_op and any(op in ("fc", "dot") for op in bp.dense_ops),
                "sparse_inputs": (live.sparse_op and bool(bp.sparse_ops))
                or (live.dense_op and "dot" in bp.dense_ops),
                "left": live.dense_op and any(op in BINARY_OPS for op in bp.dense_ops),
                "right": live.dense_op and any(op in BINARY_OPS for op in bp.dense_ops),
            }
            for key, needed in needs.items():
                if needed and not getattr(bp, key):
                    raise ConfigError(f"{where}: {key} is empty but an active op reads it")
            if bp.knobs is not None and space.co_design:
                for knob in ("w_bits", "a_bits"):
                    value, allowed = getattr(bp.knobs, knob), space.knob_choices()[knob]
                    if value not in allowed:
                        raise ConfigError(f"{where}: knobs.{knob} {value} is not one of {list(allowed)}")
            if live.dense_out and not bp.dense_ops:
                raise ConfigError(f"{where}: the dense output is read but no dense op is active")
            if live.sparse_out and not bp.sparse_ops:
                raise ConfigError(f"{where}: the sparse output is read but no sparse op is active")


def _sum(outs: list[Tensor]) -> Tensor:
    out = outs[0]
    for o in outs[1:]:
        out = out + o
    return out
