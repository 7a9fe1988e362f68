"""``ModelConfig``: what shapes a network besides its architecture and the dataset's columns.

A search space declares it (``embedding_dim``, ``ds_tokens`` and ``layernorm`` keys of its YAML), and
every consumer of a model's shape reads it from there: the supernet, the standalone SubNet, every cost
function, retraining, export and the leaderboard. This module is the one place that defaults a
model-shape number; nothing else may (a network searched at one shape and retrained at another is a
wrong result, not a style problem).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from nasrec.errors import ConfigError

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace

__all__ = ["ModelConfig", "resolve_model_config"]


@dataclass(frozen=True)
class ModelConfig:
    """Frozen, validated, JSON round-tripping.

    embedding_dim: E, the width of every embedding row and of every sparse token.
    ds_tokens:     tokens a dense-to-sparse merge adds to a block's sparse output.
    layernorm:     LayerNorm after each projection (docs/operators.md); it changes FLOPs and params.
    quantize:      fake-quantise every block (at its co-design knobs; W8A8 without) and the head at
                   W8A8 (docs/pim.md). Off, a network is quantised only if a block has knobs.
                   Required by spaces that search knobs, so every path trains and scores quantised.
    """

    embedding_dim: int = 16
    ds_tokens: int = 8
    layernorm: bool = True
    quantize: bool = False

    def __post_init__(self) -> None:
        for key in ("embedding_dim", "ds_tokens"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ConfigError(f"{key} must be a positive integer, got {value!r}")
            object.__setattr__(self, key, int(value))
        for key in ("layernorm", "quantize"):
            if not isinstance(getattr(self, key), bool | np.bool_):
                raise ConfigError(f"{key} must be true or false, got {getattr(self, key)!r}")
            object.__setattr__(self, key, bool(getattr(self, key)))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.quantize:
            del out["quantize"]  # as before the key existed: stored runs and bundles still match
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        names = cls.field_names()
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"unknown model config key(s) {unknown}; expected some of {list(names)}")
        return cls(**data)


def resolve_model_config(space: SearchSpace | None, *, layernorm: bool | None = None) -> ModelConfig:
    """The model config of ``space`` (the defaults above without one), LayerNorm overridden if given.

    For commands that take an architecture file with an optional space and a ``--layernorm`` flag.
    """
    model = space.model if space is not None else ModelConfig()
    return model if layernorm is None else replace(model, layernorm=layernorm)
