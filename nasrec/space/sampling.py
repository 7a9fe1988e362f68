"""Random architectures and NASRec's mutation, both driven by the space's one input-count distribution.

``sample_architecture`` is also the supernet's "single-operator any-connection" path sampler: one
dense op and one sparse op per block, widths uniform, merge flags uniform over the space's choices
(Bernoulli(0.5) for [false, true]), input counts per ``space.input_count``. When the space declares
``co_design`` knobs, each block draws them too (uniformly, after its other genes), and they are micro
genes of the mutation; spaces without them draw exactly what they drew before.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nasrec.errors import ConfigError
from nasrec.space.architecture import Architecture, Block
from nasrec.space.codesign import Knobs
from nasrec.space.space import SearchSpace

MACRO_GENES = ("dense_inputs", "sparse_inputs", "left", "right")
MICRO_GENES = ("ops", "dense_width", "sparse_width", "dense_to_sparse", "fm")
MAX_ATTEMPTS = 1000


def _pick(rng: np.random.Generator, choices: tuple):  # type: ignore[type-arg]
    return choices[int(rng.integers(len(choices)))]


def _inputs(space: SearchSpace, block: int, max_inputs: int, rng: np.random.Generator) -> tuple[int, ...]:
    n = space.num_candidates(block)
    k = space.sample_input_count(n, max_inputs, rng)
    return tuple(sorted(int(j) for j in rng.choice(n, size=k, replace=False)))


def micro_genes(space: SearchSpace) -> tuple[str, ...]:
    """The micro genes a mutation picks from: NASRec's, then the knobs the space searches."""
    return MICRO_GENES + tuple(knob for knob, _ in space.co_design)


def sample_knobs(space: SearchSpace, rng: np.random.Generator) -> Knobs | None:
    """One block's knobs, each declared knob uniform over its choices; ``None`` (the naive mapping,
    no draw at all) when the space declares none."""
    if not space.co_design:
        return None
    return Knobs(**{knob: _pick(rng, choices) for knob, choices in space.knob_choices().items()})


def _sample_gene(space: SearchSpace, block: int, gene: str, rng: np.random.Generator) -> dict[str, object]:
    """A fresh value for one (macro or micro) gene of ``block``; "ops" resamples both ops together."""
    n = space.num_candidates(block)
    if gene == "ops":
        return {"dense_op": _pick(rng, space.dense_ops), "sparse_op": _pick(rng, space.sparse_ops)}
    if gene == "dense_width":
        return {gene: _pick(rng, space.dense_widths)}
    if gene == "sparse_width":
        return {gene: _pick(rng, space.sparse_widths)}
    if gene == "dense_inputs":
        return {gene: _inputs(space, block, space.max_dense_inputs, rng)}
    if gene == "sparse_inputs":
        return {gene: _inputs(space, block, space.max_sparse_inputs, rng)}
    if gene in ("left", "right"):
        return {gene: int(rng.integers(n))}
    if gene == "dense_to_sparse":
        return {gene: _pick(rng, space.dense_to_sparse)}
    if gene == "fm":
        return {gene: _pick(rng, space.fm)}
    raise ValueError(f"unknown gene {gene!r}")


def sample_block(space: SearchSpace, block: int, rng: np.random.Generator) -> Block:
    genes: dict[str, object] = {}
    for gene in (
        "ops",
        "dense_width",
        "sparse_width",
        "dense_inputs",
        "sparse_inputs",
        "left",
        "right",
        "dense_to_sparse",
        "fm",
    ):
        genes.update(_sample_gene(space, block, gene, rng))
    return Block(**genes, knobs=sample_knobs(space, rng))  # type: ignore[arg-type]


def sample_architecture(space: SearchSpace, rng: np.random.Generator) -> Architecture:
    """A random full genotype of ``space`` (every gene set, dead ones included)."""
    return Architecture(tuple(sample_block(space, i, rng) for i in range(space.num_blocks)))


def complete(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Architecture:
    """Fill the ``None`` genes/blocks of a canonical form with random values, so every gene can mutate."""
    blocks = []
    for i, b in enumerate(arch.blocks):
        if b is None:
            blocks.append(sample_block(space, i, rng))
            continue
        fresh = sample_block(space, i, rng)
        blocks.append(
            Block(
                **{
                    key: getattr(fresh, key) if getattr(b, key) is None else getattr(b, key)
                    for key in (
                        "dense_op",
                        "sparse_op",
                        "dense_width",
                        "sparse_width",
                        "dense_inputs",
                        "sparse_inputs",
                        "left",
                        "right",
                    )
                },
                dense_to_sparse=b.dense_to_sparse,
                fm=b.fm,
                knobs=b.knobs,
            )
        )
    return Architecture(tuple(blocks))


def mutate_once(arch: Architecture, space: SearchSpace, rng: np.random.Generator) -> Architecture:
    """One NASRec mutation: a block uniformly, macro or micro with probability 1/2, one gene resampled.

    May be a no-op (the new value can equal the old one, or the gene can be dead); ``mutate`` retries.
    """
    block = int(rng.integers(space.num_blocks))
    genes = MACRO_GENES if rng.random() < 0.5 else micro_genes(space)
    gene = genes[int(rng.integers(len(genes)))]
    old = arch.blocks[block]
    assert old is not None
    if gene in space.co_design_knobs:
        value = _pick(rng, space.co_design_knobs[gene])
        new = old.with_(knobs=replace(old.resolved_knobs, **{gene: value}))
    else:
        new = old.with_(**_sample_gene(space, block, gene, rng))
    return Architecture(arch.blocks[:block] + (new,) + arch.blocks[block + 1 :])


def mutate(
    arch: Architecture, space: SearchSpace, rng: np.random.Generator, n_mutations: int = 1
) -> Architecture:
    """A child of ``arch`` with ``n_mutations`` effective mutations; never functionally equal to ``arch``.

    Each mutation is retried alone (not piled up) until the canonical hash differs from every
    architecture seen along the chain, so the child also differs from the parent. ``None`` genes of a
    canonical parent are first filled at random. Returns a full genotype (dead genes kept, so later
    mutations can revive them).
    """
    if n_mutations < 1:
        raise ConfigError(f"n_mutations must be >= 1, got {n_mutations}")
    arch.validate(space)
    current = complete(arch, space, rng) if _has_none(arch) else arch
    seen = {arch.canonical_hash()}
    for _ in range(n_mutations):
        for _attempt in range(MAX_ATTEMPTS):
            child = mutate_once(current, space, rng)
            digest = child.canonical_hash()
            if digest not in seen:
                seen.add(digest)
                current = child
                break
        else:
            raise ConfigError(
                f"search space {space.name!r}: no single mutation changes this architecture "
                f"after {MAX_ATTEMPTS} attempts; the space has too few choices"
            )
    return current


def _has_none(arch: Architecture) -> bool:
    return any(
        b is None
        or None
        in (
            b.dense_op,
            b.sparse_op,
            b.dense_width,
            b.sparse_width,
            b.dense_inputs,
            b.sparse_inputs,
            b.left,
            b.right,
        )
        for b in arch.blocks
    )
