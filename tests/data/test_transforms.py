"""Per-column dense transforms: the auto rule (from the training rows only), explicit options, buckets as
a sparse feature (schema, meta and feature map agree), Criteo unchanged, old datasets, clear errors."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasrec.data import Dataset, FeatureMap, FormatOptions, dense_transform, ingest
from nasrec.data.dense import ColumnTransform, apply_transforms, parse_transform_options
from nasrec.errors import ConfigError
from nasrec.home import datasets_dir


def run(args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str, str]:
    """``nasrec ARGS`` through the real entry point: exit code, stdout, stderr."""
    from nasrec.cli import main

    monkeypatch.setattr(sys, "argv", ["nasrec", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


FILMS = FormatOptions(label="click", dense=("year", "votes"), sparse=("genre",))


def films(path: Path, rows: int, *, seed: int, years: tuple[int, int] = (1922, 1998)) -> list[dict[str, str]]:
    """A CSV of films: a release year (10% missing), a vote count (heavy-tailed, 5% missing), a genre."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        year = "" if rng.random() < 0.1 else str(int(rng.integers(years[0], years[1] + 1)))
        votes = "" if rng.random() < 0.05 else str(int(rng.lognormal(3, 2)))
        genre = str(rng.choice(["drama", "comedy", "noir", "western", "sf"]))
        out.append({"click": str(int(rng.random() < 0.3)), "year": year, "votes": votes, "genre": genre})
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["click", "year", "votes", "genre"])
        writer.writeheader()
        writer.writerows(out)
    return out


