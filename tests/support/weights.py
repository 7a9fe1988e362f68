"""Real trained weights for the export tests of the service: a ``trainer`` fixture.

Use from a ``conftest.py``::

    from tests.support.weights import trainer  # noqa: F401

``trainer.train(architecture)`` trains a 2-step SubNet run of that architecture on a 1,000-row planted
dataset (``trainer.dataset_path``) and returns its run directory, cached for the test session; record
it as a ``subnet`` artifact of a candidate and the candidate can be exported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class Trainer:
    """A small synthetic dataset and SubNet checkpoints trained on it, one per architecture."""

    dataset_path: str
    train: Callable[[dict[str, Any]], Path]


@pytest.fixture(scope="session")
def trainer(tmp_path_factory: pytest.TempPathFactory) -> Trainer:
    """A 1,000-row planted dataset and a 2-step SubNet run per architecture asked for (cached)."""
    from nasrec.data import synthesize
    from nasrec.space import Architecture, load_space
    from nasrec.train import TrainConfig, train_subnet

    home = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NASREC_HOME", str(home))
        dataset = synthesize("export-weights", rows=1000, seed=0)
    runs: dict[str, Path] = {}
    config = TrainConfig(
        steps=2, batch_size=64, eval_rows=64, checkpoint_every=2, log_every=2, embedding_backend="torch"
    )

    def train(architecture: dict[str, Any]) -> Path:
        arch = Architecture.from_dict(architecture)
        key = arch.canonical_hash()
        if key not in runs:
            model = load_space("nasrec_small").model
            train_subnet(arch, dataset=dataset, model=model, config=config, run_dir=home / "runs" / key)
            runs[key] = home / "runs" / key
        return runs[key]

    return Trainer(str(dataset.path), train)
