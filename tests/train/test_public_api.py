"""The curated public surface of nasrec.train."""

from __future__ import annotations

import nasrec.train


def test_exported_names_are_exactly_the_intended_ones() -> None:
    assert sorted(nasrec.train.__all__) == [
        "Checkpoint",
        "TrainConfig",
        "TrainResult",
        "TrainTask",
        "evaluate",
        "forbid_test_split",
        "load_subnet",
        "load_supernet",
        "train_loop",
        "train_subnet",
        "train_supernet",
    ]
    for name in nasrec.train.__all__:
        assert getattr(nasrec.train, name) is not None
