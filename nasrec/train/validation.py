"""Validation during a run: its history, the best point so far, and when to stop early.

A run with ``validate_every`` validates at those steps and at its end; each point records the step,
the mean train loss since the previous point and the validation metrics, so a supernet's train and val
curves can be read (and watched for memorisation: val rising while train falls). With ``patience`` the
run stops after that many points without a lower validation log loss, and ends as its best point.

``Validations`` is part of the run's state: it is saved in every checkpoint's metadata and restored on
resume (with the partial train-loss window), so a resumed run keeps its best-so-far and its patience
count and records the same history as an uninterrupted one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Validations"]


@dataclass
class Validations:
    """The validation points of one run and its best one (lowest log loss)."""

    patience: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] | None = None  # the best point's validation metrics, with its step and train loss
    since_best: int = 0  # points since the best one
    train_sum: float = 0.0  # train losses since the last point
    train_count: int = 0

    def add_train_loss(self, loss: float) -> None:
        self.train_sum += loss
        self.train_count += 1

    def observe(self, step: int, metrics: dict[str, Any]) -> bool:
        """Record the validation at ``step``; True when it is the best so far."""
        train = self.train_sum / self.train_count if self.train_count else float("nan")
        self.train_sum, self.train_count = 0.0, 0
        logloss = float(metrics["logloss"])
        self.history.append(
            {"step": step, "train_loss": train, "val_logloss": logloss, "val_auc": _float(metrics.get("auc"))}
        )
        improved = math.isfinite(logloss) and (self.best is None or logloss < self.best["logloss"])
        if improved:
            self.best = {**metrics, "step": step, "train_loss": train}
            self.since_best = 0
        else:
            self.since_best += 1
        return improved

    @property
    def exhausted(self) -> bool:
        """Early stopping says stop: ``patience`` points in a row did not improve on the best."""
        return self.patience is not None and self.best is not None and self.since_best >= self.patience

    @property
    def last_step(self) -> int | None:
        return self.history[-1]["step"] if self.history else None

    @property
    def best_step(self) -> int | None:
        return None if self.best is None else int(self.best["step"])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, patience: int | None) -> Validations:
        """The state saved by ``to_dict`` (an empty one for checkpoints written before validations)."""
        if not data:
            return cls(patience)
        return cls(**{**data, "patience": patience})


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
