"""A fused CPU kernel for the attention op's scaled-dot-product part (8 heads of dim 2).

The op's heads have dimension E / 8 = 2. torch's CPU flash-attention kernel issues several tiny GEMM
calls per (example, head) pair, and the math path runs many passes over a B x 8 x T x T score tensor:
both spend far more time on overhead and memory traffic than on the arithmetic (2 multiply-adds per
score). This kernel does one pass per query over the keys of its (example, head) pair, with the keys
and values in registers-friendly arrays, forward and backward (recomputing the softmax from the saved
log-sum-exp, as flash attention does). It computes the same function as
``F.scaled_dot_product_attention``, to float rounding.

It is plain C (no torch headers), compiled on first use with the system C compiler into
``$NASREC_KERNEL_CACHE`` (default ``~/.cache/nasrec/kernels``), keyed by source, compiler and CPU, and
loaded with ctypes; OpenMP threads come from the libgomp torch already loaded, sized by
``torch.get_num_threads()``. When no compiler is available, for other dtypes / devices / head sizes,
under TorchScript, tracing, ``torch.compile`` or a dispatch mode (e.g. ``FlopCounterMode``), or with
``NASREC_FAST_ATTENTION=0``, callers use torch's SDPA instead (``fast_attention_usable``).

Layout: ``qkv`` is B x T x 3E (the in-projection's output: q, k, v, each E = heads x 2), the result
B x T x E (heads concatenated), ready for the out-projection.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import torch
from torch import Tensor

log = logging.getLogger(__name__)

HEAD_DIM = 2

_SOURCE = r"""
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* exp(x) for x <= 0, vectorisable: 2^k * p(r), |r| <= ln2/2, Taylor to r^6 (rel. error < 2e-7). */
static inline float exp_neg(float x) {
    x = x < -87.0f ? -87.0f : x;
    float k = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693145751953125f - k * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f
              + r * (0.008333334f + r * 0.0013888889f)))));
    int32_t bits = ((int32_t)k + 127) << 23;
    return p * (*(float *)&bits);
}

/* qkv: B x S x 3 x H x 2; out: B x S x H x 2; lse: B x H x S. One (example, head) pair per task:
   its keys / values are gathered into contiguous arrays, then each query is one pass over them. */
void attn2_forward(const float *qkv, float *out, float *lse, int64_t B, int64_t S, int64_t H,
                   float scale, int threads) {
    const int64_t E = 2 * H, row = 3 * E;
    #pragma omp parallel num_threads(threads)
    {
        float *buf = (float *)malloc(sizeof(float) * 5 * S);
        float *restrict kx = buf, *restrict ky = buf + S, *restrict vx = buf + 2 * S;
        float *restrict vy = buf + 3 * S, *restrict sc = buf + 4 * S;
        #pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; ++bh) {
            const int64_t b = bh / H, h = bh % H;
            const float *base = qkv + b * S * row;
            for (int64_t j = 0; j < S; ++j) {
                const float *t = base + j * row;
                kx[j] = t[E + 2 * h]; ky[j] = t[E + 2 * h + 1];
                vx[j] = t[2 * E + 2 * h]; vy[j] = t[2 * E + 2 * h + 1];
            }
            for (int64_t i = 0; i < S; ++i) {
                const float qx = base[i * row + 2 * h] * scale, qy = base[i * row + 2 * h + 1] * scale;
                float m = qx * kx[0] + qy * ky[0];
                for (int64_t j = 0; j < S; ++j) {
                    const float s = qx * kx[j] + qy * ky[j];
                    sc[j] = s;
                    m = s > m ? s : m;
                }
                float z = 0.0f, ox = 0.0f, oy = 0.0f;
                for (int64_t j = 0; j < S; ++j) {
                    const float e = exp_neg(sc[j] - m);
                    z += e; ox += e * vx[j]; oy += e * vy[j];
                }
                float *o = out + (b * S + i) * E + 2 * h;
                o[0] = ox / z; o[1] = oy / z;
                lse[bh * S + i] = m + logf(z);
            }
        }
        free(buf);
    }
}

