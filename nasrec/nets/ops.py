"""Standalone operators at exact widths (what a ``SubNet`` is built from).

Each op owns exactly the parameters docs/operators.md gives it for its shapes, and computes with
``nasrec.nets.functional``, the same code the ``SuperNet`` runs on its sliced shared weights.
A layer that the doc says to skip ("skip X when shapes match") is ``None``: no parameters, no FLOPs.

Shape vocabulary: B batch, D dense width, N input tokens, T output tokens, E embedding dim.
Sparse tensors are channel-first, B x E x T (see ``functional``).

Parameter naming (shared with ``SuperNet.subnet_state_dict``): ``weight``/``bias`` for a main linear,
``ln_weight``/``ln_bias`` for the LayerNorm after it; ops with several layers prefix them
(``proj_``, ``tok_``, ``out_``, ...).

``bits = (w_bits, a_bits)``: the fake quantisation of the op's layers (``functional``; (0, 0) = off,
the default), fixed at construction like the widths.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nasrec.nets import functional as fn
from nasrec.space.ops import ATTENTION_HEADS, dot_tokens


def uniform_(tensor: Tensor, fan_in: int) -> Tensor:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` in place (``nn.Linear``'s default bound)."""
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    with torch.no_grad():
        return tensor.uniform_(-bound, bound)


