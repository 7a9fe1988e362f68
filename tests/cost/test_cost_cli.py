"""``nasrec cost`` (``nasrec.cost.cli``): the per-op table, the JSON, overrides, profiles and errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from nasrec.cli import app
from nasrec.cost.pim import Knobs, pim_cost
from nasrec.data.schema import DatasetSchema
from nasrec.errors import NotFoundError
from nasrec.space import load_space, sample_architecture
from nasrec.space.arch_file import read_architecture
from tests.support.cli import run_cli
from tests.support.needs import REFERENCE_CONFIGS, missing

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]
DLRM = REPO / "search_spaces" / "baselines" / "dlrm.json"  # nasrec format, shipped with the repo


def _reference_file(name: str) -> Path:
    path = REFERENCE_CONFIGS / name
    if not path.is_file():
        missing("shared", f"reference config not found: {path}")
    return path


def _json(*args: str) -> dict:
    result = runner.invoke(app, ["cost", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_of_a_reference_config() -> None:
    path = _reference_file("ea_criteo_kaggle_xlarge_best_1shot.json")
    report = _json(str(path), "--shape", "13,26")
    assert report["format"] == "reference" and report["space"] == "nasrec_full"
    assert report["profile"] == "isaac32" and report["embedding_bits"] == 8
    assert report["overrides"] == {}
    assert report["knobs"] == [{"w_bits": 8, "a_bits": 8, "dyn_map": "xbar"}] * 7  # knob-less: naive
    for key in ("latency_ns", "energy_nj", "area_mm2", "macs", "gops_per_w", "inferences_per_j"):
        assert report[key] > 0, key
    # the same figures as the library's, on the file's own model config
    file = read_architecture(path)
    cost = pim_cost(file.architecture, DatasetSchema.of_shape(13, [1] * 26), file.model)
    assert report["latency_ns"] == pytest.approx(cost.latency_ns)
    assert report["energy_nj"] == pytest.approx(cost.energy_nj)
    assert report["macs"] == cost.macs
    ops = report["ops"]
    assert ops[0]["op"] == "embeddings" and ops[-1]["op"] == "head"
    assert {op["op"] for op in ops} >= {"attention", "dot"}
    assert sum(op["energy_nj"] for op in ops) == pytest.approx(report["energy_nj"])
    assert all(op["parts"] for op in ops if op["op"] != "dense_to_sparse")  # a 128-wide DS is a reshape


def test_overrides_apply_to_every_block() -> None:
    naive = _json(str(DLRM), "--shape", "13,26")
    co = _json(str(DLRM), "--shape", "13,26", "--w-bits", "4", "--a-bits", "4", "--dyn-map", "dpe")
    assert co["overrides"] == {"w_bits": 4, "a_bits": 4, "dyn_map": "dpe"}
    assert {tuple(k.values()) for k in co["knobs"]} == {(4, 4, "dpe")}
    blocks = [op for op in co["ops"] if op["block"] is not None]
    assert blocks and all((op["w_bits"], op["a_bits"], op["dyn_map"]) == (4, 4, "dpe") for op in blocks)
    assert co["ops"][-1]["w_bits"] == 8  # the head is no block
    assert co["energy_nj"] < naive["energy_nj"] and co["latency_ns"] < naive["latency_ns"]
    assert co["area_mm2"] < naive["area_mm2"]
    only_w = _json(str(DLRM), "--shape", "13,26", "--w-bits", "2")
    assert {tuple(k.values()) for k in only_w["knobs"]} == {(2, 8, "xbar")}
    wide = _json(str(DLRM), "--shape", "13,26", "--embedding-bits", "16")
    assert wide["embedding_bits"] == 16


def test_each_block_is_costed_at_its_own_knobs_and_overrides_replace_fields(tmp_path: Path) -> None:
    space = load_space("nasrec_small_pim")
    rng = np.random.default_rng(11)
    arch = next(a for a in (sample_architecture(space, rng) for _ in range(50)) if a.canonical().has_knobs)
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    schema, model = DatasetSchema.of_shape(3, [1] * 10), space.model
    own = _json(str(path), "--space", "nasrec_small_pim", "--shape", "3,10")
    assert own["knobs"] == [k.to_dict() for k in arch.canonical().block_knobs()]
    assert own["energy_nj"] == pytest.approx(pim_cost(arch, schema, model).energy_nj)
    assert own["energy_nj"] != pytest.approx(pim_cost(arch, schema, model, knobs=Knobs()).energy_nj)
    dpe = _json(str(path), "--space", "nasrec_small_pim", "--shape", "3,10", "--dyn-map", "dpe")
    # the bits stay each block's, the mapping is overridden
    per_block = [replace(k, dyn_map="dpe") for k in arch.canonical().block_knobs()]
    assert dpe["knobs"] == [k.to_dict() for k in per_block]
    assert dpe["energy_nj"] == pytest.approx(pim_cost(arch, schema, model, knobs=per_block).energy_nj)


def test_the_table() -> None:
    result = runner.invoke(app, ["cost", str(DLRM), "--shape", "13,26", "--dyn-map", "dpe"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("profile isaac32", "embeddings", "dot", "head", "W8A8 dpe", "latency", "GOPS/W"):
        assert text in out, text
    assert "critical path: embeddings -> blocks" in out and "inferences/J" in out
    assert "…" not in out  # the table fits 80 columns without cutting a cell


def test_a_nasrec_file_with_its_space(tmp_path: Path) -> None:
    arch = sample_architecture(load_space("nasrec_small"), np.random.default_rng(5))
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    report = _json(str(path), "--space", "nasrec_small", "--shape", "3,10", "--no-layernorm")
    assert report["format"] == "nasrec" and report["space"] == "nasrec_small"
    assert report["canonical_hash"] == arch.canonical_hash()
    assert report["model"]["layernorm"] is False
    model = load_space("nasrec_small").model
    expected = pim_cost(arch, DatasetSchema.of_shape(3, [1] * 10), replace(model, layernorm=False))
    assert report["latency_ns"] == pytest.approx(expected.latency_ns)
    lowered = _json(str(path), "--space", "nasrec_small", "--shape", "3,10", "--a-bits", "2")
    cost = pim_cost(arch, DatasetSchema.of_shape(3, [1] * 10), model, knobs=Knobs(a_bits=2))
    assert lowered["energy_nj"] == pytest.approx(cost.energy_nj)


def test_a_profile_by_path(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "search_spaces" / "hardware" / "isaac32.yaml").read_text())
    data["name"] = "slow_adc"
    data["adc"]["sample_rate_gsps"] = 0.32  # 4x slower conversions: 400 ns cycles
    path = tmp_path / "slow_adc.yaml"
    path.write_text(yaml.safe_dump(data))
    slow = _json(str(DLRM), "--shape", "13,26", "--profile", str(path))
    assert slow["profile"] == "slow_adc"
    assert slow["latency_ns"] > _json(str(DLRM), "--shape", "13,26")["latency_ns"]
    missing = runner.invoke(app, ["cost", str(DLRM), "--shape", "13,26", "--profile", "nope"])
    assert isinstance(missing.exception, NotFoundError)


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """Run the ``nasrec`` console script in-process; return stderr (the run must fail with exit 1)."""
    return run_cli(argv, monkeypatch, capsys, code=1)[1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--w-bits", "3"], "w_bits must be one of 2, 4, 8, got 3"),
        (["--a-bits", "16"], "a_bits must be one of 2, 4, 8, got 16"),
        (["--embedding-bits", "4"], "embedding bits must be one of 8, 16, got 4"),
        (["--shape", "13"], "--shape: expected N_DENSE,N_SPARSE"),
    ],
    ids=["w-bits", "a-bits", "embedding-bits", "shape"],
)
def test_bad_values_give_one_clear_line(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _main(["cost", str(DLRM), "--shape", "13,26", *args], monkeypatch, capsys)
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_a_malformed_profile_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load((REPO / "search_spaces" / "hardware" / "isaac32.yaml").read_text())
    del data["crossbar"]["size"]
    path = tmp_path / "no_size.yaml"
    path.write_text(yaml.safe_dump(data))
    err = _main(["cost", str(DLRM), "--shape", "13,26", "--profile", str(path)], monkeypatch, capsys)
    err = " ".join(err.split())  # the console wraps long lines at its width
    assert "no_size.yaml" in err and "crossbar.size: required key is missing" in err
