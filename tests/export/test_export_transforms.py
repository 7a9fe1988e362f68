"""Per-column dense transforms survive export: a CSV with a year-like and a count column is ingested, the
chosen transforms are in the bundle's feature map, and ``predict`` on the raw CSV rows equals the trained
model's output on the ingested rows (Python, and the bundle's encoder feeding ONNX)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

STEPS = dict(steps=3, batch_size=64, eval_rows=64, checkpoint_every=None, embedding_backend="torch")
CASES = {
    "auto": ({}, [("year", "standardize", "auto"), ("votes", "log1p", "auto")]),
    "options": (
        {"year": "buckets:6", "votes": "standardize"},
        [("year", "buckets", "option"), ("votes", "standardize", "option")],
    ),
}


def write_films(path: Path, rows: int = 500, seed: int = 0) -> list[dict[str, str]]:
    """Films: release year 1922..1998 (10% missing), votes (a heavy-tailed count, 5% missing), genre, a
    click that depends on all three."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(rows):
        year = int(rng.integers(1922, 1999))
        votes = int(rng.lognormal(3, 2))
        genre = str(rng.choice(["drama", "comedy", "noir", "western", "sf"]))
        logit = (year - 1960) / 20 + np.log1p(votes) / 3 - 1 + (genre == "noir")
        out.append(
            {
                "click": str(int(rng.random() < 1 / (1 + np.exp(-logit)))),
                "year": "" if rng.random() < 0.1 else str(year),
                "votes": "" if rng.random() < 0.05 else str(votes),
                "genre": genre,
            }
        )
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["click", "year", "votes", "genre"])
        writer.writeheader()
        writer.writerows(out)
    return out


@pytest.fixture(scope="module", params=sorted(CASES))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(case, dataset, raw rows in storage order, trained SubNet, bundle)."""
    from nasrec.data import FormatOptions, ingest
    from nasrec.data.split import stratified_split
    from nasrec.export import export_bundle
    from nasrec.space import load_space, sample_architecture
    from nasrec.train import TrainConfig, train_subnet

    case = request.param
    root = tmp_path_factory.mktemp(f"films-{case}")
    rows = write_films(root / "films.csv")
    options = FormatOptions(label="click", dense=("year", "votes"), sparse=("genre",))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NASREC_HOME", str(root / "home"))
        dataset = ingest(
            "csv", [root / "films.csv"], name="films", options=options, dense_transforms=CASES[case][0]
        )
    labels = np.array([int(r["click"]) for r in rows], dtype=np.uint8)
    order = np.concatenate(stratified_split(labels, (8, 1, 1), dataset.meta["split"]["seed"]))
    space = load_space("nasrec_small")
    arch = sample_architecture(space, np.random.default_rng(0))
    model = train_subnet(arch, dataset=dataset, model=space.model, config=TrainConfig(**STEPS)).model
    bundle = export_bundle(model, dataset=dataset, out_dir=root / "bundle", zip=False)
    return case, dataset, [rows[i] for i in order], model, bundle


def test_the_feature_map_records_the_chosen_transforms(exported: Any) -> None:
    case, dataset, _, _, bundle = exported
    fmap = json.loads(bundle.feature_map.read_text())
    chosen = [(t["column"], t["transform"], t["chosen"]) for t in fmap["dense_transforms"]]
    assert chosen == CASES[case][1]
    assert fmap["dense_transforms"] == dataset.meta["dense_transforms"]
    assert fmap["schema"] == dataset.schema.to_dict()
    manifest = json.loads(bundle.manifest.read_text())
    assert manifest["inputs"]["dense"]["shape"] == ["batch", dataset.schema.num_dense]
    assert manifest["inputs"]["sparse"]["shape"] == ["batch", dataset.schema.num_sparse]
    if case == "auto":
        year = fmap["dense_transforms"][0]
        assert 1922 < year["mean"] < 1998 and 15 < year["std"] < 30
    else:
        assert dataset.schema.dense == ("votes",) and [f.name for f in dataset.schema.sparse] == [
            "genre",
            "year",
        ]


def test_predict_on_raw_rows_equals_the_trained_model_on_the_ingested_rows(exported: Any) -> None:
    import onnxruntime as ort

    from nasrec.data.schema import Batch
    from nasrec.data.transform import FeatureMap
    from nasrec.export import load_exported

    _, dataset, rows, model, bundle = exported
    batch = Batch.from_numpy(np.array(dataset.dense), np.array(dataset.sparse), np.array(dataset.labels))
    model.eval()
    with torch.no_grad():
        logits = model(batch.dense, batch.sparse).numpy()
    assert logits.shape == (len(rows),) and logits.std() > 1e-3  # the inputs matter
    expected = 1 / (1 + np.exp(-logits.astype(np.float64)))

    exported_model = load_exported(bundle.path)
    got = exported_model.predict(rows)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # The logits too (probabilities saturate): the raw rows encoded by the bundle are the ingested rows.
    encoded = exported_model.encode(rows)
    np.testing.assert_array_equal(encoded.dense.numpy(), np.asarray(dataset.dense))
    np.testing.assert_array_equal(encoded.sparse.numpy(), np.asarray(dataset.sparse))
    with torch.no_grad():
        np.testing.assert_allclose(
            exported_model(encoded.dense, encoded.sparse).numpy(), logits, atol=1e-4, rtol=1e-4
        )
    # Numbers instead of text, and missing values left out, are the same inputs.
    as_json = [
        {k: (float(v) if k in ("year", "votes") else v) for k, v in r.items() if v != ""} for r in rows
    ]
    np.testing.assert_array_equal(exported_model.predict(as_json), got)

    # A serving process with only feature_map.json and model.onnx.
    fmap = FeatureMap.from_dict(json.loads(bundle.feature_map.read_text()))
    inputs = fmap.encode(rows)
    session = ort.InferenceSession(str(bundle.onnx), providers=["CPUExecutionProvider"])
    onnx_logits = session.run(["logits"], {"dense": inputs.dense.numpy(), "sparse": inputs.sparse.numpy()})[0]
    np.testing.assert_allclose(onnx_logits, logits, atol=1e-4, rtol=1e-4)
