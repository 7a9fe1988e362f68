"""Random architectures (the supernet's path sampler) and NASRec's mutation."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields

import numpy as np
import pytest

from nasrec.errors import ConfigError
from nasrec.space import Architecture, SearchSpace, load_space, mutate, sample_architecture


def spaces() -> list[SearchSpace]:
    out = []
    for name in ("nasrec_small", "nasrec_full"):
        space = load_space(name)
        out += [space, SearchSpace.from_dict({**space.to_dict(), "input_count": "uniform"})]
    return out


@pytest.mark.parametrize("space", spaces(), ids=lambda s: f"{s.name}-{s.input_count}")
def test_samples_are_always_valid(space: SearchSpace) -> None:
    for seed in range(150):
        arch = sample_architecture(space, np.random.default_rng(seed))
        arch.validate(space)
        arch.canonical().validate(space)
        assert all(b is not None for b in arch.blocks)  # a full genotype


def test_sampling_is_deterministic_per_seed() -> None:
    space = load_space("nasrec_full")
    a = sample_architecture(space, np.random.default_rng(7))
    assert a == sample_architecture(space, np.random.default_rng(7))
    assert a != sample_architecture(space, np.random.default_rng(8))


@pytest.mark.parametrize(
    ("input_count", "expected"),
    [("binomial-0.5", (1 / 8, 3 / 8, 3 / 8, 1 / 8)), ("uniform", (1 / 4,) * 4)],
)
def test_input_count_frequencies(input_count: str, expected: tuple[float, ...]) -> None:
    space = SearchSpace.from_dict({**load_space("nasrec_small").to_dict(), "input_count": input_count})
    rng = np.random.default_rng(0)
    counts: Counter[int] = Counter()
    draws = 0
    for _ in range(600):
        arch = sample_architecture(space, rng)
        for b in arch.blocks[3:]:  # blocks 3..6 have >= 4 candidates
            counts[len(b.dense_inputs)] += 1  # type: ignore[union-attr, arg-type]
            counts[len(b.sparse_inputs)] += 1  # type: ignore[union-attr, arg-type]
            draws += 2
    freqs = tuple(counts[k] / draws for k in (1, 2, 3, 4))
    assert freqs == pytest.approx(expected, abs=0.025)
    # Block 1 has 2 candidates: binomial gives 1 or 2 with probability 1/2 each, like uniform.
    assert set(len(sample_architecture(space, rng).blocks[1].dense_inputs) for _ in range(50)) == {1, 2}  # type: ignore[union-attr, arg-type]


def test_ops_widths_and_flags_are_uniform() -> None:
    space = load_space("nasrec_full")
    rng = np.random.default_rng(1)
    blocks = [b for _ in range(400) for b in sample_architecture(space, rng).blocks]
    n = len(blocks)
    dense = Counter(b.dense_op for b in blocks)  # type: ignore[union-attr]
    assert {k: v / n for k, v in dense.items()} == pytest.approx(
        dict.fromkeys(space.dense_ops, 0.25), abs=0.03
    )
    assert sum(b.fm for b in blocks) / n == pytest.approx(0.5, abs=0.03)  # type: ignore[union-attr]
    assert sum(b.dense_to_sparse for b in blocks) / n == pytest.approx(0.5, abs=0.03)  # type: ignore[union-attr]
    assert set(b.sparse_width for b in blocks) == set(space.sparse_widths)  # type: ignore[union-attr]


GROUPS = {
    "dense_op": "ops",
    "sparse_op": "ops",
    "dense_width": "dense_width",
    "sparse_width": "sparse_width",
    "dense_inputs": "dense_inputs",
    "sparse_inputs": "sparse_inputs",
    "left": "left",
    "right": "right",
    "dense_to_sparse": "dense_to_sparse",
    "fm": "fm",
}


def _changed(a: Architecture, b: Architecture) -> set[tuple[int, str]]:
    return {
        (i, GROUPS[f.name])
        for i, (x, y) in enumerate(zip(a.blocks, b.blocks, strict=True))
        for f in fields(x)  # type: ignore[arg-type]
        if getattr(x, f.name) != getattr(y, f.name)
    }


@pytest.mark.parametrize("name", ["nasrec_small", "nasrec_full"])
def test_mutation_is_never_a_no_op_and_changes_one_gene(name: str) -> None:
    space = load_space(name)
    rng = np.random.default_rng(3)
    for _ in range(150):
        parent = sample_architecture(space, rng)
        child = mutate(parent, space, rng)
        child.validate(space)
        assert child.canonical_hash() != parent.canonical_hash()
        assert len(_changed(parent, child)) == 1  # one gene of one block: retries do not pile up


def test_several_mutations_and_canonical_parents() -> None:
    space = load_space("nasrec_full")
    rng = np.random.default_rng(4)
    for _ in range(60):
        parent = sample_architecture(space, rng).canonical()  # has None genes and pruned blocks
        child = mutate(parent, space, rng, n_mutations=3)
        child.validate(space)
        assert child.canonical_hash() != parent.canonical_hash()
        assert all(b is not None for b in child.blocks)


def test_mutation_is_deterministic_per_seed() -> None:
    space = load_space("nasrec_small")
    parent = sample_architecture(space, np.random.default_rng(0))
    assert mutate(parent, space, np.random.default_rng(5)) == mutate(parent, space, np.random.default_rng(5))


def test_mutation_in_a_space_without_choices_fails_clearly() -> None:
    frozen = SearchSpace(
        name="frozen",
        num_blocks=1,
        dense_ops=("fc",),
        sparse_ops=("efc",),
        dense_widths=(16,),
        sparse_widths=(16,),
        dense_to_sparse=(False,),
        fm=(False,),
    )
    arch = sample_architecture(frozen, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="no single mutation changes"):
        mutate(arch, frozen, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="n_mutations"):
        mutate(arch, frozen, np.random.default_rng(0), n_mutations=0)
