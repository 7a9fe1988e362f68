"""The PIM cost of an architecture: each live op mapped onto the hardware, then the totals.

The ops and their matrix products are those of the FLOPs walk (``nasrec.cost.flops.op_costs``); this
module only decides where each product runs (``Knobs`` of its block) and adds the embedding reads.
Totals (docs/pim.md):

* latency: the critical path through the block DAG. Block ``i`` starts when every block it reads is
  done (the raw input is ready once the embeddings are read) and takes ``max(dense op + dense-to-sparse,
  sparse op + fm)`` (each merge follows the op whose output it reads); the head follows the last block.
  With every block reading the one before, this is the sum over blocks of their dense/sparse maximum.
* energy: the sum over every op; area: every op's crossbars plus the digital array and the vector unit
  (once per design); embedding tables are memory, not compute area, and are left out.
* power efficiency: 2 x MACs / energy (GOPS/W), and inferences per joule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasrec.cost.flops import Gemm, OpCost, op_costs
from nasrec.cost.pim.components import (
    Part,
    crossbar_product,
    digital_product,
    embedding_reads,
    static_mvm,
    vector_work,
)
from nasrec.cost.pim.profile import DEFAULT_PROFILE, HardwareProfile, load_profile
from nasrec.data.schema import DatasetSchema
from nasrec.errors import ConfigError
from nasrec.space.architecture import Architecture
from nasrec.space.codesign import NAIVE, Knobs, check_embedding_bits
from nasrec.space.model_config import ModelConfig

__all__ = ["HEAD_KNOBS", "OpPim", "PimCost", "pim_cost"]

#: The head is no block and has no knobs: it stays at the naive precision.
HEAD_KNOBS = NAIVE


@dataclass(frozen=True)
class OpPim:
    """One op on the hardware: its parts run one after another.

    block: block index, None for the embeddings and the head
    op:    as in ``OpCost`` (fc, dot, ..., fm, dense_to_sparse, head), or "embeddings"
    knobs: the precision and mapping it was costed at (None for the embeddings)
    """

    block: int | None
    op: str
    stream: str
    knobs: Knobs | None
    parts: tuple[Part, ...]

    @property
    def latency_ns(self) -> float:
        return sum(p.latency_ns for p in self.parts)

    @property
    def energy_nj(self) -> float:
        return sum(p.energy_pj for p in self.parts) / 1e3

    @property
    def area_mm2(self) -> float:
        return sum(p.area_mm2 for p in self.parts)

    @property
    def crossbars(self) -> int:
        return sum(p.crossbars for p in self.parts)

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "block": self.block,
            "op": self.op,
            "stream": self.stream,
            **(self.knobs.to_dict() if self.knobs else {"w_bits": None, "a_bits": None, "dyn_map": None}),
            "latency_ns": self.latency_ns,
            "energy_nj": self.energy_nj,
            "area_mm2": self.area_mm2,
            "crossbars": self.crossbars,
            "macs": self.macs,
            "parts": [
                {
                    "name": p.name,
                    "unit": p.unit,
                    "latency_ns": p.latency_ns,
                    "energy_nj": p.energy_pj / 1e3,
                    "area_mm2": p.area_mm2,
                    "crossbars": p.crossbars,
                    "macs": p.macs,
                }
                for p in self.parts
            ],
        }


@dataclass(frozen=True)
class PimCost:
    """The PIM cost of one inference of one architecture on one profile.

    ops:            the embeddings, every live op in forward order, the head
    latency_ns:     critical path (module docstring); critical_path: the blocks on it, in order
    fixed_area_mm2: the digital array and the vector unit, included in area_mm2
    """

    profile: str
    embedding_bits: int
    ops: tuple[OpPim, ...]
    latency_ns: float
    critical_path: tuple[int, ...]
    fixed_area_mm2: float

    @property
    def energy_nj(self) -> float:
        return sum(op.energy_nj for op in self.ops)

    @property
    def area_mm2(self) -> float:
        return sum(op.area_mm2 for op in self.ops) + self.fixed_area_mm2

    @property
    def crossbars(self) -> int:
        return sum(op.crossbars for op in self.ops)

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    @property
    def gops_per_w(self) -> float:
        """2 ops per MAC over the energy: ops/nJ is GOPS/W."""
        return 2 * self.macs / self.energy_nj

    @property
    def inferences_per_j(self) -> float:
        return 1e9 / self.energy_nj

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "embedding_bits": self.embedding_bits,
            "latency_ns": self.latency_ns,
            "energy_nj": self.energy_nj,
            "area_mm2": self.area_mm2,
            "fixed_area_mm2": self.fixed_area_mm2,
            "crossbars": self.crossbars,
            "macs": self.macs,
            "gops_per_w": self.gops_per_w,
            "inferences_per_j": self.inferences_per_j,
            "critical_path": list(self.critical_path),
            "ops": [op.to_dict() for op in self.ops],
        }


def pim_cost(
    arch: Architecture,
    schema: DatasetSchema,
    model: ModelConfig,
    *,
    profile: HardwareProfile | str | Path = DEFAULT_PROFILE,
    knobs: Knobs | Sequence[Knobs] | None = None,
    embedding_bits: int = 8,
) -> PimCost:
    """The PIM cost of ``arch`` built with ``model`` on a dataset of ``schema``'s shape.

    knobs: ``None`` (the default) costs each block at its own knobs (``Block.knobs``; the naive
    mapping, W8A8 on xbar, for a knob-less block); one ``Knobs`` overrides every block's, a sequence
    gives one per block (``arch.num_blocks`` of them; dead blocks' are ignored).
    profile: a ``HardwareProfile`` or the name / path of one (``load_profile``).
    """
    hw = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
    per_block = arch.canonical().block_knobs() if knobs is None else _per_block(knobs, arch.num_blocks)
    embedding_bits = check_embedding_bits(embedding_bits)
    lookup = embedding_reads(hw, features=schema.num_sparse, width=model.embedding_dim, bits=embedding_bits)
    ops = [OpPim(None, "embeddings", "input", None, (lookup,))]
    for cost in op_costs(arch, schema, model):
        op_knobs = HEAD_KNOBS if cost.block is None else per_block[cost.block]
        ops.append(OpPim(cost.block, cost.op, cost.stream, op_knobs, _parts(hw, cost, op_knobs)))
    latency, path = _critical_path(arch.canonical(), ops)
    fixed = hw.digital.area_mm2 + hw.vector.area_mm2
    return PimCost(hw.name, embedding_bits, tuple(ops), latency, path, fixed)


def _per_block(knobs: Knobs | Sequence[Knobs], num_blocks: int) -> tuple[Knobs, ...]:
    if isinstance(knobs, Knobs):
        return (knobs,) * num_blocks
    found = tuple(knobs)
    if len(found) != num_blocks or not all(isinstance(k, Knobs) for k in found):
        raise ConfigError(f"knobs: expected one Knobs or {num_blocks} (one per block), got {len(found)}")
    return found


def _parts(hw: HardwareProfile, cost: OpCost, knobs: Knobs) -> tuple[Part, ...]:
    """The op's matrix products on crossbars or the digital array, then its vector work."""
    parts = [_product(hw, g, knobs) for g in cost.gemms]
    if cost.layernorm:
        parts.append(vector_work(hw, "layernorm", cost.layernorm))
    parts.extend(vector_work(hw, kind, elements) for kind, elements in cost.elementwise)
    return tuple(parts)


def _product(hw: HardwareProfile, g: Gemm, knobs: Knobs) -> Part:
    shape = {"rows": g.rows, "inputs": g.inputs, "outputs": g.outputs, "count": g.count}
    if g.weight:
        return static_mvm(hw, g.name, **shape, w_bits=knobs.w_bits, a_bits=knobs.a_bits)
    dynamic = crossbar_product if knobs.dyn_map == "xbar" else digital_product
    return dynamic(hw, g.name, **shape, bits=knobs.a_bits)


def _critical_path(arch: Architecture, ops: list[OpPim]) -> tuple[float, tuple[int, ...]]:
    """(latency, blocks on the longest path) over the block DAG of the canonical ``arch``."""
    # a block's dense and sparse ops by stream, its merges (and the embeddings, the head) by op
    latency = {
        (op.block, op.stream if op.stream in ("dense", "sparse") else op.op): op.latency_ns for op in ops
    }
    done = [latency[(None, "embeddings")]]  # when each candidate (0: the raw input) is ready
    came_from: list[int | None] = [None]  # the candidate each one waited for last
    for i, b in enumerate(arch.blocks):
        if b is None:
            done.append(0.0)
            came_from.append(None)
            continue
        reads = {*b.dense_reads(), *b.sparse_reads_of_dense_ops(), *b.sparse_reads()}
        start_from = max(sorted(reads or {0}), key=lambda j: done[j])  # ties: the earliest
        dense, sparse = latency.get((i, "dense"), 0.0), latency.get((i, "sparse"), 0.0)
        fm, ds = latency.get((i, "fm"), 0.0), latency.get((i, "dense_to_sparse"), 0.0)
        done.append(done[start_from] + max(dense + ds, sparse + fm))
        came_from.append(start_from)
    path = []
    node: int | None = len(arch.blocks)  # the head reads the last block
    while node:
        path.append(node - 1)
        node = came_from[node]
    return done[-1] + latency[(None, "head")], tuple(reversed(path))
