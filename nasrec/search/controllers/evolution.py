"""Regularized (aging) evolution, as NASRec codes it, with its weak points fixed.

Kept from the reference (``searcher.py``): an initial random population of ``population``; per
generation a tournament of ``sample_size`` members drawn without replacement, the best one the parent,
``children`` children each made by ``m`` successive mutations of the parent, where

    m(g) = floor((G - g) / max(20, G // 5)) + 1      (G = number of generations)

(6 at g = 0, then 5, 4, 3, 2, 1 for G = 240); the children join the population and as many of the
oldest members leave it.

Changed: a rejected child (duplicate or infeasible) is re-drawn from the *parent*, not by piling more
mutations on the rejected one; ``seen`` holds every architecture of the study (also the initial
population); mutations are never no-ops (``mutate`` guarantees it); infeasible architectures are never
proposed; the population is a pure function of the stored trials, so a restarted search continues the
same trajectory; each generation's random draws depend only on the job seed and the generation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nasrec.search.controllers.base import MAX_DRAWS, Proposal, seen_hashes
from nasrec.search.controllers.random import RandomController
from nasrec.search.records import CandidateRecord

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from nasrec.space.architecture import Architecture

__all__ = ["EvolutionController", "mutation_count", "num_generations"]


def mutation_count(generation: int, generations: int) -> int:
    """Mutations per child in ``generation`` (0-based) of ``generations``: the reference's schedule."""
    return max(1, (generations - generation) // max(20, generations // 5) + 1)


def num_generations(candidates: int, population: int, children: int) -> int:
    """Generations that fit a budget of ``candidates`` evaluations after the initial population."""
    return max(0, math.ceil((candidates - population) / children))


@dataclass(frozen=True)
class Member:
    number: int
    fitness: float
    architecture: dict[str, Any]  # JSON object


class EvolutionController(RandomController):
    name = "evolution"

    def __init__(self, context):  # type: ignore[no-untyped-def]
        super().__init__(context)
        s = context.settings
        self.generations = num_generations(s.candidates, s.population, s.children)
        self.minimize = context.directions[0] == "minimize"

    # ---- state, derived from the stored trials ------------------------------------------------------

    def population(self, history: Sequence[FrozenTrial]) -> list[Member]:
        """The current population: the latest ``population`` evaluated members, oldest first."""
        from optuna.trial import TrialState

        members = []
        for t in sorted(history, key=lambda t: t.number):
            if t.state != TrialState.COMPLETE or t.user_attrs.get("role") not in ("init", "child"):
                continue
            record = CandidateRecord.from_trial(t)
            if record is not None and record.feasible:
                members.append(Member(t.number, float(t.values[0]), record.architecture))
        return members[-self.context.settings.population :]

    @staticmethod
    def next_generation(history: Sequence[FrozenTrial]) -> int:
        gens = [t.user_attrs["generation"] for t in history if t.user_attrs.get("role") == "child"]
        return max(gens) + 1 if gens else 0

    # ---- proposals -----------------------------------------------------------------------------------

    def propose(self, history: Sequence[FrozenTrial], max_n: int) -> list[Proposal]:
        settings = self.context.settings
        initial = sum(1 for t in history if t.user_attrs.get("role") == "init")
        if initial < settings.population:
            return self.draw_from_space(history, min(max_n, settings.population - initial), role="init")
        population = self.population(history)
        if len(population) < 2:
            # The initial population could not be filled (e.g. everything failed): keep drawing.
            return self.draw_from_space(history, min(max_n, settings.children), role="init")
        generation = self.next_generation(history)
        rng = np.random.default_rng([self.context.seed, 2, generation])
        m = mutation_count(generation, self.generations)
        parent = self.tournament(population, rng)
        seen = seen_hashes(history)
        out = []
        for _ in range(min(max_n, settings.children)):
            child = self.mutate_novel(parent, m, rng, seen)
            if child is None:
                break
            out.append(
                self.fixed(child, role="child", generation=generation, parent=parent.number, mutations=m)
            )
        return out

    def tournament(self, population: Sequence[Member], rng: np.random.Generator) -> Member:
        """The best of ``sample_size`` members drawn without replacement."""
        k = min(self.context.settings.sample_size, len(population))
        picks = rng.choice(len(population), size=k, replace=False)
        sample = [population[int(i)] for i in sorted(picks)]
        key = (lambda m: m.fitness) if self.minimize else (lambda m: -m.fitness)
        return min(sample, key=key)

    def mutate_novel(
        self, parent: Member, m: int, rng: np.random.Generator, seen: set[str]
    ) -> Architecture | None:
        """``m`` mutations of the parent, redrawn from the parent until feasible and unseen."""
        from nasrec.space import mutate
        from nasrec.space.architecture import Architecture

        start = Architecture.from_dict(parent.architecture)
        for _ in range(MAX_DRAWS):
            child = mutate(start, self.context.space, rng, m)
            key = self.context.canonical_hash(child)
            if key in seen or not self.context.feasible(child):
                continue
            seen.add(key)
            return child
        return None
