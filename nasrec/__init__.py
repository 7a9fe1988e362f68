"""nasrec: neural-architecture search for CTR / ranking models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("nasrec")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from nasrec.export.load import load_exported

__all__ = ["__version__", "load_exported"]


def __getattr__(name: str) -> Any:
    # Heavy entry points load on first use, so ``import nasrec`` stays light (no torch).
    if name == "load_exported":
        from nasrec.export.load import load_exported

        return load_exported
    raise AttributeError(f"module 'nasrec' has no attribute {name!r}")
