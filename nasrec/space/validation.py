"""Check an Architecture against a SearchSpace; every error names the block and the gene."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasrec.errors import ConfigError
from nasrec.space.architecture import BINARY_OPS, Architecture, Block

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace


def validate_architecture(arch: Architecture, space: SearchSpace) -> None:
    if arch.num_blocks != space.num_blocks:
        raise ConfigError(
            f"blocks: the architecture has {arch.num_blocks} blocks, "
            f"space {space.name!r} has {space.num_blocks}"
        )
    for i, block in enumerate(arch.blocks):
        if block is not None:
            _validate_block(i, block, space)
    last = arch.blocks[-1]
    if last is None or last.dense_op is None or last.sparse_op is None:
        raise ConfigError(
            f"block {arch.num_blocks - 1}: dense_op/sparse_op: the last block feeds the head "
            "and needs both a dense and a sparse op"
        )
    _validate_streams(arch)
    _validate_flags(arch, space)


def _fail(i: int, gene: str, message: str) -> ConfigError:
    return ConfigError(f"block {i}: {gene}: {message}")


def _validate_block(i: int, b: Block, space: SearchSpace) -> None:
    if b.dense_op is None and b.sparse_op is None:
        raise _fail(i, "dense_op/sparse_op", "a block needs at least one op (use null for a pruned block)")
    if b.dense_op is not None and b.dense_op not in space.dense_ops:
        raise _fail(
            i,
            "dense_op",
            f"{b.dense_op!r} is not in space {space.name!r} (dense_ops: {list(space.dense_ops)})",
        )
    if b.sparse_op is not None and b.sparse_op not in space.sparse_ops:
        raise _fail(
            i,
            "sparse_op",
            f"{b.sparse_op!r} is not in space {space.name!r} (sparse_ops: {list(space.sparse_ops)})",
        )
    _width(i, "dense_width", b.dense_width, space.dense_widths, needed=b.dense_op is not None)
    _width(i, "sparse_width", b.sparse_width, space.sparse_widths, needed=b.sparse_op is not None)
    _inputs(i, "dense_inputs", b.dense_inputs, space.max_dense_inputs, needed=b.dense_op in ("fc", "dot"))
    needs_sparse = b.sparse_op is not None or b.dense_op == "dot"
    _inputs(i, "sparse_inputs", b.sparse_inputs, space.max_sparse_inputs, needed=needs_sparse)
    for gene in ("left", "right"):
        value = getattr(b, gene)
        if value is None:
            if b.dense_op in BINARY_OPS:
                raise _fail(i, gene, f"the binary op {b.dense_op!r} needs a {gene} input")
        elif not 0 <= value <= i:
            raise _fail(i, gene, f"candidate {value} is out of range; block {i} reads candidates 0..{i}")
    if b.dense_to_sparse and b.dense_op is None:
        raise _fail(i, "dense_to_sparse", "is on but the block has no dense op")
    if b.fm and b.sparse_op is None:
        raise _fail(i, "fm", "is on but the block has no sparse op")


def _width(i: int, gene: str, value: int | None, allowed: tuple[int, ...], *, needed: bool) -> None:
    if value is None:
        if needed:
            raise _fail(i, gene, "is missing")
    elif value not in allowed:
        raise _fail(i, gene, f"{value} is not one of {list(allowed)}")


def _inputs(i: int, gene: str, value: tuple[int, ...] | None, max_inputs: int, *, needed: bool) -> None:
    if value is None:
        if needed:
            raise _fail(i, gene, "is missing")
        return
    if not value:
        raise _fail(i, gene, "is empty; choose 1 or more candidates")
    if len(set(value)) != len(value):
        raise _fail(i, gene, f"lists a candidate twice: {list(value)}")
    if len(value) > max_inputs:
        raise _fail(i, gene, f"{len(value)} inputs, at most {max_inputs} allowed")
    bad = [j for j in value if not 0 <= j <= i]
    if bad:
        raise _fail(i, gene, f"candidate(s) {bad} out of range; block {i} reads candidates 0..{i}")


def _validate_streams(arch: Architecture) -> None:
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
                raise _fail(i, gene, f"reads the {stream} output of block {j - 1}, which has no {stream} op")


def _validate_flags(arch: Architecture, space: SearchSpace) -> None:
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
                raise _fail(
                    i, gene, f"{value} is not allowed by space {space.name!r} (choices {list(allowed)})"
                )
