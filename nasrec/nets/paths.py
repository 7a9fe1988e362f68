"""Paths through the supernet, and the samplers that draw one per training step.

A ``SupernetPath`` generalises an ``Architecture``: per block, *sets* of active dense and sparse ops (their
outputs are summed per stream) and *sets* of left / right operands of the binary ops. Training needs
that for any-path and full-path sampling; an Architecture is the special case of one op of each kind
and one left / one right operand (``SupernetPath.from_architecture``).

Several left (or right) candidates are combined by **zero-padding each to the widest and summing**
(the same padding rule the binary ops apply to left vs right). So the gating matrix stays
``w x w`` with ``w`` at most the widest candidate, instead of growing with the number of candidates
as a concatenation would; with one candidate this is exactly the Architecture's semantics.

Samplers (``PathSampler(space, strategy, warmup_steps=K)``; each draw takes a numpy Generator, so a
run is reproducible and checkpointable through ``rng.bit_generator.state``):

    single-op-any-connection  the paper's default = ``nasrec.space.sample_architecture``: one dense op and
                              one sparse op per block, 1..max inputs drawn from the space's input-count
                              distribution
    single-path               one op of each kind, one dense input, one sparse input, one left, one right
    any-path                  1..all ops of each kind (count from the space's input-count distribution
                              over the op list), inputs as single-op-any-connection, one left, one right
    full-path                 every op active, every candidate connected (dense, sparse, left and right),
                              widths at their maxima, both merge flags on

In a space with co-design knobs every path also carries per-block ``knobs`` (the precision its
blocks are fake-quantised at): drawn per block like the other choices (single-op-any-connection
through ``sample_architecture``; single-path and any-path uniformly), the space's highest precision
on the full path, its lowest on the sandwich rule's smallest path.

Full-path warm-up: at training step t (the caller's step counter) the full path is used with
probability ``max(0, 1 - t / K)``; one draw per step for the whole network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from nasrec.errors import ConfigError
from nasrec.space import Architecture, BlockLiveness, SearchSpace, sample_architecture
from nasrec.space.architecture import BINARY_OPS
from nasrec.space.codesign import Knobs
from nasrec.space.liveness import block_liveness
from nasrec.space.sampling import sample_knobs

STRATEGIES = ("single-op-any-connection", "single-path", "any-path", "full-path")


@dataclass(frozen=True)
class BlockPath:
    """The active part of one block. Inputs are candidate indices (0 = raw inputs, j+1 = block j).

    dense_ops / sparse_ops: active ops (outputs summed per stream); dense_width D / sparse_width T;
    dense_inputs (fc, dot) and sparse_inputs (sparse ops, dot) are concatenated; left / right (gating,
    sum) are each zero-padded and summed; dense_to_sparse / fm: the merge flags; knobs: the block's
    co-design knobs (None: the naive mapping).
    """

    dense_ops: tuple[str, ...]
    sparse_ops: tuple[str, ...]
    dense_width: int | None
    sparse_width: int | None
    dense_inputs: tuple[int, ...]
    sparse_inputs: tuple[int, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    dense_to_sparse: bool
    fm: bool
    knobs: Knobs | None = None

    def __post_init__(self) -> None:
        for key in ("dense_inputs", "sparse_inputs", "left", "right"):
            object.__setattr__(self, key, tuple(sorted({int(i) for i in getattr(self, key)})))
        object.__setattr__(self, "dense_ops", tuple(self.dense_ops))
        object.__setattr__(self, "sparse_ops", tuple(self.sparse_ops))
        object.__setattr__(self, "dense_to_sparse", bool(self.dense_to_sparse))
        object.__setattr__(self, "fm", bool(self.fm))

    def dense_reads(self) -> tuple[int, ...]:
        """Candidates whose dense output the dense ops read."""
        reads: set[int] = set()
        for op in self.dense_ops:
            reads.update((*self.left, *self.right) if op in BINARY_OPS else self.dense_inputs)
        return tuple(sorted(reads))

    def sparse_reads_of_dense_ops(self) -> tuple[int, ...]:
        return self.sparse_inputs if "dot" in self.dense_ops else ()

    def sparse_reads(self) -> tuple[int, ...]:
        return self.sparse_inputs if self.sparse_ops else ()

    @property
    def has_dense_op(self) -> bool:
        return bool(self.dense_ops)

    @property
    def has_sparse_op(self) -> bool:
        return bool(self.sparse_ops)


@dataclass(frozen=True)
class SupernetPath:
    """A path through the supernet: one ``BlockPath`` per block (``None`` for a pruned block)."""

    blocks: tuple[BlockPath | None, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @staticmethod
    def from_architecture(arch: Architecture) -> SupernetPath:
        """The path that computes ``arch`` (full genotype or canonical form)."""
        return _path_of(arch)

    def liveness(self) -> tuple[BlockLiveness, ...]:
        """Per block, which streams, ops and merges reach the head (docs/operators.md, Liveness)."""
        return _liveness(self)

    @property
    def has_knobs(self) -> bool:
        """Whether a live block carries co-design knobs (``nasrec.nets.plan.quantized``)."""
        return any(
            b is not None and b.knobs is not None and live.alive
            for b, live in zip(self.blocks, self.liveness(), strict=True)
        )


def as_path(path_or_arch: SupernetPath | Architecture) -> SupernetPath:
    if isinstance(path_or_arch, SupernetPath):
        return path_or_arch
    if isinstance(path_or_arch, Architecture):
        return _path_of(path_or_arch)
    raise TypeError(f"expected a SupernetPath or an Architecture, got {type(path_or_arch).__name__}")


def _opt(value: int | None) -> tuple[int, ...]:
    return () if value is None else (value,)


@lru_cache(maxsize=4096)
def _path_of(arch: Architecture) -> SupernetPath:
    blocks: list[BlockPath | None] = []
    # the canonical form's knobs: a dead block's, or a dyn_map with nothing to place, are no knobs
    canonical = arch.canonical().blocks
    for b, c in zip(arch.blocks, canonical, strict=True):
        if b is None:
            blocks.append(None)
            continue
        blocks.append(
            BlockPath(
                dense_ops=() if b.dense_op is None else (b.dense_op,),
                sparse_ops=() if b.sparse_op is None else (b.sparse_op,),
                dense_width=b.dense_width,
                sparse_width=b.sparse_width,
                dense_inputs=b.dense_inputs or (),
                sparse_inputs=b.sparse_inputs or (),
                left=_opt(b.left),
                right=_opt(b.right),
                dense_to_sparse=b.dense_to_sparse,
                fm=b.fm,
                knobs=None if c is None else c.knobs,
            )
        )
    return SupernetPath(tuple(blocks))


@lru_cache(maxsize=4096)
def _liveness(path: SupernetPath) -> tuple[BlockLiveness, ...]:
    return block_liveness(path.blocks)


# ---- samplers ---------------------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, choices: tuple) -> object:  # type: ignore[type-arg]
    return choices[int(rng.integers(len(choices)))]


def _subset(rng: np.random.Generator, n: int, k: int) -> tuple[int, ...]:
    return tuple(sorted(int(j) for j in rng.choice(n, size=k, replace=False)))


def _inputs(space: SearchSpace, block: int, max_inputs: int, rng: np.random.Generator) -> tuple[int, ...]:
    n = space.num_candidates(block)
    return _subset(rng, n, space.sample_input_count(n, max_inputs, rng))


def _ops(space: SearchSpace, ops: tuple[str, ...], rng: np.random.Generator) -> tuple[str, ...]:
    k = space.sample_input_count(len(ops), len(ops), rng)
    return tuple(ops[j] for j in _subset(rng, len(ops), k))


def _extreme_knobs(space: SearchSpace, pick: Callable[..., int], dyn_map: str) -> Knobs | None:
    """The space's lowest (``min``) or highest (``max``) precision; None without co-design knobs."""
    if not space.co_design:
        return None
    choices = space.knob_choices()
    return Knobs(pick(choices["w_bits"]), pick(choices["a_bits"]), dyn_map)


