"""Both ONNX exporters (TorchScript-based, the default, and torch.export-based, the fallback) write a
model with a dynamic batch axis that computes what the PortableModel computes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "torch.export"])
def test_onnx_exporters(dynamo: bool, criteo: Any, tmp_path: Path) -> None:
    from nasrec.export.onnx_export import export_onnx, onnx_session, run_onnx
    from nasrec.export.portable import portable_from_subnet
    from nasrec.nets.subnet import SubNet
    from nasrec.space import load_space, sample_architecture
    from nasrec.space.model_config import ModelConfig

    arch = sample_architecture(load_space("nasrec_full"), np.random.default_rng(5))
    torch.manual_seed(0)
    model, _ = portable_from_subnet(
        SubNet(arch, criteo.schema, ModelConfig(), embedding_backend="torch", device="cpu")
    )
    sample = criteo.split("val").batch(0, 2)
    info = export_onnx(model, tmp_path / "m.onnx", (sample.dense, sample.sparse), dynamo=dynamo)
    assert info.exporter == ("torch.export" if dynamo else "torchscript") and info.opset >= 17
    session = onnx_session(tmp_path / "m.onnx")
    test = criteo.split("test")
    for rows in (1, 7, len(test)):
        batch = test.batch(0, rows)
        with torch.no_grad():
            expected = model(batch.dense, batch.sparse)
        got = torch.from_numpy(run_onnx(session, batch.dense, batch.sparse))
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
