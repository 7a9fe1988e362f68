"""Export bundles: a trained SubNet as TorchScript, ONNX, safetensors weights and a feature map.

    export_bundle(subnet, dataset=..., out_dir=...) -> ExportBundle    write a verified bundle (+ .zip)
    export_checkpoint(arch, checkpoint=..., dataset=..., out_dir=...)  the same, from a subnet checkpoint
                                                                       or a supernet's inherited weights
    load_exported(path) -> ExportedModel                               load one back as an nn.Module
    export_command                                                     ``nasrec export`` (nasrec.export.cli)

torch loads on first use of a name, so ``import nasrec.export`` (and the CLI's import) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nasrec.export.bundle import ExportBundle, export_bundle
    from nasrec.export.checkpoint import export_checkpoint
    from nasrec.export.load import ExportedModel, load_exported

__all__ = ["ExportBundle", "ExportedModel", "export_bundle", "export_checkpoint", "load_exported"]

_LAZY = {
    "ExportBundle": "bundle",
    "export_bundle": "bundle",
    "export_checkpoint": "checkpoint",
    "ExportedModel": "load",
    "load_exported": "load",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"nasrec.export.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nasrec.export' has no attribute {name!r}")
