"""Architecture files: one architecture as JSON, in nasrec's format or the NASRec reference's.

Every architecture that comes from outside the code (a file given to ``nasrec train``, ``export``,
``arch info`` or ``cost``; a job's baselines) is read here, and checked before anything runs: its
structure (``Architecture.validate()``: known ops, positive widths, inputs that exist, every gene
present) and, when a space is given or named by the file, the space's choices. Errors are one
``ConfigError`` line naming the source once, then the block and the field::

    arch.json: block 3: dense_inputs: candidate(s) [7] out of range; block 3 reads candidates 0..3 (...)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasrec.errors import ConfigError, NasrecError, NotFoundError
from nasrec.space.architecture import Architecture
from nasrec.space.model_config import ModelConfig, resolve_model_config

if TYPE_CHECKING:
    from nasrec.space.space import SearchSpace

__all__ = [
    "ArchitectureFile",
    "architecture_from_json",
    "from_source",
    "load_architecture_file",
    "read_architecture",
]


@dataclass(frozen=True)
class ArchitectureFile:
    """An architecture file, read and validated, with the model config it is built at."""

    architecture: Architecture  # as written (canonicalise before building or hashing)
    format: str  # "nasrec" | "reference"
    space: SearchSpace | None  # the space given or named by the file, if any
    model: ModelConfig


def read_architecture(
    path: Path, *, space: str | None = None, layernorm: bool | None = None, source: str | None = None
) -> ArchitectureFile:
    """The architecture in ``path``, validated against ``space`` or the space the file names, with
    that space's model config (LayerNorm overridden if given; the defaults without a space).
    Errors start with ``source`` (default: the file's name)."""
    from nasrec.space.reference import REFERENCE_FIELDS
    from nasrec.space.space import load_space
    from nasrec.space.validation import validate_architecture

    arch, fmt, file_space = load_architecture_file(path, source=source)
    found = load_space(space) if space else None
    with from_source(source or path.name):
        if found is None and file_space:
            with from_source("space"):
                found = load_space(file_space)
        if found is not None:
            validate_architecture(arch, found, fields=REFERENCE_FIELDS if fmt == "reference" else None)
    return ArchitectureFile(arch, fmt, found, resolve_model_config(found, layernorm=layernorm))


def load_architecture_file(path: Path, *, source: str | None = None) -> tuple[Architecture, str, str | None]:
    """(architecture, format, space name named by the file) for a nasrec or reference JSON file,
    structurally checked; errors start with ``source`` (default: the file's name)."""
    if not path.is_file():
        raise NotFoundError(f"architecture file {str(path)!r} not found")
    with from_source(source or path.name):
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid JSON: {exc}") from None
        return architecture_from_json(data)


def architecture_from_json(data: Any) -> tuple[Architecture, str, str | None]:
    """(architecture, format, space name it names) of a parsed JSON object, nasrec or reference
    format, structurally checked. Callers say where it came from (``from_source``)."""
    from nasrec.space.reference import is_reference_format, reference_space_name

    if is_reference_format(data):
        return Architecture.from_nasrec_json(data), "reference", reference_space_name(data)
    if isinstance(data, dict) and "blocks" in data:
        space = data.get("space")
        if space is not None and not isinstance(space, str):
            raise ConfigError(f"space: expected the name of a search space, got {space!r}")
        return Architecture.from_dict(data), "nasrec", space
    raise ConfigError("neither a nasrec architecture ('blocks') nor a reference config ('macro')")


@contextmanager
def from_source(source: str) -> Iterator[None]:
    """Prefix the nasrec errors raised inside with ``source: `` (keeping their class)."""
    try:
        yield
    except NasrecError as exc:
        raise type(exc)(f"{source}: {exc}") from None
