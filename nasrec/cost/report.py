"""What ``nasrec arch info`` and ``nasrec cost`` report: an architecture file's canonical form and its
costs (FLOPs and parameters; the PIM model's latency, energy and area)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from nasrec.errors import ConfigError

__all__ = ["architecture_info", "parse_shape", "pim_report"]


def architecture_info(
    path: Path,
    *,
    space_name: str | None = None,
    dataset: str | None = None,
    shape: str | None = None,
    layernorm: bool | None = None,
) -> dict[str, Any]:
    """The architecture in ``path`` (validated against ``space_name`` or the space the file names):
    canonical hash, live blocks and, given a registered ``dataset`` or a ``shape`` ("N_DENSE,N_SPARSE"),
    FLOPs and parameters per op (embedding parameters need the dataset's tables)."""
    from nasrec.cost.flops import embedding_params, op_costs
    from nasrec.data.schema import DatasetSchema
    from nasrec.space.arch_file import read_architecture

    file = read_architecture(path, space=space_name, layernorm=layernorm)
    arch, space, model = file.architecture, file.space, file.model
    if dataset and shape:
        raise ConfigError("give either --dataset or --shape, not both")
    schema: DatasetSchema | None = None
    if dataset:
        from nasrec.data import Dataset

        schema = Dataset.open(dataset).schema
    elif shape:
        num_dense, num_sparse = parse_shape(shape)
        schema = DatasetSchema.of_shape(num_dense, [1] * num_sparse)
    info: dict[str, Any] = {
        "file": str(path),
        "format": file.format,
        "space": space.name if space else None,
        "canonical_hash": arch.canonical_hash(),
        "blocks_alive": list(arch.alive_blocks()),
        "num_blocks": arch.num_blocks,
        "layernorm": model.layernorm,
        "model": model.to_dict(),
        "flops": None,
        "params": None,
        "embedding_params": None,
        "shape": None,
        "ops": [],
        "canonical": arch.canonical().to_dict(),
    }
    if schema is not None:
        costs = op_costs(arch, schema, model)
        info["flops"] = sum(c.flops for c in costs)
        info["params"] = sum(c.params for c in costs)
        info["shape"] = {"num_dense": schema.num_dense, "num_sparse": schema.num_sparse}
        if dataset:
            info["embedding_params"] = embedding_params(schema, model)
        info["ops"] = [
            {"block": c.block, "op": c.op, "stream": c.stream, "flops": c.flops, "params": c.params}
            for c in costs
        ]
    return info


def pim_report(
    path: Path,
    *,
    shape: str,
    space_name: str | None = None,
    layernorm: bool | None = None,
    profile: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    embedding_bits: int = 8,
) -> dict[str, Any]:
    """The PIM cost (``nasrec.cost.pim``) of the architecture in ``path`` on a dataset of ``shape``
    ("N_DENSE,N_SPARSE") on hardware ``profile`` (a name or a YAML path; default isaac32). Each block
    is costed at its own knobs (knob-less blocks: the naive W8A8 / xbar mapping), with ``overrides``
    (some of w_bits, a_bits, dyn_map) replacing those fields in every block."""
    from nasrec.cost.pim import DEFAULT_PROFILE, pim_cost
    from nasrec.data.schema import DatasetSchema
    from nasrec.space.arch_file import read_architecture

    num_dense, num_sparse = parse_shape(shape)
    file = read_architecture(path, space=space_name, layernorm=layernorm)
    arch = file.architecture
    given = dict(overrides or {})
    knobs = [replace(k, **given) for k in arch.canonical().block_knobs()]
    cost = pim_cost(
        arch,
        DatasetSchema.of_shape(num_dense, [1] * num_sparse),  # table sizes do not change the cost
        file.model,
        profile=profile or DEFAULT_PROFILE,
        knobs=knobs,
        embedding_bits=embedding_bits,
    )
    return {
        "file": str(path),
        "format": file.format,
        "space": file.space.name if file.space else None,
        "canonical_hash": file.architecture.canonical_hash(),
        "model": file.model.to_dict(),
        "shape": {"num_dense": num_dense, "num_sparse": num_sparse},
        "overrides": given,
        "knobs": [k.to_dict() for k in knobs],
        **cost.to_dict(),
    }


def parse_shape(text: str) -> tuple[int, int]:
    """``"13,26"`` -> (13, 26): the dense and sparse feature counts ``--shape`` gives."""
    try:
        dense, sparse = (int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"--shape: expected N_DENSE,N_SPARSE (e.g. 13,26), got {text!r}") from None
    if dense < 0 or sparse < 1:
        raise ConfigError(f"--shape: need N_DENSE >= 0 and N_SPARSE >= 1, got {text!r}")
    return dense, sparse
