"""Loading and validating search spaces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from nasrec.errors import ConfigError, NotFoundError
from nasrec.space import SearchSpace, list_spaces, load_space

WIDTHS = (16, 32, 64, 128, 256, 512, 768, 1024)


def test_shipped_spaces_match_the_reference() -> None:
    assert {"nasrec_small", "nasrec_full"} <= set(list_spaces())
    small, full = load_space("nasrec_small"), load_space("nasrec_full")
    assert small.dense_ops == ("fc", "dot") and small.sparse_ops == ("efc",)
    assert set(full.dense_ops) == {"fc", "dot", "gating", "sum"} and set(full.sparse_ops) == {
        "attention",
        "efc",
    }
    for space in (small, full):
        assert space.num_blocks == 7
        assert space.dense_widths == WIDTHS
        assert space.sparse_widths == (16, 32, 48, 64)
        assert (space.max_dense_inputs, space.max_sparse_inputs) == (4, 4)
        assert space.dense_to_sparse == (False, True) and space.fm == (False, True)
        assert (space.model.embedding_dim, space.model.ds_tokens, space.model.layernorm) == (16, 8, True)
        assert space.input_count == "binomial-0.5"


def test_the_cross_space_is_small_plus_cross() -> None:
    small, cross = load_space("nasrec_small"), load_space("nasrec_cross")
    assert cross.dense_ops == ("fc", "dot", "cross")
    assert (
        dataclasses.replace(cross, name=small.name, description=small.description, dense_ops=small.dense_ops)
        == small
    )
    assert cross.size().raw > small.size().raw


def test_size_raw_matches_nasrec_and_canonical_is_smaller() -> None:
    small, full = load_space("nasrec_small").size(), load_space("nasrec_full").size()
    assert round(small.log10_raw, 1) == 39.7
    assert round(full.log10_raw, 1) == 43.9
    assert small.canonical is not None and full.canonical is not None
    assert small.canonical < small.raw and full.canonical < full.raw
    assert 30 < small.log10_canonical < small.log10_raw  # type: ignore[operator]


def test_load_by_path_and_round_trip(tmp_path: Path) -> None:
    space = load_space("nasrec_small")
    path = tmp_path / "mine.yaml"
    data = space.to_dict()
    del data["name"]  # the file stem names it
    path.write_text(yaml.safe_dump(data))
    loaded = load_space(path)
    assert loaded.name == "mine"
    assert loaded.dense_ops == space.dense_ops and loaded.size().raw == space.size().raw
    assert SearchSpace.from_dict(space.to_dict()) == space


def test_unknown_space_lists_the_available_ones() -> None:
    with pytest.raises(NotFoundError, match="nasrec_small"):
        load_space("no_such_space")


def _write(tmp_path: Path, **changes: object) -> Path:
    data = load_space("nasrec_full").to_dict()
    data.update(changes)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("changes", "key", "detail"),
    [
        ({"dense_ops": ["fc", "conv"]}, "dense_ops", "unknown op 'conv'"),
        ({"sparse_ops": ["fc"]}, "sparse_ops", "unknown op 'fc'"),
        ({"dense_ops": []}, "dense_ops", "empty"),
        ({"sparse_widths": []}, "sparse_widths", "empty"),
        ({"dense_widths": [16, 0, 64]}, "dense_widths[1]", "positive integer"),
        ({"dense_widths": [16, "wide"]}, "dense_widths[1]", "positive integer"),
        ({"sparse_widths": [16, -8]}, "sparse_widths[1]", "positive integer"),
        ({"dense_widths": [16, 16]}, "dense_widths", "twice"),
        ({"fm": []}, "fm", "empty"),
        ({"dense_to_sparse": [0, 1]}, "dense_to_sparse", "true/false"),
        ({"num_blocks": 0}, "num_blocks", "positive integer"),
        ({"max_sparse_inputs": 0}, "max_sparse_inputs", "positive integer"),
        ({"input_count": "poisson"}, "input_count", "uniform"),
        ({"embedding_dim": 12}, "embedding_dim", "multiple of 8"),
        ({"co_design": {"w_bits": []}}, "co_design.w_bits", "empty"),
        ({"co_design": {"v_bits": [4]}}, "co_design.v_bits", "unknown knob"),
        ({"widths": [1]}, "widths", "unknown key"),
    ],
)
def test_invalid_space_names_the_key(tmp_path: Path, changes: dict, key: str, detail: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_space(_write(tmp_path, **changes))
    message = str(info.value)
    assert "bad.yaml" in message and key in message and detail in message


def test_missing_key_is_named(tmp_path: Path) -> None:
    data = load_space("nasrec_small").to_dict()
    del data["sparse_widths"]
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="sparse_widths"):
        load_space(path)


def test_co_design_knobs_are_kept_but_optional(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="co_design: searching co-design knobs needs quantize: true"):
        load_space(_write(tmp_path, co_design={"w_bits": [2, 4]}))
    knobs = {"w_bits": [2, 4, 8], "dyn_map": ["xbar", "dpe"]}
    space = load_space(_write(tmp_path, co_design=knobs, quantize=True))
    assert space.model.quantize
    assert space.co_design_knobs == {"dyn_map": ("xbar", "dpe"), "w_bits": (2, 4, 8)}
    assert load_space("nasrec_full").co_design_knobs == {}


def test_input_count_probabilities() -> None:
    space = load_space("nasrec_full")
    assert space.input_count_probabilities(7, 4) == pytest.approx((1 / 8, 3 / 8, 3 / 8, 1 / 8))
    assert space.input_count_probabilities(2, 4) == pytest.approx((0.5, 0.5))
    assert space.input_count_probabilities(1, 4) == (1.0,)
    uniform = SearchSpace.from_dict({**space.to_dict(), "input_count": "uniform"})
    assert uniform.input_count_probabilities(7, 4) == pytest.approx((0.25,) * 4)
