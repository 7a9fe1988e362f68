"""Fixtures for the training tests: a tiny planted synthetic dataset and a tiny model with the real
``Embeddings`` (the same surface as SuperNet / SubNet), for fast unit tests of the loop itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasrec.supernet.embeddings import Embeddings


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """3000 rows (2400 train / 300 val / 300 test) of the planted Criteo-shaped synthetic data."""
    from nasrec.data import synthesize

    home = tmp_path_factory.mktemp("train_data_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        return synthesize("tiny", rows=3000, seed=0)


class TinyModel(nn.Module):
    """Embeddings + a two-layer MLP whose active hidden units are drawn per step from the run's Generator
    (a stand-in for supernet path sampling, so the checkpointed numpy RNG matters)."""

    def __init__(self, schema: Any, backend: str = "torch", dim: int = 4, hidden: int = 16) -> None:
        super().__init__()
        self.embeddings = Embeddings(schema.table_rows, dim, backend=backend, seed=0, device="cpu")
        self.hidden = nn.Linear(schema.num_dense + schema.num_sparse * dim, hidden)
        self.out = nn.Linear(hidden, 1)

    def dense_parameters(self) -> list[nn.Parameter]:
        return [*self.hidden.parameters(), *self.out.parameters()]

    def forward(self, batch: Any, mask: Any = None) -> torch.Tensor:
        x = torch.cat([batch.dense, self.embeddings(batch.sparse).flatten(1)], 1)
        h = torch.relu(self.hidden(x))
        if mask is not None:
            h = h * mask
        return self.out(h).squeeze(1)


def make_tiny_task(schema: Any, backend: str = "torch", seed: int = 0) -> Any:
    from nasrec.train import TrainTask, evaluate

    torch.manual_seed(seed)
    model = TinyModel(schema, backend)

    def forward(m: TinyModel, batch: Any, step: int, rng: np.random.Generator) -> torch.Tensor:
        mask = torch.from_numpy((rng.random(16) < 0.75).astype(np.float32))
        return m(batch, mask)

    def validate(m: TinyModel, view: Any) -> dict[str, Any]:
        return evaluate(m, view, batch_size=128)

    return TrainTask(model, forward, validate, {"kind": "tiny", "backend": backend})


@pytest.fixture
def tiny_task() -> Any:
    """``tiny_task(schema, backend="torch")``: a fresh TrainTask around a seeded TinyModel."""
    return make_tiny_task


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return tmp_path / "run"
