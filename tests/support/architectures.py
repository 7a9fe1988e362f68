"""Invalid architecture files, one per kind of mistake, for the tests of every entry point that reads
architectures (``nasrec arch info``, ``cost``, ``train``, ``export``, ``search``'s baselines, the API).

Each starts from a valid ``nasrec_small`` architecture (a file that names its space) and breaks block
``BLOCK``, or the block count; ``expected`` is what the error must say (block and field included).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.space import load_space, sample_architecture
from nasrec.space.reference import REFERENCE_NODES

BLOCK = 3
SPACE = "nasrec_small"


def valid_architecture() -> dict[str, Any]:
    """A full nasrec_small genotype as its file holds it (naming its space)."""
    arch = sample_architecture(load_space(SPACE), np.random.default_rng(0))
    return {"space": SPACE, **arch.to_dict()}


def reference_config(data: dict[str, Any]) -> dict[str, Any]:
    """The same architecture in the NASRec reference's format (``autoctr`` = nasrec_small)."""
    nodes = REFERENCE_NODES["autoctr"]
    macro, micro = [], []
    for b in data["blocks"]:
        macro.append(
            {
                "dense_idx": list(b["dense_inputs"]),
                "sparse_idx": list(b["sparse_inputs"]),
                "dense_left_idx": [b["left"] or 0],
                "dense_right_idx": [b["right"] or 0],
            }
        )
        micro.append(
            {
                "active_nodes": [nodes.index(b["dense_op"]), nodes.index(b["sparse_op"])],
                "dense_in_dims": b["dense_width"],
                "sparse_in_dims": b["sparse_width"],
                "dense_sparse_interact": int(b["dense_to_sparse"]),
                "deep_fm": int(b["fm"]),
            }
        )
    return {"config": "autoctr", "num_blocks": len(macro), "macro": macro, "micro": micro}


def _block(**genes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        data["blocks"][BLOCK].update(genes)
        return data

    return change


def _without_gene(gene: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        del data["blocks"][BLOCK][gene]
        return data

    return change


def _drop_first_block(data: dict[str, Any]) -> dict[str, Any]:
    data["blocks"] = data["blocks"][1:]  # later blocks still read only what comes before them
    for b in data["blocks"]:
        for key in ("dense_inputs", "sparse_inputs"):
            b[key] = sorted({max(0, j - 1) for j in b[key]})
        b["left"], b["right"] = max(0, b["left"] - 1), max(0, b["right"] - 1)
    return data


def _reference(part: str, **values: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(data: dict[str, Any]) -> dict[str, Any]:
        ref = reference_config(data)
        ref[part][BLOCK].update(values)
        return ref

    return change


@dataclass(frozen=True)
class Invalid:
    kind: str
    change: Callable[[dict[str, Any]], dict[str, Any]]
    expected: str  # in the error message, after the source
    needs_space: bool = False  # found only when checked against the space (the file names nasrec_small)

    @property
    def reference(self) -> bool:
        """In the NASRec reference's format."""
        return self.kind.startswith("reference")

    def data(self) -> dict[str, Any]:
        return self.change(valid_architecture())

    def write(self, path: Path) -> Path:
        path.write_text(json.dumps(self.data(), indent=2))
        return path


INVALID: tuple[Invalid, ...] = (
    Invalid(
        "out-of-range input",
        _block(dense_inputs=[0, 7]),
        f"block {BLOCK}: dense_inputs: candidate(s) [7] out of range; "
        f"block {BLOCK} reads candidates 0..{BLOCK}",
    ),
    Invalid(
        "negative width",
        _block(dense_width=-64),
        f"block {BLOCK}: dense_width: must be a positive integer, got -64",
    ),
    Invalid(
        "width not in the space",
        _block(sparse_width=20),
        f"block {BLOCK}: sparse_width: 20 is not one of [16, 32",
        needs_space=True,
    ),
    Invalid("unknown op", _block(sparse_op="conv"), f"block {BLOCK}: sparse_op: unknown op 'conv'"),
    Invalid("missing gene", _without_gene("fm"), f"block {BLOCK}: missing keys ['fm']"),
    Invalid(
        "wrong block count",
        _drop_first_block,
        f"blocks: the architecture has 6 blocks, space {SPACE!r} has 7",
        needs_space=True,
    ),
    Invalid(
        "reference: out-of-range input",
        _reference("macro", dense_idx=[0, 9]),
        f"block {BLOCK}: macro.dense_idx: candidate(s) [9] out of range",
    ),
    Invalid(
        "reference: width not in the space",
        _reference("micro", dense_in_dims=100),
        f"block {BLOCK}: micro.dense_in_dims: 100 is not one of",
        needs_space=True,
    ),
)
KINDS = [case.kind for case in INVALID]


def invalid(kind: str) -> Invalid:
    return next(case for case in INVALID if case.kind == kind)
