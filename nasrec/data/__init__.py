"""Datasets: schema, ingest, synthetic data with a planted teacher, batch loader.

    ds = synthesize("demo", rows=200_000, seed=0)            # or ingest("criteo", [path], name="criteo")
    ds = Dataset.open("demo")                                # by name in $NASREC_HOME/datasets, or a path
    ds.info()["bayes_logloss"]["val"]                        # what `nasrec data info --json` prints
    for batch in BatchLoader(ds.split("train"), 512, seed=0):  # Batch: dense B x D, sparse B x F, labels B
        ...
    transform_raw(ds, [{"I1": "3", "C1": "68fd1e64"}])       # raw records -> Batch, exactly as ingested
    ingest("csv", [path], name="films", options=FormatOptions(label="click", dense=("year", "votes"),
           sparse=("genre",)), dense_transforms={"votes": "buckets:8"})  # year: auto (standardize)
    ds.dense_transforms()                                    # per column: log1p / standardize / ...

Module map: formats / readers / libfm (parsing), vocab (vocabularies, hashing), split, dense
(per-column dense transforms and the auto rule), transform (raw records -> inputs), writer (on-disk
layout), store (names, atomic writes), dataset (memory-mapped reading), ingestion, synth, loader, cli.
Heavy modules (pyarrow, torch) load on first use of a name, so importing ``nasrec.data`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from nasrec.data.schema import Batch, DatasetSchema, SparseFeature

if TYPE_CHECKING:
    from nasrec.data.dataset import Dataset, SplitView, list_datasets
    from nasrec.data.dense import ColumnTransform
    from nasrec.data.formats import FORMATS, FormatOptions
    from nasrec.data.ingestion import ingest
    from nasrec.data.loader import BatchLoader
    from nasrec.data.synth import synthesize
    from nasrec.data.transform import (
        DENSE_TRANSFORM,
        FeatureMap,
        MissingFeatureWarning,
        dense_transform,
        transform_raw,
    )
    from nasrec.data.vocab import Vocabulary

__all__ = [
    "DENSE_TRANSFORM",
    "FORMATS",
    "Batch",
    "BatchLoader",
    "ColumnTransform",
    "Dataset",
    "DatasetSchema",
    "FeatureMap",
    "FormatOptions",
    "MissingFeatureWarning",
    "SparseFeature",
    "SplitView",
    "Vocabulary",
    "dense_transform",
    "ingest",
    "list_datasets",
    "synthesize",
    "transform_raw",
]

_LAZY = {
    "Dataset": "dataset",
    "SplitView": "dataset",
    "list_datasets": "dataset",
    "ColumnTransform": "dense",
    "FORMATS": "formats",
    "FormatOptions": "formats",
    "ingest": "ingestion",
    "BatchLoader": "loader",
    "synthesize": "synth",
    "DENSE_TRANSFORM": "transform",
    "FeatureMap": "transform",
    "MissingFeatureWarning": "transform",
    "dense_transform": "transform",
    "transform_raw": "transform",
    "Vocabulary": "vocab",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"nasrec.data.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'nasrec.data' has no attribute {name!r}")
