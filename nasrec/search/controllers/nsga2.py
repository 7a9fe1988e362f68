"""NSGA-II: Optuna's multi-objective genetic sampler, constraint-aware.

Constraint values are attached to every trial with ``Trial.set_constraint`` (violation > 0 means
infeasible), which NSGA-II's constrained domination reads: feasible trials dominate infeasible ones,
infeasible ones are ranked by total violation. Analytic constraints never reach an evaluation (the
Search prunes them at proposal time); measured ones (latency) are attached after evaluation. The first
generation comes from the space's own distribution, later ones from NSGA-II's crossover and mutation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nasrec.search.controllers.base import Proposal
from nasrec.search.controllers.random import RandomController

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial


class NSGA2Controller(RandomController):
    name = "nsga2"

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        return optuna.samplers.NSGAIISampler(population_size=self.context.settings.population, seed=seed)

    def propose(self, history: Sequence[FrozenTrial], max_n: int) -> list[Proposal]:
        n = min(max_n, self.context.settings.batch_size)
        startup_left = self.context.settings.population - len(history)
        if startup_left > 0:
            return self.draw_from_space(history, min(n, startup_left), role="startup")
        return [Proposal(params=None, attrs={"controller": self.name, "role": "sampler"}) for _ in range(n)]
