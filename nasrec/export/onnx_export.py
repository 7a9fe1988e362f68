"""Write a PortableModel as ONNX (opset 17, dynamic batch axis) and run an ONNX file.

Exporter: the TorchScript-based ``torch.onnx.export(..., dynamo=False)`` first. It takes ~3 s for the
largest reference network where the torch.export-based one takes ~13 s on one CPU core, and both
agree with the SubNet to ~1e-6. One obstacle: ``functional.layer_norm`` passes ``(x.shape[-1],)`` as
the normalized shape (so the same code serves sliced supernet weights); a tracer records that as a
computed list, which the stock symbolic refuses. ``_last_axes_layer_norm`` maps it to ONNX
``LayerNormalization`` over the same number of trailing axes; it is registered only for the duration
of one export (under a lock). If the TorchScript-based exporter fails (or is gone from a future torch),
the torch.export-based exporter is used; the manifest records which one wrote the file.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["OPSET", "OnnxExport", "export_onnx", "onnx_session", "run_onnx"]

OPSET = 17
DYNAMO_OPSET = 18  # the torch.export-based exporter's lowest supported opset
INPUT_NAMES = ("dense", "sparse")
OUTPUT_NAME = "logits"

_LOCK = threading.Lock()


@dataclass(frozen=True)
class OnnxExport:
    """How an ONNX file was written: ``"torchscript"`` or ``"torch.export"``, and the opset."""

    exporter: str
    opset: int


def export_onnx(
    model: torch.nn.Module, path: Path, sample: tuple[Tensor, Tensor], *, dynamo: bool | None = None
) -> OnnxExport:
    """Write ``model`` (dense, sparse -> logits) to ``path``; says which exporter and opset were used.

    ``dynamo``: None tries the TorchScript-based exporter and falls back to the torch.export-based
    one; True / False forces one of them.
    """
    if dynamo is None:
        try:
            return export_onnx(model, path, sample, dynamo=False)
        except Exception:  # noqa: BLE001 (any exporter failure: try the other exporter)
            for stale in path.parent.glob(f"{path.name}*"):
                stale.unlink()
            return export_onnx(model, path, sample, dynamo=True)
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice, tracer warnings
        if dynamo:
            batch = torch.export.Dim("batch", min=1)
            torch.onnx.export(
                model,
                sample,
                str(path),
                opset_version=DYNAMO_OPSET,
                dynamo=True,
                external_data=_too_big_for_protobuf(model),
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch}, {0: batch}),
                verbose=False,
            )
            return OnnxExport("torch.export", DYNAMO_OPSET)
        with _layer_norm_symbolic():
            torch.onnx.export(
                model,
                sample,
                str(path),
                opset_version=OPSET,
                dynamo=False,
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes={name: {0: "batch"} for name in (*INPUT_NAMES, OUTPUT_NAME)},
            )
        return OnnxExport("torchscript", OPSET)


def onnx_session(path: Path | str | bytes) -> Any:
    """An onnxruntime CPU session for an ONNX file (or its bytes)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    source = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_onnx(session: Any, dense: Tensor | np.ndarray, sparse: Tensor | np.ndarray) -> np.ndarray:
    """Logits B (float32) of an onnxruntime session for one batch."""
    feeds = {
        "dense": np.ascontiguousarray(np.asarray(dense), dtype=np.float32),
        "sparse": np.ascontiguousarray(np.asarray(sparse), dtype=np.int64),
    }
    return session.run([OUTPUT_NAME], feeds)[0]


def _too_big_for_protobuf(model: torch.nn.Module) -> bool:
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    return size > 1_800_000_000  # protobuf's hard limit is 2 GiB; leave room for the graph


@contextmanager
def _layer_norm_symbolic() -> Iterator[None]:
    name = "aten::layer_norm"
    torch.onnx.register_custom_op_symbolic(name, _last_axes_layer_norm, OPSET)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic(name, OPSET)


def _last_axes_layer_norm(
    g: Any, x: Any, normalized_shape: Any, weight: Any, bias: Any, eps: Any, cudnn: Any
) -> Any:
    """``aten::layer_norm`` -> ONNX LayerNormalization over the last ``len(normalized_shape)`` axes.

    Unlike the stock symbolic it accepts a normalized shape computed from the input's shape: only its
    length matters to ONNX.
    """
    from torch.onnx import symbolic_helper as sh
    from torch.onnx import symbolic_opset17

    node = normalized_shape.node()
    if sh._is_none(weight) or sh._is_none(bias) or node.kind() != "prim::ListConstruct":
        return symbolic_opset17.layer_norm(g, x, normalized_shape, weight, bias, eps, cudnn)
    axes = len(list(node.inputs()))
    epsilon = sh._parse_arg(eps, "f")
    return g.op("LayerNormalization", x, weight, bias, epsilon_f=epsilon, axis_i=-axes)
