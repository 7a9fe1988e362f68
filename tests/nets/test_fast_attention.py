"""The fused attention kernel computes what torch's SDPA computes, forward and backward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from nasrec.nets.fast_attention import fast_attention, fast_attention_usable, kernel

HEADS = 8


def sdpa(qkv: torch.Tensor) -> torch.Tensor:
    b, t, _ = qkv.shape
    q, k, v = qkv.view(b, t, 3, HEADS, 2).permute(2, 0, 3, 1, 4)
    return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, 2 * HEADS)


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    if kernel() is None:
        pytest.skip("no C compiler: attention runs on torch SDPA (nothing to compare)")


@pytest.mark.parametrize("tokens", [1, 3, 16, 45, 64, 130])
def test_matches_sdpa(tokens: int) -> None:
    g = torch.Generator().manual_seed(tokens)
    qkv = torch.randn(9, tokens, 6 * HEADS, generator=g) * 1.5
    grad = torch.randn(9, tokens, 2 * HEADS, generator=g)
    a, b = qkv.clone().requires_grad_(), qkv.clone().requires_grad_()
    assert fast_attention_usable(a, HEADS)
    out = fast_attention(a, HEADS)
    torch.testing.assert_close(out, sdpa(b), rtol=1e-5, atol=1e-5)
    out.backward(grad)
    sdpa(b).backward(grad)
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-4)


def test_threads_do_not_change_the_result() -> None:
    qkv = torch.randn(33, 20, 6 * HEADS)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = fast_attention(qkv, HEADS)
        torch.set_num_threads(2)
        two = fast_attention(qkv, HEADS)
    finally:
        torch.set_num_threads(before)
    torch.testing.assert_close(one, two, rtol=0, atol=0)


def test_falls_back_where_it_cannot_run() -> None:
    qkv = torch.randn(2, 4, 6 * HEADS)
    assert not fast_attention_usable(qkv.double(), HEADS)  # float32 only
    assert not fast_attention_usable(qkv[..., :-2], HEADS)  # head dim 2 only
    with FlopCounterMode(display=False):  # dispatch modes see SDPA, so FLOPs get counted
        assert not fast_attention_usable(qkv, HEADS)
