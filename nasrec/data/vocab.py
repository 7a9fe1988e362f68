"""Per-column vocabularies by frequency, with an optional row cap by hashing.

A sparse column arrives as dictionary *codes* (N ints, -1 = missing) into a list of distinct raw
*values*. A vocabulary keeps the values seen at least ``min_count`` times in the training rows,
most frequent first, at indices ``1..K``; index 0 is missing / rare / unseen. When a table would
exceed ``max_rows``, only the most frequent values keep a row of their own and every other value
is hashed (FNV-1a 64 of its UTF-8 bytes) into the remaining buckets, so no value is lost to
index 0 and the table size is bounded.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nasrec.errors import ConfigError

__all__ = ["Vocabulary", "build_vocabulary", "fnv1a64", "fnv1a64_array", "hot_row_fraction"]

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1


def fnv1a64(value: str) -> int:
    """FNV-1a 64-bit hash of ``value``'s UTF-8 bytes; the scalar twin of :func:`fnv1a64_array`."""
    h = _FNV_OFFSET
    for byte in value.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def fnv1a64_array(values: pa.Array) -> np.ndarray:
    """FNV-1a 64 of every string in ``values`` (uint64), vectorised over character positions."""
    arr = pc.cast(values, pa.large_string()) if values.type != pa.large_string() else values
    arr = arr.fill_null("")
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(_FNV_PRIME)
    active = np.arange(n)
    pos = 0
    with np.errstate(over="ignore"):
        while active.size:
            active = active[lengths[active] > pos]
            if not active.size:
                break
            byte = data[starts[active] + pos].astype(np.uint64)
            h[active] = (h[active] ^ byte) * prime
            pos += 1
    return h


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """The index layout of one embedding table.

    values:       K raw values (Arrow strings) with a row of their own, index ``i + 1`` for ``values[i]``
    counts:       K ints, how often each of them occurred in the training rows
    hash_buckets: rows ``K + 1 .. K + hash_buckets`` shared by every other value (0 = no hashing)
    """

    values: pa.Array
    counts: np.ndarray
    hash_buckets: int = 0

    @property
    def rows(self) -> int:
        """Table rows, index 0 included."""
        return 1 + len(self.values) + self.hash_buckets

    def labels(self) -> list[str]:
        """A label per index: ``""`` for 0 (missing / rare), the raw value, or ``<hash:j>``."""
        return ["", *self.values.to_pylist(), *(f"<hash:{j}>" for j in range(self.hash_buckets))]

    def index_of(self, value: str | None) -> int:
        """Index of one raw value (slow path for single records; bulk ingest never calls it)."""
        if value is None or value == "":
            return 0
        lookup = self._lookup()
        if value in lookup:
            return lookup[value]
        if self.hash_buckets:
            return 1 + len(self.values) + fnv1a64(value) % self.hash_buckets
        return 0

    def find(self, values: Sequence[Hashable]) -> np.ndarray:
        """Index (``1..K``, int64) of each value that is one of ``values``, else -1; one C-level pass."""
        lookup = self._lookup().get
        return np.fromiter(map(lookup, values, itertools.repeat(-1)), dtype=np.int64, count=len(values))

    def indices_of(self, values: Sequence[str | None]) -> np.ndarray:
        """:meth:`index_of` of every value (int64): looked up in one pass, unseen values hashed in bulk."""
        out = self.find(values)
        unseen = np.flatnonzero(out < 0)
        if unseen.size:
            out[unseen] = 0  # missing (None, "") and, without hash buckets, every unseen value
            rest = [int(i) for i in unseen if values[i]] if self.hash_buckets else []
            if rest:
                hashes = fnv1a64_array(pa.array([values[i] for i in rest], pa.string()))
                out[rest] = 1 + len(self.values) + (hashes % np.uint64(self.hash_buckets)).astype(np.int64)
        return out

    def _lookup(self) -> dict[str, int]:
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            cached = {v: i + 1 for i, v in enumerate(self.values.to_pylist())}
            object.__setattr__(self, "_lookup_cache", cached)
        return cached


def build_vocabulary(
    codes: np.ndarray,
    values: pa.Array,
    train: slice | np.ndarray,
    *,
    min_count: int = 1,
    max_rows: int | None = None,
) -> tuple[Vocabulary, np.ndarray]:
    """Build the vocabulary of one column from its training rows and map every row to an index.

    codes:  N ints into ``values`` (-1 = missing)
    values: U distinct raw values (strings or anything castable to string)
    train:  the rows that count (a slice or an index / mask array)
    Returns the vocabulary and the N table indices (int32).
    """
    if min_count < 1:
        raise ConfigError(f"min_count must be >= 1, got {min_count}")
    if max_rows is not None and max_rows < 3:
        raise ConfigError(f"max_rows must be >= 3 (missing row plus at least two more), got {max_rows}")
    num_values = len(values)
    train_codes = codes[train]
    counts = np.bincount(train_codes[train_codes >= 0], minlength=num_values)
    eligible = np.flatnonzero(counts >= min_count)
    str_values = values if values.type == pa.string() else pc.cast(values, pa.string())
    ranked = eligible[_rank_by_count(counts[eligible], str_values.take(pa.array(eligible)))]
    hash_buckets = 0
    if max_rows is not None and 1 + len(ranked) > max_rows:
        hash_buckets = (max_rows - 1) // 2
        ranked = ranked[: max_rows - 1 - hash_buckets]
    lookup = np.zeros(num_values + 1, dtype=np.int32)  # lookup[-1] (missing) stays 0
    lookup[ranked] = np.arange(1, len(ranked) + 1, dtype=np.int32)
    if hash_buckets:
        rest = np.ones(num_values, dtype=bool)
        rest[ranked] = False
        rest_idx = np.flatnonzero(rest)
        hashes = fnv1a64_array(str_values.take(pa.array(rest_idx)))
        lookup[rest_idx] = (1 + len(ranked) + hashes % np.uint64(hash_buckets)).astype(np.int32)
    vocab = Vocabulary(
        values=str_values.take(pa.array(ranked)), counts=counts[ranked], hash_buckets=hash_buckets
    )
    return vocab, lookup[codes]


def _rank_by_count(counts: np.ndarray, values: pa.Array) -> np.ndarray:
    """Order by count descending, ties by raw value, so vocabularies do not depend on file order."""
    if len(counts) == 0:
        return np.zeros(0, dtype=np.int64)
    table = pa.table({"count": pa.array(counts), "value": values})
    order = pc.sort_indices(table, sort_keys=[("count", "descending"), ("value", "ascending")])
    return order.to_numpy()


def hot_row_fraction(indices: np.ndarray, rows: int, top: float = 0.01) -> float:
    """Fraction of lookups served by the most frequent ``top`` share of a table's rows (FAE's skew)."""
    if indices.size == 0:
        return 0.0
    counts = np.bincount(indices, minlength=rows)
    k = max(1, int(np.ceil(rows * top)))
    hottest = np.partition(counts, len(counts) - k)[len(counts) - k :]
    return float(hottest.sum() / indices.size)
