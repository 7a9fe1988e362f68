"""The component formulas of the PIM cost model (docs/pim.md): one function per kind of hardware work.

Each returns a ``Part``: latency (ns), energy (pJ), area (mm^2, the crossbars and their peripherals it
occupies) and crossbar count of one piece of work done once per inference. ``count`` independent copies
of a matrix product (attention heads) get their own crossbars and run side by side: area, energy and
crossbars scale with ``count``, latency does not (the digital array, one shared unit, takes them in turn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nasrec.cost.pim.profile import HardwareProfile

__all__ = [
    "Part",
    "adc_bits",
    "crossbar_product",
    "digital_product",
    "embedding_reads",
    "static_mvm",
    "vector_work",
]


@dataclass(frozen=True)
class Part:
    """One piece of an op's work on one unit.

    unit: "xbar" (static weights in crossbars), "xbar-dyn" (an operand written into crossbars),
          "dpe" (digital MAC array), "vector" (vector unit) or "memory" (embedding rows)
    """

    name: str
    unit: str
    latency_ns: float
    energy_pj: float
    area_mm2: float = 0.0
    crossbars: int = 0
    macs: int = 0


def adc_bits(profile: HardwareProfile, inputs: int) -> int:
    """ADC resolution that keeps a column's full sum over ``min(inputs, X)`` rows exact, capped."""
    xb = profile.crossbar
    rows = min(inputs, xb.size)
    spare = 0 if xb.dac_bits > 1 and xb.cell_bits > 1 else 1  # a 1-bit operand needs one bit less
    return min(profile.adc.max_bits, math.ceil(math.log2(rows)) + xb.dac_bits + xb.cell_bits - spare)


def static_mvm(
    profile: HardwareProfile,
    name: str,
    *,
    inputs: int,
    outputs: int,
    rows: int = 1,
    w_bits: int,
    a_bits: int,
    count: int = 1,
    unit: str = "xbar",
) -> Part:
    """``rows`` input vectors of length ``inputs`` through an ``inputs x outputs`` weight matrix held in
    crossbars at ``w_bits``, inputs fed bit-serially at ``a_bits``."""
    macs = count * rows * inputs * outputs
    if macs == 0:  # an empty layer (e.g. no dense features): nothing is mapped
        return Part(name, unit, 0.0, 0.0)
    xb, adc = profile.crossbar, profile.adc
    slices = math.ceil(w_bits / xb.cell_bits)
    cycles = math.ceil(a_bits / xb.dac_bits)
    cols = outputs * slices * xb.cells_per_weight
    row_blocks, col_blocks = math.ceil(inputs / xb.size), math.ceil(cols / xb.size)
    crossbars = row_blocks * col_blocks
    resolution = adc_bits(profile, inputs)
    conversion_pj = adc.power(resolution) / adc.sample_rate_gsps
    # one ADC converts all X columns of its array each cycle, unless the crossbar read is slower
    cycle_ns = max(xb.read_ns, xb.size / (adc.per_crossbar * adc.sample_rate_gsps))
    active_mw = xb.power_mw + profile.shift_add.power_mw + profile.registers.power_mw
    per_vector_pj = (
        row_blocks * cols * cycles * conversion_pj
        + crossbars * cycles * cycle_ns * active_mw
        + crossbars * min(inputs, xb.size) * cycles * profile.dac.power_mw * cycle_ns
        + (inputs * a_bits + outputs * profile.buffer.output_bits) * profile.buffer.energy_pj_per_bit
    )
    per_crossbar_mm2 = (
        xb.area_mm2
        + xb.size * (profile.dac.area_mm2 + profile.sample_hold.area_mm2)
        + adc.per_crossbar * adc.area(resolution)
        + profile.shift_add.area_mm2
        + profile.registers.area_mm2
    )
    return Part(
        name,
        unit,
        latency_ns=rows * cycles * cycle_ns,
        energy_pj=count * rows * per_vector_pj,
        area_mm2=count * crossbars * per_crossbar_mm2,
        crossbars=count * crossbars,
        macs=macs,
    )


def crossbar_product(
    profile: HardwareProfile, name: str, *, rows: int, inputs: int, outputs: int, bits: int, count: int = 1
) -> Part:
    """``dyn_map = xbar``: the ``inputs x outputs`` operand is written into crossbars every inference
    (all its arrays in parallel, a partial array in proportion), then ``rows`` vectors go through it."""
    mvm = static_mvm(
        profile,
        name,
        inputs=inputs,
        outputs=outputs,
        rows=rows,
        w_bits=bits,
        a_bits=bits,
        count=count,
        unit="xbar-dyn",
    )
    if mvm.macs == 0:
        return mvm
    xb = profile.crossbar
    written = min(inputs, xb.size) / xb.size  # share of each array's rows the operand fills
    return Part(
        name,
        mvm.unit,
        latency_ns=mvm.latency_ns + xb.write_ns * written,
        energy_pj=mvm.energy_pj + mvm.crossbars * xb.write_nj * 1e3 * written,
        area_mm2=mvm.area_mm2,
        crossbars=mvm.crossbars,
        macs=mvm.macs,
    )


def digital_product(
    profile: HardwareProfile, name: str, *, rows: int, inputs: int, outputs: int, bits: int, count: int = 1
) -> Part:
    """``dyn_map = dpe``: every MAC on the digital array, in whole cycles; energy scales as bits^2."""
    macs = count * rows * inputs * outputs
    dpe = profile.digital
    return Part(
        name,
        "dpe",
        latency_ns=math.ceil(macs / dpe.lanes) / dpe.clock_ghz,
        energy_pj=macs * dpe.mac_pj * (bits / 8) ** 2,
        macs=macs,
    )


def vector_work(profile: HardwareProfile, kind: str, elements: int) -> Part:
    """``elements`` of one kind of elementwise work (relu, add, mul, sigmoid, softmax, layernorm)."""
    vec = profile.vector
    ops = elements * getattr(vec.ops_per_element, kind)
    return Part(
        kind, "vector", latency_ns=math.ceil(ops / vec.lanes) * vec.cycle_ns, energy_pj=ops * vec.op_pj
    )


def embedding_reads(profile: HardwareProfile, *, features: int, width: int, bits: int) -> Part:
    """One ``width``-wide embedding row per sparse feature: its ReRAM rows read, every table's bank in
    parallel (a row wider than a bank row takes one read per bank row)."""
    mem = profile.embeddings
    reads = math.ceil(width * bits / mem.row_bits)
    return Part(
        "lookup",
        "memory",
        latency_ns=reads * mem.read_ns,
        energy_pj=features * reads * mem.read_pj,
    )