def stored_rows(ds: Dataset, files: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """The raw rows of a train / val / test ingest, in the order the dataset stores them."""
    from nasrec.data.split import given_split

    rows = [r for f in files for r in f]
    order = np.concatenate(given_split([len(f) for f in files], ds.meta["split"]["seed"]))
    return [rows[i] for i in order]


def numbers(rows: list[dict[str, str]], column: str) -> np.ndarray:
    return np.array([float(r[column]) if r[column] else np.nan for r in rows], dtype=np.float32)


@pytest.fixture
def split_films(tmp_path: Path) -> list[Path]:
    """Train / val / test files; val and test years lie far outside the training years."""
    paths = [tmp_path / f"{s}.csv" for s in ("train", "val", "test")]
    films(paths[0], 400, seed=1)
    films(paths[1], 60, seed=2, years=(2400, 2500))
    films(paths[2], 60, seed=3, years=(2400, 2500))
    return paths


def test_auto_standardizes_a_year_and_log1ps_a_count_from_the_training_rows_only(split_films: Any) -> None:
    ds = ingest("csv", split_films, name="films", options=FILMS)
    train = list(csv.DictReader(split_films[0].open()))
    years = numbers(train, "year").astype(np.float64)
    years = years[np.isfinite(years)]
    year, votes = ds.dense_transforms()
    assert (year.column, year.kind, year.chosen) == ("year", "standardize", "auto")
    assert year.mean == pytest.approx(years.mean(), rel=1e-12) and year.std == pytest.approx(years.std())
    assert 1922 < year.mean < 1998  # the val / test years (2400..2500) were never looked at
    assert (votes.kind, votes.chosen) == ("log1p", "auto")
    assert ds.meta["dense_transforms"] == [year.to_dict(), votes.to_dict()]
    assert ds.feature_map().to_dict()["dense_transforms"] == ds.meta["dense_transforms"]
    assert ds.info()["dense_transform"] == "per column: standardize year; log1p votes"

    raw = stored_rows(ds, [list(csv.DictReader(p.open())) for p in split_films])
    dense = np.asarray(ds.dense)
    y = numbers(raw, "year").astype(np.float64)
    expected = np.where(np.isnan(y), 0.0, (y - year.mean) / year.std).astype(np.float32)
    np.testing.assert_array_equal(dense[:, 0], expected)  # a missing year is the training mean: 0
    train_rows = slice(*ds.meta["ranges"]["train"])
    assert np.abs(dense[train_rows, 0]).max() < 2  # 1922..1998 -> about -1.7..1.7, not 7.56..7.60
    np.testing.assert_array_equal(dense[:, 1], dense_transform(numbers(raw, "votes")))
    np.testing.assert_array_equal(ds.feature_map().encode(raw).dense.numpy(), dense)


def test_explicit_options_override_auto_and_buckets_become_a_sparse_feature(split_films: Any) -> None:
    ds = ingest(
        "csv", split_films, name="films", options=FILMS,
        dense_transforms={"year": "buckets:4", "votes": "standardize"},
    )  # fmt: skip
    year, votes = ds.dense_transforms()
    assert (year.kind, year.chosen, votes.kind, votes.chosen) == (
        "buckets",
        "option",
        "standardize",
        "option",
    )
    assert len(year.edges) == 3 and 1922 <= year.edges[0] < year.edges[-1] <= 1998
    # The model's inputs: the year left the dense inputs and is a sparse feature after the categoricals.
    assert ds.schema.dense == ("votes",) and ds.schema.num_dense == 1
    assert [(f.name, f.rows) for f in ds.schema.sparse] == [("genre", 6), ("year", 5)]
    assert np.asarray(ds.dense).shape == (520, 1) and np.asarray(ds.sparse).shape == (520, 2)
    assert set(ds.meta["hot_rows"]) == {"genre", "year"}
    assert ds.vocabulary("year")[0] == "" and ds.vocabulary("year")[1].startswith("< ")
    assert list(ds.vocabularies()) == ["genre"]

    raw = stored_rows(ds, [list(csv.DictReader(p.open())) for p in split_films])
    y = numbers(raw, "year").astype(np.float64)
    expected = np.where(np.isnan(y), 0, 1 + np.searchsorted(year.edges, y, side="right"))
    np.testing.assert_array_equal(np.asarray(ds.sparse)[:, 1], expected)
    assert (np.asarray(ds.sparse)[len(raw) - 120 :, 1][np.isfinite(y[-120:])] == 4).all()  # 2400.. -> last

    fmap = ds.feature_map()
    assert (fmap.dense, fmap.dense_inputs, fmap.sparse_inputs) == (
        ("year", "votes"),
        ("votes",),
        ("genre", "year"),
    )
    assert list(fmap.table_rows) == list(ds.schema.table_rows)
    batch = FeatureMap.from_dict(json.loads(json.dumps(fmap.to_dict()))).encode(raw)
    np.testing.assert_array_equal(batch.dense.numpy(), np.asarray(ds.dense))
    np.testing.assert_array_equal(batch.sparse.numpy(), np.asarray(ds.sparse))


def test_the_other_transforms_and_a_bare_default(tmp_path: Path) -> None:
    rows = films(tmp_path / "films.csv", 300, seed=4)
    ds = ingest("csv", [tmp_path / "films.csv"], name="films", options=FILMS, dense_default="none")
    assert [(t.kind, t.chosen) for t in ds.dense_transforms()] == [("none", "option"), ("none", "option")]
    assert sorted(np.asarray(ds.dense)[:, 0]) == sorted(np.nan_to_num(numbers(rows, "year")))
    again = ingest(
        "csv", [tmp_path / "films.csv"], name="films2", options=FILMS,
        dense_transforms={"votes": "auto"}, dense_default="log1p",
    )  # fmt: skip
    assert [(t.kind, t.chosen) for t in again.dense_transforms()] == [("log1p", "option"), ("log1p", "auto")]


def test_apply_transforms_reads_missing_and_non_finite_values_as_at_ingest() -> None:
    transforms = (
        ColumnTransform("a", "standardize", mean=10.0, std=2.0),
        ColumnTransform("b", "buckets", edges=(0.0, 5.0)),
        ColumnTransform("c", "none"),
        ColumnTransform("d", "log1p"),
    )
    raw = np.array(
        [
            [12.0, -1.0, 3.5, 3.0],
            [np.nan, 0.0, np.nan, -2.0],
            [np.inf, np.nan, -np.inf, np.inf],
            [8.0, 5.0, 0.0, 0.0],
        ]
    )
    dense, buckets = apply_transforms(raw, transforms)
    np.testing.assert_array_equal(
        dense, np.array([[1, 3.5, np.log1p(3)], [0, 0, 0], [0, 0, 0], [-1, 0, 0]], np.float32)
    )
    np.testing.assert_array_equal(buckets[:, 0], [1, 2, 0, 3])
    assert dense.dtype == np.float32 and buckets.dtype == np.int32


def test_criteo_stays_log1p(shared_data: Path) -> None:
    """criteo / criteo-csv are counts by format; the statistics rule agrees on the Criteo samples."""
    sample = shared_data / "samples" / "criteo_sample.txt"
    by_format = ingest("criteo-csv", [sample], name="by-format")
    assert {(t.kind, t.chosen) for t in by_format.dense_transforms()} == {("log1p", "format")}
    assert by_format.info()["dense_transform"] == "log1p(max(x, 0)); missing or non-finite -> 0"
    assert set(json.loads((by_format.path / "schema.json").read_text())["extra"]) == {
        "dense_transform",
        "vocab",
    }
    dense = tuple(f"I{i}" for i in range(1, 14))
    options = FormatOptions(label="label", dense=dense, sparse=tuple(f"C{i}" for i in range(1, 27)))
    by_rule = ingest("csv", [sample], name="by-rule", options=options)
    assert {(t.kind, t.chosen) for t in by_rule.dense_transforms()} == {("log1p", "auto")}
    np.testing.assert_array_equal(np.asarray(by_rule.dense), np.asarray(by_format.dense))

    from nasrec.data.dense import resolve_transforms
    from nasrec.data.formats import read_format
    from nasrec.data.split import given_split

    files = [shared_data / "criteo_8k" / f for f in ("train.txt", "dev.txt", "test.txt")]
    raw = read_format("criteo", files, FormatOptions())
    chosen = resolve_transforms(raw.dense_names, raw.dense, given_split(raw.file_rows)[0])
    assert [t.kind for t in chosen] == ["log1p"] * 13  # I2's small negatives and I10's 0..4 included


def test_datasets_and_feature_maps_without_transforms_mean_log1p(tmp_path: Path) -> None:
    rows = films(tmp_path / "films.csv", 200, seed=5)
    ds = ingest("csv", [tmp_path / "films.csv"], name="films", options=FILMS, dense_default="log1p")
    meta = json.loads((ds.path / "meta.json").read_text())
    del meta["dense_transforms"]  # as written before per-column transforms
    (ds.path / "meta.json").write_text(json.dumps(meta))
    old = Dataset.open("films")
    assert {(t.kind, t.chosen) for t in old.dense_transforms()} == {("log1p", "default")}
    data = old.feature_map().to_dict()
    del data["dense_transforms"]  # a bundle's feature_map.json from before
    fmap = FeatureMap.from_dict(data)
    assert [t.kind for t in fmap.transforms] == ["log1p", "log1p"]
    np.testing.assert_array_equal(
        fmap.encode(rows).dense.numpy(), ds.feature_map().encode(rows).dense.numpy()
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "year=logg",
            "dense transform for column 'year': unknown transform 'logg'; choose one of auto, log1p,",
        ),
        (
            "year=buckets:1",
            "dense transform for column 'year': buckets:N needs a whole number of buckets N in 2..",
        ),
        ("year=buckets:x", "dense transform for column 'year': buckets:N needs a whole number"),
        (
            "yaer=log1p",
            "dense transform for column 'yaer': no such dense column (did you mean 'year'?); dense",
        ),
        ("genre=log1p", "dense transform for column 'genre': it is a sparse column; transforms apply to the"),
        ("=log1p", "dense transform '=log1p': expected COL=SPEC"),
        ("cubic", "default dense transform: unknown transform 'cubic'"),
    ],
)
def test_a_bad_option_is_one_clear_line_naming_the_column(
    option: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    films(tmp_path / "films.csv", 50, seed=6)
    args = ["data", "ingest", "csv", str(tmp_path / "films.csv"), "--name", "films", "--label", "click"]
    args += ["--dense", "year,votes", "--sparse", "genre", "--dense-transform", option]
    code, _, err = run(args, monkeypatch, capsys)
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) <= 2  # wrapped at 80
    assert message in " ".join(err.split()), err
    assert not (datasets_dir() / "films").exists()
    with pytest.raises(ConfigError, match="^" + re.escape(message.split(":")[0])):
        columns, default = parse_transform_options([option])
        ingest("csv", [tmp_path / "films.csv"], name="films", options=FILMS, dense_transforms=columns,
               dense_default=default)  # fmt: skip


