"""The Architecture genotype: an immutable, JSON-round-tripping description of one network.

A network has ``len(blocks)`` choice blocks. Candidate input index 0 is the raw input (dense
features, B x D, and embedded sparse fields, B x F x E); the output of block ``j`` is candidate
index ``j + 1``. Block ``i`` may read candidates ``0..i``. The head reads the last block's dense
and sparse outputs.

Which genes matter depends on the ops:
    dense_inputs        read by "fc" and "dot"
    left, right         read by the binary ops "gating" and "sum"
    sparse_inputs       read by the sparse op, and by "dot"
In a canonical architecture, genes with no effect are ``None`` and blocks that cannot reach the head
are ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, replace
from typing import Any

from nasrec.errors import ConfigError

DENSE_OPS = ("fc", "dot", "gating", "sum")
SPARSE_OPS = ("efc", "attention")
BINARY_OPS = ("gating", "sum")


@dataclass(frozen=True)
class Block:
    """One choice block: a dense op, a sparse op, their widths, inputs and merge flags.

    dense_width:   D, the dense output width
    sparse_width:  T, the number of sparse output tokens (before dense-to-sparse tokens)
    dense_inputs:  sorted candidate indices concatenated on the feature axis (fc, dot)
    sparse_inputs: sorted candidate indices concatenated on the token axis (sparse op, dot)
    left, right:   candidate indices of the binary ops' two dense operands (may be equal)
    dense_to_sparse: append the dense output, projected to 8 tokens, to the sparse output
    fm:            add a projected factorization-machine term of the sparse output to the dense output
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

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("dense_inputs", "sparse_inputs"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Block:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown block keys {unknown}; expected {sorted(names)}")
        missing = sorted(names - set(data))
        if missing:
            raise ConfigError(f"block is missing keys {missing}")
        values = dict(data)
        for key in ("dense_inputs", "sparse_inputs"):
            if values[key] is not None:
                values[key] = tuple(sorted(int(i) for i in values[key]))
        values["dense_to_sparse"] = bool(values["dense_to_sparse"])
        values["fm"] = bool(values["fm"])
        return cls(**values)

    def with_(self, **changes: Any) -> Block:
        return replace(self, **changes)


@dataclass(frozen=True)
class Architecture:
    """A whole network: a tuple of blocks (``None`` for a pruned block in a canonical form)."""

    blocks: tuple[Block | None, ...]

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {"blocks": [None if b is None else b.to_dict() for b in self.blocks]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        if not isinstance(data, dict) or "blocks" not in data:
            raise ConfigError("an architecture JSON object needs a 'blocks' list")
        return cls(tuple(None if b is None else Block.from_dict(b) for b in data["blocks"]))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        return cls.from_dict(json.loads(text))
