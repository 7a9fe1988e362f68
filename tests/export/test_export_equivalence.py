"""The exported TorchScript and ONNX models compute what the trained SubNet computes, on real Criteo rows.

Cases: both reference Criteo configs, random architectures of both reference spaces and the DCNv2 baseline
(three cross layers), LayerNorm on and off, each trained a few steps with fbgemm embeddings. The artifacts
are read back from the bundle's files.

Tolerance: 1e-5 (absolute + relative). Without LayerNorm, activations reach the hundreds and float32
itself is not that exact: PyTorch's own logits then sit ~1e-4 from a float64 evaluation, and so do
onnxruntime's, in other directions. The allowance is therefore widened by twice the SubNet's own worst
rounding error (measured against float64); in LayerNorm networks that term is ~1e-7 and the plain 1e-5
bound is what is tested.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from .conftest import reference_arch, train_briefly

ATOL = RTOL = 1e-5
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

CASES = [
    ("ref-autoctr", True),
    ("ref-autoctr", False),
    ("ref-xlarge", True),
    ("ref-xlarge", False),
    ("nasrec_small-11", True),
    ("nasrec_small-12", False),
    ("nasrec_full-21", True),
    ("nasrec_full-22", False),
    ("baseline-dcnv2", True),
    ("baseline-dcnv2", False),
]


def case_arch(case: str) -> tuple[Any, str]:
    from nasrec.space import load_space, sample_architecture

    kind, _, arg = case.partition("-")
    if kind == "ref":
        return reference_arch(arg)
    if kind == "baseline":
        from nasrec.search.finalize import load_baseline

        return load_baseline(arg).architecture, "nasrec_cross"  # dcnv2 uses cross
    return sample_architecture(load_space(kind), np.random.default_rng(int(arg))), kind


def assert_same_function(got: Any, expected: torch.Tensor, truth: torch.Tensor) -> None:
    """``got`` equals the SubNet's ``expected`` to 1e-5, up to float32 rounding (see the module doc)."""
    got = torch.as_tensor(got).double()
    expected, truth = expected.double(), truth.double()
    rounding = (expected - truth).abs().max().item()
    assert rounding < 1e-3 * (1 + truth.abs().max().item())  # the float64 yardstick is the same function
    allowed = ATOL + RTOL * expected.abs() + 2 * rounding
    worst = (got - expected).abs().max().item()
    assert ((got - expected).abs() <= allowed).all(), (
        f"max |diff| {worst:.3g}, SubNet rounding {rounding:.3g}"
    )


def initial_subnet(arch: Any, schema: Any, layernorm: bool, space: Any) -> Any:
    """The SubNet ``train_subnet`` starts from (it seeds torch with the config's seed, 0)."""
    from nasrec.nets.subnet import SubNet

    torch.manual_seed(0)
    return SubNet(arch, schema, dataclasses.replace(space.model, layernorm=layernorm), device="cpu")


@pytest.mark.parametrize(("case", "layernorm"), CASES, ids=[f"{c}-ln{int(ln)}" for c, ln in CASES])
def test_torchscript_and_onnx_match_the_subnet(
    case: str, layernorm: bool, criteo: Any, tmp_path: Path
) -> None:
    import onnxruntime as ort

    from nasrec.export import export_bundle, load_exported
    from nasrec.export.portable import reference_logits
    from nasrec.space import load_space

    arch, space_name = case_arch(case)
    space = load_space(space_name)
    subnet = train_briefly(arch, criteo, layernorm=layernorm, space=space).model
    assert subnet.embeddings.backend == "fbgemm"
    init = initial_subnet(arch, criteo.schema, layernorm, space)
    assert not torch.equal(subnet.head.linear.weight, init.head.linear.weight)
    assert not torch.equal(subnet.embeddings.get_weights()[0], init.embeddings.get_weights()[0])

    bundle = export_bundle(subnet, dataset=criteo, out_dir=tmp_path / "bundle", zip=False)

    loaded = load_exported(bundle.path)
    scripted = torch.jit.load(str(bundle.torchscript))
    session = ort.InferenceSession(str(bundle.onnx), providers=["CPUExecutionProvider"])
    test = criteo.split("test")
    for start, stop in ((0, 200), (200, 201), (201, len(test))):  # several batch sizes, one of 1
        batch = test.batch(start, stop)
        with torch.no_grad():
            expected = subnet(batch)
            got_script = scripted(batch.dense, batch.sparse)
            got_loaded = loaded(batch.dense, batch.sparse)
        truth = reference_logits(loaded, batch.dense, batch.sparse)
        got_onnx = session.run(["logits"], {"dense": batch.dense.numpy(), "sparse": batch.sparse.numpy()})[0]
        assert got_onnx.shape == (stop - start,) and got_onnx.dtype == np.float32
        assert_same_function(got_script, expected, truth)
        assert_same_function(got_onnx, expected, truth)
        assert_same_function(got_loaded, expected, truth)
    manifest = json.loads(bundle.manifest.read_text())
    assert manifest["onnx"]["opset"] >= 17
    assert set(manifest["verification"]["max_abs_diff"]) == {"torchscript", "onnx"}


def test_artifacts_run_without_fbgemm_or_nasrec(criteo: Any, tmp_path: Path) -> None:
    """A fresh interpreter that cannot import fbgemm_gpu or nasrec loads and runs both artifacts."""
    from nasrec.export import export_bundle
    from nasrec.space import load_space

    arch, space_name = reference_arch("xlarge")
    subnet = train_briefly(arch, criteo, layernorm=True, space=load_space(space_name)).model
    bundle = export_bundle(subnet, dataset=criteo, out_dir=tmp_path / "bundle", zip=False)
    batch = criteo.split("test").batch(0, 64)
    np.save(tmp_path / "dense.npy", batch.dense.numpy())
    np.save(tmp_path / "sparse.npy", batch.sparse.numpy())
    script = """
import sys
sys.modules["fbgemm_gpu"] = None  # any import of it now raises ImportError
sys.modules["nasrec"] = None
import numpy as np, onnxruntime as ort, torch
work, torchscript, onnx_file = sys.argv[1:]
dense, sparse = np.load(work + "/dense.npy"), np.load(work + "/sparse.npy")
ts = torch.jit.load(torchscript)(torch.from_numpy(dense), torch.from_numpy(sparse))
sess = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
np.save(work + "/ts.npy", ts.detach().numpy())
np.save(work + "/onnx.npy", sess.run(None, {"dense": dense, "sparse": sparse})[0])
print("fbgemm loaded:", any(m.startswith("fbgemm_gpu") and sys.modules[m] for m in sys.modules))
"""
    args = [sys.executable, "-c", script, str(tmp_path), str(bundle.torchscript), str(bundle.onnx)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fbgemm loaded: False" in done.stdout
    with torch.no_grad():
        expected = subnet(batch)
    torch.testing.assert_close(torch.from_numpy(np.load(tmp_path / "ts.npy")), expected, atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(
        torch.from_numpy(np.load(tmp_path / "onnx.npy")), expected, atol=ATOL, rtol=RTOL
    )
