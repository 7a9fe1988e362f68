"""``export_bundle``: a trained SubNet -> a self-contained, verified bundle directory (and ``.zip``).

    <out_dir>/
        architecture.json    the genotype (loadable by ``nasrec train``), canonical hash, model shapes
        weights.safetensors  every weight in PortableModel naming; tables concatenated in field order
        model.pt             TorchScript (``torch.jit.load``; core aten ops only, no fbgemm, no nasrec)
        model.onnx           ONNX (opset 17; 18 from the fallback exporter), inputs ``dense`` / ``sparse``,
                             output ``logits``, batch axis dynamic
        feature_map.json     schema, vocabularies, dense transforms: raw records -> model inputs
        metrics.json         what the caller passed (val / test log loss, AUC, FLOPs, params, ...)
        manifest.json        versions, creation time, inputs / output, verification, sha256 of every file
    <out_dir>.zip            the same files under ``<name>/`` (unless ``zip=False``)

Atomic and idempotent: everything is built and verified in a hidden temporary directory next to
``out_dir`` and renamed into place; exporting again replaces an earlier bundle in one rename. A failure
at any point (including the verification) leaves nothing behind and an earlier bundle untouched.
Verification: the written TorchScript and ONNX files are loaded back and run on validation rows; they
must reproduce the SubNet's logits (and be finite) or the export fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import shutil
import uuid
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nasrec.console import StepProgress
from nasrec.errors import ConfigError, ConflictError, DataError
from nasrec.export.onnx_export import export_onnx, onnx_session, run_onnx
from nasrec.export.portable import ModelSpec, PortableModel, portable_from_subnet, reference_logits

__all__ = [
    "BUNDLE_FILES",
    "EXPORT_STEPS",
    "FORMAT",
    "FORMAT_VERSION",
    "ExportBundle",
    "export_bundle",
    "sha256_file",
]

FORMAT = "nasrec-export"
FORMAT_VERSION = 1
ARCHITECTURE = "architecture.json"
WEIGHTS = "weights.safetensors"
TORCHSCRIPT = "model.pt"
ONNX = "model.onnx"
FEATURE_MAP = "feature_map.json"
METRICS = "metrics.json"
MANIFEST = "manifest.json"
BUNDLE_FILES = (ARCHITECTURE, WEIGHTS, TORCHSCRIPT, ONNX, FEATURE_MAP, METRICS, MANIFEST)

#: Rows of the validation split on which the written artifacts are checked against the SubNet.
VERIFY_ROWS = 256
#: Allowed |artifact - SubNet| per logit: atol + rtol * |SubNet| (float32 reassociation is ~1e-6) ...
VERIFY_ATOL = 1e-4
VERIFY_RTOL = 1e-4
#: ... plus this multiple of the SubNet's own float32 rounding error (see ``_verify``).
VERIFY_ROUNDING = 4.0
#: Share of rows a fake-quantised model may get wrong: where an activation lies within float32 rounding
#: of a quantisation boundary, two runtimes' summation orders round it to neighbouring levels.
VERIFY_FLIP_SHARE = 0.05


@dataclass(frozen=True)
class ExportBundle:
    """Where an export went: the bundle directory, its files, and the zip (None with ``zip=False``)."""

    path: Path
    zip_path: Path | None

    @property
    def architecture(self) -> Path:
        return self.path / ARCHITECTURE

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS

    @property
    def torchscript(self) -> Path:
        return self.path / TORCHSCRIPT

    @property
    def onnx(self) -> Path:
        return self.path / ONNX

    @property
    def feature_map(self) -> Path:
        return self.path / FEATURE_MAP

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def manifest(self) -> Path:
        return self.path / MANIFEST

    def files(self) -> list[Path]:
        """Every file of the bundle directory, sorted by name."""
        return sorted(p for p in self.path.iterdir() if p.is_file())


def export_bundle(
    subnet: Any,
    *,
    dataset: Any,
    out_dir: str | os.PathLike[str],
    metrics: Mapping[str, Any] | None = None,
    zip: bool = True,
    progress: StepProgress | None = None,
) -> ExportBundle:
    """Export a trained ``SubNet`` (any embedding backend, any device) as a bundle at ``out_dir``.

    ``dataset`` (a ``Dataset``, or a name / path) must be the one the SubNet was trained on: its
    vocabularies become the feature map and its validation rows verify the artifacts. ``metrics``: any
    JSON-able numbers / strings (numpy and torch scalars are converted; non-finite floats become null).
    Raises ``ConfigError`` for a schema mismatch or unusable metrics, ``ConflictError`` when ``out_dir``
    (or the zip path) is something other than an earlier bundle, ``DataError`` when the verification fails.

    ``progress(done, total, {"step": name})``, if given, is called as each step starts (``done`` steps
    finished out of ``total``: :data:`EXPORT_STEPS`, without ``zip`` when not zipping) and once at the end
    with ``done == total`` and step ``"done"``.
    """
    from nasrec.data import Dataset

    ds = Dataset.open(dataset) if isinstance(dataset, str | os.PathLike) else dataset
    _check_schema(subnet, ds)
    clean_metrics = _json_metrics(metrics or {})
    out = Path(out_dir).absolute()
    zip_path = out.with_name(out.name + ".zip") if zip else None
    _check_target(out, zip_path)
    created = _make_parents(out.parent)
    tag = uuid.uuid4().hex[:8]
    tmp = out.with_name(f".{out.name}.tmp-{tag}")
    tmp_zip = out.with_name(f".{out.name}.zip.tmp-{tag}")
    try:
        tmp.mkdir()
        steps = _Steps(progress, zip=zip_path is not None)
        _write_bundle(tmp, subnet, ds, clean_metrics, steps)
        if zip_path is not None:
            steps.start("zip")
            write_zip(tmp, tmp_zip, prefix=out.name)
        _publish(tmp, out, tmp_zip if zip_path is not None else None, zip_path)
        steps.start("done")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp_zip.unlink(missing_ok=True)
        for parent in created:  # deepest first; only the directories this call made, if still empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
    return ExportBundle(out, zip_path)


#: the steps ``export_bundle`` reports, in order (``zip`` only when zipping)
EXPORT_STEPS = ("weights", "torchscript", "onnx", "verify", "manifest", "zip")


class _Steps:
    """Reports ``progress(finished, total, {"step": name})`` as each of :data:`EXPORT_STEPS` starts."""

    def __init__(self, progress: StepProgress | None, *, zip: bool) -> None:
        self._progress = progress
        self._steps = EXPORT_STEPS if zip else tuple(s for s in EXPORT_STEPS if s != "zip")
        self._done = 0

    def start(self, step: str) -> None:
        if self._progress is None:
            return
        self._done = len(self._steps) if step == "done" else self._steps.index(step)
        self._progress(self._done, len(self._steps), {"step": step})


def _make_parents(path: Path) -> list[Path]:
    """``mkdir -p path``; returns the directories it created, deepest first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
    return missing


