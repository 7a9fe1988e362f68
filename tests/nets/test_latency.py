"""Measured latency of a SubNet: a median of timed forward passes, in milliseconds."""

from __future__ import annotations

import numpy as np
import pytest

from nasrec.cost.latency import LATENCY_BATCH_SIZES, measure_latency, random_inputs
from nasrec.errors import ConfigError
from nasrec.nets.subnet import SubNet
from nasrec.space import load_space, sample_architecture
from nasrec.space.model_config import ModelConfig

from .conftest import TINY


def test_measure_latency() -> None:
    arch = sample_architecture(load_space("nasrec_full"), np.random.default_rng(0))
    net = SubNet(arch, TINY, ModelConfig(), embedding_backend="torch")
    assert net.training
    timings = {b: measure_latency(net, b, repeats=3, warmup=1) for b in LATENCY_BATCH_SIZES}
    assert all(0.0 < ms < 60_000 for ms in timings.values())
    assert net.training  # restored after the eval-mode measurement
    with pytest.raises(ConfigError, match="batch_size"):
        measure_latency(net, 0)
    with pytest.raises(ConfigError, match="repeats"):
        measure_latency(net, 1, repeats=0)


def test_random_inputs_fit_the_schema() -> None:
    dense, sparse = random_inputs(TINY, 64, seed=1)
    assert dense.shape == (64, TINY.num_dense) and sparse.shape == (64, TINY.num_sparse)
    for f, rows in enumerate(TINY.table_rows):
        assert int(sparse[:, f].min()) >= 0 and int(sparse[:, f].max()) < rows
