"""Shuffled mini-batches straight from a split's memory maps, deterministic and resumable.

Rows of every split are already stored in a random order (ingest shuffles), so per epoch the loader
shuffles *blocks*: the split is cut into blocks of ``block_rows`` contiguous rows, the blocks are visited
in a random order and the rows inside each block are permuted. Each block is read from disk once, in
one contiguous slice, and gathered in memory once; batches are then contiguous slices of that buffer.

The epoch order is a pure function of (seed, epoch, split size, block_rows): batch ``i`` of epoch ``e``
is always the same rows, so ``BatchLoader(..., epoch=e, start_batch=i)`` resumes exactly where a run
that was at ``position == (e, i)`` stopped, without replaying the earlier batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np

from nasrec.data.dataset import SplitView
from nasrec.data.schema import Batch
from nasrec.errors import ConfigError

__all__ = ["BatchLoader", "Position"]


class Position(NamedTuple):
    """Where a loader is: the next batch it yields is batch ``batch`` of epoch ``epoch``."""

    epoch: int
    batch: int


class BatchLoader:
    """Iterable of :class:`Batch` (dense B x D float32, sparse B x F int64, labels B float32).

    Iterating yields the batches from :attr:`position` to the end of that epoch and then moves the
    position to the start of the next epoch, so ``for epoch in ...: for batch in loader:`` walks
    successive epochs. ``len()`` is the number of batches in a full epoch.
    """

    def __init__(
        self,
        split: SplitView,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = True,
        epoch: int = 0,
        start_batch: int = 0,
        block_rows: int = 1 << 16,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if block_rows < 1:
            raise ConfigError(f"block_rows must be >= 1, got {block_rows}")
        self.split = split
        # plain ndarray views of the memory maps: slicing them skips np.memmap's per-call overhead
        self._dense = np.asarray(split.dense)
        self._sparse = np.asarray(split.sparse)
        self._labels = np.asarray(split.labels)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.block_rows = int(block_rows)
        n = len(split)
        self._num_batches = n // self.batch_size if drop_last else -(-n // self.batch_size)
        if not 0 <= start_batch <= self._num_batches:
            raise ConfigError(f"start_batch must be in [0, {self._num_batches}], got {start_batch}")
        self._position = Position(int(epoch), int(start_batch))

    def __len__(self) -> int:
        return self._num_batches

    @property
    def position(self) -> Position:
        """(epoch, index of the next batch); store it in a checkpoint to resume exactly."""
        return self._position

    def __iter__(self) -> Iterator[Batch]:
        epoch, start = self._position
        i = start
        for batch in self._epoch_batches(epoch, start):
            i += 1
            self._position = Position(epoch, i)
            yield batch
        self._position = Position(epoch + 1, 0)

    def repeat(self) -> Iterator[Batch]:
        """Batches across epochs without end (for step-based training)."""
        while True:
            yield from self

    # --- the epoch order -----------------------------------------------------------------------

    def epoch_order(self, epoch: int) -> np.ndarray:
        """All row indices of ``epoch`` in the order the loader visits them (for tests and audits)."""
        if not self.shuffle:
            return np.arange(len(self.split))
        return (
            np.concatenate([rows for rows in self._block_rows(epoch, 0)])
            if len(self.split)
            else np.zeros(0, int)
        )

    def _blocks(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Block visiting order and the start of each visited block within the epoch order."""
        n = len(self.split)
        num_blocks = -(-n // self.block_rows)
        order = np.random.default_rng([self.seed, epoch]).permutation(num_blocks)
        lengths = np.minimum(self.block_rows, n - order * self.block_rows)
        return order, np.concatenate([[0], np.cumsum(lengths)])

    def _block_rows(self, epoch: int, position: int) -> Iterator[np.ndarray]:
        """Row indices of each visited block from epoch position ``position`` on (first one cut)."""
        n = len(self.split)
        order, starts = self._blocks(epoch)
        first = int(np.searchsorted(starts, position, side="right")) - 1
        for j in range(max(first, 0), len(order)):
            block = int(order[j])
            lo = block * self.block_rows
            size = min(self.block_rows, n - lo)
            rows = lo + np.random.default_rng([self.seed, epoch, block]).permutation(size)
            if j == first:
                rows = rows[position - starts[j] :]
            yield rows

    def _epoch_batches(self, epoch: int, start_batch: int) -> Iterator[Batch]:
        n, size = len(self.split), self.batch_size
        stop = self._num_batches * size if self.drop_last else n
        pos = start_batch * size
        if pos >= stop:
            return
        if not self.shuffle:
            for lo in range(pos, stop, size):
                yield self._slice_batch(lo, min(lo + size, stop))
            return
        carry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        for rows in self._block_rows(epoch, pos):
            lo = int(rows.min()) if len(rows) else 0
            hi = int(rows.max()) + 1 if len(rows) else 0
            local = rows - lo
            dense = np.take(self._dense[lo:hi], local, axis=0)
            sparse = np.take(self._sparse[lo:hi], local, axis=0).astype(np.int64)
            labels = np.take(self._labels[lo:hi], local)
            if carry is not None:
                dense = np.concatenate([carry[0], dense])
                sparse = np.concatenate([carry[1], sparse])
                labels = np.concatenate([carry[2], labels])
                carry = None
            take = min(len(labels), stop - pos)
            full = take - take % size
            for s in range(0, full, size):
                yield _batch(dense[s : s + size], sparse[s : s + size], labels[s : s + size])
            pos += full
            if take > full:
                carry = (dense[full:take], sparse[full:take], labels[full:take])
            if pos >= stop or (carry is not None and pos + len(carry[2]) >= stop):
                break
        if carry is not None and len(carry[2]):
            yield _batch(*carry)

    def _slice_batch(self, lo: int, hi: int) -> Batch:
        return _batch(
            np.array(self._dense[lo:hi]), self._sparse[lo:hi].astype(np.int64), np.array(self._labels[lo:hi])
        )


def _batch(dense: np.ndarray, sparse: np.ndarray, labels: np.ndarray) -> Batch:
    import torch

    return Batch(torch.from_numpy(dense), torch.from_numpy(sparse), torch.from_numpy(labels))
