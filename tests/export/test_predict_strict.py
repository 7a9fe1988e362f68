"""Exported models check raw records strictly on every path: Python ``predict``, and the bundle's encoder
feeding the TorchScript file and the ONNX file. Unknown feature names and non-numeric dense values raise
a DataError naming the feature (and the record); numeric text, None / NaN / "" and absent keys are read
as at ingest; ``strict=False`` and ``missing=`` are the opt-outs / reports."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from .conftest import criteo_records, raw_rows_in_storage_order, reference_arch, train_briefly

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")

PATHS = ("python", "torchscript", "onnx")


@pytest.fixture(scope="module")
def trained(criteo: Any) -> Any:
    from nasrec.space import load_space

    arch, space = reference_arch("autoctr")
    return train_briefly(arch, criteo, layernorm=True, space=load_space(space)).model


@pytest.fixture(scope="module")
def bundle(trained: Any, criteo: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from nasrec.export import export_bundle

    out = tmp_path_factory.mktemp("strict") / "autoctr"
    return export_bundle(trained, dataset=criteo, out_dir=out, zip=False)


@pytest.fixture(scope="module")
def runners(bundle: Any) -> dict[str, Callable[..., np.ndarray]]:
    """Raw records -> probabilities, one way per runtime a bundle ships.

    python:      ``load_exported(path).predict(records)``
    torchscript: ``load_exported(path).encode(records)`` -> ``torch.jit.load(model.pt)``
    onnx:        ``FeatureMap.from_dict(feature_map.json).encode(records)`` -> onnxruntime (the encoder
                 read straight from the bundle's file, as a serving process without the weights would)
    """
    import onnxruntime as ort

    from nasrec.data.transform import FeatureMap
    from nasrec.export import load_exported

    model = load_exported(bundle.path)
    scripted = torch.jit.load(str(bundle.torchscript))
    session = ort.InferenceSession(str(bundle.onnx), providers=["CPUExecutionProvider"])
    fmap = FeatureMap.from_dict(json.loads(bundle.feature_map.read_text()))

    def torchscript(records: list[dict[str, Any]], **kw: Any) -> np.ndarray:
        batch = model.encode(records, **kw)
        with torch.no_grad():
            return torch.sigmoid(scripted(batch.dense, batch.sparse)).numpy()

    def onnx(records: list[dict[str, Any]], **kw: Any) -> np.ndarray:
        batch = fmap.encode(records, **kw)
        inputs = {"dense": batch.dense.numpy(), "sparse": batch.sparse.numpy()}
        logits = session.run(["logits"], inputs)[0]
        return (1 / (1 + np.exp(-logits.astype(np.float64)))).astype(np.float32)

    return {"python": model.predict, "torchscript": torchscript, "onnx": onnx}


@pytest.fixture(scope="module")
def rows(criteo: Any) -> list[dict[str, str]]:
    """The first 40 raw test rows as records of TSV text (label, I1..I13, C1..C26; "" = missing)."""
    lines = raw_rows_in_storage_order(criteo)[-len(criteo.split("test")) :][:40]
    return criteo_records(criteo.schema, lines)


def as_json(record: dict[str, str], dense: tuple[str, ...]) -> dict[str, Any]:
    """The record as a JSON client would send it: dense values as numbers, missing values left out."""
    return {k: (float(v) if k in dense else v) for k, v in record.items() if v != ""}


@pytest.mark.parametrize("path", PATHS)
def test_every_path_predicts_raw_rows_like_the_subnet(
    path: str, runners: Any, rows: Any, trained: Any, criteo: Any
) -> None:
    with torch.no_grad():
        expected = torch.sigmoid(trained(criteo.split("test").batch(0, len(rows)))).numpy()
    got = runners[path](rows)
    assert got.shape == (len(rows),) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # The same rows as numbers, with missing values left out, are the same inputs.
    np.testing.assert_array_equal(runners[path]([as_json(r, criteo.schema.dense) for r in rows]), got)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"I14": "3"},
            r"^record 7: unknown feature 'I14' \(did you mean 'I\d'\?\); known names: label, I1, I2,",
        ),
        ({"c3": "68fd1e64"}, r"^record 7: unknown feature 'c3' \(did you mean 'C3'\?\)"),
        ({"I2": "abc"}, r"^record 7, feature 'I2': expected a number, got 'abc'$"),
        ({"I5": "1_000"}, r"^record 7, feature 'I5': expected a number, got '1_000'$"),
        ({"I5": [1.0]}, r"^record 7, feature 'I5': expected a number, got \[1\.0\]$"),
        ({"C4": {"x": 1}}, r"^record 7, feature 'C4': expected text or a number, got \{'x': 1\}$"),
    ],
    ids=["unknown", "typo", "text-dense", "not-a-number", "list-dense", "dict-sparse"],
)
def test_bad_records_raise_on_every_path(
    path: str, change: dict[str, Any], message: str, runners: Any, rows: Any
) -> None:
    from nasrec.errors import DataError

    records = [dict(r) for r in rows]
    records[7].update(change)
    with pytest.raises(DataError, match=message) as info:
        runners[path](records)
    assert "\n" not in str(info.value)  # one line for the CLI and the API
    with pytest.raises(DataError, match=message.replace("record 7, ", "").replace("record 7: ", "")):
        runners[path](records[7:8])  # one record: no index


@pytest.mark.parametrize("path", PATHS)
def test_strict_false_ignores_extra_fields_and_reads_bad_dense_values_as_missing(
    path: str, runners: Any, rows: Any
) -> None:
    from nasrec.errors import DataError

    extra = [{**r, "request_id": str(i), "I3": "n/a?" if i == 2 else r["I3"]} for i, r in enumerate(rows)]
    with pytest.raises(DataError, match="unknown feature 'request_id'.*pass strict=False"):
        runners[path](extra)
    expected = runners[path]([{**r, "I3": "" if i == 2 else r["I3"]} for i, r in enumerate(rows)])
    np.testing.assert_array_equal(runners[path](extra, strict=False), expected)


def test_dense_values_numbers_numeric_text_and_missing(bundle: Any) -> None:
    from nasrec.data.transform import dense_transform
    from nasrec.export import load_exported

    model = load_exported(bundle.path)
    numbers = [3, 3.0, np.float32(3), np.int64(3), "3", " 3 ", "3.0", "+3", "3e0", "0.3E1", True]
    expected = dense_transform(np.array([3.0] * (len(numbers) - 1) + [1.0]))
    got = model.encode([{"I1": v} for v in numbers]).dense.numpy()[:, 0]
    np.testing.assert_array_equal(got, expected)
    # Missing (absent, None, NaN, "", the CSV reader's null markers) and non-finite values become 0,
    # as at ingest; so do negative counts (log1p(max(x, 0))).
    missing = [None, float("nan"), np.nan, "", "NA", "null", "NaN", "nan", "inf", "-inf", -5, "-5"]
    encoded = model.encode([{}, *({"I1": v} for v in missing)]).dense.numpy()
    assert (encoded == 0).all()
    # Mixed types in one column take the per-value path and agree with the bulk path.
    mixed = model.encode([{"I1": v} for v in [3, "3", None, "", 2.5, "2.5"]]).dense.numpy()[:, 0]
    np.testing.assert_array_equal(mixed, dense_transform(np.array([3, 3, np.nan, np.nan, 2.5, 2.5])))


def test_sparse_values_text_and_numbers(bundle: Any, criteo: Any) -> None:
    from nasrec.errors import DataError
    from nasrec.export import load_exported

    model = load_exported(bundle.path)
    name = criteo.schema.sparse[0].name
    seen = criteo.vocabulary(name)[1]
    records = [{name: seen}, {name: None}, {name: ""}, {name: "never-seen-value"}, {}, {name: 3}]
    assert model.encode(records).sparse.numpy()[:, 0].tolist() == [1, 0, 0, 0, 0, 0]
    with pytest.raises(DataError, match=r"^feature 'C1': expected text or a number, got b'x'$"):
        model.encode([{name: b"x"}])
    assert model.encode([{name: b"x"}], strict=False).sparse.numpy()[0, 0] == 0  # str(b"x") is unseen


def test_missing_features_fill_warn_or_raise(bundle: Any, rows: Any) -> None:
    from nasrec.data.transform import MissingFeatureWarning
    from nasrec.errors import ConfigError, DataError
    from nasrec.export import load_exported

    model = load_exported(bundle.path)
    records = [dict(r) for r in rows[:10]]
    del records[3]["I7"], records[3]["C2"], records[5]["C2"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "fill" (the default) is silent; full records never warn
        filled = model.predict(records)
        model.predict(rows[:10], missing="warn")
    gapped = [
        {**r, "I7": "", "C2": ""} if i == 3 else {**r, "C2": ""} if i == 5 else r
        for i, r in enumerate(records)
    ]
    np.testing.assert_array_equal(filled, model.predict(gapped))  # absent == "" == missing, as at ingest

    with pytest.warns(
        MissingFeatureWarning,
        match=r"^2 of 10 records lack features, filled as at training: 'C2' \(2\), 'I7' \(1\)$",
    ) as caught:
        warned = model.predict(records, missing="warn")
    assert caught[0].message.counts == {"I7": 1, "C2": 2}
    assert caught[0].filename == __file__  # the warning points at the caller, not at nasrec
    np.testing.assert_array_equal(warned, filled)

    with pytest.raises(DataError, match=r"^record 3: missing features 'I7', 'C2' \(pass missing='fill'"):
        model.predict(records, missing="raise")
    with pytest.raises(ConfigError, match="missing must be one of"):
        model.predict(records, missing="ignore")  # type: ignore[arg-type]


def test_what_is_not_a_list_of_records(bundle: Any) -> None:
    from nasrec.errors import DataError
    from nasrec.export import load_exported

    model = load_exported(bundle.path)
    with pytest.raises(DataError, match=r"wrap a single record in a list"):
        model.predict({"I1": 3})  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"^record 1 is a str, not a mapping"):
        model.predict([{"I1": 3}, "I1=3"])  # type: ignore[list-item]
    probs = model.predict([])
    assert probs.shape == (0,) and probs.dtype == np.float32
    assert model.predict(iter([{"I1": 3}])).shape == (1,)  # any iterable of records


def test_raw_rows_of_formats_with_unused_columns_pass_the_strict_check(shared_data: Path) -> None:
    """Avazu rows carry ``id`` (dropped at ingest) and ``hour`` (the source of two features); KDD12
    rows carry ``Clicks`` (the label's source). Their raw rows encode strictly, as ingested."""
    from nasrec.data import ingest, transform_raw
    from nasrec.errors import DataError

    path = shared_data / "samples" / "avazu_sample.txt"
    avazu = ingest("avazu", [path], name="avazu-strict", split=(1, 0, 0))
    header, *lines = path.read_text().splitlines()
    records = [dict(zip(header.split(","), line.split(","), strict=True)) for line in lines]
    assert transform_raw(avazu, records).sparse.shape == (len(records), avazu.schema.num_sparse)
    with pytest.raises(
        DataError, match=r"^record 4, feature 'hour': cannot derive 'hour_of_day' from '1410'"
    ):
        transform_raw(avazu, [*records[:4], {**records[4], "hour": "1410"}, *records[5:]])

    kdd_path = shared_data / "kdd12_fixture" / "training.txt"
    kdd = ingest("kdd12", [kdd_path], name="kdd-strict", split=(1, 0, 0))
    columns = ["Clicks", "Impression", "DisplayURL", "AdID", "AdvertiserID", "Depth", "Position",
               "QueryID", "KeywordID", "TitleID", "DescriptionID", "UserID"]  # fmt: skip
    kdd_records = [
        dict(zip(columns, line.split("\t"), strict=True)) for line in kdd_path.read_text().splitlines()
    ]
    stored = np.sort(np.asarray(kdd.sparse, dtype=np.int64), axis=0)
    np.testing.assert_array_equal(np.sort(transform_raw(kdd, kdd_records).sparse.numpy(), axis=0), stored)
