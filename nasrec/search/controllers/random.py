"""Random search: draws from the space's own distribution, the one the supernet was trained on.

The reference mutates and samples with uniform input counts although its supernet trained with
binomial ones (its weak point 3); here every random architecture comes from ``sample_architecture``,
which follows the space's ``input_count`` distribution, and is enqueued as a fixed trial. This is the
reference implementation of a controller: stateless, a pure function of the job seed and the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from nasrec.search.controllers.base import Controller, Proposal, seen_hashes

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from nasrec.space.architecture import Architecture


class RandomController(Controller):
    name = "random"

    def propose(self, history: Sequence[FrozenTrial], max_n: int) -> list[Proposal]:
        return self.draw_from_space(history, min(max_n, self.context.settings.batch_size), role="random")

    def draw_from_space(self, history: Sequence[FrozenTrial], n: int, *, role: str) -> list[Proposal]:
        """``n`` feasible architectures, new to the study, from the space's distribution."""
        from nasrec.space import sample_architecture

        rng = self.rng(history, salt=1)
        seen = seen_hashes(history)
        out = []
        for _ in range(n):
            arch = self.draw_novel(lambda: sample_architecture(self.context.space, rng), seen)
            if arch is None:
                break
            out.append(self.fixed(arch, role=role))
        return out

    def fixed(self, arch: Architecture, **attrs: object) -> Proposal:
        """A proposal that enqueues ``arch`` as fixed params, tagged with its hash and ``attrs``."""
        return Proposal(
            params=self.context.encode(arch),
            attrs={"controller": self.name, "arch_hash": self.context.canonical_hash(arch), **attrs},
        )
