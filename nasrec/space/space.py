"""Search spaces: a frozen, validated description of which architectures may be built.

A space is defined in YAML (``search_spaces/<name>.yaml``)::

    name: nasrec_small
    num_blocks: 7
    dense_ops: [fc, dot]
    sparse_ops: [efc]
    dense_widths: [16, 32, 64, 128, 256, 512, 768, 1024]
    sparse_widths: [16, 32, 48, 64]          # output tokens of the sparse op
    max_dense_inputs: 4
    max_sparse_inputs: 4
    dense_to_sparse: [false, true]           # allowed values of the per-block merge flags
    fm: [false, true]
    embedding_dim: 16                        # the model config (nasrec.space.model_config): E,
    ds_tokens: 8                             # dense-to-sparse tokens, LayerNorm; defaults there
    layernorm: true
    quantize: false                          # fake quantisation (model config; needed by co_design)
    input_count: binomial-0.5                # or "uniform"
    co_design:                               # per-block co-design knobs searched (docs/pim.md)
      w_bits: [2, 4, 8]
      a_bits: [2, 4, 8]
      dyn_map: [xbar, dpe]

Every error names the file and the key, so a user can fix the YAML without reading code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from nasrec.errors import ConfigError
from nasrec.space.architecture import DENSE_OPS, SPARSE_OPS
from nasrec.space.codesign import A_BITS, DYN_MAPS, NAIVE, W_BITS
from nasrec.space.model_config import ModelConfig
from nasrec.space.ops import ATTENTION_HEADS

INPUT_COUNT_DISTRIBUTIONS = ("binomial-0.5", "uniform")

# Co-design knobs a space may declare and the values each may take (``nasrec.space.codesign``). A knob
# the space does not declare stays at the naive mapping's value in every block.
CO_DESIGN_KNOBS: dict[str, tuple[Any, ...]] = {"w_bits": W_BITS, "a_bits": A_BITS, "dyn_map": DYN_MAPS}


@dataclass(frozen=True)
class SpaceSize:
    """How many architectures a space holds.

    raw:       distinct genotypes, counting genes that have no effect (NASRec's 10^39.7 / 10^43.9 figures).
    canonical: distinct canonical architectures (``Architecture.canonical()``), i.e. functionally distinct
               wirings; ``None`` when the space has too many blocks for the exact count (raw is then an
               upper bound).
    """

    raw: int
    canonical: int | None

    @property
    def log10_raw(self) -> float:
        return _log10(self.raw)

    @property
    def log10_canonical(self) -> float | None:
        return None if self.canonical is None else _log10(self.canonical)


def _log10(n: int) -> float:
    digits = len(str(n))
    if digits <= 300:
        return math.log10(n)
    return digits - 1 + math.log10(int(str(n)[:15]) / 1e14)


@dataclass(frozen=True)
class SearchSpace:
    """Operators, widths, connections and merge flags every block chooses from.

    Block ``i`` chooses among candidates ``0..i`` (0 = raw inputs, j+1 = block j), 1..max_dense_inputs
    dense inputs and 1..max_sparse_inputs sparse inputs; how many is drawn from ``input_count``.
    """

    name: str
    num_blocks: int
    dense_ops: tuple[str, ...]
    sparse_ops: tuple[str, ...]
    dense_widths: tuple[int, ...]
    sparse_widths: tuple[int, ...]
    max_dense_inputs: int = 4
    max_sparse_inputs: int = 4
    dense_to_sparse: tuple[bool, ...] = (False, True)
    fm: tuple[bool, ...] = (False, True)
    model: ModelConfig = ModelConfig()
    input_count: str = "binomial-0.5"
    description: str = ""
    co_design: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def __post_init__(self) -> None:
        where = f"search space {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("search space: name must be a non-empty string")
        _positive_int(where, "num_blocks", self.num_blocks)
        _positive_int(where, "max_dense_inputs", self.max_dense_inputs)
        _positive_int(where, "max_sparse_inputs", self.max_sparse_inputs)
        if not isinstance(self.model, ModelConfig):
            raise ConfigError(f"{where}: model must be a ModelConfig, got {self.model!r}")
        _choices(where, "dense_ops", self.dense_ops, DENSE_OPS)
        _choices(where, "sparse_ops", self.sparse_ops, SPARSE_OPS)
        _widths(where, "dense_widths", self.dense_widths)
        _widths(where, "sparse_widths", self.sparse_widths)
        _flags(where, "dense_to_sparse", self.dense_to_sparse)
        _flags(where, "fm", self.fm)
        _input_count(where, self.input_count)
        _co_design(where, self.co_design)
        if self.co_design and not self.model.quantize:
            raise ConfigError(
                f"{where}: co_design: searching co-design knobs needs quantize: true (the supernet trains "
                "and candidates are scored with fake quantisation, or low precision would look free)"
            )
        if "attention" in self.sparse_ops and self.model.embedding_dim % ATTENTION_HEADS:
            raise ConfigError(
                f"{where}: embedding_dim: attention uses {ATTENTION_HEADS} heads, so embedding_dim must be "
                f"a multiple of {ATTENTION_HEADS}, got {self.model.embedding_dim}"
            )

    # ---- construction -------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "search space") -> SearchSpace:
        """Build from a parsed YAML/JSON mapping; unknown or missing keys are named in the error."""
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of keys, got {type(data).__name__}")
        known = ({f.name for f in fields(cls)} - {"model"}) | set(ModelConfig.field_names())
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        required = ("name", "num_blocks", "dense_ops", "sparse_ops", "dense_widths", "sparse_widths")
        missing = [k for k in required if k not in data]
        if missing:
            raise ConfigError(f"{source}: missing key(s) {missing}")
        values = dict(data)
        for key in ("dense_ops", "sparse_ops", "dense_widths", "sparse_widths", "dense_to_sparse", "fm"):
            if key in values:
                if not isinstance(values[key], list | tuple):
                    raise ConfigError(f"{source}: {key} must be a list, got {values[key]!r}")
                values[key] = tuple(values[key])
        if "co_design" in values:
            cd = values["co_design"] or {}
            if not isinstance(cd, dict):
                raise ConfigError(f"{source}: co_design must be a mapping of knob -> choices, got {cd!r}")
            for knob, choices in cd.items():
                if not isinstance(choices, list | tuple):
                    raise ConfigError(f"{source}: co_design.{knob} must be a list, got {choices!r}")
            values["co_design"] = tuple(sorted((str(k), tuple(v)) for k, v in cd.items()))
        if values.get("description") is None:
            values["description"] = ""
        try:
            shape = {k: values.pop(k) for k in ModelConfig.field_names() if k in values}
            values["model"] = ModelConfig(**shape)
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        out.update(self.model.to_dict())
        for key in ("dense_ops", "sparse_ops", "dense_widths", "sparse_widths", "dense_to_sparse", "fm"):
            out[key] = list(out[key])
        out["co_design"] = {k: list(v) for k, v in self.co_design}
        return out

    # ---- behaviour -------------------------------------------------------------------------------------

    def num_candidates(self, block: int) -> int:
        """Block ``block`` (0-based) reads candidates ``0..block``."""
        return block + 1

    def sample_input_count(self, num_candidates: int, max_inputs: int, rng: np.random.Generator) -> int:
        """How many distinct inputs a block takes, per ``input_count``.

        ``binomial-p``: 1 + Binomial(min(n, max) - 1, p) (NASRec's supernet default, p = 0.5);
        ``uniform``: uniform over 1..min(n, max).
        """
        top = min(num_candidates, max_inputs)
        if self.input_count == "uniform":
            return 1 + int(rng.integers(top))
        return 1 + int(rng.binomial(top - 1, self.binomial_p))

    def input_count_probabilities(self, num_candidates: int, max_inputs: int) -> tuple[float, ...]:
        """P(count = 1), P(count = 2), ... for a block with ``num_candidates`` candidates."""
        top = min(num_candidates, max_inputs)
        if self.input_count == "uniform":
            return tuple(1.0 / top for _ in range(top))
        p, n = self.binomial_p, top - 1
        return tuple(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(top))

    @property
    def binomial_p(self) -> float:
        if self.input_count == "uniform":
            raise ConfigError(f"search space {self.name!r}: input_count is uniform, not binomial")
        return float(self.input_count.split("-", 1)[1])

    @property
    def co_design_knobs(self) -> dict[str, tuple[Any, ...]]:
        return dict(self.co_design)

    def knob_choices(self) -> dict[str, tuple[Any, ...]]:
        """Every knob's per-block choices: the declared ones, or the naive value alone."""
        declared = self.co_design_knobs
        return {k: declared.get(k, (getattr(NAIVE, k),)) for k in CO_DESIGN_KNOBS}

    def size(self) -> SpaceSize:
        """Number of raw genotypes and of distinct canonical architectures (see ``SpaceSize``)."""
        return self._size

    @cached_property
    def _size(self) -> SpaceSize:
        from nasrec.space.counting import count_canonical, count_raw

        return SpaceSize(raw=count_raw(self), canonical=count_canonical(self))


# ---- validation helpers (each names the key) -------------------------------------------------------------


def _positive_int(where: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{where}: {key} must be a positive integer, got {value!r}")


def _choices(where: str, key: str, values: tuple[Any, ...], allowed: tuple[str, ...]) -> None:
    if not values:
        raise ConfigError(f"{where}: {key} is empty; choose at least one of {list(allowed)}")
    for v in values:
        if v not in allowed:
            raise ConfigError(f"{where}: {key}: unknown op {v!r}; choose from {list(allowed)}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: {key} lists an op twice: {list(values)}")


def _widths(where: str, key: str, values: tuple[Any, ...]) -> None:
    if not values:
        raise ConfigError(f"{where}: {key} is empty; give at least one positive integer width")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ConfigError(f"{where}: {key}[{i}]: a width must be a positive integer, got {v!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: {key} lists a width twice: {list(values)}")
    if list(values) != sorted(values):
        raise ConfigError(f"{where}: {key} must be in increasing order, got {list(values)}")


def _flags(where: str, key: str, values: tuple[Any, ...]) -> None:
    if not values:
        raise ConfigError(f"{where}: {key} is empty; use [false, true], [false] or [true]")
    for v in values:
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: {key}: flag choices must be true/false, got {v!r}")
    if len(set(values)) != len(values):
        raise ConfigError(f"{where}: {key} lists a value twice: {list(values)}")


def _input_count(where: str, value: Any) -> None:
    ok = value == "uniform"
    if isinstance(value, str) and value.startswith("binomial-"):
        try:
            ok = 0.0 < float(value.split("-", 1)[1]) < 1.0
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError(
            f"{where}: input_count must be 'uniform' or 'binomial-p' with 0 < p < 1 "
            f"(e.g. 'binomial-0.5'), got {value!r}"
        )


def _co_design(where: str, items: tuple[tuple[str, tuple[Any, ...]], ...]) -> None:
    for knob, choices in items:
        if knob not in CO_DESIGN_KNOBS:
            raise ConfigError(
                f"{where}: co_design.{knob}: unknown knob; expected one of {list(CO_DESIGN_KNOBS)}"
            )
        if not choices:
            raise ConfigError(f"{where}: co_design.{knob} is empty")
        allowed = CO_DESIGN_KNOBS[knob]
        for v in choices:
            if isinstance(v, bool) or v not in allowed:
                raise ConfigError(f"{where}: co_design.{knob}: bad choice {v!r}; choose from {list(allowed)}")
        if len(set(choices)) != len(choices):
            raise ConfigError(f"{where}: co_design.{knob} lists a value twice: {list(choices)}")


# ---- loading ----------------------------------------------------------------------------------------------


def spaces_dir() -> Path:
    from nasrec.home import project_root

    return project_root() / "search_spaces"


def list_spaces() -> list[str]:
    """Names of the shipped spaces (``search_spaces/*.yaml``), sorted."""
    d = spaces_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else []


def load_space(name_or_path: str | Path) -> SearchSpace:
    """A shipped space by name (``nasrec_small``) or a YAML file by path."""
    from nasrec.home import read_named_yaml

    path, data = read_named_yaml(name_or_path, spaces_dir(), "search space")
    return SearchSpace.from_dict(data, source=path.name)
