"""What some tests need from outside the repository, and what happens when it is missing.

* ``../shared/`` next to the checkout: real CTR samples and the NASRec reference configs;
* a PostgreSQL server (``NASREC_TEST_POSTGRES_URL``, default 127.0.0.1:5432 with trust auth);
* Chromium for the browser tests (``NASREC_CHROMIUM``, default ``/usr/bin/chromium``).

On a fresh machine a test that needs a missing one skips, saying how to provide it. ``.ci/run``
provides PostgreSQL and Chromium and sets ``NASREC_TEST_REQUIRE=postgresql,chromium``: there a
missing one fails the test instead, so CI never passes by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["REFERENCE_CONFIGS", "SHARED", "missing", "reference_config"]

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
REFERENCE_CONFIGS = SHARED / "reference" / "nasrec_configs"
_HOW = {
    "shared": f"put the shared folder at {SHARED} (real CTR samples, NASRec reference configs)",
    "postgresql": "start PostgreSQL on 127.0.0.1:5432 with trust auth, or set NASREC_TEST_POSTGRES_URL",
    "chromium": "`apt-get install -y chromium`, or point NASREC_CHROMIUM at a Chromium binary",
}


def missing(what: str, detail: str) -> NoReturn:
    """Skip the test (or fail it, where ``NASREC_TEST_REQUIRE`` names ``what``): ``what`` is one of
    shared, postgresql, chromium; ``detail`` says what exactly was not found."""
    required = {n.strip() for n in os.environ.get("NASREC_TEST_REQUIRE", "").split(",") if n.strip()}
    message = f"{detail}; to run this test, {_HOW[what]}"
    if what in required:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def reference_config(name: str) -> Path:
    """The NASRec reference config ``name`` (e.g. ``ea_criteo_kaggle_xlarge_best_1shot.json``)."""
    path = REFERENCE_CONFIGS / name
    if not path.is_file():
        missing("shared", f"reference config {name} not found in {REFERENCE_CONFIGS}")
    return path
