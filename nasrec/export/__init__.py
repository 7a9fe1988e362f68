"""Export bundles: a trained SubNet as TorchScript, ONNX, safetensors weights and a feature map.

    export_bundle(subnet, dataset=..., out_dir=...) -> ExportBundle    write a verified bundle (+ .zip)
    load_exported(path) -> ExportedModel                               load one back as an nn.Module
    export_command                                                     ``nasrec export`` (nasrec.export.cli)

torch loads on first use of a name, so ``import nasrec.export`` (and the CLI's import) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasrec.export.bundle import ExportBundle, export_bundle
    from nasrec.export.load import ExportedModel, load_exported

__all__ = ["ExportBundle", "ExportedModel", "export_bundle", "load_exported"]

_LAZY = {
    "ExportBundle": "bundle",
    "export_bundle": "bundle",
    "ExportedModel": "load",
    "load_exported": "load",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"nasrec.export.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nasrec.export' has no attribute {name!r}")
