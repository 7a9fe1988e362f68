"""Fake quantisation for hardware co-design (docs/pim.md): the supernet path of a quantised
architecture computes exactly what the standalone SubNet computes with the inherited weights, the
default float path never quantises, and the rounding rules (per output channel, per example, STE)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nasrec.nets import SubNet, SuperNet, inherit_subnet
from nasrec.nets import functional as fn
from nasrec.nets.paths import PathSampler, full_path, smallest_path
from nasrec.space import Architecture, SearchSpace, load_space, sample_architecture
from nasrec.space.codesign import Knobs
from nasrec.space.model_config import ModelConfig

from .conftest import TINY, randomize_, tiny_batch

ARCHS_PER_SPACE = 30
KNOBS = (("a_bits", (2, 4, 8)), ("dyn_map", ("xbar", "dpe")), ("w_bits", (2, 4, 8)))


def _space(name: str, *, layernorm: bool = True) -> SearchSpace:
    """A co-design space: the shipped pim spaces, or nasrec_cross (gating, sum, cross) with knobs."""
    space = load_space(name)
    co_design = space.co_design or KNOBS
    return dataclasses.replace(
        space, co_design=co_design, model=ModelConfig(layernorm=layernorm, quantize=True)
    )


def _float_twin(supernet: SuperNet) -> SuperNet:
    """The same supernet (its weights copied) with quantisation off."""
    space = supernet.space
    model = dataclasses.replace(space.model, quantize=False)
    twin = SuperNet(TINY, dataclasses.replace(space, co_design=(), model=model), embedding_backend="torch")
    twin.double().load_state_dict(supernet.state_dict())
    twin.embeddings.copy_from(supernet.embeddings)
    return twin


def _knob_less(arch: Architecture) -> Architecture:
    return Architecture(tuple(None if b is None else b.with_(knobs=None) for b in arch.blocks))


@pytest.mark.parametrize("layernorm", [True, False], ids=["ln", "no-ln"])
@pytest.mark.parametrize("space_name", ["nasrec_small_pim", "nasrec_full_pim", "nasrec_cross"])
def test_quantized_supernet_path_equals_inherited_subnet(space_name: str, layernorm: bool) -> None:
    torch.manual_seed(0)
    space = _space(space_name, layernorm=layernorm)
    supernet = SuperNet(TINY, space, embedding_backend="torch").double()
    randomize_(supernet, seed=1, scale=1.0 if layernorm else 0.3)
    batch = tiny_batch(size=8)
    rng = np.random.default_rng(2)
    as_float = _float_twin(supernet)
    live_ops, changed = set(), 0
    for _ in range(ARCHS_PER_SPACE):
        arch = sample_architecture(space, rng)
        canon = arch.canonical()
        live_ops |= {op for b in canon.blocks if b is not None for op in (b.dense_op, b.sparse_op)}
        expected = supernet(batch, arch)
        subnet = inherit_subnet(supernet, arch)
        assert subnet.quantized
        got = subnet(batch)
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(supernet(batch, canon), expected, rtol=1e-12, atol=1e-12)
        changed += not torch.allclose(as_float(batch, _knob_less(arch)), expected, rtol=1e-6, atol=1e-6)
    assert set(space.dense_ops) | set(space.sparse_ops) <= live_ops  # every op was checked quantised
    assert changed == ARCHS_PER_SPACE  # quantisation changes every network's output


def test_the_float_path_never_quantizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Knob-less architectures of a non-quantising config never reach the rounding code (so they
    compute exactly what they computed before quantisation existed); knobs alone turn it on."""
    space = load_space("nasrec_cross")
    supernet = SuperNet(TINY, space, embedding_backend="torch").double()
    batch = tiny_batch(size=4)
    rng = np.random.default_rng(3)
    archs = [sample_architecture(space, rng) for _ in range(10)]

    def refuse(*args: object) -> None:
        raise AssertionError("quantised on the float path")

    monkeypatch.setattr(fn, "_to_grid", refuse)
    for arch in archs:
        subnet = inherit_subnet(supernet, arch)
        assert not subnet.quantized
        torch.testing.assert_close(subnet(batch), supernet(batch, arch), rtol=1e-9, atol=1e-9)
    monkeypatch.undo()
    last = len(archs[0].blocks) - 1
    knobbed = Architecture(
        tuple(b.with_(knobs=Knobs(4, 4, "xbar")) if i == last else b for i, b in enumerate(archs[0].blocks))
    )
    subnet = inherit_subnet(supernet, knobbed)
    assert subnet.quantized
    torch.testing.assert_close(subnet(batch), supernet(batch, knobbed), rtol=1e-9, atol=1e-9)


