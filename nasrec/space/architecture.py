"""The Architecture genotype: an immutable, JSON-round-tripping description of one network.

A network has ``len(blocks)`` choice blocks. Candidate input index 0 is the raw input (dense
features, B x D, and embedded sparse fields, B x F x E); the output of block ``j`` is candidate
index ``j + 1``. Block ``i`` may read candidates ``0..i``. The head reads the last block's dense
and sparse outputs.

Which genes matter depends on the ops:
    dense_inputs        read by "fc" and "dot"
    left, right         read by the binary ops "gating", "sum" and "cross"
    sparse_inputs       read by the sparse op, and by "dot"
In a canonical architecture (``canonical()``, per-stream liveness of docs/operators.md), genes with
no effect are ``None``, merge flags with no effect are ``False`` and blocks that cannot reach the head
are ``None``.

A block may also carry hardware co-design ``knobs`` (``nasrec.space.codesign.Knobs``, docs/pim.md);
``None`` is the naive mapping (W8A8, xbar), and knobs equal to it are stored as ``None``, so a
knob-less architecture has the JSON and the hash it had before knobs existed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from nasrec.errors import ConfigError
from nasrec.space.codesign import NAIVE, Knobs, knobs_from_json
from nasrec.space.liveness import BlockLiveness, block_liveness

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace

DENSE_OPS = ("fc", "dot", "gating", "sum", "cross")
SPARSE_OPS = ("efc", "attention")
BINARY_OPS = ("gating", "sum", "cross")
# Ops with activation x activation products (Dot-Product's Gram matrix, attention's scores): the
# only ones a block's ``dyn_map`` knob changes.
DYNAMIC_OPS = ("dot", "attention")


@dataclass(frozen=True)
class Block:
    """One choice block: a dense op, a sparse op, their widths, inputs and merge flags.

    dense_width:   D, the dense output width
    sparse_width:  T, the number of sparse output tokens (before dense-to-sparse tokens)
    dense_inputs:  sorted candidate indices concatenated on the feature axis (fc, dot)
    sparse_inputs: sorted candidate indices concatenated on the token axis (sparse op, dot)
    left, right:   candidate indices of the binary ops' two dense operands (may be equal; cross reads
                   left as its x_0 and right as its x_l)
    dense_to_sparse: append the dense output, projected to 8 tokens, to the sparse output
    fm:            add a projected factorization-machine term of the sparse output to the dense output
    knobs:         the block's co-design knobs (precision, where dynamic products run); None = naive
    """

    dense_op: str | None
    sparse_op: str | None
    dense_width: int | None
    sparse_width: int | None
    dense_inputs: tuple[int, ...] | None
    sparse_inputs: tuple[int, ...] | None
    left: int | None
    right: int | None
    dense_to_sparse: bool
    fm: bool
    knobs: Knobs | None = None

    def __post_init__(self) -> None:
        # Normalise so equal genotypes compare and hash equal: inputs are sets (concatenated in
        # index order), numpy scalars become ints, flags become bools.
        for key in ("dense_inputs", "sparse_inputs"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, tuple(sorted(_as_int(i, key) for i in value)))
        for key in ("dense_width", "sparse_width", "left", "right"):
            value = getattr(self, key)
            if value is not None:
                object.__setattr__(self, key, _as_int(value, key))
        object.__setattr__(self, "dense_to_sparse", bool(self.dense_to_sparse))
        object.__setattr__(self, "fm", bool(self.fm))
        if self.knobs is not None and not isinstance(self.knobs, Knobs):
            raise ConfigError(f"knobs: expected Knobs or None, got {self.knobs!r}")
        if self.knobs == NAIVE:  # one form for the naive design, so it has one hash
            object.__setattr__(self, "knobs", None)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("dense_inputs", "sparse_inputs"):
            if out[key] is not None:
                out[key] = list(out[key])
        if self.knobs is None:
            del out["knobs"]  # knob-less blocks keep their pre-co-design JSON (and hash)
        else:
            out["knobs"] = self.knobs.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Block:
        """A block from its JSON object; ``ConfigError`` naming the gene if a key is unknown or
        missing or a value has the wrong type (the genes' meaning is checked by ``validate``)."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"expected a block object with the genes {[f.name for f in fields(cls)]} "
                f"(or null for a pruned block), got {data!r}"
            )
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"unknown keys {unknown}; a block has the genes {names}")
        missing = [name for name in names if name not in data and name != "knobs"]
        if missing:
            raise ConfigError(f"missing keys {missing}; a block has the genes {names}")
        for key in ("dense_op", "sparse_op"):
            if data[key] is not None and not isinstance(data[key], str):
                raise ConfigError(f"{key}: expected an op name or null, got {data[key]!r}")
        for key in ("dense_inputs", "sparse_inputs"):
            if data[key] is not None and not isinstance(data[key], list | tuple):
                raise ConfigError(f"{key}: expected a list of candidate indices or null, got {data[key]!r}")
        for key in ("dense_to_sparse", "fm"):
            if not isinstance(data[key], bool | int) or data[key] not in (0, 1):
                raise ConfigError(f"{key}: expected true or false, got {data[key]!r}")
        try:
            parsed = knobs_from_json(data.get("knobs"))
        except ConfigError as exc:
            raise ConfigError(f"knobs: {exc}") from None
        return cls(**{**data, "knobs": parsed})

    def with_(self, **changes: Any) -> Block:
        return replace(self, **changes)

    @property
    def has_dense_op(self) -> bool:
        return self.dense_op is not None

    @property
    def has_sparse_op(self) -> bool:
        return self.sparse_op is not None

    def dense_reads(self) -> tuple[int, ...]:
        """Candidates whose dense output the dense op reads."""
        if self.dense_op in BINARY_OPS:
            return tuple(i for i in (self.left, self.right) if i is not None)
        return tuple(self.dense_inputs or ()) if self.dense_op is not None else ()

    def sparse_reads_of_dense_ops(self) -> tuple[int, ...]:
        """Candidates whose sparse output the dense op reads (only Dot-Product reads sparse inputs)."""
        return tuple(self.sparse_inputs or ()) if self.dense_op == "dot" else ()

    def sparse_reads(self) -> tuple[int, ...]:
        """Candidates whose sparse output the sparse op reads."""
        return tuple(self.sparse_inputs or ()) if self.sparse_op is not None else ()

    @property
    def resolved_knobs(self) -> Knobs:
        """The knobs this block runs at: its own, or the naive mapping."""
        return self.knobs or NAIVE

    @property
    def has_dynamic_op(self) -> bool:
        """Whether an op with activation x activation products is set (where ``dyn_map`` matters)."""
        return self.dense_op in DYNAMIC_OPS or self.sparse_op in DYNAMIC_OPS