def full_path(space: SearchSpace) -> SupernetPath:
    """Every op active, every candidate connected, max widths, both merges on (highest precision)."""
    knobs = _extreme_knobs(space, max, space.knob_choices()["dyn_map"][0])
    blocks = []
    for i in range(space.num_blocks):
        every = tuple(range(space.num_candidates(i)))
        blocks.append(
            BlockPath(
                dense_ops=space.dense_ops,
                sparse_ops=space.sparse_ops,
                dense_width=max(space.dense_widths),
                sparse_width=max(space.sparse_widths),
                dense_inputs=every,
                sparse_inputs=every,
                left=every,
                right=every,
                dense_to_sparse=True in space.dense_to_sparse,
                fm=True in space.fm,
                knobs=knobs,
            )
        )
    return SupernetPath(tuple(blocks))


def smallest_path(space: SearchSpace, rng: np.random.Generator) -> SupernetPath:
    """The sandwich rule's small end: single-path draws at the space's smallest widths and lowest
    precision, merges off where the space allows it."""
    blocks = []
    for i in range(space.num_blocks):
        block = _single_path_block(space, i, rng, any_ops=False)
        blocks.append(
            replace(
                block,
                dense_width=min(space.dense_widths),
                sparse_width=min(space.sparse_widths),
                dense_to_sparse=False not in space.dense_to_sparse,
                fm=False not in space.fm,
                knobs=None if block.knobs is None else _extreme_knobs(space, min, block.knobs.dyn_map),
            )
        )
    return SupernetPath(tuple(blocks))


