"""Define-by-run encoding of an architecture as Optuna parameters, and its exact inverse.

Blocks are suggested from the last to the first. The head reads the last block's dense and sparse
outputs, so when block ``i`` is reached every consumer of its outputs has already been chosen and we
know which of its streams are live. Only genes that have an effect are suggested:

* a block with no live stream is not suggested at all (pruned);
* ``fm`` only when the dense stream is live, ``dense_to_sparse`` only when the sparse stream is live;
* the dense op, its width and inputs only when the dense output is computed (live, or feeding a live
  sparse stream through ``dense_to_sparse``); ``left`` / ``right`` only for binary ops and
  ``dense_inputs`` only for ``fc`` / ``dot``;
* the sparse op, its width and ``sparse_inputs`` only when the sparse output is computed; ``dot`` also
  reads ``sparse_inputs``;
* the co-design knobs the space declares (``b3_w_bits``, ``b3_a_bits``) for every live block,
  ``b3_dyn_map`` only when the block has a live Dot-Product or attention;
* a categorical with one choice is not suggested (its value is implied).

Inputs are per-candidate booleans (``b5_dense_in_2``): TPE learns a marginal inclusion probability per
predecessor, which it cannot do from a categorical over hundreds of subsets. Any boolean pattern maps to
a valid block by a fixed repair: none chosen -> the nearest predecessor; more than the space allows ->
the most recent ones. Valid architectures round-trip exactly: ``params_to_architecture(
architecture_to_params(a)) == a.canonical()``, which is what lets evolution enqueue its children as
fixed trials.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nasrec.errors import ConfigError
from nasrec.space.architecture import BINARY_OPS, DYNAMIC_OPS, Architecture, Block
from nasrec.space.codesign import NAIVE, Knobs

__all__ = ["architecture_to_params", "params_to_architecture", "suggest_architecture"]

Choice = bool | int | str
Chooser = Callable[[str, Sequence[Choice]], Choice]

_NAME = re.compile(r"^b(\d+)_([a-z_]+?)(?:_(\d+))?$")


def suggest_architecture(trial: Any, space: Any) -> Architecture:
    """Ask ``trial`` (an ``optuna.Trial``) for one architecture of ``space``, define-by-run."""

    def choose(name: str, choices: Sequence[Choice]) -> Choice:
        return trial.suggest_categorical(name, list(choices))

    return _build(space, choose)


def params_to_architecture(params: Mapping[str, Any], space: Any) -> Architecture:
    """The architecture a finished trial's ``params`` encode (missing genes are implied ones)."""

    def choose(name: str, choices: Sequence[Choice]) -> Choice:
        if name not in params:
            raise ConfigError(f"trial parameters lack {name!r}; they were not made for space {space.name!r}")
        return params[name]

    return _build(space, choose)


def architecture_to_params(arch: Architecture, space: Any) -> dict[str, Choice]:
    """The parameters that make :func:`suggest_architecture` return ``arch`` (canonicalised)."""
    canon = _canonical(arch, space)
    params: dict[str, Choice] = {}

    def choose(name: str, choices: Sequence[Choice]) -> Choice:
        value = _gene(canon, name)
        if value not in choices:
            raise ConfigError(
                f"architecture gene {name}={value!r} is not among the space's choices {list(choices)}"
            )
        params[name] = value
        return value

    rebuilt = _build(space, choose)
    if rebuilt != canon:  # a gene outside what the encoding can express, e.g. too many inputs
        raise ConfigError("architecture does not fit the search space (it cannot be encoded as trial params)")
    return params


# ---- the one walk shared by all three ------------------------------------------------------------------


