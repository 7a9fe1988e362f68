"""Every ingest format on the real samples in ../shared/data, checked against an independent read."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from nasrec.data import BatchLoader, Dataset, FormatOptions, dense_transform, ingest, transform_raw
from nasrec.data.formats import AVAZU_COLUMNS, CRITEO_DENSE, CRITEO_SPARSE, KDD12_COLUMNS

CRITEO_COLUMNS = ("label", *CRITEO_DENSE, *CRITEO_SPARSE)


def read_rows(path: Path, delimiter: str, header: bool) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        rows = list(reader)
    names = rows[0] if header else CRITEO_COLUMNS
    return [dict(zip(names, r, strict=True)) for r in (rows[1:] if header else rows)]


def sorted_rows(batch_dense: np.ndarray, batch_sparse: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rows as one matrix sorted lexicographically, to compare splits stored in a shuffled order."""
    m = np.column_stack(
        [labels.astype(np.float64), batch_dense.astype(np.float64), batch_sparse.astype(np.float64)]
    )
    return m[np.lexsort(m.T[::-1])]


def test_criteo_three_files_match_an_independent_read(shared_data: Path) -> None:
    d = shared_data / "criteo_8k"
    ds = ingest("criteo", [d / "train.txt", d / "dev.txt", d / "test.txt"], name="c8k")
    info = ds.info()
    assert info["rows"] == {"train": 7200, "val": 409, "test": 391}
    assert info["dense_features"] == list(CRITEO_DENSE)
    assert [f["name"] for f in info["sparse_features"]] == list(CRITEO_SPARSE)
    train = read_rows(d / "train.txt", "\t", header=False)
    test = read_rows(d / "test.txt", "\t", header=False)
    all_rows = train + read_rows(d / "dev.txt", "\t", header=False) + test
    assert info["positive_rate"] == pytest.approx(np.mean([r["label"] == "1" for r in all_rows]), abs=1e-6)
    assert info["positive_rate"] == pytest.approx(0.216, abs=0.001)
    # vocabulary = distinct non-empty training values, most frequent first, index 0 for missing
    for name in CRITEO_SPARSE:
        counts = Counter(r[name] for r in train if r[name] != "")
        vocab = ds.vocabulary(name)
        assert len(vocab) == len(counts) + 1 == ds.schema.sparse[CRITEO_SPARSE.index(name)].rows
        assert vocab[0] == ""
        assert [counts[v] for v in vocab[1:]] == sorted(counts.values(), reverse=True)
    # the stored test split is exactly the raw test rows, transformed (unseen values -> 0)
    split = ds.split("test")
    expected = transform_raw(ds, test)
    got = sorted_rows(np.asarray(split.dense), np.asarray(split.sparse), np.asarray(split.labels))
    want = sorted_rows(expected.dense.numpy(), expected.sparse.numpy(), expected.labels.numpy())
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # missing handling: empty I1 cells become 0, and so do negative counts
    raw_i12 = np.array([float(r["I12"]) if r["I12"] else np.nan for r in test])
    assert np.isnan(raw_i12).mean() > 0.5
    assert np.sort(np.asarray(split.dense)[:, 11]).tolist() == pytest.approx(
        np.sort(dense_transform(raw_i12))
    )
    assert (np.asarray(split.sparse) == 0).any()


def test_criteo_single_file_is_split_stratified(shared_data: Path) -> None:
    ds = ingest("criteo", [shared_data / "criteo_8k" / "train.txt"], name="c7k")
    rows = ds.meta["rows"]
    assert rows == {"train": 5760, "val": 720, "test": 720}
    rates = ds.meta["positive_rate_by_split"]
    assert max(rates.values()) - min(rates.values()) < 0.003
    assert ds.meta["split"] == {"method": "stratified", "ratios": [8.0, 1.0, 1.0], "seed": 2018}
    again = ingest("criteo", [shared_data / "criteo_8k" / "train.txt"], name="c7k-again")
    np.testing.assert_array_equal(np.asarray(ds.sparse), np.asarray(again.sparse))
    other = ingest("criteo", [shared_data / "criteo_8k" / "train.txt"], name="c7k-seed", seed=7)
    assert not np.array_equal(np.asarray(ds.labels), np.asarray(other.labels))


