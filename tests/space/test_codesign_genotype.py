"""Per-block co-design knobs in the genotype (docs/pim.md): JSON, hashes, canonical forms, validation
against the space, NASRec reference import, sampling and mutation."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from nasrec.errors import ConfigError
from nasrec.space import Architecture, Block, load_space, mutate, sample_architecture
from nasrec.space.arch_file import load_architecture_file
from nasrec.space.codesign import NAIVE, Knobs
from nasrec.space.reference import architecture_from_reference
from nasrec.space.space import spaces_dir

# Hashes computed before knobs existed: stored studies and fixtures must keep matching them.
PRE_KNOB_HASHES = {
    "dlrm": "d92466c762e3dea1",
    "nasrec_criteo_full": "8ea1bceb122adda9",
    "dcnv2": "e8c5bbf42633d1c2",
}
PRE_KNOB_SAMPLES = {
    "nasrec_small": ("1ee6c75d9669f135", "f89da1abe824e881"),
    "nasrec_full": ("99dd818c9fdcda57", "5f25c40d120a4d81"),
}


def baseline_architecture(name: str) -> Architecture:
    return load_architecture_file(spaces_dir() / "baselines" / f"{name}.json")[0]


def _with_knobs(arch: Architecture, knobs: Knobs | None, block: int | None = None) -> Architecture:
    return Architecture(
        tuple(
            b if b is None or (block is not None and i != block) else b.with_(knobs=knobs)
            for i, b in enumerate(arch.blocks)
        )
    )


@pytest.mark.parametrize("name", sorted(PRE_KNOB_HASHES))
def test_knob_less_architectures_keep_their_json_and_hash(name: str) -> None:
    arch = baseline_architecture(name)
    assert arch.canonical_hash() == PRE_KNOB_HASHES[name]
    assert all("knobs" not in b for b in arch.to_dict()["blocks"] if b is not None)
    # knobs equal to the naive mapping are the same design: stored as None, the same hash
    naive = _with_knobs(arch, NAIVE)
    assert naive == arch and naive.canonical_hash() == PRE_KNOB_HASHES[name]
    assert _with_knobs(arch, Knobs(4, 8, "xbar")).canonical_hash() != PRE_KNOB_HASHES[name]


@pytest.mark.parametrize("name", sorted(PRE_KNOB_SAMPLES))
def test_spaces_without_co_design_sample_and_mutate_as_before(name: str) -> None:
    space = load_space(name)
    rng = np.random.default_rng(0)
    arch = sample_architecture(space, rng)
    child = mutate(arch, space, rng, 3)
    assert (arch.canonical_hash(), child.canonical_hash()) == PRE_KNOB_SAMPLES[name]
    assert not arch.has_knobs and not child.has_knobs


def test_json_round_trip_with_knobs() -> None:
    space = load_space("nasrec_full_pim")
    rng = np.random.default_rng(1)
    for _ in range(50):
        arch = sample_architecture(space, rng)
        again = Architecture.from_json(arch.to_json())
        assert again == arch and again.canonical_hash() == arch.canonical_hash()
        for block, data in zip(arch.blocks, json.loads(arch.to_json())["blocks"], strict=True):
            assert block is not None
            assert data.get("knobs") == (None if block.knobs is None else block.knobs.to_dict())


def test_bad_knob_json_names_the_block_and_the_field() -> None:
    data = baseline_architecture("dlrm").to_dict()
    data["blocks"][2]["knobs"] = {"w_bits": 3, "a_bits": 8, "dyn_map": "xbar"}
    with pytest.raises(ConfigError, match=r"block 2: knobs: w_bits must be one of 2, 4, 8, got 3"):
        Architecture.from_dict(data)
    data["blocks"][2]["knobs"] = {"bits": 4}
    with pytest.raises(ConfigError, match=r"block 2: knobs: unknown co-design knob"):
        Architecture.from_dict(data)
    data["blocks"][2]["knobs"] = "W4A4"
    with pytest.raises(ConfigError, match=r"block 2: knobs: expected an object"):
        Architecture.from_dict(data)


def test_canonical_form_fixes_dyn_map_where_nothing_is_placed() -> None:
    fc_efc = Block("fc", "efc", 64, 16, (0,), (0,), None, None, False, False, Knobs(4, 2, "dpe"))
    dot_efc = dataclasses.replace(fc_efc, dense_op="dot")
    for first, moved in ((fc_efc, "xbar"), (dot_efc, "dpe")):
        last = Block("fc", "efc", 16, 16, (1,), (1,), None, None, False, False, Knobs(2, 2, "dpe"))
        canon = Architecture((first, last)).canonical()
        assert canon.blocks[0].knobs == Knobs(4, 2, moved)
    # a block whose only knob change was the (ineffective) dyn_map becomes knob-less
    only_dyn = dataclasses.replace(fc_efc, knobs=Knobs(8, 8, "dpe"))
    last = Block("fc", "efc", 16, 16, (1,), (1,), None, None, False, False)
    assert Architecture((only_dyn, last)).canonical().blocks[0].knobs is None


def test_validation_refuses_knobs_the_space_does_not_allow() -> None:
    arch = sample_architecture(load_space("nasrec_small"), np.random.default_rng(2))
    last = arch.num_blocks - 1
    with pytest.raises(ConfigError, match=rf"block {last}: knobs.w_bits: 4 is not one of \[8\]"):
        _with_knobs(arch, Knobs(4, 8, "xbar"), last).validate(load_space("nasrec_small"))
    pim = load_space("nasrec_small_pim")
    _with_knobs(arch, Knobs(4, 2, "dpe"), last).validate(pim)
    narrow = dataclasses.replace(pim, co_design=(("a_bits", (4, 8)),))
    with pytest.raises(ConfigError, match=rf"block {last}: knobs.a_bits: 2 is not one of \[4, 8\]"):
        _with_knobs(arch, Knobs(8, 2, "xbar"), last).validate(narrow)


def test_co_design_choices_must_be_knob_values() -> None:
    data = {**load_space("nasrec_small").to_dict(), "co_design": {"w_bits": [3]}}
    with pytest.raises(ConfigError, match=r"co_design.w_bits: bad choice 3; choose from \[2, 4, 8\]"):
        type(load_space("nasrec_small")).from_dict(data)


def test_the_pim_spaces_are_the_reference_spaces_plus_knobs() -> None:
    for base in ("nasrec_small", "nasrec_full"):
        pim, plain = load_space(f"{base}_pim"), load_space(base)
        assert pim.co_design_knobs == {"w_bits": (2, 4, 8), "a_bits": (2, 4, 8), "dyn_map": ("xbar", "dpe")}
        same = {"name": plain.name, "description": plain.description, "co_design": ()}
        assert dataclasses.replace(pim, **same, model=plain.model) == plain


def test_reference_configs_carry_knobs_in_micro() -> None:
    block = {"dense_idx": [0], "sparse_idx": [0], "dense_left_idx": [0], "dense_right_idx": [0]}
    micro = {"active_nodes": [1, 2], "dense_in_dims": 64, "sparse_in_dims": 16}
    micro |= {"dense_sparse_interact": 0, "deep_fm": 0}
    data = {
        "config": "autoctr",
        "macro": [block],
        "micro": [{**micro, "knobs": {"w_bits": 4, "a_bits": 2, "dyn_map": "dpe"}}],
    }
    arch = architecture_from_reference(data)
    assert arch.blocks[0].knobs == Knobs(4, 2, "dpe")
    data["micro"] = [micro]
    assert architecture_from_reference(data).blocks[0].knobs is None
    data["micro"] = [{**micro, "knobs": {"w_bits": 5}}]
    with pytest.raises(ConfigError, match=r"block 0: micro.knobs: w_bits must be one of"):
        architecture_from_reference(data)


def test_a_co_design_space_samples_every_knob_value_per_block() -> None:
    space = load_space("nasrec_full_pim")
    rng = np.random.default_rng(3)
    seen: dict[str, set] = {"w_bits": set(), "a_bits": set(), "dyn_map": set()}
    for _ in range(100):
        arch = sample_architecture(space, rng)
        arch.validate(space)
        per_arch = {k for k in arch.block_knobs()}
        assert len(per_arch) > 1  # drawn per block, not per architecture
        for k in per_arch:
            for name in seen:
                seen[name].add(getattr(k, name))
    assert seen == {"w_bits": {2, 4, 8}, "a_bits": {2, 4, 8}, "dyn_map": {"xbar", "dpe"}}


def test_mutation_changes_knobs_too() -> None:
    space = load_space("nasrec_small_pim")
    rng = np.random.default_rng(4)
    knob_only = 0
    for _ in range(200):
        parent = sample_architecture(space, rng)
        child = mutate(parent, space, rng)
        child.validate(space)
        assert child.canonical_hash() != parent.canonical_hash()
        strip = lambda a: _with_knobs(a, None).canonical()  # noqa: E731
        knob_only += strip(child) == strip(parent)
    assert knob_only > 10  # some mutations change a block's knobs and nothing else
