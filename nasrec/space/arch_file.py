"""Architecture files: one architecture as JSON, in nasrec's format or the NASRec reference's."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nasrec.errors import ConfigError, NotFoundError
from nasrec.space.architecture import Architecture
from nasrec.space.model_config import ModelConfig, resolve_model_config

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace

__all__ = ["ArchitectureFile", "load_architecture_file", "read_architecture"]


@dataclass(frozen=True)
class ArchitectureFile:
    """An architecture file, read and validated, with the model config it is built at."""

    architecture: Architecture  # as written (canonicalise before building or hashing)
    format: str  # "nasrec" | "reference"
    space: SearchSpace | None  # the space given or named by the file, if any
    model: ModelConfig


def read_architecture(
    path: Path, *, space: str | None = None, layernorm: bool | None = None
) -> ArchitectureFile:
    """The architecture in ``path``, validated against ``space`` or the space the file names, with
    that space's model config (LayerNorm overridden if given; the defaults without a space)."""
    from nasrec.space.space import load_space

    arch, fmt, file_space = load_architecture_file(path)
    name = space or file_space
    found = load_space(name) if name else None
    if found is not None:
        arch.validate(found)
    return ArchitectureFile(arch, fmt, found, resolve_model_config(found, layernorm=layernorm))


def load_architecture_file(path: Path) -> tuple[Architecture, str, str | None]:
    """(architecture, format, space name named by the file) for a nasrec or reference JSON file."""
    from nasrec.space.reference import is_reference_format, reference_space_name

    if not path.is_file():
        raise NotFoundError(f"architecture file {str(path)!r} not found")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid JSON: {exc}") from None
    if is_reference_format(data):
        return Architecture.from_nasrec_json(data), "reference", reference_space_name(data)
    if isinstance(data, dict) and "blocks" in data:
        space = data.get("space")
        return Architecture.from_dict(data), "nasrec", space if isinstance(space, str) else None
    raise ConfigError(
        f"{path.name}: neither a nasrec architecture ('blocks') nor a reference config ('macro')"
    )
