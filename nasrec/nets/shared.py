"""Shared max-width operators of the supernet; a path uses them by **slicing**.

Each shared op holds the max-width parameters of one op of one block and, given the active shapes,
returns the exact-size tensors the standalone op (``nasrec.nets.ops``) would hold:

* a width-d output uses the leading d rows of a weight (and the leading d entries of its bias and
  LayerNorm affine parameters), so LayerNorm normalises over the active units only;
* an input read from candidate j uses that candidate's own column block. Inputs are concatenations
  of candidate *pieces* (dense: one piece per candidate; sparse: the raw fields, and per block its
  main tokens and its dense-to-sparse tokens), and a weight over such an input keeps **one Parameter
  per piece** (``SlotLinear``), so the slice for a piece is a view and only the pieces in use are
  touched (and get gradients);
* skip rules use the active shapes, exactly as the standalone op does.

``export(...)`` returns those slices as a state dict for the standalone op, so ``SubNet.from_supernet``
and the supernet forward share one slicing rule. ``forward(..., bits)``: the path's fake quantisation
of the op's layers (``(w_bits, a_bits)``; (0, 0) = off), computed on exactly the standalone op's
weights and inputs. Shapes: B batch, D dense width, T tokens, E embedding
dim; sparse tensors are channel-first B x E x T.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from nasrec.nets import functional as fn
from nasrec.nets.ops import ATTENTION_CORE, reset_attention_parameters, uniform_
from nasrec.space.ops import dot_tokens

Piece = tuple[int, int]  # (piece index, active width)


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape))


def _rows(t: Tensor | None, n: int) -> Tensor | None:
    if t is None or n == t.shape[0]:
        return t  # no slice: its backward would allocate and copy a full-size gradient
    return t[:n]


def _level(bounds: Sequence[int], n: int) -> int:
    """Number of grid levels needed to cover n (the first bound >= n is included)."""
    i = bisect_left(bounds, n)
    if i == len(bounds):
        raise ValueError(f"width {n} exceeds the maximum {bounds[-1]}")
    return i + 1


class GridWeight(nn.Module):
    """A max-size matrix stored as a grid of Parameters cut at the widths a path can ask for.

    row_bounds / col_bounds: increasing cut points, the last one the max size (e.g. the space's
    widths 16, 32, ..., 1024). Block (a, b) holds rows [r_{a-1}, r_a) x cols [c_{b-1}, c_b).
    ``get(rows, cols)`` is the leading rows x cols sub-matrix, assembled from the blocks it covers:
    only those blocks take part in the step, so gradients (and the optimizer's work) cover the active
    slice, not the max-size matrix.
    """

    def __init__(self, row_bounds: Sequence[int], col_bounds: Sequence[int], fan_in: int) -> None:
        super().__init__()
        self.row_bounds = _bounds(row_bounds)
        self.col_bounds = _bounds(col_bounds)
        rows = _sizes(self.row_bounds)
        cols = _sizes(self.col_bounds)
        self.blocks = nn.ParameterList([_param(r, c) for r in rows for c in cols])
        for p in self.blocks:
            uniform_(p, fan_in)

    @property
    def shape(self) -> tuple[int, int]:
        return self.row_bounds[-1], self.col_bounds[-1]

    def strips(self, rows: int, cols: int) -> list[list[Tensor]]:
        """Blocks covering [:rows, :cols], as a list of row strips (each a list of column blocks)."""
        na, nb = _level(self.row_bounds, rows), _level(self.col_bounds, cols)
        nc = len(self.col_bounds)
        blocks = list(self.blocks._parameters.values())  # in index order
        out = []
        for a in range(na):
            strip = blocks[a * nc : a * nc + nb]
            if self.col_bounds[nb - 1] != cols:  # a width between cut points: trim the last block
                last = strip[-1]
                strip = [*strip[:-1], last[:, : last.shape[1] - (self.col_bounds[nb - 1] - cols)]]
            out.append(strip)
        return out

    def get(self, rows: int, cols: int) -> Tensor:
        return _assemble([self.strips(rows, cols)], rows, self.row_bounds)


def _bounds(values: Sequence[int]) -> list[int]:
    out = sorted({int(v) for v in values})
    if not out or out[0] < 0:
        raise ValueError(f"grid bounds must be non-negative and non-empty, got {list(values)}")
    return out


def _sizes(bounds: Sequence[int]) -> list[int]:
    return [b - a for a, b in zip([0, *bounds[:-1]], bounds, strict=True)]


def _assemble(grids: Sequence[list[list[Tensor]]], rows: int, row_bounds: Sequence[int]) -> Tensor:
    """Concatenate the row strips of several grids side by side, then the strips top to bottom."""
    strips = []
    for a in range(len(grids[0])):
        parts = [t for grid in grids for t in grid[a]]
        strips.append(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))
    out = strips[0] if len(strips) == 1 else torch.cat(strips, dim=0)
    return out if row_bounds[len(strips) - 1] == rows else out[:rows]


class SlotLinear(nn.Module):
    """Max-width weight of a linear layer whose input is a concatenation of candidate pieces.

    One ``GridWeight`` per piece p (rows cut at ``row_bounds``, columns at ``piece_bounds[p]``).
    ``weight(rows, pieces)`` is the exact weight of the standalone layer: the leading ``rows`` rows of
    each used piece's leading ``width`` columns, concatenated in input order.
    """

    def __init__(self, row_bounds: Sequence[int], piece_bounds: Sequence[Sequence[int]], fan_in: int) -> None:
        super().__init__()
        self.row_bounds = _bounds(row_bounds)
        self.pieces = nn.ModuleList([GridWeight(self.row_bounds, cols, fan_in) for cols in piece_bounds])

    @property
    def _pieces(self) -> list[GridWeight]:
        return list(self.pieces._modules.values())  # type: ignore[arg-type]

    def weight(self, rows: int, pieces: Sequence[Piece]) -> Tensor:
        grids = [self._pieces[p].strips(rows, w) for p, w in pieces]
        return _assemble(grids, rows, self.row_bounds)


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


Bits = tuple[int, int]  # (w_bits, a_bits) of a layer; (0, 0) = float
FLOAT: Bits = (0, 0)


def _apply(x: Tensor, weight: Tensor | None, out: dict[str, Tensor | None], bits: Bits = FLOAT) -> Tensor:
    return fn.linear_ln(x, weight, out["bias"], out["ln_weight"], out["ln_bias"], *bits)


@dataclass(frozen=True)
class Bounds:
    """The shapes a supernet is built for, and the cut points of its grid weights.

    dense / sparse: the space's dense widths and token counts (increasing); num_dense D0 and
    num_sparse F: the raw inputs; ds_tokens n; embedding_dim E.

    grid_ratio: dense dimensions (widths, operands, dot pairs) are cut at a subset of the widths a
    path can ask for, each cut at least ``grid_ratio`` times the previous one (the max always). 1
    cuts at every width (gradients cover exactly the active slice, but more, smaller Parameters);
    larger ratios trade a little gradient over-coverage for fewer Parameters. Token dimensions (at
    most a few dozen) are not cut.
    """

    dense: tuple[int, ...]
    sparse: tuple[int, ...]
    num_dense: int
    num_sparse: int
    ds_tokens: int
    embedding_dim: int
    grid_ratio: float = 3.0

    @property
    def d_max(self) -> int:
        return self.dense[-1]

    @property
    def s_max(self) -> int:
        return self.sparse[-1]

    def cuts(self, values: Sequence[int]) -> list[int]:
        """Cut points among ``values``: each >= grid_ratio x the previous kept one; the max always."""
        ordered = sorted({int(v) for v in values if v > 0}) or [0]
        kept: list[int] = []
        for v in ordered[:-1]:
            if not kept or v >= self.grid_ratio * kept[-1]:
                kept.append(v)
        return [*kept, ordered[-1]]

    @property
    def dense_cuts(self) -> list[int]:
        return self.cuts(self.dense)

    @property
    def operand(self) -> list[int]:
        """Possible widths of a binary op's operands (a block's dense output or the raw features)."""
        return sorted({*self.dense, self.num_dense} - {0})

    @property
    def operand_cuts(self) -> list[int]:
        return self.cuts(self.operand)

    @property
    def k_max(self) -> int:
        return dot_tokens(self.d_max)

    @property
    def pair_cuts(self) -> list[int]:
        return self.cuts(dot_tokens(d) * (dot_tokens(d) + 1) // 2 for d in self.dense)  # type: ignore[arg-type]

    def dense_pieces(self, block: int, *, grid: bool = True) -> list[list[int]]:
        """Column cuts of each dense input piece of ``block``: piece c = candidate c (``grid=False``: one
        block per piece, for small matrices)."""
        return [[self.num_dense]] + [self.dense_cuts if grid else [self.d_max]] * block

    def sparse_pieces(self, block: int) -> list[list[int]]:
        """Columns of each sparse piece: 0 = raw fields, 2j-1 / 2j = block j-1's main / DS tokens."""
        return [[self.num_sparse]] + [[self.s_max], [self.ds_tokens]] * block

    @property
    def dense_fan_in(self) -> int:
        return max(self.d_max, self.num_dense)

    @property
    def sparse_fan_in(self) -> int:
        return max(self.num_sparse, self.s_max + self.ds_tokens)


