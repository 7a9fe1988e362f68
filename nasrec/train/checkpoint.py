"""Step-level checkpoints: one directory per step with a metadata JSON sidecar, written atomically.

    <run_dir>/checkpoints/step-00001000/
        metadata.json   kind, step, total steps, data position, config, schema, space / architecture, metrics
        model.pt        the model's state_dict (embedding optimizer state included by the embeddings module)
        state.pt        dense / sparse optimizer and scheduler state, torch and path-sampler RNG states

A checkpoint is first written to a hidden ``.tmp-*`` directory and then renamed into place, so a reader
(or a resuming run) sees either a whole checkpoint or none; a crash mid-write leaves only a temporary
directory, removed by the next save. The last ``keep`` checkpoints are kept.

This is the only checkpoint mechanism: single-process runs and Ray Train workers both write here (rank 0
only), and Ray Train's own checkpoint storage is not used, so a run resumes the same way whichever way
it was launched. On a multi-node cluster ``run_dir`` must be on storage that rank 0 and the driver share.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasrec.errors import DataError, NotFoundError

FORMAT_VERSION = 1
METADATA = "metadata.json"
MODEL_FILE = "model.pt"
STATE_FILE = "state.pt"
_STEP_DIR = re.compile(r"^step-(\d+)$")


@dataclass(frozen=True)
class Checkpoint:
    """A reference to one checkpoint directory."""

    path: Path

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> Checkpoint:
        """The checkpoint at ``path``; a run directory resolves to its latest checkpoint."""
        p = Path(path)
        if not (p / METADATA).is_file():
            latest = latest_checkpoint(p)
            if latest is None:
                raise NotFoundError(
                    f"no checkpoint at {p}: expected a directory with {METADATA} or a run dir"
                )
            return latest
        return cls(p)

    @property
    def metadata(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / METADATA).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"unreadable checkpoint metadata in {self.path}: {exc}") from exc

    @property
    def step(self) -> int:
        return int(self.metadata["step"])

    def load_model_state(self) -> dict[str, Any]:
        return _torch_load(self.path / MODEL_FILE)

    def load_train_state(self) -> dict[str, Any]:
        return _torch_load(self.path / STATE_FILE)


def checkpoints_dir(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[Checkpoint]:
    """Complete checkpoints of a run, oldest first."""
    root = checkpoints_dir(run_dir)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        m = _STEP_DIR.match(child.name)
        if m and (child / METADATA).is_file():
            found.append((int(m.group(1)), child))
    return [Checkpoint(p) for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Checkpoint | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    step: int,
    model_state: dict[str, Any],
    train_state: dict[str, Any],
    metadata: dict[str, Any],
    keep: int,
) -> Checkpoint:
    """Write a checkpoint for ``step`` atomically and prune to the newest ``keep``."""
    import torch

    root = checkpoints_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        torch.save(model_state, tmp / MODEL_FILE)
        torch.save(train_state, tmp / STATE_FILE)
        meta = {"format": FORMAT_VERSION, "step": step, "created": time.time(), **metadata}
        (tmp / METADATA).write_text(json.dumps(meta, indent=2, sort_keys=True, default=_json_default))
        for name in (MODEL_FILE, STATE_FILE, METADATA):
            _fsync(tmp / name)
        if final.exists():  # re-saving a step (e.g. stop right after a periodic save): swap atomically
            trash = root / f".tmp-old-{final.name}-{uuid.uuid4().hex[:8]}"
            final.rename(trash)
            tmp.rename(final)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.rename(final)
        _fsync(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(final)


def _torch_load(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise DataError(f"checkpoint file {path} is missing")
    return torch.load(path, map_location="cpu", weights_only=True)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