/* dqkv: B x S x 3 x H x 2 (written in full). The inner work is split into simple loops over the keys
   (scores and dS, the dq reductions, the dk / dv updates) so that each one vectorises. */
void attn2_backward(const float *qkv, const float *out, const float *lse, const float *dout, float *dqkv,
                    int64_t B, int64_t S, int64_t H, float scale, int threads) {
    const int64_t E = 2 * H, row = 3 * E;
    #pragma omp parallel num_threads(threads)
    {
        float *buf = (float *)malloc(sizeof(float) * 10 * S);
        float *restrict kx = buf, *restrict ky = buf + S, *restrict vx = buf + 2 * S;
        float *restrict vy = buf + 3 * S, *restrict dkx = buf + 4 * S;
        float *restrict dky = buf + 5 * S, *restrict dvx = buf + 6 * S;
        float *restrict dvy = buf + 7 * S, *restrict pa = buf + 8 * S, *restrict da = buf + 9 * S;
        #pragma omp for schedule(static)
        for (int64_t bh = 0; bh < B * H; ++bh) {
            const int64_t b = bh / H, h = bh % H;
            const float *base = qkv + b * S * row;
            float *dbase = dqkv + b * S * row;
            for (int64_t j = 0; j < S; ++j) {
                const float *t = base + j * row;
                kx[j] = t[E + 2 * h]; ky[j] = t[E + 2 * h + 1];
                vx[j] = t[2 * E + 2 * h]; vy[j] = t[2 * E + 2 * h + 1];
                dkx[j] = 0.0f; dky[j] = 0.0f; dvx[j] = 0.0f; dvy[j] = 0.0f;
            }
            for (int64_t i = 0; i < S; ++i) {
                const float qx = base[i * row + 2 * h], qy = base[i * row + 2 * h + 1];
                const float sqx = qx * scale, sqy = qy * scale;
                const float *o = out + (b * S + i) * E + 2 * h;
                const float *g = dout + (b * S + i) * E + 2 * h;
                const float gx = g[0], gy = g[1];
                const float d = gx * o[0] + gy * o[1];
                const float l = lse[bh * S + i];
                for (int64_t j = 0; j < S; ++j) {
                    const float p = exp_neg(sqx * kx[j] + sqy * ky[j] - l);
                    pa[j] = p;
                    da[j] = p * (gx * vx[j] + gy * vy[j] - d);
                }
                float dqx = 0.0f, dqy = 0.0f;
                for (int64_t j = 0; j < S; ++j) {
                    dqx += da[j] * kx[j];
                    dqy += da[j] * ky[j];
                }
                #pragma GCC ivdep
                for (int64_t j = 0; j < S; ++j) dkx[j] += da[j] * qx;
                #pragma GCC ivdep
                for (int64_t j = 0; j < S; ++j) dky[j] += da[j] * qy;
                #pragma GCC ivdep
                for (int64_t j = 0; j < S; ++j) dvx[j] += pa[j] * gx;
                #pragma GCC ivdep
                for (int64_t j = 0; j < S; ++j) dvy[j] += pa[j] * gy;
                dbase[i * row + 2 * h] = dqx * scale;
                dbase[i * row + 2 * h + 1] = dqy * scale;
            }
            for (int64_t j = 0; j < S; ++j) {
                float *t = dbase + j * row;
                t[E + 2 * h] = dkx[j] * scale; t[E + 2 * h + 1] = dky[j] * scale;
                t[2 * E + 2 * h] = dvx[j]; t[2 * E + 2 * h + 1] = dvy[j];
            }
        }
        free(buf);
    }
}
"""

# Local to this file (no -ffast-math, which would also change the process's FPU flags): reassociation
# so that the reductions vectorise, finite math (the kernel only sees finite values).
_FLAGS = [
    "-O3",
    "-march=native",
    "-fopenmp",
    "-shared",
    "-fPIC",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fno-signed-zeros",
    "-fassociative-math",
    "-ffinite-math-only",
    "-fno-strict-aliasing",
]
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False


def _cache_dir() -> Path:
    root = os.environ.get("NASREC_KERNEL_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "nasrec" / "kernels"


def _cpu_id() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
        flags = next((line for line in text.splitlines() if line.startswith("flags")), "")
        model = next((line for line in text.splitlines() if line.startswith("model name")), "")
        return model + flags
    except OSError:
        return platform.processor() or platform.machine()


def _compile() -> ctypes.CDLL | None:
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        log.info("no C compiler found; attention uses torch SDPA")
        return None
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256("\n".join([_SOURCE, *_FLAGS, version, _cpu_id()]).encode()).hexdigest()[:16]
    target = _cache_dir() / f"attn2-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            src = Path(tmp) / "attn2.c"
            src.write_text(_SOURCE)
            built = Path(tmp) / "attn2.so"
            result = subprocess.run(
                [compiler, *_FLAGS, str(src), "-o", str(built)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                log.warning(
                    "fast attention kernel did not compile; using torch SDPA:\n%s", result.stderr[-2000:]
                )
                return None
            os.replace(built, target)  # atomic: concurrent builders race harmlessly
    lib = ctypes.CDLL(str(target))
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    lib.attn2_forward.argtypes = [ptr, ptr, ptr, i64, i64, i64, f32, ctypes.c_int]
    lib.attn2_forward.restype = None
    lib.attn2_backward.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, i64, f32, ctypes.c_int]
    lib.attn2_backward.restype = None
    return lib


def kernel() -> ctypes.CDLL | None:
    """The compiled kernel library, or ``None`` (compiled once per process, cached on disk)."""
    global _lib, _tried
    if not _tried:
        with _lock:
            if not _tried:
                try:
                    _lib = _compile() if os.environ.get("NASREC_FAST_ATTENTION", "1") != "0" else None
                except Exception as exc:  # noqa: BLE001 - any failure means: use SDPA
                    log.warning("fast attention kernel unavailable (%s); using torch SDPA", exc)
                    _lib = None
                _tried = True
    return _lib


def fast_attention_usable(qkv: Tensor, heads: int) -> bool:
    """Whether ``fast_attention(qkv, heads)`` may be used here (see the module docstring)."""
    from nasrec.nets.onednn_linear import eager_cpu_float32

    if qkv.dim() != 3 or qkv.shape[2] != 3 * heads * HEAD_DIM:
        return False
    return eager_cpu_float32(qkv) and kernel() is not None


class _Attention2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, qkv: Tensor, heads: int) -> Tensor:  # noqa: ANN001
        lib = kernel()
        assert lib is not None
        qkv = qkv.contiguous()
        b, s, _ = qkv.shape
        out = torch.empty(b, s, heads * HEAD_DIM, dtype=qkv.dtype)
        lse = torch.empty(b, heads, s, dtype=qkv.dtype)
        scale = 1.0 / HEAD_DIM**0.5
        lib.attn2_forward(
            qkv.data_ptr(), out.data_ptr(), lse.data_ptr(), b, s, heads, scale, torch.get_num_threads()
        )
        ctx.save_for_backward(qkv, out, lse)
        ctx.heads = heads
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:  # noqa: ANN001
        lib = kernel()
        assert lib is not None
        qkv, out, lse = ctx.saved_tensors
        grad = grad.contiguous()
        b, s, _ = qkv.shape
        dqkv = torch.empty_like(qkv)
        scale = 1.0 / HEAD_DIM**0.5
        lib.attn2_backward(
            qkv.data_ptr(),
            out.data_ptr(),
            lse.data_ptr(),
            grad.data_ptr(),
            dqkv.data_ptr(),
            b,
            s,
            ctx.heads,
            scale,
            torch.get_num_threads(),
        )
        return dqkv, None


def fast_attention(qkv: Tensor, heads: int) -> Tensor:
    """``softmax(q k^T / sqrt(2)) v`` per head: qkv B x T x 3E -> B x T x E (see module docstring)."""
    return _Attention2.apply(qkv, heads)
