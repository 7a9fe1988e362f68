"""Fixtures for the search tests: a tiny planted dataset (made once per session) and a scripted evaluator.

The scripted evaluator stands in for the Ray actor pool in the fast tests of the search layer (the layer
above the evaluation boundary); ``test_integration.py`` runs the real pool on a real supernet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from nasrec.spec import JobSpec


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3000-row planted dataset, by path (specs can name a dataset by its directory)."""
    from nasrec.data import synthesize

    home = tmp_path_factory.mktemp("search_data_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NASREC_HOME", str(home))
        ds = synthesize("tiny", rows=3000, seed=0)
    return Path(ds.path)


class ScriptedEvaluator:
    """A deterministic score per architecture (no training): counts what it was asked to evaluate.

    The score rewards Dot-Product blocks and FM merges and penalises size a little, so controllers
    have something learnable.
    """

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[str] = []
        self.fail_after = fail_after

    def evaluate(self, architectures: Sequence[Any]) -> list[dict[str, Any]]:
        out = []
        for arch in architectures:
            if self.fail_after is not None and len(self.calls) >= self.fail_after:
                raise KeyboardInterrupt("simulated crash")
            self.calls.append(arch.canonical_hash())
            blocks = [b for b in arch.blocks if b is not None]
            dots = sum(b.dense_op == "dot" for b in blocks)
            fms = sum(b.fm for b in blocks)
            width = sum((b.dense_width or 0) for b in blocks)
            loss = 0.5 - 0.01 * dots - 0.005 * fms + 1e-6 * width + 0.001 * len(blocks)
            out.append({"val_logloss": loss, "val_auc": 0.8 - loss / 10, "latency_ms": 1.0 + width / 1000})
        return out

    def close(self) -> None:
        pass


@pytest.fixture
def scripted() -> ScriptedEvaluator:
    return ScriptedEvaluator()


def make_spec(dataset: Path, **overrides: Any) -> JobSpec:
    """A small job spec on ``dataset``; ``overrides`` are merged into the top-level sections."""
    data: dict[str, Any] = {
        "dataset": str(dataset),
        "space": "nasrec_small",
        "seed": 3,
        "search": {
            "controller": "random",
            "candidates": 12,
            "population": 6,
            "sample_size": 3,
            "children": 3,
            "batch_size": 4,
            "startup_trials": 4,
        },
        "evaluation": {"finetune_steps": 0, "val_rows": 200},
        "finalize": {"top_k": 2, "retrain_steps": 5, "baselines": False},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return JobSpec.parse(data)
