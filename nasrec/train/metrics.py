"""Validation metrics: log loss from logits and an exact, tie-aware ROC AUC in O(n log n), and the two
reference levels a log loss is read against: a constant predictor's, and its standard error.

AUC is the probability that a random positive scores above a random negative, ties counting one half
(the Mann-Whitney U statistic, which is what ``sklearn.metrics.roc_auc_score`` returns). Computed by
grouping equal scores, so it is exact with ties and needs no sklearn.
"""

from __future__ import annotations

import numpy as np


def log_loss_from_logits(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean binary cross-entropy of sigmoid(logits) against 0/1 labels, computed stably in float64."""
    z = np.asarray(logits, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if z.shape != y.shape:
        raise ValueError(f"logits and labels differ in length: {z.shape[0]} vs {y.shape[0]}")
    if z.size == 0:
        return float("nan")
    # -[y log s(z) + (1-y) log(1-s(z))] = softplus(z) - y z
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Exact ROC AUC of ``scores`` for 0/1 ``labels``; NaN when only one class is present."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel() > 0.5
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.shape[0]} vs {y.shape[0]}")
    n_pos = int(y.sum())
    n_neg = int(y.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, group, counts = np.unique(s, return_inverse=True, return_counts=True)
    pos_per_group = np.bincount(group, weights=y, minlength=counts.size)
    neg_per_group = counts - pos_per_group
    neg_below = np.cumsum(neg_per_group) - neg_per_group
    wins = float(np.sum(pos_per_group * (neg_below + 0.5 * neg_per_group)))
    return wins / (n_pos * n_neg)


def constant_logloss(rate: float, observed_rate: float | None = None) -> float:
    """Log loss of always predicting ``rate`` (e.g. the train positive rate) on rows whose positive rate
    is ``observed_rate`` (default: ``rate`` itself, i.e. the entropy of ``rate``): a model above this
    knows less than the label frequency."""
    p = min(max(float(rate), 1e-12), 1 - 1e-12)
    q = p if observed_rate is None else float(observed_rate)
    return float(-(q * np.log(p) + (1 - q) * np.log(1 - p)))


def logloss_standard_error(rate: float, rows: int) -> float:
    """Standard error of a mean log loss over ``rows`` rows with positive rate ``rate``, in the binomial
    approximation (per-row losses of a calibrated constant predictor: ``-log p`` with probability ``p``,
    ``-log(1 - p)`` otherwise). 0.0053 on 8,000 rows at a 25% positive rate."""
    p = min(max(float(rate), 1e-12), 1 - 1e-12)
    variance = p * (1 - p) * float(np.log(p / (1 - p))) ** 2
    return float(np.sqrt(variance / max(int(rows), 1)))
