"""Check an Architecture: first what every network needs, then what a search space allows.

    validate_architecture(arch)          the structure: known ops, positive widths, every op's genes
                                         present, inputs that exist (block i reads candidates 0..i),
                                         streams that exist, a last block that feeds the head
    validate_architecture(arch, space)   then the space's choices: block count, ops, widths, how
                                         many inputs, merge flags, co-design knobs

Both accept full genotypes and canonical forms (``None`` for pruned blocks and genes with no effect).
Every error is a ``ConfigError`` naming the block and the gene, ``block 3: dense_inputs: ...``;
``fields`` renames genes to what the file they came from calls them (the NASRec reference's
``macro.dense_idx``). Entry points prefix the source once (``arch.json: block 3: ...``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from nasrec.errors import ConfigError
from nasrec.space.architecture import BINARY_OPS, DENSE_OPS, SPARSE_OPS, Architecture, Block

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace

__all__ = ["validate_architecture"]

CANDIDATES = "0 = the raw inputs, j = the output of block j - 1"


def validate_architecture(
    arch: Architecture, space: SearchSpace | None = None, *, fields: Mapping[str, str] | None = None
) -> None:
    """Raise ``ConfigError`` naming the block and gene of the first problem (see the module docstring)."""
    names = _Names(fields or {})
    _validate_structure(arch, names)
    if space is not None:
        _validate_choices(arch, space, names)


class _Names:
    """Error messages with genes shown under the names of the file they came from."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = fields

    def gene(self, gene: str) -> str:
        shown = [self.fields.get(g, g) for g in gene.split("/")]
        return "/".join(dict.fromkeys(shown))

    def fail(self, i: int | None, gene: str, message: str) -> ConfigError:
        where = self.gene(gene) if i is None else f"block {i}: {self.gene(gene)}"
        return ConfigError(f"{where}: {message}")


# ---- structure: what any network needs ------------------------------------------------------------------


def _validate_structure(arch: Architecture, names: _Names) -> None:
    if not arch.blocks:
        raise names.fail(None, "blocks", "is empty; an architecture needs at least one block")
    for i, block in enumerate(arch.blocks):
        if block is not None:
            _validate_block(i, block, names)
    last = arch.blocks[-1]
    if last is None or last.dense_op is None or last.sparse_op is None:
        raise names.fail(
            arch.num_blocks - 1,
            "dense_op/sparse_op",
            "the last block feeds the head and needs both a dense and a sparse op",
        )
    _validate_streams(arch, names)


def _validate_block(i: int, b: Block, names: _Names) -> None:
    for gene, op, known in (("dense_op", b.dense_op, DENSE_OPS), ("sparse_op", b.sparse_op, SPARSE_OPS)):
        if op is not None and op not in known:
            raise names.fail(i, gene, f"unknown op {op!r}; the {gene[:-3]} ops are {', '.join(known)}")
    if b.dense_op is None and b.sparse_op is None:
        raise names.fail(
            i, "dense_op/sparse_op", "a block needs at least one op (use null for a pruned block)"
        )
    for gene, needed in (("dense_width", b.dense_op is not None), ("sparse_width", b.sparse_op is not None)):
        value = getattr(b, gene)
        if value is None and needed:
            raise names.fail(i, gene, "is missing")
        if value is not None and value < 1:
            raise names.fail(i, gene, f"must be a positive integer, got {value}")
    needs_sparse = b.sparse_op is not None or b.dense_op == "dot"
    _inputs(i, "dense_inputs", b.dense_inputs, names, needed=b.dense_op in ("fc", "dot"))
    _inputs(i, "sparse_inputs", b.sparse_inputs, names, needed=needs_sparse)
    for gene in ("left", "right"):
        value = getattr(b, gene)
        if value is None:
            if b.dense_op in BINARY_OPS:
                raise names.fail(i, gene, f"the binary op {b.dense_op!r} needs a {gene} input")
        elif not 0 <= value <= i:
            raise names.fail(
                i,
                gene,
                f"candidate {value} is out of range; block {i} reads candidates 0..{i} ({CANDIDATES})",
            )
    if b.dense_to_sparse and b.dense_op is None:
        raise names.fail(i, "dense_to_sparse", "is on but the block has no dense op")
    if b.fm and b.sparse_op is None:
        raise names.fail(i, "fm", "is on but the block has no sparse op")


