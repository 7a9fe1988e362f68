"""nasrec: neural-architecture search for CTR / ranking models."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nasrec")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0"

__all__ = ["__version__"]
