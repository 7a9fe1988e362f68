"""Value types shared by the whole library: the dataset schema and a typed batch.

Shape vocabulary used in docstrings across nasrec:
    B  batch size          D  dense width (features or units)
    F  sparse fields       T  tokens of a sparse tensor       E  embedding dim
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nasrec.errors import ConfigError


@dataclass(frozen=True)
class SparseFeature:
    """A categorical feature and its embedding table size.

    ``rows`` counts every index the feature can take, including index 0, which is reserved for
    missing and out-of-vocabulary values.
    """

    name: str
    rows: int

    def __post_init__(self) -> None:
        if self.rows < 1:
            raise ConfigError(f"sparse feature {self.name!r}: rows must be >= 1, got {self.rows}")


@dataclass(frozen=True)
class DatasetSchema:
    """Label, dense feature names and sparse features (with table sizes) of a dataset."""

    label: str
    dense: tuple[str, ...]
    sparse: tuple[SparseFeature, ...]
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        names = [self.label, *self.dense, *(f.name for f in self.sparse)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"duplicate column names in schema: {dupes}")
        if not self.sparse:
            raise ConfigError("a schema needs at least one sparse feature")

    @property
    def num_dense(self) -> int:
        return len(self.dense)

    @property
    def num_sparse(self) -> int:
        return len(self.sparse)

    @property
    def table_rows(self) -> tuple[int, ...]:
        return tuple(f.rows for f in self.sparse)

    @classmethod
    def of_shape(cls, num_dense: int, table_rows: list[int] | tuple[int, ...]) -> DatasetSchema:
        """A schema with generated names, for costing and tests: ``I1..`` dense, ``C1..`` sparse."""
        return cls(
            label="label",
            dense=tuple(f"I{i + 1}" for i in range(num_dense)),
            sparse=tuple(SparseFeature(f"C{i + 1}", int(r)) for i, r in enumerate(table_rows)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "dense": list(self.dense),
            "sparse": [asdict(f) for f in self.sparse],
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSchema:
        try:
            return cls(
                label=data["label"],
                dense=tuple(data["dense"]),
                sparse=tuple(SparseFeature(f["name"], int(f["rows"])) for f in data["sparse"]),
                extra=dict(data.get("extra", {})),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"invalid schema JSON: missing or malformed {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> DatasetSchema:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class Batch:
    """One mini-batch.

    dense:  float32 tensor of shape B x D (already transformed)
    sparse: int64 tensor of shape B x F (indices into each field's table, 0 = missing)
    labels: float32 tensor of shape B (0. or 1.)
    """

    dense: Any  # torch.Tensor; typed loosely so importing the schema does not import torch
    sparse: Any
    labels: Any

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: Any, non_blocking: bool = False) -> Batch:
        return Batch(
            self.dense.to(device, non_blocking=non_blocking),
            self.sparse.to(device, non_blocking=non_blocking),
            self.labels.to(device, non_blocking=non_blocking),
        )

    def pin_memory(self) -> Batch:
        return Batch(self.dense.pin_memory(), self.sparse.pin_memory(), self.labels.pin_memory())

    @classmethod
    def from_numpy(cls, dense: np.ndarray, sparse: np.ndarray, labels: np.ndarray) -> Batch:
        import torch

        return cls(
            torch.from_numpy(np.ascontiguousarray(dense, dtype=np.float32)),
            torch.from_numpy(np.ascontiguousarray(sparse, dtype=np.int64)),
            torch.from_numpy(np.ascontiguousarray(labels, dtype=np.float32)),
        )
