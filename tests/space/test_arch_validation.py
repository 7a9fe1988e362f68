"""Architecture checks without a space (``Architecture.from_dict`` / ``validate()``), the reference
import's, and the source prefix of ``read_architecture``: every error names the block and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nasrec.errors import ConfigError, NotFoundError
from nasrec.space import Architecture, load_space, sample_architecture
from nasrec.space.arch_file import read_architecture
from tests.support.architectures import reference_config, valid_architecture


def _with(block: int, **genes: Any) -> dict[str, Any]:
    data = valid_architecture()
    data["blocks"][block].update(genes)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _with(2, dense_op="mlp"),
            "block 2: dense_op: unknown op 'mlp'; the dense ops are fc, dot, gating, sum, cross",
        ),
        (_with(2, dense_op=5), "block 2: dense_op: expected an op name or null, got 5"),
        (_with(2, dense_width=0), "block 2: dense_width: must be a positive integer, got 0"),
        (_with(2, sparse_width=-16), "block 2: sparse_width: must be a positive integer, got -16"),
        (_with(2, dense_width="wide"), "block 2: dense_width: expected an integer, got 'wide'"),
        (_with(2, dense_width=64.5), "block 2: dense_width: expected an integer, got 64.5"),
        (_with(2, dense_width=None), "block 2: dense_width: is missing"),
        (
            _with(2, dense_inputs=3),
            "block 2: dense_inputs: expected a list of candidate indices or null, got 3",
        ),
        (_with(2, dense_inputs=["0"]), "block 2: dense_inputs: expected an integer, got '0'"),
        (_with(2, dense_inputs=[]), "block 2: dense_inputs: is empty"),
        (_with(2, dense_inputs=[1, 1]), "block 2: dense_inputs: lists a candidate twice"),
        (_with(2, sparse_inputs=[-1]), r"block 2: sparse_inputs: candidate(s) [-1] out of range"),
        (_with(2, left=5), "block 2: left: candidate 5 is out of range; block 2 reads candidates 0..2"),
        (_with(2, dense_op="cross", left=None, right=1), "block 2: left: the binary op 'cross' needs a left"),
        (_with(2, fm="false"), "block 2: fm: expected true or false, got 'false'"),
        (_with(2, colour="red"), "block 2: unknown keys ['colour']"),
        (_with(6, sparse_op=None, fm=False), "block 6: dense_op/sparse_op: the last block feeds the head"),
        ({"blocks": [None, *valid_architecture()["blocks"][1:]]}, "reads the dense output of block 0"),
        ({"blocks": []}, "blocks: is empty"),
        ({"blocks": {"0": {}}}, "blocks: an architecture JSON object needs a 'blocks' list"),
        ({"blocks": ["fc"]}, "block 0: expected a block object"),
    ],
)
def test_structure_is_checked_without_a_space(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Architecture.from_dict(data)
    assert message in str(info.value)


def test_flags_may_be_zero_or_one() -> None:
    arch = Architecture.from_dict(_with(2, fm=1, dense_to_sparse=0))
    assert arch.blocks[2].fm is True and arch.blocks[2].dense_to_sparse is False  # type: ignore[union-attr]


@pytest.mark.parametrize("space", ["nasrec_small", "nasrec_full", "nasrec_cross"])
def test_sampled_genotypes_and_their_canonical_forms_pass(space: str) -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        arch = sample_architecture(load_space(space), rng)
        for form in (arch, arch.canonical()):
            assert Architecture.from_json(form.to_json()) == form


def test_from_json_refuses_what_is_not_json() -> None:
    with pytest.raises(ConfigError, match="not valid JSON"):
        Architecture.from_json("{blocks")


def _reference(part: str, block: int, **values: Any) -> dict[str, Any]:
    ref = reference_config(valid_architecture())
    ref[part][block].update(values)
    return ref


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_reference("macro", 1, dense_idx=["0"]), "block 1: macro.dense_idx: expected an integer, got '0'"),
        (_reference("macro", 1, dense_idx=[2]), "block 1: macro.dense_idx: candidate(s) [2] out of range"),
        (
            _reference("macro", 1, dense_left_idx=[4]),
            "block 1: macro.dense_left_idx: candidate 4 is out of range",
        ),
        (
            _reference("micro", 1, sparse_in_dims=-8),
            "block 1: micro.sparse_in_dims: must be a positive integer",
        ),
        (
            _reference("micro", 1, dense_in_dims=None),
            "block 1: micro.dense_in_dims: expected an integer, got None",
        ),
        (_reference("micro", 1, deep_fm=2), "block 1: micro.deep_fm: expected 0 or 1, got 2"),
        (_reference("micro", 1, active_nodes=[-1, 2]), "block 1: micro.active_nodes [-1, 2]: ids must index"),
        ({**reference_config(valid_architecture()), "macro": [], "micro": [], "num_blocks": 0}, "are empty"),
    ],
)
def test_reference_imports_are_checked(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Architecture.from_nasrec_json(data)
    assert message in str(info.value)


def test_read_architecture_names_the_file_once(tmp_path: Path) -> None:
    path = tmp_path / "arch.json"
    path.write_text(json.dumps(_with(4, dense_width=-1)))
    with pytest.raises(ConfigError) as info:
        read_architecture(path)
    assert str(info.value) == "arch.json: block 4: dense_width: must be a positive integer, got -1"
    path.write_text(json.dumps({**valid_architecture(), "space": "nasrec_tiny"}))
    with pytest.raises(NotFoundError, match=r"^arch.json: space: search space 'nasrec_tiny' not found"):
        read_architecture(path)
    path.write_text(json.dumps({**valid_architecture(), "space": 7}))
    with pytest.raises(ConfigError, match=r"^arch.json: space: expected the name of a search space, got 7"):
        read_architecture(path)
    # a space given by the caller is checked against, and its errors are not the file's
    path.write_text(json.dumps(valid_architecture()))
    with pytest.raises(
        ConfigError, match="^arch.json: block 0: dense_op: 'dot' is not in space 'nasrec_full'"
    ):
        read_architecture(path, space=str(_space_without_dot(tmp_path)))
    with pytest.raises(NotFoundError, match="^search space 'nasrec_tiny' not found"):
        read_architecture(path, space="nasrec_tiny")


def _space_without_dot(tmp_path: Path) -> Path:
    import yaml

    data = load_space("nasrec_full").to_dict()
    data["dense_ops"] = ["fc", "gating", "sum"]
    path = tmp_path / "nasrec_full.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
