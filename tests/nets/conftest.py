"""Helpers for the supernet tests: tiny schemas, random inputs and random non-trivial weights."""

from __future__ import annotations

import math

import torch
from torch import nn

from nasrec.data.schema import Batch, DatasetSchema

TINY = DatasetSchema.of_shape(3, [11, 7, 5, 13])  # D0 = 3 dense features, F = 4 small tables


def tiny_batch(
    schema: DatasetSchema = TINY, size: int = 8, seed: int = 0, dtype: torch.dtype = torch.float64
) -> Batch:
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(size, schema.num_dense, generator=g, dtype=dtype)
    sparse = torch.stack([torch.randint(0, r, (size,), generator=g) for r in schema.table_rows], dim=1)
    labels = torch.randint(0, 2, (size,), generator=g).to(dtype)
    return Batch(dense, sparse, labels)


def randomize_(model: nn.Module, seed: int = 0, scale: float = 1.0) -> None:
    """Random, non-trivial values for every parameter (LayerNorm affine ones included), at a scale that
    keeps a 7-block network finite: matrices ~ U(+-scale/sqrt(cols)) times U(0.5, 1.5), LN weights
    U(0.5, 1.5), LN / linear biases U(-0.3, 0.3); embeddings N(0, 0.5 scale). Without LayerNorm use
    scale < 1 (the FM merge squares its input)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("embeddings."):
                continue
            if p.ndim >= 2:
                bound = scale / math.sqrt(max(p.shape[1], 1))
                p.uniform_(-bound, bound, generator=g)
                p.mul_(torch.empty_like(p).uniform_(0.5, 1.5, generator=g))
            elif name.endswith("weight"):  # LayerNorm affine weights
                p.uniform_(0.5, 1.5, generator=g)
            else:
                p.uniform_(-0.3, 0.3, generator=g)
        embeddings = getattr(model, "embeddings", None)
        if embeddings is not None:
            tables = embeddings.get_weights()
            embeddings.set_weights(
                [torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.5 * scale for t in tables]
            )
