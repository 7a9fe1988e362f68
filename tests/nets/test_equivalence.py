"""The supernet path of an architecture computes exactly what the standalone SubNet computes with the
inherited weights (docs/operators.md: one definition, sliced in the supernet)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nasrec.data.schema import DatasetSchema
from nasrec.nets import SuperNet, inherit_subnet
from nasrec.space import load_space, sample_architecture
from nasrec.space.model_config import ModelConfig

from .conftest import TINY, randomize_, tiny_batch

ARCHS_PER_SPACE = 50


@pytest.mark.parametrize("layernorm", [True, False], ids=["ln", "no-ln"])
@pytest.mark.parametrize("space_name", ["nasrec_small", "nasrec_full", "nasrec_cross"])
def test_supernet_path_equals_inherited_subnet(space_name: str, layernorm: bool) -> None:
    torch.manual_seed(0)
    space = load_space(space_name)
    space = dataclasses.replace(space, model=ModelConfig(layernorm=layernorm))
    supernet = SuperNet(TINY, space, embedding_backend="torch").double()
    randomize_(supernet, seed=1, scale=1.0 if layernorm else 0.3)
    batch = tiny_batch(size=8)
    rng = np.random.default_rng(2)
    live_dense_ops = set()
    for k in range(ARCHS_PER_SPACE):
        arch = sample_architecture(space, rng)
        live_dense_ops |= {b.dense_op for b in arch.canonical().blocks if b is not None}
        expected = supernet(batch, arch)
        subnet = inherit_subnet(supernet, arch)
        assert subnet.model.layernorm is layernorm
        got = subnet(batch)
        assert got.shape == (8,) and torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
        if k % 10 == 0:  # the canonical form is the same network
            torch.testing.assert_close(supernet(batch, arch.canonical()), expected, rtol=1e-12, atol=1e-12)
    assert set(space.dense_ops) <= live_dense_ops  # every dense op of the space was checked


@pytest.mark.parametrize("space_name", ["nasrec_full", "nasrec_cross"])
@pytest.mark.parametrize("num_dense", [0, 1, 16])
def test_equivalence_with_unusual_raw_widths(num_dense: int, space_name: str) -> None:
    """No dense features, one (Avazu's), or as many as the embedding dim (Dot-Product skips P)."""
    torch.manual_seed(0)
    schema = DatasetSchema.of_shape(num_dense, [6, 9, 4])
    space = load_space(space_name)
    supernet = SuperNet(schema, space, embedding_backend="torch").double()
    randomize_(supernet, seed=3)
    batch = tiny_batch(schema, size=5, seed=4)
    rng = np.random.default_rng(5)
    for _ in range(10):
        arch = sample_architecture(space, rng)
        torch.testing.assert_close(inherit_subnet(supernet, arch)(batch), supernet(batch, arch))


@pytest.mark.parametrize("space_name", ["nasrec_full", "nasrec_cross"])
def test_float32_equivalence_within_1e5(space_name: str) -> None:
    torch.manual_seed(0)
    space = load_space(space_name)
    supernet = SuperNet(TINY, space, embedding_backend="torch")
    randomize_(supernet, seed=6)
    batch = tiny_batch(size=8, dtype=torch.float32)
    rng = np.random.default_rng(7)
    for _ in range(10):
        arch = sample_architecture(space, rng)
        diff = (inherit_subnet(supernet, arch)(batch) - supernet(batch, arch)).abs().max().item()
        assert diff < 1e-5


@pytest.mark.parametrize("space_name", ["nasrec_small", "nasrec_full", "nasrec_cross"])
def test_only_live_ops_take_part(space_name: str) -> None:
    """Dead blocks and inactive ops get no gradient: the supernet never computes them."""
    torch.manual_seed(0)
    space = load_space(space_name)
    supernet = SuperNet(TINY, space, embedding_backend="torch")
    batch = tiny_batch(dtype=torch.float32)
    rng = np.random.default_rng(8)
    for _ in range(10):
        arch = sample_architecture(space, rng)
        supernet.zero_grad(set_to_none=True)
        supernet(batch, arch).sum().backward()
        for i, (block, live) in enumerate(zip(arch.blocks, arch.liveness(), strict=True)):
            assert block is not None
            active = set()
            if live.dense_op:
                active.add(f"ops.{block.dense_op}.")
            if live.sparse_op:
                active.add(f"ops.{block.sparse_op}.")
            if live.fm:
                active.add("fm.")
            if live.dense_to_sparse:
                active.add("dense_to_sparse.")
            for name, p in supernet.blocks[i].named_parameters():
                touched = p.grad is not None
                if not any(name.startswith(prefix) for prefix in active):
                    assert not touched, f"block {i}: {name} has a gradient but is not live"
            if not live.alive:
                assert all(p.grad is None for p in supernet.blocks[i].parameters())


def test_subnet_state_dict_slices_are_copies() -> None:
    torch.manual_seed(0)
    space = load_space("nasrec_small")
    supernet = SuperNet(TINY, space, embedding_backend="torch")
    arch = sample_architecture(space, np.random.default_rng(9))
    subnet = inherit_subnet(supernet, arch)
    batch = tiny_batch(dtype=torch.float32)
    before = subnet(batch).detach().clone()
    with torch.no_grad():
        for p in supernet.parameters():
            p.add_(1.0)
    torch.testing.assert_close(subnet(batch), before, rtol=0, atol=0)
