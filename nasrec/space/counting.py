"""Exact size of a search space: raw genotypes and distinct canonical architectures.

Raw: per block i (n = i + 1 candidates) the product of the dense-input sets, sparse-input sets, n^2
left/right pairs and every micro choice, as NASRec counts (10^39.7 Small, 10^43.9 Full).

Canonical: dynamic programming over the blocks from last to first. The state is which streams
(dense, sparse) of each earlier block are demanded by later live ops; a block contributes as many
canonical options as its live genes allow, and the demands it adds are OR-ed into the state. An OR
of independent choices is a product under the subset-sum ("zeta") transform, and the zeta transform
of "input sets drawn from the candidates allowed by mask M" has a closed form (binomials in the
number of allowed candidates). So the whole count stays in the zeta domain; only the two bits of
the block being resolved are inverted (Moebius) at each step. Exact integers throughout.

Co-design knobs (``co_design``) multiply in: every block's raw genotype and every live block's
canonical options by the w_bits x a_bits choices, and by the dyn_map choices where the block has a
live Dot-Product or attention (elsewhere canonical forms fix dyn_map, it places nothing).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace

# 4^(blocks) states at the first step; beyond this the exact count is not attempted.
MAX_BLOCKS_FOR_CANONICAL = 10


def _input_sets(n: int, max_inputs: int) -> int:
    return sum(math.comb(n, k) for k in range(1, min(n, max_inputs) + 1))


def _knob_counts(space: SearchSpace) -> tuple[int, int]:
    """(w_bits x a_bits choices, dyn_map choices) of one block."""
    choices = space.knob_choices()
    return len(choices["w_bits"]) * len(choices["a_bits"]), len(choices["dyn_map"])


def count_raw(space: SearchSpace) -> int:
    bits, dyn = _knob_counts(space)
    micro = (
        len(space.dense_ops)
        * len(space.sparse_ops)
        * len(space.dense_widths)
        * len(space.sparse_widths)
        * len(space.dense_to_sparse)
        * len(space.fm)
        * bits
        * dyn
    )
    total = 1
    for i in range(space.num_blocks):
        n = i + 1
        total *= (
            _input_sets(n, space.max_dense_inputs) * _input_sets(n, space.max_sparse_inputs) * n * n * micro
        )
    return total


def _sets_within(allowed: np.ndarray, max_inputs: int) -> np.ndarray:
    """Number of 1..max_inputs-element subsets of ``allowed`` candidates (elementwise, exact)."""
    table = {a: _input_sets(a, max_inputs) for a in set(allowed.tolist())}
    return np.array([table[a] for a in allowed.tolist()], dtype=object)


def _block_zeta(space: SearchSpace, i: int) -> dict[int, np.ndarray]:
    """Zeta transform, over the demand bits of candidates 1..i, of block i's canonical options,
    for each demand delta (bit 0: dense output live, bit 1: sparse output live)."""
    bits = 2 * i
    masks = np.arange(1 << bits, dtype=np.int64)
    dense_allowed = np.ones_like(masks)  # candidate 0 is always readable
    sparse_allowed = np.ones_like(masks)
    for c in range(i):
        dense_allowed += (masks >> (2 * c)) & 1
        sparse_allowed += (masks >> (2 * c + 1)) & 1
    d_sets = _sets_within(dense_allowed, space.max_dense_inputs)
    s_sets = _sets_within(sparse_allowed, space.max_sparse_inputs)
    m = dense_allowed.astype(object)
    nd, ns, nsop = len(space.dense_widths), len(space.sparse_widths), len(space.sparse_ops)
    bits, dyn = _knob_counts(space)
    attention = "attention" in space.sparse_ops
    ops = set(space.dense_ops)
    ordered_pairs = (("gating" in ops) + ("cross" in ops)) * m * m  # left/right matter; sum's do not
    no_dot = nd * (("fc" in ops) * d_sets + ordered_pairs + ("sum" in ops) * (m * (m + 1) // 2))
    dot = ("dot" in ops) * nd * d_sets * s_sets
    # a live Dot-Product or attention makes dyn_map count
    sparse_ops = (nsop - attention) + attention * dyn
    sparse = ns * sparse_ops * s_sets
    # dot shares its sparse inputs with the sparse op
    both = bits * (no_dot * sparse + dot * dyn * ns * nsop)
    sparse = bits * sparse
    dense_only = bits * (no_dot + dot * dyn)
    out: dict[int, np.ndarray] = {}
    for delta in (1, 2, 3):
        dense_live, sparse_live = bool(delta & 1), bool(delta & 2)
        total = np.zeros(len(masks), dtype=object)
        for fm in space.fm if dense_live else (False,):
            for ds in space.dense_to_sparse if sparse_live else (False,):
                dense_op = dense_live or (ds and sparse_live)
                sparse_op = sparse_live or (fm and dense_live)
                if dense_op and sparse_op:
                    total = total + both
                elif dense_op:
                    total = total + dense_only
                else:
                    total = total + sparse
        out[delta] = total
    return out


def count_canonical(space: SearchSpace) -> int | None:
    """Number of distinct canonical architectures, or None above ``MAX_BLOCKS_FOR_CANONICAL`` blocks."""
    n = space.num_blocks
    if n > MAX_BLOCKS_FOR_CANONICAL:
        return None
    # Zeta-domain state over the demand bits of candidates 1..n: only the last block is demanded
    # (both streams); zeta of a point mass at mask P is [P subset of M].
    size = 1 << (2 * n)
    top = 3 << (2 * (n - 1))
    state = np.array([int((mask & top) == top) for mask in range(size)], dtype=object)
    for i in range(n - 1, -1, -1):
        f = state.reshape(4, 1 << (2 * i))  # row = demand bits of block i's output
        per_delta = {0: f[0], 1: f[1] - f[0], 2: f[2] - f[0], 3: f[3] - f[1] - f[2] + f[0]}
        g = _block_zeta(space, i)
        state = per_delta[0] + sum(per_delta[d] * g[d] for d in (1, 2, 3))
    return int(state[0])
