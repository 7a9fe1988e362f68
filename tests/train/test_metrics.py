"""AUC and log loss against brute-force definitions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nasrec.train.metrics import log_loss_from_logits, roc_auc


def brute_force_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos = scores[labels == 1]
    neg = scores[labels == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(6))
def test_auc_matches_pair_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 300))
    labels = rng.integers(0, 2, n)
    labels[0], labels[1] = 0, 1
    # few distinct values so ties are frequent; half the seeds use continuous scores
    scores = rng.integers(0, 7, n).astype(float) if seed % 2 else rng.normal(size=n)
    assert roc_auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels), abs=1e-12)


def test_auc_edge_cases() -> None:
    assert roc_auc(np.array([0.1, 0.9]), np.array([0, 1])) == 1.0
    assert roc_auc(np.array([0.9, 0.1]), np.array([0, 1])) == 0.0
    assert roc_auc(np.ones(4), np.array([0, 1, 0, 1])) == 0.5
    assert np.isnan(roc_auc(np.array([0.2, 0.3]), np.array([1, 1])))


def test_auc_is_invariant_to_monotone_transforms() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(size=1000)
    y = (rng.random(1000) < 1 / (1 + np.exp(-z))).astype(int)
    assert roc_auc(z, y) == pytest.approx(roc_auc(1 / (1 + np.exp(-z)), y), abs=1e-12)


def test_log_loss_matches_definition_and_is_stable() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3, size=500)
    y = rng.integers(0, 2, 500)
    p = 1 / (1 + np.exp(-z))
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert log_loss_from_logits(z, y) == pytest.approx(expected, rel=1e-10)
    # extreme logits: no overflow, the right limits
    assert log_loss_from_logits(np.array([1000.0]), np.array([1])) == pytest.approx(0.0)
    assert log_loss_from_logits(np.array([-1000.0]), np.array([1])) == pytest.approx(1000.0)
