"""Reading architecture files (``nasrec.space.arch_file``): nasrec format, reference format, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nasrec.errors import ConfigError, NotFoundError
from nasrec.space import load_space, sample_architecture
from nasrec.space.arch_file import load_architecture_file
from tests.support.needs import REFERENCE_CONFIGS, missing


def test_a_nasrec_file_round_trips_with_its_space(tmp_path: Path) -> None:
    arch = sample_architecture(load_space("nasrec_small"), np.random.default_rng(1))
    path = tmp_path / "arch.json"
    path.write_text(arch.to_json())
    loaded, fmt, space = load_architecture_file(path)
    assert fmt == "nasrec" and loaded.canonical_hash() == arch.canonical_hash()
    assert space == arch.to_dict().get("space")


def test_a_reference_file_names_its_space() -> None:
    path = REFERENCE_CONFIGS / "ea_criteo_kaggle_autoctr_best_1shot.json"
    if not path.is_file():
        missing("shared", f"reference config not found: {path}")
    arch, fmt, space = load_architecture_file(path)
    assert fmt == "reference" and space == "nasrec_small"
    assert list(arch.alive_blocks()) == [0, 1, 2, 3, 4, 6]


def test_missing_invalid_and_foreign_files_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope.json"):
        load_architecture_file(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match="broken.json: not valid JSON"):
        load_architecture_file(broken)
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"layers": []}')
    with pytest.raises(ConfigError, match="neither a nasrec architecture"):
        load_architecture_file(foreign)
