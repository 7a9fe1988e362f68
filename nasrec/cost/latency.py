"""Measured inference latency of a SubNet on this machine.

``measure_latency(subnet, batch_size)`` times repeated forward passes on random inputs of the
subnet's schema under ``torch.inference_mode()`` and returns the median, in milliseconds. The usual
figures are batch 1 (online serving) and batch 512 (offline scoring); ``LATENCY_BATCH_SIZES``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

from nasrec.errors import ConfigError

LATENCY_BATCH_SIZES = (1, 512)


def random_inputs(schema: Any, batch_size: int, *, seed: int = 0, device: Any = "cpu") -> tuple[Any, Any]:
    """dense B x D0 float32 in [0, 1) and sparse B x F int64 indices valid for each table."""
    g = torch.Generator().manual_seed(seed)
    dense = torch.rand(batch_size, schema.num_dense, generator=g)
    rows = torch.tensor(schema.table_rows, dtype=torch.float64)
    sparse = (torch.rand(batch_size, schema.num_sparse, generator=g, dtype=torch.float64) * rows).long()
    return dense.to(device), sparse.to(device)


def measure_latency(
    subnet: Any, batch_size: int, *, repeats: int = 20, warmup: int = 3, seed: int = 0
) -> float:
    """Median wall time of one forward pass, in ms, over ``repeats`` passes after ``warmup`` passes.

    ``subnet`` is a ``SubNet`` (or any module with ``schema`` and ``forward(dense, sparse)``). The model is
    put in eval mode for the measurement and restored afterwards.
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"need repeats >= 1 and warmup >= 0, got repeats={repeats}, warmup={warmup}")
    device = next(subnet.parameters()).device
    dense, sparse = random_inputs(subnet.schema, batch_size, seed=seed, device=device)
    was_training = subnet.training
    subnet.eval()
    times = []
    try:
        with torch.inference_mode():
            for i in range(warmup + repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                subnet(dense, sparse)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
    finally:
        subnet.train(was_training)
    return statistics.median(times) * 1000.0
