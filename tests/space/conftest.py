"""Shared helpers for the space tests: the six NASRec reference configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "nasrec_configs"


def reference_configs() -> list[Path]:
    return sorted(REFERENCE_DIR.glob("*.json"))


@pytest.fixture(params=reference_configs(), ids=lambda p: p.stem)
def reference_config(request: pytest.FixtureRequest) -> dict:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference configs not found at {REFERENCE_DIR}")
    return json.loads(request.param.read_text())


@pytest.fixture
def load_reference():  # noqa: ANN201
    """``load_reference("criteo", "xlarge")`` -> the parsed reference config."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference configs not found at {REFERENCE_DIR}")

    def load(dataset: str, config: str) -> dict:
        return json.loads((REFERENCE_DIR / f"ea_{dataset}_kaggle_{config}_best_1shot.json").read_text())

    return load
