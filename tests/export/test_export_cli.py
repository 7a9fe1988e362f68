"""``nasrec export``: from a ``nasrec train --run-dir`` checkpoint, and from an architecture JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from .conftest import REFERENCE_CONFIGS, reference_arch


def invoke(args: list[str]) -> Any:
    import typer
    from typer.testing import CliRunner

    from nasrec.export.cli import export_command

    app = typer.Typer()
    app.command()(export_command)
    return CliRunner().invoke(app, args)


def test_export_a_training_run(criteo: Any, tmp_path: Path) -> None:
    from nasrec.export import load_exported
    from nasrec.space import load_space
    from nasrec.train import TrainConfig, load_subnet, train_subnet

    arch, space = reference_arch("autoctr")
    config = TrainConfig(steps=3, batch_size=256, lr=0.02, eval_rows=256)
    model = load_space(space).model
    run = train_subnet(arch, dataset=criteo, model=model, config=config, run_dir=tmp_path / "run")
    out = invoke(
        [str(tmp_path / "run"), "--dataset", str(criteo.path), "--out", str(tmp_path / "b"), "--json"]
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["bundle"] == str(tmp_path / "b") and report["zip"] == str(tmp_path / "b.zip")
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["val_logloss"] == pytest.approx(run.metrics["logloss"]) and metrics["steps"] == 3
    assert metrics["flops"] > 0 and metrics["params"] > 0 and metrics["embedding_params"] > 0
    assert report["metrics"] == metrics

    trained = load_subnet(tmp_path / "run")
    model = load_exported(tmp_path / "b.zip")
    batch = criteo.split("test").batch(0, 128)
    with torch.no_grad():
        torch.testing.assert_close(model(batch.dense, batch.sparse), trained(batch), atol=1e-5, rtol=1e-5)

    refused = invoke([str(tmp_path / "run"), "--dataset", str(criteo.path), "--out", str(tmp_path / "c"),
                      "--train-steps", "5"])  # fmt: skip
    assert refused.exit_code != 0 and "for an architecture JSON SOURCE only" in str(refused.exception)
    assert not (tmp_path / "c").exists()


def test_export_an_architecture_file(criteo: Any, tmp_path: Path) -> None:
    source = REFERENCE_CONFIGS / "ea_criteo_kaggle_xlarge_best_1shot.json"
    reference_arch("xlarge")  # skips when the reference configs are absent
    common = [str(source), "--dataset", str(criteo.path), "--out", str(tmp_path / "x")]
    missing = invoke(common)
    assert missing.exit_code != 0 and "--train-steps" in str(missing.exception)

    out = invoke([*common, "--train-steps", "2", "--batch-size", "128", "--lr", "0.02", "--no-layernorm",
                  "--no-zip", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["zip"] is None and not (tmp_path / "x.zip").exists()
    assert "model.onnx" in report["files"] and "model.pt" in report["files"]
    arch_json = json.loads((tmp_path / "x" / "architecture.json").read_text())
    assert arch_json["model"]["layernorm"] is False and report["metrics"]["steps"] == 2

    human = invoke([*common, "--train-steps", "0"])  # initial weights; replaces the bundle; table output
    assert human.exit_code == 0, human.output
    assert "canonical_hash" in human.stdout
    assert json.loads((tmp_path / "x" / "metrics.json").read_text())["steps"] == 0


def test_missing_source(criteo: Any, tmp_path: Path) -> None:
    out = invoke([str(tmp_path / "nope.json"), "--data", str(criteo.path), "--out", str(tmp_path / "b")])
    assert out.exit_code != 0 and "does not exist" in str(out.exception)


def test_help() -> None:
    out = invoke(["--help"])
    assert out.exit_code == 0 and "--train-steps" in out.stdout and "--zip" in out.stdout
