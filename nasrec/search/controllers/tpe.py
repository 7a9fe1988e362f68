"""TPE: Optuna's Tree-structured Parzen Estimator over the define-by-run encoding.

The first ``startup_trials`` candidates are drawn from the space's own distribution (as the random
controller does) instead of TPE's independent uniform start, so TPE starts from the distribution the
supernet was trained on. Constraint violations reach TPE through ``Trial.set_constraint`` (Optuna 5's
replacement for ``constraints_func``), so infeasible regions are pushed into the "bad" density.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nasrec.search.controllers.base import Proposal
from nasrec.search.controllers.random import RandomController

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


class TPEController(RandomController):
    name = "tpe"

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=self.context.settings.startup_trials,
                multivariate=True,
                group=True,
                constant_liar=True,
            )

    def propose(self, history: Sequence[FrozenTrial], max_n: int) -> list[Proposal]:
        n = min(max_n, self.context.settings.batch_size)
        startup_left = self.context.settings.startup_trials - len(history)
        if startup_left > 0:
            return self.draw_from_space(history, min(n, startup_left), role="startup")
        return [Proposal(params=None, attrs={"controller": self.name, "role": "sampler"}) for _ in range(n)]
