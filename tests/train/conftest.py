"""Fixtures for the training tests: a tiny planted synthetic dataset and a tiny model with the real
``Embeddings`` (the same surface as SuperNet / SubNet), for fast unit tests of the loop itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from nasrec.nets.embeddings import Embeddings


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Any:
    """One intra-op thread: on a shared, oversubscribed 2-core machine OpenMP's spinning threads make
    small-model training several times slower (measured 6x on the supernet tests)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """3000 rows (2400 train / 300 val / 300 test) of the planted Criteo-shaped synthetic data.

    The teacher leans on first-order and dense terms (the default leans on interactions, learnable from
    ~10^5 rows), so that a few dozen steps on 2400 rows visibly learn something.
    """
    from nasrec.data import synthesize
    from nasrec.data.teachers import FMConfig

    home = tmp_path_factory.mktemp("train_data_home")
    teacher = FMConfig(first_order=2.0, pairwise=0.5, dense_field=0.3, dense_linear=1.0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        return synthesize("tiny", rows=3000, seed=0, config=teacher)


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


@pytest.fixture(scope="session")
def tiny_space() -> Any:
    """nasrec_full's ops (fc, dot, gating, sum; efc, attention) in 3 narrow blocks: fast on CPU."""
    from nasrec.space import SearchSpace, load_space

    data = load_space("nasrec_full").to_dict()
    data.update(name="tiny_full", num_blocks=3, dense_widths=[16, 32, 64], sparse_widths=[8, 16])
    return SearchSpace.from_dict(data)
