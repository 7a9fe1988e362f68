"""Analytic FLOPs and parameter counts, one walk over the canonical architecture.

Shapes and skip rules are those of docs/operators.md; the counting convention is NASRec's (fvcore):
one multiply-add = 1 FLOP, LayerNorm = 5 FLOPs per element, elementwise ops / softmax / embedding
lookups / FM sums are free. Only live ops count (dead blocks and dead streams are left out, as the
reference's traced, dead-code-eliminated graph leaves them out).

``op_costs`` yields one ``OpCost`` per live op with its matrix products (``Gemm``), normalised
elements and elementwise work, so other cost models (PIM) reuse the same walk.
Shape letters: E embedding dim, T dense-to-sparse tokens, d dense width, s sparse tokens, N input tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nasrec.data.schema import DatasetSchema
from nasrec.errors import ConfigError
from nasrec.space.architecture import BINARY_OPS, Architecture, Block
from nasrec.space.model_config import ModelConfig
from nasrec.space.ops import ATTENTION_HEADS, dot_pairs, dot_tokens

LAYERNORM_FLOPS = 5  # per element, with affine weights (fvcore's norm_flop_counter)


@dataclass(frozen=True)
class Gemm:
    """A matrix product done once per example: ``rows`` vectors of length ``inputs`` times an
    ``inputs x outputs`` matrix, ``count`` times. ``weight`` is False for activation x activation
    products (Gram matrix, attention scores), which have no stored weights."""

    name: str
    rows: int
    inputs: int
    outputs: int
    weight: bool = True
    count: int = 1

    @property
    def macs(self) -> int:
        return self.count * self.rows * self.inputs * self.outputs


@dataclass(frozen=True)
class OpCost:
    """Cost of one live op per example.

    block:  block index, or None for the head
    op:     fc, dot, gating, sum, cross, efc, attention, fm, dense_to_sparse or head
    stream: "dense" / "sparse" (the branch it runs on), "merge" (fm, dense_to_sparse) or "head"
    layernorm: elements normalised (LAYERNORM_FLOPS each)
    elementwise: (kind, elements) done by a vector unit: relu, sigmoid, mul, add, softmax (free in FLOPs)
    """

    block: int | None
    op: str
    stream: str
    params: int
    gemms: tuple[Gemm, ...]
    layernorm: int = 0
    elementwise: tuple[tuple[str, int], ...] = ()

    @property
    def macs(self) -> int:
        return sum(g.macs for g in self.gemms)

    @property
    def flops(self) -> int:
        return self.macs + LAYERNORM_FLOPS * self.layernorm


class _Layers:
    """Accumulates the layers of one op under the ``layernorm`` setting."""

    def __init__(self, layernorm: bool) -> None:
        self.ln = layernorm
        self.gemms: list[Gemm] = []
        self.params = 0
        self.norm = 0
        self.elementwise: list[tuple[str, int]] = []

    def linear(self, name: str, inputs: int, outputs: int, rows: int = 1, *, norm: bool = True) -> None:
        """A linear map (``rows`` x ``inputs`` -> ``rows`` x ``outputs``) with a bias only when layernorm
        is off; ``norm``: its own LayerNorm over ``outputs`` follows (else the caller adds one)."""
        self.gemms.append(Gemm(name, rows, inputs, outputs))
        self.params += inputs * outputs + (0 if self.ln else outputs)
        if norm:
            self.layernorm(outputs, rows)

    def biased(self, name: str, inputs: int, outputs: int, rows: int = 1) -> None:
        """A linear map that always has a bias and no LayerNorm of its own."""
        self.gemms.append(Gemm(name, rows, inputs, outputs))
        self.params += inputs * outputs + outputs

    def product(self, name: str, rows: int, inputs: int, outputs: int, count: int = 1) -> None:
        self.gemms.append(Gemm(name, rows, inputs, outputs, weight=False, count=count))

    def layernorm(self, width: int, rows: int = 1, *, always: bool = False) -> None:
        if self.ln or always:
            self.params += 2 * width
            self.norm += width * rows

    def vector(self, kind: str, elements: int) -> None:
        self.elementwise.append((kind, elements))

    def cost(self, block: int | None, op: str, stream: str) -> OpCost:
        return OpCost(block, op, stream, self.params, tuple(self.gemms), self.norm, tuple(self.elementwise))


def op_costs(arch: Architecture, schema: DatasetSchema, model: ModelConfig) -> list[OpCost]:
    """Per-op costs of the live part of ``arch`` built with ``model`` on a dataset of ``schema``'s shape,
    in forward order."""
    return list(_walk(arch.canonical(), schema, model.layernorm, model.embedding_dim, model.ds_tokens))


def flops(arch: Architecture, schema: DatasetSchema, model: ModelConfig) -> int:
    """FLOPs per example (multiply-add = 1) of the live ops, embeddings excluded."""
    return sum(c.flops for c in op_costs(arch, schema, model))


def params(arch: Architecture, schema: DatasetSchema, model: ModelConfig) -> int:
    """Trainable non-embedding parameters of the live ops (what the SubNet builds)."""
    return sum(c.params for c in op_costs(arch, schema, model))


def embedding_params(schema: DatasetSchema, model: ModelConfig) -> int:
    """Parameters of the embedding tables: sum of table rows x embedding dim."""
    return sum(schema.table_rows) * model.embedding_dim


def _walk(arch: Architecture, schema: DatasetSchema, ln: bool, E: int, T: int) -> Iterator[OpCost]:  # noqa: N803
    dense_w = [schema.num_dense]  # width of each candidate's dense output
    sparse_t = [schema.num_sparse]  # tokens of each candidate's sparse output
    for i, b in enumerate(arch.blocks):
        if b is None:
            dense_w.append(0)
            sparse_t.append(0)
            continue
        if b.dense_op is not None:
            yield _dense_op(i, b, dense_w, sparse_t, ln, E)
        if b.sparse_op is not None:
            yield _sparse_op(i, b, sparse_t, ln, E)
        if b.fm:
            layers = _Layers(ln)
            tokens = _need(b.sparse_width, i, "sparse_width") * E
            layers.vector("mul", tokens + E)  # the squares of every element and of the sum
            layers.vector("add", 2 * tokens + E)  # the two sums over tokens, their difference
            layers.linear("fm_proj", E, _need(b.dense_width, i, "dense_width"))
            layers.vector("add", b.dense_width)  # type: ignore[arg-type]
            yield layers.cost(i, "fm", "merge")
        if b.dense_to_sparse:
            layers = _Layers(ln)
            d = _need(b.dense_width, i, "dense_width")
            if d != T * E:
                layers.linear("ds_proj", d, T * E)
            yield layers.cost(i, "dense_to_sparse", "merge")
        dense_w.append(b.dense_width or 0)
        sparse_t.append((b.sparse_width or 0) + (T if b.dense_to_sparse else 0))
    head = _Layers(ln)
    head.biased("head", dense_w[-1] + sparse_t[-1] * E, 1)
    head.vector("sigmoid", 1)  # a served model answers probabilities (training's loss takes logits)
    yield head.cost(None, "head", "head")


def _need(value: int | None, block: int, gene: str) -> int:
    if value is None:
        raise ConfigError(f"block {block}: {gene} is missing")
    return value


def _dense_op(i: int, b: Block, dense_w: list[int], sparse_t: list[int], ln: bool, E: int) -> OpCost:  # noqa: N803
    d = _need(b.dense_width, i, "dense_width")
    layers = _Layers(ln)
    op = b.dense_op
    if op in ("fc", "dot"):
        d_in = sum(dense_w[j] for j in _need(b.dense_inputs, i, "dense_inputs"))  # type: ignore[arg-type]
    if op == "fc":
        layers.linear("fc", d_in, d)
        layers.vector("relu", d)
    elif op == "dot":
        n = sum(sparse_t[j] for j in _need(b.sparse_inputs, i, "sparse_inputs"))  # type: ignore[arg-type]
        k, pairs = dot_tokens(d), dot_pairs(d)
        if d_in != E:
            layers.linear("dense_proj", d_in, E)
        if n != k:
            layers.linear("token_proj", n, k, rows=E)
        layers.product("gram", k + 1, E, k + 1)
        if pairs != d:
            layers.linear("out_proj", pairs, d, norm=False)
        layers.layernorm(d)  # applies even when R is skipped
    elif op in BINARY_OPS:
        left, right = _need(b.left, i, "left"), _need(b.right, i, "right")
        w = max(dense_w[left], dense_w[right])
        if op == "gating":
            layers.biased("gate", w, w)
            layers.vector("sigmoid", w)
            layers.vector("mul", w)
        elif op == "cross":
            layers.biased("cross", w, w)
            layers.vector("mul", w)  # x_0 * (W x_l + b)
            layers.vector("add", w)  # + x_l
        else:
            layers.vector("add", w)
        if w != d:
            layers.linear("out_proj", w, d, norm=False)
        layers.layernorm(d)
    else:
        raise ConfigError(f"block {i}: dense_op: unknown op {op!r}")
    return layers.cost(i, op, "dense")


def _sparse_op(i: int, b: Block, sparse_t: list[int], ln: bool, E: int) -> OpCost:  # noqa: N803
    s = _need(b.sparse_width, i, "sparse_width")
    n = sum(sparse_t[j] for j in _need(b.sparse_inputs, i, "sparse_inputs"))  # type: ignore[arg-type]
    layers = _Layers(ln)
    if b.sparse_op == "efc":
        layers.linear("token_proj", n, s, rows=E)
        layers.vector("relu", s * E)
    elif b.sparse_op == "attention":
        if n != s:
            layers.linear("token_proj", n, s, rows=E)
        head_dim = E // ATTENTION_HEADS
        layers.biased("in_proj", E, 3 * E, rows=s)
        layers.product("scores", s, head_dim, s, count=ATTENTION_HEADS)
        layers.vector("softmax", ATTENTION_HEADS * s * s)
        layers.product("weighted_sum", s, s, head_dim, count=ATTENTION_HEADS)
        layers.biased("attn_out", E, E, rows=s)
        layers.vector("add", s * E)
        layers.layernorm(E, s, always=True)
        layers.biased("ffn1", E, E, rows=s)
        layers.vector("relu", s * E)
        layers.biased("ffn2", E, E, rows=s)
        layers.vector("add", s * E)
        layers.layernorm(E, s, always=True)
    else:
        raise ConfigError(f"block {i}: sparse_op: unknown op {b.sparse_op!r}")
    return layers.cost(i, b.sparse_op, "sparse")