@dataclass(frozen=True)
class Architecture:
    """A whole network: a tuple of blocks (``None`` for a pruned block in a canonical form)."""

    blocks: tuple[Block | None, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    # ---- behaviour (see docs/operators.md for the liveness rules) -------------------------------------

    def validate(self, space: SearchSpace | None = None) -> Architecture:
        """Raise ``ConfigError`` naming the block and gene when this is not a network (known ops,
        positive widths, inputs that exist, ...) or, given ``space``, does not belong to it.

        Accepts full genotypes and canonical forms (``None`` for genes with no effect). Returns self.
        See ``nasrec.space.validation``.
        """
        from nasrec.space.validation import validate_architecture

        validate_architecture(self, space)
        return self

    def liveness(self) -> tuple[BlockLiveness, ...]:
        """Per block: which outputs, ops and merges reach the head."""
        return block_liveness(self.blocks)

    def block_knobs(self) -> tuple[Knobs, ...]:
        """Per block, the knobs it runs at (the naive mapping for knob-less and pruned blocks)."""
        return tuple(NAIVE if b is None else b.resolved_knobs for b in self.blocks)

    @property
    def has_knobs(self) -> bool:
        """Whether any block carries co-design knobs (then the network is fake-quantised)."""
        return any(b is not None and b.knobs is not None for b in self.blocks)

    def alive_blocks(self) -> tuple[int, ...]:
        """Indices of the blocks with at least one output that reaches the head."""
        return tuple(i for i, live in enumerate(self.liveness()) if live.alive)

    def canonical(self) -> Architecture:
        """The same network with every gene that has no effect cleared.

        Dead blocks become ``None``; in live blocks the ops, widths and inputs of dead streams become
        ``None``, merge flags with no effect become ``False``, and ``sum``'s operands are ordered
        (left <= right; sum is commutative). ``dyn_map`` becomes ``xbar`` in a block without a live
        Dot-Product or attention (it has no dynamic products to place). Two genotypes with the same
        canonical form build the same network.
        """
        return Architecture(
            tuple(_canonical_block(b, live) for b, live in zip(self.blocks, self.liveness(), strict=True))
        )

    def canonical_hash(self) -> str:
        """Stable 16-hex-digit id of the canonical form: equal for functionally identical genotypes."""
        digest = hashlib.sha256(self.canonical().to_json().encode()).hexdigest()
        return digest[:16]

    @classmethod
    def from_nasrec_json(cls, data: dict[str, Any] | str) -> Architecture:
        """Import a NASRec reference config (``{"macro": [...], "micro": [...], "config": ...}``)."""
        from nasrec.space.reference import architecture_from_reference

        return architecture_from_reference(data)

    def to_dict(self) -> dict[str, Any]:
        return {"blocks": [None if b is None else b.to_dict() for b in self.blocks]}

    @classmethod
    def from_dict(cls, data: Any) -> Architecture:
        """An architecture from its JSON object (other keys than ``blocks`` are ignored), checked
        with ``validate()``: ``ConfigError`` naming the block and the gene."""
        if not isinstance(data, dict) or not isinstance(data.get("blocks"), list):
            raise ConfigError("blocks: an architecture JSON object needs a 'blocks' list")
        blocks: list[Block | None] = []
        for i, b in enumerate(data["blocks"]):
            try:
                blocks.append(None if b is None else Block.from_dict(b))
            except ConfigError as exc:
                raise ConfigError(f"block {i}: {exc}") from None
        return cls(tuple(blocks)).validate()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc}") from None
        return cls.from_dict(data)


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    return int(value)


def _canonical_block(block: Block | None, live: BlockLiveness) -> Block | None:
    if block is None or not live.alive:
        return None
    dense_op = block.dense_op if live.dense_op else None
    sparse_op = block.sparse_op if live.sparse_op else None
    binary = dense_op in BINARY_OPS
    left, right = (block.left, block.right) if binary else (None, None)
    if dense_op == "sum" and left is not None and right is not None and left > right:
        left, right = right, left
    reads_sparse = sparse_op is not None or dense_op == "dot"
    knobs = block.knobs
    if knobs is not None and dense_op not in DYNAMIC_OPS and sparse_op not in DYNAMIC_OPS:
        knobs = replace(knobs, dyn_map=NAIVE.dyn_map)
    return Block(
        dense_op=dense_op,
        sparse_op=sparse_op,
        dense_width=block.dense_width if dense_op else None,
        sparse_width=block.sparse_width if sparse_op else None,
        dense_inputs=block.dense_inputs if dense_op in ("fc", "dot") else None,
        sparse_inputs=block.sparse_inputs if reads_sparse else None,
        left=left,
        right=right,
        dense_to_sparse=live.dense_to_sparse,
        fm=live.fm,
        knobs=knobs,
    )
