"""The PIM cost model (nasrec.cost.pim): PIM_COST_MODEL.md's test vectors, the architecture-level totals,
monotonicity on random architectures of both spaces, and hardware-profile validation."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml

from nasrec.cost import op_costs
from nasrec.cost.pim import NAIVE, Knobs, list_profiles, load_profile, pim_cost
from nasrec.cost.pim.components import (
    Part,
    adc_bits,
    crossbar_product,
    digital_product,
    embedding_reads,
    static_mvm,
    vector_work,
)
from nasrec.data.schema import DatasetSchema
from nasrec.errors import ConfigError, NotFoundError
from nasrec.space import Architecture, Block, load_space, sample_architecture
from nasrec.space.codesign import A_BITS, DYN_MAPS, W_BITS
from nasrec.space.model_config import ModelConfig

ISAAC = load_profile("isaac32")
TOLERANCE = 0.005  # PIM_COST_MODEL.md: every vector to 0.5%


def close(got: float, expected: float) -> bool:
    return abs(got - expected) <= TOLERANCE * abs(expected)


# ---- the test vectors of PIM_COST_MODEL.md (isaac32) ---------------------------------------------------


@pytest.mark.parametrize(
    ("w_bits", "a_bits", "latency_ns", "energy_nj", "area_mm2", "crossbars"),
    [
        (8, 8, 800, 694.3, 0.4724, 288),
        (4, 4, 400, 174.3, 0.2362, 144),
        (4, 8, 800, 347.8, 0.2362, 144),
        (2, 4, 400, 87.7, 0.1181, 72),
    ],
    ids=["W8A8", "W4A4", "W4A8", "W2A4"],
)
def test_fc_768x768(
    w_bits: int, a_bits: int, latency_ns: float, energy_nj: float, area_mm2: float, crossbars: int
) -> None:
    fc = static_mvm(ISAAC, "fc", inputs=768, outputs=768, w_bits=w_bits, a_bits=a_bits)
    assert close(fc.latency_ns, latency_ns), fc
    assert close(fc.energy_pj / 1e3, energy_nj), fc
    assert close(fc.area_mm2, area_mm2), fc
    assert fc.crossbars == crossbars


GRAM = {"rows": 27, "inputs": 16, "outputs": 27}  # 27 tokens of width 16 times their transpose


@pytest.mark.parametrize(
    ("dyn_map", "bits", "latency_ns", "energy_nj"),
    [("xbar", 8, 22_971, 77.27), ("dpe", 8, 46, 2.68), ("dpe", 4, 46, 0.67)],
    ids=["xbar-8", "dpe-8", "dpe-4"],
)
def test_dot_product_27_tokens(dyn_map: str, bits: int, latency_ns: float, energy_nj: float) -> None:
    product = crossbar_product if dyn_map == "xbar" else digital_product
    gram = product(ISAAC, "gram", **GRAM, bits=bits)
    assert close(gram.latency_ns, latency_ns), gram
    assert close(gram.energy_pj / 1e3, energy_nj), gram
    assert gram.macs == 27 * 16 * 27


def _dlrm_chain(bits: int, dyn_map: str) -> tuple[float, float, float]:
    """26 embeddings at 8 bits; FC 13-512-256-64-16; dot-product over 27 tokens; FC 367-512-256-1; ReLUs
    on 1,616 elements; all in sequence, every layer at ``bits``; fixed areas included."""
    widths = [(13, 512), (512, 256), (256, 64), (64, 16), (367, 512), (512, 256), (256, 1)]
    product = crossbar_product if dyn_map == "xbar" else digital_product
    parts: list[Part] = [
        embedding_reads(ISAAC, features=26, width=16, bits=8),
        *(static_mvm(ISAAC, "fc", inputs=k, outputs=n, w_bits=bits, a_bits=bits) for k, n in widths),
        product(ISAAC, "gram", **GRAM, bits=bits),
        vector_work(ISAAC, "relu", 512 + 256 + 64 + 16 + 512 + 256),
    ]
    fixed = ISAAC.digital.area_mm2 + ISAAC.vector.area_mm2
    return (
        sum(p.latency_ns for p in parts),
        sum(p.energy_pj for p in parts) / 1e3,
        sum(p.area_mm2 for p in parts) + fixed,
    )


@pytest.mark.parametrize(
    ("bits", "dyn_map", "latency_ns", "energy_nj", "area_mm2"),
    [(8, "xbar", 28_702, 693.0, 0.605), (4, "dpe", 2_977, 159.8, 0.393)],
    ids=["naive-W8A8-xbar", "W4A4-dpe"],
)
def test_dlrm_like_chain(
    bits: int, dyn_map: str, latency_ns: float, energy_nj: float, area_mm2: float
) -> None:
    latency, energy, area = _dlrm_chain(bits, dyn_map)
    assert close(latency, latency_ns), latency
    assert close(energy, energy_nj), energy
    assert close(area, area_mm2), area


def test_component_rules() -> None:
    assert adc_bits(ISAAC, 768) == 8  # 7 + 1 + 2 - 1 = 9, capped at 8
    assert adc_bits(ISAAC, 16) == 6  # the Gram matrix's 16 rows need fewer bits
    assert ISAAC.adc.power(7) == pytest.approx((1.26 * 2.0) ** 0.5)  # log-linear between 6 and 8
    assert ISAAC.adc.power(2) == 0.7  # below the table: its lowest figure
    assert static_mvm(ISAAC, "empty", inputs=0, outputs=16, w_bits=8, a_bits=8).latency_ns == 0
    # heads side by side: the crossbars and energy of each, the latency of one
    one = crossbar_product(ISAAC, "scores", rows=64, inputs=2, outputs=64, bits=8)
    eight = crossbar_product(ISAAC, "scores", rows=64, inputs=2, outputs=64, bits=8, count=8)
    assert eight.latency_ns == one.latency_ns and eight.crossbars == 8 * one.crossbars
    assert eight.energy_pj == pytest.approx(8 * one.energy_pj)
    # a row wider than a bank row takes two reads
    assert embedding_reads(ISAAC, features=3, width=32, bits=16).latency_ns == 2 * ISAAC.embeddings.read_ns
    assert embedding_reads(ISAAC, features=3, width=16, bits=16).energy_pj == 3 * ISAAC.embeddings.read_pj


# ---- architectures --------------------------------------------------------------------------------------

NO_LN = ModelConfig(layernorm=False)


def _fc(width: int, inputs: tuple[int, ...]) -> Block:
    return Block("fc", None, width, None, inputs, None, None, None, False, False)


def test_a_chain_costs_the_sum_of_its_layers() -> None:
    arch = Architecture((_fc(64, (0,)), _fc(16, (1,))))
    cost = pim_cost(arch, DatasetSchema.of_shape(13, [5] * 4), NO_LN)
    layers = [
        embedding_reads(ISAAC, features=4, width=16, bits=8),
        static_mvm(ISAAC, "fc", inputs=13, outputs=64, w_bits=8, a_bits=8),
        vector_work(ISAAC, "relu", 64),
        static_mvm(ISAAC, "fc", inputs=64, outputs=16, w_bits=8, a_bits=8),
        vector_work(ISAAC, "relu", 16),
        static_mvm(ISAAC, "head", inputs=16, outputs=1, w_bits=8, a_bits=8),
        vector_work(ISAAC, "sigmoid", 1),
    ]
    assert cost.latency_ns == pytest.approx(sum(p.latency_ns for p in layers))
    assert cost.energy_nj == pytest.approx(sum(p.energy_pj for p in layers) / 1e3)
    fixed = ISAAC.digital.area_mm2 + ISAAC.vector.area_mm2
    assert cost.area_mm2 == pytest.approx(sum(p.area_mm2 for p in layers) + fixed)
    assert cost.critical_path == (0, 1)
    assert [op.op for op in cost.ops] == ["embeddings", "fc", "fc", "head"]


def test_a_cross_layer_is_a_matmul_and_two_vector_ops() -> None:
    # cross(x_0 = block 0, x_l = block 0), 64 wide: W 64 x 64 on crossbars, x_0 * (.) and + x_l on the
    # vector unit; R is skipped (w == d)
    cross = Block("cross", None, 64, None, None, None, 1, 1, False, False)
    arch = Architecture((_fc(64, (0,)), cross, _fc(16, (2,))))
    cost = pim_cost(arch, DatasetSchema.of_shape(13, [5] * 4), NO_LN)
    op = next(op for op in cost.ops if op.op == "cross")
    expected = [
        static_mvm(ISAAC, "cross", inputs=64, outputs=64, w_bits=8, a_bits=8),
        vector_work(ISAAC, "mul", 64),
        vector_work(ISAAC, "add", 64),
    ]
    assert list(op.parts) == expected
    assert op.macs == 64 * 64 and cost.critical_path == (0, 1, 2)


def test_latency_is_the_critical_path_not_the_sum() -> None:
    # blocks 0 and 1 both read the raw input; block 2 reads both: only the slower one is on the path
    wide, narrow = _fc(1024, (0,)), _fc(16, (0,))
    arch = Architecture((wide, narrow, _fc(16, (1, 2))))
    cost = pim_cost(arch, DatasetSchema.of_shape(13, [5] * 4), NO_LN)
    by_block = {op.block: op.latency_ns for op in cost.ops if op.block is not None}
    ends = {op.op: op.latency_ns for op in cost.ops if op.block is None}
    assert by_block[0] > by_block[1]
    assert cost.latency_ns == pytest.approx(ends["embeddings"] + by_block[0] + by_block[2] + ends["head"])
    assert cost.critical_path == (0, 2)


def test_merges_follow_the_op_they_read() -> None:
    # fm reads the sparse output (after efc), dense-to-sparse the dense output (after fc)
    block = Block("fc", "efc", 64, 16, (0,), (0,), None, None, True, True)
    cost = pim_cost(Architecture((block,)), DatasetSchema.of_shape(13, [5] * 26), ModelConfig())
    lat = {op.op: op.latency_ns for op in cost.ops}
    block_latency = max(lat["fc"] + lat["dense_to_sparse"], lat["efc"] + lat["fm"])
    assert cost.latency_ns == pytest.approx(lat["embeddings"] + block_latency + lat["head"])


def test_totals_agree_with_the_flops_walk() -> None:
    space = load_space("nasrec_full")
    arch = sample_architecture(space, np.random.default_rng(3))
    schema, model = DatasetSchema.of_shape(13, [1] * 26), space.model
    cost = pim_cost(arch, schema, model, knobs=Knobs(4, 8, "dpe"))
    assert cost.macs == sum(c.macs for c in op_costs(arch, schema, model))
    assert [(op.block, op.op) for op in cost.ops[1:]] == [
        (c.block, c.op) for c in op_costs(arch, schema, model)
    ]
    assert cost.gops_per_w == pytest.approx(2 * cost.macs / cost.energy_nj)
    assert cost.inferences_per_j == pytest.approx(1e9 / cost.energy_nj)
    assert cost.area_mm2 == pytest.approx(sum(op.area_mm2 for op in cost.ops) + cost.fixed_area_mm2)
    head = cost.ops[-1]
    assert head.op == "head" and head.knobs == NAIVE  # the head is no block: naive precision
    assert {op.knobs for op in cost.ops if op.block is not None} == {Knobs(4, 8, "dpe")}


def test_knobs_per_block_and_their_errors() -> None:
    space = load_space("nasrec_small")
    arch = sample_architecture(space, np.random.default_rng(0))
    schema = DatasetSchema.of_shape(13, [1] * 26)
    per_block = [Knobs(2, 2, "dpe")] * arch.num_blocks
    assert pim_cost(arch, schema, space.model, knobs=per_block) == pim_cost(
        arch, schema, space.model, knobs=Knobs(2, 2, "dpe")
    )
    with pytest.raises(ConfigError, match="one per block"):
        pim_cost(arch, schema, space.model, knobs=per_block[:-1])
    with pytest.raises(ConfigError, match="w_bits must be one of 2, 4, 8, got 3"):
        Knobs(w_bits=3)
    with pytest.raises(ConfigError, match="dyn_map"):
        Knobs(dyn_map="analog")
    with pytest.raises(ConfigError, match="embedding bits"):
        pim_cost(arch, schema, space.model, embedding_bits=4)
    assert Knobs.from_dict(Knobs(2, 4, "dpe").to_dict()) == Knobs(2, 4, "dpe")


def test_each_block_is_costed_at_its_own_knobs() -> None:
    space = load_space("nasrec_full_pim")
    schema = DatasetSchema.of_shape(13, [1] * 26)
    rng = np.random.default_rng(1)
    for _ in range(10):
        arch = sample_architecture(space, rng)
        cost = pim_cost(arch, schema, space.model)
        assert cost == pim_cost(arch, schema, space.model, knobs=arch.canonical().block_knobs())
        canon = arch.canonical()
        for op in cost.ops:
            if op.block is not None:
                assert op.knobs == canon.blocks[op.block].resolved_knobs
        knob_less = pim_cost(
            Architecture(tuple(b.with_(knobs=None) for b in arch.blocks)), schema, space.model
        )
        assert knob_less == pim_cost(arch, schema, space.model, knobs=NAIVE)


def test_embedding_bits_count_when_a_row_overflows() -> None:
    arch = Architecture((_fc(16, (0,)),))
    schema = DatasetSchema.of_shape(13, [5] * 4)
    e16, e32 = ModelConfig(layernorm=False), ModelConfig(embedding_dim=32, layernorm=False)
    # 16 x 8 and 16 x 16 bits fit one 256-bit row; 32 x 16 bits take two
    assert pim_cost(arch, schema, e16, embedding_bits=16).ops[0] == pim_cost(arch, schema, e16).ops[0]
    lookup8 = pim_cost(arch, schema, e32).ops[0]
    lookup16 = pim_cost(arch, schema, e32, embedding_bits=16).ops[0]
    assert lookup16.energy_nj == pytest.approx(2 * lookup8.energy_nj)


# ---- monotonicity on random architectures --------------------------------------------------------------

SPACES = ("nasrec_small", "nasrec_full", "nasrec_cross")
ARCHS_PER_SPACE = 12


def _random_cases(space_name: str) -> list[tuple[Architecture, DatasetSchema, ModelConfig]]:
    """Random architectures (the project's sampler), random shapes (no dense features included), LayerNorm
    on and off."""
    space = load_space(space_name)
    rng = np.random.default_rng(16)
    cases = []
    for i in range(ARCHS_PER_SPACE):
        arch = sample_architecture(space, rng)
        schema = DatasetSchema.of_shape(int(rng.integers(0, 14)), [1] * int(rng.integers(1, 27)))
        cases.append((arch, schema, ModelConfig(layernorm=bool(i % 2))))
    return cases


def _no_more(cheap: float, dear: float) -> bool:
    return cheap <= dear * (1 + 1e-12)


@pytest.mark.parametrize("space_name", SPACES)
def test_fewer_bits_never_cost_more(space_name: str) -> None:
    for arch, schema, model in _random_cases(space_name):
        for dyn_map in DYN_MAPS:
            costs = {
                (w, a): pim_cost(arch, schema, model, knobs=Knobs(w, a, dyn_map))
                for w, a in itertools.product(W_BITS, A_BITS)
            }
            for (w, a), dear in costs.items():
                for (w2, a2), cheap in costs.items():
                    if (w2, a2) == (w, a) or w2 > w or a2 > a:
                        continue
                    where = f"{arch.canonical_hash()} W{w2}A{a2} vs W{w}A{a} {dyn_map}"
                    assert _no_more(cheap.latency_ns, dear.latency_ns), where
                    assert _no_more(cheap.energy_nj, dear.energy_nj), where
                    assert _no_more(cheap.area_mm2, dear.area_mm2), where
                    for lo, hi in zip(cheap.ops, dear.ops, strict=True):
                        assert _no_more(lo.latency_ns, hi.latency_ns), (where, lo.op)
                        assert _no_more(lo.energy_nj, hi.energy_nj), (where, lo.op)
                        assert _no_more(lo.area_mm2, hi.area_mm2), (where, lo.op)


@pytest.mark.parametrize("space_name", SPACES)
def test_lowering_one_blocks_precision_never_costs_more(space_name: str) -> None:
    rng = np.random.default_rng(7)
    for arch, schema, model in _random_cases(space_name):
        knobs = [
            Knobs(int(rng.choice(W_BITS)), int(rng.choice(A_BITS)), str(rng.choice(DYN_MAPS)))
            for _ in arch.blocks
        ]
        block = int(rng.integers(arch.num_blocks))
        lower = list(knobs)
        lower[block] = Knobs(min(W_BITS), min(A_BITS), knobs[block].dyn_map)
        dear, cheap = (pim_cost(arch, schema, model, knobs=k) for k in (knobs, lower))
        assert _no_more(cheap.latency_ns, dear.latency_ns)
        assert _no_more(cheap.energy_nj, dear.energy_nj)
        assert _no_more(cheap.area_mm2, dear.area_mm2)


@pytest.mark.parametrize("space_name", SPACES)
def test_dpe_is_never_slower_than_xbar(space_name: str) -> None:
    dynamic_products = 0
    for arch, schema, model in _random_cases(space_name):
        for w, a in itertools.product(W_BITS, A_BITS):
            xbar = pim_cost(arch, schema, model, knobs=Knobs(w, a, "xbar"))
            dpe = pim_cost(arch, schema, model, knobs=Knobs(w, a, "dpe"))
            assert _no_more(dpe.latency_ns, xbar.latency_ns)
            for op_x, op_d in zip(xbar.ops, dpe.ops, strict=True):
                for part_x, part_d in zip(op_x.parts, op_d.parts, strict=True):
                    if part_d.unit == "dpe":  # the same product, mapped both ways
                        assert part_x.unit == "xbar-dyn" and part_x.macs == part_d.macs
                        assert part_d.latency_ns <= part_x.latency_ns, (op_d.op, part_d.name)
                        dynamic_products += 1
    assert dynamic_products > 0  # the sample has Dot-Products / attention to compare


# ---- hardware profiles ---------------------------------------------------------------------------------

PROFILE_DIR = Path(__file__).resolve().parents[2] / "search_spaces" / "hardware"


def test_every_shipped_profile_loads() -> None:
    assert "isaac32" in list_profiles()
    for name in list_profiles():
        assert load_profile(name).name == name
    assert load_profile(PROFILE_DIR / "isaac32.yaml") == ISAAC
    assert load_profile(str(PROFILE_DIR / "isaac32.yaml")) == ISAAC
    with pytest.raises(NotFoundError, match="available: .*isaac32"):
        load_profile("isaac64")
    with pytest.raises(NotFoundError):
        load_profile(PROFILE_DIR / "nothing.yaml")


def _isaac_data() -> dict:
    return yaml.safe_load((PROFILE_DIR / "isaac32.yaml").read_text())


def test_a_user_profile_needs_no_code(tmp_path: Path) -> None:
    data = _isaac_data()
    data["name"] = "leaky"
    data["crossbar"]["power_mw"] *= 10
    path = tmp_path / "leaky.yaml"
    path.write_text(yaml.safe_dump(data))
    arch = Architecture((_fc(64, (0,)),))
    schema = DatasetSchema.of_shape(13, [5] * 4)
    leaky = pim_cost(arch, schema, NO_LN, profile=str(path))
    assert (
        leaky
        == pim_cost(arch, schema, NO_LN, profile=path)
        == pim_cost(arch, schema, NO_LN, profile=load_profile(path))
    )
    assert leaky.profile == "leaky"
    assert leaky.energy_nj > pim_cost(arch, schema, NO_LN).energy_nj
    assert leaky.latency_ns == pim_cost(arch, schema, NO_LN).latency_ns


def _set(data: dict, key: str, value: object) -> None:
    *parents, last = key.split(".")
    for part in parents:
        data = data[part]
    data[int(last) if last.isdigit() else last] = value


def _drop(data: dict, key: str) -> None:
    *parents, last = key.split(".")
    for part in parents:
        data = data[part]
    del data[last]


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (lambda d: _set(d, "crossbar.colour", "blue"), "crossbar.colour", "unknown key"),
        (lambda d: _drop(d, "crossbar.size"), "crossbar.size", "required key is missing"),
        (lambda d: _drop(d, "embeddings"), "embeddings", "required key is missing"),
        (lambda d: _drop(d, "vector.ops_per_element.softmax"), "vector.ops_per_element.softmax", "missing"),
        (lambda d: _set(d, "crossbar.size", "128"), "crossbar.size", "valid integer"),
        (lambda d: _set(d, "crossbar.size", 128.5), "crossbar.size", "valid integer"),
        (lambda d: _set(d, "dac.power_mw", True), "dac.power_mw", "valid number"),
        (lambda d: _set(d, "adc.power_mw", [0.7, 2.0]), "adc.power_mw", "valid dictionary"),
        (lambda d: _set(d, "dac.power_mw", 0), "dac.power_mw", "greater than 0"),
        (lambda d: _set(d, "crossbar.write_nj", -22.6), "crossbar.write_nj", "greater than 0"),
        (lambda d: _set(d, "adc.power_mw.6", -1.26), "adc.power_mw.6", "greater than 0"),
        (lambda d: _set(d, "adc.max_bits", 12), "adc", "max_bits 12 is above"),
        (lambda d: _set(d, "adc.area_bits", 7), "adc", "area_bits 7 is not a resolution"),
    ],
    ids=[
        "unknown-key",
        "missing-key",
        "missing-section",
        "missing-nested-key",
        "string-for-int",
        "float-for-int",
        "bool-for-number",
        "list-for-table",
        "zero",
        "negative",
        "negative-table-entry",
        "adc-cap-beyond-table",
        "adc-area-reference",
    ],
)
def test_a_malformed_profile_names_the_file_and_the_key(
    tmp_path: Path, change: object, key: str, message: str
) -> None:
    data = _isaac_data()
    change(data)  # type: ignore[operator]
    path = tmp_path / "broken_chip.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    text = str(info.value)
    assert "broken_chip.yaml" in text and f"{key}:" in text and message in text, text
    assert "\n" not in text  # one line, as the CLI prints it


def test_a_profile_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="list.yaml: expected a mapping"):
        load_profile(path)
    path.write_text("crossbar: [\n")
    with pytest.raises(ConfigError, match="list.yaml: not valid YAML"):
        load_profile(path)


def test_the_public_surface() -> None:
    import nasrec.cost.pim

    assert set(nasrec.cost.pim.__all__) == {
        "DEFAULT_PROFILE", "HEAD_KNOBS", "NAIVE", "HardwareProfile", "Knobs", "OpPim", "Part", "PimCost",
        "list_profiles", "load_profile", "pim_cost",
    }  # fmt: skip
    for name in nasrec.cost.pim.__all__:
        assert getattr(nasrec.cost.pim, name) is not None
