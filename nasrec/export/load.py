"""``load_exported``: a bundle directory or ``.zip`` -> an ``ExportedModel`` (an ``nn.Module``).

The model is rebuilt from ``architecture.json`` and ``weights.safetensors`` (not from the TorchScript
file), so it is ordinary PyTorch: inspect it, fine-tune it, or script it again. It needs neither fbgemm
nor the dataset. Every file's sha256 is checked against the manifest first.

Raw records reach every runtime through the bundle's one encoder (``feature_map.json``), which checks
them strictly (unknown feature names and non-numeric dense values are a DataError)::

    model = nasrec.load_exported("model.zip")
    model.predict(records)                                   # probabilities B (float32)
    batch = model.encode(records)                            # dense B x D float32, sparse B x F int64
    torch.jit.load("model/model.pt")(batch.dense, batch.sparse)            # logits B
    onnxruntime.InferenceSession("model/model.onnx").run(
        ["logits"], {"dense": batch.dense.numpy(), "sparse": batch.sparse.numpy()})
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from nasrec.data.schema import Batch, DatasetSchema
from nasrec.errors import DataError, NotFoundError
from nasrec.export.bundle import ARCHITECTURE, FEATURE_MAP, FORMAT, MANIFEST, METRICS, WEIGHTS
from nasrec.export.portable import ModelSpec, PortableEmbeddings, PortableModel, build_portable
from nasrec.space import Architecture

if TYPE_CHECKING:
    from nasrec.data.transform import Missing

__all__ = ["ExportedModel", "load_exported"]


class ExportedModel(PortableModel):
    """An exported network: ``model(dense B x D float32, sparse B x F int64) -> logits B``.

    Also carries what the bundle says about it: ``architecture``, ``spec`` (shapes), ``feature_map``,
    ``schema``, ``metrics``, ``manifest``; ``encode(records)`` turns raw records into inputs (for this
    model, or for the bundle's TorchScript and ONNX files) and ``predict(records)`` returns click
    probabilities. Both check the records strictly by default (see ``encode``).
    """

    def __init__(
        self,
        embeddings: PortableEmbeddings,
        blocks: nn.ModuleList,
        head: nn.Module,
        *,
        architecture: Architecture,
        spec: ModelSpec,
        feature_map: Any,
        schema: DatasetSchema,
        metrics: dict[str, Any],
        manifest: dict[str, Any],
    ) -> None:
        super().__init__(embeddings, blocks, head)
        self.architecture = architecture
        self.spec = spec
        self.feature_map = feature_map
        self.schema = schema
        self.metrics = metrics
        self.manifest = manifest

    def encode(
        self, records: Sequence[Mapping[str, Any]], *, strict: bool = True, missing: Missing = "fill"
    ) -> Batch:
        """Raw records (feature name -> raw value, as in the source data) -> a Batch of model inputs.

        Dense values get their column's transform as recorded at ingest (``feature_map.transforms``:
        log1p, standardize with the training mean and std, quantile buckets as a sparse input, none);
        sparse values (compared as text) their vocabulary index, or 0 / a hash bucket for unseen
        values, exactly as at ingest. Dense values may be
        numbers or numeric text (``"3"``, as read from a TSV or CSV row); None, NaN, ``""`` and an
        absent key mean missing.

        ``strict`` (default): an unknown feature name (a typo, an extra field), a non-numeric dense
        value (``"abc"``) or a non-scalar sparse value raises a DataError naming the feature, the value
        and, for several records, the record's index. ``strict=False`` ignores unknown names and reads
        bad dense values as missing, for callers that knowingly send extra fields. ``missing``: a feature
        absent from a record is filled as at training (``"fill"``, default), filled and reported by a
        ``MissingFeatureWarning`` whose ``counts`` map feature -> records without it (``"warn"``), or
        refused with a DataError (``"raise"``). Details: :mod:`nasrec.data.transform`.
        """
        return self.feature_map.encode(records, strict=strict, missing=missing)

    def predict(
        self, records: Sequence[Mapping[str, Any]], *, strict: bool = True, missing: Missing = "fill"
    ) -> np.ndarray:
        """Click probabilities (float32, one per record) for raw records, checked as by ``encode``."""
        batch = self.encode(records, strict=strict, missing=missing)
        if len(batch) == 0:
            return np.zeros(0, dtype=np.float32)
        with torch.no_grad():
            return torch.sigmoid(self(batch.dense, batch.sparse)).numpy()


def load_exported(path: str | os.PathLike[str], *, verify: bool = True) -> ExportedModel:
    """Load an export bundle (its directory or its ``.zip``) as an ``ExportedModel`` in eval mode.

    ``verify`` checks every file against the manifest's sha256 (DataError on a mismatch or a missing
    file). Raises NotFoundError when ``path`` is not a bundle.
    """
    from nasrec.data.transform import FeatureMap

    with _BundleReader(Path(path)) as bundle:
        manifest = bundle.json(MANIFEST)
        if manifest.get("format") != FORMAT:
            raise DataError(f"{path}: {MANIFEST} is not a nasrec export manifest")
        if verify:
            bundle.verify(manifest)
        arch_json = bundle.json(ARCHITECTURE)
        fmap_json = bundle.json(FEATURE_MAP)
        metrics = bundle.json(METRICS)
        state = bundle.weights()
    arch = Architecture.from_dict(arch_json)
    spec = ModelSpec.from_dict(arch_json.get("model", {}))
    portable = build_portable(arch, spec)
    model = ExportedModel(
        portable.embeddings,
        portable.blocks,
        portable.head,
        architecture=arch,
        spec=spec,
        feature_map=FeatureMap.from_dict(fmap_json),
        schema=DatasetSchema.from_dict(fmap_json["schema"]),
        metrics=metrics,
        manifest=manifest,
    )
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as exc:
        raise DataError(f"{path}: {WEIGHTS} does not fit architecture.json: {exc}") from exc
    return model.eval().requires_grad_(False)


class _BundleReader:
    """Files of a bundle directory or zip (at the zip root or under one folder), read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, str] = {}
        if path.is_dir():
            if not (path / MANIFEST).is_file():
                raise NotFoundError(f"{path} is not an export bundle (no {MANIFEST})")
        elif path.is_file() and zipfile.is_zipfile(path):
            self._zip = zipfile.ZipFile(path)
            names = [n for n in self._zip.namelist() if not n.endswith("/")]
            manifests = [n for n in names if n.rsplit("/", 1)[-1] == MANIFEST]
            if len(manifests) != 1:
                self._zip.close()
                raise NotFoundError(f"{path} is not an export bundle zip (expected one {MANIFEST})")
            prefix = manifests[0][: -len(MANIFEST)]
            self._members = {
                n[len(prefix) :]: n for n in names if n.startswith(prefix) and "/" not in n[len(prefix) :]
            }
        else:
            raise NotFoundError(f"no export bundle at {path}: expected a bundle directory or its .zip")

    def __enter__(self) -> _BundleReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._zip is not None:
            self._zip.close()

    def has(self, name: str) -> bool:
        return name in self._members if self._zip is not None else (self.path / name).is_file()

    def open(self, name: str) -> IO[bytes]:
        if not self.has(name):
            raise DataError(f"{self.path}: the bundle has no {name}")
        if self._zip is not None:
            return self._zip.open(self._members[name])
        return (self.path / name).open("rb")

    def json(self, name: str) -> dict[str, Any]:
        with self.open(name) as fh:
            try:
                return json.load(fh)
            except ValueError as exc:
                raise DataError(f"{self.path}: {name} is not valid JSON: {exc}") from exc

    def weights(self) -> dict[str, torch.Tensor]:
        from safetensors.torch import load, load_file

        if self._zip is None:
            return load_file(str(self.path / WEIGHTS))  # memory-mapped
        with self.open(WEIGHTS) as fh:
            return load(fh.read())

    def verify(self, manifest: dict[str, Any]) -> None:
        for name, entry in manifest.get("files", {}).items():
            digest = hashlib.sha256()
            with self.open(name) as fh:
                for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(chunk)
            if digest.hexdigest() != entry.get("sha256"):
                raise DataError(
                    f"{self.path}: {name} does not match its sha256 in the manifest (corrupt or edited)"
                )