class SharedFC(nn.Module):
    """FC over the dense pieces of one block: W Dmax x (pieces), LN / bias over Dmax."""

    def __init__(self, bounds: Bounds, block: int, *, layernorm: bool) -> None:
        super().__init__()
        fan_in = bounds.dense_fan_in
        self.w = SlotLinear(bounds.dense_cuts, bounds.dense_pieces(block), fan_in)
        self.out = OutputNorm(bounds.d_max, layernorm=layernorm, fan_in=fan_in)

    def export(self, d: int, pieces: Sequence[Piece]) -> dict[str, Tensor]:
        return _linear_state("linear.", self.w.weight(d, pieces), self.out.sliced(d))

    def forward(self, x: Tensor, pieces: Sequence[Piece], d: int, bits: Bits = FLOAT) -> Tensor:
        return torch.relu(_apply(x, self.w.weight(d, pieces), self.out.sliced(d), bits))


class SharedDot(nn.Module):
    """Dot-Product: P E x (dense pieces), Q kmax x (sparse pieces), R Dmax x kmax(kmax+1)/2."""

    def __init__(self, bounds: Bounds, block: int, *, layernorm: bool) -> None:
        super().__init__()
        e = self.embedding_dim = bounds.embedding_dim
        dense_fan, sparse_fan = bounds.dense_fan_in, bounds.sparse_fan_in
        self.p = SlotLinear([e], bounds.dense_pieces(block, grid=False), dense_fan)
        self.p_out = OutputNorm(e, layernorm=layernorm, fan_in=dense_fan)
        self.q = SlotLinear([bounds.k_max], bounds.sparse_pieces(block), sparse_fan)
        self.q_out = OutputNorm(bounds.k_max, layernorm=layernorm, fan_in=sparse_fan)
        pairs_max = bounds.pair_cuts[-1]
        self.r = GridWeight(bounds.dense_cuts, bounds.pair_cuts, pairs_max)
        self.r_out = OutputNorm(bounds.d_max, layernorm=layernorm, fan_in=pairs_max)
        self._tril: dict[tuple[int, torch.device], Tensor] = {}

    def tril_index(self, k: int, device: torch.device) -> Tensor:
        key = (k, device)
        if key not in self._tril:  # at most one entry per token count and device
            self._tril[key] = fn.tril_flat_index(k, device)
        return self._tril[key]

    def _parts(
        self, din: int, dpieces: Sequence[Piece], n: int, spieces: Sequence[Piece], d: int
    ) -> tuple[dict[str, Tensor | None], ...]:
        k = dot_tokens(d)
        pairs = k * (k + 1) // 2
        e = self.embedding_dim
        dense_skip, token_skip, out_skip = din == e, n == k, pairs == d
        p: dict[str, Tensor | None] = {"weight": None, "bias": None, "ln_weight": None, "ln_bias": None}
        q = dict(p)
        if not dense_skip:
            p = {"weight": self.p.weight(e, dpieces), **self.p_out.sliced(e)}
        if not token_skip:
            q = {"weight": self.q.weight(k, spieces), **self.q_out.sliced(k)}
        r_weight = None if out_skip else self.r.get(d, pairs)
        r = {"weight": r_weight, **self.r_out.sliced(d, projected=not out_skip)}
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
        self,
        x: Tensor,
        dpieces: Sequence[Piece],
        tokens: Tensor,
        spieces: Sequence[Piece],
        d: int,
        bits: Bits = FLOAT,
    ) -> Tensor:
        p, q, r = self._parts(x.shape[1], dpieces, tokens.shape[2], spieces, d)
        u = fn.linear_ln(x, p["weight"], p["bias"], p["ln_weight"], p["ln_bias"], *bits)
        t = fn.linear_ln(tokens, q["weight"], q["bias"], q["ln_weight"], q["ln_bias"], *bits)
        z = fn.dot_interaction(u, t, self.tril_index(dot_tokens(d), x.device), bits[1])
        return fn.linear_ln(z, r["weight"], r["bias"], r["ln_weight"], r["ln_bias"], *bits)


