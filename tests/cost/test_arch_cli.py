"""``nasrec arch info`` (``nasrec.cost.cli``) through typer's CliRunner: both file formats, costs, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from nasrec.cost.cli import arch_app
from nasrec.errors import ConfigError, NotFoundError
from nasrec.space import load_space, sample_architecture
from tests.support.needs import reference_config

runner = CliRunner()
BASELINES = Path(__file__).resolve().parents[2] / "search_spaces" / "baselines"


def _reference_file(name: str) -> Path:
    return reference_config(name)


def test_arch_info_json_for_a_reference_file() -> None:
    path = _reference_file("ea_criteo_kaggle_autoctr_best_1shot.json")
    # the reference counts its standalone models without LayerNorm
    result = runner.invoke(arch_app, ["info", str(path), "--shape", "13,26", "--json", "--no-layernorm"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["format"] == "reference" and info["space"] == "nasrec_small"
    assert info["flops"] == 2_208_064 and info["model"]["layernorm"] is False
    assert info["blocks_alive"] == [0, 1, 2, 3, 4, 6]
    assert len(info["canonical_hash"]) == 16
    assert info["params"] > 1_000_000 and info["embedding_params"] is None
    assert sum(op["flops"] for op in info["ops"]) == info["flops"]
    # by default, the space's model config: what nasrec trains (LayerNorm on)
    with_ln = json.loads(runner.invoke(arch_app, ["info", str(path), "--shape", "13,26", "--json"]).stdout)
    assert with_ln["model"] == {"embedding_dim": 16, "ds_tokens": 8, "layernorm": True}
    assert with_ln["flops"] > info["flops"]


def test_arch_info_for_a_nasrec_file(tmp_path: Path) -> None:
    space = load_space("nasrec_full")
    arch = sample_architecture(space, np.random.default_rng(0))
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    result = runner.invoke(
        arch_app, ["info", str(path), "--space", "nasrec_full", "--shape", "3,10", "--json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["format"] == "nasrec" and info["space"] == "nasrec_full"
    assert info["canonical_hash"] == arch.canonical_hash()
    assert info["blocks_alive"] == list(arch.alive_blocks())
    text = runner.invoke(arch_app, ["info", str(path), "--shape", "3,10"])
    assert text.exit_code == 0 and "FLOPs" in text.stdout and "head" in text.stdout


def test_arch_info_sizes_the_dcnv2_baseline_near_dlrm() -> None:
    """The DCNv2 baseline competes at DLRM's cost on the Criteo schema (E = 16, LayerNorm on)."""
    info = {}
    for name in ("dcnv2", "dlrm"):
        result = runner.invoke(
            arch_app, ["info", str(BASELINES / f"{name}.json"), "--shape", "13,26", "--json"]
        )
        assert result.exit_code == 0, result.output
        info[name] = json.loads(result.stdout)
    assert 0.8 < info["dcnv2"]["flops"] / info["dlrm"]["flops"] < 1.2
    assert [op["op"] for op in info["dcnv2"]["ops"] if op["stream"] == "dense"] == [
        "dot",
        "cross",
        "cross",
        "cross",
        "fc",
        "fc",
    ]


def test_arch_info_errors(tmp_path: Path) -> None:
    path = _reference_file("ea_kdd_kaggle_xlarge_best_1shot.json")
    both = runner.invoke(arch_app, ["info", str(path), "--shape", "3,10", "--dataset", "kdd"])
    assert isinstance(both.exception, ConfigError)
    bad = runner.invoke(arch_app, ["info", str(path), "--shape", "3"])
    assert isinstance(bad.exception, ConfigError) and "--shape" in str(bad.exception)
    wrong_space = runner.invoke(arch_app, ["info", str(path), "--space", "nasrec_small"])
    assert isinstance(wrong_space.exception, ConfigError) and "not in space 'nasrec_small'" in str(
        wrong_space.exception
    )
    junk = tmp_path / "junk.json"
    junk.write_text('{"layers": []}')
    assert isinstance(runner.invoke(arch_app, ["info", str(junk)]).exception, ConfigError)


def test_arch_info_with_a_dataset() -> None:
    from nasrec.data import synthesize

    dataset = synthesize("tiny", rows=200, seed=0)
    path = _reference_file("ea_criteo_kaggle_xlarge_best_1shot.json")
    result = runner.invoke(arch_app, ["info", str(path), "--dataset", "tiny", "--json", "--no-layernorm"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    schema = dataset.schema
    assert info["embedding_params"] == sum(schema.table_rows) * 16
    assert info["shape"] == {"num_dense": schema.num_dense, "num_sparse": schema.num_sparse}
    if (schema.num_dense, schema.num_sparse) == (13, 26):  # Criteo-shaped synthetic data
        assert info["flops"] == 1_466_217
    missing = runner.invoke(arch_app, ["info", str(path), "--dataset", "nope"])
    assert isinstance(missing.exception, NotFoundError)
