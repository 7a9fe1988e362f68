"""Import architectures written by the NASRec reference code (``nasrec_configs/*.json``).

Reference format (one entry per block)::

    {"macro": [{"dense_idx": [..], "sparse_idx": [..], "dense_left_idx": [l], "dense_right_idx": [r]}, ...],
     "micro": [{"active_nodes": [dense_id, sparse_id], "dense_in_dims": d, "sparse_in_dims": s,
                "dense_sparse_interact": 0|1, "deep_fm": 0|1}, ...],
     "num_blocks": 7, "config": "autoctr" | "xlarge", ...}

``active_nodes`` ids index the reference space's node list (``REFERENCE_NODES``). A micro entry may
also hold nasrec's co-design ``knobs`` (``{"w_bits": 4, "a_bits": 8, "dyn_map": "dpe"}``; absent or
null: the naive mapping), which the reference code does not have.
"""

from __future__ import annotations

import json
from typing import Any

from nasrec.errors import ConfigError
from nasrec.space.architecture import DENSE_OPS, SPARSE_OPS, Architecture, Block
from nasrec.space.codesign import knobs_from_json

# Node lists of the reference's ``ops_config_lib``, in id order, with nasrec op names.
REFERENCE_NODES: dict[str, tuple[str, ...]] = {
    "autoctr": ("fc", "dot", "efc"),
    "xlarge": ("fc", "dot", "gating", "sum", "attention", "efc"),
}
# The nasrec space that has exactly the reference space's choices.
REFERENCE_SPACES: dict[str, str] = {"autoctr": "nasrec_small", "xlarge": "nasrec_full"}
# What the reference calls each gene, for error messages (``nasrec.space.validation``'s ``fields``).
REFERENCE_FIELDS: dict[str, str] = {
    "blocks": "macro/micro",
    "dense_op": "micro.active_nodes",
    "sparse_op": "micro.active_nodes",
    "dense_width": "micro.dense_in_dims",
    "sparse_width": "micro.sparse_in_dims",
    "dense_inputs": "macro.dense_idx",
    "sparse_inputs": "macro.sparse_idx",
    "left": "macro.dense_left_idx",
    "right": "macro.dense_right_idx",
    "dense_to_sparse": "micro.dense_sparse_interact",
    "fm": "micro.deep_fm",
    "knobs": "micro.knobs",
}


def is_reference_format(data: Any) -> bool:
    return isinstance(data, dict) and "macro" in data and "micro" in data


def reference_space_name(data: dict[str, Any] | str) -> str:
    """The nasrec space of a reference config: ``autoctr`` -> nasrec_small, ``xlarge`` -> nasrec_full."""
    data = _parse(data)
    config = data.get("config")
    if config not in REFERENCE_SPACES:
        raise ConfigError(
            f"config: reference search space {config!r} is not supported; "
            f"expected one of {list(REFERENCE_SPACES)}"
        )
    return REFERENCE_SPACES[config]


def architecture_from_reference(data: dict[str, Any] | str) -> Architecture:
    """The architecture of a reference config, checked (``validate_architecture``; errors name the
    block and the reference's key, e.g. ``block 3: macro.dense_idx: ...``)."""
    from nasrec.space.validation import validate_architecture

    data = _parse(data)
    nodes = REFERENCE_NODES[_config(data)]
    macro, micro = data["macro"], data["micro"]
    if not isinstance(macro, list) or not isinstance(micro, list) or len(macro) != len(micro):
        raise ConfigError("macro/micro: expected two lists with one entry per block")
    if "num_blocks" in data and data["num_blocks"] != len(macro):
        raise ConfigError(f"num_blocks: says {data['num_blocks']} but macro has {len(macro)} entries")
    if not macro:
        raise ConfigError("macro/micro: are empty; an architecture needs at least one block")
    arch = Architecture(
        tuple(_block(i, ma, mi, nodes) for i, (ma, mi) in enumerate(zip(macro, micro, strict=True)))
    )
    validate_architecture(arch, fields=REFERENCE_FIELDS)
    return arch


def _parse(data: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"not valid JSON: {exc}") from None
    if not is_reference_format(data):
        raise ConfigError("not a NASRec reference config: expected 'macro' and 'micro' lists")
    return data  # type: ignore[return-value]


def _config(data: dict[str, Any]) -> str:
    reference_space_name(data)
    return str(data["config"])


def _block(i: int, macro: dict[str, Any], micro: dict[str, Any], nodes: tuple[str, ...]) -> Block:
    def get(part: dict[str, Any], key: str, where: str) -> Any:
        if not isinstance(part, dict) or key not in part:
            raise ConfigError(f"block {i}: {where}.{key} is missing")
        return part[key]

    def integer(value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"block {i}: {key}: expected an integer, got {value!r}")
        return value

    active = get(micro, "active_nodes", "micro")
    ids = range(len(nodes))
    if not isinstance(active, list) or not all(type(a) is int and a in ids for a in active):
        raise ConfigError(f"block {i}: micro.active_nodes {active!r}: ids must index {list(nodes)}")
    names = [nodes[a] for a in active]
    dense = [n for n in names if n in DENSE_OPS]
    sparse = [n for n in names if n in SPARSE_OPS]
    if len(dense) != 1 or len(sparse) != 1:
        raise ConfigError(f"block {i}: micro.active_nodes {names}: need exactly one dense and one sparse op")
    operands = {}
    for key in ("dense_left_idx", "dense_right_idx"):
        value = get(macro, key, "macro")
        if not isinstance(value, list) or len(value) != 1:
            raise ConfigError(f"block {i}: macro.{key} must be a one-element list, got {value!r}")
        operands[key] = integer(value[0], f"macro.{key}")
    inputs = {}
    for key in ("dense_idx", "sparse_idx"):
        value = get(macro, key, "macro")
        if not isinstance(value, list):
            raise ConfigError(f"block {i}: macro.{key} must be a list of distinct ints, got {value!r}")
        inputs[key] = tuple(integer(v, f"macro.{key}") for v in value)
        if len(set(inputs[key])) != len(value):
            raise ConfigError(f"block {i}: macro.{key} must be a list of distinct ints, got {value!r}")
    flags = {}
    for key in ("dense_sparse_interact", "deep_fm"):
        value = get(micro, key, "micro")
        if not isinstance(value, int) or value not in (0, 1):
            raise ConfigError(f"block {i}: micro.{key}: expected 0 or 1, got {value!r}")
        flags[key] = bool(value)
    try:
        parsed = knobs_from_json(micro.get("knobs"))
    except ConfigError as exc:
        raise ConfigError(f"block {i}: micro.knobs: {exc}") from None
    return Block(
        dense_op=dense[0],
        sparse_op=sparse[0],
        dense_width=integer(get(micro, "dense_in_dims", "micro"), "micro.dense_in_dims"),
        sparse_width=integer(get(micro, "sparse_in_dims", "micro"), "micro.sparse_in_dims"),
        dense_inputs=inputs["dense_idx"],
        sparse_inputs=inputs["sparse_idx"],
        left=operands["dense_left_idx"],
        right=operands["dense_right_idx"],
        dense_to_sparse=flags["dense_sparse_interact"],
        fm=flags["deep_fm"],
        knobs=parsed,
    )
