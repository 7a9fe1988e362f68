"""Paths and path samplers: what each strategy draws, reproducibility, the warm-up schedule, and that the
supernet runs every kind of path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrec.errors import ConfigError
from nasrec.nets import STRATEGIES, BlockPath, PathSampler, SuperNet, SupernetPath, full_path
from nasrec.space import load_space, sample_architecture

from .conftest import TINY, tiny_batch


@pytest.fixture(scope="module")
def full_space():  # noqa: ANN201
    return load_space("nasrec_full")


@pytest.fixture(scope="module")
def supernet(full_space) -> SuperNet:  # noqa: ANN001
    torch.manual_seed(0)
    return SuperNet(TINY, full_space, embedding_backend="torch")


def test_single_op_any_connection_is_sample_architecture(full_space) -> None:  # noqa: ANN001
    sampler = PathSampler(full_space, "single-op-any-connection")
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(5):
        assert sampler.sample(a) == SupernetPath.from_architecture(sample_architecture(full_space, b))


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_samplers_are_reproducible_and_checkpointable(full_space, strategy: str) -> None:  # noqa: ANN001
    sampler = PathSampler(full_space, strategy, warmup_steps=10)
    rng = np.random.default_rng(7)
    first = [sampler.sample(rng, t) for t in range(5)]
    saved = rng.bit_generator.state
    rest = [sampler.sample(rng, t) for t in range(5, 15)]
    assert first == [sampler.sample(r, t) for r in [np.random.default_rng(7)] for t in range(5)]
    resumed = np.random.default_rng(0)
    resumed.bit_generator.state = saved
    assert rest == [sampler.sample(resumed, t) for t in range(5, 15)]


def test_what_each_strategy_draws(full_space) -> None:  # noqa: ANN001
    rng = np.random.default_rng(0)
    for _ in range(20):
        single = PathSampler(full_space, "single-path").sample(rng)
        any_path = PathSampler(full_space, "any-path").sample(rng)
        for i, (s, a) in enumerate(zip(single.blocks, any_path.blocks, strict=True)):
            assert s is not None and a is not None
            assert len(s.dense_ops) == len(s.sparse_ops) == 1
            assert len(s.dense_inputs) == len(s.sparse_inputs) == len(s.left) == len(s.right) == 1
            assert 1 <= len(a.dense_ops) <= 4 and 1 <= len(a.sparse_ops) <= 2
            assert 1 <= len(a.dense_inputs) <= min(i + 1, 4) and len(a.left) == len(a.right) == 1
    full = full_path(full_space)
    for i, b in enumerate(full.blocks):
        assert b is not None
        assert b.dense_ops == full_space.dense_ops and b.sparse_ops == full_space.sparse_ops
        every = tuple(range(i + 1))
        assert b.dense_inputs == b.sparse_inputs == b.left == b.right == every
        assert (b.dense_width, b.sparse_width) == (1024, 64) and b.fm and b.dense_to_sparse


def test_warmup_schedule(full_space) -> None:  # noqa: ANN001
    sampler = PathSampler(full_space, "single-op-any-connection", warmup_steps=100)
    assert [sampler.full_path_probability(t) for t in (0, 25, 100, 500)] == [1.0, 0.75, 0.0, 0.0]
    rng = np.random.default_rng(1)
    full = full_path(full_space)
    assert all(sampler.sample(rng, 0) == full for _ in range(20))
    assert not any(sampler.sample(rng, 100) == full for _ in range(50))
    hits = sum(sampler.sample(rng, 50) == full for _ in range(400))
    assert 150 < hits < 250  # probability 1/2
    assert PathSampler(full_space).full_path_probability(0) == 0.0


def test_path_liveness_matches_the_architecture(full_space) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    for _ in range(50):
        arch = sample_architecture(full_space, rng)
        assert SupernetPath.from_architecture(arch).liveness() == arch.liveness()
        assert SupernetPath.from_architecture(arch.canonical()).liveness() == arch.canonical().liveness()


@pytest.mark.parametrize("strategy", ["single-path", "any-path", "full-path"])
def test_supernet_runs_every_kind_of_path(supernet: SuperNet, full_space, strategy: str) -> None:  # noqa: ANN001
    rng = np.random.default_rng(4)
    batch = tiny_batch(dtype=torch.float32)
    for _ in range(3 if strategy != "full-path" else 1):
        path = PathSampler(full_space, strategy).sample(rng)
        supernet.zero_grad(set_to_none=True)
        out = supernet(batch, path)
        assert out.shape == (8,) and torch.isfinite(out).all()
        out.sum().backward()
    if strategy == "full-path":  # every op of every block took part
        for i, block in enumerate(supernet.blocks):
            for name, op in [
                *block.ops.items(),
                ("fm", block.fm),
                ("dense_to_sparse", block.dense_to_sparse),
            ]:
                assert any(p.grad is not None for p in op.parameters()), f"block {i} {name}"


def test_several_ops_are_summed(supernet: SuperNet, full_space) -> None:  # noqa: ANN001
    """Active dense ops of a block are summed: the logit is linear in the last block's dense output, so
    out(a) + out(b) - out(a, b) is the same constant (sparse part + bias) for any pair of ops."""
    arch = sample_architecture(full_space, np.random.default_rng(5))
    base = SupernetPath.from_architecture(arch)
    last = base.blocks[-1]
    assert last is not None
    batch = tiny_batch(dtype=torch.float32)

    def out(*ops: str) -> torch.Tensor:
        changes = {"dense_ops": ops, "left": (0, 2), "right": (1,), "fm": False, "dense_to_sparse": False}
        return supernet(batch, SupernetPath((*base.blocks[:-1], BlockPath(**{**last.__dict__, **changes}))))

    rest = out("fc") + out("sum") - out("fc", "sum")
    torch.testing.assert_close(out("gating") + out("dot") - out("gating", "dot"), rest, rtol=1e-4, atol=1e-4)


def test_invalid_paths_are_rejected(supernet: SuperNet, full_space) -> None:  # noqa: ANN001
    arch = sample_architecture(full_space, np.random.default_rng(6))
    path = SupernetPath.from_architecture(arch)
    last = path.blocks[-1]
    assert last is not None
    batch = tiny_batch(dtype=torch.float32)
    bad = {
        "not in space": {"sparse_ops": ("conv",)},
        "dense width": {"dense_width": 100},
        "within 0..6": {"dense_inputs": (7,), "dense_ops": ("fc",)},
        "is empty": {"dense_inputs": (), "dense_ops": ("fc",)},
    }
    for message, change in bad.items():
        broken = SupernetPath((*path.blocks[:-1], BlockPath(**{**last.__dict__, **change})))
        with pytest.raises(ConfigError, match=message):
            supernet(batch, broken)
    with pytest.raises(ConfigError, match="blocks"):
        supernet(batch, SupernetPath(path.blocks[:-1]))
    with pytest.raises(ConfigError, match="unknown"):
        PathSampler(full_space, "random-walk")


def test_sandwich_draws_the_largest_the_smallest_and_sampled_paths(full_space) -> None:  # noqa: ANN001
    sampler = PathSampler(full_space)
    largest, smallest, *sampled = sampler.sandwich(np.random.default_rng(2), step=0, sampled=2)
    assert largest == full_path(full_space) and len(sampled) == 2
    for block in smallest.blocks:
        assert block is not None
        assert block.dense_width == min(full_space.dense_widths)
        assert block.sparse_width == min(full_space.sparse_widths)
        assert len(block.dense_ops) == len(block.sparse_ops) == 1
        assert not block.fm and not block.dense_to_sparse
    again = sampler.sandwich(np.random.default_rng(2), step=0, sampled=2)
    assert again == [largest, smallest, *sampled]


def test_forward_paths_is_forward_of_each_path(supernet: SuperNet, full_space) -> None:  # noqa: ANN001
    batch = tiny_batch(dtype=torch.float32)
    paths = PathSampler(full_space).sandwich(np.random.default_rng(3), step=0, sampled=1)
    together = supernet.forward_paths(batch.dense, batch.sparse, paths)
    for path, logits in zip(paths, together, strict=True):
        torch.testing.assert_close(logits, supernet(batch, path))
