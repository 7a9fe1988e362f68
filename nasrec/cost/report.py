"""What ``nasrec arch info`` reports: an architecture file's canonical form and its costs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nasrec.errors import ConfigError

__all__ = ["architecture_info", "parse_shape"]


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


def parse_shape(text: str) -> tuple[int, int]:
    """``"13,26"`` -> (13, 26): the dense and sparse feature counts ``--shape`` gives."""
    try:
        dense, sparse = (int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"--shape: expected N_DENSE,N_SPARSE (e.g. 13,26), got {text!r}") from None
    if dense < 0 or sparse < 1:
        raise ConfigError(f"--shape: need N_DENSE >= 0 and N_SPARSE >= 1, got {text!r}")
    return dense, sparse
