"""Export of fake-quantised (co-design) networks: TorchScript and both ONNX exporters compute what the
PortableModel computes, and the bundle's architecture.json carries the knobs and the quantize flag."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from nasrec.data.schema import DatasetSchema
from nasrec.export.onnx_export import export_onnx, onnx_session
from nasrec.export.portable import ModelSpec, build_portable, portable_from_subnet, portable_state
from nasrec.nets import SubNet
from nasrec.space import load_space, sample_architecture
from tests.nets.conftest import randomize_, tiny_batch

SCHEMA = DatasetSchema.of_shape(3, [11, 7, 5, 13, 9])


def _quantized_models(count: int, seed: int) -> list[tuple[SubNet, object]]:
    space = load_space("nasrec_full_pim")
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        arch = sample_architecture(space, rng)
        torch.manual_seed(k)
        subnet = SubNet(arch, SCHEMA, space.model, embedding_backend="torch", device="cpu")
        randomize_(subnet, seed=k)
        assert subnet.quantized and arch.canonical().has_knobs
        out.append((subnet, portable_from_subnet(subnet)[0]))
    return out


def _agree(got: torch.Tensor, expected: torch.Tensor, *, tol: float, share: float = 1.0) -> None:
    """``got`` matches ``expected`` within ``tol`` on at least ``share`` of the rows."""
    close = (got - expected).abs() <= tol + tol * expected.abs()
    assert close.double().mean().item() >= share, (got - expected).abs().max()


def test_torchscript_of_a_quantized_model_matches_eager() -> None:
    batch = tiny_batch(SCHEMA, size=64, dtype=torch.float64)
    for _, model in _quantized_models(4, seed=0):
        model = copy.deepcopy(model).double()  # float64: no row lies within rounding of a level boundary
        with torch.no_grad():
            expected = model(batch.dense, batch.sparse)
            scripted = torch.jit.script(model)
            _agree(scripted(batch.dense, batch.sparse), expected, tol=1e-9)


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "torch.export"])
def test_onnx_of_a_quantized_model_matches_eager(dynamo: bool, tmp_path: Path) -> None:
    """Exactly in float64. In float32 two runtimes sum in different orders, so where an activation is
    within rounding of a level boundary they round it to neighbouring levels: a few rows differ."""
    for k, (_, model) in enumerate(_quantized_models(2, seed=1)):
        for dtype, tol, share in ((torch.float64, 1e-9, 1.0), (torch.float32, 1e-5, 0.9)):
            net = copy.deepcopy(model).to(dtype)
            sample = tiny_batch(SCHEMA, size=2, dtype=dtype)
            path = tmp_path / f"m{k}-{dtype}.onnx"
            export_onnx(net, path, (sample.dense, sample.sparse), dynamo=dynamo)
            session = onnx_session(path)
            for rows in (1, 128):
                batch = tiny_batch(SCHEMA, size=rows, seed=rows, dtype=dtype)
                with torch.no_grad():
                    expected = net(batch.dense, batch.sparse)
                feeds = {"dense": batch.dense.numpy(), "sparse": batch.sparse.numpy()}
                got = torch.from_numpy(session.run(None, feeds)[0])
                _agree(got, expected, tol=tol, share=share if rows > 1 else 0.0)
                if rows == 1:
                    assert got.shape == (1,) and torch.isfinite(got).all()


def test_a_quantized_bundle_verifies_and_loads(criteo: Any, tmp_path: Path) -> None:
    from nasrec.export import export_bundle, load_exported

    from .conftest import train_briefly

    space = load_space("nasrec_small_pim")
    rng = np.random.default_rng(3)
    arch = next(a for a in (sample_architecture(space, rng) for _ in range(20)) if a.canonical().has_knobs)
    trained = train_briefly(arch, criteo, layernorm=True, space=space).model
    assert trained.quantized
    bundle = export_bundle(trained, dataset=criteo, out_dir=tmp_path / "q", zip=False)
    stored = json.loads((bundle.path / "architecture.json").read_text())
    assert stored["model"]["quantize"] is True
    assert [b.get("knobs") for b in stored["blocks"] if b] == [
        b.knobs.to_dict() if b.knobs else None for b in arch.blocks
    ]
    exported = load_exported(bundle.path)
    assert exported.architecture == arch
    batch = criteo.split("test").batch(0, 300)
    with torch.no_grad():
        _agree(exported(batch.dense, batch.sparse), trained(batch), tol=1e-5, share=0.95)


def test_the_model_spec_carries_quantize_and_old_specs_still_load() -> None:
    subnet, model = _quantized_models(1, seed=2)[0]
    spec = ModelSpec.of_subnet(subnet)
    assert spec.to_dict()["quantize"] is True
    again = ModelSpec.from_dict(spec.to_dict())
    rebuilt = build_portable(subnet.arch, again)
    rebuilt.load_state_dict(portable_state(subnet), strict=True, assign=True)
    batch = tiny_batch(SCHEMA, size=4, dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(batch.dense, batch.sparse), model(batch.dense, batch.sparse))
    old = {k: v for k, v in spec.to_dict().items() if k != "quantize"}  # a bundle from before the flag
    assert ModelSpec.from_dict(old).model == dataclasses.replace(spec.model, quantize=False)
