"""Vocabularies by frequency, the hash cap, and encoding raw records like ingest does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import nasrec.data
from nasrec.data import FeatureMap, FormatOptions, ingest, transform_raw
from nasrec.data.vocab import build_vocabulary, fnv1a64, fnv1a64_array, hot_row_fraction
from nasrec.errors import ConfigError


def test_public_names_resolve() -> None:
    for name in nasrec.data.__all__:
        assert getattr(nasrec.data, name) is not None


def test_fnv1a64_scalar_and_vectorised_agree() -> None:
    values = ["", "a", "68fd1e64", "héllo wörld", "x" * 300]
    assert fnv1a64("") == 0xCBF29CE484222325
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C  # published FNV-1a 64 test vector
    np.testing.assert_array_equal(
        fnv1a64_array(pa.array(values)), np.array([fnv1a64(v) for v in values], np.uint64)
    )


def test_vocabulary_orders_by_count_then_value_and_counts_train_rows_only() -> None:
    values = pa.array(["b", "a", "c", "d", "e"])
    codes = np.array([0, 1, 0, 2, 1, 2, -1, 3, 4, 4, 4], dtype=np.int32)
    train = np.ones(len(codes), dtype=bool)
    train[8:] = False  # "e" occurs only outside train
    vocab, idx = build_vocabulary(codes, values, train)
    assert vocab.labels() == ["", "a", "b", "c", "d"]  # a, b, c twice (ties by value), d once
    assert vocab.counts.tolist() == [2, 2, 2, 1]
    assert idx.tolist() == [2, 1, 2, 3, 1, 3, 0, 4, 0, 0, 0]
    vocab2, idx2 = build_vocabulary(codes, values, train, min_count=2)
    assert vocab2.rows == 4 and idx2.tolist() == [2, 1, 2, 3, 1, 3, 0, 0, 0, 0, 0]
    with pytest.raises(ConfigError):
        build_vocabulary(codes, values, train, min_count=0)


def test_cap_keeps_the_head_and_hashes_the_rest() -> None:
    values = pa.array([f"v{i}" for i in range(100)])
    codes = np.repeat(np.arange(100, dtype=np.int32), np.arange(100, 0, -1))  # v0 most frequent
    vocab, idx = build_vocabulary(codes, values, slice(None), max_rows=21)
    assert vocab.rows == 21 and len(vocab.values) == 10 and vocab.hash_buckets == 10
    assert vocab.values.to_pylist() == [f"v{i}" for i in range(10)]
    tail = idx[codes >= 10]
    assert tail.min() >= 11 and tail.max() <= 20 and len(np.unique(tail)) > 5
    for i in (10, 55, 99):  # the scalar path agrees with bulk ingest, also for unseen values
        assert vocab.index_of(f"v{i}") == idx[np.flatnonzero(codes == i)[0]]
    assert 11 <= vocab.index_of("never-seen") <= 20


@pytest.mark.parametrize("max_rows", [None, 21], ids=["uncapped", "capped"])
def test_bulk_lookup_agrees_with_index_of(max_rows: int | None) -> None:
    values = pa.array([f"v{i}" for i in range(100)])
    codes = np.repeat(np.arange(100, dtype=np.int32), np.arange(100, 0, -1))
    vocab, _ = build_vocabulary(codes, values, slice(None), max_rows=max_rows)
    raw = ["v0", "v9", "v10", "v99", "never-seen", "", None, "héllo", "v0"]
    assert vocab.indices_of(raw).tolist() == [vocab.index_of(v) for v in raw]
    assert vocab.find(["v0", 0, None, "v9"]).tolist() == [1, -1, -1, 10]  # -1: not one of its values
    assert vocab.index_of("") == vocab.index_of(None) == 0


def test_hot_row_fraction() -> None:
    indices = np.array([1] * 90 + list(range(2, 12)))
    assert hot_row_fraction(indices, rows=100) == pytest.approx(0.9)  # top 1 row of 100
    assert hot_row_fraction(np.arange(1000), rows=1000) == pytest.approx(0.01)


def test_feature_map_encodes_raw_records_like_ingest(shared_data: Path) -> None:
    path = shared_data / "samples" / "criteo_sample.txt"
    ds = ingest("criteo-csv", [path], name="fm", max_rows=40, split=(1, 0, 0))
    header, *lines = path.read_text().splitlines()
    records = [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]
    batch = transform_raw(ds, records)
    stored = np.column_stack([np.asarray(ds.labels), np.asarray(ds.dense), np.asarray(ds.sparse)])
    encoded = np.column_stack([batch.labels.numpy(), batch.dense.numpy(), batch.sparse.numpy()])
    lex = lambda m: m[np.lexsort(m.T[::-1])]  # noqa: E731
    np.testing.assert_allclose(lex(encoded), lex(stored), rtol=1e-6)
    assert max(f.rows for f in ds.schema.sparse) == 40
    again = FeatureMap.from_dict(ds.feature_map().to_dict())
    assert np.array_equal(again.encode(records[:20]).sparse.numpy(), batch.sparse.numpy()[:20])
    assert ds.feature_map().to_dict()["dense_transform"] == "log1p(max(x, 0)); missing or non-finite -> 0"


def test_libfm_options_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "ragged.libfm"
    path.write_text("1 0:1 5:1\n0 1:1\n")
    with pytest.raises(ConfigError, match="--field-starts"):
        ingest("libfm", [path], name="ragged")
    with pytest.raises(ConfigError, match="2 field names given for 3 fields"):
        ingest(
            "libfm", [path], name="ragged", options=FormatOptions(field_starts=(0, 3, 5), fields=("a", "b"))
        )


def test_avazu_records_encode_from_the_raw_hour(shared_data: Path) -> None:
    path = shared_data / "samples" / "avazu_sample.txt"
    ds = ingest("avazu", [path], name="avazu-fm", split=(1, 0, 0))
    header, *lines = path.read_text().splitlines()
    records = [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]
    batch = transform_raw(ds, records)  # records carry "hour", not hour_of_day / weekday
    lex = lambda m: m[np.lexsort(m.T[::-1])]  # noqa: E731
    np.testing.assert_array_equal(lex(batch.sparse.numpy()), lex(np.asarray(ds.sparse, dtype=np.int64)))
    assert (batch.sparse.numpy()[:, :2] == 1).all()
