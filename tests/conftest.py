"""Fixtures shared by every test: the real CTR samples and an isolated data home."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# Tests share a 2-core machine with each other (and with Ray workers); one intra-op thread per
# process is several times faster than torch's default here.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real Criteo, Avazu, KDD12 and Frappe samples); tests never copy it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def nasrec_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own NASREC_HOME, so nothing touches ~/.nasrec."""
    path = tmp_path_factory.mktemp("nasrec_home")
    monkeypatch.setenv("NASREC_HOME", str(path))
    monkeypatch.delenv("NASREC_DATABASE_URL", raising=False)
    return path
