"""BatchLoader: deterministic per (seed, epoch), exact mid-epoch resume, every row once per epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasrec.data import Batch, BatchLoader, Dataset, SplitView, synthesize
from nasrec.errors import ConfigError


@pytest.fixture
def dataset() -> Dataset:
    return synthesize("loader", rows=3_000, seed=5)


def rows_of(batches: list[Batch]) -> np.ndarray:
    """Each yielded row as one float64 vector (label, dense, sparse), stacked."""
    return np.concatenate(
        [
            torch.cat([b.labels[:, None].double(), b.dense.double(), b.sparse.double()], dim=1).numpy()
            for b in batches
        ]
    )


def split_rows(split: SplitView) -> np.ndarray:
    return np.column_stack(
        [np.asarray(split.labels), np.asarray(split.dense), np.asarray(split.sparse)]
    ).astype(np.float64)


def same(a: list[Batch], b: list[Batch]) -> bool:
    return len(a) == len(b) and all(
        torch.equal(x.dense, y.dense) and torch.equal(x.sparse, y.sparse) and torch.equal(x.labels, y.labels)
        for x, y in zip(a, b, strict=True)
    )


def lexsorted(m: np.ndarray) -> np.ndarray:
    return m[np.lexsort(m.T[::-1])]


@pytest.mark.parametrize("block_rows", [100, 1 << 16])
def test_every_row_once_per_epoch_without_drop_last(dataset: Dataset, block_rows: int) -> None:
    split = dataset.split("train")
    loader = BatchLoader(split, 64, seed=1, drop_last=False, block_rows=block_rows)
    batches = list(loader)
    assert len(batches) == len(loader) == -(-len(split) // 64)
    assert [len(b) for b in batches[:-1]] == [64] * (len(batches) - 1)
    assert len(batches[-1]) == len(split) % 64 or len(batches[-1]) == 64
    assert batches[0].dense.dtype == torch.float32 and batches[0].sparse.dtype == torch.int64
    assert batches[0].labels.dtype == torch.float32 and batches[0].sparse.shape == (64, 26)
    np.testing.assert_array_equal(lexsorted(rows_of(batches)), lexsorted(split_rows(split)))
    order = loader.epoch_order(0)
    np.testing.assert_array_equal(np.sort(order), np.arange(len(split)))
    np.testing.assert_array_equal(rows_of(batches), split_rows(split)[order])


def test_drop_last_gives_full_batches_only(dataset: Dataset) -> None:
    split = dataset.split("train")
    assert len(split) % 64 != 0
    loader = BatchLoader(split, 64, seed=1)
    batches = list(loader)
    assert len(batches) == len(loader) == len(split) // 64
    assert all(len(b) == 64 for b in batches)
    assert len(np.unique(rows_of(batches), axis=0)) == len(batches) * 64


def test_deterministic_for_a_seed_and_different_across_seeds_and_epochs(dataset: Dataset) -> None:
    split = dataset.split("train")
    a = list(BatchLoader(split, 128, seed=3, block_rows=500))
    b = list(BatchLoader(split, 128, seed=3, block_rows=500))
    assert same(a, b)
    assert not same(a, list(BatchLoader(split, 128, seed=4, block_rows=500)))
    assert not same(a, list(BatchLoader(split, 128, seed=3, epoch=1, block_rows=500)))


@pytest.mark.parametrize(("start", "drop_last"), [(1, True), (7, True), (13, False), (18, False)])
def test_resume_mid_epoch_gives_exactly_the_remaining_batches(
    dataset: Dataset, start: int, drop_last: bool
) -> None:
    split = dataset.split("train")
    full = list(BatchLoader(split, 128, seed=9, epoch=2, drop_last=drop_last, block_rows=300))
    running = BatchLoader(split, 128, seed=9, epoch=2, drop_last=drop_last, block_rows=300)
    it = iter(running)
    for _ in range(start):
        next(it)
    assert running.position == (2, start)
    epoch, batch = running.position
    resumed = list(
        BatchLoader(split, 128, seed=9, epoch=epoch, start_batch=batch, drop_last=drop_last, block_rows=300)
    )
    assert same(resumed, full[start:])


def test_iterating_again_moves_to_the_next_epoch(dataset: Dataset) -> None:
    split = dataset.split("val")
    loader = BatchLoader(split, 32, seed=0)
    first = list(loader)
    assert loader.position == (1, 0)
    second = list(loader)
    assert loader.position == (2, 0)
    assert same(second, list(BatchLoader(split, 32, seed=0, epoch=1)))
    assert not same(first, second)
    stream = loader.repeat()
    assert same([next(stream) for _ in range(len(loader))], list(BatchLoader(split, 32, seed=0, epoch=2)))


def test_no_shuffle_reads_contiguous_slices(dataset: Dataset) -> None:
    split = dataset.split("test")
    batches = list(BatchLoader(split, 50, shuffle=False, drop_last=False))
    assert same(batches[:3], [split.batch(0, 50), split.batch(50, 100), split.batch(100, 150)])
    np.testing.assert_array_equal(rows_of(batches), split_rows(split))


def test_bad_arguments(dataset: Dataset) -> None:
    split = dataset.split("val")
    with pytest.raises(ConfigError, match="batch_size"):
        BatchLoader(split, 0)
    with pytest.raises(ConfigError, match="start_batch"):
        BatchLoader(split, 32, start_batch=10_000)
