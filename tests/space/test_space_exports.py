"""The public surface other modules import (supernet, search, training) stays exactly this."""

from __future__ import annotations

import nasrec.cost
import nasrec.space


def test_space_exports() -> None:
    assert set(nasrec.space.__all__) == {
        "SearchSpace", "SpaceSize", "load_space", "list_spaces", "Architecture", "Block", "BlockLiveness",
        "sample_architecture", "mutate", "dot_tokens", "reference_space_name", "DENSE_OPS", "SPARSE_OPS",
        "BINARY_OPS",
    }  # fmt: skip
    for name in nasrec.space.__all__:
        assert getattr(nasrec.space, name) is not None


def test_cost_exports() -> None:
    assert set(nasrec.cost.__all__) >= {"flops", "params", "embedding_params", "op_costs", "OpCost", "Gemm"}


def test_dot_tokens_table() -> None:
    widths = (16, 32, 64, 128, 256, 512, 768, 1024)
    assert [nasrec.space.dot_tokens(d) for d in widths] == [6, 8, 11, 16, 23, 32, 39, 45]
