"""The analytic counts against the real SubNet built from the same docs/operators.md rules.

params() must equal the SubNet's non-embedding parameter count, and the multiply-adds must equal what
torch's FlopCounterMode measures on a forward pass (it may miss the attention-score products when the
CPU SDPA kernel is not registered with it; every other product must match exactly).
"""

from __future__ import annotations

import numpy as np
import pytest

from nasrec.cost import op_costs, params
from nasrec.data.schema import DatasetSchema
from nasrec.space import load_space, sample_architecture
from nasrec.space.model_config import ModelConfig

torch = pytest.importorskip("torch")
subnet_module = pytest.importorskip("nasrec.nets.subnet")

BATCH = 2


def _cases() -> list[tuple[str, int]]:
    return [
        ("nasrec_small", 0),
        ("nasrec_full", 0),
        ("nasrec_full", 1),
        ("nasrec_full", 2),
        ("nasrec_cross", 0),
    ]


@pytest.mark.parametrize(("space_name", "seed"), _cases())
def test_params_and_macs_match_the_subnet(space_name: str, seed: int) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    rng = np.random.default_rng(seed)
    arch = sample_architecture(load_space(space_name), rng)
    schema = DatasetSchema.of_shape(int(rng.integers(0, 14)), [7] * int(rng.integers(1, 27)))
    for layernorm in (False, True):
        net = subnet_module.SubNet(arch, schema, ModelConfig(layernorm=layernorm), embedding_backend="torch")
        embedding = {id(p) for p in net.embeddings.parameters()}
        built = sum(p.numel() for p in net.parameters() if id(p) not in embedding)
        assert built == params(arch, schema, ModelConfig(layernorm=layernorm))
    net.eval()
    dense = torch.rand(BATCH, schema.num_dense)
    sparse = torch.zeros(BATCH, schema.num_sparse, dtype=torch.int64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(dense, sparse)
    measured = counter.get_total_flops() // 2 // BATCH  # FlopCounterMode counts 2 per multiply-add
    costs = op_costs(arch, schema, ModelConfig(layernorm=False))
    total = sum(c.macs for c in costs)
    scores = sum(g.macs for c in costs if c.op == "attention" for g in c.gemms if not g.weight)
    assert measured in (total, total - scores)
