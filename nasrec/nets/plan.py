"""The plan of an architecture: which blocks and ops its standalone network builds, at which shapes.

``plan_subnet(arch, schema, model)`` walks the live part of an architecture (docs/operators.md,
Liveness) and gives every live block the shapes of what it reads. ``SubNet`` builds its modules from
the plan, and inheritance (``nasrec.nets.inherit``) slices the supernet's shared weights by the same
plan, so the two cannot disagree about a shape.

``quantized`` and ``layer_bits`` are the one rule for which bit widths a network's layers are
fake-quantised at (docs/pim.md), read by the SubNet and the SuperNet alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nasrec.data.schema import DatasetSchema
from nasrec.errors import ConfigError
from nasrec.nets.paths import SupernetPath
from nasrec.space import BINARY_OPS, Architecture, Block, BlockLiveness
from nasrec.space.codesign import NAIVE, Knobs
from nasrec.space.model_config import ModelConfig

__all__ = ["BlockPlan", "CandidateShape", "SubNetPlan", "layer_bits", "plan_subnet", "quantized"]

#: (w_bits, a_bits) of a float layer: no fake quantisation.
FLOAT = (0, 0)


def quantized(model: ModelConfig, has_knobs: bool) -> bool:
    """Whether a network is fake-quantised: its model config asks for it, or a live block of it has
    co-design knobs (a knob-less network of a non-quantising config stays the float network)."""
    return model.quantize or has_knobs


def layer_bits(knobs: Knobs | None, is_quantized: bool) -> tuple[int, int]:
    """(w_bits, a_bits) of a block's layers (or the head's, ``knobs=None``): its knobs' bits, W8A8
    for a knob-less block of a quantised network, ``FLOAT`` when the network is not quantised."""
    if not is_quantized:
        return FLOAT
    k = knobs or NAIVE
    return k.w_bits, k.a_bits


Piece = tuple[int, int]


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
            elif b.dense_op in BINARY_OPS:
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


def plan_subnet(arch: Architecture, schema: DatasetSchema, model: ModelConfig) -> SubNetPlan:
    """The live part of ``arch`` with the shape of everything it reads (docs/operators.md)."""
    ds_tokens = model.ds_tokens
    live_all = SupernetPath.from_architecture(arch).liveness()
    shapes = [CandidateShape(schema.num_dense, schema.num_sparse, 0)]
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
