"""Every command that reads an architecture refuses an invalid one before anything runs: one line on
stderr naming the file, the block and the field, exit 1, no traceback.

``arch info``, ``cost``, ``train`` and ``export`` read architecture files (``read_architecture``);
``search`` reads the job's baselines (``finalize.baselines``), the only architectures a job spec
brings. ``train``, ``export`` and ``search`` are given a dataset that does not exist: the
architecture must be refused first. The invalid kinds are ``tests.support.architectures``'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import nasrec.search.baselines as baselines_module
from tests.support.architectures import KINDS, invalid, valid_architecture
from tests.support.cli import run_cli


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    err = run_cli(argv, monkeypatch, capsys, code=1)[1]
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line, however long
    return err


COMMANDS: dict[str, list[str]] = {
    "arch info": ["arch", "info", "{file}"],
    "cost": ["cost", "{file}", "--shape", "13,26"],
    "train": ["train", "{file}", "--dataset", "no-such-dataset", "--steps", "1"],
    "export": ["export", "{file}", "--dataset", "no-such-dataset", "--out", "{out}", "--train-steps", "0"],
}


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NASREC_HOME", str(tmp_path / "home"))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_architecture_files_are_checked(
    command: str,
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = invalid(kind)
    file = case.write(tmp_path / "my-arch.json")
    argv = [a.format(file=file, out=tmp_path / "bundle") for a in COMMANDS[command]]
    err = _run(argv, monkeypatch, capsys)
    assert f"error: my-arch.json: {case.expected}" in err
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_search_checks_the_jobs_baselines(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    invalid(kind).write(baselines / "mine.json")
    monkeypatch.setattr(baselines_module, "baselines_dir", lambda: baselines)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"dataset": "no-such-dataset", "finalize": {"baselines": ["mine"]}}))
    err = _run(["search", str(job)], monkeypatch, capsys)
    assert (
        f"error: finalize.baselines: baseline mine ({baselines / 'mine.json'}): {invalid(kind).expected}"
        in err
    )
    assert not (tmp_path / "home").exists()  # refused before a store or a run directory was made


def test_search_refuses_an_unknown_baseline_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"dataset": "no-such-dataset", "finalize": {"baselines": ["nope"]}}))
    err = _run(["search", str(job)], monkeypatch, capsys)
    assert "finalize.baselines: unknown baseline(s) ['nope']; available: [" in err


def test_a_valid_file_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "my-arch.json"
    file.write_text(json.dumps(valid_architecture()))
    out, _ = run_cli(["arch", "info", str(file), "--shape", "13,26", "--json"], monkeypatch, capsys, code=0)
    assert json.loads(out)["space"] == "nasrec_small"


def test_every_shipped_baseline_is_valid() -> None:
    names = baselines_module.list_baselines()
    assert len(names) >= 4
    for name in names:
        baselines_module.load_baseline(name)