class LinearLN(nn.Module):
    """``LN(x W^T + b)`` on the last axis: the building block of every projection.

    x: ... x in_dim -> ... x out_dim. The bias exists only without LayerNorm (``bias=None`` forces
    one either way). ``skip=True`` builds no projection (the doc's "skip when shapes match"; then
    in_dim must equal out_dim); ``ln_when_skipped`` keeps the LayerNorm in that case.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        layernorm: bool,
        bias: bool | None = None,
        skip: bool = False,
        ln_when_skipped: bool = False,
        bits: tuple[int, int] = (0, 0),
    ) -> None:
        super().__init__()
        self.w_bits, self.a_bits = bits
        if skip and in_dim != out_dim:
            raise ValueError(f"a skipped projection needs in_dim == out_dim, got {in_dim} -> {out_dim}")
        self.in_dim = in_dim
        self.out_dim = out_dim
        has_bias = (not layernorm) if bias is None else bias
        self.weight: nn.Parameter | None = None if skip else nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias: nn.Parameter | None = nn.Parameter(torch.empty(out_dim)) if has_bias and not skip else None
        has_ln = layernorm and (not skip or ln_when_skipped)
        self.ln_weight: nn.Parameter | None = nn.Parameter(torch.ones(out_dim)) if has_ln else None
        self.ln_bias: nn.Parameter | None = nn.Parameter(torch.zeros(out_dim)) if has_ln else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            uniform_(self.weight, self.in_dim)
        if self.bias is not None:
            uniform_(self.bias, self.in_dim)
        if self.ln_weight is not None and self.ln_bias is not None:
            nn.init.ones_(self.ln_weight)
            nn.init.zeros_(self.ln_bias)

    def forward(self, x: Tensor) -> Tensor:
        return fn.linear_ln(x, self.weight, self.bias, self.ln_weight, self.ln_bias, self.w_bits, self.a_bits)


class FC(nn.Module):
    """FC: ``relu(LN(W x))``. B x Din -> B x D."""

    def __init__(self, in_dim: int, out_dim: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)) -> None:
        super().__init__()
        self.linear = LinearLN(in_dim, out_dim, layernorm=layernorm, bits=bits)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.linear(x))


class DotProduct(nn.Module):
    """Dot-Product: pairwise inner products of a projected dense vector and k projected tokens.

    x: B x Din, tokens: B x E x N -> B x D, with k = round(sqrt(2 D)):
    ``u = LN(P x)`` (E; skipped when Din == E), ``Q`` maps N -> k tokens with LN over tokens
    (skipped when N == k), ``z`` = strictly-lower triangle of the Gram matrix of ``[u; tokens]``
    (k(k+1)/2 values), output ``LN(R z)`` (R skipped when k(k+1)/2 == D; LN still applies).
    """

    def __init__(
        self,
        in_dim: int,
        in_tokens: int,
        out_dim: int,
        embedding_dim: int,
        *,
        layernorm: bool,
        bits: tuple[int, int] = (0, 0),
    ):
        super().__init__()
        self.tokens = dot_tokens(out_dim)
        self.a_bits = bits[1]  # the Gram matrix's operand
        pairs = self.tokens * (self.tokens + 1) // 2
        ln = layernorm
        self.dense_proj = LinearLN(
            in_dim, embedding_dim, layernorm=ln, skip=in_dim == embedding_dim, bits=bits
        )
        self.token_proj = LinearLN(
            in_tokens, self.tokens, layernorm=ln, skip=in_tokens == self.tokens, bits=bits
        )
        self.out_proj = LinearLN(
            pairs, out_dim, layernorm=ln, skip=pairs == out_dim, ln_when_skipped=True, bits=bits
        )
        self.register_buffer("tril_index", fn.tril_flat_index(self.tokens), persistent=False)

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        z = fn.dot_interaction(self.dense_proj(x), self.token_proj(tokens), self.tril_index, self.a_bits)
        return self.out_proj(z)


def _binary_out_proj(width: int, out_dim: int, layernorm: bool, bits: tuple[int, int]) -> LinearLN:
    """R of the binary ops: w -> D on the merged operands, skipped when w == D (LN still applies)."""
    skip = width == out_dim
    return LinearLN(width, out_dim, layernorm=layernorm, skip=skip, ln_when_skipped=True, bits=bits)


class SigmoidGating(nn.Module):
    """Gating: ``LN(R (sigmoid(A left + a) * right))`` after zero-padding both to w = max(wl, wr).

    left: B x wl, right: B x wr -> B x D. A: w x w with bias always; R: D x w (skipped when w == D).
    """

    def __init__(
        self, left_dim: int, right_dim: int, out_dim: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.width = max(left_dim, right_dim)
        self.left_pad, self.right_pad = self.width - left_dim, self.width - right_dim
        self.gate = LinearLN(self.width, self.width, layernorm=False, bias=True, bits=bits)
        self.out_proj = _binary_out_proj(self.width, out_dim, layernorm, bits)

    def forward(self, left: Tensor, right: Tensor) -> Tensor:
        gate = torch.sigmoid(self.gate(fn.pad_right(left, self.left_pad)))
        return self.out_proj(gate * fn.pad_right(right, self.right_pad))


class Sum(nn.Module):
    """Sum: ``LN(R (left + right))`` after zero-padding both to w = max(wl, wr).

    left: B x wl, right: B x wr -> B x D. R: D x w (skipped when w == D; LN still applies).
    """

    def __init__(
        self, left_dim: int, right_dim: int, out_dim: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.width = max(left_dim, right_dim)
        self.left_pad, self.right_pad = self.width - left_dim, self.width - right_dim
        self.out_proj = _binary_out_proj(self.width, out_dim, layernorm, bits)

    def forward(self, left: Tensor, right: Tensor) -> Tensor:
        return self.out_proj(fn.pad_right(left, self.left_pad) + fn.pad_right(right, self.right_pad))


class Cross(nn.Module):
    """Cross (DCNv2's cross layer): ``LN(R (left * (W right + b) + right))`` after zero-padding both
    to w = max(wl, wr); left plays x_0, right x_l.

    left: B x wl, right: B x wr -> B x D. W: w x w with bias always; R: D x w (skipped when w == D;
    LN still applies).
    """

    def __init__(
        self, left_dim: int, right_dim: int, out_dim: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.width = max(left_dim, right_dim)
        self.left_pad, self.right_pad = self.width - left_dim, self.width - right_dim
        self.linear = LinearLN(self.width, self.width, layernorm=False, bias=True, bits=bits)
        self.out_proj = _binary_out_proj(self.width, out_dim, layernorm, bits)

    def forward(self, left: Tensor, right: Tensor) -> Tensor:
        weight = self.linear.weight
        assert weight is not None
        x0, xl = fn.pad_right(left, self.left_pad), fn.pad_right(right, self.right_pad)
        return self.out_proj(
            fn.cross(x0, xl, weight, self.linear.bias, self.linear.w_bits, self.linear.a_bits)
        )


class EFC(nn.Module):
    """EFC (embedded FC): token-axis linear N -> T, LN over tokens, relu. B x E x N -> B x E x T."""

    def __init__(
        self, in_tokens: int, out_tokens: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.linear = LinearLN(in_tokens, out_tokens, layernorm=layernorm, bits=bits)

    def forward(self, tokens: Tensor) -> Tensor:
        return torch.relu(self.linear(tokens))


class Attention(nn.Module):
    """Attention: token-axis projection N -> T with LN over tokens (both skipped when N == T), then
    8-head self-attention over the T tokens, residual + LN(E), FFN E -> E relu -> E, residual + LN(E).

    B x E x N -> B x E x T. The two inner LN(E) always exist (weights initialised to 0.17).
    """

    def __init__(
        self,
        in_tokens: int,
        out_tokens: int,
        embedding_dim: int,
        *,
        layernorm: bool,
        bits: tuple[int, int] = (0, 0),
    ) -> None:
        super().__init__()
        if embedding_dim % ATTENTION_HEADS:
            raise ValueError(f"attention needs E divisible by {ATTENTION_HEADS}, got E = {embedding_dim}")
        e = embedding_dim
        self.w_bits, self.a_bits = bits
        skip = in_tokens == out_tokens
        self.token_proj = LinearLN(in_tokens, out_tokens, layernorm=layernorm, skip=skip, bits=bits)
        self.in_weight = nn.Parameter(torch.empty(3 * e, e))
        self.in_bias = nn.Parameter(torch.empty(3 * e))
        self.out_weight = nn.Parameter(torch.empty(e, e))
        self.out_bias = nn.Parameter(torch.empty(e))
        self.ln1_weight = nn.Parameter(torch.empty(e))
        self.ln1_bias = nn.Parameter(torch.empty(e))
        self.ffn1_weight = nn.Parameter(torch.empty(e, e))
        self.ffn1_bias = nn.Parameter(torch.empty(e))
        self.ffn2_weight = nn.Parameter(torch.empty(e, e))
        self.ffn2_bias = nn.Parameter(torch.empty(e))
        self.ln2_weight = nn.Parameter(torch.empty(e))
        self.ln2_bias = nn.Parameter(torch.empty(e))
        reset_attention_parameters(self)

    def forward(self, tokens: Tensor) -> Tensor:
        return fn.attention(
            self.token_proj(tokens),
            self.in_weight,
            self.in_bias,
            self.out_weight,
            self.out_bias,
            self.ln1_weight,
            self.ln1_bias,
            self.ffn1_weight,
            self.ffn1_bias,
            self.ffn2_weight,
            self.ffn2_bias,
            self.ln2_weight,
            self.ln2_bias,
            self.w_bits,
            self.a_bits,
        )


ATTENTION_CORE = (
    "in_weight",
    "in_bias",
    "out_weight",
    "out_bias",
    "ln1_weight",
    "ln1_bias",
    "ffn1_weight",
    "ffn1_bias",
    "ffn2_weight",
    "ffn2_bias",
    "ln2_weight",
    "ln2_bias",
)


def reset_attention_parameters(module: nn.Module) -> None:
    """``nn.MultiheadAttention``-like init of the attention core parameters (``ATTENTION_CORE``)."""
    e = module.in_weight.shape[1]
    with torch.no_grad():
        nn.init.xavier_uniform_(module.in_weight)
        nn.init.zeros_(module.in_bias)
        uniform_(module.out_weight, e)
        nn.init.zeros_(module.out_bias)
        uniform_(module.ffn1_weight, e)
        uniform_(module.ffn1_bias, e)
        uniform_(module.ffn2_weight, e)
        uniform_(module.ffn2_bias, e)
        for ln in ("ln1", "ln2"):
            nn.init.constant_(getattr(module, f"{ln}_weight"), fn.ATTENTION_LN_INIT)
            nn.init.zeros_(getattr(module, f"{ln}_bias"))


class FMMerge(nn.Module):
    """Sparse -> dense merge: ``LN(W f)`` with ``f = (sum_t S)^2 - sum_t S^2``. B x E x T -> B x D."""

    def __init__(
        self, embedding_dim: int, out_dim: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.linear = LinearLN(embedding_dim, out_dim, layernorm=layernorm, bits=bits)

    def forward(self, sparse: Tensor) -> Tensor:
        return self.linear(fn.fm_term(sparse))


class DenseToSparse(nn.Module):
    """Dense -> sparse merge: the dense output projected to n E values (with LN; projection and LN
    skipped when D == n E), reshaped to n tokens. B x D -> B x E x n.
    """

    def __init__(
        self, in_dim: int, tokens: int, embedding_dim: int, *, layernorm: bool, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        width = tokens * embedding_dim
        self.linear = LinearLN(in_dim, width, layernorm=layernorm, skip=in_dim == width, bits=bits)

    def forward(self, dense: Tensor) -> Tensor:
        return fn.dense_to_sparse_tokens(self.linear(dense), self.embedding_dim)


class Head(nn.Module):
    """``logit = Linear(1)([dense, flatten(sparse)])``: B x D, B x E x T -> B."""

    def __init__(
        self, dense_dim: int, tokens: int, embedding_dim: int, *, bits: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__()
        self.w_bits, self.a_bits = bits
        self.linear = LinearLN(dense_dim + tokens * embedding_dim, 1, layernorm=False)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        # one term per input (as the supernet's head) instead of a linear over [dense, token-major copy]:
        # that copy's gradient reached the tokens' producer transposed, where relu / LN backward are slow
        weight = self.linear.weight
        assert weight is not None
        if self.w_bits:  # quantised as one layer: one weight scale, one input scale per example
            weight = fn.quantize_weight(weight, self.w_bits)
            inputs = fn.quantize_together([dense, sparse], self.a_bits)
            dense, sparse = inputs[0], inputs[1]
        d = dense.shape[1]
        out = fn.linear(dense, weight[:, :d], self.linear.bias)
        return (out + fn.flat_tokens_linear(sparse, weight[:, d:])).squeeze(1)
