"""The oneDNN linear computes what ``F.linear`` computes, forward and backward, and steps aside where
it must (small products, other dtypes, TorchScript, dispatch modes)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from nasrec.nets import functional as fn
from nasrec.nets import onednn_linear
from nasrec.nets.onednn_linear import linear

pytestmark = pytest.mark.skipif(not onednn_linear.AVAILABLE, reason="torch built without oneDNN")


def _weights(layout: str, n: int, k: int, g: torch.Generator) -> torch.Tensor:
    if layout == "contiguous":
        return torch.randn(n, k, generator=g)
    if layout == "transposed":
        return torch.randn(k, n, generator=g).t()
    return torch.randn(n + 5, k + 7, generator=g)[:n, :k]  # a slice of a bigger weight: padded rows


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced"])
@pytest.mark.parametrize("shape", [(512, 300), (64, 24, 96)])  # dense B x K; channel-first B x E x T
@pytest.mark.parametrize("bias", [True, False])
def test_matches_f_linear(layout: str, shape: tuple[int, ...], bias: bool) -> None:
    g = torch.Generator().manual_seed(len(shape) * 10 + bias)
    n = 200
    x = torch.randn(*shape, generator=g)
    w = _weights(layout, n, shape[-1], g)
    b = torch.randn(n, generator=g) if bias else None
    grad = torch.randn(*shape[:-1], n, generator=g)
    assert x.numel() * n >= onednn_linear.MIN_MACS  # large enough to take the oneDNN path

    leaves = [t.clone().requires_grad_() for t in (x, w, *([b] if bias else []))]
    ours = linear(*leaves[:2], leaves[2] if bias else None)
    assert ours is not None
    ours.backward(grad)
    refs = [t.clone().requires_grad_() for t in (x, w, *([b] if bias else []))]
    theirs = F.linear(*refs[:2], refs[2] if bias else None)
    theirs.backward(grad)

    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-4)
    for a, r in zip(leaves, refs, strict=True):
        torch.testing.assert_close(a.grad, r.grad, rtol=1e-5, atol=1e-3)


def test_only_the_input_needs_a_gradient() -> None:
    x = torch.randn(512, 256, requires_grad=True)
    w = torch.randn(256, 256)
    linear(x, w, None).sum().backward()
    torch.testing.assert_close(x.grad, w.sum(0).expand(512, -1), rtol=1e-5, atol=1e-4)


def test_deterministic() -> None:
    x, w = torch.randn(512, 640), torch.randn(384, 640)
    assert torch.equal(linear(x, w, None), linear(x, w, None))


def test_steps_aside_where_it_cannot_run() -> None:
    x, w = torch.randn(512, 256), torch.randn(256, 256)
    assert linear(x[:4], w, None) is None  # small product: MKL's lower call overhead wins
    assert linear(x.double(), w.double(), None) is None  # float32 only
    with FlopCounterMode(display=False) as counter:  # dispatch modes see torch's ops (FLOPs counted)
        fn.linear(x, w)
    assert counter.get_total_flops() == 2 * 512 * 256 * 256


def test_torchscript_compiles_the_plain_path() -> None:
    scripted = torch.jit.script(fn.linear_ln)
    x, w = torch.randn(512, 256), torch.randn(128, 256)
    torch.testing.assert_close(scripted(x, w, None, None, None), F.linear(x, w), rtol=1e-5, atol=1e-4)
