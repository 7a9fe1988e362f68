"""Per-stream liveness: which block outputs, ops and merges can influence the logit.

This is the "Liveness" section of docs/operators.md, in code. The head reads the last block's dense
and sparse outputs. Inside a block (E = embedding dim):

    dense output  = dense op output (+ FM term when fm)       FM term reads the sparse op output
    sparse output = [sparse op output ; DS tokens when ds]    DS tokens read the dense op output

so, walking from the last block backwards,

    dense op  live  <=>  dense output live  or (ds and sparse output live)
    sparse op live  <=>  sparse output live or (fm and dense output live)
    fm   live       <=>  fm and dense output live
    ds   live       <=>  ds and sparse output live

and a live op makes the streams it reads live: fc -> dense of dense_inputs; dot -> dense of
dense_inputs and sparse of sparse_inputs; gating/sum/cross -> dense of left and right; the sparse op ->
sparse of sparse_inputs. Raw inputs (candidate 0) are always available.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Reads(Protocol):
    """What liveness needs of a block: a genotype ``Block`` or a supernet ``BlockPath``."""

    dense_to_sparse: bool
    fm: bool

    @property
    def has_dense_op(self) -> bool: ...

    @property
    def has_sparse_op(self) -> bool: ...

    def dense_reads(self) -> tuple[int, ...]: ...

    def sparse_reads_of_dense_ops(self) -> tuple[int, ...]: ...

    def sparse_reads(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class BlockLiveness:
    """What of one block reaches the head."""

    dense_out: bool
    sparse_out: bool
    dense_op: bool
    sparse_op: bool
    fm: bool
    dense_to_sparse: bool

    @property
    def alive(self) -> bool:
        return self.dense_out or self.sparse_out


DEAD = BlockLiveness(False, False, False, False, False, False)


def block_liveness(blocks: Sequence[Reads | None]) -> tuple[BlockLiveness, ...]:
    """Liveness of every block (``DEAD`` for blocks that cannot reach the head)."""
    n = len(blocks)
    dense_out = [False] * (n + 1)  # indexed by candidate: j+1 = block j
    sparse_out = [False] * (n + 1)
    if n:
        dense_out[n] = sparse_out[n] = True
    result: list[BlockLiveness] = [DEAD] * n
    for i in range(n - 1, -1, -1):
        block = blocks[i]
        d_out, s_out = dense_out[i + 1], sparse_out[i + 1]
        if block is None or not (d_out or s_out):
            continue
        d_op = (d_out or (block.dense_to_sparse and s_out)) and block.has_dense_op
        s_op = (s_out or (block.fm and d_out)) and block.has_sparse_op
        if d_op:
            for j in block.dense_reads():
                dense_out[j] = True
            for j in block.sparse_reads_of_dense_ops():
                sparse_out[j] = True
        if s_op:
            for j in block.sparse_reads():
                sparse_out[j] = True
        result[i] = BlockLiveness(
            dense_out=d_out,
            sparse_out=s_out,
            dense_op=d_op,
            sparse_op=s_op,
            fm=bool(block.fm and d_out and s_op),
            dense_to_sparse=bool(block.dense_to_sparse and s_out and d_op),
        )
    return tuple(result)
