"""Shared max-width operators of the supernet; a path uses them by **slicing**.

Each shared op holds the max-width parameters of one op of one block and, given the active shapes,
returns the exact-size tensors the standalone op (``nasrec.supernet.ops``) would hold:

* a width-d output uses the leading d rows of a weight (and the leading d entries of its bias and
  LayerNorm affine parameters), so LayerNorm normalises over the active units only;
* an input read from candidate j uses that candidate's own column block. Inputs are concatenations
  of candidate *pieces* (dense: one piece per candidate; sparse: the raw fields, and per block its
  main tokens and its dense-to-sparse tokens), and a weight over such an input keeps **one Parameter
  per piece** (``SlotLinear``), so the slice for a piece is a view and only the pieces in use are
  touched (and get gradients);
* skip rules use the active shapes, exactly as the standalone op does.

``export(...)`` returns those slices as a state dict for the standalone op, so ``SubNet.from_supernet``
and the supernet forward share one slicing rule. Shapes: B batch, D dense width, T tokens, E embedding
dim; sparse tensors are channel-first B x E x T.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nasrec.space.ops import dot_tokens
from nasrec.supernet import functional as fn
from nasrec.supernet.ops import ATTENTION_CORE, reset_attention_parameters, uniform_

Piece = tuple[int, int]  # (piece index, active width)


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape))


def _rows(t: Tensor | None, n: int) -> Tensor | None:
    return None if t is None else t[:n]


class SlotLinear(nn.Module):
    """Max-width weight of a linear layer whose input is a concatenation of candidate pieces.

    One ``out_max x width_p`` Parameter per piece p. ``weight(rows, pieces)`` is the exact weight of
    the standalone layer: the leading ``rows`` rows of each used piece's leading ``width`` columns,
    concatenated in input order (a view when only one piece is used).
    """

    def __init__(self, out_max: int, piece_widths: Sequence[int], fan_in: int) -> None:
        super().__init__()
        self.pieces = nn.ParameterList([_param(out_max, w) for w in piece_widths])
        for p in self.pieces:
            uniform_(p, fan_in)

    def weight(self, rows: int, pieces: Sequence[Piece]) -> Tensor:
        parts = [self.pieces[p][:rows, :w] for p, w in pieces]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


class OutputNorm(nn.Module):
    """The output side of a max-width linear: bias (no LayerNorm) or LayerNorm affine parameters."""

    def __init__(self, out_max: int, *, layernorm: bool, fan_in: int, bias: bool | None = None) -> None:
        super().__init__()
        has_bias = (not layernorm) if bias is None else bias
        self.bias = _param(out_max) if has_bias else None
        if self.bias is not None:
            uniform_(self.bias, fan_in)
        self.ln_weight = nn.Parameter(torch.ones(out_max)) if layernorm else None
        self.ln_bias = nn.Parameter(torch.zeros(out_max)) if layernorm else None

    def sliced(self, n: int, *, projected: bool = True, ln: bool = True) -> dict[str, Tensor | None]:
        """``bias``/``ln_weight``/``ln_bias`` of a width-n standalone layer (``None`` where absent)."""
        return {
            "bias": _rows(self.bias, n) if projected else None,
            "ln_weight": _rows(self.ln_weight, n) if ln else None,
            "ln_bias": _rows(self.ln_bias, n) if ln else None,
        }


def _linear_state(prefix: str, weight: Tensor | None, out: dict[str, Tensor | None]) -> dict[str, Tensor]:
    state = {"weight": weight, **out}
    return {f"{prefix}{k}": v for k, v in state.items() if v is not None}


def _apply(x: Tensor, weight: Tensor | None, out: dict[str, Tensor | None]) -> Tensor:
    return fn.linear_ln(x, weight, out["bias"], out["ln_weight"], out["ln_bias"])


class SharedFC(nn.Module):
    """FC over the dense pieces of one block: W Dmax x (pieces), LN / bias over Dmax."""

    def __init__(self, d_max: int, dense_pieces: Sequence[int], fan_in: int, *, layernorm: bool) -> None:
        super().__init__()
        self.w = SlotLinear(d_max, dense_pieces, fan_in)
        self.out = OutputNorm(d_max, layernorm=layernorm, fan_in=fan_in)

    def export(self, d: int, pieces: Sequence[Piece]) -> dict[str, Tensor]:
        return _linear_state("linear.", self.w.weight(d, pieces), self.out.sliced(d))

    def forward(self, x: Tensor, d: int, pieces: Sequence[Piece]) -> Tensor:
        return torch.relu(_apply(x, self.w.weight(d, pieces), self.out.sliced(d)))


class SharedDot(nn.Module):
    """Dot-Product: P E x (dense pieces), Q kmax x (sparse pieces), R Dmax x kmax(kmax+1)/2."""

    def __init__(
        self,
        d_max: int,
        embedding_dim: int,
        dense_pieces: Sequence[int],
        dense_fan_in: int,
        sparse_pieces: Sequence[int],
        sparse_fan_in: int,
        *,
        layernorm: bool,
    ) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.k_max = dot_tokens(d_max)
        pairs_max = self.k_max * (self.k_max + 1) // 2
        self.p = SlotLinear(embedding_dim, dense_pieces, dense_fan_in)
        self.p_out = OutputNorm(embedding_dim, layernorm=layernorm, fan_in=dense_fan_in)
        self.q = SlotLinear(self.k_max, sparse_pieces, sparse_fan_in)
        self.q_out = OutputNorm(self.k_max, layernorm=layernorm, fan_in=sparse_fan_in)
        self.r = _param(d_max, pairs_max)
        uniform_(self.r, pairs_max)
        self.r_out = OutputNorm(d_max, layernorm=layernorm, fan_in=pairs_max)
        self._tril: dict[tuple[int, torch.device], Tensor] = {}

    def tril_index(self, k: int, device: torch.device) -> Tensor:
        key = (k, device)
        if key not in self._tril:  # at most k_max entries per device
            self._tril[key] = fn.tril_flat_index(k, device)
        return self._tril[key]

    def _parts(
        self, din: int, dpieces: Sequence[Piece], n: int, spieces: Sequence[Piece], d: int
    ) -> tuple[dict[str, Tensor | None], ...]:
        k = dot_tokens(d)
        pairs = k * (k + 1) // 2
        e = self.embedding_dim
        dense_skip, token_skip, out_skip = din == e, n == k, pairs == d
        p = {
            "weight": None if dense_skip else self.p.weight(e, dpieces),
            **self.p_out.sliced(e, ln=not dense_skip),
        }
        q = {
            "weight": None if token_skip else self.q.weight(k, spieces),
            **self.q_out.sliced(k, ln=not token_skip),
        }
        r = {
            "weight": None if out_skip else self.r[:d, :pairs],
            **self.r_out.sliced(d, projected=not out_skip),
        }
        if dense_skip:
            p["bias"] = None
        if token_skip:
            q["bias"] = None
        return p, q, r

    def export(
        self, din: int, dpieces: Sequence[Piece], n: int, spieces: Sequence[Piece], d: int
    ) -> dict[str, Tensor]:
        p, q, r = self._parts(din, dpieces, n, spieces, d)
        state: dict[str, Tensor] = {}
        for prefix, part in (("dense_proj.", p), ("token_proj.", q), ("out_proj.", r)):
            state.update({f"{prefix}{k}": v for k, v in part.items() if v is not None})
        return state

    def forward(
        self, x: Tensor, dpieces: Sequence[Piece], tokens: Tensor, spieces: Sequence[Piece], d: int
    ) -> Tensor:
        p, q, r = self._parts(x.shape[1], dpieces, tokens.shape[2], spieces, d)
        u = fn.linear_ln(x, p["weight"], p["bias"], p["ln_weight"], p["ln_bias"])
        t = fn.linear_ln(tokens, q["weight"], q["bias"], q["ln_weight"], q["ln_bias"])
        z = fn.dot_interaction(u, t, self.tril_index(dot_tokens(d), x.device))
        return fn.linear_ln(z, r["weight"], r["bias"], r["ln_weight"], r["ln_bias"])


class SharedGating(nn.Module):
    """Gating: A Wmax x Wmax (+ bias), R Dmax x Wmax; sliced A[:w, :w], R[:d, :w]."""

    def __init__(self, d_max: int, w_max: int, *, layernorm: bool) -> None:
        super().__init__()
        self.a = _param(w_max, w_max)
        self.a_bias = _param(w_max)
        uniform_(self.a, w_max)
        uniform_(self.a_bias, w_max)
        self.r = _param(d_max, w_max)
        uniform_(self.r, w_max)
        self.r_out = OutputNorm(d_max, layernorm=layernorm, fan_in=w_max)

    def export(self, wl: int, wr: int, d: int) -> dict[str, Tensor]:
        w = max(wl, wr)
        skip = w == d
        state = {"gate.weight": self.a[:w, :w], "gate.bias": self.a_bias[:w]}
        state.update(
            _linear_state(
                "out_proj.", None if skip else self.r[:d, :w], self.r_out.sliced(d, projected=not skip)
            )
        )
        return state

    def forward(self, left: Tensor, right: Tensor, d: int) -> Tensor:
        # Only the first wr gate units multiply non-zero (unpadded) entries of `right`, and padded
        # columns of `left` are zero: so A[:wr, :wl] gives exactly the standalone op's result.
        wl, wr = left.shape[1], right.shape[1]
        w = max(wl, wr)
        gated = torch.sigmoid(F.linear(left, self.a[:wr, :wl], self.a_bias[:wr])) * right
        if w == d:
            return _apply(fn.pad_to(gated, w), None, self.r_out.sliced(d, projected=False))
        return _apply(gated, self.r[:d, :wr], self.r_out.sliced(d))


class SharedSum(nn.Module):
    """Sum: R Dmax x Wmax, sliced R[:d, :w]."""

    def __init__(self, d_max: int, w_max: int, *, layernorm: bool) -> None:
        super().__init__()
        self.r = _param(d_max, w_max)
        uniform_(self.r, w_max)
        self.r_out = OutputNorm(d_max, layernorm=layernorm, fan_in=w_max)

    def export(self, wl: int, wr: int, d: int) -> dict[str, Tensor]:
        w = max(wl, wr)
        skip = w == d
        return _linear_state(
            "out_proj.", None if skip else self.r[:d, :w], self.r_out.sliced(d, projected=not skip)
        )

    def forward(self, left: Tensor, right: Tensor, d: int) -> Tensor:
        w = max(left.shape[1], right.shape[1])
        skip = w == d
        summed = fn.pad_to(left, w) + fn.pad_to(right, w)
        return _apply(summed, None if skip else self.r[:d, :w], self.r_out.sliced(d, projected=not skip))


class SharedEFC(nn.Module):
    """EFC: W Tmax x (sparse pieces), LN / bias over Tmax tokens."""

    def __init__(self, s_max: int, sparse_pieces: Sequence[int], fan_in: int, *, layernorm: bool) -> None:
        super().__init__()
        self.w = SlotLinear(s_max, sparse_pieces, fan_in)
        self.out = OutputNorm(s_max, layernorm=layernorm, fan_in=fan_in)

    def export(self, s: int, pieces: Sequence[Piece]) -> dict[str, Tensor]:
        return _linear_state("linear.", self.w.weight(s, pieces), self.out.sliced(s))

    def forward(self, tokens: Tensor, s: int, pieces: Sequence[Piece]) -> Tensor:
        return torch.relu(_apply(tokens, self.w.weight(s, pieces), self.out.sliced(s)))


class SharedAttention(nn.Module):
    """Attention: token projection Tmax x (sparse pieces) + the E-sized attention core (not sliced)."""

    def __init__(
        self, s_max: int, embedding_dim: int, sparse_pieces: Sequence[int], fan_in: int, *, layernorm: bool
    ) -> None:
        super().__init__()
        e = embedding_dim
        self.w = SlotLinear(s_max, sparse_pieces, fan_in)
        self.out = OutputNorm(s_max, layernorm=layernorm, fan_in=fan_in)
        shapes = {"in_weight": (3 * e, e), "in_bias": (3 * e,), "out_weight": (e, e), "out_bias": (e,)}
        for name in ATTENTION_CORE:
            shape = shapes.get(name, (e, e) if name.endswith("weight") and name.startswith("ffn") else (e,))
            setattr(self, name, _param(*shape))
        reset_attention_parameters(self)

    def _proj(
        self, n: int, s: int, pieces: Sequence[Piece]
    ) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        if n == s:
            return None, {"bias": None, "ln_weight": None, "ln_bias": None}
        return self.w.weight(s, pieces), self.out.sliced(s)

    def export(self, n: int, s: int, pieces: Sequence[Piece]) -> dict[str, Tensor]:
        weight, out = self._proj(n, s, pieces)
        state = _linear_state("token_proj.", weight, out)
        state.update({name: getattr(self, name) for name in ATTENTION_CORE})
        return state

    def forward(self, tokens: Tensor, s: int, pieces: Sequence[Piece]) -> Tensor:
        weight, out = self._proj(tokens.shape[2], s, pieces)
        return fn.attention(_apply(tokens, weight, out), *(getattr(self, name) for name in ATTENTION_CORE))


class SharedFM(nn.Module):
    """FM merge: W Dmax x E, LN / bias over Dmax."""

    def __init__(self, d_max: int, embedding_dim: int, *, layernorm: bool) -> None:
        super().__init__()
        self.w = _param(d_max, embedding_dim)
        uniform_(self.w, embedding_dim)
        self.out = OutputNorm(d_max, layernorm=layernorm, fan_in=embedding_dim)

    def export(self, d: int) -> dict[str, Tensor]:
        return _linear_state("linear.", self.w[:d], self.out.sliced(d))

    def forward(self, sparse: Tensor, d: int) -> Tensor:
        return _apply(fn.fm_term(sparse), self.w[:d], self.out.sliced(d))


class SharedDenseToSparse(nn.Module):
    """Dense-to-sparse merge: W (n E) x Dmax sliced by columns [:, :d]; skipped when d == n E."""

    def __init__(self, d_max: int, tokens: int, embedding_dim: int, *, layernorm: bool) -> None:
        super().__init__()
        self.embedding_dim = embedding_dim
        self.width = tokens * embedding_dim
        self.w = _param(self.width, d_max)
        uniform_(self.w, d_max)
        self.out = OutputNorm(self.width, layernorm=layernorm, fan_in=d_max)

    def _parts(self, d: int) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        if d == self.width:
            return None, {"bias": None, "ln_weight": None, "ln_bias": None}
        return self.w[:, :d], self.out.sliced(self.width)

    def export(self, d: int) -> dict[str, Tensor]:
        weight, out = self._parts(d)
        return _linear_state("linear.", weight, out)

    def forward(self, dense: Tensor) -> Tensor:
        weight, out = self._parts(dense.shape[1])
        return fn.dense_to_sparse_tokens(_apply(dense, weight, out), self.embedding_dim)


class SharedHead(nn.Module):
    """Head over the last block: weights for Dmax dense units, Tmax main tokens and n DS tokens."""

    def __init__(self, d_max: int, s_max: int, ds_tokens: int, embedding_dim: int) -> None:
        super().__init__()
        e = embedding_dim
        fan_in = d_max + (s_max + ds_tokens) * e
        self.w = SlotLinear(1, [d_max, s_max * e, ds_tokens * e], fan_in)
        self.bias = _param(1)
        uniform_(self.bias, fan_in)

    def weight(self, d: int, s: int, ds_tokens: int, embedding_dim: int) -> Tensor:
        pieces = [(0, d), (1, s * embedding_dim)] + ([(2, ds_tokens * embedding_dim)] if ds_tokens else [])
        return self.w.weight(1, pieces)

    def export(self, d: int, s: int, ds_tokens: int, embedding_dim: int) -> dict[str, Tensor]:
        return {"linear.weight": self.weight(d, s, ds_tokens, embedding_dim), "linear.bias": self.bias}

    def forward(self, dense: Tensor, parts: Sequence[Tensor], weight: Tensor) -> Tensor:
        x = torch.cat([dense, *(fn.flatten_tokens(p) for p in parts)], dim=1)
        return F.linear(x, weight, self.bias).squeeze(1)
