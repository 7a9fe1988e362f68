"""Turn parsed rows into the on-disk dataset layout (see DESIGN.md, "Dataset on disk").

    <dir>/schema.json   DatasetSchema (vocabulary layout in ``extra["vocab"]``)
    <dir>/meta.json     rows and index range per split, positive rates, hot rows, source, ...
    <dir>/dense.npy     N x D float32, transformed (the dense columns that are not bucketed)
    <dir>/sparse.npy    N x F int32 table indices (0 = missing / rare): the categorical features, then
                        the bucketed dense columns
    <dir>/label.npy     N float32
    <dir>/vocab.arrow   Arrow IPC table (feature, value, count): index i >= 1 of a feature is its i-th row
    <dir>/<key>.npy     extra per-row arrays, e.g. ``true_prob`` of a synthetic dataset

Rows are stored train, val, test, each shuffled, so every split is a contiguous range.
``meta["dense_transforms"]`` is the transform of every raw dense column with its parameters
(:mod:`nasrec.data.dense`); ``schema.json`` holds the model's inputs (a bucketed column is a sparse
feature there, after the categorical ones).
``meta["hot_rows"][feature]`` is the share of training lookups that hit the table's most frequent 1% of
rows (row 0 included): the access skew that FAE-style hot-embedding caches exploit.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from nasrec.console import StepProgress
from nasrec.data.dense import ColumnTransform, apply_transforms, default_transforms, describe_transforms
from nasrec.data.formats import RawData, parallel_map
from nasrec.data.schema import DatasetSchema, SparseFeature
from nasrec.data.split import SPLITS
from nasrec.data.store import staging_dir
from nasrec.data.vocab import Vocabulary, build_vocabulary, hot_row_fraction
from nasrec.errors import DataError
from nasrec.home import datasets_dir

__all__ = ["write_dataset"]

_CHUNK = 1 << 14
_REPORT_EVERY = 64  # chunks (1 M rows) between progress reports


def write_dataset(
    raw: RawData,
    splits: list[np.ndarray],
    *,
    name: str,
    force: bool = False,
    min_count: int = 1,
    max_rows: int | None = None,
    meta: dict[str, Any] | None = None,
    extra_arrays: dict[str, np.ndarray] | None = None,
    transforms: tuple[ColumnTransform, ...] | None = None,
    progress: StepProgress | None = None,
) -> Path:
    """Write ``raw`` as dataset ``name``; ``splits`` are row indices of train, val, test in storage order.

    Vocabularies are built from the training rows only, so values first seen in val / test map to 0 as
    they would in production. ``extra_arrays`` (N rows each, in raw order) are stored reordered too.
    ``transforms``: one per dense column, fitted on the training rows (``resolve_transforms``); None
    means the columns are counts: log1p for every one (synthetic data).

    ``progress(done, total, {"stage": "write"})``: rows written, ``total`` the dataset's rows. The rows
    are written in three passes (dense, vocabularies, sparse), each counted as a third of the rows.
    """
    if transforms is None:
        transforms = default_transforms(raw.dense_names, chosen="format")
    if tuple(t.column for t in transforms) != tuple(raw.dense_names):
        raise DataError(f"transforms for {[t.column for t in transforms]}, dense columns {raw.dense_names}")
    dense_names = tuple(t.column for t in transforms if not t.is_sparse)
    bucketed = [t for t in transforms if t.is_sparse]
    num_cats = len(raw.sparse)
    sizes = [len(s) for s in splits]
    if sizes[0] == 0:
        raise DataError(
            f"no training rows (split sizes {dict(zip(SPLITS, sizes, strict=True))}); need more input rows"
        )
    order = np.concatenate(splits)
    n, n_train = len(order), sizes[0]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    train_mask = np.zeros(n, dtype=bool)
    train_mask[splits[0]] = True

    def report(done_passes: int, rows: int) -> None:
        if progress is not None:
            progress((done_passes * n + rows) // 3, n, {"stage": "write"})

    report(0, 0)
    with staging_dir(name, force=force) as tmp:
        labels = raw.labels[order].astype(np.float32)
        np.save(tmp / "label.npy", labels)
        raw_dense = np.asarray(raw.dense, dtype=np.float32)
        dense = _new_npy(tmp / "dense.npy", np.float32, (n, len(dense_names)))
        columns = np.empty((num_cats + len(bucketed), n), dtype=np.int32)  # F x N, storage order
        for start in range(0, n, _CHUNK):  # gather, transform and write one cache-sized block at a time
            stop = min(start + _CHUNK, n)
            values, buckets = apply_transforms(np.take(raw_dense, order[start:stop], axis=0), transforms)
            dense[start:stop] = values
            columns[num_cats:, start:stop] = buckets.T
            if (start // _CHUNK) % _REPORT_EVERY == _REPORT_EVERY - 1:
                report(0, stop)
        _flush(dense)
        report(1, 0)
        del dense, raw_dense

        def encode(f: int) -> Vocabulary:
            codes, values = raw.sparse[f]
            vocab, indices = build_vocabulary(
                codes, values, train_mask, min_count=min_count, max_rows=max_rows
            )
            np.take(indices, order, out=columns[f], mode="clip")
            return vocab

        vocabs = parallel_map(encode, range(num_cats))
        report(2, 0)
        sparse_names = (*raw.sparse_names, *(t.column for t in bucketed))
        rows = [v.rows for v in vocabs] + [t.rows for t in bucketed]
        sparse = _new_npy(tmp / "sparse.npy", np.int32, (n, len(rows)))  # N x F: a row range is one slice
        for start in range(0, n, _CHUNK):  # blocked transpose, straight into the file
            sparse[start : start + _CHUNK] = columns[:, start : start + _CHUNK].T
            if (start // _CHUNK) % _REPORT_EVERY == _REPORT_EVERY - 1:
                report(2, start + _CHUNK)
        _flush(sparse)
        del sparse
        for key, arr in (extra_arrays or {}).items():
            np.save(tmp / f"{key}.npy", arr[order])
        _write_vocab(tmp / "vocab.arrow", raw.sparse_names, vocabs)
        described = describe_transforms(transforms)
        schema = DatasetSchema(
            label=raw.label,
            dense=dense_names,
            sparse=tuple(SparseFeature(nm, r) for nm, r in zip(sparse_names, rows, strict=True)),
            extra={
                "dense_transform": described,
                "vocab": {
                    nm: {"values": len(v.values), "hash_buckets": v.hash_buckets, "min_count": min_count}
                    for nm, v in zip(raw.sparse_names, vocabs, strict=True)
                },
                **raw.extra,
            },
        )
        (tmp / "schema.json").write_text(schema.to_json())
        rates = {s: _rate(labels[bounds[k] : bounds[k + 1]]) for k, s in enumerate(SPLITS)}
        info = {
            "name": name,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "rows": dict(zip(SPLITS, sizes, strict=True)),
            "ranges": {s: [bounds[k], bounds[k + 1]] for k, s in enumerate(SPLITS)},
            "positive_rate": _rate(labels),
            "positive_rate_by_split": rates,
            "skipped_rows": int(raw.skipped),
            "min_count": min_count,
            "max_rows": max_rows,
            "dense_transform": described,
            "dense_transforms": [t.to_dict() for t in transforms],
            "hot_rows": {
                nm: round(hot_row_fraction(columns[f, :n_train], rows[f]), 6)
                for f, nm in enumerate(sparse_names)
            },
            **(meta or {}),
        }
        (tmp / "meta.json").write_text(json.dumps(info, indent=2))
    report(3, 0)
    return datasets_dir() / name


def _new_npy(path: Path, dtype: type, shape: tuple[int, int]) -> np.ndarray:
    """A writable memory-mapped .npy file (a (n, 0) array cannot be mapped, so it is saved directly)."""
    if shape[0] * shape[1] == 0:
        np.save(path, np.zeros(shape, dtype))
        return np.zeros(shape, dtype)
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def _flush(arr: np.ndarray) -> None:
    if isinstance(arr, np.memmap):
        arr.flush()


def _rate(labels: np.ndarray) -> float | None:
    return round(float(labels.mean()), 6) if len(labels) else None


def _write_vocab(path: Path, names: tuple[str, ...], vocabs: list[Vocabulary]) -> None:
    table = pa.table(
        {
            "feature": pa.array(
                np.repeat(np.array(names, dtype=object), [len(v.values) for v in vocabs]), pa.string()
            ),
            "value": pa.concat_arrays([v.values for v in vocabs]) if vocabs else pa.array([], pa.string()),
            "count": pa.array(np.concatenate([v.counts for v in vocabs]).astype(np.int64))
            if vocabs
            else pa.array([], pa.int64()),
        }
    )
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
