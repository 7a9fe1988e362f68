"""Progress with time remaining on ``nasrec data ingest``, ``nasrec data synth`` and ``nasrec export``.

The library functions take a ``progress(done, total, info)`` callback (``nasrec.console.StepProgress``);
the commands draw it on stderr (a non-terminal gets the bars' final state) and stay silent with --json.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.needs import REFERENCE_CONFIGS, missing

CLOCK = r"\d+:\d\d:\d\d"


class Recorder:
    """A progress callback that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, dict[str, Any]]] = []

    def __call__(self, done: int, total: int, info: dict[str, Any]) -> None:
        self.calls.append((done, total, dict(info)))

    def stage(self, key: str, value: str) -> list[tuple[int, int]]:
        return [(d, t) for d, t, info in self.calls if info.get(key) == value]


def _assert_counts_up_to(calls: list[tuple[int, int]], total: int) -> None:
    assert calls, "no progress reported"
    done = [d for d, _ in calls]
    assert all(t == total for _, t in calls)
    assert done == sorted(done) and done[0] >= 0 and done[-1] == total


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    from server.cli import main

    monkeypatch.setattr(sys, "argv", ["nasrec", *argv])
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr()


def _bar(err: str, label: str, done: int, total: int) -> None:
    """``err`` shows the bar ``label`` at done/total, with time elapsed and time remaining."""
    pattern = rf"^{re.escape(label)}\s+.*\s{done}/{total}\s+{CLOCK} {CLOCK}"
    assert any(re.search(pattern, line.strip()) for line in err.splitlines()), err


# --- library callbacks -----------------------------------------------------------------------------


def test_synthesize_reports_rows_generated_then_written() -> None:
    from nasrec.data.synth import synthesize

    progress = Recorder()
    synthesize("s", rows=500, progress=progress)
    stages = [info["stage"] for _, _, info in progress.calls]
    assert stages == sorted(stages, key=["generate", "write"].index)  # generate first, then write
    _assert_counts_up_to(progress.stage("stage", "generate"), 500)
    _assert_counts_up_to(progress.stage("stage", "write"), 500)
    assert len(progress.stage("stage", "generate")) > 2  # per field, not once at the end


def test_ingest_reports_bytes_read_per_block_then_rows_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nasrec.data import readers
    from nasrec.data.ingestion import ingest
    from nasrec.data.synth import write_criteo_tsv

    path = write_criteo_tsv(tmp_path / "c.tsv", rows=2000)
    monkeypatch.setattr(readers, "_BLOCK_SIZE", 64 << 10)  # several blocks of a small file
    progress = Recorder()
    ds = ingest("criteo", [path], name="c", progress=progress)
    read = progress.stage("stage", "read")
    _assert_counts_up_to(read, path.stat().st_size)
    assert len({d for d, _ in read}) > 2  # once per block
    _assert_counts_up_to(progress.stage("stage", "write"), sum(ds.info()["rows"].values()))


def test_ingest_progress_never_goes_back_when_the_careful_path_rereads(tmp_path: Path) -> None:
    from nasrec.data.ingestion import ingest
    from nasrec.data.synth import write_criteo_tsv

    files = [write_criteo_tsv(tmp_path / f"{s}.tsv", rows=300, seed=i) for i, s in enumerate("abc")]
    for path in files:  # (in every file: a careful-path file next to a fast-path one fails on main too)
        with path.open("a") as fh:
            fh.write("x\tnot a row\n")  # the fast path fails: the file is read again, carefully
    progress = Recorder()
    ingest("criteo", files, name="c", on_bad_rows="skip", progress=progress)
    _assert_counts_up_to(progress.stage("stage", "read"), sum(p.stat().st_size for p in files))


def test_library_calls_without_a_callback_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from nasrec.data.synth import synthesize

    synthesize("quiet", rows=200)
    assert capsys.readouterr() == ("", "")


# --- commands ----------------------------------------------------------------------------------------


def test_data_synth_shows_both_stages_with_time_remaining(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _run(["data", "synth", "--rows", "700", "--name", "s"], monkeypatch, capsys)
    _bar(out.err, "synth: generate", 700, 700)
    _bar(out.err, "synth: write", 700, 700)
    assert "synth:" not in out.out

    quiet = _run(["data", "synth", "--rows", "700", "--name", "s", "--force", "--json"], monkeypatch, capsys)
    assert quiet.err == "" and json.loads(quiet.out)["name"] == "s"


def test_data_ingest_shows_bytes_read_and_rows_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasrec.data.synth import write_criteo_tsv

    path = write_criteo_tsv(tmp_path / "c.tsv", rows=1000)
    out = _run(["data", "ingest", "criteo", str(path), "--name", "c"], monkeypatch, capsys)
    _bar(out.err, "ingest: read", path.stat().st_size, path.stat().st_size)
    _bar(out.err, "ingest: write", 1000, 1000)
    assert "ingest:" not in out.out

    argv = ["data", "ingest", "criteo", str(path), "--name", "c", "--force", "--json"]
    quiet = _run(argv, monkeypatch, capsys)
    assert quiet.err == "" and sum(json.loads(quiet.out)["rows"].values()) == 1000


def test_export_shows_the_bundle_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from nasrec.data.synth import synthesize
    from nasrec.export.bundle import EXPORT_STEPS

    source = REFERENCE_CONFIGS / "ea_criteo_kaggle_autoctr_best_1shot.json"
    if not source.is_file():
        missing("shared", f"no reference config at {source}")
    synthesize("s", rows=600)
    common = ["export", str(source), "--dataset", "s", "--train-steps", "0"]
    out = _run([*common, "--out", str(tmp_path / "b")], monkeypatch, capsys)
    total = len(EXPORT_STEPS)
    _bar(out.err, "exporting", total, total)
    assert "step done" in out.err and "exporting" not in out.out

    no_zip = _run([*common, "--out", str(tmp_path / "c"), "--no-zip"], monkeypatch, capsys)
    _bar(no_zip.err, "exporting", total - 1, total - 1)

    quiet = _run([*common, "--out", str(tmp_path / "d"), "--json"], monkeypatch, capsys)
    assert quiet.err == "" and json.loads(quiet.out)["bundle"] == str(tmp_path / "d")


def test_export_bundle_reports_each_step_as_it_starts(tmp_path: Path) -> None:
    from nasrec.data.synth import synthesize
    from nasrec.export.bundle import EXPORT_STEPS, export_bundle
    from nasrec.nets.subnet import SubNet
    from nasrec.space.arch_file import read_architecture

    source = REFERENCE_CONFIGS / "ea_criteo_kaggle_autoctr_best_1shot.json"
    if not source.is_file():
        missing("shared", f"no reference config at {source}")
    data = synthesize("s", rows=600)
    file = read_architecture(source)
    subnet = SubNet(file.architecture.canonical(), data.schema, file.model, device="cpu")
    progress = Recorder()
    export_bundle(subnet, dataset=data, out_dir=tmp_path / "b", progress=progress)
    total = len(EXPORT_STEPS)
    assert progress.calls == [
        *((i, total, {"step": step}) for i, step in enumerate(EXPORT_STEPS)),
        (total, total, {"step": "done"}),
    ]
