"""Broken inputs: messages name file / line / column, the CLI exits non-zero, nothing is left behind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from nasrec.data import Dataset, FormatOptions, ingest, list_datasets
from nasrec.errors import ConflictError, DataError
from nasrec.home import datasets_dir


@pytest.fixture
def criteo_lines(shared_data: Path) -> list[str]:
    """The first 30 real Criteo rows."""
    return (shared_data / "criteo_8k" / "train.txt").read_text().splitlines()[:30]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def break_field(line: str, column: int, value: str) -> str:
    fields = line.split("\t")
    fields[column] = value
    return "\t".join(fields)


def run_cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run ``nasrec ARGS`` in-process through the real entry point; returns (exit code, stdout, stderr)."""
    from nasrec.cli import main

    monkeypatch.setattr(sys, "argv", ["nasrec", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, " ".join(out.err.split())  # rich wraps long lines


def leftovers() -> list[str]:
    return sorted(p.name for p in datasets_dir().iterdir())


def test_wrong_field_count_names_file_and_line(tmp_path: Path, criteo_lines: list[str]) -> None:
    lines = list(criteo_lines)
    lines[4] = "\t".join(lines[4].split("\t")[:39])
    path = write(tmp_path / "short.txt", lines)
    with pytest.raises(DataError, match=r"short\.txt, line 5, column \(row\): expected 40 fields, got 39"):
        ingest("criteo", [path], name="bad")
    assert leftovers() == []


def test_non_numeric_dense_value_names_column(tmp_path: Path, criteo_lines: list[str]) -> None:
    lines = list(criteo_lines)
    lines[6] = break_field(lines[6], 3, "abc")  # I3
    lines[20] = break_field(lines[20], 5, "1.5.2")  # I5, a later bad row
    path = write(tmp_path / "dense.txt", lines)
    with pytest.raises(
        DataError, match=r"dense\.txt, line 7, column I3: expected a number, got 'abc' \(2 bad row"
    ):
        ingest("criteo", [path], name="bad")
    assert leftovers() == []


def test_label_that_is_not_a_click_label(tmp_path: Path, criteo_lines: list[str]) -> None:
    lines = list(criteo_lines)
    lines[2] = break_field(lines[2], 0, "2")
    path = write(tmp_path / "label.txt", lines)
    with pytest.raises(
        DataError, match=r"label\.txt, line 3, column label: expected a click label \(0 or 1\), got '2'"
    ):
        ingest("criteo", [path], name="bad")


def test_line_numbers_count_blank_lines_and_header(tmp_path: Path, shared_data: Path) -> None:
    lines = (shared_data / "samples" / "criteo_sample.txt").read_text().splitlines()[:12]
    lines.insert(3, "")
    fields = lines[8].split(",")
    fields[2] = "x7"  # I2
    lines[8] = ",".join(fields)
    path = write(tmp_path / "sample.csv", lines)
    with pytest.raises(DataError, match=r"sample\.csv, line 9, column I2: expected a number, got 'x7'"):
        ingest("criteo-csv", [path], name="bad")


def test_skip_mode_drops_and_counts_bad_rows(tmp_path: Path, criteo_lines: list[str]) -> None:
    lines = list(criteo_lines)
    lines[1] = break_field(lines[1], 0, "yes")
    lines[4] = "\t".join(lines[4].split("\t")[:20])
    lines[9] = break_field(lines[9], 13, "NaN?")
    lines.insert(12, "")  # blank lines are not rows, and not bad rows either
    path = write(tmp_path / "mixed.txt", lines)
    ds = ingest("criteo", [path], name="skipped", on_bad_rows="skip")
    assert ds.meta["skipped_rows"] == 3
    assert sum(ds.meta["rows"].values()) == 27
    clean = write(tmp_path / "clean.txt", [ln for i, ln in enumerate(criteo_lines) if i not in (1, 4, 9)])
    ref = ingest("criteo", [clean], name="clean")
    assert ref.meta["skipped_rows"] == 0
    np.testing.assert_array_equal(np.asarray(ds.sparse), np.asarray(ref.sparse))
    np.testing.assert_array_equal(np.asarray(ds.dense), np.asarray(ref.dense))


def test_existing_name_needs_force_and_failed_force_keeps_old(
    tmp_path: Path, criteo_lines: list[str]
) -> None:
    good = write(tmp_path / "good.txt", criteo_lines)
    first = ingest("criteo", [good], name="taken")
    with pytest.raises(ConflictError, match="'taken' already exists.*--force"):
        ingest("criteo", [good], name="taken")
    bad = write(tmp_path / "bad.txt", [*criteo_lines[:10], break_field(criteo_lines[10], 0, "-3")])
    with pytest.raises(DataError):
        ingest("criteo", [bad], name="taken", force=True)
    assert leftovers() == ["taken"]
    assert Dataset.open("taken").meta["created"] == first.meta["created"]
    assert sum(Dataset.open("taken").meta["rows"].values()) == 30
    replaced = ingest("criteo", [write(tmp_path / "less.txt", criteo_lines[:20])], name="taken", force=True)
    assert sum(replaced.meta["rows"].values()) == 20
    assert list_datasets() == ["taken"] and leftovers() == ["taken"]


def test_libfm_bad_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.libfm", ["1 0:1 5:1", "-1 1:1 6:1", "1 2:1 7", "1 3:1 8:1"])
    with pytest.raises(DataError, match=r"bad\.libfm, line 3, column token 2: expected idx:val, got '7'"):
        ingest("libfm", [path], name="bad")
    path = write(tmp_path / "label.libfm", ["1 0:1 5:1", "3 1:1 6:1", "1 2:1 7:1", "1 3:1 8:0.5"])
    with pytest.raises(DataError, match=r"label\.libfm, line 2, column label: expected 1, -1 or 0, got '3'"):
        ingest("libfm", [path], name="bad")
    ds = ingest("libfm", [path], name="skip", on_bad_rows="skip", options=FormatOptions(field_starts=(0, 5)))
    assert ds.meta["skipped_rows"] == 2  # label 3, value 0.5
    assert leftovers() == ["skip"]


def test_generic_csv_names_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", ["y,a,b", "1,2,x", "0,3,y"])
    with pytest.raises(DataError, match=r"no column\(s\) \['c'\]; the file has \['y', 'a', 'b'\]"):
        ingest("csv", [path], name="bad", options=FormatOptions(label="y", dense=("a",), sparse=("c",)))
    ds = ingest(
        "csv",
        [path],
        name="ok",
        options=FormatOptions(label="y", dense=("a",), sparse=("b",)),
        split=(1, 0, 0),
    )
    assert ds.meta["rows"] == {"train": 2, "val": 0, "test": 0}


def test_cli_exit_codes_and_messages(
    tmp_path: Path,
    criteo_lines: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = write(tmp_path / "bad.txt", [*criteo_lines[:5], break_field(criteo_lines[5], 7, "seven")])
    code, out, err = run_cli(["data", "ingest", "criteo", str(bad), "--name", "x"], monkeypatch, capsys)
    assert code == 1
    assert "bad.txt, line 6, column I7: expected a number, got 'seven'" in err
    assert out == "" and leftovers() == []
    code, out, err = run_cli(
        ["data", "ingest", "criteo", str(bad), "--name", "x", "--on-bad-rows", "skip", "--json"],
        monkeypatch,
        capsys,
    )
    assert code == 0
    import json

    info = json.loads(out)
    assert info["skipped_rows"] == 1 and sum(info["rows"].values()) == 5
    code, out, err = run_cli(["data", "ingest", "criteo", str(bad), "--name", "x"], monkeypatch, capsys)
    assert code == 1 and "already exists" in err
    code, out, err = run_cli(["data", "info", "nope"], monkeypatch, capsys)
    assert code == 1 and "no dataset 'nope'; available: ['x']" in err
    code, out, err = run_cli(
        ["data", "ingest", "criteo", str(tmp_path / "none.txt"), "--name", "y"], monkeypatch, capsys
    )
    assert code == 1 and "does not exist" in err


def test_careful_path_accepts_padded_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "pad.csv", ["y,a,b", " 1 , 2.5 ,x", "0,nan,y", "1,,z", "0,abc,w"])
    options = FormatOptions(label="y", dense=("a",), sparse=("b",))
    ds = ingest(
        "csv", [path], name="pad", options=options, split=(1, 0, 0), on_bad_rows="skip", dense_default="log1p"
    )
    assert ds.meta["skipped_rows"] == 1
    assert sorted(np.asarray(ds.dense)[:, 0].tolist()) == pytest.approx([0.0, 0.0, np.log1p(2.5)])
    assert np.asarray(ds.labels).sum() == 2
