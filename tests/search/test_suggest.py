"""Define-by-run encoding: valid architectures from any params, exact round trip, only effective genes."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from nasrec.errors import ConfigError
from nasrec.search.suggest import architecture_to_params, params_to_architecture, suggest_architecture
from nasrec.space import BINARY_OPS, Architecture, load_space, sample_architecture


@pytest.mark.parametrize(
    "space_name", ["nasrec_small", "nasrec_full", "nasrec_cross", "nasrec_small_pim", "nasrec_full_pim"]
)
def test_round_trip_is_exact(space_name: str) -> None:
    space = load_space(space_name)
    rng = np.random.default_rng(0)
    for _ in range(300):
        arch = sample_architecture(space, rng)
        params = architecture_to_params(arch, space)
        assert params_to_architecture(params, space) == arch.canonical()


@pytest.mark.parametrize(
    "space_name", ["nasrec_small", "nasrec_full", "nasrec_cross", "nasrec_small_pim", "nasrec_full_pim"]
)
def test_any_sampler_params_give_a_valid_canonical_architecture(space_name: str) -> None:
    space = load_space(space_name)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(200):
        trial = study.ask()
        arch = suggest_architecture(trial, space)
        arch.validate(space)
        assert arch == arch.canonical()
        assert params_to_architecture(trial.params, space) == arch
        study.tell(trial, 0.0)


def test_only_effective_genes_are_suggested() -> None:
    space = load_space("nasrec_full")
    rng = np.random.default_rng(5)
    for _ in range(300):
        arch = sample_architecture(space, rng).canonical()
        params = architecture_to_params(arch, space)
        for i, block in enumerate(arch.blocks):
            names = {k for k in params if k.startswith(f"b{i}_")}
            if block is None:
                assert not names  # pruned blocks have no genes
                continue
            binary = block.dense_op in BINARY_OPS
            assert (f"b{i}_left" in names) == (binary and i > 0)
            assert any(n.startswith(f"b{i}_dense_in_") for n in names) == (
                block.dense_op in ("fc", "dot") and i > 0
            )
            assert (f"b{i}_sparse_op" in names) == (block.sparse_op is not None)
            assert (f"b{i}_dense_width" in names) == (block.dense_op is not None)


@pytest.mark.parametrize(("pattern", "expected"), [(True, (3, 4, 5, 6)), (False, (6,))])
def test_input_repair_is_deterministic_and_bounded(pattern: bool, expected: tuple[int, ...]) -> None:
    """All 7 candidates asked for -> the 4 most recent; none -> the nearest predecessor."""
    from nasrec.search.suggest import _build

    space = load_space("nasrec_small")

    def choose(name: str, choices):  # type: ignore[no-untyped-def]
        if "_in_" in name:
            return pattern
        return "fc" if name.endswith("dense_op") else choices[0]

    arch = _build(space, choose)
    arch.validate(space)
    assert arch.blocks[6].dense_inputs == expected
    assert arch.blocks[6].sparse_inputs == expected


def test_architecture_outside_the_space_is_refused() -> None:
    small = load_space("nasrec_small")
    full = load_space("nasrec_full")
    rng = np.random.default_rng(3)
    for _ in range(200):
        arch = sample_architecture(full, rng).canonical()
        if any(b is not None and b.sparse_op == "attention" for b in arch.blocks):
            with pytest.raises(ConfigError):
                architecture_to_params(arch, small)
            return
    pytest.fail("no attention architecture drawn")


def test_wrong_block_count_is_refused() -> None:
    space = load_space("nasrec_small")
    arch = sample_architecture(space, np.random.default_rng(0))
    with pytest.raises(ConfigError):
        architecture_to_params(Architecture(arch.blocks[:3]), space)


def test_knob_genes_are_suggested_only_where_they_have_an_effect() -> None:
    """Every live block of a co-design space has b{i}_w_bits / b{i}_a_bits; b{i}_dyn_map only with a
    live Dot-Product or attention (elsewhere it places nothing). Spaces without co_design have none."""
    space = load_space("nasrec_full_pim")
    rng = np.random.default_rng(6)
    seen_dyn = set()
    for _ in range(200):
        arch = sample_architecture(space, rng).canonical()
        params = architecture_to_params(arch, space)
        for i, block in enumerate(arch.blocks):
            if block is None:
                continue
            assert {f"b{i}_w_bits", f"b{i}_a_bits"} <= set(params)
            assert (f"b{i}_dyn_map" in params) == block.has_dynamic_op
            if block.has_dynamic_op:
                seen_dyn.add(params[f"b{i}_dyn_map"])
    assert seen_dyn == {"xbar", "dpe"}
    plain = load_space("nasrec_full")
    arch = sample_architecture(plain, rng)
    assert not any(k.endswith(("_bits", "_dyn_map")) for k in architecture_to_params(arch, plain))
