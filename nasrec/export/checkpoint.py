"""``export_checkpoint``: an architecture and a training checkpoint -> a verified bundle (and ``.zip``).

Which weights the bundle holds depends on the checkpoint's kind (its ``metadata.json``):

    "subnet"    a SubNet trained (or retrained) for this very architecture: exported as trained
    "supernet"  a weight-sharing SuperNet: the architecture's inherited weights (the model its
                one-shot scores were measured on; nothing is trained here)

``checkpoint`` is a checkpoint directory or a run directory (its latest checkpoint), as
``nasrec.train.load_subnet`` / ``load_supernet`` take it. The bundle itself is ``export_bundle``'s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from nasrec.console import StepProgress
from nasrec.errors import ConfigError, ConflictError
from nasrec.export.bundle import ExportBundle, export_bundle
from nasrec.space import Architecture

__all__ = ["export_checkpoint"]


def export_checkpoint(
    architecture: Architecture | Mapping[str, Any],
    *,
    checkpoint: str | os.PathLike[str],
    dataset: Any,
    out_dir: str | os.PathLike[str],
    metrics: Mapping[str, Any] | None = None,
    zip: bool = True,
    progress: StepProgress | None = None,
) -> ExportBundle:
    """Export ``architecture`` with the weights of ``checkpoint`` as a bundle at ``out_dir``.

    ``dataset`` (a ``Dataset``, or a name / path) is the one the checkpoint was trained on;
    ``metrics`` go to ``metrics.json``. Raises ``NotFoundError`` when there is no checkpoint at that
    path, ``ConfigError`` for a checkpoint of another kind, ``ConflictError`` when a subnet checkpoint
    holds another architecture, and whatever ``export_bundle`` raises. ``progress``: as ``export_bundle``'s.
    """
    arch = architecture if isinstance(architecture, Architecture) else Architecture.from_dict(architecture)
    subnet = _subnet(arch, checkpoint)
    return export_bundle(
        subnet, dataset=dataset, out_dir=out_dir, metrics=metrics, zip=zip, progress=progress
    )


def _subnet(arch: Architecture, checkpoint: str | os.PathLike[str]) -> Any:
    from nasrec.nets import inherit_subnet
    from nasrec.train import Checkpoint, load_subnet, load_supernet

    ckpt = Checkpoint.at(checkpoint)
    kind = ckpt.metadata.get("kind")
    if kind == "subnet":
        subnet = load_subnet(ckpt.path)
        if subnet.arch.canonical_hash() != arch.canonical_hash():
            raise ConflictError(
                f"the subnet checkpoint {ckpt.path} holds architecture {subnet.arch.canonical_hash()}, "
                f"not {arch.canonical_hash()}; export the checkpoint trained for this architecture"
            )
        return subnet
    if kind == "supernet":
        subnet = inherit_subnet(load_supernet(ckpt.path), arch)
        subnet.eval()
        return subnet
    raise ConfigError(f"{ckpt.path} holds a {kind!r} checkpoint; export a 'subnet' or 'supernet' checkpoint")
