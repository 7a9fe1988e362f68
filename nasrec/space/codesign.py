"""Hardware co-design knobs of one block (docs/pim.md): precision and where dynamic products run.

``w_bits``:  weight precision of the block's static-weight layers (FC, EFC, projections)
``a_bits``:  input precision of those layers (bit-serial inputs), also the precision of the block's
             activation x activation products (Dot-Product's Gram matrix, attention scores)
``dyn_map``: where those products run: ``"xbar"`` writes one operand into ReRAM crossbars every
             inference (the naive mapping), ``"dpe"`` is a digital near-memory MAC array

The naive design of an architecture is every block at ``NAIVE`` (W8A8, xbar). The embedding precision
is a per-job choice (``EMBEDDING_BITS``), not a block knob.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from nasrec.errors import ConfigError

__all__ = [
    "A_BITS",
    "DYN_MAPS",
    "EMBEDDING_BITS",
    "NAIVE",
    "W_BITS",
    "Knobs",
    "check_embedding_bits",
    "knobs_from_json",
]

W_BITS = (2, 4, 8)
A_BITS = (2, 4, 8)
DYN_MAPS = ("xbar", "dpe")
EMBEDDING_BITS = (8, 16)


@dataclass(frozen=True)
class Knobs:
    """The co-design choices of one block. Frozen, validated, JSON round-tripping."""

    w_bits: int = 8
    a_bits: int = 8
    dyn_map: str = "xbar"

    def __post_init__(self) -> None:
        for key, allowed in (("w_bits", W_BITS), ("a_bits", A_BITS), ("dyn_map", DYN_MAPS)):
            value = getattr(self, key)
            if isinstance(value, bool) or value not in allowed:
                choices = ", ".join(str(a) for a in allowed)
                raise ConfigError(f"{key} must be one of {choices}, got {value!r}")

    @property
    def label(self) -> str:
        """``W8A8 xbar``: how tables print a block's knobs."""
        return f"W{self.w_bits}A{self.a_bits} {self.dyn_map}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Knobs:
        unknown = sorted(set(data) - {"w_bits", "a_bits", "dyn_map"})
        if unknown:
            raise ConfigError(f"unknown co-design knob(s) {unknown}; expected w_bits, a_bits, dyn_map")
        return cls(**data)


NAIVE = Knobs()


def knobs_from_json(value: Any) -> Knobs | None:
    """A block's ``knobs`` JSON value: ``None`` (null or absent: the naive mapping) or ``Knobs``."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"expected an object with w_bits, a_bits, dyn_map or null, got {value!r}")
    return Knobs.from_dict(value)


def check_embedding_bits(bits: int) -> int:
    """``bits`` if it is an allowed embedding precision, else a ``ConfigError``."""
    if isinstance(bits, bool) or bits not in EMBEDDING_BITS:
        choices = ", ".join(str(b) for b in EMBEDDING_BITS)
        raise ConfigError(f"embedding bits must be one of {choices}, got {bits!r}")
    return bits
