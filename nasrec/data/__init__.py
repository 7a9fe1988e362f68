"""Datasets: schema, ingest, synthetic data with a planted teacher, batch loader."""

from nasrec.data.schema import Batch, DatasetSchema, SparseFeature

__all__ = ["Batch", "DatasetSchema", "SparseFeature"]
