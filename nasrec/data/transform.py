"""How raw values become model inputs, for ingest and for anyone encoding new raw records (export).

dense:  x -> log(1 + max(x, 0)); missing (empty / NaN / non-finite) -> 0
sparse: raw value (as text) -> its vocabulary index; missing, rare or unseen -> 0, or the value's
        FNV-1a 64 hash bucket when the table is capped (see :mod:`nasrec.data.vocab`)
derived: features computed from another raw column (Avazu's ``hour`` YYMMDDHH -> ``hour_of_day`` "HH"
        and ``weekday`` "0" (Monday) .. "6"); a record may give either the feature or its source
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from nasrec.data.schema import Batch
from nasrec.data.vocab import Vocabulary

if TYPE_CHECKING:
    from nasrec.data.dataset import Dataset

__all__ = ["DENSE_TRANSFORM", "FeatureMap", "dense_transform", "transform_raw"]

DENSE_TRANSFORM = "log1p(max(x, 0)); missing or non-finite -> 0"


def _avazu_hour_of_day(hour: str) -> str | None:
    return hour[6:8] if len(hour) == 8 else None


def _avazu_weekday(hour: str) -> str | None:
    import datetime as dt

    try:
        return str(dt.date(2000 + int(hour[:2]), int(hour[2:4]), int(hour[4:6])).weekday())
    except ValueError:
        return None


DERIVATIONS = {"avazu_hour_of_day": _avazu_hour_of_day, "avazu_weekday": _avazu_weekday}


def dense_transform(x: np.ndarray) -> np.ndarray:
    """Raw counts (NaN = missing) -> float32 model inputs (a new array; ``x`` is not modified)."""
    return dense_transform_(np.array(x, dtype=np.float32, copy=True))


def dense_transform_(x: np.ndarray) -> np.ndarray:
    """:func:`dense_transform` in place on a float32 array (e.g. a memory map being written); returns it."""
    np.maximum(x, 0.0, out=x)  # NaN stays NaN
    np.log1p(x, out=x)
    x[~np.isfinite(x)] = 0.0
    return x


@dataclass(frozen=True)
class FeatureMap:
    """Everything needed to turn raw records into model inputs: feature names and vocabularies."""

    label: str
    dense: tuple[str, ...]
    sparse: tuple[str, ...]
    vocabularies: tuple[Vocabulary, ...]
    derived: tuple[tuple[str, str, str], ...] = ()  # (feature, source column, rule in DERIVATIONS)

    def encode(self, records: Sequence[Mapping[str, Any]]) -> Batch:
        """Raw records (feature name -> raw value; absent = missing) -> a Batch.

        Sparse values are compared as text (ints are formatted with ``str``); the label is read if present,
        else 0.
        """
        n = len(records)
        raw = np.full((n, len(self.dense)), np.nan)
        sparse = np.zeros((n, len(self.sparse)), dtype=np.int64)
        labels = np.zeros(n, dtype=np.float32)
        for i, rec in enumerate(records):
            rec = self._with_derived(rec)
            for j, name in enumerate(self.dense):
                raw[i, j] = _number(rec.get(name))
            for j, (name, vocab) in enumerate(zip(self.sparse, self.vocabularies, strict=True)):
                value = rec.get(name)
                sparse[i, j] = vocab.index_of(None if value is None else _text(value))
            labels[i] = float(_number(rec.get(self.label)) > 0)
        return Batch.from_numpy(dense_transform(raw), sparse, labels)

    def _with_derived(self, rec: Mapping[str, Any]) -> Mapping[str, Any]:
        missing = [(f, src, rule) for f, src, rule in self.derived if rec.get(f) is None and rec.get(src)]
        if not missing:
            return rec
        out = dict(rec)
        for feature, source, rule in missing:
            out[feature] = DERIVATIONS[rule](_text(rec[source]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for an export bundle."""
        return {
            "label": self.label,
            "dense": list(self.dense),
            "dense_transform": DENSE_TRANSFORM,
            "derived": [list(d) for d in self.derived],
            "sparse": [
                {
                    "name": name,
                    "values": v.values.to_pylist(),
                    "hash_buckets": v.hash_buckets,
                    "hash": "fnv1a64-utf8",
                }
                for name, v in zip(self.sparse, self.vocabularies, strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureMap:
        sparse = data["sparse"]
        return cls(
            label=data["label"],
            dense=tuple(data["dense"]),
            sparse=tuple(s["name"] for s in sparse),
            derived=tuple(tuple(d) for d in data.get("derived", [])),
            vocabularies=tuple(
                Vocabulary(
                    pa.array(s["values"], pa.string()),
                    np.zeros(len(s["values"]), np.int64),
                    int(s["hash_buckets"]),
                )
                for s in sparse
            ),
        )


def transform_raw(dataset: Dataset, records: Sequence[Mapping[str, Any]]) -> Batch:
    """Encode raw records exactly as ``dataset`` was encoded at ingest."""
    return dataset.feature_map().encode(records)


def _number(value: Any) -> float:
    if value is None or value == "":
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