class SharedGating(nn.Module):
    """Gating: A Wmax x Wmax (+ bias), R Dmax x Wmax; sliced A[:w, :w], R[:d, :w]."""

    def __init__(self, bounds: Bounds, *, layernorm: bool) -> None:
        super().__init__()
        w_max = bounds.operand[-1]
        self.a = GridWeight(bounds.operand_cuts, bounds.operand_cuts, w_max)
        self.a_bias = _param(w_max)
        uniform_(self.a_bias, w_max)
        self.r = GridWeight(bounds.dense_cuts, bounds.operand_cuts, w_max)
        self.r_out = OutputNorm(bounds.d_max, layernorm=layernorm, fan_in=w_max)

    def export(self, wl: int, wr: int, d: int) -> dict[str, Tensor]:
        w = max(wl, wr)
        skip = w == d
        state = {"gate.weight": self.a.get(w, w), "gate.bias": self.a_bias[:w]}
        r_weight = None if skip else self.r.get(d, w)
        state.update(_linear_state("out_proj.", r_weight, self.r_out.sliced(d, projected=not skip)))
        return state

    def forward(self, left: Tensor, right: Tensor, d: int, bits: Bits = FLOAT) -> Tensor:
        # Only the first wr gate units multiply non-zero (unpadded) entries of `right`, and padded
        # columns of `left` are zero: so A[:wr, :wl] gives exactly the standalone op's result.
        # Quantised, a row's scale spans all w columns of the standalone op's A and R: pad to w first.
        wl, wr = left.shape[1], right.shape[1]
        w = max(wl, wr)
        quantized = bits != FLOAT
        if quantized:
            left = fn.pad_to(left, w)
        gate = fn.linear(left, self.a.get(wr, left.shape[1]), self.a_bias[:wr], *bits)
        gated = torch.sigmoid(gate) * right
        if w == d:
            return _apply(fn.pad_to(gated, w), None, self.r_out.sliced(d, projected=False))
        if quantized:
            gated = fn.pad_to(gated, w)
        return _apply(gated, self.r.get(d, gated.shape[1]), self.r_out.sliced(d), bits)


