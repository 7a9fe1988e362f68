"""Float32 linear layers through oneDNN, torch's other CPU matrix-multiply library.

torch runs a CPU float32 ``F.linear`` and its backward on MKL's sgemm. On AMD CPUs MKL takes an AVX2
code path; oneDNN (built into torch, reached through ``torch.ops.mkldnn._linear_pointwise``) takes
AVX-512 where the CPU has it: on this project's 2-core EPYC machines a large product runs 2.2x faster,
and a Small-supernet training step about 15% faster (the rest of the step is memory-bound); on Intel
CPUs the two libraries are on par. The arithmetic is the same float32 (no reduced precision): only
the summation order differs, so results equal ``F.linear``'s to float rounding, and oneDNN is
deterministic for a given shape and thread count.

``linear(x, weight, bias)`` uses it, forward and backward, for products of at least ``MIN_MACS``
multiply-adds (below that, oneDNN's ~12 us per call and ~1 ms per new shape to build its kernel do not
pay off); otherwise, and under TorchScript, tracing, ``torch.compile``, autocast or a dispatch mode
(e.g. ``FlopCounterMode``), for other dtypes and devices, or with ``NASREC_ONEDNN=0``, it returns
``None`` and callers use ``F.linear``.
"""

from __future__ import annotations

import math
import os

import torch
from torch import Tensor

MIN_MACS = 1 << 24

# oneDNN builds a kernel per problem shape and keeps 1,024 in an LRU cache; a supernet's sampled paths
# reach a few thousand shapes, and evicting them would rebuild (~1 ms) on most calls.
# Read once, when oneDNN first builds a primitive: this module is imported before that.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "16384")


def eager_cpu_float32(x: Tensor) -> bool:
    """True when ``x`` is a CPU float32 tensor computed eagerly: no TorchScript, tracing, compile or
    dispatch mode watching (they must see torch's own ops)."""
    if x.dtype != torch.float32 or x.device.type != "cpu":
        return False
    if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        return False
    from torch.utils._python_dispatch import _get_current_dispatch_mode

    return _get_current_dispatch_mode() is None


def _available() -> bool:
    return (
        os.environ.get("NASREC_ONEDNN", "1") != "0"
        and torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    )


AVAILABLE = _available()


def _big(m: int, k: int, n: int) -> bool:
    return m * k * n >= MIN_MACS


def _matmul_nt(a: Tensor, b: Tensor, bias: Tensor | None = None) -> Tensor:
    """``a @ b.T (+ bias)`` for 2-D a (M x K), b (N x K), through oneDNN when large enough."""
    if _big(a.shape[0], a.shape[1], b.shape[0]):
        if not (b.is_contiguous() or b.t().is_contiguous()):
            b = b.contiguous()  # oneDNN is pathologically slow on weights with padded rows (slices)
        return torch.ops.mkldnn._linear_pointwise(a, b, bias, "none", [], "")
    return torch.addmm(bias, a, b.t()) if bias is not None else torch.mm(a, b.t())


def _forward(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    out = _matmul_nt(x.reshape(-1, x.shape[-1]), weight, bias)
    return out.view(*x.shape[:-1], weight.shape[0])


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:  # noqa: ANN001
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _forward(x, weight, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:  # noqa: ANN001
        x, weight = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])  # M x N
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = _matmul_nt(g, weight.t()).view(x.shape)  # g @ W
        if ctx.needs_input_grad[1]:
            dw = _matmul_nt(g.t(), x.reshape(-1, x.shape[-1]).t())  # g^T @ x
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = g.sum(0)
        return dx, dw, db


def linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor | None:
    """``F.linear(x, weight, bias)`` through oneDNN, or ``None`` where that does not apply (see the
    module docstring)."""
    if not AVAILABLE or x.dim() < 2 or not eager_cpu_float32(x) or weight.dtype != torch.float32:
        return None
    if torch.is_autocast_enabled("cpu"):
        return None
    if not _big(math.prod(x.shape[:-1]), x.shape[-1], weight.shape[0]):
        return None
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, weight, bias)):
        return _Linear.apply(x, weight, bias)
    return _forward(x, weight, bias)
