"""Which rows go to train, val and test, and in what order they are stored.

Rows of each split are stored contiguously and already shuffled (by the split seed), so a loader can
read contiguous blocks and still see a random order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasrec.errors import ConfigError

__all__ = ["SPLITS", "given_split", "stratified_split"]

SPLITS = ("train", "val", "test")


def stratified_split(
    labels: np.ndarray, ratios: Sequence[float] = (8, 1, 1), seed: int = 2018
) -> list[np.ndarray]:
    """Row indices of train, val and test, each shuffled.

    Every class is shuffled and cut by ``ratios`` (like StratifiedKFold's 10 folds taken 8:1:1), so each
    split has the same positive rate up to one row.
    """
    ratios = _check_ratios(ratios)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in ratios]
    bounds = np.cumsum(ratios) / np.sum(ratios)
    for cls in np.flatnonzero(np.bincount(labels, minlength=2)):  # the classes present (0 / 1)
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        cuts = np.round(bounds[:-1] * len(idx)).astype(np.int64)
        for k, piece in enumerate(np.split(idx, cuts)):
            parts[k].append(piece)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def given_split(file_rows: Sequence[int], seed: int = 2018) -> list[np.ndarray]:
    """Train, val, test as given by three input files (rows concatenated in file order), each shuffled."""
    if len(file_rows) != 3:
        raise ConfigError(
            f"pass one input file (split 8:1:1) or three (train, val, test), got {len(file_rows)}"
        )
    rng = np.random.default_rng(seed)
    starts = np.concatenate([[0], np.cumsum(file_rows)])
    return [starts[k] + rng.permutation(int(file_rows[k])) for k in range(3)]


def _check_ratios(ratios: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(r) for r in ratios)
    if len(out) != 3 or min(out) < 0 or out[0] <= 0:
        raise ConfigError(f"split ratios must be three non-negative numbers (train > 0), got {list(ratios)}")
    return out
