"""Learning-rate schedule: linear warm-up from ``min_lr`` to the peak over W steps, then a cosine down to
``min_lr`` at step T (the reference's one-cycle ``CosineAnnealingWarmupRestarts``), expressed as a
multiplier for ``torch.optim.lr_scheduler.LambdaLR`` so that one function drives the dense optimizer, a
torch sparse optimizer, and (by hand) fbgemm's fused optimizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class WarmupCosine:
    """Multiplier of the peak lr at scheduler step ``t`` (a picklable callable, so LambdaLR can use it).

    ``floor`` is ``min_lr / peak_lr``: the multiplier at t = 0 and at t >= T.
    """

    total: int
    warmup: int
    floor: float

    def __call__(self, t: int) -> float:
        if t < self.warmup:
            return self.floor + (1.0 - self.floor) * t / self.warmup
        if t >= self.total:
            return self.floor
        span = max(1, self.total - self.warmup)
        progress = (t - self.warmup) / span
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def path_warmup_probability(step: int, warmup: int) -> float:
    """Probability of training the full path at ``step``: 1 - t/K, 0 from K on (0 when K = 0)."""
    if warmup <= 0:
        return 0.0
    return max(0.0, 1.0 - step / warmup)