class SharedSum(nn.Module):
    """Sum: R Dmax x Wmax, sliced R[:d, :w]."""

    def __init__(self, bounds: Bounds, *, layernorm: bool) -> None:
        super().__init__()
        w_max = bounds.operand[-1]
        self.r = GridWeight(bounds.dense_cuts, bounds.operand_cuts, w_max)
        self.r_out = OutputNorm(bounds.d_max, layernorm=layernorm, fan_in=w_max)

    def _weight(self, w: int, d: int) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        skip = w == d
        return (None if skip else self.r.get(d, w)), self.r_out.sliced(d, projected=not skip)

    def export(self, wl: int, wr: int, d: int) -> dict[str, Tensor]:
        return _linear_state("out_proj.", *self._weight(max(wl, wr), d))

    def forward(self, left: Tensor, right: Tensor, d: int, bits: Bits = FLOAT) -> Tensor:
        w = max(left.shape[1], right.shape[1])
        return _apply(fn.pad_to(left, w) + fn.pad_to(right, w), *self._weight(w, d), bits)


class SharedCross(nn.Module):
    """Cross: W Wmax x Wmax (+ bias), R Dmax x Wmax; sliced W[:w, :w], R[:d, :w]."""

    def __init__(self, bounds: Bounds, *, layernorm: bool) -> None:
        super().__init__()
        w_max = bounds.operand[-1]
        self.w = GridWeight(bounds.operand_cuts, bounds.operand_cuts, w_max)
        self.w_bias = _param(w_max)
        uniform_(self.w_bias, w_max)
        self.r = GridWeight(bounds.dense_cuts, bounds.operand_cuts, w_max)
        self.r_out = OutputNorm(bounds.d_max, layernorm=layernorm, fan_in=w_max)

    def _out(self, w: int, d: int) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        skip = w == d
        return (None if skip else self.r.get(d, w)), self.r_out.sliced(d, projected=not skip)

    def export(self, wl: int, wr: int, d: int) -> dict[str, Tensor]:
        w = max(wl, wr)
        state = {"linear.weight": self.w.get(w, w), "linear.bias": self.w_bias[:w]}
        state.update(_linear_state("out_proj.", *self._out(w, d)))
        return state

    def forward(self, left: Tensor, right: Tensor, d: int, bits: Bits = FLOAT) -> Tensor:
        # The standalone op's padded rows of W meet zeros of x_0 (left), its padded columns zeros of
        # x_l (right): W[:wl, :wr] gives exactly its result (``fn.cross``) and only that slice trains.
        # Quantised, a row's scale spans all w columns of the standalone op's W: pad x_l to w first.
        wl = left.shape[1]
        if bits != FLOAT:
            right = fn.pad_to(right, max(wl, right.shape[1]))
        weight = self.w.get(wl, right.shape[1])
        crossed = fn.cross(left, right, weight, _rows(self.w_bias, wl), *bits)
        return _apply(crossed, *self._out(crossed.shape[1], d), bits)


