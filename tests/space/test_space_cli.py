"""``nasrec space ...`` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from nasrec.errors import NotFoundError
from nasrec.space.cli import space_app

runner = CliRunner()


def test_space_list() -> None:
    result = runner.invoke(space_app, ["list", "--json"])
    assert result.exit_code == 0
    assert {"nasrec_small", "nasrec_full"} <= set(json.loads(result.stdout))


def test_space_show_prints_ops_and_size() -> None:
    result = runner.invoke(space_app, ["show", "nasrec_small"])
    assert result.exit_code == 0, result.output
    assert "fc, dot" in result.stdout and "efc" in result.stdout
    assert "10^39.7" in result.stdout and "10^31.3" in result.stdout


def test_space_show_json() -> None:
    result = runner.invoke(space_app, ["show", "nasrec_full", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["dense_ops"] == ["fc", "dot", "gating", "sum"]
    assert out["size"]["log10_raw"] == pytest.approx(43.9, abs=0.05)
    assert int(out["size"]["canonical"]) < int(out["size"]["raw"])


def test_space_show_unknown_name() -> None:
    result = runner.invoke(space_app, ["show", "nope"])
    assert isinstance(result.exception, NotFoundError)
