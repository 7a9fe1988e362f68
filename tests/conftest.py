"""Fixtures shared by every test: the real CTR samples and an isolated data home."""

from __future__ import annotations

from pathlib import Path

import pytest

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
