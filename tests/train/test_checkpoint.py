"""Directory checkpoints: atomic writes, keep-last-k, metadata, lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nasrec.errors import NotFoundError
from nasrec.train.checkpoint import Checkpoint, latest_checkpoint, list_checkpoints, save_checkpoint


def save(run_dir: Path, step: int, keep: int = 2) -> Checkpoint:
    return save_checkpoint(
        run_dir,
        step=step,
        model_state={"w": torch.full((2,), float(step))},
        train_state={"rng": {"state": 2**100 + step}},
        metadata={"kind": "test", "metrics": {"loss": torch.tensor(0.5)}},
        keep=keep,
    )


def test_save_load_and_keep_last_k(tmp_path: Path) -> None:
    for step in (10, 20, 30):
        save(tmp_path, step)
    assert [c.step for c in list_checkpoints(tmp_path)] == [20, 30]
    latest = latest_checkpoint(tmp_path)
    assert latest is not None and latest.path.name == "step-00000030"
    assert latest.metadata["kind"] == "test" and latest.metadata["metrics"]["loss"] == 0.5
    assert torch.equal(latest.load_model_state()["w"], torch.full((2,), 30.0))
    assert latest.load_train_state()["rng"]["state"] == 2**100 + 30
    assert Checkpoint.at(tmp_path) == latest  # a run dir resolves to its latest checkpoint
    assert Checkpoint.at(latest.path) == latest


def test_incomplete_checkpoints_are_ignored_and_cleaned(tmp_path: Path) -> None:
    save(tmp_path, 10)
    crashed = tmp_path / "checkpoints" / ".tmp-step-00000020-dead"
    crashed.mkdir()
    (crashed / "model.pt").write_bytes(b"partial")
    no_meta = tmp_path / "checkpoints" / "step-00000030"
    no_meta.mkdir()
    assert latest_checkpoint(tmp_path).step == 10  # type: ignore[union-attr]
    save(tmp_path, 40)
    assert not crashed.exists()


def test_resaving_a_step_replaces_it(tmp_path: Path) -> None:
    save(tmp_path, 10)
    save(tmp_path, 10)
    assert [c.step for c in list_checkpoints(tmp_path)] == [10]


def test_missing_checkpoint_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        Checkpoint.at(tmp_path)
