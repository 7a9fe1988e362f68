"""Fixtures for the export tests: real Criteo rows (criteo_8k, ingested once) and trained SubNets."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.support.needs import REFERENCE_CONFIGS, missing

CRITEO_FILES = ("train.txt", "dev.txt", "test.txt")


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Any:
    """One intra-op thread: the machine is shared and small; OpenMP spinning only slows small models."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def criteo(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """criteo_8k ingested as given (train / dev / test files -> train / val / test splits)."""
    from nasrec.data import ingest

    home = tmp_path_factory.mktemp("export_data_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        return ingest("criteo", [shared_data / "criteo_8k" / f for f in CRITEO_FILES], name="criteo_8k")


def train_briefly(arch: Any, dataset: Any, *, layernorm: bool, space: Any, steps: int = 3) -> Any:
    """A SubNet trained for a few steps (fbgemm embeddings), so no weight is at its initial value."""
    from nasrec.train import TrainConfig, train_subnet

    config = TrainConfig(steps=steps, batch_size=256, lr=0.02, eval_rows=256, checkpoint_every=None)
    model = dataclasses.replace(space.model, layernorm=layernorm)
    return train_subnet(arch, dataset=dataset, model=model, config=config)


def reference_arch(name: str) -> tuple[Any, str]:
    """A reference Criteo config (``autoctr`` / ``xlarge``) and the nasrec space it belongs to."""
    from nasrec.space import Architecture, reference_space_name

    path = REFERENCE_CONFIGS / f"ea_criteo_kaggle_{name}_best_1shot.json"
    if not path.is_file():
        missing("shared", f"reference config not found at {path}")
    text = path.read_text()
    return Architecture.from_nasrec_json(text), reference_space_name(text)


def criteo_records(schema: Any, lines: list[str]) -> list[dict[str, str]]:
    """Raw Criteo TSV lines (label, I1..I13, C1..C26) as records keyed by the schema's column names."""
    names = [schema.label, *schema.dense, *(f.name for f in schema.sparse)]
    return [dict(zip(names, line.rstrip("\n").split("\t"), strict=True)) for line in lines]


def raw_rows_in_storage_order(dataset: Any) -> list[str]:
    """The raw lines of an ingested train / val / test dataset, in the order its rows are stored."""
    from nasrec.data.split import given_split

    files = [Path(p).read_text().splitlines() for p in dataset.meta["source"]]
    order = np.concatenate(given_split([len(f) for f in files], dataset.meta["split"]["seed"]))
    lines = [line for f in files for line in f]
    return [lines[i] for i in order]