class SharedEFC(nn.Module):
    """EFC: W Tmax x (sparse pieces), LN / bias over Tmax tokens."""

    def __init__(self, bounds: Bounds, block: int, *, layernorm: bool) -> None:
        super().__init__()
        fan_in = bounds.sparse_fan_in
        self.w = SlotLinear([bounds.s_max], bounds.sparse_pieces(block), fan_in)
        self.out = OutputNorm(bounds.s_max, layernorm=layernorm, fan_in=fan_in)

    def export(self, s: int, pieces: Sequence[Piece]) -> dict[str, Tensor]:
        return _linear_state("linear.", self.w.weight(s, pieces), self.out.sliced(s))

    def forward(self, tokens: Tensor, pieces: Sequence[Piece], s: int, bits: Bits = FLOAT) -> Tensor:
        return torch.relu(_apply(tokens, self.w.weight(s, pieces), self.out.sliced(s), bits))


class SharedAttention(nn.Module):
    """Attention: token projection Tmax x (sparse pieces) + the E-sized attention core (not sliced)."""

    def __init__(self, bounds: Bounds, block: int, *, layernorm: bool) -> None:
        super().__init__()
        e = bounds.embedding_dim
        fan_in = bounds.sparse_fan_in
        self.w = SlotLinear([bounds.s_max], bounds.sparse_pieces(block), fan_in)
        self.out = OutputNorm(bounds.s_max, layernorm=layernorm, fan_in=fan_in)
        shapes = {"in_weight": (3 * e, e), "in_bias": (3 * e,), "out_weight": (e, e), "ffn1_weight": (e, e)}
        shapes["ffn2_weight"] = (e, e)
        for name in ATTENTION_CORE:
            setattr(self, name, _param(*shapes.get(name, (e,))))
        reset_attention_parameters(self)

    def _proj(
        self, n: int, s: int, pieces: Sequence[Piece]
    ) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        if n == s:
            return None, {"bias": None, "ln_weight": None, "ln_bias": None}
        return self.w.weight(s, pieces), self.out.sliced(s)

    def export(self, n: int, s: int, pieces: Sequence[Piece]) -> dict[str, Tensor]:
        state = _linear_state("token_proj.", *self._proj(n, s, pieces))
        state.update({name: getattr(self, name) for name in ATTENTION_CORE})
        return state

    def forward(self, tokens: Tensor, pieces: Sequence[Piece], s: int, bits: Bits = FLOAT) -> Tensor:
        projected = _apply(tokens, *self._proj(tokens.shape[2], s, pieces), bits)
        return fn.attention(projected, *(getattr(self, name) for name in ATTENTION_CORE), *bits)


