"""Fixtures shared by every test: the real CTR samples and an isolated data home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.support.needs import SHARED, missing

# Tests share a 2-core machine with each other (and with Ray workers); one intra-op thread per
# process is several times faster than torch's default here.
torch.set_num_threads(1)

SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real Criteo, Avazu, KDD12 and Frappe samples); tests never copy it."""
    if not SHARED_DATA.is_dir():
        missing("shared", f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def nasrec_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own NASREC_HOME, so nothing touches ~/.nasrec."""
    path = tmp_path_factory.mktemp("nasrec_home")
    monkeypatch.setenv("NASREC_HOME", str(path))
    monkeypatch.delenv("NASREC_DATABASE_URL", raising=False)
    return path


@pytest.fixture(autouse=True, scope="module")
def _stop_the_job_workers_ray() -> Iterator[None]:
    """A job run in a test (a Worker, ``run_local``) keeps its process's Ray runtime for the next job,
    as a service worker does; stop it after each test module, so later modules can start their own."""
    yield
    import sys

    if "ray" in sys.modules:
        from nasrec.ray_runtime import shutdown_ray

        shutdown_ray()
