"""An ingested dataset on disk, opened with memory maps (layout in :mod:`nasrec.data.writer`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.data.schema import Batch, DatasetSchema
from nasrec.data.split import SPLITS
from nasrec.errors import DataError, NotFoundError

__all__ = ["Dataset", "SplitView", "list_datasets"]


@dataclass(frozen=True)
class SplitView:
    """One split (train / val / test) as memory-mapped row ranges.

    dense:  N x D float32    sparse: N x F int32    labels: N float32
    """

    name: str
    dense: np.ndarray
    sparse: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, start: int, stop: int) -> Batch:
        """Rows ``[start, stop)`` as a Batch (copied out of the memory map; sparse widened to int64)."""
        return Batch.from_numpy(
            np.array(self.dense[start:stop]), self.sparse[start:stop], np.array(self.labels[start:stop])
        )

    def take(self, rows: np.ndarray) -> Batch:
        """Arbitrary rows (an index array) as a Batch."""
        return Batch.from_numpy(
            np.take(self.dense, rows, axis=0), np.take(self.sparse, rows, axis=0), np.take(self.labels, rows)
        )

    @property
    def positive_rate(self) -> float:
        return float(np.mean(self.labels)) if len(self) else float("nan")


class Dataset:
    """A dataset directory: schema, meta, memory-mapped columns, vocabularies.

    Open with :meth:`open`; arrays are mapped read-only on first use.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.schema = DatasetSchema.from_json((self.path / "schema.json").read_text())
            self.meta: dict[str, Any] = json.loads((self.path / "meta.json").read_text())
        except FileNotFoundError as exc:
            raise DataError(f"{self.path} is not a nasrec dataset (no {Path(exc.filename).name})") from exc
        self.name: str = self.meta.get("name", self.path.name)

    @classmethod
    def open(cls, name_or_path: str | Path) -> Dataset:
        """Open by name (in ``datasets_dir()``) or by directory path."""
        from nasrec.data.store import dataset_names
        from nasrec.home import datasets_dir

        text = str(name_or_path)
        named = datasets_dir() / text
        if "/" not in text and text not in (".", "..") and (named / "meta.json").is_file():
            return cls(named)
        if (Path(name_or_path) / "meta.json").is_file():
            return cls(Path(name_or_path))
        names = dataset_names()
        raise NotFoundError(
            f"no dataset {str(name_or_path)!r}; available: {names or 'none'}"
            " (create one with `nasrec data ingest` or `nasrec data synth`)"
        )

    def __repr__(self) -> str:
        rows = self.meta.get("rows", {})
        shape = f"dense={self.schema.num_dense}, sparse={self.schema.num_sparse}"
        return f"Dataset({self.name!r}, rows={rows}, {shape})"

    # --- arrays --------------------------------------------------------------------------------

    @cached_property
    def dense(self) -> np.ndarray:
        return np.load(self.path / "dense.npy", mmap_mode="r")

    @cached_property
    def sparse(self) -> np.ndarray:
        return np.load(self.path / "sparse.npy", mmap_mode="r")

    @cached_property
    def labels(self) -> np.ndarray:
        return np.load(self.path / "label.npy", mmap_mode="r")

    def array(self, key: str) -> np.ndarray:
        """An extra per-row array stored with the dataset (e.g. ``true_prob`` of a synthetic dataset)."""
        path = self.path / f"{key}.npy"
        if not path.is_file():
            raise NotFoundError(f"dataset {self.name!r} has no array {key!r}")
        return np.load(path, mmap_mode="r")

    def split(self, name: str) -> SplitView:
        """``train``, ``val`` or ``test``."""
        if name not in SPLITS:
            raise NotFoundError(f"no split {name!r}; splits are {list(SPLITS)}")
        start, stop = self.meta["ranges"][name]
        return SplitView(name, self.dense[start:stop], self.sparse[start:stop], self.labels[start:stop])

    def split_array(self, key: str, split: str) -> np.ndarray:
        start, stop = self.meta["ranges"][split]
        return self.array(key)[start:stop]

    # --- vocabularies --------------------------------------------------------------------------

    @cached_property
    def _vocab_table(self) -> Any:
        import pyarrow as pa

        with pa.memory_map(str(self.path / "vocab.arrow")) as source:
            return pa.ipc.open_file(source).read_all()

    def vocabularies(self) -> dict[str, Any]:
        """Feature name -> :class:`~nasrec.data.vocab.Vocabulary` (read once, then cached)."""
        return self._vocabularies

    @cached_property
    def _vocabularies(self) -> dict[str, Any]:
        import numpy as np
        import pyarrow.compute as pc

        from nasrec.data.vocab import Vocabulary

        table = self._vocab_table
        layout = self.schema.extra.get("vocab", {})
        bucketed = {t.column for t in self.dense_transforms() if t.is_sparse}
        out = {}
        for feature in self.schema.sparse:
            if feature.name in bucketed:
                continue
            part = table.filter(pc.equal(table.column("feature"), feature.name))
            buckets = int(layout.get(feature.name, {}).get("hash_buckets", 0))
            out[feature.name] = Vocabulary(
                part.column("value").combine_chunks(), np.asarray(part.column("count")), buckets
            )
        return out

    def vocabulary(self, feature: str) -> list[str]:
        """Raw value of every index of ``feature``'s table.

        Index 0 (missing / rare / unseen) is ``""``; hash buckets of a capped table are ``<hash:j>``; the
        buckets of a bucketed dense column are value ranges (``< 1940``, ``[1940, 1960)``, ...).
        """
        names = [f.name for f in self.schema.sparse]
        if feature not in names:
            raise NotFoundError(f"no sparse feature {feature!r} in dataset {self.name!r}; features: {names}")
        bucketed = {t.column: t for t in self.dense_transforms() if t.is_sparse}
        if feature in bucketed:
            return bucketed[feature].labels()
        return self.vocabularies()[feature].labels()

    def dense_transforms(self) -> tuple[Any, ...]:
        """The :class:`~nasrec.data.dense.ColumnTransform` of every raw dense column, as ingested.

        A dataset from before per-column transforms has none recorded: log1p for every dense column.
        """
        from nasrec.data.dense import ColumnTransform, default_transforms

        recorded = self.meta.get("dense_transforms")
        if recorded is None:
            return default_transforms(self.schema.dense)
        return tuple(ColumnTransform.from_dict(t) for t in recorded)

    def feature_map(self) -> Any:
        """A :class:`~nasrec.data.transform.FeatureMap` that encodes raw records like this dataset's rows."""
        from nasrec.data.transform import FeatureMap

        transforms = self.dense_transforms()
        vocabs = self.vocabularies()
        names = tuple(vocabs)
        fmap = FeatureMap(
            self.schema.label,
            tuple(t.column for t in transforms),
            names,
            tuple(vocabs[n] for n in names),
            derived=tuple(tuple(d) for d in self.schema.extra.get("derived", [])),
            ignored=tuple(self.schema.extra.get("ignored", [])),
            transforms=transforms,
        )
        inputs = (fmap.dense_inputs, fmap.sparse_inputs)
        if inputs != (self.schema.dense, tuple(f.name for f in self.schema.sparse)):
            raise DataError(
                f"dataset {self.name!r}: its dense transforms give the inputs {list(inputs[0])} (dense) and "
                f"{list(inputs[1])} (sparse), not the schema's; re-ingest the dataset"
            )
        return fmap

    # --- summary -------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """What ``nasrec data info --json`` prints."""
        meta = self.meta
        out: dict[str, Any] = {
            "name": self.name,
            "path": str(self.path),
            "format": meta.get("format"),
            "source": meta.get("source"),
            "created": meta.get("created"),
            "rows": meta["rows"],
            "label": self.schema.label,
            "dense_features": list(self.schema.dense),
            "dense_transform": meta.get("dense_transform"),
            "dense_transforms": [t.to_dict() for t in self.dense_transforms()],
            "sparse_features": [{"name": f.name, "rows": f.rows} for f in self.schema.sparse],
            "embedding_rows": sum(self.schema.table_rows),
            "positive_rate": meta["positive_rate"],
            "positive_rate_by_split": meta.get("positive_rate_by_split"),
            "hot_rows": meta.get("hot_rows", {}),
            "split": meta.get("split"),
            "min_count": meta.get("min_count"),
            "max_rows": meta.get("max_rows"),
            "skipped_rows": meta.get("skipped_rows", 0),
        }
        for key in ("bayes_logloss", "teacher"):
            if key in meta:
                out[key] = meta[key]
        return out


def list_datasets() -> list[str]:
    """Names of the datasets in ``datasets_dir()``."""
    from nasrec.data.store import dataset_names

    return dataset_names()
