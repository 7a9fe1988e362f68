"""``nasrec data synth | info | list`` through the real entry point."""

from __future__ import annotations

import json
import sys

import pytest

from nasrec.cli import main


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["nasrec", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().out


def test_synth_info_list(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        ["data", "synth", "--name", "demo", "--rows", "5000", "--seed", "3", "--json"], monkeypatch, capsys
    )
    assert code == 0
    info = json.loads(out)
    assert info["rows"] == {"train": 4000, "val": 500, "test": 500}
    code, out = run(["data", "info", "demo", "--json"], monkeypatch, capsys)
    assert code == 0
    info = json.loads(out)
    for key in ("rows", "dense_features", "sparse_features", "positive_rate", "hot_rows", "bayes_logloss"):
        assert key in info
    assert len(info["dense_features"]) == 13
    assert {f["name"]: f["rows"] for f in info["sparse_features"]}.keys() == info["hot_rows"].keys()
    assert set(info["bayes_logloss"]) == {"train", "val", "test"}
    code, out = run(["data", "info", "demo"], monkeypatch, capsys)
    assert code == 0 and "Bayes log loss" in out and "hot rows" in out
    code, out = run(["data", "list", "--json"], monkeypatch, capsys)
    assert code == 0 and [d["name"] for d in json.loads(out)] == ["demo"]
    code, out = run(["data", "list"], monkeypatch, capsys)
    assert code == 0 and "demo" in out


@pytest.mark.parametrize("command", [[], ["ingest"], ["synth"], ["info"], ["list"]])
def test_every_command_has_help(command: list[str], monkeypatch, capsys) -> None:
    code, out = run(["data", *command, "--help"], monkeypatch, capsys)
    assert code == 0 and "Usage" in out
