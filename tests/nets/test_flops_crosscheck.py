"""Two implementations of docs/operators.md kept honest: the analytic multiply-adds of
``nasrec.cost.flops`` equal what ``torch.utils.flop_counter.FlopCounterMode`` counts on a SubNet's
forward pass (no LayerNorm), for random architectures.

FlopCounterMode counts 2 per multiply-add and has no formula for the CPU flash-attention kernel; we
register torch's own SDPA formula for it, so the attention scores / weighted sums are checked too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from nasrec.cost import op_costs
from nasrec.data.schema import DatasetSchema
from nasrec.nets.subnet import SubNet
from nasrec.space import load_space, sample_architecture

BATCH = 3


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001, ANN003, ARG001
    return sdpa_flop_count(query_shape, key_shape, value_shape)


CPU_SDPA = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


def measured_macs(net: SubNet, schema: DatasetSchema) -> int:
    dense = torch.rand(BATCH, schema.num_dense)
    sparse = torch.zeros(BATCH, schema.num_sparse, dtype=torch.int64)
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=CPU_SDPA) as counter:
        net(dense, sparse)
    total = counter.get_total_flops()
    assert total % (2 * BATCH) == 0
    return total // 2 // BATCH


@pytest.mark.parametrize("space_name", ["nasrec_small", "nasrec_full", "nasrec_cross"])
def test_analytic_macs_equal_flop_counter(space_name: str) -> None:
    rng = np.random.default_rng(0)
    space = load_space(space_name)
    for k in range(15):
        schema = DatasetSchema.of_shape([13, 1, 3, 0, 16][k % 5], [5] * int(rng.integers(1, 27)))
        arch = sample_architecture(space, rng)
        model = dataclasses.replace(space.model, layernorm=False)
        net = SubNet(arch, schema, model, embedding_backend="torch").eval()
        analytic = sum(c.macs for c in op_costs(arch, schema, model))
        assert measured_macs(net, schema) == analytic, f"architecture {k}: {arch.to_json()}"