def test_fewer_bits_move_the_output_further_from_float() -> None:
    torch.manual_seed(0)
    space = _space("nasrec_full_pim")
    supernet = SuperNet(TINY, space, embedding_backend="torch").double()
    randomize_(supernet, seed=4)
    batch = tiny_batch(size=16)
    reference = _float_twin(supernet)
    rng = np.random.default_rng(5)
    errors: dict[int, list[float]] = {8: [], 4: [], 2: []}
    for _ in range(10):
        arch = _knob_less(sample_architecture(space, rng))
        exact = reference(batch, arch)
        for bits in errors:
            coded = Architecture(tuple(b.with_(knobs=Knobs(bits, bits, "dpe")) for b in arch.blocks))
            errors[bits].append((supernet(batch, coded) - exact).abs().mean().item())
    mean = {bits: float(np.mean(e)) for bits, e in errors.items()}
    assert 0 < mean[8] < mean[4] < mean[2]


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_weights_round_per_output_channel(bits: int) -> None:
    g = torch.Generator().manual_seed(0)
    w = (
        torch.randn(6, 40, generator=g, dtype=torch.float64)
        * torch.arange(1, 7, dtype=torch.float64)[:, None]
    )
    q = fn.quantize_weight(w, bits)
    qmax = 2 ** (bits - 1) - 1
    for row, qrow in zip(w, q, strict=True):
        scale = row.abs().max() / qmax
        levels = qrow / scale
        torch.testing.assert_close(levels, levels.round(), rtol=0, atol=1e-9)  # on the row's grid
        assert levels.abs().max().round() == qmax  # the largest magnitude is kept exactly
        assert (qrow - row).abs().max() <= scale * (0.5 + 2**-12) + 1e-12  # nearest level (ties up)
    assert fn.quantize_weight(w, 0) is w


def test_activations_round_per_example_and_pass_gradients_straight_through() -> None:
    g = torch.Generator().manual_seed(1)
    x = (
        torch.randn(5, 3, 7, generator=g, dtype=torch.float64) * torch.arange(1, 6)[:, None, None]
    ).requires_grad_()
    q = fn.quantize_activation(x, 4)
    alone = torch.cat([fn.quantize_activation(x[i : i + 1], 4) for i in range(5)])
    torch.testing.assert_close(q, alone, rtol=0, atol=0)  # an example's rounding ignores its batch
    assert all(len(torch.unique(q[i].detach())) <= 15 for i in range(5))
    q.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))  # straight-through estimator
    pieces = fn.quantize_together([x[:, 0], x[:, 1:]], 4)
    whole = fn.quantize_activation(x.flatten(1), 4)
    torch.testing.assert_close(torch.cat([p.flatten(1) for p in pieces], 1), whole, rtol=0, atol=0)
    empty = torch.zeros(5, 0, dtype=torch.float64)
    assert fn.quantize_activation(empty, 2) is empty


def test_knobs_alone_quantize_a_subnet_and_a_config_quantizes_every_block() -> None:
    space = load_space("nasrec_small_pim")
    arch = sample_architecture(space, np.random.default_rng(6))
    plain = ModelConfig()
    assert SubNet(arch, TINY, plain, embedding_backend="torch").quantized == arch.canonical().has_knobs
    knob_less = _knob_less(arch)
    assert not SubNet(knob_less, TINY, plain, embedding_backend="torch").quantized
    net = SubNet(knob_less, TINY, ModelConfig(quantize=True), embedding_backend="torch")
    assert net.quantized and (net.head.w_bits, net.head.a_bits) == (8, 8)


def test_paths_carry_knobs_in_a_co_design_space() -> None:
    space = load_space("nasrec_full_pim")
    rng = np.random.default_rng(7)
    assert {bp.knobs for bp in full_path(space).blocks} == {Knobs(8, 8, "xbar")}
    assert {(bp.knobs.w_bits, bp.knobs.a_bits) for bp in smallest_path(space, rng).blocks} == {(2, 2)}
    for strategy in ("single-op-any-connection", "single-path", "any-path"):
        sampler = PathSampler(space, strategy)
        drawn = {bp.knobs for _ in range(20) for bp in sampler.sample(rng).blocks if bp is not None}
        assert len(drawn) > 5, strategy
    plain = load_space("nasrec_full")
    assert all(bp.knobs is None for bp in PathSampler(plain, "any-path").sample(rng).blocks)


def test_a_quantized_supernet_trains() -> None:
    """Gradients reach the shared weights through the straight-through estimator."""
    torch.manual_seed(0)
    space = load_space("nasrec_small_pim")
    supernet = SuperNet(TINY, space, embedding_backend="torch")
    batch = tiny_batch(size=16, dtype=torch.float32)
    arch = sample_architecture(space, np.random.default_rng(8))
    loss = torch.nn.functional.binary_cross_entropy_with_logits(supernet(batch, arch), batch.labels)
    loss.backward()
    grads = [p.grad for p in supernet.dense_parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads) and any(g.abs().sum() > 0 for g in grads)
