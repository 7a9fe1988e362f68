"""Shared helpers for the space tests: the six NASRec reference configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.needs import REFERENCE_CONFIGS, missing


def reference_configs() -> list[Path]:
    return sorted(REFERENCE_CONFIGS.glob("*.json"))


@pytest.fixture(params=reference_configs(), ids=lambda p: p.stem)
def reference_config(request: pytest.FixtureRequest) -> dict:
    if not REFERENCE_CONFIGS.is_dir():
        missing("shared", f"reference configs not found at {REFERENCE_CONFIGS}")
    return json.loads(request.param.read_text())


@pytest.fixture
def load_reference():  # noqa: ANN201
    """``load_reference("criteo", "xlarge")`` -> the parsed reference config."""
    if not REFERENCE_CONFIGS.is_dir():
        missing("shared", f"reference configs not found at {REFERENCE_CONFIGS}")

    def load(dataset: str, config: str) -> dict:
        return json.loads((REFERENCE_CONFIGS / f"ea_{dataset}_kaggle_{config}_best_1shot.json").read_text())

    return load
