"""The one implementation of every op in docs/operators.md, as pure functions of tensors.

The standalone ops (``nasrec.nets.ops``, used by ``SubNet``) call these with their exact-size
parameters; the ``SuperNet`` calls them with slices of its shared max-width parameters. So both
compute the same function by construction.

Shapes (B batch, D dense width, T tokens, E embedding dim). Sparse tensors are kept **channel-first**
inside the networks, B x E x T: a token-axis linear is then ``F.linear`` on the last axis and
"LayerNorm over the token axis" is ``F.layer_norm`` on the last axis, with no transposes.
``Embeddings`` return B x F x E; the networks transpose once.

A ``None`` weight means "this layer does not exist" (a skipped projection, or LayerNorm off).

Fake quantisation (co-design, docs/pim.md): ``w_bits`` / ``a_bits`` arguments, 0 = off (the default:
then nothing is computed and every result is bit-exact with the float network). Symmetric, on the
grid ``scale * {-qmax..qmax}`` with ``qmax = 2^(bits-1) - 1``, rounded with ``torch.round`` and a
straight-through estimator (``x + (q - x).detach()``): weights per output channel (one scale per
row), the inputs of static-weight layers and the operands of dynamic products (the Gram matrix's,
attention's Q, K and V) per example (one scale per example and tensor, so that an example's output
does not depend on the others in its batch, as in the one-inference PIM model). Scales are the
largest magnitude, computed on the exact tensor both networks see (the supernet slices the
standalone op's weights and pads its inputs the same way), so both round identically.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# TorchScript cannot read module-level numbers, so the functions below spell these out as literals
# (the 8 of attention is ATTENTION_HEADS).
LN_EPS = 1e-5
ATTENTION_LN_INIT = 0.17  # the reference's LN_INIT for the two inner LayerNorm(E) of attention


def _qmax(bits: int) -> float:
    return float(2 ** (bits - 1)) - 1.0


def _to_grid(x: Tensor, scale: Tensor, bits: int) -> Tensor:
    """``x`` rounded to ``scale`` x integers in [-qmax, qmax], with a straight-through gradient."""
    qmax = _qmax(bits)
    # 2^-12 of a step up: exact ties (common where the input is itself a product of quantised
    # operands, e.g. the Gram matrix) then round the same way however the runtime ordered its sums
    q = torch.clamp(torch.round(x / scale + 0.000244140625), -qmax, qmax) * scale
    return x + (q - x).detach()


def example_amax(x: Tensor) -> Tensor:
    """B: the largest magnitude in each example of ``x`` (B x ...)."""
    return x.detach().abs().flatten(1).amax(1)


def quantize_activation(x: Tensor, bits: int, amax: Tensor | None = None) -> Tensor:
    """``x`` (B x ...) fake-quantised per example at ``bits`` (0: unchanged); ``amax`` (B) overrides
    the per-example range, for inputs split into several tensors that share one scale."""
    if bits == 0 or x.numel() == 0:
        return x
    if amax is None:
        amax = example_amax(x)
    scale = amax.clamp_min(1e-30) / _qmax(bits)
    return _to_grid(x, scale.view([-1] + [1] * (x.dim() - 1)), bits)


def quantize_together(xs: list[Tensor], bits: int) -> list[Tensor]:
    """The pieces of one layer's input (each B x ...) fake-quantised with one per-example scale
    (what quantising their concatenation would give, without building it)."""
    if bits == 0:
        return xs
    ranges: list[Tensor] = []
    for x in xs:
        if x.numel() > 0:
            ranges.append(example_amax(x))
    amax = torch.stack(ranges).amax(0)
    return [quantize_activation(x, bits, amax) for x in xs]


def quantize_weight(weight: Tensor, bits: int) -> Tensor:
    """A weight (out x in) fake-quantised per output channel at ``bits`` (0: unchanged)."""
    if bits == 0 or weight.numel() == 0:
        return weight
    scale = weight.detach().abs().amax(1, keepdim=True).clamp_min(1e-30) / _qmax(bits)
    return _to_grid(weight, scale, bits)


def layer_norm(x: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """LayerNorm over the last axis, or ``x`` unchanged when LayerNorm is off (``weight is None``)."""
    if weight is None:
        return x
    return F.layer_norm(x, (x.shape[-1],), weight, bias, 1e-5)  # LN_EPS


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, w_bits: int = 0, a_bits: int = 0) -> Tensor:
    """``F.linear``, its weight and input fake-quantised at ``w_bits`` / ``a_bits`` (0: off); eagerly
    on CPU float32, large products go through oneDNN (``onednn_linear``)."""
    if w_bits:
        weight = quantize_weight(weight, w_bits)
    if a_bits:
        x = quantize_activation(x, a_bits)
    if not torch.jit.is_scripting():  # TorchScript skips this branch (and never compiles _onednn)
        fast = _onednn(x, weight, bias)
        if fast is not None:
            return fast
    return F.linear(x, weight, bias)


def _onednn(x, weight, bias):  # noqa: ANN001, ANN202 - untyped on purpose: TorchScript must not compile it
    from nasrec.nets.onednn_linear import linear as onednn_linear

    return onednn_linear(x, weight, bias)


def linear_ln(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    ln_weight: Tensor | None,
    ln_bias: Tensor | None,
    w_bits: int = 0,
    a_bits: int = 0,
) -> Tensor:
    """``LN(x W^T + b)`` on the last axis; the projection is skipped when ``weight is None``."""
    if weight is not None:
        x = linear(x, weight, bias, w_bits, a_bits)
    return layer_norm(x, ln_weight, ln_bias)


def fc(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    ln_weight: Tensor | None,
    ln_bias: Tensor | None,
    w_bits: int = 0,
    a_bits: int = 0,
) -> Tensor:
    """FC: ``relu(LN(W x))``. x: B x Din, W: D x Din -> B x D."""
    return torch.relu(linear_ln(x, weight, bias, ln_weight, ln_bias, w_bits, a_bits))


def efc(
    tokens: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    ln_weight: Tensor | None,
    ln_bias: Tensor | None,
    w_bits: int = 0,
    a_bits: int = 0,
) -> Tensor:
    """EFC (embedded FC): token-axis linear, LN over tokens, relu. B x E x N, W: T x N -> B x E x T."""
    return torch.relu(linear_ln(tokens, weight, bias, ln_weight, ln_bias, w_bits, a_bits))


def cross(
    x0: Tensor, xl: Tensor, weight: Tensor, bias: Tensor | None, w_bits: int = 0, a_bits: int = 0
) -> Tensor:
    """DCNv2 cross layer ``x0 * (W xl + b) + xl``. x0: B x w0, xl: B x wl, W: w0 x wl -> B x max(w0, wl).

    The narrower of the product and ``xl`` is zero-padded. The standalone op pads both operands to
    one width w first (W: w x w); the supernet passes them unpadded with ``W[:w0, :wl]``: padded rows
    of W multiply a zero ``x0`` entry and padded columns a zero ``xl`` entry, so both give the same.
    """
    product = x0 * linear(xl, weight, bias, w_bits, a_bits)
    width = max(product.shape[1], xl.shape[1])
    return pad_to(product, width) + pad_to(xl, width)


def dot_interaction(u: Tensor, tokens: Tensor, tril_index: Tensor, a_bits: int = 0) -> Tensor:
    """Strictly-lower triangle of the Gram matrix of ``[u; tokens]``, row-major.

    u: B x E, tokens: B x E x k, tril_index: flat indices into the (k+1) x (k+1) matrix of
    ``tril_indices(k+1, k+1, -1)`` -> B x k(k+1)/2. The Gram matrix's operand ``[u; tokens]`` is
    fake-quantised at ``a_bits`` (0: off).
    """
    stacked = quantize_activation(torch.cat([u.unsqueeze(2), tokens], dim=2), a_bits)  # B x E x (k+1)
    gram = torch.bmm(stacked.transpose(1, 2), stacked)  # B x (k+1) x (k+1)
    return gram.flatten(1).index_select(1, tril_index)


def tril_flat_index(tokens: int, device: torch.device | None = None) -> Tensor:
    """Flat indices of the strictly-lower triangle of a (tokens+1)^2 matrix, row-major order."""
    n = tokens + 1
    rows, cols = torch.tril_indices(n, n, -1, device=device)
    return rows * n + cols


def attention(
    tokens: Tensor,
    in_weight: Tensor,
    in_bias: Tensor,
    out_weight: Tensor,
    out_bias: Tensor,
    ln1_weight: Tensor,
    ln1_bias: Tensor,
    ffn1_weight: Tensor,
    ffn1_bias: Tensor,
    ffn2_weight: Tensor,
    ffn2_bias: Tensor,
    ln2_weight: Tensor,
    ln2_bias: Tensor,
    w_bits: int = 0,
    a_bits: int = 0,
) -> Tensor:
    """Self-attention block on already-projected tokens: B x E x T -> B x E x T.

    Multi-head attention (8 heads, Q = K = V input), residual + LN(E), FFN E -> E relu -> E,
    residual + LN(E). The two LN(E) always exist, whatever the network's LayerNorm setting.
    Quantised (``w_bits``, ``a_bits``; 0: off): the four linears, and Q, K and V each per example.
    """
    x = tokens.transpose(1, 2)  # B x T x E
    b, t, e = x.shape
    qkv = linear(x, in_weight, in_bias, w_bits, a_bits)  # B x T x 3E
    if a_bits:
        parts = qkv.view(b, t, 3, e)  # one scale per example for each of Q, K, V
        amax = parts.detach().abs().amax(dim=[1, 3], keepdim=True)
        qkv = _to_grid(parts, amax.clamp_min(1e-30) / _qmax(a_bits), a_bits).view(b, t, 3 * e)
    mixed = _multi_head(qkv, e)
    mixed = linear(mixed, out_weight, out_bias, w_bits, a_bits)
    x = F.layer_norm(x + mixed, (e,), ln1_weight, ln1_bias, 1e-5)
    hidden = torch.relu(linear(x, ffn1_weight, ffn1_bias, w_bits, a_bits))
    ffn = linear(hidden, ffn2_weight, ffn2_bias, w_bits, a_bits)
    x = F.layer_norm(x + ffn, (e,), ln2_weight, ln2_bias, 1e-5)
    return x.transpose(1, 2)


def _multi_head(qkv: Tensor, e: int) -> Tensor:
    """Scaled-dot-product attention of 8 heads (dim E / 8): B x T x 3E -> B x T x E.

    Eagerly on CPU float32 this is the fused kernel of ``fast_attention`` (same function, several
    times faster for these 2-dim heads); otherwise (TorchScript, tracing, export, other dtypes and
    devices, FLOP counting) torch's SDPA.
    """
    if not torch.jit.is_scripting():  # TorchScript skips this branch (and never compiles _fused)
        fused = _fused(qkv)
        if fused is not None:
            return fused
    b, t = qkv.shape[0], qkv.shape[1]
    heads = qkv.view(b, t, 3, 8, e // 8).permute(2, 0, 3, 1, 4)  # 3 x B x H x T x (E/H)
    mixed = F.scaled_dot_product_attention(heads[0], heads[1], heads[2])  # B x H x T x (E/H)
    return mixed.transpose(1, 2).reshape(b, t, e)


def _fused(qkv):  # noqa: ANN001, ANN202 - untyped on purpose: TorchScript must not compile it
    from nasrec.nets.fast_attention import fast_attention, fast_attention_usable

    if qkv.dtype == torch.bfloat16 and torch.is_autocast_enabled("cpu"):
        qkv = qkv.float()  # the kernel is float32; autocast casts the out-projection's input back
    return fast_attention(qkv, 8) if fast_attention_usable(qkv, 8) else None


def pad_to(x: Tensor, width: int) -> Tensor:
    """Zero-pad B x w to B x width (no copy when already that wide)."""
    return pad_right(x, width - x.shape[1])


def pad_right(x: Tensor, n: int) -> Tensor:
    """Append n zero columns to B x w (``x`` itself when n == 0)."""
    if n == 0:
        return x
    return F.pad(x, (0, n))


def fm_term(sparse: Tensor) -> Tensor:
    """Factorization-machine vector ``(sum_t S)^2 - sum_t S^2``: B x E x T -> B x E."""
    return sparse.sum(dim=2).square() - sparse.square().sum(dim=2)


def dense_to_sparse_tokens(projected: Tensor, embedding_dim: int) -> Tensor:
    """B x (n E) values -> n tokens, channel-first B x E x n (token i = values [i E, (i+1) E))."""
    b = projected.shape[0]
    return projected.reshape(b, -1, embedding_dim).transpose(1, 2)


def flat_tokens_linear(sparse: Tensor, weight: Tensor) -> Tensor:
    """``F.linear(flatten_tokens(sparse), weight)`` without copying ``sparse``: B x E x T, W: O x (T E)
    token-major -> B x O.

    A contiguous channel-first ``sparse`` is flattened channel-major (a view) and W's columns are
    permuted to match; copying it token-major instead would also hand its producer a transposed
    gradient, on which elementwise backward kernels (relu, LayerNorm) are many times slower.
    """
    b, e, t = sparse.shape
    if sparse.is_contiguous():
        channel_major = weight.reshape(-1, t, e).transpose(1, 2).reshape(-1, e * t)
        return linear(sparse.reshape(b, e * t), channel_major)
    return linear(flatten_tokens(sparse), weight)


def flatten_tokens(sparse: Tensor) -> Tensor:
    """Channel-first B x E x T -> B x (T E), token-major (token t occupies columns [t E, (t+1) E))."""
    return sparse.transpose(1, 2).reshape(sparse.shape[0], -1)