# ---- writing ----------------------------------------------------------------------------------------


def _write_bundle(root: Path, subnet: Any, dataset: Any, metrics: dict[str, Any], steps: _Steps) -> None:
    from safetensors.torch import save_file

    import nasrec

    steps.start("weights")
    model, spec = portable_from_subnet(subnet)
    arch = subnet.arch
    _write_json(
        root / ARCHITECTURE,
        {**arch.to_dict(), "canonical_hash": arch.canonical_hash(), "model": spec.to_dict()},
    )
    save_file(
        dict(model.state_dict()),
        str(root / WEIGHTS),
        metadata={"nasrec": json.dumps(_weights_note(spec), sort_keys=True)},  # one key: stable bytes
    )
    steps.start("torchscript")
    with _torchscript_on_purpose():
        torch.jit.save(torch.jit.script(model), str(root / TORCHSCRIPT))
    steps.start("onnx")
    dense, sparse, rows = _verification_rows(dataset)
    onnx_info = export_onnx(model, root / ONNX, (dense[:2], sparse[:2]))
    _write_json(root / FEATURE_MAP, feature_map_dict(dataset))
    _write_json(root / METRICS, metrics)
    steps.start("verify")
    checks = _verify(root, subnet, model, dense, sparse)
    steps.start("manifest")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nasrec_version": nasrec.__version__,
        "torch_version": torch.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": getattr(dataset, "name", None),
        "canonical_hash": arch.canonical_hash(),
        "inputs": _signature(spec),
        "output": {
            "name": "logits",
            "dtype": "float32",
            "shape": ["batch"],
            "probability": "sigmoid(logits)",
        },
        "onnx": {"opset": onnx_info.opset, "exporter": onnx_info.exporter},
        "verification": {"rows": rows, "split": "val", **checks},
        "files": {
            p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(root.iterdir())
            if p.is_file()
        },
    }
    _write_json(root / MANIFEST, manifest)