def test_criteo_csv_sample(shared_data: Path) -> None:
    path = shared_data / "samples" / "criteo_sample.txt"
    ds = ingest("criteo-csv", [path], name="ccsv")
    info = ds.info()
    raw = read_rows(path, ",", header=True)
    assert sum(info["rows"].values()) == 200
    assert info["positive_rate"] == pytest.approx(49 / 200)
    assert len(info["dense_features"]) == 13 and len(info["sparse_features"]) == 26
    # "260.0" is read as the number 260; the multiset of transformed I3 equals the csv-module read
    expected = dense_transform(np.array([float(r["I3"]) if r["I3"] else np.nan for r in raw]))
    assert np.sort(np.asarray(ds.dense)[:, 2]) == pytest.approx(np.sort(expected))
    assert (np.asarray(ds.dense)[:, 0] == 0).sum() >= sum(r["I1"] == "" for r in raw) == 90


def test_avazu_sample_with_and_without_header(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "samples" / "avazu_sample.txt"
    ds = ingest("avazu", [path], name="avazu")
    info = ds.info()
    assert sum(info["rows"].values()) == 100
    assert info["positive_rate"] == pytest.approx(0.20)
    assert info["dense_features"] == []
    names = [f["name"] for f in info["sparse_features"]]
    assert names[:2] == ["hour_of_day", "weekday"]
    assert "id" not in names and "hour" not in names and "click" not in names
    assert len(names) == len(AVAZU_COLUMNS) - 3 + 2
    # every sample row is 2014-10-21 00h, a Tuesday (Monday = 0)
    assert ds.vocabulary("hour_of_day") == ["", "00"]
    assert ds.vocabulary("weekday") == ["", "1"]
    batch = next(iter(BatchLoader(ds.split("train"), 16)))
    assert batch.dense.shape == (16, 0) and batch.sparse.shape == (16, len(names))  # no dense features
    no_header = tmp_path / "avazu_noheader.csv"
    no_header.write_text("".join(path.read_text().splitlines(keepends=True)[1:]))
    ds2 = ingest("avazu", [no_header], name="avazu2")
    np.testing.assert_array_equal(np.asarray(ds.sparse), np.asarray(ds2.sparse))
    with_id = ingest("avazu", [path], name="avazu-id", options=FormatOptions(keep_id=True))
    id_table = {f.name: f.rows for f in with_id.schema.sparse}["id"]
    assert id_table == with_id.meta["rows"]["train"] + 1  # ids are unique, read as text


def test_kdd12_fixture(shared_data: Path) -> None:
    ds = ingest("kdd12", [shared_data / "kdd12_fixture" / "training.txt"], name="kdd")
    info = ds.info()
    assert sum(info["rows"].values()) == 11
    assert info["positive_rate"] == 0.0  # every fixture row has Clicks = 0
    assert info["dense_features"] == ["Impression", "Depth", "Position"]
    names = [f["name"] for f in info["sparse_features"]]
    assert names == [c for c in KDD12_COLUMNS if c not in ("Clicks", "Impression", "Depth", "Position")]
    # DisplayURL values do not fit in int64; they are kept as text
    assert all(len(v) >= 18 for v in ds.vocabulary("DisplayURL")[1:])
    assert ds.vocabulary("UserID") == ["", "490234"]
    assert np.asarray(ds.dense)[:, 0] == pytest.approx(np.log1p(1.0))


def test_kdd12_click_counts_become_labels(tmp_path: Path, shared_data: Path) -> None:
    lines = (shared_data / "kdd12_fixture" / "training.txt").read_text().splitlines()
    lines[0] = "3" + lines[0][1:]
    lines[1] = "1" + lines[1][1:]
    path = tmp_path / "training.txt"
    path.write_text("\n".join(lines) + "\n")
    ds = ingest("kdd12", [path], name="kdd-clicks")
    assert np.asarray(ds.labels).sum() == 2


def test_libfm_frappe_fields_recovered(shared_data: Path) -> None:
    path = shared_data / "frappe" / "frappe.validation.libfm"
    names = [
        "user",
        "item",
        "daytime",
        "weekday",
        "isweekend",
        "homework",
        "cost",
        "weather",
        "country",
        "city",
    ]
    ds = ingest("libfm", [path], name="frappe", options=FormatOptions(fields=tuple(names)))
    info = ds.info()
    assert sum(info["rows"].values()) == 57722
    assert info["positive_rate"] == pytest.approx(19063 / 57722, abs=1e-6)
    assert [f["name"] for f in info["sparse_features"]] == names
    per_position: list[Counter[str]] = [Counter() for _ in names]
    for line in path.read_text().splitlines():
        for j, token in enumerate(line.split()[1:]):
            per_position[j][token.split(":")[0]] += 1
    rows = {f["name"]: f["rows"] for f in info["sparse_features"]}
    for name, values in zip(names, per_position, strict=True):
        assert rows[name] <= len(values) + 1
        if min(values.values()) >= 30:  # every value surely occurs in the 80% train split
            assert rows[name] == len(values) + 1
    starts = ds.schema.extra["libfm_field_starts"]
    assert starts == sorted(starts) and starts[0] == 0
    assert (np.asarray(ds.split("train").sparse) > 0).all()  # a token per field on every row, seen in train


def test_libfm_given_field_starts_and_zero_one_labels(tmp_path: Path) -> None:
    path = tmp_path / "tiny.libfm"
    path.write_text("1 0:1 5:1\n0 1:1\n0 2:1 6:1 9:1\n1 0:1 7:1\n" * 5)
    options = FormatOptions(field_starts=(0, 5, 9))
    ds = ingest("libfm", [path], name="tiny", options=options, split=(1, 0, 0))
    assert ds.meta["rows"]["train"] == 20
    assert np.asarray(ds.labels).sum() == 10
    assert [f.rows for f in ds.schema.sparse] == [4, 4, 2]
    assert ((np.asarray(ds.sparse)[:, 2] == 0).sum()) == 15  # field 2 present on 5 rows only


def test_generic_csv_and_parquet_agree(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "samples" / "criteo_sample.txt"
    options = FormatOptions(label="label", dense=("I1", "I2", "I3"), sparse=("C1", "C2", "C3"))
    from_csv = ingest("csv", [path], name="generic-csv", options=options)
    assert from_csv.schema.dense == ("I1", "I2", "I3")
    assert [f.name for f in from_csv.schema.sparse] == ["C1", "C2", "C3"]
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path)
    pq.write_table(table, tmp_path / "sample.parquet")
    from_parquet = ingest("parquet", [tmp_path / "sample.parquet"], name="generic-pq", options=options)
    assert from_parquet.meta["rows"] == from_csv.meta["rows"]
    assert from_parquet.schema.table_rows == from_csv.schema.table_rows
    np.testing.assert_array_equal(np.asarray(from_parquet.sparse), np.asarray(from_csv.sparse))
    np.testing.assert_allclose(np.asarray(from_parquet.dense), np.asarray(from_csv.dense))


def test_min_count_and_row_cap(shared_data: Path) -> None:
    path = shared_data / "criteo_8k" / "train.txt"
    full = ingest("criteo", [path], name="full")
    rare = ingest("criteo", [path], name="mc5", min_count=5)
    capped = ingest("criteo", [path], name="cap", max_rows=101)
    train_rows = full.meta["rows"]["train"]
    for f_full, f_rare, f_cap in zip(
        full.schema.sparse, rare.schema.sparse, capped.schema.sparse, strict=True
    ):
        assert f_rare.rows <= f_full.rows
        assert f_cap.rows == min(f_full.rows, 101)
    # min_count: every kept value occurred >= 5 times in train, and rare values are now 0
    vocabs = rare.vocabularies()
    assert all(int(v.counts.min(initial=5)) >= 5 for v in vocabs.values())
    c3 = [f.name for f in full.schema.sparse].index("C3")
    train = slice(0, train_rows)
    assert (np.asarray(rare.sparse)[train, c3] == 0).sum() > (np.asarray(full.sparse)[train, c3] == 0).sum()
    # the cap hashes the tail into 50 buckets instead of dropping it to 0
    cap_c3 = np.asarray(capped.sparse)[:, c3]
    assert capped.schema.extra["vocab"]["C3"] == {"values": 50, "hash_buckets": 50, "min_count": 1}
    assert cap_c3.max() == 100 and (cap_c3 > 50).any()
    full_c3 = np.asarray(full.sparse)[:, c3]
    assert (cap_c3[train] == 0).sum() == (full_c3[train] == 0).sum()  # only missing cells are 0 in train
    assert (cap_c3[train_rows:] == 0).sum() < (full_c3[train_rows:] == 0).sum()  # unseen values are hashed
    assert capped.vocabulary("C3")[51:53] == ["<hash:0>", "<hash:1>"]


def test_dataset_open_by_path_and_missing_name(shared_data: Path) -> None:
    from nasrec.errors import NotFoundError

    ds = ingest("kdd12", [shared_data / "kdd12_fixture" / "training.txt"], name="kdd-open")
    assert Dataset.open(ds.path).name == "kdd-open"
    with pytest.raises(NotFoundError, match=r"no dataset 'nope'; available: \['kdd-open'\]"):
        Dataset.open("nope")
