"""The exact space size (raw and canonical) against brute-force enumeration of tiny spaces."""

from __future__ import annotations

import itertools
import math

import pytest

from nasrec.space import BINARY_OPS, Architecture, Block, SearchSpace, load_space
from nasrec.space.codesign import Knobs
from nasrec.space.counting import count_canonical, count_raw
from nasrec.space.model_config import ModelConfig


def _subsets(n: int, k: int) -> list[tuple[int, ...]]:
    return [c for r in range(1, min(n, k) + 1) for c in itertools.combinations(range(n), r)]


def _all_blocks(space: SearchSpace, i: int, binary: bool) -> list[Block]:
    n = i + 1
    pairs = list(itertools.product(range(n), repeat=2)) if binary else [(0, 0)]
    knobs = [Knobs(*k) for k in itertools.product(*space.knob_choices().values())]
    return [
        Block(dop, sop, dw, sw, di, si, lr[0], lr[1], ds, fm, k)
        for dop, sop, dw, sw, di, si, lr, ds, fm, k in itertools.product(
            space.dense_ops,
            space.sparse_ops,
            space.dense_widths,
            space.sparse_widths,
            _subsets(n, space.max_dense_inputs),
            _subsets(n, space.max_sparse_inputs),
            pairs,
            space.dense_to_sparse,
            space.fm,
            knobs,
        )
    ]


def _brute_force(space: SearchSpace) -> tuple[int, int]:
    binary = any(op in BINARY_OPS for op in space.dense_ops)
    per_block = [_all_blocks(space, i, binary) for i in range(space.num_blocks)]
    canonical = {Architecture(blocks).canonical() for blocks in itertools.product(*per_block)}
    return math.prod(len(b) for b in per_block), len(canonical)


@pytest.mark.parametrize(
    "space",
    [
        SearchSpace(
            name="two_full",
            num_blocks=2,
            dense_ops=("fc", "dot", "gating", "sum"),
            sparse_ops=("efc", "attention"),
            dense_widths=(16,),
            sparse_widths=(16,),
        ),
        SearchSpace(
            name="three_small",
            num_blocks=3,
            dense_ops=("fc", "dot"),
            sparse_ops=("efc",),
            dense_widths=(16,),
            sparse_widths=(16,),
            max_dense_inputs=2,
            max_sparse_inputs=1,
        ),
        SearchSpace(
            name="two_cross",
            num_blocks=2,
            dense_ops=("fc", "sum", "cross"),
            sparse_ops=("efc",),
            dense_widths=(16,),
            sparse_widths=(16,),
        ),
        SearchSpace(
            name="three_sum",
            num_blocks=3,
            dense_ops=("sum",),
            sparse_ops=("efc",),
            dense_widths=(16,),
            sparse_widths=(16,),
            max_sparse_inputs=1,
            fm=(False,),
        ),
        SearchSpace(
            name="two_codesign",
            num_blocks=2,
            dense_ops=("fc", "dot"),
            sparse_ops=("efc", "attention"),
            dense_widths=(16,),
            sparse_widths=(16,),
            co_design=(("dyn_map", ("xbar", "dpe")), ("w_bits", (4, 8))),
            model=ModelConfig(quantize=True),
        ),
        SearchSpace(
            name="two_codesign_efc",
            num_blocks=2,
            dense_ops=("fc", "sum"),
            sparse_ops=("efc",),
            dense_widths=(16,),
            sparse_widths=(16,),
            co_design=(("a_bits", (2, 8)), ("dyn_map", ("xbar", "dpe"))),
            model=ModelConfig(quantize=True),
        ),
    ],
    ids=lambda s: s.name,
)
def test_canonical_count_matches_brute_force(space: SearchSpace) -> None:
    raw, canonical = _brute_force(space)
    assert count_canonical(space) == canonical
    binary = any(op in BINARY_OPS for op in space.dense_ops)
    if binary:
        assert count_raw(space) == raw


def test_reference_sizes() -> None:
    small = load_space("nasrec_small").size()
    assert small.raw == count_raw(load_space("nasrec_small"))
    assert f"{small.log10_raw:.1f}" == "39.7"
    assert f"{load_space('nasrec_full').size().log10_raw:.1f}" == "43.9"
    # 9 bit-width pairs and 2 mappings per block multiply the raw count by 18^7
    assert load_space("nasrec_small_pim").size().raw == small.raw * 18**7


def test_many_blocks_gives_no_exact_canonical_count() -> None:
    space = SearchSpace.from_dict({**load_space("nasrec_small").to_dict(), "num_blocks": 12})
    size = space.size()
    assert size.canonical is None and size.log10_canonical is None and size.log10_raw > 60