def _single_path_block(space: SearchSpace, i: int, rng: np.random.Generator, any_ops: bool) -> BlockPath:
    n = space.num_candidates(i)
    if any_ops:
        dense_ops, sparse_ops = _ops(space, space.dense_ops, rng), _ops(space, space.sparse_ops, rng)
        dense_inputs = _inputs(space, i, space.max_dense_inputs, rng)
        sparse_inputs = _inputs(space, i, space.max_sparse_inputs, rng)
    else:
        dense_ops = (str(_pick(rng, space.dense_ops)),)
        sparse_ops = (str(_pick(rng, space.sparse_ops)),)
        dense_inputs, sparse_inputs = (int(rng.integers(n)),), (int(rng.integers(n)),)
    return BlockPath(
        dense_ops=dense_ops,
        sparse_ops=sparse_ops,
        dense_width=int(_pick(rng, space.dense_widths)),  # type: ignore[call-overload]
        sparse_width=int(_pick(rng, space.sparse_widths)),  # type: ignore[call-overload]
        dense_inputs=dense_inputs,
        sparse_inputs=sparse_inputs,
        left=(int(rng.integers(n)),),
        right=(int(rng.integers(n)),),
        dense_to_sparse=bool(_pick(rng, space.dense_to_sparse)),
        fm=bool(_pick(rng, space.fm)),
        knobs=sample_knobs(space, rng),
    )


class PathSampler:
    """Draws the path of each training step: ``sampler.sample(rng, step)``.

    strategy: one of ``STRATEGIES``; warmup_steps K: full-path probability ``max(0, 1 - step / K)``
    (0 disables the warm-up). The caller owns the step counter and the Generator.
    """

    def __init__(
        self, space: SearchSpace, strategy: str = "single-op-any-connection", *, warmup_steps: int = 0
    ):
        if strategy not in STRATEGIES:
            raise ConfigError(
                f"path sampling strategy {strategy!r} is unknown; choose one of {list(STRATEGIES)}"
            )
        if warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.space = space
        self.strategy = strategy
        self.warmup_steps = int(warmup_steps)
        self._full = full_path(space)

    def full_path_probability(self, step: int) -> float:
        if self.warmup_steps == 0:
            return 0.0
        return max(0.0, 1.0 - step / self.warmup_steps)

    def sample(self, rng: np.random.Generator, step: int = 0) -> SupernetPath:
        """The path for training step ``step`` (one warm-up draw, then the strategy's draw)."""
        if self.warmup_steps and rng.random() < self.full_path_probability(step):
            return self._full
        return self.sample_strategy(rng)

    def sandwich(self, rng: np.random.Generator, step: int, sampled: int) -> list[SupernetPath]:
        """The sandwich rule's paths for one step: the largest (the full path), the smallest, and
        ``sampled`` draws of ``sample``."""
        return [self._full, smallest_path(self.space, rng), *(self.sample(rng, step) for _ in range(sampled))]

    def sample_strategy(self, rng: np.random.Generator) -> SupernetPath:
        """A path from the strategy alone (no warm-up)."""
        if self.strategy == "full-path":
            return self._full
        if self.strategy == "single-op-any-connection":
            return SupernetPath.from_architecture(sample_architecture(self.space, rng))
        any_ops = self.strategy == "any-path"
        return SupernetPath(
            tuple(_single_path_block(self.space, i, rng, any_ops) for i in range(self.space.num_blocks))
        )