def test_cli_ingest_records_the_transforms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    films(tmp_path / "films.csv", 100, seed=7)
    args = ["data", "ingest", "csv", str(tmp_path / "films.csv"), "--name", "films", "--label", "click"]
    args += ["--dense", "year,votes", "--sparse", "genre", "--dense-transform", "votes=buckets:3", "--json"]
    code, out, _ = run(args, monkeypatch, capsys)
    assert code == 0
    info = json.loads(out)
    assert [(t["column"], t["transform"], t["chosen"]) for t in info["dense_transforms"]] == [
        ("year", "standardize", "auto"), ("votes", "buckets", "option"),
    ]  # fmt: skip
    assert info["dense_features"] == ["year"] and [f["name"] for f in info["sparse_features"]] == [
        "genre",
        "votes",
    ]
    code, out, _ = run(["data", "info", "films"], monkeypatch, capsys)
    out = " ".join(out.split())
    assert code == 0
    assert "dense transforms" in out and "standardize" in out and "buckets" in out


def test_synthetic_counts_are_log1p_and_a_malformed_transform_is_a_data_error() -> None:
    from nasrec.data import synthesize
    from nasrec.errors import DataError

    ds = synthesize("planted", rows=200, seed=0)
    assert {(t.kind, t.chosen) for t in ds.dense_transforms()} == {("log1p", "format")}
    data = ds.feature_map().to_dict()
    data["dense_transforms"][0] = {"column": "I1", "transform": "standardize", "mean": 1.0, "std": 0.0}
    with pytest.raises(DataError, match="malformed dense transform .* std > 0.*re-ingest the dataset"):
        FeatureMap.from_dict(data)
