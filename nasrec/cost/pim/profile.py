"""Hardware profiles: the constants of the PIM cost model, as data (``search_spaces/hardware/*.yaml``).

A profile is a frozen pydantic model. Every key is required, unknown keys are refused, numbers must be
positive and of the right type (an integer where a count is meant); a malformed file is rejected with a
``ConfigError`` naming the file and every bad key, e.g.::

    hardware profile my_chip.yaml is invalid: crossbar.size: required key is missing;
    adc.power_mw.6: Input should be greater than 0 (got -1.0)

Add a profile by copying ``isaac32.yaml`` next to it (it is then found by name) or anywhere (by path).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nasrec.errors import ConfigError

__all__ = ["DEFAULT_PROFILE", "HardwareProfile", "list_profiles", "load_profile", "profiles_dir"]

DEFAULT_PROFILE = "isaac32"

Count = Annotated[int, Field(gt=0)]
Positive = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Crossbar(_Section):
    size: Count
    cell_bits: Count
    dac_bits: Count
    cells_per_weight: Count
    read_ns: Positive
    power_mw: Positive
    area_mm2: Positive
    write_ns: Positive
    write_nj: Positive


class Adc(_Section):
    max_bits: Count
    per_crossbar: Count
    sample_rate_gsps: Positive
    power_mw: dict[Count, Positive]
    area_mm2: Positive
    area_bits: Count

    @model_validator(mode="after")
    def _covers_its_resolutions(self) -> Adc:
        if not self.power_mw:
            raise ValueError("power_mw needs at least one resolution")
        if self.area_bits not in self.power_mw:
            raise ValueError(f"area_bits {self.area_bits} is not a resolution of power_mw")
        if self.max_bits > max(self.power_mw):
            raise ValueError(f"max_bits {self.max_bits} is above power_mw's highest resolution")
        return self

    def power(self, bits: int) -> float:
        """P_adc(bits) in mW: log-linear between the table's resolutions; below the lowest, its figure
        (no published ADC is cheaper than the table says)."""
        points = sorted(self.power_mw.items())
        if bits <= points[0][0]:
            return points[0][1]
        for (b0, p0), (b1, p1) in zip(points, points[1:], strict=False):
            if bits <= b1:
                return p0 * math.exp(math.log(p1 / p0) * (bits - b0) / (b1 - b0))
        return points[-1][1]  # unreachable: max_bits <= the highest resolution

    def area(self, bits: int) -> float:
        """A_adc(bits) in mm^2: the reference ADC's area scaled with its power."""
        return self.area_mm2 * self.power(bits) / self.power_mw[self.area_bits]


class Peripheral(_Section):
    power_mw: Positive
    area_mm2: Positive


class AreaOnly(_Section):
    area_mm2: Positive


class Buffer(_Section):
    energy_pj_per_bit: Positive
    output_bits: Count


class Digital(_Section):
    lanes: Count
    clock_ghz: Positive
    mac_pj: Positive
    area_mm2: Positive


class OpsPerElement(_Section):
    relu: Count
    add: Count
    mul: Count
    sigmoid: Count
    softmax: Count
    layernorm: Count


class Vector(_Section):
    lanes: Count
    cycle_ns: Positive
    op_pj: Positive
    area_mm2: Positive
    ops_per_element: OpsPerElement


class Embeddings(_Section):
    row_bits: Count
    read_pj: Positive
    read_ns: Positive


class HardwareProfile(_Section):
    """The constants of one PIM design (units in the key names; see ``isaac32.yaml``)."""

    name: str
    description: str = ""
    crossbar: Crossbar
    adc: Adc
    dac: Peripheral
    sample_hold: AreaOnly
    shift_add: Peripheral
    registers: Peripheral
    buffer: Buffer
    digital: Digital
    vector: Vector
    embeddings: Embeddings

    @classmethod
    def parse(cls, data: Any, *, source: str) -> HardwareProfile:
        """Validate ``data`` (a YAML mapping); errors name ``source`` and each bad key."""
        if not isinstance(data, dict):
            raise ConfigError(f"hardware profile {source}: expected a mapping of sections")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"hardware profile {source} is invalid: {_readable(exc)}") from None


def _readable(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"] if part != "[key]")
        kind = err["type"]
        if kind == "extra_forbidden":
            message = "unknown key"
        elif kind == "missing":
            message = "required key is missing"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            if kind != "value_error" and not isinstance(err.get("input"), dict | list):
                message += f" (got {err['input']!r})"
        problems.append(f"{key or '(top level)'}: {message}")
    return "; ".join(problems)


def profiles_dir() -> Path:
    from nasrec.home import project_root

    return project_root() / "search_spaces" / "hardware"


def list_profiles() -> list[str]:
    """Names of the shipped profiles (``search_spaces/hardware/*.yaml``), sorted."""
    found = profiles_dir()
    return sorted(p.stem for p in found.glob("*.yaml")) if found.is_dir() else []


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> HardwareProfile:
    """A shipped profile by name (``isaac32``) or a YAML file by path."""
    from nasrec.home import read_named_yaml

    path, data = read_named_yaml(name_or_path, profiles_dir(), "hardware profile")
    return HardwareProfile.parse(data, source=path.name)