class SharedFM(nn.Module):
    """FM merge: W Dmax x E, LN / bias over Dmax."""

    def __init__(self, bounds: Bounds, *, layernorm: bool) -> None:
        super().__init__()
        e = bounds.embedding_dim
        self.w = GridWeight([bounds.d_max], [e], e)
        self.out = OutputNorm(bounds.d_max, layernorm=layernorm, fan_in=e)

    def export(self, d: int) -> dict[str, Tensor]:
        return _linear_state("linear.", self.w.get(d, self.w.shape[1]), self.out.sliced(d))

    def forward(self, sparse: Tensor, d: int, bits: Bits = FLOAT) -> Tensor:
        return _apply(fn.fm_term(sparse), self.w.get(d, self.w.shape[1]), self.out.sliced(d), bits)


class SharedDenseToSparse(nn.Module):
    """Dense-to-sparse merge: W (n E) x Dmax sliced by columns [:, :d]; skipped when d == n E."""

    def __init__(self, bounds: Bounds, *, layernorm: bool) -> None:
        super().__init__()
        self.embedding_dim = bounds.embedding_dim
        self.width = bounds.ds_tokens * bounds.embedding_dim
        self.w = GridWeight([self.width], [bounds.d_max], bounds.d_max)
        self.out = OutputNorm(self.width, layernorm=layernorm, fan_in=bounds.d_max)

    def _parts(self, d: int) -> tuple[Tensor | None, dict[str, Tensor | None]]:
        if d == self.width:
            return None, {"bias": None, "ln_weight": None, "ln_bias": None}
        return self.w.get(self.width, d), self.out.sliced(self.width)

    def export(self, d: int) -> dict[str, Tensor]:
        return _linear_state("linear.", *self._parts(d))

    def forward(self, dense: Tensor, bits: Bits = FLOAT) -> Tensor:
        projected = _apply(dense, *self._parts(dense.shape[1]), bits)
        return fn.dense_to_sparse_tokens(projected, self.embedding_dim)


class SharedHead(nn.Module):
    """Head over the last block: weights for Dmax dense units, Tmax main tokens and n DS tokens."""

    def __init__(self, bounds: Bounds) -> None:
        super().__init__()
        e = bounds.embedding_dim
        fan_in = bounds.d_max + (bounds.s_max + bounds.ds_tokens) * e
        pieces = [[bounds.d_max], [bounds.s_max * e], [bounds.ds_tokens * e]]
        self.w = SlotLinear([1], pieces, fan_in)
        self.bias = _param(1)
        uniform_(self.bias, fan_in)
        self.embedding_dim = e
        self.ds_width = bounds.ds_tokens * e

    def weight(self, d: int, s: int, with_ds: bool) -> Tensor:
        pieces = [(0, d), (1, s * self.embedding_dim)] + ([(2, self.ds_width)] if with_ds else [])
        return self.w.weight(1, pieces)

    def export(self, d: int, s: int, with_ds: bool) -> dict[str, Tensor]:
        return {"linear.weight": self.weight(d, s, with_ds), "linear.bias": self.bias}

    def forward(self, dense: Tensor, parts: Sequence[Tensor], weight: Tensor, bits: Bits = FLOAT) -> Tensor:
        # one term per input instead of one linear over their concatenation: no copy of the tokens
        if bits != FLOAT:  # quantised as one layer: one weight scale, one input scale per example
            weight = fn.quantize_weight(weight, bits[0])
            dense, *parts = fn.quantize_together([dense, *parts], bits[1])
        col = dense.shape[1]
        out = fn.linear(dense, weight[:, :col], self.bias)
        for p in parts:
            width = p.shape[1] * p.shape[2]
            out = out + fn.flat_tokens_linear(p, weight[:, col : col + width])
            col += width
        return out.squeeze(1)