def _inputs(i: int, gene: str, value: tuple[int, ...] | None, names: _Names, *, needed: bool) -> None:
    if value is None:
        if needed:
            raise names.fail(i, gene, "is missing")
        return
    if not value:
        raise names.fail(i, gene, "is empty; choose 1 or more candidates")
    if len(set(value)) != len(value):
        raise names.fail(i, gene, f"lists a candidate twice: {list(value)}")
    bad = [j for j in value if not 0 <= j <= i]
    if bad:
        raise names.fail(
            i, gene, f"candidate(s) {bad} out of range; block {i} reads candidates 0..{i} ({CANDIDATES})"
        )


def _validate_streams(arch: Architecture, names: _Names) -> None:
    """Every op that exists must read streams that exist (matters for canonical forms)."""
    for i, b in enumerate(arch.blocks):
        if b is None:
            continue
        reads: list[tuple[str, int, str]] = []
        if b.dense_op is not None:
            gene = "left/right" if b.dense_op in BINARY_OPS else "dense_inputs"
            reads += [(gene, j, "dense") for j in b.dense_reads()]
            reads += [("sparse_inputs", j, "sparse") for j in b.sparse_reads_of_dense_ops()]
        if b.sparse_op is not None:
            reads += [("sparse_inputs", j, "sparse") for j in b.sparse_inputs or ()]
        for gene, j, stream in reads:
            if j == 0:
                continue
            src = arch.blocks[j - 1]
            op = None if src is None else (src.dense_op if stream == "dense" else src.sparse_op)
            if op is None:
                raise names.fail(
                    i, gene, f"reads the {stream} output of block {j - 1}, which has no {stream} op"
                )


# ---- choices: what a space allows -----------------------------------------------------------------------


def _validate_choices(arch: Architecture, space: SearchSpace, names: _Names) -> None:
    if arch.num_blocks != space.num_blocks:
        raise names.fail(
            None,
            "blocks",
            f"the architecture has {arch.num_blocks} blocks, space {space.name!r} has {space.num_blocks}",
        )
    for i, b in enumerate(arch.blocks):
        if b is None:
            continue
        for gene, op, allowed in (
            ("dense_op", b.dense_op, space.dense_ops),
            ("sparse_op", b.sparse_op, space.sparse_ops),
        ):
            if op is not None and op not in allowed:
                raise names.fail(i, gene, f"{op!r} is not in space {space.name!r} ({gene}s: {list(allowed)})")
        for gene, allowed in (("dense_width", space.dense_widths), ("sparse_width", space.sparse_widths)):
            value = getattr(b, gene)
            if value is not None and value not in allowed:
                raise names.fail(i, gene, f"{value} is not one of {list(allowed)} (space {space.name!r})")
        for gene, most in (
            ("dense_inputs", space.max_dense_inputs),
            ("sparse_inputs", space.max_sparse_inputs),
        ):
            value = getattr(b, gene)
            if value is not None and len(value) > most:
                raise names.fail(
                    i, gene, f"{len(value)} inputs, at most {most} allowed (space {space.name!r})"
                )
    _validate_flags(arch, space, names)
    _validate_knobs(arch, space, names)


def _validate_flags(arch: Architecture, space: SearchSpace, names: _Names) -> None:
    """A flag value must be allowed by the space, unless it has no effect (cleared in canonical forms)."""
    for i, (b, live) in enumerate(zip(arch.blocks, arch.liveness(), strict=True)):
        if b is None:
            continue
        for gene, allowed, effective in (
            ("dense_to_sparse", space.dense_to_sparse, live.sparse_out),
            ("fm", space.fm, live.dense_out),
        ):
            value = getattr(b, gene)
            if value not in allowed and (value or effective):
                raise names.fail(
                    i, gene, f"{value} is not allowed by space {space.name!r} (choices {list(allowed)})"
                )


def _validate_knobs(arch: Architecture, space: SearchSpace, names: _Names) -> None:
    """A block's knobs must be among the space's choices (a knob the space does not declare stays at
    the naive value). Knob-less blocks are the naive design, the reference every space contains;
    ``dyn_map`` is not checked where it has no effect (no Dot-Product or attention in the block)."""
    choices = space.knob_choices()
    for i, b in enumerate(arch.blocks):
        if b is None or b.knobs is None:
            continue
        for knob, allowed in choices.items():
            value = getattr(b.knobs, knob)
            if knob == "dyn_map" and not b.has_dynamic_op:
                continue
            if value not in allowed:
                raise names.fail(
                    i, f"knobs.{knob}", f"{value!r} is not one of {list(allowed)} (space {space.name!r})"
                )
