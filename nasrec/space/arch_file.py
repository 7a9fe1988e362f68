"""Architecture files: one architecture as JSON, in nasrec's format or the NASRec reference's."""

from __future__ import annotations

import json
from pathlib import Path

from nasrec.errors import ConfigError, NotFoundError
from nasrec.space.architecture import Architecture

__all__ = ["load_architecture_file"]


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