def _build(space: Any, choose: Chooser) -> Architecture:
    n = space.num_blocks
    dense_live = [False] * n
    sparse_live = [False] * n
    dense_live[n - 1] = sparse_live[n - 1] = True
    blocks: list[Block | None] = [None] * n

    def pick(name: str, choices: Sequence[Choice]) -> Choice:
        return choices[0] if len(choices) == 1 else choose(name, choices)

    def subset(prefix: str, i: int, limit: int) -> tuple[int, ...]:
        chosen = [j for j in range(i + 1) if pick(f"b{i}_{prefix}_{j}", (False, True) if i > 0 else (True,))]
        if not chosen:
            chosen = [i]
        return tuple(chosen[-limit:])

    def mark(candidate: int, dense: bool) -> None:
        if candidate > 0:
            (dense_live if dense else sparse_live)[candidate - 1] = True

    for i in range(n - 1, -1, -1):
        if not (dense_live[i] or sparse_live[i]):
            continue
        fm = bool(pick(f"b{i}_fm", space.fm)) if dense_live[i] else False
        ds = bool(pick(f"b{i}_ds", space.dense_to_sparse)) if sparse_live[i] else False
        dense_on = dense_live[i] or ds
        sparse_on = sparse_live[i] or fm

        dense_op = dense_width = left = right = None
        dense_inputs = sparse_inputs = None
        sparse_op = sparse_width = None
        if dense_on:
            dense_op = str(pick(f"b{i}_dense_op", space.dense_ops))
            dense_width = int(pick(f"b{i}_dense_width", space.dense_widths))
            if dense_op in BINARY_OPS:
                candidates = tuple(range(i + 1))
                left = int(pick(f"b{i}_left", candidates))
                right = int(pick(f"b{i}_right", candidates))
                mark(left, True)
                mark(right, True)
            else:
                dense_inputs = subset("dense_in", i, space.max_dense_inputs)
                for j in dense_inputs:
                    mark(j, True)
        if sparse_on:
            sparse_op = str(pick(f"b{i}_sparse_op", space.sparse_ops))
            sparse_width = int(pick(f"b{i}_sparse_width", space.sparse_widths))
        if sparse_on or dense_op == "dot":
            sparse_inputs = subset("sparse_in", i, space.max_sparse_inputs)
            for j in sparse_inputs:
                mark(j, False)
        knobs = None
        if space.co_design:
            choices = space.knob_choices()
            dynamic = dense_op in DYNAMIC_OPS or sparse_op in DYNAMIC_OPS
            knobs = Knobs(
                w_bits=int(pick(f"b{i}_w_bits", choices["w_bits"])),
                a_bits=int(pick(f"b{i}_a_bits", choices["a_bits"])),
                dyn_map=str(pick(f"b{i}_dyn_map", choices["dyn_map"])) if dynamic else NAIVE.dyn_map,
            )
        blocks[i] = Block(
            dense_op=dense_op,
            sparse_op=sparse_op,
            dense_width=dense_width,
            sparse_width=sparse_width,
            dense_inputs=dense_inputs,
            sparse_inputs=sparse_inputs,
            left=left,
            right=right,
            dense_to_sparse=ds,
            fm=fm,
            knobs=knobs,
        )
    return Architecture(tuple(blocks)).canonical()


def _gene(arch: Architecture, name: str) -> Choice:
    match = _NAME.match(name)
    if match is None:  # pragma: no cover - names come from _build
        raise ConfigError(f"not a gene name: {name!r}")
    i, gene, j = int(match.group(1)), match.group(2), match.group(3)
    block = arch.blocks[i]
    if block is None:
        raise ConfigError(f"block {i} is pruned but its gene {name!r} was asked for")
    if gene == "fm":
        return block.fm
    if gene == "ds":
        return block.dense_to_sparse
    if gene in ("dense_in", "sparse_in"):
        inputs = block.dense_inputs if gene == "dense_in" else block.sparse_inputs
        return int(j) in (inputs or ())
    if gene in ("w_bits", "a_bits", "dyn_map"):
        return getattr(block.resolved_knobs, gene)  # type: ignore[no-any-return]
    attr = {
        "dense_op": "dense_op",
        "dense_width": "dense_width",
        "sparse_op": "sparse_op",
        "sparse_width": "sparse_width",
        "left": "left",
        "right": "right",
    }[gene]
    value = getattr(block, attr)
    if value is None:
        raise ConfigError(f"gene {name!r} is unset in the architecture")
    return value


def _canonical(arch: Architecture, space: Any) -> Architecture:
    if arch.num_blocks != space.num_blocks:
        raise ConfigError(
            f"architecture has {arch.num_blocks} blocks but space {space.name!r} has {space.num_blocks}"
        )
    return arch.validate(space).canonical()