def _weights_note(spec: ModelSpec) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "embeddings.weight": "all tables concatenated in field order; field f starts at row offsets[f]",
        "offsets": np.concatenate([[0], np.cumsum(spec.table_rows)[:-1]]).tolist(),
    }


def feature_map_dict(dataset: Any) -> dict[str, Any]:
    """``feature_map.json``: the dataset's schema, vocabularies and per-column dense transforms (with their
    parameters), so that ``predict`` encodes raw records as ingest did."""
    fmap = dataset.feature_map()
    rows = list(fmap.table_rows)
    if rows != list(dataset.schema.table_rows):
        raise DataError(
            f"dataset {dataset.name!r}: vocabulary sizes {rows} disagree with the schema's table rows "
            f"{list(dataset.schema.table_rows)}; re-ingest the dataset"
        )
    return {"dataset": dataset.name, "schema": dataset.schema.to_dict(), **fmap.to_dict()}


def _signature(spec: ModelSpec) -> dict[str, Any]:
    return {
        "dense": {"dtype": "float32", "shape": ["batch", spec.num_dense], "transform": "feature_map.json"},
        "sparse": {
            "dtype": "int64",
            "shape": ["batch", len(spec.table_rows)],
            "range": "0 <= sparse[:, f] < table_rows[f] (architecture.json model.table_rows)",
        },
    }


def write_zip(root: Path, zip_path: Path, *, prefix: str) -> None:
    """Zip every file of ``root`` under ``prefix/`` (binaries stored, JSON deflated)."""
    with zipfile.ZipFile(zip_path, "w") as zf:
        for p in sorted(root.iterdir()):
            if p.is_file():
                method = zipfile.ZIP_DEFLATED if p.suffix == ".json" else zipfile.ZIP_STORED
                zf.write(p, f"{prefix}/{p.name}", compress_type=method)


def _publish(tmp: Path, out: Path, tmp_zip: Path | None, zip_path: Path | None) -> None:
    """Rename the finished bundle (and zip) into place, replacing an earlier bundle."""
    trash = None
    if out.exists():
        trash = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        out.rename(trash)
    try:
        tmp.rename(out)
        if tmp_zip is not None and zip_path is not None:
            os.replace(tmp_zip, zip_path)
    except BaseException:
        if out.exists() and not tmp.exists():
            out.rename(tmp)  # the caller removes tmp
        if trash is not None:
            trash.rename(out)
        raise
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


@contextlib.contextmanager
def _torchscript_on_purpose() -> Iterator[None]:
    """Silence torch 2.13's deprecation notices for torch.jit: the bundle promises a TorchScript file."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        yield


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---- verification -----------------------------------------------------------------------------------


def _verification_rows(dataset: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Up to VERIFY_ROWS validation rows (train rows if the split is empty; at least 2 for the tracer)."""
    view = dataset.split("val")
    if len(view) < 2:
        view = dataset.split("train")
    rows = min(VERIFY_ROWS, len(view))
    if rows < 2:
        raise DataError(f"dataset {dataset.name!r} has fewer than 2 rows to verify the export on")
    batch = view.batch(0, rows)
    return batch.dense, batch.sparse, rows


