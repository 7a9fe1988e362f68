"""The controller interface: ``propose`` + ``observe``, plus optional hooks.

A controller decides *what* to try; the :class:`~nasrec.search.search.Search` is the only object that
touches the Optuna study (asks, tells, enqueues). Per round the Search calls, in this order:

1. ``sampler(seed)``: the Optuna sampler the study uses this round (reseeded per round from the job seed
   and the number of trials so far, so a resumed search proposes what an uninterrupted one would);
2. ``propose(history, max_n)``: up to ``max_n`` proposals. A proposal with ``params`` is enqueued as a
   fixed trial (evolution's children, random draws from the space's own distribution); one without is
   left to the study's sampler (TPE, NSGA-II), which suggests it define-by-run;
3. the Search screens (analytic constraints, canonical-hash duplicates), evaluates and tells;
4. ``observe(trials)``: the trials just finished, in trial order.

``restore(history)`` is called once, before the first round, with every stored trial, so a controller
that keeps state (evolution's population) can rebuild it after a restart. Controllers never write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

    from nasrec.space.architecture import Architecture
    from nasrec.spec import SearchSpec

__all__ = ["Controller", "ControllerContext", "Proposal"]

#: How many draws a controller makes to find one feasible, novel architecture before giving up.
MAX_DRAWS = 200


@dataclass(frozen=True)
class Proposal:
    """One candidate to try. ``params`` fixed (enqueued) or ``None`` (the study's sampler suggests)."""

    params: dict[str, Any] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ControllerContext:
    """What a controller may use: the space, its settings and the Search's cheap checks.

    feasible: analytic constraints hold (FLOPs, params, ...); instant, no evaluation
    canonical_hash: the dedup key of an architecture
    encode: architecture -> fixed trial params (exact inverse of the define-by-run suggestion)
    """

    space: Any
    settings: SearchSpec
    seed: int
    directions: tuple[str, ...]
    feasible: Callable[[Architecture], bool]
    canonical_hash: Callable[[Architecture], str]
    encode: Callable[[Architecture], dict[str, Any]]


class Controller(ABC):
    """Proposes candidates from the trial history; see the module docstring for the call order."""

    name: ClassVar[str]

    def __init__(self, context: ControllerContext) -> None:
        self.context = context

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        """The study's sampler for this round; fixed (enqueued) trials do not consult it."""
        import optuna

        return optuna.samplers.RandomSampler(seed=seed)

    @abstractmethod
    def propose(self, history: Sequence[FrozenTrial], max_n: int) -> list[Proposal]:
        """Up to ``max_n`` proposals (at least one unless the controller is exhausted)."""

    def observe(self, trials: Sequence[FrozenTrial]) -> None:  # noqa: B027 - optional hook
        """Hook: ``trials`` were just finished (told), in trial order."""

    def restore(self, history: Sequence[FrozenTrial]) -> None:  # noqa: B027 - optional hook
        """Hook: rebuild any state from the stored trials before the first round."""

    # ---- helpers for controllers that draw architectures themselves -----------------------------------

    def rng(self, history: Sequence[FrozenTrial], salt: int = 0) -> np.random.Generator:
        """A generator that depends only on the job seed and the history length (resume-stable)."""
        return np.random.default_rng([self.context.seed, salt, len(history)])

    def draw_novel(self, draw: Callable[[], Architecture], seen: set[str]) -> Architecture | None:
        """Draw until an architecture is feasible and not in ``seen`` (then add it); ``None`` if none is
        found in ``MAX_DRAWS`` draws."""
        for _ in range(MAX_DRAWS):
            arch = draw()
            key = self.context.canonical_hash(arch)
            if key in seen or not self.context.feasible(arch):
                continue
            seen.add(key)
            return arch
        return None


def seen_hashes(history: Sequence[FrozenTrial]) -> set[str]:
    """Canonical hashes of every stored trial (evaluated, duplicate or infeasible) and every queued one."""
    out = set()
    for trial in history:
        key = trial.user_attrs.get("arch_hash")
        if key:
            out.add(key)
    return out
