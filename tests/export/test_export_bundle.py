"""Bundle contents, zip, load_exported round trip, feature map, atomicity and refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from .conftest import criteo_records, raw_rows_in_storage_order, reference_arch, train_briefly

METRICS = {"val_logloss": np.float64(0.4712), "val_auc": 0.7, "test_auc": float("nan"), "flops": 12345}


@pytest.fixture(scope="module")
def trained(criteo: Any) -> Any:
    from nasrec.space import load_space

    arch, space = reference_arch("autoctr")
    return train_briefly(arch, criteo, layernorm=True, space=load_space(space)).model


@pytest.fixture(scope="module")
def bundle(trained: Any, criteo: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from nasrec.export import export_bundle

    out = tmp_path_factory.mktemp("exports") / "autoctr"
    return export_bundle(trained, dataset=criteo, out_dir=out, metrics=METRICS)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def test_bundle_files_manifest_and_zip(bundle: Any, trained: Any, criteo: Any) -> None:
    import nasrec
    from nasrec.export.bundle import BUNDLE_FILES
    from nasrec.space import Architecture

    assert listing(bundle.path) == sorted(BUNDLE_FILES)
    assert listing(bundle.path.parent) == ["autoctr", "autoctr.zip"]  # no temporary leftovers
    manifest = json.loads(bundle.manifest.read_text())
    assert manifest["format"] == "nasrec-export" and manifest["nasrec_version"] == nasrec.__version__
    assert dt.datetime.fromisoformat(manifest["created"]).tzinfo is not None
    assert manifest["dataset"] == "criteo_8k" and manifest["onnx"]["opset"] == 17
    assert manifest["inputs"]["dense"]["shape"] == ["batch", 13]
    assert manifest["inputs"]["sparse"]["shape"] == ["batch", 26]
    assert sorted(manifest["files"]) == sorted(set(BUNDLE_FILES) - {"manifest.json"})
    for name, entry in manifest["files"].items():
        data = (bundle.path / name).read_bytes()
        assert entry == {"sha256": sha256(data), "bytes": len(data)}

    with zipfile.ZipFile(bundle.zip_path) as zf:
        assert sorted(zf.namelist()) == sorted(f"autoctr/{name}" for name in BUNDLE_FILES)
        for name in BUNDLE_FILES:
            assert zf.read(f"autoctr/{name}") == (bundle.path / name).read_bytes()

    arch_json = json.loads(bundle.architecture.read_text())
    assert Architecture.from_dict(arch_json) == trained.arch
    assert arch_json["canonical_hash"] == trained.arch.canonical_hash() == manifest["canonical_hash"]
    assert arch_json["model"]["table_rows"] == list(criteo.schema.table_rows)
    assert json.loads(bundle.metrics.read_text()) == {
        "val_logloss": 0.4712, "val_auc": 0.7, "test_auc": None, "flops": 12345,
    }  # fmt: skip


def test_weights_hold_the_trained_tables(bundle: Any, trained: Any) -> None:
    from safetensors.torch import load_file

    weights = load_file(str(bundle.weights))
    torch.testing.assert_close(weights["embeddings.weight"], torch.cat(trained.embeddings.get_weights()))
    dense_state = {k: v for k, v in trained.state_dict().items() if k.startswith(("blocks.", "head."))}
    assert set(weights) == {"embeddings.weight", *dense_state}
    for key, value in dense_state.items():
        assert torch.equal(weights[key], value), key


@pytest.mark.parametrize("source", ["dir", "zip"])
def test_load_exported_round_trip(source: str, bundle: Any, trained: Any, criteo: Any) -> None:
    import nasrec
    from nasrec.export import ExportedModel, load_exported

    assert nasrec.load_exported is load_exported
    model = nasrec.load_exported(bundle.path if source == "dir" else bundle.zip_path)
    assert isinstance(model, ExportedModel) and isinstance(model, torch.nn.Module) and not model.training
    assert model.architecture == trained.arch and model.schema == criteo.schema
    assert model.metrics["val_auc"] == 0.7 and model.manifest["dataset"] == "criteo_8k"
    batch = criteo.split("test").batch(0, 300)
    with torch.no_grad():
        torch.testing.assert_close(model(batch.dense, batch.sparse), trained(batch), atol=1e-5, rtol=1e-5)

    # Raw text rows -> probabilities, through the bundle's feature map.
    lines = raw_rows_in_storage_order(criteo)[-len(criteo.split("test")) :][:50]
    probs = model.predict(criteo_records(criteo.schema, lines))
    with torch.no_grad():
        expected = torch.sigmoid(trained(criteo.split("test").batch(0, 50))).numpy()
    assert probs.shape == (50,) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, expected, atol=1e-6, rtol=1e-5)


def test_feature_map_reproduces_the_stored_rows(bundle: Any, criteo: Any) -> None:
    """Every raw Criteo row (train, dev, test; unseen values included) encodes to its stored arrays."""
    from nasrec.data.transform import DENSE_TRANSFORM, FeatureMap

    data = json.loads(bundle.feature_map.read_text())
    assert data["dense_transform"] == DENSE_TRANSFORM and data["schema"] == criteo.schema.to_dict()
    fmap = FeatureMap.from_dict(data)
    encoded = fmap.encode(criteo_records(criteo.schema, raw_rows_in_storage_order(criteo)))
    assert np.array_equal(encoded.dense.numpy(), criteo.dense)
    assert np.array_equal(encoded.sparse.numpy(), criteo.sparse)
    assert np.array_equal(encoded.labels.numpy(), criteo.labels)
    assert (criteo.sparse[criteo.meta["ranges"]["test"][0] :] == 0).any()  # unseen / missing values occur


def test_reexport_replaces_the_bundle(bundle: Any, trained: Any, criteo: Any) -> None:
    from nasrec.export import export_bundle

    before = bundle.weights.read_bytes()
    again = export_bundle(trained, dataset=criteo, out_dir=bundle.path, metrics={"val_auc": 0.8})
    assert again.path == bundle.path and again.zip_path == bundle.zip_path
    assert listing(bundle.path.parent) == ["autoctr", "autoctr.zip"]
    assert bundle.weights.read_bytes() == before  # deterministic weights file
    assert json.loads(bundle.metrics.read_text()) == {"val_auc": 0.8}
    export_bundle(trained, dataset=criteo, out_dir=bundle.path, metrics=METRICS)  # restore for other tests


def broken_subnet(criteo: Any) -> Any:
    """A SubNet whose logits are NaN: export must fail at its verification, after writing files."""
    from nasrec.nets.subnet import SubNet
    from nasrec.space.model_config import ModelConfig

    arch, _ = reference_arch("autoctr")
    subnet = SubNet(arch, criteo.schema, ModelConfig(), embedding_backend="torch", device="cpu")
    with torch.no_grad():
        subnet.head.linear.weight.fill_(float("nan"))
    return subnet


def test_failed_export_leaves_nothing_behind(criteo: Any, tmp_path: Path) -> None:
    from nasrec.errors import DataError
    from nasrec.export import export_bundle

    with pytest.raises(DataError, match="not finite"):
        export_bundle(broken_subnet(criteo), dataset=criteo, out_dir=tmp_path / "out" / "deep" / "model")
    assert listing(tmp_path) == []  # no bundle, zip, temporary files, nor the parent directories it made


def test_failed_reexport_keeps_the_earlier_bundle(bundle: Any, criteo: Any, tmp_path: Path) -> None:
    from nasrec.errors import DataError
    from nasrec.export import export_bundle

    earlier = tmp_path / "autoctr"
    shutil.copytree(bundle.path, earlier)
    shutil.copy(bundle.zip_path, tmp_path / "autoctr.zip")
    snapshot = {p.name: p.read_bytes() for p in earlier.iterdir()}
    zip_bytes = (tmp_path / "autoctr.zip").read_bytes()
    with pytest.raises(DataError):
        export_bundle(broken_subnet(criteo), dataset=criteo, out_dir=earlier)
    assert listing(tmp_path) == ["autoctr", "autoctr.zip"]
    assert {p.name: p.read_bytes() for p in earlier.iterdir()} == snapshot
    assert (tmp_path / "autoctr.zip").read_bytes() == zip_bytes


def test_refusals_write_nothing(trained: Any, criteo: Any, tmp_path: Path) -> None:
    from nasrec.data.schema import DatasetSchema
    from nasrec.errors import ConfigError, ConflictError
    from nasrec.export import export_bundle
    from nasrec.nets.subnet import SubNet

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ConflictError, match="not an export bundle"):
        export_bundle(trained, dataset=criteo, out_dir=other)
    assert listing(other) == ["keep.txt"]

    (tmp_path / "model.zip").mkdir()
    with pytest.raises(ConflictError, match="not a file"):
        export_bundle(trained, dataset=criteo, out_dir=tmp_path / "model")

    with pytest.raises(ConfigError, match="not JSON-able"):
        export_bundle(trained, dataset=criteo, out_dir=tmp_path / "m1", metrics={"auc": object()})

    wrong = SubNet(trained.arch, DatasetSchema.of_shape(13, [7] * 26), trained.model, device="cpu")
    with pytest.raises(ConfigError, match="another schema"):
        export_bundle(wrong, dataset=criteo, out_dir=tmp_path / "m2")
    assert listing(tmp_path) == ["model.zip", "notes"]


def test_corrupt_or_missing_bundles_are_refused(bundle: Any, tmp_path: Path) -> None:
    from nasrec.errors import DataError, NotFoundError
    from nasrec.export import load_exported

    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    weights = bytearray((copy / "weights.safetensors").read_bytes())
    weights[-1] ^= 0xFF
    (copy / "weights.safetensors").write_bytes(bytes(weights))
    with pytest.raises(DataError, match="weights.safetensors does not match its sha256"):
        load_exported(copy)
    (copy / "model.onnx").unlink()
    with pytest.raises(DataError, match="model.onnx"):
        load_exported(copy, verify=True)
    with pytest.raises(NotFoundError):
        load_exported(tmp_path / "nothing-here")
    with pytest.raises(NotFoundError):
        load_exported(tmp_path)


def test_import_nasrec_stays_light() -> None:
    code = (
        "import sys, nasrec, nasrec.export, nasrec.export.cli\n"
        "assert 'torch' not in sys.modules, 'import nasrec loaded torch'\n"
        "assert callable(nasrec.load_exported) and 'torch' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