def _verify(
    root: Path, subnet: Any, model: PortableModel, dense: torch.Tensor, sparse: torch.Tensor
) -> dict[str, Any]:
    """Run the written artifacts and the SubNet on the same rows; raise DataError unless they agree.

    Allowed difference per logit: ``VERIFY_ATOL + VERIFY_RTOL * |subnet|``, widened by the SubNet's own
    float32 rounding error (its worst distance from a float64 evaluation, times ``VERIFY_ROUNDING``),
    which dominates in networks without LayerNorm. An export bug shows up as differences of order 1.
    A fake-quantised SubNet (co-design knobs) may miss on ``VERIFY_FLIP_SHARE`` of the rows: there a
    value within rounding of a level boundary went to the other level (an export bug misses on all).
    """
    expected = _subnet_logits(subnet, dense, sparse)
    if not np.isfinite(expected).all():
        raise DataError(
            "the model's logits are not finite on validation rows (a diverged run?); nothing was exported"
        )
    rounding = float(np.abs(expected - reference_logits(model, dense, sparse).numpy()).max())
    allowed = VERIFY_ATOL + VERIFY_RTOL * np.abs(expected) + VERIFY_ROUNDING * rounding
    with _torchscript_on_purpose():
        scripted = torch.jit.load(str(root / TORCHSCRIPT), map_location="cpu")
    with torch.no_grad():
        outputs = {
            "torchscript": scripted(dense, sparse).numpy(),
            "onnx": run_onnx(onnx_session(root / ONNX), dense, sparse),
        }
    diffs = {}
    flips = int(VERIFY_FLIP_SHARE * len(expected)) if getattr(subnet, "quantized", False) else 0
    for name, got in outputs.items():
        err = np.abs(got.astype(np.float64) - expected) if got.shape == expected.shape else np.inf
        diffs[name] = float(np.max(err))
        if np.count_nonzero(~(err <= allowed)) > flips:
            raise DataError(
                f"the exported {name} model does not reproduce the SubNet (max |diff| {diffs[name]:.3g} on "
                f"{len(expected)} rows); nothing was exported"
            )
    return {"max_abs_diff": diffs, "subnet_vs_float64": rounding}


def _subnet_logits(subnet: Any, dense: torch.Tensor, sparse: torch.Tensor) -> np.ndarray:
    device = next((p.device for p in subnet.parameters()), torch.device("cpu"))
    was_training = subnet.training
    subnet.eval()
    try:
        with torch.no_grad():
            out = subnet(dense.to(device), sparse.to(device))
    finally:
        subnet.train(was_training)
    return out.float().cpu().numpy().astype(np.float64)


# ---- checks -----------------------------------------------------------------------------------------


def _check_schema(subnet: Any, dataset: Any) -> None:
    for attr in ("arch", "schema", "embeddings", "blocks", "head"):
        if not hasattr(subnet, attr):
            raise ConfigError(f"export_bundle takes a nasrec SubNet, got {type(subnet).__name__}")
    if subnet.schema != dataset.schema:
        raise ConfigError(
            f"the SubNet was built for another schema than dataset {dataset.name!r} "
            f"({subnet.schema.num_dense} dense / {list(subnet.schema.table_rows)} table rows vs "
            f"{dataset.schema.num_dense} / {list(dataset.schema.table_rows)}); "
            "pass the dataset it was trained on"
        )


def _check_target(out: Path, zip_path: Path | None) -> None:
    if out.exists() and not _is_bundle_or_empty(out):
        raise ConflictError(
            f"{out} exists and is not an export bundle; choose another --out or remove it first"
        )
    if zip_path is not None and zip_path.exists() and not zip_path.is_file():
        raise ConflictError(f"{zip_path} exists and is not a file; choose another --out or pass --no-zip")


def _is_bundle_or_empty(path: Path) -> bool:
    if not path.is_dir():
        return False
    if not any(path.iterdir()):
        return True
    try:
        return json.loads((path / MANIFEST).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _json_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as strict JSON: scalars via ``.item()``, non-finite floats -> None; ConfigError otherwise."""

    def clean(value: Any, key: str) -> Any:
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, Mapping):
            return {str(k): clean(v, f"{key}.{k}") for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v, f"{key}[{i}]") for i, v in enumerate(value)]
        raise ConfigError(f"metric {key!r}: {type(value).__name__} is not JSON-able; pass numbers or strings")

    return {str(k): clean(v, str(k)) for k, v in metrics.items()}
